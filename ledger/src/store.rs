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

/// Whether a failed append left its record on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Certainly not stored: it was taken back and that was flushed.
    No,
    /// It may or may not be on disk (the flush failed and so did the undo).
    Unknown,
}

/// An append that failed, and what is known about the record.
#[derive(Debug, Clone)]
pub struct AppendFailure {
    pub stored: Stored,
    pub cause: String,
}

/// The ledger's storage. Appends are durable when `append` returns.
pub trait LedgerStore: Send + Sync {
    /// Appends a record and flushes it to disk. On failure the record is
    /// taken back if possible, so the next append can reuse its sequence.
    fn append(&self, record: &Record) -> std::result::Result<(), AppendFailure>;
    /// Appends many records (a restore), durable when it returns.
    fn append_all(&self, records: &[Record]) -> Result<()> {
        records.iter().try_for_each(|r| {
            self.append(r).map_err(|f| Error::Corrupt {
                key: format!("ledger/events/{}", r.seq),
                message: f.cause,
            })
        })
    }
    /// Every record, in sequence order (decoded, not yet verified).
    fn records(&self) -> Result<Vec<Record>>;
    /// Keys as stored before keys were ledger events (read to migrate them;
    /// written only by restoring an old backup).
    fn put_key(&self, key: &ApiKey) -> Result<()>;
    fn keys(&self) -> Result<Vec<ApiKey>>;
    /// The ledger's identity, set once when it is created.
    fn ledger_id(&self) -> Result<Option<String>>;
    fn set_ledger_id(&self, id: &str) -> Result<()>;
    /// When each key was last used (not ledger events: kept lazily).
    fn key_uses(&self) -> Result<Vec<(String, OffsetDateTime)>>;
    fn put_key_uses(&self, uses: &[(String, OffsetDateTime)]) -> Result<()>;
    /// Makes the next `n` flushes fail (unit tests of failed appends).
    #[cfg(test)]
    fn fail_next_flushes(&self, _n: u32) {}
}

/// sled's page cache for the ledger (small: the ledger is small).
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

pub struct SledLedgerStore {
    db: sled::Db,
    events: sled::Tree,
    keys: sled::Tree,
    meta: sled::Tree,
    key_uses: sled::Tree,
    /// Flushes to fail on purpose (unit tests of failed appends).
    #[cfg(test)]
    pub fail_flushes: std::sync::atomic::AtomicU32,
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
                meta: db.open_tree("meta")?,
                key_uses: db.open_tree("key_uses")?,
                db,
                #[cfg(test)]
                fail_flushes: std::sync::atomic::AtomicU32::new(0),
            })
        };
        // sled's background threads let go of the file lock shortly after
        // a database in this process is dropped: wait for it, boundedly.
        for _ in 0..100 {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(open)) {
                Ok(Err(Error::Store(sled::Error::Io(e))))
                    if e.to_string().contains("could not acquire lock") =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Ok(r) => return r,
                Err(_) => {
                    return Err(Error::Corrupt {
                        key: dir.display().to_string(),
                        message: "sled panicked while opening the ledger database".into(),
                    })
                }
            }
        }
        Err(Error::Corrupt {
            key: dir.display().to_string(),
            message: "the ledger database stays locked by another user of this process".into(),
        })
    }

    fn flush(&self) -> std::result::Result<(), String> {
        #[cfg(test)]
        {
            use std::sync::atomic::Ordering;
            let left = self.fail_flushes.load(Ordering::SeqCst);
            if left > 0 {
                self.fail_flushes.store(left - 1, Ordering::SeqCst);
                return Err("injected flush failure".into());
            }
        }
        self.db.flush().map(|_| ()).map_err(|e| e.to_string())
    }
}

/// The record format: 1 before personal data was sealed, 2 since.
pub const FORMAT: u32 = 2;

impl SledLedgerStore {
    /// The stored records' format (1 when never set).
    pub fn format(&self) -> Result<u32> {
        Ok(self
            .meta
            .get("format")?
            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
            .map_or(1, u32::from_be_bytes))
    }

    /// The hashes of the chain before its migration (index `seq - 1`), so
    /// a head or mark written before it is still recognised.
    pub fn old_hashes(&self) -> Result<Vec<String>> {
        match self.meta.get("migration/old_hashes")? {
            Some(v) => serde_json::from_slice(&v).map_err(|e| Error::Corrupt {
                key: "ledger/meta/migration/old_hashes".into(),
                message: e.to_string(),
            }),
            None => Ok(Vec::new()),
        }
    }

    /// Writes this database into the empty `to` with `records` as its
    /// events: keys, key uses and meta copied, then the chain and the
    /// format (last, so a copy with the format set is complete).
    pub fn copy_migrated(
        &self,
        to: &SledLedgerStore,
        records: &[Record],
        old_hashes: &[String],
    ) -> Result<()> {
        for (from, into) in [
            (&self.keys, &to.keys),
            (&self.key_uses, &to.key_uses),
            (&self.meta, &to.meta),
        ] {
            for kv in from.iter() {
                let (k, v) = kv?;
                into.insert(k, v)?;
            }
        }
        to.meta.remove("format")?;
        to.rewrite_chain(records, old_hashes)
    }

    /// Replaces every record with its migrated form (one atomic batch) and
    /// sets the format, after keeping the old hashes (first migration
    /// only). Redoing it after a crash gives the same chain.
    pub fn rewrite_chain(&self, records: &[Record], old_hashes: &[String]) -> Result<()> {
        if self.meta.get("migration/old_hashes")?.is_none() && !old_hashes.is_empty() {
            let v = serde_json::to_vec(old_hashes).map_err(|e| Error::Invalid(e.to_string()))?;
            self.meta.insert("migration/old_hashes", v)?;
        }
        let mut batch = sled::Batch::default();
        for r in records {
            let bytes = serde_json::to_vec(r).map_err(|e| Error::Invalid(e.to_string()))?;
            batch.insert(&r.seq.to_be_bytes(), bytes);
        }
        self.events.apply_batch(batch)?;
        self.meta.insert("format", &FORMAT.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }
}

impl LedgerStore for SledLedgerStore {
    fn append(&self, record: &Record) -> std::result::Result<(), AppendFailure> {
        let not = |cause: String| AppendFailure {
            stored: Stored::No,
            cause,
        };
        let bytes = serde_json::to_vec(record).map_err(|e| not(e.to_string()))?;
        let key = record.seq.to_be_bytes();
        match self
            .events
            .compare_and_swap(key, None::<&[u8]>, Some(bytes))
        {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                // A record we never acknowledged holds this number: the
                // state and the disk disagree, so nothing more can be trusted.
                return Err(AppendFailure {
                    stored: Stored::Unknown,
                    cause: format!(
                        "ledger/events/{} already holds a record the ledger did not know",
                        record.seq
                    ),
                });
            }
            Err(e) => return Err(not(e.to_string())),
        }
        let Err(cause) = self.flush() else {
            return Ok(());
        };
        // Take the record back so that it is neither half-written nor in
        // the way of the next append; only a flushed undo is certain.
        let undone = self.events.remove(key).map_err(|e| e.to_string());
        match undone.and_then(|_| self.flush()) {
            Ok(()) => Err(not(cause)),
            Err(undo) => Err(AppendFailure {
                stored: Stored::Unknown,
                cause: format!("{cause}; taking it back failed too: {undo}"),
            }),
        }
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

    fn ledger_id(&self) -> Result<Option<String>> {
        Ok(self
            .meta
            .get("ledger_id")?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn set_ledger_id(&self, id: &str) -> Result<()> {
        self.meta.insert("ledger_id", id.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    fn key_uses(&self) -> Result<Vec<(String, OffsetDateTime)>> {
        let mut out = Vec::new();
        for kv in self.key_uses.iter() {
            let (k, v) = kv?;
            let secs = <[u8; 8]>::try_from(v.as_ref()).map_or(0, i64::from_be_bytes);
            if let Ok(t) = OffsetDateTime::from_unix_timestamp(secs) {
                out.push((String::from_utf8_lossy(&k).into_owned(), t));
            }
        }
        Ok(out)
    }

    #[cfg(test)]
    fn fail_next_flushes(&self, n: u32) {
        self.fail_flushes
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    fn put_key_uses(&self, uses: &[(String, OffsetDateTime)]) -> Result<()> {
        for (id, t) in uses {
            self.key_uses
                .insert(id.as_bytes(), &t.unix_timestamp().to_be_bytes())?;
        }
        self.db.flush()?;
        Ok(())
    }
}

/// An in-memory store for unit tests.
#[derive(Default)]
pub struct MemoryLedgerStore {
    records: Mutex<Vec<Record>>,
    keys: Mutex<Vec<ApiKey>>,
}

impl LedgerStore for MemoryLedgerStore {
    fn append(&self, record: &Record) -> std::result::Result<(), AppendFailure> {
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

    fn ledger_id(&self) -> Result<Option<String>> {
        Ok(Some("memory".into()))
    }

    fn set_ledger_id(&self, _id: &str) -> Result<()> {
        Ok(())
    }

    fn key_uses(&self) -> Result<Vec<(String, OffsetDateTime)>> {
        Ok(Vec::new())
    }

    fn put_key_uses(&self, _uses: &[(String, OffsetDateTime)]) -> Result<()> {
        Ok(())
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
    /// The identity of the ledger this head belongs to (absent in heads
    /// written before ledgers had one).
    #[serde(default)]
    pub ledger_id: Option<String>,
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
