//! The fictional demo data set (`fixtures/demo/`), compiled into the binary so
//! `sebroker serve --demo` works from any folder and never touches the network.

use crate::error::Result;
use crate::ingest::{ingest_text, IngestOptions, IngestReport};
use crate::Engine;

const DEMO_FILES: &[(&str, &str)] = &[
    (
        "fixtures/demo/fts-2026-11.json",
        include_str!("../../fixtures/demo/fts-2026-11.json"),
    ),
    (
        "fixtures/demo/cf-2026-11.json",
        include_str!("../../fixtures/demo/cf-2026-11.json"),
    ),
];

const DEMO_MEMBERS: &str = include_str!("../../fixtures/demo/members.json");

/// Loads the demo members, then the demo notices (matched as they arrive).
pub fn load(app: &Engine, clusters: &[String]) -> Result<Vec<IngestReport>> {
    let parsed = {
        let places = app.places();
        sebroker_connectors::members::parse_text(DEMO_MEMBERS, "json", clusters, &places)
    };
    if let Some(e) = parsed.errors.first() {
        return Err(crate::Error::Invalid(format!(
            "demo members {}: {}",
            e.at, e.message
        )));
    }
    // Demo members belong to their clusters from the programme's start.
    crate::members::import(
        app,
        &parsed.members,
        app.ledger.settings.programme_start,
        "demo",
    )?;
    let reports = DEMO_FILES
        .iter()
        .map(|(name, text)| ingest_text(app, name, text, &IngestOptions::default()))
        .collect::<Result<Vec<_>>>()?;
    Ok(reports)
}

/// A fresh data folder holding the demo data, opened (tests of this and
/// the crates above).
#[doc(hidden)]
pub fn open_in_tempdir() -> Result<(tempfile::TempDir, crate::Engine)> {
    let dir = tempfile::tempdir().map_err(|source| crate::Error::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let app = crate::Engine::open_dir(dir.path())?;
    let clusters: Vec<String> = sebroker_connectors::members::DEFAULT_CLUSTERS
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    load(&app, &clusters)?;
    Ok((dir, app))
}
