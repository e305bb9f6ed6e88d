//! Live sources in the application: the store and the index as the sync
//! target of the connectors, one run of a source (for `sebroker sync`), the
//! server's schedule (one task per source, so one failing never stops
//! another) and the status board behind `GET /api/v1/sources`.

use std::sync::Arc;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use sebroker_connectors::ocds::ReadOutcome;
use sebroker_connectors::sync::{
    self, LastRun, PageCounts, RunRange, SourceSpec, SyncError, SyncEvent, SyncProgress,
    SyncReport, SyncSettings, SyncTarget, TargetError,
};

use crate::ingest::{ingest_outcome, IngestOptions};
use crate::Engine;

/// The application as the target of a sync: pages go through the ingest
/// path (store, groups, index commit), progress into the store.
pub struct AppTarget(pub Arc<Engine>);

impl SyncTarget for AppTarget {
    fn progress(&self) -> &dyn SyncProgress {
        self.0.store.as_progress()
    }

    fn ingest_page(&self, source: &str, page: ReadOutcome) -> Result<PageCounts, TargetError> {
        // Feeds are named by configuration; fts and cf come from the ocids.
        let opts = IngestOptions {
            source: source.starts_with("ocds:").then(|| source.to_owned()),
        };
        let r = ingest_outcome(&self.0, source, page, &opts)?;
        Ok(PageCounts {
            releases_new: r.releases_new,
            releases_duplicate: r.releases_duplicate,
            releases_replaced: r.releases_replaced,
            notices_created: r.notices_created,
            notices_updated: r.notices_updated,
            errors: r
                .errors
                .into_iter()
                .map(|e| format!("{} at byte {}: {}", e.file, e.position, e.message))
                .collect(),
        })
    }
}

/// Runs one source once against the application.
pub async fn run_once(
    app: Arc<Engine>,
    spec: &SourceSpec,
    settings: &SyncSettings,
    range: RunRange,
    now: OffsetDateTime,
    events: &(dyn Fn(&SyncEvent) + Send + Sync),
) -> Result<SyncReport, SyncError> {
    let result = sync::run(spec, settings, range, now, Arc::new(AppTarget(app)), events).await;
    record_run(&spec.name, &result);
    result
}

/// Counts a run for `/metrics`: per source, runs by outcome, failures,
/// pages, waits for rate limits, and when it last succeeded.
fn record_run(source: &str, result: &Result<SyncReport, SyncError>) {
    let src = source.to_owned();
    let outcome = match result {
        Ok(r) => r.outcome(),
        Err(_) => "failed",
    };
    metrics::counter!("sebroker_sync_runs_total", "source" => src.clone(), "outcome" => outcome)
        .increment(1);
    if outcome == "failed" {
        metrics::counter!("sebroker_sync_failures_total", "source" => src.clone()).increment(1);
    }
    if let Ok(r) = result {
        metrics::counter!("sebroker_sync_pages_total", "source" => src.clone()).increment(r.pages);
        metrics::counter!("sebroker_sync_rate_limit_waits_total", "source" => src.clone())
            .increment(r.rate_limit_waits);
        if outcome == "ok" {
            let now = OffsetDateTime::now_utc().unix_timestamp() as f64;
            metrics::gauge!("sebroker_sync_last_success_timestamp_seconds", "source" => src)
                .set(now);
        }
    }
}

pub use crate::board::{Board, SourceStatus};

/// Every known source: the scheduled ones and any with stored progress,
/// joined with the store's progress.
pub fn statuses(app: &Engine) -> crate::Result<Vec<SourceStatus>> {
    let mut all = app.sources.snapshot();
    for s in app.store.sync_sources()? {
        all.entry(s.clone()).or_insert_with(|| SourceStatus {
            source: s,
            ..SourceStatus::default()
        });
    }
    // Counted by the index (facets), not by decoding every notice.
    let (by_source, _) = crate::views::index_counts(app, OffsetDateTime::now_utc())?;
    let mut out = Vec::new();
    for (name, mut st) in all {
        let p = app.store.sync_progress(&name)?;
        st.synced_to = p.synced_to.map(sebroker_connectors::uktime::format_param);
        st.windows_completed = p.windows_completed;
        st.failed_windows = p.failed;
        if st.last_run.is_none() {
            st.last_run = p.last_run;
        }
        st.notices = Some(by_source.get(&name).copied().unwrap_or(0));
        out.push(st);
    }
    Ok(out)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Starts one task per source: run, wait `interval`, run again, until the
/// runtime stops. A failed run logs one line and waits for the next.
pub fn spawn_schedule(
    app: Arc<Engine>,
    specs: Vec<SourceSpec>,
    settings: SyncSettings,
    interval: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    specs
        .into_iter()
        .map(|spec| {
            let app = app.clone();
            let settings = settings.clone();
            app.sources.update(&spec.name, |s| {
                s.scheduled = true;
                s.url = Some(spec.url.clone());
                s.next_run = Some(rfc3339(OffsetDateTime::now_utc()));
            });
            tokio::spawn(async move {
                loop {
                    app.sources.update(&spec.name, |s| s.running = true);
                    let result =
                        run_once(app.clone(), &spec, &settings, RunRange::default(), OffsetDateTime::now_utc(), &|_| {}).await;
                    let next = OffsetDateTime::now_utc() + interval;
                    let (failed, last) = match &result {
                        Ok(r) if r.outcome() == "ok" => {
                            tracing::info!(source = %spec.name, pages = r.pages, releases_new = r.releases_new, "sync run done");
                            (false, None)
                        }
                        Ok(r) => {
                            let why = r.aborted.clone().unwrap_or_else(|| format!("{} windows failed", r.windows_failed));
                            tracing::warn!(source = %spec.name, next_run = %rfc3339(next), "sync run {}: {why}", r.outcome());
                            (r.outcome() == "failed", None)
                        }
                        Err(e) => {
                            tracing::error!(source = %spec.name, next_run = %rfc3339(next), "sync run failed: {e}");
                            (true, Some(e.to_string()))
                        }
                    };
                    app.sources.update(&spec.name, |s| {
                        s.running = false;
                        s.runs += 1;
                        s.failed_runs += u64::from(failed);
                        s.next_run = Some(rfc3339(next));
                        if let Some(e) = last {
                            s.last_run = Some(LastRun { outcome: "failed".into(), error: Some(e), ..LastRun::default() });
                        } else {
                            s.last_run = None; // the store's copy is the truth
                        }
                    });
                    tokio::time::sleep(interval).await;
                }
            })
        })
        .collect()
}
