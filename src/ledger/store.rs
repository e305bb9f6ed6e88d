//! Where the ledger lives: an append-only sled tree of records (its own
//! database in `data/ledger/`, apart from the large notice store), API keys
//! beside it, and the head file `data/ledger.head` written atomically
//! outside sled, so that sled losing recent writes is noticed at start.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::model::Record;
use crate::auth::ApiKey;
use crate::error::{Error, Result};

/// The ledger's storage. Appends are durable when `append` returns.
pub trait LedgerStore: Send + Sync {
    /// Appends a record and flushes it to disk.
    fn append(&self, record: &Record) -> Result<()>;
    /// Appends many records (a restore), durable when it returns.
    fn append_all(&self, records: &[Record]) -> Result<()> {
        records.iter().try_for_each(|r| self.append(r))
    }
    /// Every record, in sequence order (decoded, not yet verified).
    fn records(&self) -> Result<Vec<Record>>;
    /// Adds or replaces an API key (by id), durably.
    fn put_key(&self, key: &ApiKey) -> Result<()>;
    fn keys(&self) -> Result<Vec<ApiKey>>;
}

/// sled's page cache for the ledger (small: the ledger is small).
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

pub struct SledLedgerStore {
    db: sled::Db,
    events: sled::Tree,
    keys: sled::Tree,
}

impl SledLedgerStore {
    /// Opens the ledger database; a panic inside sled (a damaged file)
    /// becomes an error naming the folder.
    pub fn open(dir: &Path) -> Result<SledLedgerStore> {
        let open = || -> Result<SledLedgerStore> {
            let db = sled::Config::new()
                .path(dir)
                .cache_capacity(CACHE_BYTES)
                .open()?;
            Ok(SledLedgerStore {
                events: db.open_tree("events")?,
                keys: db.open_tree("keys")?,
                db,
            })
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(open)) {
            Ok(r) => r,
            Err(_) => Err(Error::Corrupt {
                key: dir.display().to_string(),
                message: "sled panicked while opening the ledger database".into(),
            }),
        }
    }
}

impl LedgerStore for SledLedgerStore {
    fn append(&self, record: &Record) -> Result<()> {
        let bytes = serde_json::to_vec(record).map_err(|e| Error::Invalid(e.to_string()))?;
        let key = record.seq.to_be_bytes();
        if self.events.insert(key, bytes)?.is_some() {
            return Err(Error::Corrupt {
                key: format!("ledger/events/{}", record.seq),
                message: "a record with this sequence number already exists".into(),
            });
        }
        self.db.flush()?;
        Ok(())
    }

    fn append_all(&self, records: &[Record]) -> Result<()> {
        for r in records {
            let bytes = serde_json::to_vec(r).map_err(|e| Error::Invalid(e.to_string()))?;
            self.events.insert(r.seq.to_be_bytes(), bytes)?;
        }
        self.db.flush()?;
        Ok(())
    }

    fn records(&self) -> Result<Vec<Record>> {
        let read = || -> Result<Vec<Record>> {
            let mut out = Vec::new();
            for kv in self.events.iter() {
                let (k, v) = kv?;
                let seq = <[u8; 8]>::try_from(k.as_ref()).map_or(0, u64::from_be_bytes);
                let r: Record = serde_json::from_slice(&v).map_err(|e| Error::Corrupt {
                    key: format!("ledger/events/{seq}"),
                    message: e.to_string(),
                })?;
                out.push(r);
            }
            Ok(out)
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
            Ok(r) => r,
            Err(_) => Err(Error::Corrupt {
                key: "ledger/events".into(),
                message: "sled panicked while reading the ledger".into(),
            }),
        }
    }

    fn put_key(&self, key: &ApiKey) -> Result<()> {
        let bytes = serde_json::to_vec(key).map_err(|e| Error::Invalid(e.to_string()))?;
        self.keys.insert(key.id.as_bytes(), bytes)?;
        self.db.flush()?;
        Ok(())
    }

    fn keys(&self) -> Result<Vec<ApiKey>> {
        self.keys
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                serde_json::from_slice(&v).map_err(|e| Error::Corrupt {
                    key: format!("ledger/keys/{}", String::from_utf8_lossy(&k)),
                    message: e.to_string(),
                })
            })
            .collect()
    }
}

/// An in-memory store for unit tests.
#[derive(Default)]
pub struct MemoryLedgerStore {
    records: Mutex<Vec<Record>>,
    keys: Mutex<Vec<ApiKey>>,
}

impl LedgerStore for MemoryLedgerStore {
    fn append(&self, record: &Record) -> Result<()> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        Ok(())
    }

    fn records(&self) -> Result<Vec<Record>> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }

    fn put_key(&self, key: &ApiKey) -> Result<()> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.retain(|k| k.id != key.id);
        keys.push(key.clone());
        Ok(())
    }

    fn keys(&self) -> Result<Vec<ApiKey>> {
        Ok(self.keys.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// The head: what the ledger held after the last acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    pub seq: u64,
    /// Brokered value counted so far (pence).
    pub brokered_total_pence: i64,
    pub hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub written_at: OffsetDateTime,
    /// The last backup verified by `sebroker backup`.
    #[serde(default)]
    pub last_backup: Option<String>,
}

pub fn head_path(data_dir: &Path) -> PathBuf {
    data_dir.join("ledger.head")
}

pub fn read_head(path: &Path) -> Result<Option<Head>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::Refused(format!(
                "the ledger head file {} is damaged ({e}); restore the last good backup with `sebroker restore FILE`",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes a file atomically: a temporary file beside it, fsync, rename,
/// fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

pub fn write_head(path: &Path, head: &Head) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(head).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomic(path, &bytes)
}
