//! Anchor institutions' own opportunities into the store and the index:
//! from a `sebroker-anchors` file (`sebroker anchors import`) or the API
//! (`POST /api/v1/anchors/{slug}/opportunities`), through the same ingest
//! path as every other source, as source `anchor:<slug>`.

use serde::Serialize;
use time::OffsetDateTime;

use sebroker_connectors::anchors::{self, Opportunity, RowError};
use sebroker_connectors::ocds::{RawRelease, ReadOutcome};

use crate::error::{Error, Result};
use crate::ingest::{ingest_outcome, IngestOptions};
use crate::Engine;

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct AnchorReport {
    pub anchor: String,
    pub rows_read: u64,
    pub rows_imported: u64,
    pub notices_created: u64,
    pub notices_updated: u64,
    pub ocids: Vec<String>,
    pub errors: Vec<RowError>,
}

impl AnchorReport {
    /// 0 all rows good, 3 some rows failed, 1 no row could be imported.
    pub fn exit_code(&self) -> u8 {
        use sebroker_model::exit;
        match (self.errors.is_empty(), self.rows_imported) {
            (true, _) => exit::OK,
            (false, 0) => exit::FAILED,
            (false, _) => exit::PARTIAL,
        }
    }
}

/// Stores checked opportunities (`(line, opportunity)`) under anchor `slug`.
/// A reference already stored is updated in place; its first date is kept.
pub fn import(app: &Engine, slug: &str, rows: &[(u64, Opportunity)]) -> Result<AnchorReport> {
    anchors::check_slug(slug).map_err(Error::Invalid)?;
    let source = format!("anchor:{slug}");
    let now = OffsetDateTime::now_utc();
    let mut outcome = ReadOutcome::default();
    let mut ocids = Vec::new();
    for (line, o) in rows {
        let ocid = o.ocid(slug);
        let first = app
            .store
            .get_notice(&ocid)?
            .and_then(|n| n.published)
            .unwrap_or(now);
        outcome.releases.push(RawRelease {
            json: o.to_release(slug, first),
            position: *line,
        });
        ocids.push(ocid);
    }
    let r = ingest_outcome(
        app,
        &source,
        outcome,
        &IngestOptions {
            source: Some(source.clone()),
        },
    )?;
    // Matched before the import answers, as every one-shot write.
    app.follow()?;
    Ok(AnchorReport {
        anchor: slug.to_owned(),
        rows_read: rows.len() as u64,
        rows_imported: rows.len() as u64 - r.releases_invalid - r.releases_without_ocid,
        notices_created: r.notices_created,
        notices_updated: r.notices_updated,
        ocids,
        errors: Vec::new(),
    })
}

/// Imports a file in the `sebroker-anchors` format: good rows kept, bad
/// rows reported by line and field.
pub fn import_file(app: &Engine, slug: &str, bytes: &[u8]) -> Result<AnchorReport> {
    anchors::check_slug(slug).map_err(Error::Invalid)?;
    let parsed =
        anchors::parse_file(bytes, &app.places()).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut report = import(app, slug, &parsed.rows)?;
    report.rows_read = parsed.rows_read;
    report.errors = parsed.errors;
    Ok(report)
}
