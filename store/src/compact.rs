//! Compaction: the store copied, in key order, into a fresh sled database
//! that takes its place. sled's log keeps every page version until its
//! segment is cleaned and never gives the file back, so a bulk load of
//! matches (a million small random inserts) leaves the folder over four
//! times its live data. A copy in key order drops the superseded versions
//! (erased data among them); sled still writes a growing copy's pages more
//! than once (100k releases: 1,047 MiB before, 848 MiB after, 238 MiB live).
//!
//! Crash order: the copy is written to `store.compacting`, flushed, checked
//! against the original (sled's checksum of every key and value) and
//! marked `COMPLETE`; then `store` → `store.pre-compaction`,
//! `store.compacting` → `store`, and `store.pre-compaction` removed.
//! [`recover`] finishes or undoes whatever a crash interrupted, so the
//! folder always opens as either the old store or the whole new one.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The copy is complete, flushed and checked when this file is in it.
const COMPLETE: &str = "COMPLETE";

/// What a compaction did (`sebroker compact --json` prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Compacted {
    pub trees: usize,
    pub entries: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Rewrites the store in `dir` compactly. The caller holds the data
/// folder's lock and has no store open on `dir`.
pub fn compact(dir: &Path) -> Result<Compacted> {
    recover(dir)?;
    let new = sibling(dir, ".compacting");
    if new.exists() {
        std::fs::remove_dir_all(&new).map_err(io(&new))?;
    }
    let bytes_before = folder_bytes(dir)?;
    let (trees, entries) = copy(dir, &new)?;
    let marker = new.join(COMPLETE);
    let f = std::fs::File::create(&marker).map_err(io(&marker))?;
    f.sync_all().map_err(io(&marker))?;
    sync_dir(&new)?;
    let old = sibling(dir, ".pre-compaction");
    std::fs::rename(dir, &old).map_err(io(dir))?;
    std::fs::rename(&new, dir).map_err(io(&new))?;
    sync_dir(dir.parent().unwrap_or(Path::new(".")))?;
    std::fs::remove_dir_all(&old).map_err(io(&old))?;
    std::fs::remove_file(dir.join(COMPLETE)).map_err(io(dir))?;
    Ok(Compacted {
        trees,
        entries,
        bytes_before,
        bytes_after: folder_bytes(dir)?,
    })
}

/// Copies every tree of `from` into a fresh database at `to`, flushes it
/// and checks it holds the same keys and values. Returns the tree and
/// entry counts.
fn copy(from: &Path, to: &Path) -> Result<(usize, u64)> {
    let src = crate::sled_config::open(from)?;
    let dst = crate::sled_config::open(to)?;
    let (mut trees, mut entries) = (0usize, 0u64);
    for name in src.tree_names() {
        trees += 1;
        let (s, d) = (src.open_tree(&name)?, dst.open_tree(&name)?);
        for kv in s.iter() {
            let (k, v) = kv?;
            d.insert(k, v)?;
            entries += 1;
        }
    }
    dst.flush()?;
    if src.checksum()? != dst.checksum()? {
        return Err(Error::Invalid(format!(
            "the compacted copy in {} differs from the store; the store is unchanged",
            to.display()
        )));
    }
    Ok((trees, entries))
}

/// Finishes or undoes a compaction a crash interrupted. Called before the
/// store is opened; does nothing when none was under way.
pub fn recover(dir: &Path) -> Result<()> {
    let (new, old) = (sibling(dir, ".compacting"), sibling(dir, ".pre-compaction"));
    if old.exists() && !dir.exists() {
        // Between the two renames: the copy is whole (it was marked
        // before the first one), so it goes in.
        if new.join(COMPLETE).exists() {
            std::fs::rename(&new, dir).map_err(io(&new))?;
        } else {
            std::fs::rename(&old, dir).map_err(io(&old))?;
        }
        sync_dir(dir.parent().unwrap_or(Path::new(".")))?;
    }
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    if new.exists() {
        // A copy that never took the store's place.
        std::fs::remove_dir_all(&new).map_err(io(&new))?;
    }
    let marker = dir.join(COMPLETE);
    if marker.exists() {
        std::fs::remove_file(&marker).map_err(io(&marker))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(dir))
}

/// Bytes of the files under `dir`.
fn folder_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0u64;
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let meta = e.metadata().map_err(io(&e.path()))?;
        total = total.saturating_add(if meta.is_dir() {
            folder_bytes(&e.path())?
        } else {
            meta.len()
        });
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(i: usize) -> Vec<u8> {
        format!("{{\"ocid\": \"o-{i}\", \"pad\": \"{}\"}}", "x".repeat(i)).into_bytes()
    }

    /// A store of 300 values, each written twice (the churn of re-matching).
    fn filled(dir: &Path) {
        let db = crate::sled_config::open(dir).expect("opens");
        let t = db.open_tree("releases").expect("tree");
        for i in 0..300 {
            t.insert(format!("o-{i}"), b"first".as_slice())
                .expect("insert");
            t.insert(format!("o-{i}"), value(i)).expect("replace");
        }
        db.flush().expect("flush");
    }

    fn holds_every_value(dir: &Path) -> bool {
        let Ok(db) = crate::sled_config::open(dir) else {
            return false;
        };
        let Ok(t) = db.open_tree("releases") else {
            return false;
        };
        (0..300).all(|i| t.get(format!("o-{i}")).ok().flatten().as_deref() == Some(&value(i)[..]))
    }

    #[test]
    fn a_compacted_store_holds_the_same_data() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("store");
        filled(&dir);
        let c = compact(&dir).expect("compacts");
        assert!(c.entries >= 300 && c.trees >= 2, "{c:?}");
        assert!(
            !sibling(&dir, ".compacting").exists() && !sibling(&dir, ".pre-compaction").exists()
        );
        assert!(holds_every_value(&dir));
    }

    #[test]
    fn a_crash_at_any_step_opens_as_the_old_store_or_the_whole_new_one() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("store");
        filled(&dir);
        let (new, old) = (
            sibling(&dir, ".compacting"),
            sibling(&dir, ".pre-compaction"),
        );
        let check = |what: &str| {
            recover(&dir).expect("recovers");
            assert!(!new.exists() && !old.exists(), "{what}: leftovers");
            assert!(holds_every_value(&dir), "{what}");
        };
        // Crash during the copy: a copy without its marker.
        copy(&dir, &new).expect("copies");
        check("copy unmarked");
        // Crash after the marker, before the first rename.
        copy(&dir, &new).expect("copies");
        std::fs::File::create(new.join(COMPLETE)).expect("marker");
        check("marked, not renamed");
        // Crash between the renames.
        copy(&dir, &new).expect("copies");
        std::fs::File::create(new.join(COMPLETE)).expect("marker");
        std::fs::rename(&dir, &old).expect("rename");
        check("between the renames");
        // Crash before the old store was removed.
        copy(&dir, &new).expect("copies");
        std::fs::File::create(new.join(COMPLETE)).expect("marker");
        std::fs::rename(&dir, &old).expect("rename");
        std::fs::rename(&new, &dir).expect("rename");
        check("old not yet removed");
    }
}
