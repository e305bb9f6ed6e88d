//! The audit log: every write through the API, the pages or the command
//! line — accepted or refused, with its status — as one append-only entry:
//! who (a key id and role, `cli:<user>`, or `anonymous`), what (the route
//! template or the command), when (RFC 3339 with offset), from where (the
//! peer address, or `cli`), the status and the idempotency key. No bodies
//! (they hold personal data) and no key names (they may be people's: the
//! key id is recorded instead). A sled tree `audit` in the notice store's
//! database, keyed by a monotonic id (u64 BE); there is no update or delete.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// One audited write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, 3... in the order written.
    pub id: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `key:<id>`, `admin-token`, `cli:<user>` or `anonymous`.
    pub actor: String,
    /// The key's role, when known.
    pub role: Option<String>,
    /// The route template (`POST /api/v1/cases/{id}/events`) or the
    /// command (`cli cases open`).
    pub kind: String,
    /// The peer address, or `cli`.
    pub from: String,
    /// The HTTP status; for the command line its exit code.
    pub status: u16,
    pub idempotency_key: Option<String>,
}

/// An entry to append (the log gives it its id).
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub at: OffsetDateTime,
    pub actor: String,
    pub role: Option<String>,
    pub kind: String,
    pub from: String,
    pub status: u16,
    pub idempotency_key: Option<String>,
}

/// Which entries a read wants.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<OffsetDateTime>,
    /// The actor, exactly.
    pub actor: Option<String>,
    /// A substring of the kind (`cases`, `POST /api/v1/members`).
    pub kind: Option<String>,
}

impl AuditFilter {
    fn wants(&self, e: &AuditEntry) -> bool {
        self.since.is_none_or(|s| e.at >= s)
            && self.actor.as_deref().is_none_or(|a| e.actor == a)
            && self.kind.as_deref().is_none_or(|k| e.kind.contains(k))
    }
}

/// The most entries one read returns (the newest are kept).
pub const MAX_READ: usize = 100_000;

pub struct AuditLog {
    tree: sled::Tree,
    /// The last id given; appends take it under this lock.
    last: Mutex<u64>,
}

fn corrupt(key: &[u8], e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!(
        "store/audit/{}: {e}",
        <[u8; 8]>::try_from(key).map_or(0, u64::from_be_bytes)
    ))
}

impl AuditLog {
    /// Opens the `audit` tree of the store's database.
    pub fn open(db: &sled::Db) -> Result<AuditLog> {
        let tree = db.open_tree("audit").map_err(sebroker_store::Error::from)?;
        let last = match tree.last().map_err(sebroker_store::Error::from)? {
            Some((k, _)) => <[u8; 8]>::try_from(k.as_ref()).map_or(0, u64::from_be_bytes),
            None => 0,
        };
        Ok(AuditLog {
            tree,
            last: Mutex::new(last),
        })
    }

    /// Appends an entry and flushes it (an audit that may be lost is none).
    pub fn record(&self, e: NewAudit) -> Result<AuditEntry> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let id = *last + 1;
        let entry = AuditEntry {
            id,
            at: e.at,
            actor: e.actor,
            role: e.role,
            kind: e.kind,
            from: e.from,
            status: e.status,
            idempotency_key: e.idempotency_key,
        };
        let bytes = serde_json::to_vec(&entry).map_err(|x| Error::Invalid(x.to_string()))?;
        let put = self
            .tree
            .compare_and_swap(id.to_be_bytes(), None::<&[u8]>, Some(bytes))
            .map_err(sebroker_store::Error::from)?;
        if put.is_err() {
            return Err(Error::Invalid(format!(
                "store/audit/{id} is taken: the audit log is append-only"
            )));
        }
        self.tree.flush().map_err(sebroker_store::Error::from)?;
        *last = id;
        Ok(entry)
    }

    /// The entries `f` wants, oldest first (the newest [`MAX_READ`]).
    pub fn list(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        for kv in self.tree.iter().rev() {
            let (k, v) = kv.map_err(sebroker_store::Error::from)?;
            let e: AuditEntry = serde_json::from_slice(&v).map_err(|x| corrupt(&k, x))?;
            if f.wants(&e) {
                out.push(e);
                if out.len() == MAX_READ {
                    break;
                }
            }
        }
        out.reverse();
        Ok(out)
    }
}

/// The user running the command line (`cli:<user>`).
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Records a command-line write after it ran, when this process may open
/// the data folder (it holds nothing open by then). `Ok(false)` when
/// another process (a running `serve`) holds the folder: the command went
/// through that server, which audited it.
pub fn record_cli(data_dir: &std::path::Path, kind: &str, exit_code: u8) -> Result<bool> {
    let Ok(_lock) = sebroker_store::DirLock::acquire(data_dir) else {
        return Ok(false);
    };
    let store = open_store(&data_dir.join("store"))?;
    let log = AuditLog::open(store.db())?;
    log.record(NewAudit {
        at: OffsetDateTime::now_utc(),
        actor: cli_actor(),
        role: None,
        kind: format!("cli {kind}"),
        from: "cli".into(),
        status: u16::from(exit_code),
        idempotency_key: None,
    })?;
    Ok(true)
}

/// Opens the store, waiting (boundedly) for sled to let go of the file
/// lock of a database this process just closed.
fn open_store(dir: &std::path::Path) -> Result<sebroker_store::SledStore> {
    let mut last = None;
    for _ in 0..100 {
        match sebroker_store::SledStore::open(dir) {
            Ok(s) => return Ok(s),
            Err(e) if e.to_string().contains("lock") => {
                last = Some(e);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.map_or_else(
        || Error::Invalid("the store stays locked".into()),
        Into::into,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_append_with_monotonic_ids_and_filter() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = sled::Config::new().path(dir.path()).open().expect("sled");
        let log = AuditLog::open(&db).expect("open");
        let t0 = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        for (i, (actor, kind)) in [
            ("key:a", "POST /api/v1/cases"),
            ("key:b", "PATCH /api/v1/members/{id}"),
            ("key:a", "cli keys create"),
        ]
        .into_iter()
        .enumerate()
        {
            let e = log
                .record(NewAudit {
                    at: t0 + time::Duration::hours(i as i64),
                    actor: actor.into(),
                    role: None,
                    kind: kind.into(),
                    from: "127.0.0.1".into(),
                    status: 201,
                    idempotency_key: None,
                })
                .expect("record");
            assert_eq!(e.id, i as u64 + 1);
        }
        drop(log);
        let log = AuditLog::open(&db).expect("reopen");
        let all = log.list(&AuditFilter::default()).expect("list");
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), vec![1, 2, 3]);
        let a = log
            .list(&AuditFilter {
                actor: Some("key:a".into()),
                ..AuditFilter::default()
            })
            .expect("a");
        assert_eq!(a.len(), 2);
        let since = log
            .list(&AuditFilter {
                since: Some(t0 + time::Duration::hours(1)),
                ..AuditFilter::default()
            })
            .expect("since");
        assert_eq!(since.iter().map(|e| e.id).collect::<Vec<_>>(), vec![2, 3]);
        let kind = log
            .list(&AuditFilter {
                kind: Some("members".into()),
                ..AuditFilter::default()
            })
            .expect("kind");
        assert_eq!(kind.len(), 1);
        let next = log
            .record(NewAudit {
                at: t0,
                actor: "x".into(),
                role: None,
                kind: "k".into(),
                from: "cli".into(),
                status: 0,
                idempotency_key: None,
            })
            .expect("next");
        assert_eq!(next.id, 4, "ids keep rising after a reopen");
    }
}
