//! sebroker-ledger: the brokerage ledger and the API keys with their roles.
//!
//! The ledger: cases (a notice ↔ a member or consortium) moving
//! identified → introduced → interested → bid_submitted → won | lost |
//! withdrawn, referrals, member returns and cluster history, all as
//! append-only, hash-chained events; brokered value, totals and KPIs folded
//! from them. See docs/ledger.md.
//!
//! Durability: each append is flushed to sled before it is acknowledged,
//! then the head (sequence, running total, hash) is written atomically to
//! `data/ledger.head`. [`Ledger::open`] checks sled against the head and
//! refuses to open a ledger that is behind or broken.

pub mod auth;
pub mod backup;
mod error;
pub mod identity;
pub mod input;
mod keys;
pub mod model;
mod open;
pub mod seal;
pub mod state;
pub mod store;
pub mod totals;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use time::{Date, OffsetDateTime};

use model::{Event, Record, GENESIS};
use sebroker_store::NoticeStore;
use state::State;
use store::{Head, LedgerStore, MemoryLedgerStore, Stored};

pub use error::{Error, Result};
pub use keys::spawn_upkeep;

/// What the funder's targets are measured against, and the bound on money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerSettings {
    /// Brokered value target over the programme (pence).
    pub target_pence: i64,
    /// The first day of programme year 1.
    pub programme_start: Date,
    /// The most one `won` value or one return's turnover may be (pence);
    /// `[ledger] max_value_pence`.
    pub max_value_pence: i64,
}

impl Default for LedgerSettings {
    fn default() -> Self {
        LedgerSettings {
            target_pence: 100_000_000,
            programme_start: time::macros::date!(2025 - 04 - 01),
            max_value_pence: model::DEFAULT_MAX_VALUE_PENCE,
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

/// What the writer (one at a time) knows beyond the records.
#[derive(Debug, Default)]
struct Writer {
    last_backup: Option<String>,
    /// Set when a write could not be confirmed either way: every later
    /// write is refused until a restart reloads the ledger from disk.
    broken: Option<String>,
    /// The head file is behind the stored events (its write failed).
    head_stale: bool,
    /// Ledgers this one replaced (kept in the store's mark).
    replaced: Vec<identity::Replacement>,
}

pub struct Ledger {
    store: Box<dyn LedgerStore>,
    head_path: Option<PathBuf>,
    /// The notice store, which remembers this ledger (see [`identity`]).
    memory: Option<Arc<dyn NoticeStore>>,
    id: String,
    state: RwLock<State>,
    keys: RwLock<HashMap<String, keys::KeyEntry>>,
    write: Mutex<Writer>,
    /// The subjects' keys that seal personal data (`seal`).
    keyring: seal::Keyring,
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

fn unavailable(code: &'static str, message: String) -> Error {
    Error::Unavailable { code, message }
}

impl Ledger {
    /// A ledger in memory (unit tests).
    pub fn in_memory(settings: LedgerSettings) -> Ledger {
        Ledger {
            store: Box::new(MemoryLedgerStore::default()),
            head_path: None,
            memory: None,
            id: "memory".into(),
            state: RwLock::new(State::default()),
            keys: RwLock::new(HashMap::new()),
            write: Mutex::new(Writer::default()),
            keyring: seal::Keyring::memory(),
            settings,
        }
    }

    #[cfg(test)]
    fn fail_next_flushes(&self, n: u32) {
        self.store.fail_next_flushes(n);
    }

    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// This ledger's identity (recorded in its database, its head file and
    /// the notice store).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.write.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn head_now(&self, last_backup: Option<String>) -> Head {
        let state = self.state();
        Head {
            seq: state.last_seq(),
            brokered_total_pence: state.brokered_total(),
            hash: state.last_hash().to_owned(),
            written_at: OffsetDateTime::now_utc(),
            last_backup,
            ledger_id: Some(self.id.clone()),
        }
    }

    fn write_head_with(&self, last_backup: Option<String>) -> Result<()> {
        let Some(path) = &self.head_path else {
            return Ok(());
        };
        store::write_head(path, &self.head_now(last_backup))
    }

    /// Records the current head in the notice store too; `durable` flushes
    /// it (else sled persists it shortly: the mark is a lower bound).
    fn write_mark(&self, w: &Writer, durable: bool) -> Result<()> {
        let Some(memory) = &self.memory else {
            return Ok(());
        };
        let h = self.head_now(w.last_backup.clone());
        let mark = identity::Mark {
            ledger_id: self.id.clone(),
            seq: h.seq,
            hash: h.hash,
            brokered_total_pence: h.brokered_total_pence,
            updated_at: h.written_at,
            last_backup: h.last_backup,
            replaced: w.replaced.clone(),
        };
        identity::write_mark(memory.as_ref(), &mark, durable)
    }

    /// Records where the last verified backup is (kept in the head file and
    /// the store's mark).
    pub fn set_last_backup(&self, path: &Path) -> Result<()> {
        let mut w = self.writer();
        w.last_backup = Some(path.display().to_string());
        self.write_head_with(w.last_backup.clone())?;
        w.head_stale = false;
        self.write_mark(&w, true)
    }

    /// Makes the store's mark and the keys' last uses durable (shutdown,
    /// and now and then from [`spawn_upkeep`]); not on the request path.
    pub fn persist(&self) -> Result<()> {
        self.persist_key_uses()?;
        let w = self.writer();
        self.write_mark(&w, true)
    }

    /// Appends an event: checked against the current state, chained,
    /// flushed, and the head rewritten, before it returns. A request whose
    /// idempotency key was seen returns the first record (`replayed`); the
    /// same key with a different request is refused. A failed write says
    /// whether the event was stored ([`Error::Unavailable`]).
    pub fn append(&self, new: NewEvent) -> Result<Appended> {
        let key = new.idempotency_key.trim().to_owned();
        if key.is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "idempotency key: 1 to 200 printable characters (send the Idempotency-Key header)"
                    .into(),
            ));
        }
        let mut w = self.writer();
        if let Some(why) = &w.broken {
            return Err(unavailable("ledger_unavailable", why.clone()));
        }
        if w.head_stale {
            self.write_head_with(w.last_backup.clone()).map_err(|e| {
                unavailable(
                    "ledger_unavailable",
                    format!("the ledger head file cannot be written ({e}); nothing was booked"),
                )
            })?;
            w.head_stale = false;
        }
        let (record, personal) = match self.prepare(&key, new)? {
            Prepared::Replay(old) => {
                return Ok(Appended {
                    record: *old,
                    replayed: true,
                })
            }
            Prepared::New(r) => *r,
        };
        if let Err(f) = self.store.append(&record) {
            return Err(self.failed(&mut w, &record, f));
        }
        let opened = seal::with_personal(&record, &personal);
        {
            let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
            st.apply(record.clone());
            st.open_personal(record.seq, personal);
        }
        self.key_event_applied(&opened);
        if let Err(e) = self.write_head_with(w.last_backup.clone()) {
            w.head_stale = true;
            tracing::error!(seq = record.seq, error = %e, "event stored but the head file was not written");
            return Err(unavailable(
                "ledger_head_failed",
                format!(
                    "event {} was stored, but the head file could not be written ({e}); \
                     retrying with the same Idempotency-Key returns the stored event",
                    record.seq
                ),
            ));
        }
        if let Err(e) = self.write_mark(&w, false) {
            tracing::warn!(error = %e, "could not record the ledger head in the notice store");
        }
        tracing::debug!(seq = record.seq, kind = record.event.kind(), actor = %record.actor, "ledger event recorded");
        Ok(Appended {
            record: opened,
            replayed: false,
        })
    }

    /// The record to append, or the earlier one this request repeats.
    fn prepare(&self, key: &str, new: NewEvent) -> Result<Prepared> {
        let state = self.state();
        if let Some(seq) = state.by_key.get(key) {
            let old = state
                .record(*seq)
                .ok_or_else(|| Error::NotFound(format!("event {seq}")))?;
            let old = state.opened(old);
            if same_request(&old, &new) {
                return Ok(Prepared::Replay(Box::new(old)));
            }
            return Err(Error::Conflict {
                code: "idempotency_key_reused",
                message: format!(
                    "idempotency key {key:?} was used for another request (event {seq}); use a new key for a new request"
                ),
            });
        }
        state.check(&new.event, self.settings.max_value_pence)?;
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
            sealed: None,
            prev_hash: state.last_hash().to_owned(),
            hash: String::new(),
        };
        let personal = self.seal_into(&state, &mut r)?;
        r.hash = r.compute_hash();
        Ok(Prepared::New(Box::new((r, personal))))
    }

    /// The error for a failed store append: certainly not stored (the
    /// ledger goes on), or unknown (writes refused until a restart).
    fn failed(&self, w: &mut Writer, record: &Record, f: store::AppendFailure) -> Error {
        tracing::error!(seq = record.seq, stored = ?f.stored, cause = %f.cause, "ledger append failed");
        match f.stored {
            Stored::No => unavailable(
                "ledger_write_failed",
                format!(
                    "the event was not stored ({}); nothing was booked: retry with the same Idempotency-Key",
                    f.cause
                ),
            ),
            Stored::Unknown => {
                let why = format!(
                    "a write to the ledger could not be confirmed ({}): event {} may or may not be stored. \
                     The ledger refuses writes until sebroker is restarted (it then reloads from disk); \
                     retry with the same Idempotency-Key after the restart: it is booked at most once",
                    f.cause, record.seq
                );
                w.broken = Some(why.clone());
                unavailable("ledger_write_uncertain", why)
            }
        }
    }
}

enum Prepared {
    Replay(Box<Record>),
    /// The record as the chain stores it, and its personal data opened.
    New(Box<(Record, seal::Personal)>),
}

impl Ledger {
    /// Moves the personal data of `r` into its sealed part (nothing sealed
    /// when it has none); returns it opened.
    fn seal_into(&self, state: &State, r: &mut Record) -> Result<seal::Personal> {
        let personal = seal::take_personal(r);
        if !personal.is_empty() {
            let subject = state.subject_of(r);
            r.sealed = Some(self.keyring.seal(&subject, &personal)?);
        }
        Ok(personal)
    }

    /// Erases the personal data the ledger holds about `member`: the keys
    /// of its subjects (itself and its cases) are deleted, durably, and
    /// reads show `[erased]`. The chain, the totals and the KPIs do not
    /// change. Returns (subjects whose key was deleted, records erased).
    pub fn erase_member(&self, member: &str) -> Result<(usize, usize)> {
        let _w = self.writer();
        let subjects = self.state().subjects_of_member(member);
        let deleted = self.keyring.erase(&subjects)?;
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        let seqs: Vec<u64> = st
            .records
            .iter()
            .filter(|r| {
                r.sealed
                    .as_ref()
                    .is_some_and(|s| subjects.contains(&s.subject))
            })
            .map(|r| r.seq)
            .collect();
        for seq in &seqs {
            st.open_personal(*seq, seal::Personal::erased());
        }
        let keys = st.keys.clone();
        drop(st);
        self.rename_keys(&keys);
        tracing::info!(
            member,
            subjects = deleted,
            records = seqs.len(),
            "personal data erased from the ledger"
        );
        Ok((deleted, seqs.len()))
    }

    /// Every subject key (for backups: a deleted key is not in them).
    pub fn seal_keys(&self) -> Vec<(String, String)> {
        self.keyring.entries()
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
