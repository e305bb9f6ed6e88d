//! Crypto-shredding: the personal data of a record (its notes, the full
//! name of its author, a void's reason, a key's name) is kept out of the
//! hash chain, encrypted (ChaCha20-Poly1305) with a key per subject (a
//! member, a case, a key) that lives in the key file `data/ledger.keys`,
//! outside the chain. The chain hashes only the ciphertext. Deleting a
//! subject's key erases its data everywhere the ledger is copied: reads
//! show [`ERASED`], and later backups carry the key file without it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};

pub use super::model::Sealed;
use super::model::{Event, Record};
use crate::auth::hex;
use crate::error::{Error, Result};

/// What a read shows where erased personal data was.
pub const ERASED: &str = "[erased]";

/// The personal part of a record, sealed as one JSON value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The author as given (`key:ID (NAME)`, `cli:USER`); the record keeps
    /// only its public part (`key:ID`, `cli`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// A void's reason (the event keeps an empty one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A created key's name (the event keeps an empty one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
}

impl Personal {
    pub fn is_empty(&self) -> bool {
        *self == Personal::default()
    }

    /// What reads show once the subject's key is deleted.
    pub fn erased() -> Personal {
        Personal {
            notes: Some(ERASED.into()),
            actor: None,
            reason: Some(ERASED.into()),
            key_name: Some(ERASED.into()),
        }
    }
}

/// The author's public part: the key id without its name, `cli` without
/// the user (names may be people's).
pub fn public_actor(actor: &str) -> String {
    let a = actor.split(" (").next().unwrap_or(actor);
    if a.starts_with("cli:") {
        "cli".into()
    } else {
        a.to_owned()
    }
}

/// Moves the personal data of `r` out of its public fields: what the
/// record keeps is only what may sit in the chain forever.
pub fn take_personal(r: &mut Record) -> Personal {
    let mut p = Personal {
        notes: r.notes.take(),
        ..Personal::default()
    };
    let public = public_actor(&r.actor);
    if public != r.actor {
        p.actor = Some(std::mem::replace(&mut r.actor, public));
    }
    match &mut r.event {
        Event::Voided { reason, .. } if !reason.is_empty() => {
            p.reason = Some(std::mem::take(reason));
        }
        Event::KeyCreated { key } if !key.name.is_empty() => {
            p.key_name = Some(std::mem::take(&mut key.name));
        }
        _ => {}
    }
    p
}

/// Puts opened personal data back into a record's view (a clone: the
/// chain's record is never changed).
pub fn with_personal(r: &Record, p: &Personal) -> Record {
    let mut v = r.clone();
    if p.notes.is_some() {
        v.notes.clone_from(&p.notes);
    }
    if let Some(a) = &p.actor {
        v.actor.clone_from(a);
    }
    match &mut v.event {
        Event::Voided { reason, .. } => {
            if let Some(x) = &p.reason {
                reason.clone_from(x);
            }
        }
        Event::KeyCreated { key } => {
            if let Some(x) = &p.key_name {
                key.name.clone_from(x);
            }
        }
        _ => {}
    }
    v
}

/// The key file: subject → 32-byte key (hex), rewritten atomically.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    keys: BTreeMap<String, String>,
}

/// The subjects' keys, in memory and (for a data folder) in its key file.
pub struct Keyring {
    path: Option<PathBuf>,
    keys: Mutex<BTreeMap<String, [u8; 32]>>,
}

/// Where a data folder keeps its ledger's keys.
pub fn keys_path(data_dir: &Path) -> PathBuf {
    data_dir.join("ledger.keys")
}

fn parse_key(subject: &str, h: &str) -> Result<[u8; 32]> {
    let bad = || Error::Corrupt {
        key: format!("ledger.keys/{subject}"),
        message: "not a 32-byte hex key".into(),
    };
    if h.len() != 64 {
        return Err(bad());
    }
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(h.get(i * 2..i * 2 + 2).ok_or_else(bad)?, 16).map_err(|_| bad())?;
    }
    Ok(k)
}

impl Keyring {
    /// Keys kept in memory only (unit tests, in-memory ledgers).
    pub fn memory() -> Keyring {
        Keyring {
            path: None,
            keys: Mutex::new(BTreeMap::new()),
        }
    }

    /// Opens the key file at `path` (none yet: no keys).
    pub fn open(path: &Path) -> Result<Keyring> {
        let keys = match std::fs::read(path) {
            Ok(bytes) => {
                let f: KeyFile = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                    key: path.display().to_string(),
                    message: format!("the ledger's key file does not parse: {e}"),
                })?;
                let mut m = BTreeMap::new();
                for (s, h) in &f.keys {
                    m.insert(s.clone(), parse_key(s, h)?);
                }
                m
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Ok(Keyring {
            path: Some(path.to_owned()),
            keys: Mutex::new(keys),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, [u8; 32]>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the key file (temporary file, fsync, rename): the previous
    /// file, with any deleted key, is unlinked by the rename.
    fn persist(&self, keys: &BTreeMap<String, [u8; 32]>) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let f = KeyFile {
            version: 1,
            keys: keys.iter().map(|(s, k)| (s.clone(), hex(k))).collect(),
        };
        let bytes = serde_json::to_vec(&f).map_err(|e| Error::Invalid(e.to_string()))?;
        super::store::write_atomic(path, &bytes)
    }

    /// Seals `p` under `subject`'s key (made, and made durable, on first
    /// use, before any record depends on it).
    pub fn seal(&self, subject: &str, p: &Personal) -> Result<Sealed> {
        let mut keys = self.lock();
        let key = match keys.get(subject) {
            Some(k) => *k,
            None => {
                let mut k = [0u8; 32];
                getrandom::getrandom(&mut k).map_err(|e| {
                    Error::Invalid(format!("no OS randomness for a ledger key: {e}"))
                })?;
                keys.insert(subject.to_owned(), k);
                self.persist(&keys)?;
                k
            }
        };
        drop(keys);
        let mut nonce = [0u8; 12];
        getrandom::getrandom(&mut nonce)
            .map_err(|e| Error::Invalid(format!("no OS randomness for a nonce: {e}")))?;
        let plain = serde_json::to_vec(p).map_err(|e| Error::Invalid(e.to_string()))?;
        let data = ChaCha20Poly1305::new(Key::from_slice(&key))
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .map_err(|_| Error::Invalid("sealing personal data failed".into()))?;
        Ok(Sealed {
            subject: subject.to_owned(),
            nonce: hex(&nonce),
            data: hex(&data),
        })
    }

    /// Opens a sealed part: `None` when its subject's key is deleted (or
    /// it does not decrypt: a damaged key file erases, never invents).
    pub fn open_sealed(&self, s: &Sealed) -> Option<Personal> {
        let key = *self.lock().get(&s.subject)?;
        let nonce = unhex(&s.nonce).filter(|n| n.len() == 12)?;
        let data = unhex(&s.data)?;
        let plain = ChaCha20Poly1305::new(Key::from_slice(&key))
            .decrypt(Nonce::from_slice(&nonce), data.as_slice())
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// Deletes the keys of `subjects` and makes that durable; returns how
    /// many there were.
    pub fn erase(&self, subjects: &[String]) -> Result<usize> {
        let mut keys = self.lock();
        let n = subjects
            .iter()
            .filter(|s| keys.remove(*s).is_some())
            .count();
        self.persist(&keys)?;
        Ok(n)
    }

    /// Every subject and its key (hex), for backups.
    pub fn entries(&self) -> Vec<(String, String)> {
        self.lock()
            .iter()
            .map(|(s, k)| (s.clone(), hex(k)))
            .collect()
    }

    /// Replaces every key (a restore) and writes the key file.
    pub fn replace_all(&self, entries: &[(String, String)]) -> Result<()> {
        let mut m = BTreeMap::new();
        for (s, h) in entries {
            m.insert(s.clone(), parse_key(s, h)?);
        }
        let mut keys = self.lock();
        self.persist(&m)?;
        *keys = m;
        Ok(())
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_until_its_key_is_erased() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = keys_path(dir.path());
        let ring = Keyring::open(&path).expect("open");
        let p = Personal {
            notes: Some("call Jane Doe on 07700 900123".into()),
            ..Personal::default()
        };
        let s = ring.seal("member:m-1", &p).expect("seal");
        assert!(!s.data.contains("Jane"));
        assert_eq!(ring.open_sealed(&s), Some(p.clone()));
        // The key file survives a reopen; then erasing the subject shreds it.
        let ring = Keyring::open(&path).expect("reopen");
        assert_eq!(ring.open_sealed(&s), Some(p));
        assert_eq!(ring.erase(&["member:m-1".into()]).expect("erase"), 1);
        assert_eq!(ring.open_sealed(&s), None);
        assert_eq!(Keyring::open(&path).expect("again").open_sealed(&s), None);
    }

    #[test]
    fn the_public_actor_drops_names() {
        assert_eq!(public_actor("key:abc (Jane Doe)"), "key:abc");
        assert_eq!(public_actor("cli:jane"), "cli");
        assert_eq!(public_actor("web:abc"), "web:abc");
        assert_eq!(public_actor("keys"), "keys");
    }
}
