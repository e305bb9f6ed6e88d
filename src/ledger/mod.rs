//! The brokerage ledger: cases (a notice ↔ a member or consortium) moving
//! identified → introduced → interested → bid_submitted → won | lost |
//! withdrawn, referrals, member returns and cluster history, all as
//! append-only, hash-chained events; brokered value, totals and KPIs folded
//! from them. See docs/ledger.md.
//!
//! Durability: each append is flushed to sled before it is acknowledged,
//! then the head (sequence, running total, hash) is written atomically to
//! `data/ledger.head`. [`Ledger::open`] checks sled against the head and
//! refuses to open a ledger that is behind or broken.

pub mod backup;
pub mod input;
pub mod model;
pub mod state;
pub mod store;
pub mod totals;
mod views;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use time::{Date, OffsetDateTime};

use crate::auth::{self, ApiKey, Role};
use crate::error::{Error, Result};
use model::{Event, Record, GENESIS};
use state::State;
use store::{Head, LedgerStore, MemoryLedgerStore, SledLedgerStore};

/// What the funder's targets are measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerSettings {
    /// Brokered value target over the programme (pence).
    pub target_pence: i64,
    /// The first day of programme year 1.
    pub programme_start: Date,
}

impl Default for LedgerSettings {
    fn default() -> Self {
        LedgerSettings {
            target_pence: 100_000_000,
            programme_start: time::macros::date!(2025 - 04 - 01),
        }
    }
}

/// An event to append, as a caller sends it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The business date; today (UTC) when absent.
    pub date: Option<Date>,
    pub actor: String,
    pub idempotency_key: String,
    pub notes: Option<String>,
    /// For `case_opened`, `case_id` is assigned on append (`case-<seq>`).
    pub event: Event,
}

/// The outcome of an append: the record, and whether it was a retry of an
/// earlier request (nothing booked twice).
#[derive(Debug, Clone)]
pub struct Appended {
    pub record: Record,
    pub replayed: bool,
}

pub struct Ledger {
    store: Box<dyn LedgerStore>,
    head_path: Option<PathBuf>,
    state: RwLock<State>,
    keys: RwLock<HashMap<String, ApiKey>>,
    write: Mutex<Option<String>>,
    pub settings: LedgerSettings,
}

/// The sled folder of the ledger inside a data folder.
pub fn ledger_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("ledger")
}

/// Where `sebroker backup` writes by default.
pub fn backups_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("backups")
}

/// Checks a run of records: sequence without gaps, each hash right, each
/// linked to the previous one. Returns the index of the first bad record.
pub fn verify_chain(records: &[Record]) -> std::result::Result<(), (u64, String)> {
    let mut prev = GENESIS.to_owned();
    for (i, r) in records.iter().enumerate() {
        let want = i as u64 + 1;
        if r.seq != want {
            return Err((
                want,
                format!("expected event {want}, found event {}", r.seq),
            ));
        }
        if r.prev_hash != prev {
            return Err((
                want,
                format!("event {want} does not link to event {}", want - 1),
            ));
        }
        if r.compute_hash() != r.hash {
            return Err((want, format!("event {want} fails its checksum")));
        }
        prev = r.hash.clone();
    }
    Ok(())
}

/// The newest backup file in the data folder's `backups/`, if any.
fn newest_backup(data_dir: &Path) -> Option<PathBuf> {
    let mut v: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(backups_dir(data_dir))
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    v.sort();
    v.pop().map(|(_, p)| p)
}

fn refusal(data_dir: &Path, head: Option<&Head>, what: &str) -> Error {
    let backup = head
        .and_then(|h| h.last_backup.clone())
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

impl Ledger {
    /// Opens the ledger of a data folder (`ledger/` and `ledger.head`),
    /// checking sled against the head. The caller holds the folder's lock.
    pub fn open(data_dir: &Path, settings: LedgerSettings) -> Result<Ledger> {
        let head_path = store::head_path(data_dir);
        let head = store::read_head(&head_path)?;
        let store = SledLedgerStore::open(&ledger_dir(data_dir)).map_err(|e| {
            refusal(
                data_dir,
                head.as_ref(),
                &format!("sled cannot open it ({e})"),
            )
        })?;
        let records = store.records().map_err(|e| {
            refusal(
                data_dir,
                head.as_ref(),
                &format!("sled cannot read it ({e})"),
            )
        })?;
        if let Err((seq, why)) = verify_chain(&records) {
            return Err(refusal(
                data_dir,
                head.as_ref(),
                &format!("the hash chain breaks at event {seq} ({why})"),
            ));
        }
        let n = records.len() as u64;
        let mut state = State::default();
        for r in records {
            state.apply(r);
        }
        let last_backup = head.as_ref().and_then(|h| h.last_backup.clone());
        match &head {
            None if n == 0 => {}
            None => {
                return Err(refusal(
                    data_dir,
                    None,
                    &format!(
                        "it holds {n} events but its head file {} is missing",
                        head_path.display()
                    ),
                ))
            }
            Some(h) => {
                if n < h.seq {
                    return Err(refusal(
                        data_dir,
                        head.as_ref(),
                        &format!(
                            "sled holds {n} events but the head file records {} (sled lost recent writes)",
                            h.seq
                        ),
                    ));
                }
                let at_head = if h.seq == 0 {
                    GENESIS
                } else {
                    state.record(h.seq).map_or("", |r| r.hash.as_str())
                };
                if at_head != h.hash {
                    return Err(refusal(
                        data_dir,
                        head.as_ref(),
                        &format!(
                            "event {} in sled differs from the one the head file records",
                            h.seq
                        ),
                    ));
                }
                if n == h.seq && state.brokered_total() != h.brokered_total_pence {
                    return Err(refusal(
                        data_dir,
                        head.as_ref(),
                        &format!(
                            "the events sum to {} pence brokered but the head records {}",
                            state.brokered_total(),
                            h.brokered_total_pence
                        ),
                    ));
                }
                if n > h.seq {
                    tracing::warn!(
                        head = h.seq,
                        events = n,
                        "the ledger is ahead of its head file (a crash between flush and head write); the chain checks out, updating the head"
                    );
                }
            }
        }
        let keys = store.keys()?;
        let ledger = Ledger {
            store: Box::new(store),
            head_path: Some(head_path),
            state: RwLock::new(state),
            keys: RwLock::new(keys.into_iter().map(|k| (k.id.clone(), k)).collect()),
            write: Mutex::new(last_backup),
            settings,
        };
        if head.as_ref().is_none_or(|h| h.seq != n) {
            ledger.write_head()?;
        }
        Ok(ledger)
    }

    /// A ledger in memory (unit tests).
    pub fn in_memory(settings: LedgerSettings) -> Ledger {
        Ledger {
            store: Box::new(MemoryLedgerStore::default()),
            head_path: None,
            state: RwLock::new(State::default()),
            keys: RwLock::new(HashMap::new()),
            write: Mutex::new(None),
            settings,
        }
    }

    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_head(&self) -> Result<()> {
        let Some(path) = &self.head_path else {
            return Ok(());
        };
        let last_backup = self
            .write
            .try_lock()
            .ok()
            .and_then(|g| g.clone())
            .or_else(|| {
                store::read_head(path)
                    .ok()
                    .flatten()
                    .and_then(|h| h.last_backup)
            });
        self.write_head_with(path, last_backup)
    }

    fn write_head_with(&self, path: &Path, last_backup: Option<String>) -> Result<()> {
        let state = self.state();
        store::write_head(
            path,
            &Head {
                seq: state.last_seq(),
                brokered_total_pence: state.brokered_total(),
                hash: state.last_hash().to_owned(),
                written_at: OffsetDateTime::now_utc(),
                last_backup,
            },
        )
    }

    /// Records where the last verified backup is (kept in the head file).
    pub fn set_last_backup(&self, path: &Path) -> Result<()> {
        let mut g = self.write.lock().unwrap_or_else(|e| e.into_inner());
        *g = Some(path.display().to_string());
        if let Some(hp) = &self.head_path {
            self.write_head_with(hp, g.clone())?;
        }
        Ok(())
    }

    /// Appends an event: checked against the current state, chained,
    /// flushed, and the head rewritten, before it returns. A request whose
    /// idempotency key was seen returns the first record (`replayed`); the
    /// same key with a different request is refused.
    pub fn append(&self, new: NewEvent) -> Result<Appended> {
        let key = new.idempotency_key.trim();
        if key.is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "idempotency key: 1 to 200 printable characters (send the Idempotency-Key header)"
                    .into(),
            ));
        }
        let last_backup = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let record = {
            let state = self.state();
            if let Some(seq) = state.by_key.get(key) {
                let old = state
                    .record(*seq)
                    .ok_or_else(|| Error::NotFound(format!("event {seq}")))?;
                if same_request(old, &new) {
                    return Ok(Appended {
                        record: old.clone(),
                        replayed: true,
                    });
                }
                return Err(Error::Conflict {
                    code: "idempotency_key_reused",
                    message: format!(
                        "idempotency key {key:?} was used for another request (event {seq}); use a new key for a new request"
                    ),
                });
            }
            state.check(&new.event)?;
            let seq = state.last_seq() + 1;
            let mut event = new.event;
            if let Event::CaseOpened { case_id, .. } = &mut event {
                *case_id = format!("case-{seq}");
            }
            let now = OffsetDateTime::now_utc();
            let mut r = Record {
                seq,
                recorded_at: now,
                date: new.date.unwrap_or(now.date()),
                actor: new.actor,
                idempotency_key: key.to_owned(),
                notes: new
                    .notes
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty()),
                event,
                prev_hash: state.last_hash().to_owned(),
                hash: String::new(),
            };
            r.hash = r.compute_hash();
            r
        };
        self.store.append(&record)?;
        self.state
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .apply(record.clone());
        if let Some(hp) = &self.head_path {
            self.write_head_with(hp, last_backup.clone())?;
        }
        tracing::info!(seq = record.seq, kind = record.event.kind(), actor = %record.actor, "ledger event recorded");
        Ok(Appended {
            record,
            replayed: false,
        })
    }

    // ---- API keys ----

    /// Creates a key; returns the key text (shown once) and its stored form.
    pub fn create_key(
        &self,
        role: Role,
        member_id: Option<String>,
        name: String,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(String, ApiKey)> {
        let (text, stored) = auth::new_key(role, member_id, name, expires_at)?;
        self.store.put_key(&stored)?;
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(stored.id.clone(), stored.clone());
        Ok((text, stored))
    }

    pub fn revoke_key(&self, id: &str) -> Result<ApiKey> {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let k = keys
            .get_mut(id)
            .ok_or_else(|| Error::NotFound(format!("no key with id {id:?}")))?;
        if k.revoked_at.is_none() {
            k.revoked_at = Some(OffsetDateTime::now_utc());
            self.store.put_key(k)?;
        }
        Ok(k.clone())
    }

    pub fn keys(&self) -> Vec<ApiKey> {
        let mut v: Vec<ApiKey> = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        v
    }

    /// The usable key this text is, if any (constant-time hash comparison).
    /// Notes the last use (persisted at most once a minute).
    pub fn authenticate(&self, text: &str) -> Option<ApiKey> {
        let id = auth::key_id(text)?;
        let now = OffsetDateTime::now_utc();
        let hash = auth::hash_secret(text);
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let k = keys.get_mut(id)?;
        if !auth::same_hash(&hash, &k.hash) || !k.usable(now) {
            return None;
        }
        let stale = k
            .last_used_at
            .is_none_or(|t| now - t > time::Duration::minutes(1));
        k.last_used_at = Some(now);
        if stale {
            if let Err(e) = self.store.put_key(k) {
                tracing::warn!(error = %e, "could not record a key's last use");
            }
        }
        Some(k.clone())
    }
}

fn same_request(old: &Record, new: &NewEvent) -> bool {
    let mut event = new.event.clone();
    if let (
        Event::CaseOpened { case_id, .. },
        Event::CaseOpened {
            case_id: old_id, ..
        },
    ) = (&mut event, &old.event)
    {
        case_id.clone_from(old_id);
    }
    let notes = new
        .notes
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    event == old.event && notes == old.notes.as_deref() && new.date.is_none_or(|d| d == old.date)
}

#[cfg(test)]
mod tests;
