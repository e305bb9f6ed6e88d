//! Backups as JSON Lines (members, keys, events, and for people reading
//! them, cases and returns), verified by re-reading before they count;
//! restore into a data folder whose ledger was lost or damaged.
//!
//! Lines: `{"kind":"header",...}`, then `member`, `key`, `event`, `case`,
//! `return` lines, then `{"kind":"end","lines":N}` so truncation shows.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use sebroker_model::Member;

use super::model::Record;
use super::state::State;
use super::store::{self, Head, LedgerStore, SledLedgerStore};
use super::{identity, ledger_dir, verify_chain, Ledger, LedgerSettings};
use crate::auth::ApiKey;
use crate::error::{Error, Result};
use sebroker_store::NoticeStore;

pub const FORMAT: &str = "sebroker-ledger-backup";
/// 2: records seal their personal data, and `seal_key` lines carry the
/// subjects' keys (an erased subject's key is not there). Version 1 files
/// (plaintext notes) restore and are migrated when the ledger opens.
pub const VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub events: u64,
    pub head_hash: String,
    pub brokered_total_pence: i64,
    pub members: u64,
    /// The identity of the ledger backed up (absent in older backups).
    #[serde(default)]
    pub ledger_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Header(Header),
    Member {
        member: Box<Member>,
    },
    Key {
        key: ApiKey,
    },
    Event {
        record: Box<Record>,
    },
    /// A subject's key that opens sealed personal data (`crate::seal`).
    SealKey {
        subject: String,
        key: String,
    },
    /// Derived, for readers; ignored on restore.
    Case {
        case: serde_json::Value,
    },
    /// Derived, for readers; ignored on restore.
    Return {
        r#return: serde_json::Value,
    },
    End {
        lines: u64,
    },
}

/// What a backup holds, verified.
#[derive(Debug)]
pub struct Contents {
    pub header: Header,
    pub members: Vec<Member>,
    pub keys: Vec<ApiKey>,
    pub records: Vec<Record>,
    /// Subject → key (hex) of the sealed personal data.
    pub seal_keys: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
pub struct BackupReport {
    pub file: String,
    pub events: u64,
    pub members: u64,
    pub keys: u64,
    pub brokered_total_pence: i64,
    pub head_hash: String,
    pub verified: bool,
}

/// The default backup file: `data/backups/ledger-<UTC time>.jsonl`.
pub fn default_path(data_dir: &Path) -> PathBuf {
    let now = OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    super::backups_dir(data_dir).join(format!("ledger-{stamp}.jsonl"))
}

/// Writes a backup to `out` (through a temporary file), re-reads and
/// verifies it, then records it as the last good backup.
pub fn backup(ledger: &Ledger, members: &[Member], out: &Path) -> Result<BackupReport> {
    let io = |source| Error::Io {
        path: out.to_owned(),
        source,
    };
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let keys = ledger.keys();
    let header;
    let tmp = {
        let state = ledger.state();
        header = Header {
            format: FORMAT.into(),
            version: VERSION,
            created_at: OffsetDateTime::now_utc(),
            events: state.last_seq(),
            head_hash: state.last_hash().to_owned(),
            brokered_total_pence: state.brokered_total(),
            members: members.len() as u64,
            ledger_id: Some(ledger.id().to_owned()),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        {
            let mut w = BufWriter::new(tmp.as_file_mut());
            let mut lines = 0u64;
            let mut put = |l: &Line| -> Result<()> {
                let s = serde_json::to_string(l).map_err(|e| Error::Invalid(e.to_string()))?;
                writeln!(w, "{s}").map_err(io)?;
                lines += 1;
                Ok(())
            };
            put(&Line::Header(header.clone()))?;
            for m in members {
                put(&Line::Member {
                    member: Box::new(m.clone()),
                })?;
            }
            for k in &keys {
                put(&Line::Key { key: k.clone() })?;
            }
            for (subject, key) in ledger.seal_keys() {
                put(&Line::SealKey { subject, key })?;
            }
            for r in &state.records {
                put(&Line::Event {
                    record: Box::new(r.clone()),
                })?;
            }
            let cluster_of = |_: &str| "unknown".to_owned();
            for c in state.all_cases(&cluster_of) {
                let case = serde_json::to_value(&c).map_err(|e| Error::Invalid(e.to_string()))?;
                put(&Line::Case { case })?;
            }
            for r in state.returns() {
                let v = serde_json::to_value(&r).map_err(|e| Error::Invalid(e.to_string()))?;
                put(&Line::Return { r#return: v })?;
            }
            let n = lines + 1;
            let s = serde_json::to_string(&Line::End { lines: n })
                .map_err(|e| Error::Invalid(e.to_string()))?;
            writeln!(w, "{s}").map_err(io)?;
            w.flush().map_err(io)?;
        }
        tmp.as_file().sync_all().map_err(io)?;
        tmp
    };
    let check = read(tmp.path())?;
    if check.header.events != header.events || check.header.head_hash != header.head_hash {
        return Err(Error::Corrupt {
            key: out.display().to_string(),
            message: "the backup read back differs from the ledger".into(),
        });
    }
    tmp.persist(out).map_err(|e| io(e.error))?;
    let out = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_owned());
    ledger.set_last_backup(&out)?;
    Ok(BackupReport {
        file: out.display().to_string(),
        events: header.events,
        members: header.members,
        keys: keys.len() as u64,
        brokered_total_pence: header.brokered_total_pence,
        head_hash: header.head_hash,
        verified: true,
    })
}

/// Reads and verifies a backup: format, completeness, hash chain, and the
/// header's count, last hash and brokered total against the events.
pub fn read(path: &Path) -> Result<Contents> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let bad = |line: u64, m: String| Error::Invalid(format!("{} line {line}: {m}", path.display()));
    let mut header = None;
    let mut members = Vec::new();
    let mut keys = Vec::new();
    let mut records = Vec::new();
    let mut seal_keys = Vec::new();
    let mut end = None;
    let mut n = 0u64;
    for line in std::io::BufReader::new(file).lines() {
        n += 1;
        let line = line.map_err(|e| bad(n, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        if end.is_some() {
            return Err(bad(n, "text after the end line".into()));
        }
        let l: Line = serde_json::from_str(&line).map_err(|e| bad(n, e.to_string()))?;
        match l {
            Line::Header(h) if n == 1 => {
                if h.format != FORMAT || h.version > VERSION {
                    return Err(bad(n, format!("not a {FORMAT} v{VERSION} file")));
                }
                header = Some(h);
            }
            Line::Header(_) => return Err(bad(n, "a second header".into())),
            _ if header.is_none() => return Err(bad(n, "no header line first".into())),
            Line::Member { member } => members.push(*member),
            Line::Key { key } => keys.push(key),
            Line::Event { record } => records.push(*record),
            Line::SealKey { subject, key } => seal_keys.push((subject, key)),
            Line::Case { .. } | Line::Return { .. } => {}
            Line::End { lines } => {
                if lines != n {
                    return Err(bad(
                        n,
                        format!("the end line counts {lines} lines, the file has {n}"),
                    ));
                }
                end = Some(lines);
            }
        }
    }
    let header = header.ok_or_else(|| bad(1, "empty file".into()))?;
    if end.is_none() {
        return Err(bad(n, "no end line: the file is truncated".into()));
    }
    verify_chain(&records).map_err(|(seq, why)| bad(0, format!("event {seq}: {why}")))?;
    let mut state = State::default();
    for r in &records {
        state.apply(r.clone());
    }
    if state.last_seq() != header.events || state.last_hash() != header.head_hash {
        return Err(bad(0, "the header does not match the events".into()));
    }
    if let Some(why) = state.impossible() {
        return Err(bad(0, format!("an impossible total: {why}")));
    }
    if state.brokered_total() != header.brokered_total_pence {
        return Err(bad(
            0,
            format!(
                "the events sum to {} pence brokered, the header says {}",
                state.brokered_total(),
                header.brokered_total_pence
            ),
        ));
    }
    Ok(Contents {
        header,
        members,
        keys,
        records,
        seal_keys,
    })
}

#[derive(Debug, Serialize)]
pub struct RestoreReport {
    pub file: String,
    pub events: u64,
    pub members: u64,
    pub keys: u64,
    pub brokered_total_pence: i64,
    /// Where the ledger that was replaced was moved (kept, never deleted).
    pub replaced_kept_at: Option<String>,
}

/// Restores a verified backup into `data_dir` (whose lock the caller
/// holds): the current ledger folder is moved aside, a new one is written
/// and reopened through the usual checks. Members go to `put_member`; the
/// notice store `memory` records the restored ledger (and the one it
/// replaced). Refuses to replace a healthy ledger holding more events
/// unless `force`.
pub fn restore(
    data_dir: &Path,
    path: &Path,
    force: bool,
    settings: LedgerSettings,
    memory: Option<Arc<dyn NoticeStore>>,
    put_member: &mut dyn FnMut(&Member) -> Result<()>,
) -> Result<RestoreReport> {
    let contents = read(path)?;
    let dir = ledger_dir(data_dir);
    let current = match dir.exists() {
        true => Ledger::open_with(data_dir, settings, memory.clone()).ok(),
        false => None,
    };
    if let Some(current) = current {
        let have = current.state().last_seq();
        if have > contents.header.events && !force {
            return Err(Error::Invalid(format!(
                "the ledger in {} is healthy and holds {have} events, more than the backup's {}; \
                 pass --force to replace it anyway (it is kept aside, not deleted)",
                data_dir.display(),
                contents.header.events
            )));
        }
    }
    let mut kept = None;
    if dir.exists() {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let aside = data_dir.join(format!("ledger.replaced-{now}"));
        std::fs::rename(&dir, &aside).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        kept = Some(aside.display().to_string());
    }
    let id = match &contents.header.ledger_id {
        Some(id) => id.clone(),
        None => identity::new_id()?,
    };
    write_restored(&dir, &contents, &id)?;
    super::seal::Keyring::open(&super::seal::keys_path(data_dir))?
        .replace_all(&contents.seal_keys)?;
    let path_abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let last_hash = contents
        .records
        .last()
        .map_or(super::model::GENESIS.to_owned(), |r| r.hash.clone());
    let now = OffsetDateTime::now_utc();
    store::write_head(
        &store::head_path(data_dir),
        &Head {
            seq: contents.header.events,
            brokered_total_pence: contents.header.brokered_total_pence,
            hash: last_hash.clone(),
            written_at: now,
            last_backup: Some(path_abs.display().to_string()),
            ledger_id: Some(id.clone()),
        },
    )?;
    if let Some(m) = &memory {
        remember_restore(m.as_ref(), &contents, &id, &last_hash, &path_abs)?;
    }
    for m in &contents.members {
        put_member(m)?;
    }
    // Read back through the same checks as a start.
    let reopened = Ledger::open_with(data_dir, settings, memory)?;
    if reopened.state().brokered_total() != contents.header.brokered_total_pence {
        return Err(Error::Corrupt {
            key: dir.display().to_string(),
            message: "the restored ledger's totals differ from the backup's".into(),
        });
    }
    Ok(RestoreReport {
        file: path_abs.display().to_string(),
        events: contents.header.events,
        members: contents.members.len() as u64,
        keys: contents.keys.len() as u64,
        brokered_total_pence: contents.header.brokered_total_pence,
        replaced_kept_at: kept,
    })
}

/// The new ledger database: the events, its identity, and keys of old
/// backups that are not events yet (migrated when it is reopened).
fn write_restored(dir: &Path, contents: &Contents, id: &str) -> Result<()> {
    let s = SledLedgerStore::open(dir)?;
    s.append_all(&contents.records)?;
    let mut state = State::default();
    for r in &contents.records {
        state.apply(r.clone());
    }
    for k in contents
        .keys
        .iter()
        .filter(|k| !state.keys.contains_key(&k.id))
    {
        s.put_key(k)?;
    }
    s.set_ledger_id(id)
}

/// The store's mark after a restore: the restored ledger, and the one it
/// replaced when it was another.
fn remember_restore(
    memory: &dyn NoticeStore,
    contents: &Contents,
    id: &str,
    last_hash: &str,
    file: &Path,
) -> Result<()> {
    let old = identity::read_mark(memory).ok().flatten();
    let now = OffsetDateTime::now_utc();
    let mut replaced = old.as_ref().map(|m| m.replaced.clone()).unwrap_or_default();
    if let Some(o) = &old {
        replaced.push(identity::Replacement {
            previous_ledger_id: o.ledger_id.clone(),
            previous_seq: o.seq,
            previous_hash: o.hash.clone(),
            how: format!("restore {}", file.display()),
            at: now,
        });
    }
    identity::write_mark(
        memory,
        &identity::Mark {
            ledger_id: id.to_owned(),
            seq: contents.header.events,
            hash: last_hash.to_owned(),
            brokered_total_pence: contents.header.brokered_total_pence,
            updated_at: now,
            last_backup: Some(file.display().to_string()),
            replaced,
        },
        true,
    )
}

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub events: u64,
    pub brokered_total_pence: Option<i64>,
    pub head: Option<Head>,
    pub problem: Option<String>,
}

/// Checks the ledger of a data folder (chain, checksums, head, the notice
/// store's memory of it, totals) without refusing: says what is wrong
/// instead. Values above `max_value_pence` fail it too (implausible).
pub fn verify(
    data_dir: &Path,
    settings: LedgerSettings,
    memory: Option<Arc<dyn NoticeStore>>,
) -> Result<VerifyReport> {
    let head = store::read_head(&store::head_path(data_dir)).ok().flatten();
    Ok(match Ledger::open_with(data_dir, settings, memory) {
        Ok(l) => {
            let s = l.state();
            let problem = s.implausible(settings.max_value_pence);
            VerifyReport {
                ok: problem.is_none(),
                events: s.last_seq(),
                brokered_total_pence: Some(s.brokered_total()),
                head: store::read_head(&store::head_path(data_dir)).ok().flatten(),
                problem,
            }
        }
        Err(Error::Refused(m)) => VerifyReport {
            ok: false,
            events: 0,
            brokered_total_pence: None,
            head,
            problem: Some(m),
        },
        Err(e) => return Err(e),
    })
}
