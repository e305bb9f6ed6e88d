//! The sled implementation of [`NoticeStore`](super::NoticeStore).
//!
//! Trees: `releases` (ocid \0 release id → sha256 ‖ raw JSON), `notices`
//! (ocid → notice JSON), `changes` (sequence → ocid), `cpv` (code →
//! description), `places` (entry JSON → ()), `ingest_log` (sequence → JSON),
//! `meta` (schema version, sequence counter, the ledger's mark, each
//! change-log follower's `cursor/<name>`), `sync` (source → progress
//! JSON), `dup_by_source` (candidate key \0 source \0 ocid → ()), `dup_keys`
//! (candidate key \0 ocid → its source: an older store's entries, read,
//! no longer written), `group_of` (ocid → group
//! id), `groups` (group id → JSON list of ocids), `members` (id → member
//! JSON), `matches` (ocid → the notice's matches, compressed together),
//! `member_matches` (member \0 batch id → ocids, an index: see
//! [`crate::member_matches`]), `links` (award
//! links); the alerts' trees, in the same database, are
//! `sebroker_alerts::log`'s.

use std::path::Path;

use sebroker_connectors::places::PlaceEntry;
use sebroker_model::{Member, Notice};

use sebroker_model::AwardLink;
use sebroker_model::Match;

use sebroker_connectors::sync::{SourceProgress, SyncProgress, TargetError};

use super::{NoticeStore, PutNotice, PutRelease, StoreCounts, STORE_VERSION};
use crate::error::{Error, Result};

pub struct SledStore {
    db: sled::Db,
    releases: sled::Tree,
    notices: sled::Tree,
    changes: sled::Tree,
    cpv: sled::Tree,
    places: sled::Tree,
    ingest_log: sled::Tree,
    meta: sled::Tree,
    sync: sled::Tree,
    dup_keys: sled::Tree,
    dup_by_source: sled::Tree,
    group_of: sled::Tree,
    groups: sled::Tree,
    members: sled::Tree,
    matches: sled::Tree,
    member_matches: sled::Tree,
    links: sled::Tree,
    /// The compression dictionaries of raw releases and of notices.
    release_dict: crate::dict::Kind,
    notice_dict: crate::dict::Kind,
}

/// A `dup_by_source` key: `prefix` (a candidate key and a 0 byte), the
/// source, a 0 byte, the ocid.
fn dup_entry(prefix: &[u8], source: &str, ocid: &str) -> Vec<u8> {
    [prefix, source.as_bytes(), b"\0", ocid.as_bytes()].concat()
}

impl SledStore {
    /// The ocids under a candidate key (`prefix` is the key and a 0 byte)
    /// from sources other than `source`. Entries are ordered by source, so
    /// the notice's own source (never a duplicate; many of its notices
    /// share a deadline minute) is one range passed over unread: scanning
    /// it made filing a notice grow with the data.
    fn other_sources<'a>(
        &'a self,
        prefix: &[u8],
        source: &str,
    ) -> impl Iterator<Item = Result<String>> + 'a {
        let own = dup_entry(prefix, source, "");
        let mut after_own = own.clone();
        if let Some(last) = after_own.last_mut() {
            *last = 1;
        }
        let mut end = prefix.to_vec();
        if let Some(last) = end.last_mut() {
            *last = 1;
        }
        let skip = prefix.len();
        self.dup_by_source
            .range(prefix.to_vec()..own)
            .chain(self.dup_by_source.range(after_own..end))
            .map(move |kv| {
                let (k, _) = kv?;
                // After the prefix: the entry's source (a slug: no 0 byte),
                // a 0 byte, its ocid.
                let rest = &k[skip..];
                let at = rest
                    .iter()
                    .position(|b| *b == 0)
                    .map_or(rest.len(), |p| p + 1);
                Ok(String::from_utf8_lossy(&rest[at..]).into_owned())
            })
    }

    /// The sled database, for crates that keep their own trees beside the
    /// notices (the alert log).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Opens (or creates) the store in `dir`, checking its schema version.
    /// A damaged file that makes sled panic is refused with a message.
    pub fn open(dir: &Path) -> Result<SledStore> {
        match std::panic::catch_unwind(|| Self::open_unguarded(dir)) {
            Ok(r) => r.map_err(|e| match e {
                Error::Store(e) => Error::Refused(format!(
                    "the notice store in {} cannot be opened ({e}); it may be damaged: restore the data folder from a copy",
                    dir.display()
                )),
                other => other,
            }),
            Err(_) => Err(Error::Refused(format!(
                "the notice store in {} is damaged (sled panicked while opening it); \
                 sebroker never serves half a store: restore the data folder from a copy",
                dir.display()
            ))),
        }
    }

    fn open_unguarded(dir: &Path) -> Result<SledStore> {
        crate::compact::recover(dir)?;
        let db = crate::sled_config::open(dir)?;
        let s = SledStore {
            releases: db.open_tree("releases")?,
            notices: db.open_tree("notices")?,
            changes: db.open_tree("changes")?,
            cpv: db.open_tree("cpv")?,
            places: db.open_tree("places")?,
            ingest_log: db.open_tree("ingest_log")?,
            meta: db.open_tree("meta")?,
            sync: db.open_tree("sync")?,
            dup_keys: db.open_tree("dup_keys")?,
            dup_by_source: db.open_tree("dup_by_source")?,
            group_of: db.open_tree("group_of")?,
            groups: db.open_tree("groups")?,
            members: db.open_tree("members")?,
            matches: db.open_tree("matches")?,
            member_matches: db.open_tree("member_matches")?,
            links: db.open_tree("links")?,
            release_dict: crate::dict::Kind::new("releases"),
            notice_dict: crate::dict::Kind::new("notices"),
            db,
        };
        s.check_version(dir)?;
        s.load_dicts()?;
        Ok(s)
    }

    /// Registers every stored dictionary, and gives each kind its own.
    fn load_dicts(&self) -> Result<()> {
        for kv in self.meta.scan_prefix(DICT_PREFIX) {
            let (_, v) = kv?;
            crate::dict::register(&v)?;
        }
        for kind in [&self.release_dict, &self.notice_dict] {
            let Some(id) = self.meta.get(format!("{DICT_FOR_PREFIX}{}", kind.name))? else {
                continue;
            };
            let bytes = self.meta.get([DICT_PREFIX, &id[..]].concat())?;
            let bytes = bytes.ok_or_else(|| Error::Corrupt {
                key: format!("meta/{DICT_FOR_PREFIX}{}", kind.name),
                message: "names a compression dictionary the store does not hold".into(),
            })?;
            kind.set(&bytes)?;
        }
        Ok(())
    }

    /// Compresses a value of `kind`: with its dictionary, or alone while
    /// it has none (the value then counts as a sample to train one on).
    fn pack_kind(&self, kind: &crate::dict::Kind, key: &[u8], bytes: &[u8]) -> Result<Vec<u8>> {
        if let Some(cdict) = kind.current() {
            return pack_with(key, bytes, &cdict);
        }
        let packed = pack(key, bytes)?;
        if let Some(samples) = kind.sample(bytes) {
            self.adopt_dict(kind, &samples)?;
        }
        Ok(packed)
    }

    /// Trains `kind`'s dictionary and saves it before any value uses it.
    fn adopt_dict(&self, kind: &crate::dict::Kind, samples: &[Vec<u8>]) -> Result<()> {
        let started = std::time::Instant::now();
        let Some(dict) = crate::dict::train(samples) else {
            tracing::warn!(
                kind = kind.name,
                "no compression dictionary could be trained; values stay compressed alone"
            );
            return Ok(());
        };
        let id = crate::dict::register(&dict)?.to_be_bytes();
        self.meta
            .insert([DICT_PREFIX, &id[..]].concat(), dict.as_slice())?;
        self.meta
            .insert(format!("{DICT_FOR_PREFIX}{}", kind.name), &id[..])?;
        self.db.flush()?;
        kind.set(&dict)?;
        tracing::info!(
            kind = kind.name,
            bytes = dict.len(),
            ms = started.elapsed().as_millis() as u64,
            "compression dictionary trained"
        );
        Ok(())
    }

    fn check_version(&self, dir: &Path) -> Result<()> {
        match self.meta.get("schema_version")? {
            None if self.notices.is_empty() && self.releases.is_empty() => {
                self.meta
                    .insert("schema_version", &STORE_VERSION.to_be_bytes())?;
                self.db.flush()?;
                Ok(())
            }
            None => Err(Error::StoreVersion(format!(
                "{} holds data without a schema version (written before sebroker 0.1); \
                 re-ingest your sources into a fresh --data-dir",
                dir.display()
            ))),
            Some(v) => {
                let v = u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0xff; 8]));
                if v > STORE_VERSION {
                    return Err(Error::StoreVersion(format!(
                        "{} was written by a newer sebroker (store version {v}, this one reads {STORE_VERSION}); \
                         upgrade sebroker or restore a backup made by this version",
                        dir.display()
                    )));
                }
                // Older versions are migrated here, one step at a time.
                // 1 -> 2: values stay as they are (plain JSON reads back
                // beside compressed values); the version is recorded so an
                // older sebroker refuses this store instead of misreading it.
                // 2 -> 3: matches move to one value per notice. 3 -> 4:
                // nothing moves (dictionaries are for new values). 4 -> 5:
                // nothing moves (version 4 member index entries read).
                if v < 3 {
                    self.migrate_matches_per_notice()?;
                }
                if v < STORE_VERSION {
                    tracing::info!(
                        from = v,
                        to = STORE_VERSION,
                        "migrating the store's schema version"
                    );
                    self.meta
                        .insert("schema_version", &STORE_VERSION.to_be_bytes())?;
                    self.db.flush()?;
                }
                Ok(())
            }
        }
    }

    /// The stored matches of a notice, as written (none when it has none).
    fn stored_matches(&self, ocid: &str) -> Result<Vec<Match>> {
        match self.matches.get(ocid.as_bytes())? {
            Some(v) => decode(ocid.as_bytes(), &v),
            None => Ok(Vec::new()),
        }
    }

    /// Replaces the stored matches of each notice of `batch`. One value
    /// per notice (its matches compressed together); the member index gets
    /// one entry per member newly matched in the batch (see
    /// [`crate::member_matches`]). Order for a crash: the index entries,
    /// then the values; an entry whose member a notice's value does not
    /// hold is skipped on reading.
    fn write_matches(&self, batch: &[(&str, &[Match])]) -> Result<()> {
        let mut new: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        let mut values = Vec::with_capacity(batch.len());
        for &(ocid, matches) in batch {
            let old = self.stored_matches(ocid)?;
            let had: std::collections::HashSet<&str> =
                old.iter().map(|m| m.member_id.as_str()).collect();
            for m in matches
                .iter()
                .filter(|m| !had.contains(m.member_id.as_str()))
            {
                new.entry(m.member_id.as_str()).or_default().push(ocid);
            }
            let value = if matches.is_empty() {
                None
            } else {
                Some(pack(ocid.as_bytes(), &encode(ocid, &matches)?)?)
            };
            values.push(value);
        }
        for (member, ocids) in new {
            let key = crate::member_matches::key(member, self.db.generate_id()?);
            self.member_matches
                .insert(key, crate::member_matches::value(ocids))?;
        }
        for (&(ocid, _), value) in batch.iter().zip(values) {
            match value {
                Some(v) => self.matches.insert(ocid.as_bytes(), v)?,
                None => self.matches.remove(ocid.as_bytes())?,
            };
        }
        Ok(())
    }

    /// The notices the member index names for a member, in ocid order
    /// (some may no longer hold the member).
    fn indexed_ocids(&self, member_id: &str) -> Result<std::collections::BTreeSet<String>> {
        let prefix = crate::member_matches::prefix(member_id);
        let mut ocids = std::collections::BTreeSet::new();
        for kv in self.member_matches.scan_prefix(&prefix) {
            let (k, v) = kv?;
            crate::member_matches::read_entry(prefix.len(), &k, &v, &mut ocids)?;
        }
        Ok(ocids)
    }

    /// Rebuilds the member index from the stored matches: one entry per
    /// member naming the notices whose matches hold it (while matching,
    /// entries are only ever added). One pass over `matches`, so each
    /// notice's matches are decoded once. Run with the data folder locked,
    /// before a compaction; the new entries are written before the old
    /// ones go, so a crash part-way leaves extra entries, never fewer.
    /// Returns how many entries fewer the index has.
    pub fn tidy_member_matches(&self) -> Result<u64> {
        let mut ocids: Vec<String> = Vec::new();
        let mut live: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for kv in self.matches.iter() {
            let (k, v) = kv?;
            for m in decode::<Vec<Match>>(&k, &v)? {
                live.entry(m.member_id).or_default().push(ocids.len());
            }
            ocids.push(String::from_utf8_lossy(&k).into_owned());
        }
        let old: Vec<sled::IVec> = self
            .member_matches
            .iter()
            .keys()
            .collect::<std::result::Result<_, _>>()?;
        for (member, list) in &live {
            let key = crate::member_matches::key(member, self.db.generate_id()?);
            let value = crate::member_matches::value(list.iter().map(|i| ocids[*i].as_str()));
            self.member_matches.insert(key, value)?;
        }
        for k in &old {
            self.member_matches.remove(k)?;
        }
        Ok((old.len() as u64).saturating_sub(live.len() as u64))
    }

    /// Store version 2 -> 3: `matches` held one value per (notice,
    /// member) under `ocid \0 member`; now one value per notice under its
    /// ocid. Each notice moves in one transaction, so a crash part-way
    /// leaves every notice wholly in one layout and the next open goes on.
    fn migrate_matches_per_notice(&self) -> Result<()> {
        let (mut moved, mut from) = (0usize, Vec::new());
        loop {
            // The next old-layout key (ocids never hold a NUL); each key
            // is passed once.
            let first = self
                .matches
                .range(from.as_slice()..)
                .keys()
                .find(|k| k.as_ref().map_or(true, |k| k.contains(&0)));
            let Some(first) = first.transpose()? else {
                break;
            };
            let Some(end) = first.iter().position(|b| *b == 0) else {
                break;
            };
            let ocid = String::from_utf8_lossy(&first[..end]).into_owned();
            let prefix = first[..=end].to_vec();
            let mut old = Vec::new();
            for kv in self.matches.scan_prefix(&prefix) {
                let (k, v) = kv?;
                let m: Match = decode(&k, &v)?;
                old.push((k, m));
            }
            let ms: Vec<&Match> = old.iter().map(|(_, m)| m).collect();
            let value = pack(ocid.as_bytes(), &encode(&ocid, &ms)?)?;
            self.matches
                .transaction(|tx| {
                    for (k, _) in &old {
                        tx.remove(k.as_ref())?;
                    }
                    tx.insert(ocid.as_bytes(), value.as_slice())?;
                    Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
                })
                .map_err(|e| match e {
                    sled::transaction::TransactionError::Storage(e) => Error::Store(e),
                    sled::transaction::TransactionError::Abort(()) => {
                        Error::Invalid("the matches migration was aborted".into())
                    }
                })?;
            moved += 1;
            from = prefix;
            if let Some(last) = from.last_mut() {
                *last = 1;
            }
        }
        if moved > 0 {
            tracing::info!(
                notices = moved,
                "stored matches moved to one value per notice"
            );
        }
        Ok(())
    }

    fn next_seq(&self) -> Result<u64> {
        let v = self.meta.update_and_fetch("seq", |old| {
            let n = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map_or(0, u64::from_be_bytes))
    }
}

fn release_key(ocid: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(ocid.len() + id.len() + 1);
    k.extend_from_slice(ocid.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn decode_notice(key: &[u8], bytes: &[u8]) -> Result<Notice> {
    decode(key, bytes)
}

/// zstd's frame magic. A stored value (after a release's hash) that starts
/// with it is compressed; plain JSON (stores of version 1) starts with `{`
/// or whitespace, so both read back.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Fast level: the store's size matters, but ingest speed more.
const ZSTD_LEVEL: i32 = 1;
/// `meta` keys: `zstd_dict/<id, 4 bytes big-endian>` → a dictionary;
/// `zstd_dict_for/<kind>` → the id its new values use.
const DICT_PREFIX: &[u8] = b"zstd_dict/";
const DICT_FOR_PREFIX: &str = "zstd_dict_for/";
/// A stored value never decompresses to more than this (a damaged value
/// must not take the memory).
const MAX_VALUE_BYTES: u64 = 1 << 30;

/// Compresses a value for the store, recording its size in the frame, with
/// one compression context per thread: making a context took an eighth of
/// a national ingest (`ZSTD_createCCtx`, by `perf`), more than compressing.
fn pack(key: &[u8], bytes: &[u8]) -> Result<Vec<u8>> {
    COMPRESSOR
        .with(|cell| {
            let mut c = cell.borrow_mut();
            if c.is_none() {
                *c = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
            }
            match c.as_mut() {
                Some(c) => c.compress(bytes),
                None => Err(std::io::Error::other("no compression context")),
            }
        })
        .map_err(|e| Error::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            message: format!("compressing: {e}"),
        })
}

/// Compresses with a dictionary (zstd records its id and the size).
fn pack_with(key: &[u8], bytes: &[u8], cdict: &zstd::zstd_safe::CDict<'_>) -> Result<Vec<u8>> {
    DICT_CCTX.with(|cell| {
        let mut cctx = cell.borrow_mut();
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(bytes.len()));
        cctx.compress_using_cdict(&mut out, bytes, cdict)
            .map(|_| out)
            .map_err(|code| Error::Corrupt {
                key: String::from_utf8_lossy(key).into_owned(),
                message: format!("compressing: {}", zstd::zstd_safe::get_error_name(code)),
            })
    })
}

thread_local! {
    static DICT_CCTX: std::cell::RefCell<zstd::zstd_safe::CCtx<'static>> =
        std::cell::RefCell::new(zstd::zstd_safe::CCtx::create());
    static DICT_DCTX: std::cell::RefCell<zstd::zstd_safe::DCtx<'static>> =
        std::cell::RefCell::new(zstd::zstd_safe::DCtx::create());
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// The JSON of a stored value, compressed or not.
fn unpack<'a>(key: &[u8], bytes: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>> {
    if !bytes.starts_with(&ZSTD_MAGIC) {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let corrupt = |message: String| Error::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message,
    };
    // What `pack` writes records its size: one context per thread does it
    // (making a context costs more than decompressing a notice).
    match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(n)) if n > MAX_VALUE_BYTES => {
            return Err(corrupt(format!(
                "decompresses to more than {MAX_VALUE_BYTES} bytes"
            )))
        }
        Ok(Some(n)) if zstd::zstd_safe::get_dict_id_from_frame(bytes).is_some() => {
            return unpack_with_dict(bytes, n as usize).map_err(corrupt);
        }
        Ok(Some(n)) => {
            return DECOMPRESSOR
                .with(|cell| {
                    let mut d = cell.borrow_mut();
                    if d.is_none() {
                        *d = Some(zstd::bulk::Decompressor::new()?);
                    }
                    match d.as_mut() {
                        Some(d) => d.decompress(bytes, n as usize),
                        None => Err(std::io::Error::other("no decompression context")),
                    }
                })
                .map(std::borrow::Cow::Owned)
                .map_err(|e| corrupt(format!("decompressing: {e}")));
        }
        // No size recorded: streamed, bounded as it goes.
        _ => {}
    }
    let d = zstd::stream::read::Decoder::new(bytes)
        .map_err(|e| corrupt(format!("decompressing: {e}")))?;
    let mut out = Vec::with_capacity(bytes.len() * 6);
    std::io::Read::read_to_end(&mut std::io::Read::take(d, MAX_VALUE_BYTES + 1), &mut out)
        .map_err(|e| corrupt(format!("decompressing: {e}")))?;
    if out.len() as u64 > MAX_VALUE_BYTES {
        return Err(corrupt(format!(
            "decompresses to more than {MAX_VALUE_BYTES} bytes"
        )));
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// Decompresses a frame made with a dictionary, to its recorded size `n`.
fn unpack_with_dict(
    bytes: &[u8],
    n: usize,
) -> std::result::Result<std::borrow::Cow<'static, [u8]>, String> {
    let id = zstd::zstd_safe::get_dict_id_from_frame(bytes).map_or(0, u32::from);
    let ddict = crate::dict::decoder(id)
        .ok_or_else(|| format!("compressed with dictionary {id}, which the store does not hold"))?;
    DICT_DCTX.with(|cell| {
        let mut out = Vec::with_capacity(n);
        cell.borrow_mut()
            .decompress_using_ddict(&mut out, bytes, &ddict)
            .map(|_| std::borrow::Cow::Owned(out))
            .map_err(|code| format!("decompressing: {}", zstd::zstd_safe::get_error_name(code)))
    })
}

fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    // Compressed or plain: JSON never starts with zstd's magic.
    serde_json::from_slice(&unpack(key, bytes)?).map_err(|e| Error::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: e.to_string(),
    })
}

fn encode<T: serde::Serialize>(key: &str, v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Corrupt {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// The number of keys of a tree, checking that they come in increasing
/// order: a damaged node can link back to an earlier one, and sled's own
/// count (`Tree::len`) then never ends.
fn count_keys(tree: &sled::Tree, name: &str) -> Result<u64> {
    let (mut n, mut last): (u64, Option<sled::IVec>) = (0, None);
    for k in tree.iter().keys() {
        let k = k?;
        if last.as_ref().is_some_and(|l| *l >= k) {
            return Err(Error::Corrupt {
                key: format!("{name}/{}", String::from_utf8_lossy(&k)),
                message: "the tree's keys are out of order (a damaged node): restore the data folder from a backup".into(),
            });
        }
        last = Some(k);
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
fn pair(a: &str, b: &str) -> Vec<u8> {
    release_key(a, b)
}

impl NoticeStore for SledStore {
    fn put_release(
        &self,
        ocid: &str,
        release_id: &str,
        hash: &[u8; 32],
        json: &str,
    ) -> Result<PutRelease> {
        let key = release_key(ocid, release_id);
        // The hash decides before anything is written: a repeat keeps the
        // first copy byte for byte (only the single writer writes here).
        let outcome = match self.releases.get(&key)? {
            None => PutRelease::New,
            Some(old) if old.get(..32) == Some(&hash[..]) => return Ok(PutRelease::Duplicate),
            Some(_) => PutRelease::Replaced,
        };
        let packed = self.pack_kind(&self.release_dict, &key, json.as_bytes())?;
        let mut value = Vec::with_capacity(32 + packed.len());
        value.extend_from_slice(hash);
        value.extend_from_slice(&packed);
        self.releases.insert(key, value)?;
        Ok(outcome)
    }

    fn releases_of(&self, ocid: &str) -> Result<Vec<String>> {
        let mut prefix = ocid.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.releases.scan_prefix(prefix) {
            let (k, v) = kv?;
            let json = unpack(&k, v.get(32..).unwrap_or_default())?;
            out.push(String::from_utf8_lossy(&json).into_owned());
        }
        Ok(out)
    }

    fn has_releases(&self, ocid: &str) -> Result<bool> {
        let mut prefix = ocid.as_bytes().to_vec();
        prefix.push(0);
        Ok(self
            .releases
            .scan_prefix(prefix)
            .next()
            .transpose()?
            .is_some())
    }

    fn get_notice(&self, ocid: &str) -> Result<Option<Notice>> {
        match self.notices.get(ocid)? {
            Some(v) => decode_notice(ocid.as_bytes(), &v).map(Some),
            None => Ok(None),
        }
    }

    fn put_notice(&self, notice: &Notice) -> Result<PutNotice> {
        let bytes = serde_json::to_vec(notice).map_err(|e| Error::Corrupt {
            key: notice.ocid.clone(),
            message: e.to_string(),
        })?;
        // Compare the encodings, not decoded notices: encoding is
        // deterministic, so equal notices give equal bytes. (A notice stored
        // by an older encoding counts as updated once: harmless.)
        let key = notice.ocid.as_bytes();
        let outcome = match self.notices.get(key)? {
            None => PutNotice::Created,
            Some(old) if unpack(key, &old)?.as_ref() == bytes.as_slice() => {
                return Ok(PutNotice::Unchanged)
            }
            Some(_) => PutNotice::Updated,
        };
        self.notices
            .insert(key, self.pack_kind(&self.notice_dict, key, &bytes)?)?;
        let seq = self.next_seq()?;
        self.changes
            .insert(seq.to_be_bytes(), notice.ocid.as_bytes())?;
        Ok(outcome)
    }

    fn for_each_notice(&self, f: &mut dyn FnMut(Notice) -> Result<()>) -> Result<()> {
        for kv in self.notices.iter() {
            let (k, v) = kv?;
            f(decode_notice(&k, &v)?)?;
        }
        Ok(())
    }

    fn changes_between(&self, seq: u64, upto: u64) -> Result<(Vec<String>, u64)> {
        let mut ocids = Vec::new();
        let mut last = seq;
        if seq >= upto {
            return Ok((ocids, last));
        }
        for kv in self
            .changes
            .range((seq + 1).to_be_bytes()..=upto.to_be_bytes())
        {
            let (k, v) = kv?;
            last = <[u8; 8]>::try_from(k.as_ref()).map_or(last, u64::from_be_bytes);
            ocids.push(String::from_utf8_lossy(&v).into_owned());
        }
        ocids.sort();
        ocids.dedup();
        Ok((ocids, last))
    }

    fn last_seq(&self) -> Result<u64> {
        Ok(self
            .meta
            .get("seq")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    fn check(&self) -> Result<u64> {
        let mut entries = 0u64;
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name)?;
            entries += count_keys(&tree, &String::from_utf8_lossy(&name))?;
        }
        Ok(entries)
    }

    fn counts(&self) -> Result<StoreCounts> {
        Ok(StoreCounts {
            notices: count_keys(&self.notices, "notices")?,
            releases: count_keys(&self.releases, "releases")?,
        })
    }

    fn cpv_descriptions(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for kv in self.cpv.iter() {
            let (k, v) = kv?;
            out.push((
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            ));
        }
        Ok(out)
    }

    fn put_cpv(&self, entries: &[(String, String)], replace: bool) -> Result<usize> {
        let mut n = 0;
        for (code, desc) in entries {
            if replace {
                self.cpv.insert(code.as_bytes(), desc.as_bytes())?;
                n += 1;
            } else if self
                .cpv
                .compare_and_swap(
                    code.as_bytes(),
                    None as Option<&[u8]>,
                    Some(desc.as_bytes()),
                )?
                .is_ok()
            {
                n += 1;
            }
        }
        Ok(n)
    }

    fn place_entries(&self) -> Result<Vec<PlaceEntry>> {
        let mut out = Vec::new();
        for kv in self.places.iter() {
            let (k, _) = kv?;
            let e: PlaceEntry = serde_json::from_slice(&k).map_err(|e| Error::Corrupt {
                key: String::from_utf8_lossy(&k).into_owned(),
                message: e.to_string(),
            })?;
            out.push(e);
        }
        Ok(out)
    }

    fn put_place_entries(&self, entries: &[PlaceEntry]) -> Result<usize> {
        let mut n = 0;
        for e in entries {
            let k = serde_json::to_vec(e).map_err(|err| Error::Invalid(err.to_string()))?;
            if self.places.insert(k, &[])?.is_none() {
                n += 1;
            }
        }
        Ok(n)
    }

    fn log_ingest(&self, entry: &serde_json::Value) -> Result<()> {
        let id = self.db.generate_id()?;
        self.ingest_log
            .insert(id.to_be_bytes(), entry.to_string().as_bytes())?;
        Ok(())
    }

    fn put_member(&self, member: &Member) -> Result<()> {
        self.members
            .insert(member.id.as_bytes(), encode(&member.id, member)?)?;
        Ok(())
    }

    fn get_member(&self, id: &str) -> Result<Option<Member>> {
        self.members
            .get(id)?
            .map(|v| decode(id.as_bytes(), &v))
            .transpose()
    }

    fn members(&self) -> Result<Vec<Member>> {
        self.members
            .iter()
            .map(|kv| kv.map_err(Error::from).and_then(|(k, v)| decode(&k, &v)))
            .collect()
    }

    fn put_matches(&self, ocid: &str, matches: &[Match]) -> Result<()> {
        self.write_matches(&[(ocid, matches)])
    }

    fn put_matches_many(&self, batch: &[(&str, &[Match])]) -> Result<()> {
        self.write_matches(batch)
    }

    fn matches_of_notice(&self, ocid: &str) -> Result<Vec<Match>> {
        let mut out = self.stored_matches(ocid)?;
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.member_id.cmp(&b.member_id))
        });
        Ok(out)
    }

    fn matches_of_member(&self, member_id: &str) -> Result<Vec<(String, Match)>> {
        let mut out = Vec::new();
        for ocid in self.indexed_ocids(member_id)? {
            let found = self
                .stored_matches(&ocid)?
                .into_iter()
                .find(|m| m.member_id == member_id);
            if let Some(m) = found {
                out.push((ocid, m));
            }
        }
        Ok(out)
    }

    fn put_link(&self, link: &AwardLink, replace: bool) -> Result<bool> {
        let key = format!("{}\0{}\0{}", link.member_id, link.ocid, link.award_id);
        let value = encode(&key, link)?;
        if replace {
            return Ok(self.links.insert(key.as_bytes(), value)?.is_none());
        }
        Ok(self
            .links
            .compare_and_swap(key.as_bytes(), None as Option<&[u8]>, Some(value))?
            .is_ok())
    }

    fn links(&self) -> Result<Vec<AwardLink>> {
        self.links
            .iter()
            .map(|kv| kv.map_err(Error::from).and_then(|(k, v)| decode(&k, &v)))
            .collect()
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    fn ledger_mark(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get("ledger_mark")?.map(|v| v.to_vec()))
    }

    fn put_ledger_mark(&self, mark: &[u8], durable: bool) -> Result<()> {
        self.meta.insert("ledger_mark", mark)?;
        if durable {
            self.db.flush()?;
        }
        Ok(())
    }

    fn sync_progress(&self, source: &str) -> Result<SourceProgress> {
        match self.sync.get(source)? {
            None => Ok(SourceProgress::default()),
            Some(v) => serde_json::from_slice(&v).map_err(|e| Error::Corrupt {
                key: format!("sync/{source}"),
                message: e.to_string(),
            }),
        }
    }

    fn put_sync_progress(&self, source: &str, progress: &SourceProgress) -> Result<()> {
        let bytes = serde_json::to_vec(progress).map_err(|e| Error::Invalid(e.to_string()))?;
        self.sync.insert(source, bytes)?;
        self.db.flush()?;
        Ok(())
    }

    fn sync_sources(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for k in self.sync.iter().keys() {
            out.push(String::from_utf8_lossy(&k?).into_owned());
        }
        Ok(out)
    }

    fn as_progress(&self) -> &dyn SyncProgress {
        self
    }

    fn put_candidate_keys(&self, ocid: &str, source: &str, keys: &[String]) -> Result<Vec<String>> {
        let mut others = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut add = |other: String| {
            if other != ocid && seen.insert(other.clone()) {
                others.push(other);
            }
        };
        for key in keys {
            let mut prefix = key.as_bytes().to_vec();
            prefix.push(0);
            for other in self.other_sources(&prefix, source) {
                add(other?);
            }
            // An older store's entries: same-source ones are passed over
            // by their value; one without a value is always a candidate.
            for kv in self.dup_keys.scan_prefix(&prefix) {
                let (k, v) = kv?;
                if v.is_empty() || v.as_ref() != source.as_bytes() {
                    add(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
                }
            }
            self.dup_by_source
                .insert(dup_entry(&prefix, source, ocid), &[])?;
        }
        Ok(others)
    }

    fn group_of(&self, ocid: &str) -> Result<Vec<String>> {
        let Some(id) = self.group_of.get(ocid)? else {
            return Ok(Vec::new());
        };
        self.group_members(&id)
    }

    fn link_group(&self, a: &str, b: &str) -> Result<bool> {
        let mut members = self.group_of(a)?;
        if members.is_empty() {
            members.push(a.to_owned());
        }
        if members.iter().any(|m| m == b) {
            return Ok(false);
        }
        let mut other = self.group_of(b)?;
        if other.is_empty() {
            other.push(b.to_owned());
        }
        for old in [self.group_of.get(a)?, self.group_of.get(b)?]
            .into_iter()
            .flatten()
        {
            self.groups.remove(old)?;
        }
        members.extend(other);
        members.sort();
        members.dedup();
        let id = members[0].clone();
        let json = serde_json::to_vec(&members).map_err(|e| Error::Invalid(e.to_string()))?;
        self.groups.insert(id.as_bytes(), json)?;
        for m in &members {
            self.group_of.insert(m.as_bytes(), id.as_bytes())?;
        }
        Ok(true)
    }

    fn cursor(&self, consumer: &str) -> Result<u64> {
        let key = format!("cursor/{consumer}");
        Ok(self
            .meta
            .get(key.as_bytes())?
            .map_or(0, |v| v.as_ref().try_into().map_or(0, u64::from_be_bytes)))
    }

    fn set_cursor(&self, consumer: &str, seq: u64) -> Result<()> {
        let key = format!("cursor/{consumer}");
        self.meta.insert(key.as_bytes(), &seq.to_be_bytes())?;
        Ok(())
    }

    fn groups(&self) -> Result<Vec<Vec<String>>> {
        let mut out = Vec::new();
        for k in self.groups.iter().keys() {
            out.push(self.group_members(&k?)?);
        }
        Ok(out)
    }
}

impl SledStore {
    fn group_members(&self, id: &[u8]) -> Result<Vec<String>> {
        match self.groups.get(id)? {
            None => Ok(Vec::new()),
            Some(v) => serde_json::from_slice(&v).map_err(|e| Error::Corrupt {
                key: format!("groups/{}", String::from_utf8_lossy(id)),
                message: e.to_string(),
            }),
        }
    }
}

impl SyncProgress for SledStore {
    fn load_progress(&self, source: &str) -> std::result::Result<SourceProgress, TargetError> {
        Ok(self.sync_progress(source)?)
    }

    fn save_progress(
        &self,
        source: &str,
        progress: &SourceProgress,
    ) -> std::result::Result<(), TargetError> {
        Ok(self.put_sync_progress(source, progress)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_dedupe_by_content_and_version_is_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = SledStore::open(dir.path()).expect("opens");
        let h = [1u8; 32];
        assert_eq!(
            s.put_release("o", "1", &h, "{}").expect("put"),
            PutRelease::New
        );
        assert_eq!(
            s.put_release("o", "1", &h, "{ }").expect("put"),
            PutRelease::Duplicate
        );
        assert_eq!(s.releases_of("o").expect("get"), vec!["{}".to_owned()]);
        assert_eq!(
            s.put_release("o", "1", &[2u8; 32], "{\"a\":1}")
                .expect("put"),
            PutRelease::Replaced
        );
        assert_eq!(s.releases_of("o2").expect("get").len(), 0);
        s.meta
            .insert("schema_version", &99u64.to_be_bytes())
            .expect("insert");
        drop(s);
        let err = SledStore::open(dir.path())
            .err()
            .expect("refuses a newer store");
        assert!(err.to_string().contains("newer sebroker"), "{err}");
    }

    #[test]
    fn a_raw_release_comes_back_byte_for_byte_and_version_1_values_still_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = SledStore::open(dir.path()).expect("opens");
        // Indentation, escapes, non-ASCII and a number no float holds.
        let raw = "{\n  \"ocid\" : \"o-1\",\r\n\t\"title\":\"Caf\u{e9} \\\"x\\\" \u{2013}\", \"n\": 1e9999 }  ";
        assert_eq!(
            s.put_release("o-1", "r1", &[3u8; 32], raw).expect("put"),
            PutRelease::New
        );
        let stored = s
            .releases
            .get(release_key("o-1", "r1"))
            .expect("get")
            .expect("some");
        assert!(
            stored[32..].starts_with(&ZSTD_MAGIC),
            "new values are compressed"
        );
        assert_eq!(s.releases_of("o-1").expect("get"), vec![raw.to_owned()]);
        // A value written by store version 1: hash then the plain JSON.
        let mut old = vec![4u8; 32];
        old.extend_from_slice(b"{\"ocid\": \"o-2\"}");
        s.releases
            .insert(release_key("o-2", "r1"), old)
            .expect("insert");
        assert_eq!(
            s.releases_of("o-2").expect("get"),
            vec!["{\"ocid\": \"o-2\"}".to_owned()]
        );
        assert!(s.has_releases("o-2").expect("has") && !s.has_releases("o-3").expect("has"));
        // A version 1 store opens and is recorded as the current version.
        s.meta
            .insert("schema_version", &1u64.to_be_bytes())
            .expect("insert");
        drop(s);
        let s = SledStore::open(dir.path()).expect("a version 1 store opens");
        let v = s.meta.get("schema_version").expect("get").expect("some");
        assert_eq!(v.as_ref(), &STORE_VERSION.to_be_bytes());
        assert_eq!(s.releases_of("o-1").expect("get"), vec![raw.to_owned()]);
    }

    fn a_match(member: &str, score: f64) -> Match {
        Match {
            member_id: member.to_owned(),
            score,
            components: Default::default(),
            reasons: vec![format!("{member} does this work")],
        }
    }

    /// The member index as member/ocid pairs, stale entries included.
    fn member_index(s: &SledStore) -> Vec<String> {
        let mut out = Vec::new();
        for kv in s.member_matches.iter() {
            let (k, v) = kv.expect("entry");
            let end = k.iter().position(|b| *b == 0).expect("a NUL");
            let member = String::from_utf8_lossy(&k[..end]).into_owned();
            let mut ocids = std::collections::BTreeSet::new();
            crate::member_matches::read_entry(end + 1, &k, &v, &mut ocids).expect("entry");
            out.extend(ocids.into_iter().map(|o| format!("{member}/{o}")));
        }
        out.sort();
        out
    }

    fn of_member(s: &SledStore, member: &str) -> Vec<(String, f64)> {
        let v = s.matches_of_member(member).expect("of member");
        v.into_iter().map(|(o, m)| (o, m.score)).collect()
    }

    #[test]
    fn a_notices_matches_are_replaced_whole_and_the_member_index_follows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = SledStore::open(dir.path()).expect("opens");
        s.put_matches("o-1", &[a_match("m1", 0.4), a_match("m2", 0.9)])
            .expect("put");
        s.put_matches("o-2", &[a_match("m1", 0.5)]).expect("put");
        let ids = |v: Vec<Match>| v.into_iter().map(|m| m.member_id).collect::<Vec<_>>();
        assert_eq!(ids(s.matches_of_notice("o-1").expect("get")), ["m2", "m1"]);
        assert_eq!(s.matches.len(), 2, "one value per notice");
        // m1 drops out of o-1, m3 comes in.
        s.put_matches("o-1", &[a_match("m2", 0.8), a_match("m3", 0.3)])
            .expect("put");
        assert_eq!(ids(s.matches_of_notice("o-1").expect("get")), ["m2", "m3"]);
        // Entries are only added: m1's entry for o-1 stays and is skipped.
        assert_eq!(member_index(&s), ["m1/o-1", "m1/o-2", "m2/o-1", "m3/o-1"]);
        assert_eq!(of_member(&s, "m1"), [("o-2".to_owned(), 0.5)]);
        assert_eq!(of_member(&s, "m2"), [("o-1".to_owned(), 0.8)]);
        // What a crash between the index and the value can leave: an
        // entry whose member the value does not hold is not a match.
        s.member_matches
            .insert(pair("m9", "o-2"), &[])
            .expect("stray");
        assert!(s.matches_of_member("m9").expect("m9").is_empty());
        // No matches left: nothing stored for the notice.
        s.put_matches("o-1", &[]).expect("put");
        assert!(s.matches_of_notice("o-1").expect("get").is_empty());
        assert_eq!(s.matches.len(), 1);
        // Tidying leaves one entry per member, naming only live notices.
        assert_eq!(s.tidy_member_matches().expect("tidy"), 4);
        assert_eq!(member_index(&s), ["m1/o-2"]);
        assert_eq!(s.member_matches.len(), 1);
        assert_eq!(of_member(&s, "m1"), [("o-2".to_owned(), 0.5)]);
    }

    #[test]
    fn the_check_reads_every_entry_of_every_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = SledStore::open(dir.path()).expect("opens");
        let before = s.check().expect("check");
        s.put_release("o-1", "r1", &[3u8; 32], "{}").expect("put");
        s.put_matches("o-1", &[a_match("m1", 0.4)]).expect("put");
        // A release, a notice's matches and one member index entry.
        assert_eq!(s.check().expect("check"), before + 3);
        assert_eq!(count_keys(&s.matches, "matches").expect("count"), 1);
    }

    #[test]
    fn a_batch_writes_one_index_entry_per_member_and_reads_as_notice_by_notice() {
        let (a, b) = (
            tempfile::tempdir().expect("a"),
            tempfile::tempdir().expect("b"),
        );
        let (one, many) = (
            SledStore::open(a.path()).expect("a"),
            SledStore::open(b.path()).expect("b"),
        );
        let batch: Vec<(String, Vec<Match>)> = (0..20)
            .map(|i| {
                let ms =
                    (0..5).map(|j| a_match(&format!("m{}", (i + j) % 7), 0.3 + j as f64 / 10.0));
                (format!("o-{i}"), ms.collect())
            })
            .collect();
        for (o, m) in &batch {
            one.put_matches(o, m).expect("one");
        }
        let refs: Vec<(&str, &[Match])> = batch
            .iter()
            .map(|(o, m)| (o.as_str(), m.as_slice()))
            .collect();
        many.put_matches_many(&refs).expect("many");
        assert_eq!(many.member_matches.len(), 7, "one entry per member");
        assert_eq!(one.member_matches.len(), 100);
        for m in 0..7 {
            let id = format!("m{m}");
            assert_eq!(of_member(&one, &id), of_member(&many, &id));
            let holding = batch
                .iter()
                .filter(|(_, ms)| ms.iter().any(|x| x.member_id == id));
            assert_eq!(of_member(&many, &id).len(), holding.count());
        }
        for (o, _) in &batch {
            assert_eq!(
                one.matches_of_notice(o).expect("one"),
                many.matches_of_notice(o).expect("many")
            );
        }
    }

    #[test]
    fn version_2_matches_move_to_one_value_per_notice_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = SledStore::open(dir.path()).expect("opens");
        s.put_release("o-1", "r1", &[3u8; 32], "{}").expect("put");
        // The version 2 layout: ocid \0 member -> one packed match.
        let old = [("o-1", "m1", 0.4), ("o-1", "m2", 0.9), ("o-10", "m1", 0.6)];
        for (ocid, member, score) in old {
            let key = pair(ocid, member);
            let value = pack(
                &key,
                &encode(ocid, &a_match(member, score)).expect("encode"),
            )
            .expect("pack");
            s.matches.insert(key, value).expect("insert");
            s.member_matches
                .insert(pair(member, ocid), &[])
                .expect("index");
        }
        s.meta
            .insert("schema_version", &2u64.to_be_bytes())
            .expect("insert");
        drop(s);
        let s = SledStore::open(dir.path()).expect("a version 2 store opens");
        let v = s.meta.get("schema_version").expect("get").expect("some");
        assert_eq!(v.as_ref(), &STORE_VERSION.to_be_bytes());
        let keys: Vec<Vec<u8>> = s
            .matches
            .iter()
            .keys()
            .map(|k| k.expect("k").to_vec())
            .collect();
        assert_eq!(keys, [b"o-1".to_vec(), b"o-10".to_vec()]);
        let got: Vec<(String, f64)> = s
            .matches_of_notice("o-1")
            .expect("get")
            .into_iter()
            .map(|m| (m.member_id, m.score))
            .collect();
        assert_eq!(got, [("m2".to_owned(), 0.9), ("m1".to_owned(), 0.4)]);
        let of_m1: Vec<(String, f64)> = s
            .matches_of_member("m1")
            .expect("of member")
            .into_iter()
            .map(|(o, m)| (o, m.score))
            .collect();
        assert_eq!(of_m1, [("o-1".to_owned(), 0.4), ("o-10".to_owned(), 0.6)]);
        assert_eq!(
            s.matches_of_notice("o-1").expect("get")[0].reasons,
            ["m2 does this work"]
        );
        // Opening again finds nothing left to move.
        drop(s);
        let s = SledStore::open(dir.path()).expect("opens again");
        assert_eq!(s.matches.len(), 2);
    }

    #[test]
    fn values_unpack_with_the_reused_context_or_streamed_and_damage_is_an_error() {
        let json = br#"{"ocid":"ocds-x","title":"Community meals"}"#.repeat(50);
        assert!(matches!(
            unpack(b"k", &json),
            Ok(std::borrow::Cow::Borrowed(_))
        ));
        let packed = pack(b"k", &json).expect("packs");
        for _ in 0..3 {
            // The same thread's context, used again.
            assert_eq!(unpack(b"k", &packed).expect("unpacks").as_ref(), &json[..]);
        }
        // A frame that does not record its size (a streaming encoder's).
        let mut streamed = Vec::new();
        let mut enc = zstd::stream::write::Encoder::new(&mut streamed, 3).expect("encoder");
        std::io::Write::write_all(&mut enc, &json).expect("writes");
        enc.finish().expect("finishes");
        assert_eq!(
            unpack(b"k", &streamed).expect("streamed").as_ref(),
            &json[..]
        );
        for damaged in [&packed[..packed.len() / 2], &packed[..6]] {
            match unpack(b"notices/x", damaged) {
                Err(Error::Corrupt { key, message }) => {
                    assert_eq!(key, "notices/x");
                    assert!(message.contains("decompressing"), "{message}");
                }
                other => panic!("a damaged value is corrupt, not {other:?}"),
            }
        }
    }

    #[test]
    fn the_reused_compression_context_writes_what_a_fresh_one_does() {
        let values = [
            br#"{"ocid":"ocds-a","title":"Youth work"}"#.repeat(40),
            br#"{"ocid":"ocds-b","title":"Meals"}"#.repeat(3),
            Vec::new(),
        ];
        for v in values.iter().chain(values.iter()) {
            let packed = pack(b"k", v).expect("packs");
            assert_eq!(
                packed,
                zstd::bulk::compress(v, ZSTD_LEVEL).expect("fresh"),
                "same bytes as a fresh context"
            );
            assert_eq!(
                zstd::zstd_safe::get_frame_content_size(&packed)
                    .ok()
                    .flatten(),
                Some(v.len() as u64),
                "the size is recorded, so reads take the fast path"
            );
            assert_eq!(unpack(b"k", &packed).expect("unpacks").as_ref(), &v[..]);
        }
    }

    fn release_json(i: usize) -> String {
        format!(
            "{{\"ocid\": \"ocds-b5fd17-{i:06}\", \"id\": \"r{i}\", \"date\": \"2026-08-{:02}T09:00:00Z\",\n  \"tender\": {{\"title\": \"Grounds maintenance, lot {i}\", \"description\": \"Grass cutting and hedges in ward {}\", \"value\": {{\"amount\": {}, \"currency\": \"GBP\"}}}},\n  \"buyer\": {{\"name\": \"Borough council {}\"}}, \"tag\": [\"tender\"]}}",
            1 + i % 28,
            i % 41,
            i * 977 % 250_000,
            i % 13
        )
    }

    #[test]
    fn releases_get_a_dictionary_after_enough_and_read_back_byte_for_byte_after_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = SledStore::open(dir.path()).expect("opens");
        let n = crate::dict::TRAIN_AFTER + 50;
        for i in 0..n {
            s.put_release(&format!("o-{i}"), "r", &[i as u8; 32], &release_json(i))
                .expect("put");
        }
        let id = s
            .meta
            .get("zstd_dict_for/releases")
            .expect("meta")
            .expect("a dictionary");
        // A stored release: its hash, then its frame; and the frame's dictionary.
        let frame_of = |s: &SledStore, ocid: &str| -> Vec<u8> {
            let stored = s.releases.get(release_key(ocid, "r")).expect("get");
            stored.expect("stored")[32..].to_vec()
        };
        let dict_of = |frame: &[u8]| {
            zstd::zstd_safe::get_dict_id_from_frame(frame).map(|d| u32::from(d).to_be_bytes())
        };
        let frame = frame_of(&s, &format!("o-{}", n - 1));
        assert_eq!(
            dict_of(&frame).map(|d| d.to_vec()),
            Some(id.to_vec()),
            "a release after the training names the dictionary"
        );
        let alone = pack(b"k", release_json(n - 1).as_bytes()).expect("packs");
        assert!(
            frame.len() * 2 < alone.len(),
            "{} bytes with the dictionary, {} alone",
            frame.len(),
            alone.len()
        );
        drop(s);
        let s = SledStore::open(dir.path()).expect("opens again");
        for i in [0, n / 2, n - 1] {
            assert_eq!(
                s.releases_of(&format!("o-{i}")).expect("get"),
                vec![release_json(i)]
            );
        }
        // New values go on using the stored dictionary.
        s.put_release("o-new", "r", &[9u8; 32], &release_json(n))
            .expect("put");
        assert_eq!(
            dict_of(&frame_of(&s, "o-new")).map(|d| d.to_vec()),
            Some(id.to_vec())
        );
    }

    #[test]
    fn a_frame_of_a_dictionary_the_store_lacks_is_an_error_not_a_guess() {
        let samples: Vec<Vec<u8>> = (0..crate::dict::TRAIN_AFTER)
            .map(|i| release_json(i + 7_000_000).into_bytes())
            .collect();
        let dict = crate::dict::train(&samples).expect("trains");
        // Compressed with a dictionary never registered in this process.
        let cdict = zstd::zstd_safe::CDict::create(&dict, 3);
        let frame = pack_with(b"k", &samples[0], &cdict).expect("packs");
        match unpack(b"releases/x", &frame) {
            Err(Error::Corrupt { key, message }) => {
                assert_eq!(key, "releases/x");
                assert!(message.contains("does not hold"), "{message}");
            }
            other => panic!("a frame without its dictionary is corrupt, not {other:?}"),
        }
    }

    #[test]
    fn groups_merge_and_progress_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = SledStore::open(dir.path()).expect("opens");
        assert!(s
            .put_candidate_keys("a", "fts", &["d:1".into()])
            .expect("keys")
            .is_empty());
        assert_eq!(
            s.put_candidate_keys("b", "cf", &["d:1".into(), "v:2".into()])
                .expect("keys"),
            vec!["a".to_owned()]
        );
        // The same source is never a candidate; an entry without a
        // source (an older store's) always is.
        s.dup_keys.insert(b"d:1\0old", &[]).expect("old entry");
        assert_eq!(
            s.put_candidate_keys("a2", "fts", &["d:1".into()])
                .expect("keys"),
            vec!["b".to_owned(), "old".to_owned()]
        );
        // Sources sort around each other ("cf" < "cf2" < "fts"): only the
        // notice's own is passed over.
        assert_eq!(
            s.put_candidate_keys("c2", "cf2", &["d:1".into()])
                .expect("keys"),
            vec![
                "b".to_owned(),
                "a".to_owned(),
                "a2".to_owned(),
                "old".to_owned()
            ]
        );
        assert_eq!(
            s.put_candidate_keys("b2", "cf", &["d:1".into(), "v:2".into()])
                .expect("keys"),
            vec![
                "c2".to_owned(),
                "a".to_owned(),
                "a2".to_owned(),
                "old".to_owned()
            ]
        );
        assert!(s.link_group("b", "a").expect("link"));
        assert!(!s.link_group("a", "b").expect("link"));
        assert!(s.link_group("c", "b").expect("link"));
        assert_eq!(s.group_of("a").expect("group"), vec!["a", "b", "c"]);
        assert_eq!(s.groups().expect("groups").len(), 1);
        let p = SourceProgress {
            windows_completed: 3,
            ..SourceProgress::default()
        };
        s.put_sync_progress("fts", &p).expect("save");
        assert_eq!(s.sync_progress("fts").expect("load"), p);
        assert_eq!(s.sync_sources().expect("sources"), vec!["fts"]);
    }
}
