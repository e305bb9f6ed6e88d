//! The fictional demo data set (`fixtures/demo/`), compiled into the binary so
//! `sebroker serve --demo` works from any folder and never touches the network.

use crate::app::App;
use crate::error::Result;
use crate::ingest::{ingest_text, IngestOptions, IngestReport};

const DEMO_FILES: &[(&str, &str)] = &[
    (
        "fixtures/demo/fts-2026-11.json",
        include_str!("../fixtures/demo/fts-2026-11.json"),
    ),
    (
        "fixtures/demo/cf-2026-11.json",
        include_str!("../fixtures/demo/cf-2026-11.json"),
    ),
];

/// Loads the demo notices into `app`.
pub fn load(app: &App) -> Result<Vec<IngestReport>> {
    DEMO_FILES
        .iter()
        .map(|(name, text)| ingest_text(app, name, text, &IngestOptions::default()))
        .collect()
}
