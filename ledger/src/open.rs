//! Opening a ledger: the chain verified, sled compared with the head file
//! and with what the notice store remembers (identity, last head), so that
//! a ledger that is behind, broken, missing or replaced is refused with a
//! clear message naming the last backup, never served short or empty.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use super::identity::{self, Mark};
use super::model::GENESIS;
use super::seal;
use super::state::State;
use super::store::{self, Head, LedgerStore, SledLedgerStore};
use super::{keys, ledger_dir, verify_chain, Ledger, LedgerSettings, Writer};
use crate::error::{Error, Result};
use sebroker_store::NoticeStore;

/// The newest backup file in the data folder's `backups/`, if any.
fn newest_backup(data_dir: &Path) -> Option<std::path::PathBuf> {
    let mut v: Vec<(std::time::SystemTime, std::path::PathBuf)> =
        std::fs::read_dir(super::backups_dir(data_dir))
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
    v.sort();
    v.pop().map(|(_, p)| p)
}

/// What start-up knows before deciding: the head file and the store's mark.
pub(super) struct Known {
    pub head: Option<Head>,
    pub mark: Option<Mark>,
    /// The notice store holds notices or members.
    pub store_has_data: bool,
    /// A notice store was consulted at all.
    pub has_memory: bool,
}

impl Known {
    pub fn read(data_dir: &Path, memory: Option<&dyn NoticeStore>) -> Result<Known> {
        let head = store::read_head(&store::head_path(data_dir))?;
        let (mark, store_has_data) = match memory {
            Some(m) => (identity::read_mark(m)?, identity::store_holds_data(m)?),
            None => (None, false),
        };
        Ok(Known {
            head,
            mark,
            store_has_data,
            has_memory: memory.is_some(),
        })
    }

    fn backup(&self) -> Option<String> {
        self.head
            .as_ref()
            .and_then(|h| h.last_backup.clone())
            .or_else(|| self.mark.as_ref().and_then(|m| m.last_backup.clone()))
    }

    /// The refusal error: what is wrong, and what to do (the last backup).
    pub fn refusal(&self, data_dir: &Path, what: &str) -> Error {
        let backup = self
            .backup()
            .or_else(|| newest_backup(data_dir).map(|p| p.display().to_string()));
        let advice = match backup {
            Some(b) => format!(
                "the last good backup is {b}: stop every sebroker process and run `sebroker --data-dir {} restore {b}`",
                data_dir.display()
            ),
            None => "no backup is known (see `sebroker backup`); investigate the data folder before going on".into(),
        };
        Error::Refused(format!(
            "refusing to open the ledger in {}: {what}. sebroker never serves a silently smaller ledger; {advice}",
            ledger_dir(data_dir).display()
        ))
    }

    /// The identity the folder remembers, and where its event count comes from.
    fn remembered(&self) -> Option<(String, u64, &'static str)> {
        let h = self.head.as_ref().and_then(|h| {
            h.ledger_id
                .clone()
                .map(|id| (id, h.seq, "the head file"))
                .or_else(|| (h.seq > 0).then(|| ("(no identity)".into(), h.seq, "the head file")))
        });
        let m = self
            .mark
            .as_ref()
            .map(|m| (m.ledger_id.clone(), m.seq, "the notice store"));
        match (h, m) {
            (Some(h), Some(m)) if m.1 > h.1 => Some(m),
            (Some(h), _) => Some(h),
            (None, m) => m,
        }
    }
}

/// The identity a ledger opens with, or why it may not open. `sled_id` is
/// the identity in the ledger's database; `blank`: it holds nothing.
fn decide_identity(
    k: &Known,
    data_dir: &Path,
    sled_id: Option<&str>,
    blank: bool,
) -> Result<(String, bool)> {
    let head_id = k.head.as_ref().and_then(|h| h.ledger_id.as_deref());
    let mark_id = k.mark.as_ref().map(|m| m.ledger_id.as_str());
    if let Some(l) = sled_id {
        for (who, other) in [("head file", head_id), ("notice store", mark_id)] {
            if let Some(o) = other.filter(|o| *o != l) {
                return Err(k.refusal(
                    data_dir,
                    &format!("it is ledger {l}, but the {who} records ledger {o}: the ledger was replaced by another one"),
                ));
            }
        }
        return Ok((l.to_owned(), false));
    }
    if !blank {
        // A ledger from before identities: adopt it, unless the folder
        // already knew an identified one (then this one replaced it).
        if let Some(o) = head_id.or(mark_id) {
            return Err(k.refusal(
                data_dir,
                &format!("the folder records ledger {o}, but the ledger database has no identity: it was replaced by an older copy"),
            ));
        }
        return Ok((identity::new_id()?, true));
    }
    if let (Some(h), Some(m)) = (head_id, mark_id) {
        if h != m {
            return Err(k.refusal(
                data_dir,
                &format!("the head file records ledger {h} but the notice store ledger {m}"),
            ));
        }
    }
    // Nothing in sled: a new folder, or a ledger that went missing.
    let missing = |what: String| {
        k.refusal(
            data_dir,
            &format!(
                "{what}, but the ledger database is missing or empty. A new ledger is created only in an empty folder; \
                 to start a new one anyway (it records that it replaced the missing one) run `sebroker --data-dir {} ledger init --replace-missing`",
                data_dir.display()
            ),
        )
    };
    let head_seq = k.head.as_ref().map_or(0, |h| h.seq);
    let mark_seq = k.mark.as_ref().map_or(0, |m| m.seq);
    if head_seq > 0 || mark_seq > 0 || (k.mark.is_some() && k.head.is_none()) {
        let (id, seq, who) = k.remembered().unwrap_or(("?".into(), 0, "the folder"));
        return Err(missing(format!(
            "{who} records ledger {id} with {seq} events"
        )));
    }
    if k.head.is_none() && k.store_has_data {
        return Err(missing(
            "the notice store holds notices or members, and the ledger head file is missing too"
                .into(),
        ));
    }
    // An empty ledger whose head (at event 0) survives, or a new folder.
    Ok((
        head_id
            .or(mark_id)
            .map_or_else(identity::new_id, |i| Ok(i.to_owned()))?,
        true,
    ))
}

/// The head and the store's mark against the verified events.
fn check_against(k: &Known, data_dir: &Path, state: &State) -> Result<()> {
    let n = state.last_seq();
    let hash_at = |seq: u64| {
        if seq == 0 {
            Some(GENESIS)
        } else {
            state.record(seq).map(|r| r.hash.as_str())
        }
    };
    if let Some(why) = state.impossible() {
        return Err(k.refusal(data_dir, &format!("it holds an impossible total: {why}")));
    }
    match &k.head {
        None if n > 0 => {
            return Err(k.refusal(
                data_dir,
                &format!(
                    "it holds {n} events but its head file {} is missing",
                    store::head_path(data_dir).display()
                ),
            ))
        }
        None => {}
        Some(h) => {
            if n < h.seq {
                return Err(k.refusal(data_dir, &format!("sled holds {n} events but the head file records {} (sled lost recent writes)", h.seq)));
            }
            if hash_at(h.seq) != Some(h.hash.as_str()) {
                return Err(k.refusal(
                    data_dir,
                    &format!(
                        "event {} in sled differs from the one the head file records",
                        h.seq
                    ),
                ));
            }
            if n == h.seq && state.checked_brokered_total() != Some(h.brokered_total_pence) {
                return Err(k.refusal(
                    data_dir,
                    &format!(
                        "the events sum to {} pence brokered but the head records {}",
                        state.brokered_total(),
                        h.brokered_total_pence
                    ),
                ));
            }
            if n > h.seq {
                tracing::warn!(head = h.seq, events = n, "the ledger is ahead of its head file (a crash between flush and head write); the chain checks out, updating the head");
            }
        }
    }
    if let Some(m) = &k.mark {
        if n < m.seq || hash_at(m.seq) != Some(m.hash.as_str()) {
            return Err(k.refusal(data_dir, &format!("the notice store remembers event {} of this ledger, which sled {} (the ledger and its head are older than the store)", m.seq, if n < m.seq { "does not hold" } else { "holds differently" })));
        }
    }
    Ok(())
}

/// The store's mark is missing while the ledger's head has an identity:
/// the notice store was replaced or lost its data (unless neither holds
/// anything yet, as after a crash during the very first start).
fn check_memory(k: &Known, data_dir: &Path, n: u64) -> Result<()> {
    let head_has_id = k.head.as_ref().is_some_and(|h| h.ledger_id.is_some());
    if !k.has_memory || k.mark.is_some() || !head_has_id || (n == 0 && !k.store_has_data) {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "refusing to open {}: the ledger ({n} events) is known to its head file, but the notice store in {} does not remember it: \
         the store was replaced, is an older copy, or lost its data. Restore the data folder from a copy; if this store is \
         the right one, run `sebroker --data-dir {} ledger init --adopt-store` to record the ledger in it",
        data_dir.display(),
        data_dir.join("store").display(),
        data_dir.display()
    )))
}

impl Known {
    /// A head or mark written before the chain's migration names an old
    /// hash: it stands for the migrated record at the same sequence.
    fn translate_migrated(&mut self, old: &[String], records: &[super::model::Record]) {
        let new_for = |seq: u64, hash: &str| -> Option<String> {
            let i = usize::try_from(seq.checked_sub(1)?).ok()?;
            (old.get(i)? == hash).then(|| records.get(i).map(|r| r.hash.clone()))?
        };
        if let Some(h) = self.head.as_mut() {
            if let Some(n) = new_for(h.seq, &h.hash) {
                h.hash = n;
            }
        }
        if let Some(m) = self.mark.as_mut() {
            if let Some(n) = new_for(m.seq, &m.hash) {
                m.hash = n;
            }
        }
    }
}

/// The versioned migration to sealed records, once: each record's
/// personal data (plaintext notes, names) moves into its sealed part and
/// the chain is recomputed. Events, totals and KPIs are unchanged; only
/// hashes change. The migrated ledger is written into a fresh folder that
/// replaces the old one (`migrate_folder`), so no superseded plaintext
/// stays in sled's log. Returns the new state and the old hashes.
fn migrate(keyring: &seal::Keyring, old: State) -> Result<(State, Vec<String>)> {
    let old_hashes: Vec<String> = old.records.iter().map(|r| r.hash.clone()).collect();
    let mut new = State::default();
    let mut prev = GENESIS.to_owned();
    for mut r in old.records {
        if r.sealed.is_none() {
            let p = seal::take_personal(&mut r);
            if !p.is_empty() {
                r.sealed = Some(keyring.seal(&new.subject_of(&r), &p)?);
            }
        }
        r.prev_hash.clone_from(&prev);
        r.hash = r.compute_hash();
        prev.clone_from(&r.hash);
        new.apply(r);
    }
    if let Err((seq, why)) = verify_chain(&new.records) {
        return Err(Error::Corrupt {
            key: format!("ledger/events/{seq}"),
            message: format!("the migrated chain does not verify: {why}"),
        });
    }
    Ok((new, old_hashes))
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes the migrated ledger to `ledger.migrating/`, then swaps it in:
/// `ledger/` → `ledger.pre-migration/`, `ledger.migrating/` → `ledger/`,
/// and the old folder (with its plaintext) is deleted. [`recover_folder`]
/// finishes or undoes a swap a crash interrupted. Returns the reopened db.
fn migrate_folder(
    data_dir: &Path,
    db: SledLedgerStore,
    records: &[super::model::Record],
    old_hashes: &[String],
) -> Result<SledLedgerStore> {
    let (live, next, old) = folders(data_dir);
    if next.exists() {
        std::fs::remove_dir_all(&next).map_err(io_err(&next))?;
    }
    let to = SledLedgerStore::open(&next)?;
    db.copy_migrated(&to, records, old_hashes)?;
    drop(to);
    drop(db);
    std::fs::rename(&live, &old).map_err(io_err(&live))?;
    std::fs::rename(&next, &live).map_err(io_err(&next))?;
    std::fs::remove_dir_all(&old).map_err(io_err(&old))?;
    sync_dir(data_dir);
    tracing::info!(
        events = records.len(),
        "ledger migrated: personal data sealed outside the chain"
    );
    SledLedgerStore::open(&live)
}

fn folders(data_dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    (
        ledger_dir(data_dir),
        data_dir.join("ledger.migrating"),
        data_dir.join("ledger.pre-migration"),
    )
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// After a crash during [`migrate_folder`]: with `ledger/` present, the
/// leftovers are stale (a copy not swapped in, or the old folder already
/// replaced); without it, the complete copy (its format set) goes in, or
/// else the old folder goes back.
fn recover_folder(data_dir: &Path) -> Result<()> {
    let (live, next, old) = folders(data_dir);
    if !live.exists() && old.exists() {
        let complete = next.exists()
            && SledLedgerStore::open(&next)
                .and_then(|d| d.format())
                .is_ok_and(|f| f >= store::FORMAT);
        let from = if complete { &next } else { &old };
        std::fs::rename(from, &live).map_err(io_err(from))?;
        tracing::warn!(from = %from.display(), "finished an interrupted ledger migration");
    }
    for stale in [next, old] {
        if stale.exists() && live.exists() {
            std::fs::remove_dir_all(&stale).map_err(io_err(&stale))?;
        }
    }
    sync_dir(data_dir);
    Ok(())
}

/// Opens every sealed record's personal data (erased where its key is gone).
fn open_all(state: &mut State, keyring: &seal::Keyring) {
    let sealed: Vec<(u64, seal::Sealed)> = state
        .records
        .iter()
        .filter_map(|r| r.sealed.clone().map(|s| (r.seq, s)))
        .collect();
    for (seq, s) in sealed {
        let p = keyring
            .open_sealed(&s)
            .unwrap_or_else(seal::Personal::erased);
        state.open_personal(seq, p);
    }
}

impl Ledger {
    /// Opens the ledger of a data folder (`ledger/` and `ledger.head`)
    /// without the notice store's memory (tools and tests).
    pub fn open(data_dir: &Path, settings: LedgerSettings) -> Result<Ledger> {
        Ledger::open_with(data_dir, settings, None)
    }

    /// Opens the ledger, checking sled against the head and against what
    /// the notice store `memory` remembers. The caller holds the lock.
    pub fn open_with(
        data_dir: &Path,
        settings: LedgerSettings,
        memory: Option<Arc<dyn NoticeStore>>,
    ) -> Result<Ledger> {
        let mut k = Known::read(data_dir, memory.as_deref())?;
        recover_folder(data_dir)?;
        let mut db = SledLedgerStore::open(&ledger_dir(data_dir))
            .map_err(|e| k.refusal(data_dir, &format!("sled cannot open it ({e})")))?;
        let records = db
            .records()
            .map_err(|e| k.refusal(data_dir, &format!("sled cannot read it ({e})")))?;
        if let Err((seq, why)) = verify_chain(&records) {
            return Err(k.refusal(
                data_dir,
                &format!("the hash chain breaks at event {seq} ({why})"),
            ));
        }
        let keyring = seal::Keyring::open(&seal::keys_path(data_dir))?;
        k.translate_migrated(&db.old_hashes()?, &records);
        let legacy_keys = db
            .keys()
            .map_err(|e| k.refusal(data_dir, &format!("sled cannot read its keys ({e})")))?;
        let sled_id = db.ledger_id()?;
        let blank = records.is_empty() && legacy_keys.is_empty();
        let (id, new_id) = decide_identity(&k, data_dir, sled_id.as_deref(), blank)?;
        let mut state = State::default();
        for r in records {
            state.apply(r);
        }
        check_against(&k, data_dir, &state)?;
        check_memory(&k, data_dir, state.last_seq())?;
        let migrated = db.format()? < store::FORMAT;
        if migrated && state.records.is_empty() {
            db.rewrite_chain(&[], &[])?;
        } else if migrated {
            let (new, old_hashes) = migrate(&keyring, state)?;
            db = migrate_folder(data_dir, db, &new.records, &old_hashes)?;
            state = new;
        }
        open_all(&mut state, &keyring);
        if new_id {
            // The database first: a crash after this leaves a ledger whose
            // identity the head and the mark simply do not know yet.
            db.set_ledger_id(&id)?;
        }
        let ledger = Ledger::assemble((db, keyring), data_dir, memory, id, state, &k, settings)?;
        let n = ledger.state().last_seq();
        let legacy = ledger.migrate_legacy_keys(legacy_keys)?;
        if legacy > 0 {
            tracing::info!(legacy, "API keys recorded as ledger events");
        }
        let head_current = !migrated
            && k.head
                .as_ref()
                .is_some_and(|h| h.seq == n && h.ledger_id.as_deref() == Some(ledger.id()));
        if !head_current && legacy == 0 {
            let w = ledger.writer();
            ledger.write_head_with(w.last_backup.clone())?;
        }
        let w = ledger.writer();
        let mark_current = !migrated
            && k.mark
                .as_ref()
                .is_some_and(|m| m.seq == ledger.state().last_seq());
        if !mark_current {
            ledger.write_mark(&w, true)?;
        }
        drop(w);
        Ok(ledger)
    }

    /// `stores`: the events' database and the keys of the sealed data.
    fn assemble(
        (db, keyring): (SledLedgerStore, seal::Keyring),
        data_dir: &Path,
        memory: Option<Arc<dyn NoticeStore>>,
        id: String,
        state: State,
        k: &Known,
        settings: LedgerSettings,
    ) -> Result<Ledger> {
        let uses = db.key_uses()?;
        let keys = keys::entries(&state.keys, &uses);
        let writer = Writer {
            last_backup: k.backup(),
            replaced: k
                .mark
                .as_ref()
                .map(|m| m.replaced.clone())
                .unwrap_or_default(),
            ..Writer::default()
        };
        Ok(Ledger {
            store: Box::new(db),
            head_path: Some(store::head_path(data_dir)),
            memory,
            id,
            state: RwLock::new(state),
            keys: RwLock::new(keys),
            write: Mutex::new(writer),
            keyring,
            settings,
        })
    }
}

impl Ledger {
    /// `sebroker ledger init --replace-missing`: a new, empty ledger where
    /// the folder remembers one that is gone. Its first event
    /// (`ledger_replaced`) and the store's mark record what it replaced.
    /// Refuses when the ledger is not missing (restore a damaged one).
    pub fn init_replacing_missing(
        data_dir: &Path,
        settings: LedgerSettings,
        memory: Arc<dyn NoticeStore>,
        actor: &str,
    ) -> Result<Ledger> {
        let k = Known::read(data_dir, Some(memory.as_ref()))?;
        let db = SledLedgerStore::open(&ledger_dir(data_dir)).map_err(|e| {
            k.refusal(
                data_dir,
                &format!("sled cannot open it ({e}); move the folder aside first"),
            )
        })?;
        let blank = db.records()?.is_empty() && db.keys()?.is_empty() && db.ledger_id()?.is_none();
        if !blank {
            drop(db);
            let l = Ledger::open_with(data_dir, settings, Some(memory))?;
            return Err(Error::Invalid(format!(
                "the ledger in {} is not missing (ledger {}, {} events); nothing was replaced",
                ledger_dir(data_dir).display(),
                l.id(),
                l.state().last_seq()
            )));
        }
        let (prev_id, prev_seq, _) = k.remembered().unwrap_or(("none".into(), 0, "the folder"));
        let prev_hash = match (&k.head, &k.mark) {
            (Some(h), Some(m)) if m.seq > h.seq => m.hash.clone(),
            (Some(h), _) => h.hash.clone(),
            (None, Some(m)) => m.hash.clone(),
            (None, None) => GENESIS.to_owned(),
        };
        let id = identity::new_id()?;
        db.set_ledger_id(&id)?;
        db.rewrite_chain(&[], &[])?;
        let keyring = seal::Keyring::open(&seal::keys_path(data_dir))?;
        let ledger = Ledger::assemble(
            (db, keyring),
            data_dir,
            Some(memory),
            id,
            State::default(),
            &k,
            settings,
        )?;
        ledger.writer().replaced.push(identity::Replacement {
            previous_ledger_id: prev_id.clone(),
            previous_seq: prev_seq,
            previous_hash: prev_hash.clone(),
            how: "replace-missing".into(),
            at: time::OffsetDateTime::now_utc(),
        });
        ledger.append(super::NewEvent {
            date: None,
            actor: actor.to_owned(),
            idempotency_key: format!("ledger-replaced:{prev_id}:{prev_seq}"),
            notes: Some("sebroker ledger init --replace-missing".into()),
            event: super::model::Event::LedgerReplaced {
                previous_ledger_id: prev_id,
                previous_seq: prev_seq,
                previous_hash: prev_hash,
            },
        })?;
        ledger.persist()?;
        tracing::warn!(ledger = ledger.id(), "a new ledger replaced a missing one");
        Ok(ledger)
    }

    /// `sebroker ledger init --adopt-store`: the ledger, checked against
    /// its head, recorded in a notice store that does not remember it.
    pub fn adopt_store(
        data_dir: &Path,
        settings: LedgerSettings,
        memory: Arc<dyn NoticeStore>,
    ) -> Result<Ledger> {
        let mut l = Ledger::open_with(data_dir, settings, None)?;
        l.memory = Some(memory);
        l.persist()?;
        Ok(l)
    }
}
