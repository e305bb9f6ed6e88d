//! zstd dictionaries trained on the store's own values, so that small
//! values (a release, a notice: a few KB of JSON each) compress like a
//! large file: alone, each frame relearns the same keys and phrases.
//!
//! A kind of value (`releases`, `notices`) gets its dictionary once the
//! store has written [`TRAIN_AFTER`] of them without one; the samples are
//! those values. Dictionaries are kept in `meta` for ever (`zstd_dict/<id>`,
//! and `zstd_dict_for/<kind>` → the id new values use) and saved before any
//! value compressed with them, so every frame's dictionary is on disk. A
//! frame names its dictionary by id; ids are derived from the dictionary's
//! bytes, so one id means one dictionary in every store of the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use zstd::zstd_safe::{CDict, DDict};

use crate::error::{Error, Result};

/// Values of a kind written without a dictionary before one is trained.
pub const TRAIN_AFTER: usize = 1000;
/// The size zstd suggests for a dictionary of small JSON documents.
const DICT_BYTES: usize = 112 * 1024;
/// A sample longer than this adds little to training but its time.
const MAX_SAMPLE_BYTES: usize = 64 * 1024;
/// Level of compression with a dictionary: level 3 with one costs less
/// than level 1 without, the dictionary doing the work.
const DICT_LEVEL: i32 = 3;

/// Every decompression dictionary any store of this process has opened,
/// by id, so that a frame is read with no reference to its store.
fn decoders() -> &'static RwLock<HashMap<u32, Arc<DDict<'static>>>> {
    static D: OnceLock<RwLock<HashMap<u32, Arc<DDict<'static>>>>> = OnceLock::new();
    D.get_or_init(Default::default)
}

/// The decompression dictionary of a frame's id.
pub fn decoder(id: u32) -> Option<Arc<DDict<'static>>> {
    decoders().read().ok()?.get(&id).cloned()
}

/// Makes dictionary `bytes` readable by id (from a store's `meta`); its id
/// is checked against its bytes, so a damaged entry is refused.
pub fn register(bytes: &[u8]) -> Result<u32> {
    let id = zstd::zstd_safe::get_dict_id_from_dict(bytes)
        .map(u32::from)
        .filter(|id| *id == id_of(bytes))
        .ok_or_else(|| Error::Corrupt {
            key: "meta/zstd_dict".into(),
            message: "a stored compression dictionary is damaged (its id does not match it)".into(),
        })?;
    let ddict = DDict::try_create(bytes).ok_or_else(|| Error::Corrupt {
        key: format!("meta/zstd_dict/{id}"),
        message: "zstd refused a stored compression dictionary".into(),
    })?;
    if let Ok(mut d) = decoders().write() {
        d.entry(id).or_insert_with(|| Arc::new(ddict));
    }
    Ok(id)
}

/// The dictionary id of `bytes` (all but the 4-byte id field), in zstd's
/// range for private ids: [32 768, 2^31).
fn id_of(bytes: &[u8]) -> u32 {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(bytes.get(..4).unwrap_or_default());
    h.update(bytes.get(8..).unwrap_or_default());
    let d = h.finalize();
    let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    32_768 + n % ((1 << 31) - 32_768)
}

/// Trains a dictionary on `samples`; `None` when zstd cannot (too few or
/// too alike), which leaves values compressed alone.
pub fn train(samples: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut dict = zstd::dict::from_samples(samples, DICT_BYTES).ok()?;
    // zstd picks a random id; ours is derived from the content.
    let id = id_of(&dict);
    dict.get_mut(4..8)?.copy_from_slice(&id.to_le_bytes());
    Some(dict)
}

/// One kind of value's dictionary, and the samples gathered until it has one.
pub struct Kind {
    pub name: &'static str,
    current: RwLock<Option<Arc<CDict<'static>>>>,
    /// Samples, until there is a dictionary (or training gave up).
    samples: Mutex<Option<Vec<Vec<u8>>>>,
}

impl Kind {
    pub fn new(name: &'static str) -> Kind {
        Kind {
            name,
            current: RwLock::new(None),
            samples: Mutex::new(Some(Vec::new())),
        }
    }

    /// Uses dictionary `bytes` for new values from now on.
    pub fn set(&self, bytes: &[u8]) -> Result<()> {
        let cdict = CDict::try_create(bytes, DICT_LEVEL).ok_or_else(|| Error::Corrupt {
            key: format!("meta/zstd_dict_for/{}", self.name),
            message: "zstd refused a stored compression dictionary".into(),
        })?;
        if let Ok(mut c) = self.current.write() {
            *c = Some(Arc::new(cdict));
        }
        if let Ok(mut s) = self.samples.lock() {
            *s = None;
        }
        Ok(())
    }

    /// The dictionary new values use, if any.
    pub fn current(&self) -> Option<Arc<CDict<'static>>> {
        self.current.read().ok()?.clone()
    }

    /// Keeps `value` as a sample; once there are enough, hands them over
    /// to train on (once: a failed training is not retried in this process).
    pub fn sample(&self, value: &[u8]) -> Option<Vec<Vec<u8>>> {
        let mut guard = self.samples.lock().ok()?;
        let samples = guard.as_mut()?;
        samples.push(value.get(..MAX_SAMPLE_BYTES).unwrap_or(value).to_vec());
        if samples.len() < TRAIN_AFTER {
            return None;
        }
        guard.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Vec<u8>> {
        (0..TRAIN_AFTER)
            .map(|i| {
                format!(
                    r#"{{"ocid":"ocds-b5fd17-{i:06}","tender":{{"title":"Lot {i}: grounds maintenance in ward {}","value":{{"amount":{},"currency":"GBP"}},"status":"active"}},"buyer":{{"name":"Council {}"}}}}"#,
                    i % 37,
                    i * 131 % 100_000,
                    i % 11
                )
                .into_bytes()
            })
            .collect()
    }

    #[test]
    fn a_trained_dictionary_has_the_id_of_its_bytes_and_a_damaged_one_is_refused() {
        let dict = train(&samples()).expect("trains");
        let id = register(&dict).expect("registers");
        assert_eq!(id, id_of(&dict));
        assert!(decoder(id).is_some());
        let mut damaged = dict.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        assert!(register(&damaged).is_err(), "a changed byte changes the id");
    }

    #[test]
    fn samples_are_handed_over_once() {
        let k = Kind::new("test");
        let s = samples();
        let mut handed = 0;
        for v in &s {
            if let Some(all) = k.sample(v) {
                assert_eq!(all.len(), TRAIN_AFTER);
                handed += 1;
            }
        }
        for v in &s {
            assert!(k.sample(v).is_none());
        }
        assert_eq!(handed, 1);
    }
}
