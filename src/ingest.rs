//! `sebroker ingest`: files and folders of OCDS into the store and the index,
//! with counts and every error located by file and byte position. Every
//! source writes through the single [`Writer`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use sebroker_connectors::json::content_hash;
use sebroker_connectors::ocds::{self, CompileContext, Release};

use crate::app::App;
use crate::error::{Error, Result};
use crate::store::{PutNotice, PutRelease};

mod writer;
pub(crate) use writer::index_changes;
pub use writer::{Hook, Writer};

/// Commit the index after this many changed notices, not per document.
const INDEX_BATCH: usize = 5_000;

#[derive(Debug, Default, Serialize, Clone)]
pub struct IngestReport {
    pub files: u64,
    pub files_skipped: u64,
    pub releases_read: u64,
    pub releases_new: u64,
    pub releases_duplicate: u64,
    pub releases_replaced: u64,
    pub releases_without_ocid: u64,
    pub releases_invalid: u64,
    /// Releases (or stray items between them) the reader skipped: a bad
    /// token, nesting too deep; each is also in `errors` with its position.
    pub releases_skipped: u64,
    pub files_lossy_utf8: u64,
    pub notices_created: u64,
    pub notices_updated: u64,
    pub skipped: Vec<String>,
    pub errors: Vec<IngestError>,
}

#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct IngestError {
    pub file: String,
    pub position: u64,
    pub message: String,
}

impl IngestReport {
    /// Adds the counts and errors of another run (one file of many).
    pub fn add(&mut self, o: IngestReport) {
        self.files += o.files;
        self.files_skipped += o.files_skipped;
        self.releases_read += o.releases_read;
        self.releases_new += o.releases_new;
        self.releases_duplicate += o.releases_duplicate;
        self.releases_replaced += o.releases_replaced;
        self.releases_without_ocid += o.releases_without_ocid;
        self.releases_invalid += o.releases_invalid;
        self.files_lossy_utf8 += o.files_lossy_utf8;
        self.notices_created += o.notices_created;
        self.notices_updated += o.notices_updated;
        self.skipped.extend(o.skipped);
        self.errors.extend(o.errors);
    }

    /// Exit code: 0 all good, 3 some inputs failed, 1 nothing could be read.
    pub fn exit_code(&self) -> u8 {
        use crate::error::exit;
        if self.errors.is_empty() {
            exit::OK
        } else if self.releases_read == 0 && self.files > 0 {
            exit::FAILED
        } else {
            exit::PARTIAL
        }
    }
}

/// Options of one ingest run.
#[derive(Debug, Default, Clone)]
pub struct IngestOptions {
    /// Overrides the source derived from ocids (`anchor:<slug>`, `ocds:<name>`).
    pub source: Option<String>,
}

/// Lists the files to read under `paths`: files as given; in folders
/// (recursively, sorted) `.json`, `.jsonl`, `.ndjson` and their `.gz`; other
/// files are listed as skipped.
pub fn collect_files(paths: &[PathBuf], skipped: &mut Vec<String>) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| Error::Io {
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
    let rd = std::fs::read_dir(dir).map_err(|source| Error::Io {
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

/// Ingests files through the single writer; `progress` is called after
/// each file with (done, total). Each file is read (decoded and split into
/// releases) here, then written to the store by the writer; the index
/// follows in batches and is committed before this returns.
pub fn ingest_files(
    app: &App,
    files: &[PathBuf],
    opts: &IngestOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<IngestReport> {
    let mut report = IngestReport::default();
    for (i, file) in files.iter().enumerate() {
        let name = file.display().to_string();
        match ocds::read_path(file) {
            Ok(outcome) => {
                // Durable (store flushed) when this returns.
                let r = app.writer.submit(app, &name, outcome, opts, false)?;
                report.add(r);
            }
            Err(e) => {
                report.files += 1;
                report.errors.push(IngestError {
                    file: name,
                    position: 0,
                    message: e.to_string(),
                });
            }
        }
        progress(i + 1, files.len());
    }
    app.writer.commit(app)?;
    app.store.log_ingest(&serde_json::json!({
        "at": time::OffsetDateTime::now_utc().unix_timestamp(),
        "files": report.files, "releases_new": report.releases_new,
        "notices_created": report.notices_created, "notices_updated": report.notices_updated,
        "errors": report.errors.len(),
    }))?;
    app.store.flush()?;
    Ok(report)
}

/// Ingests in-memory JSON (the demo data set, API uploads).
pub fn ingest_text(
    app: &App,
    name: &str,
    text: &str,
    opts: &IngestOptions,
) -> Result<IngestReport> {
    ingest_outcome(
        app,
        name,
        ocds::read_bytes(text.as_bytes(), false, false),
        opts,
    )
}

/// Ingests releases already read (a page of a live source, anchors'
/// opportunities) through the single writer: store, groups, matches, then
/// an index commit, all durable before it returns.
pub fn ingest_outcome(
    app: &App,
    name: &str,
    outcome: ocds::ReadOutcome,
    opts: &IngestOptions,
) -> Result<IngestReport> {
    app.writer.submit(app, name, outcome, opts, true)
}

/// One batch as the writer writes it: releases, notices, groups, matches,
/// then a store flush. The index is the writer's business (from the change
/// log), so nothing here touches it.
fn write_batch(
    app: &App,
    name: &str,
    outcome: ocds::ReadOutcome,
    opts: &IngestOptions,
) -> Result<IngestReport> {
    let mut report = IngestReport {
        files: 1,
        ..IngestReport::default()
    };
    let dirty = store_releases(app, name, outcome, &mut report)?;
    compile_notices(app, &dirty, opts, &mut report)?;
    // Durable before we say so.
    app.store.flush()?;
    Ok(report)
}

fn store_releases(
    app: &App,
    file: &str,
    outcome: ocds::ReadOutcome,
    report: &mut IngestReport,
) -> Result<BTreeSet<String>> {
    if outcome.lossy_utf8 {
        report.files_lossy_utf8 += 1;
        tracing::warn!(file, "invalid UTF-8 replaced with U+FFFD");
    }
    for e in outcome.errors {
        if e.kind == ocds::ErrorKind::Release {
            report.releases_skipped += 1;
        }
        report.errors.push(IngestError {
            file: file.to_owned(),
            position: e.position,
            message: e.message,
        });
    }
    let mut dirty = BTreeSet::new();
    for raw in outcome.releases {
        report.releases_read += 1;
        let rel = match Release::parse(&raw.json) {
            Ok(r) => r,
            Err(e) => {
                report.releases_invalid += 1;
                report.errors.push(IngestError {
                    file: file.to_owned(),
                    position: raw.position,
                    message: format!("release is not valid OCDS: {e}"),
                });
                continue;
            }
        };
        let Some(ocid) = rel.ocid.as_deref().map(str::trim).filter(|o| !o.is_empty()) else {
            report.releases_without_ocid += 1;
            continue;
        };
        let hash = content_hash(&raw.json);
        let id = match rel
            .id
            .as_ref()
            .map(|t| t.0.trim())
            .filter(|i| !i.is_empty())
        {
            Some(id) => id.to_owned(),
            None => hash.iter().take(16).map(|b| format!("{b:02x}")).collect(),
        };
        match app.store.put_release(ocid, &id, &hash, &raw.json)? {
            PutRelease::New => report.releases_new += 1,
            PutRelease::Duplicate => {
                report.releases_duplicate += 1;
                continue;
            }
            PutRelease::Replaced => report.releases_replaced += 1,
        }
        dirty.insert(ocid.to_owned());
    }
    Ok(dirty)
}

/// Recompiles each changed ocid from all of its stored releases. Returns how
/// many notices changed.
fn compile_notices(
    app: &App,
    dirty: &BTreeSet<String>,
    opts: &IngestOptions,
    report: &mut IngestReport,
) -> Result<usize> {
    let places = app.places();
    let ctx = CompileContext {
        places: &places,
        source: opts.source.as_deref(),
    };
    let mut changed = Vec::new();
    let mut cpv = Vec::new();
    for ocid in dirty {
        let releases: Vec<Release> = app
            .store
            .releases_of(ocid)?
            .iter()
            .filter_map(|j| Release::parse(j).ok())
            .collect();
        let Some(notice) = ocds::compile(releases, &ctx) else {
            continue;
        };
        match app.store.put_notice(&notice)? {
            PutNotice::Created => report.notices_created += 1,
            PutNotice::Updated => report.notices_updated += 1,
            PutNotice::Unchanged => continue,
        }
        crate::groups::file_notice(app, &notice)?;
        cpv.extend(
            notice
                .cpv
                .iter()
                .filter_map(|c| Some((c.code.clone(), c.description.clone()?))),
        );
        changed.push(notice);
    }
    drop(places);
    cpv.sort();
    cpv.dedup_by(|a, b| a.0 == b.0);
    app.store.put_cpv(&cpv, false)?;
    // Every new or changed notice is matched (and its awards linked) as it arrives.
    app.refresh_notices(&changed)?;
    if !changed.is_empty() {
        // Instant alerts follow each ingest (`serve` listens).
        app.alerts_rt.ingested.notify_one();
    }
    Ok(changed.len())
}
