//! Finding the OCDS files under the paths a user gives: files as given,
//! folders walked recursively in sorted order.

use std::path::{Path, PathBuf};

use crate::error::{ConnectorError, Result};

/// Lists the files to read under `paths`: files as given; in folders
/// (recursively, sorted) `.json`, `.jsonl`, `.ndjson` and their `.gz`; other
/// files are listed as skipped.
pub fn collect_files(paths: &[PathBuf], skipped: &mut Vec<String>) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| ConnectorError::Read {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(p, &mut out, skipped)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, skipped: &mut Vec<String>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|source| ConnectorError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out, skipped)?;
        } else if is_ocds_file(&p) {
            out.push(p);
        } else {
            skipped.push(p.display().to_string());
        }
    }
    Ok(())
}

fn is_ocds_file(p: &Path) -> bool {
    let name = p.to_string_lossy().to_ascii_lowercase();
    let name = name.trim_end_matches(".gz");
    name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".ndjson")
}
