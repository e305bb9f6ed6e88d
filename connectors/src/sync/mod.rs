//! Live sources kept in sync: Find a Tender (`fts`), Contracts Finder (`cf`)
//! and any paged OCDS feed (`ocds:<name>`), walked page by page into a
//! [`SyncTarget`] (the engine's single writer, crate `sebroker-engine`), with resumable
//! progress ([`SyncProgress`]) so a restart or a crash resumes without gaps.
//!
//! FTS and CF are walked in windows of UK local time (one day by default);
//! a run plans the windows after the last one completed, resumes the window
//! in progress at its cursor, retries windows that failed before, and records
//! a window that keeps failing as failed while later windows go on.

mod page;
mod run;

pub use page::{parse_page, parse_page_with, Page};
pub use run::run;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;

use crate::http::{FetchError, HttpSettings};
use crate::ocds::ReadOutcome;
use crate::uktime;

/// What the store or the index may fail with, boxed so the crates stay layered.
pub type TargetError = Box<dyn std::error::Error + Send + Sync>;

/// A half-open interval `[from, to)` of UK local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    #[serde(with = "local_time")]
    pub from: PrimitiveDateTime,
    #[serde(with = "local_time")]
    pub to: PrimitiveDateTime,
}

impl Window {
    pub fn duration(&self) -> Duration {
        (self.to - self.from).try_into().unwrap_or(Duration::ZERO)
    }

    /// Two halves, split on a whole minute.
    pub fn halves(&self) -> Option<[Window; 2]> {
        let minutes = (self.to - self.from).whole_minutes();
        if minutes < 2 {
            return None;
        }
        let mid = self.from + time::Duration::minutes(minutes / 2);
        Some([
            Window {
                from: self.from,
                to: mid,
            },
            Window {
                from: mid,
                to: self.to,
            },
        ])
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}..{}",
            uktime::format_param(self.from),
            uktime::format_param(self.to)
        )
    }
}

mod local_time {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::PrimitiveDateTime;

    pub fn serialize<S: Serializer>(t: &PrimitiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::uktime::format_param(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PrimitiveDateTime, D::Error> {
        let s = String::deserialize(d)?;
        crate::uktime::parse_param(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("bad local time {s:?}")))
    }

    pub mod option {
        use super::*;
        pub fn serialize<S: Serializer>(
            t: &Option<PrimitiveDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<PrimitiveDateTime>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            s.map(|s| {
                crate::uktime::parse_param(&s)
                    .ok_or_else(|| serde::de::Error::custom(format!("bad local time {s:?}")))
            })
            .transpose()
        }
    }
}

/// The window being walked and where the walk stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// `None` for feeds without windows (`ocds:<name>`).
    pub window: Option<Window>,
    /// The next page: the API's cursor (FTS, CF) or the next URL (feeds);
    /// `None` before the first page.
    pub next: Option<String>,
    /// Pages of this window already ingested.
    pub pages: u64,
}

/// A window that failed, to retry on the next run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedWindow {
    pub window: Window,
    pub error: String,
    /// Runs in which it failed.
    pub failures: u32,
}

/// The summary of the last run, kept with the progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: String,
    /// `ok`, `partial` or `failed`.
    pub outcome: String,
    pub pages: u64,
    pub releases_read: u64,
    pub releases_new: u64,
    pub windows_failed: u64,
    pub error: Option<String>,
}

/// A source's sync progress, as kept by the store.
///
/// Invariant: every window ending at or before `synced_to` has been walked,
/// or is in `current`, `pending` or `failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceProgress {
    #[serde(with = "local_time::option")]
    pub synced_to: Option<PrimitiveDateTime>,
    pub windows_completed: u64,
    pub current: Option<Cursor>,
    /// Windows planned but not started (the pieces of a split window).
    pub pending: Vec<Window>,
    pub failed: Vec<FailedWindow>,
    pub last_run: Option<LastRun>,
}

/// Where progress is kept; the store (crate `sebroker-store`) implements it. Each save
/// must be durable before it returns.
pub trait SyncProgress: Send + Sync {
    /// The progress of `source`, or the default when it never ran.
    fn load_progress(&self, source: &str) -> Result<SourceProgress, TargetError>;
    fn save_progress(&self, source: &str, progress: &SourceProgress) -> Result<(), TargetError>;
}

/// What ingesting one page did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageCounts {
    pub releases_new: u64,
    pub releases_duplicate: u64,
    pub releases_replaced: u64,
    pub notices_created: u64,
    pub notices_updated: u64,
    pub errors: Vec<String>,
}

/// Where pages go: the store and the index, durably, page by page.
pub trait SyncTarget: Send + Sync + 'static {
    fn progress(&self) -> &dyn SyncProgress;
    /// Ingests one page's releases under `source`, durably, before returning.
    fn ingest_page(&self, source: &str, page: ReadOutcome) -> Result<PageCounts, TargetError>;
}

/// The kinds of live source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Fts,
    Cf,
    /// Any paged OCDS feed that follows `links.next`.
    Ocds,
}

/// One configured source.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// `fts`, `cf` or `ocds:<name>`.
    pub name: String,
    pub kind: SourceKind,
    /// The base URL (FTS, CF: scheme and host; feeds: the first page).
    pub url: String,
    pub http: HttpSettings,
}

pub const FTS_URL: &str = "https://www.find-tender.service.gov.uk";
pub const CF_URL: &str = "https://www.contractsfinder.service.gov.uk";

impl SourceSpec {
    pub fn fts(url: Option<&str>) -> Self {
        SourceSpec {
            name: "fts".into(),
            kind: SourceKind::Fts,
            url: url.unwrap_or(FTS_URL).into(),
            http: HttpSettings::fts(),
        }
    }

    pub fn cf(url: Option<&str>) -> Self {
        SourceSpec {
            name: "cf".into(),
            kind: SourceKind::Cf,
            url: url.unwrap_or(CF_URL).into(),
            http: HttpSettings::cf(),
        }
    }

    pub fn feed(name: &str, url: &str) -> Self {
        SourceSpec {
            name: format!("ocds:{name}"),
            kind: SourceKind::Ocds,
            url: url.into(),
            http: HttpSettings::default(),
        }
    }
}

/// How windows are planned and walked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSettings {
    /// Releases per page (the APIs allow 1 to 100).
    pub page_limit: usize,
    /// Window length in hours (24: one day, aligned on UK midnight).
    pub window_hours: u32,
    /// A full page without `links.next` splits its window in halves, down to this.
    pub min_split_minutes: u32,
    /// Runs without dates start this long before the last completed window's
    /// end, to catch late publications (repeats are deduplicated).
    pub overlap_minutes: u32,
    /// The first run without dates covers this many days.
    pub first_run_days: u32,
    /// A window stops after this many pages (a guard against cursor loops).
    pub max_pages_per_window: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            page_limit: 100,
            window_hours: 24,
            min_split_minutes: 60,
            overlap_minutes: 30,
            first_run_days: 7,
            max_pages_per_window: 5_000,
        }
    }
}

/// The dates a run covers; both `None` continues from the last completed window.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunRange {
    pub from: Option<time::Date>,
    /// Inclusive.
    pub to: Option<time::Date>,
}

/// What a run reports as it goes (for progress bars and logs).
#[derive(Debug, Clone, PartialEq)]
pub enum SyncEvent {
    Planned {
        windows: usize,
    },
    WindowStarted {
        window: Option<Window>,
        resumed: bool,
    },
    Page {
        releases: usize,
        new: u64,
    },
    Waiting {
        wait: Duration,
        rate_limit: bool,
        reason: String,
    },
    WindowDone {
        window: Option<Window>,
    },
    WindowSplit {
        window: Window,
    },
    WindowFailed {
        window: Option<Window>,
        error: String,
    },
}

/// The summary of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub source: String,
    pub started_at: String,
    pub finished_at: String,
    pub windows_planned: u64,
    pub windows_completed: u64,
    pub windows_resumed: u64,
    pub windows_split: u64,
    pub windows_failed: u64,
    pub pages: u64,
    pub releases_read: u64,
    pub releases_new: u64,
    pub releases_duplicate: u64,
    pub releases_replaced: u64,
    pub notices_created: u64,
    pub notices_updated: u64,
    pub pages_lossy_utf8: u64,
    pub retries: u64,
    pub rate_limit_waits: u64,
    pub waited_ms: u64,
    pub failed_windows: Vec<FailedWindow>,
    /// Errors of individual releases (kept, not fatal).
    pub errors: Vec<String>,
    /// Why the run stopped early (the source could not be reached...).
    pub aborted: Option<String>,
}

impl SyncReport {
    /// `ok`, `partial` (some windows failed) or `failed`.
    pub fn outcome(&self) -> &'static str {
        if self.aborted.is_some() {
            "failed"
        } else if self.windows_failed > 0 || !self.failed_windows.is_empty() {
            "partial"
        } else {
            "ok"
        }
    }
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The store or the index failed: stop, nothing is lost.
    #[error("{source_name}: storing the data failed: {error}")]
    Target {
        source_name: String,
        error: TargetError,
    },
    #[error("{0}")]
    Config(String),
}
