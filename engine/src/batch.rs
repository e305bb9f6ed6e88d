//! One batch of releases as the single writer writes it into the store:
//! raw releases (deduplicated by content), the notices of every ocid that
//! got a new release, recompiled from all of its releases, and the CPV
//! descriptions they teach; flushed before the writer answers. The report
//! types of every ingest live here too.

use std::collections::BTreeMap;

use serde::Serialize;

use sebroker_connectors::json::content_hash;
use sebroker_connectors::ocds::{self, CompileContext, Release};
use sebroker_connectors::places::Places;
use sebroker_model::exit;
use sebroker_store::{NoticeStore, PutNotice, PutRelease};

use crate::error::Result;

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
    /// Adds this batch's counts to the process's ingest counters
    /// (`/metrics`); the writer calls it once per written batch.
    pub(crate) fn record_metrics(&self) {
        let c = |name: &'static str, n: u64| metrics::counter!(name).increment(n);
        c("sebroker_ingest_releases_read_total", self.releases_read);
        c("sebroker_ingest_releases_new_total", self.releases_new);
        c(
            "sebroker_ingest_releases_duplicate_total",
            self.releases_duplicate,
        );
        c(
            "sebroker_ingest_releases_invalid_total",
            self.releases_invalid + self.releases_skipped + self.releases_without_ocid,
        );
        c(
            "sebroker_ingest_notices_created_total",
            self.notices_created,
        );
        c(
            "sebroker_ingest_notices_updated_total",
            self.notices_updated,
        );
    }

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
        self.releases_skipped += o.releases_skipped;
        self.files_lossy_utf8 += o.files_lossy_utf8;
        self.notices_created += o.notices_created;
        self.notices_updated += o.notices_updated;
        self.skipped.extend(o.skipped);
        self.errors.extend(o.errors);
    }

    /// Exit code: 0 all good, 3 some inputs failed, 1 nothing could be read.
    pub fn exit_code(&self) -> u8 {
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

/// One batch as the writer writes it: releases, notices, CPV descriptions,
/// then a store flush. The index is the writer's business (from the change
/// log), so nothing here touches it.
pub(crate) fn write_batch(
    store: &dyn NoticeStore,
    places: &Places,
    name: &str,
    outcome: ocds::ReadOutcome,
    opts: &IngestOptions,
) -> Result<(IngestReport, Vec<sebroker_model::Notice>)> {
    let mut report = IngestReport {
        files: 1,
        ..IngestReport::default()
    };
    let dirty = store_releases(store, name, outcome, &mut report)?;
    let changed = compile_notices(store, places, dirty, opts, &mut report)?;
    // Durable before we say so.
    store.flush()?;
    Ok((report, changed))
}

/// The releases of one changed ocid, parsed once as they were read.
struct Dirty {
    /// The store had no release of this ocid before the batch, so these
    /// are all of them and the notice compiles without reading any back.
    fresh: bool,
    /// By release id: a later release with the same id replaces (as in
    /// the store), a byte-identical repeat keeps the first.
    releases: BTreeMap<String, Release>,
}

fn store_releases(
    store: &dyn NoticeStore,
    file: &str,
    outcome: ocds::ReadOutcome,
    report: &mut IngestReport,
) -> Result<BTreeMap<String, Dirty>> {
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
    let mut dirty: BTreeMap<String, Dirty> = BTreeMap::new();
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
        let Some(ocid) = rel
            .ocid
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
        else {
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
        // Asked before the first write of this ocid in the batch.
        let fresh = match dirty.get(&ocid) {
            Some(d) => d.fresh,
            None => !store.has_releases(&ocid)?,
        };
        match store.put_release(&ocid, &id, &hash, &raw.json)? {
            PutRelease::New => report.releases_new += 1,
            PutRelease::Duplicate => {
                report.releases_duplicate += 1;
                continue;
            }
            PutRelease::Replaced => report.releases_replaced += 1,
        }
        dirty
            .entry(ocid)
            .or_insert_with(|| Dirty {
                fresh,
                releases: BTreeMap::new(),
            })
            .releases
            .insert(id, rel);
    }
    Ok(dirty)
}

/// Compiles each changed ocid from all of its releases: those the batch
/// parsed when the ocid is new, else every stored one. Returns the notices
/// that changed.
fn compile_notices(
    store: &dyn NoticeStore,
    places: &Places,
    dirty: BTreeMap<String, Dirty>,
    opts: &IngestOptions,
    report: &mut IngestReport,
) -> Result<Vec<sebroker_model::Notice>> {
    let ctx = CompileContext {
        places,
        source: opts.source.as_deref(),
    };
    let mut changed = Vec::new();
    let mut cpv = Vec::new();
    for (ocid, d) in dirty {
        let releases: Vec<Release> = if d.fresh {
            d.releases.into_values().collect()
        } else {
            store
                .releases_of(&ocid)?
                .iter()
                .filter_map(|j| Release::parse(j).ok())
                .collect()
        };
        let Some(notice) = ocds::compile(releases, &ctx) else {
            continue;
        };
        match store.put_notice(&notice)? {
            PutNotice::Created => report.notices_created += 1,
            PutNotice::Updated => report.notices_updated += 1,
            PutNotice::Unchanged => continue,
        }
        cpv.extend(
            notice
                .cpv
                .iter()
                .filter_map(|c| Some((c.code.clone(), c.description.clone()?))),
        );
        changed.push(notice);
    }
    cpv.sort();
    cpv.dedup_by(|a, b| a.0 == b.0);
    store.put_cpv(&cpv, false)?;
    // Groups, matches, links and alerts follow the change log (consumers).
    Ok(changed)
}
