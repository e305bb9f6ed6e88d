//! The status board of the live sources in a running `serve`: what each
//! scheduled sync is doing, for `GET /api/v1/sources`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use sebroker_connectors::sync::{self, LastRun};

/// What `GET /api/v1/sources` shows of one source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceStatus {
    pub source: String,
    pub url: Option<String>,
    /// Run on the server's schedule.
    pub scheduled: bool,
    pub running: bool,
    pub runs: u64,
    pub failed_runs: u64,
    pub last_run: Option<LastRun>,
    /// RFC 3339.
    pub next_run: Option<String>,
    /// UK local time up to which every window has been walked.
    pub synced_to: Option<String>,
    pub windows_completed: u64,
    pub failed_windows: Vec<sync::FailedWindow>,
    /// Notices of this source in the store.
    pub notices: Option<u64>,
}

/// The live state of scheduled sources.
#[derive(Debug, Default)]
pub struct Board {
    inner: Mutex<BTreeMap<String, SourceStatus>>,
}

impl Board {
    pub(crate) fn update(&self, source: &str, f: impl FnOnce(&mut SourceStatus)) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let s = m.entry(source.to_owned()).or_insert_with(|| SourceStatus {
            source: source.to_owned(),
            ..SourceStatus::default()
        });
        f(s);
    }

    pub fn snapshot(&self) -> BTreeMap<String, SourceStatus> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
