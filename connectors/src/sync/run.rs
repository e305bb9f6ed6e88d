//! One run of one source: plan the windows, walk each page by page into the
//! target, keep the progress durable after every page.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, Time};

use super::{
    parse_page_with, Cursor, FailedWindow, LastRun, Page, PageCounts, RunRange, SourceKind,
    SourceProgress, SourceSpec, SyncError, SyncEvent, SyncReport, SyncSettings, SyncTarget,
    TargetError, Window,
};
use crate::http::{check_url, FetchError, HttpClient, HttpEvent};
use crate::ocds::{Limits, ReadOutcome};
use crate::uktime;

/// Runs one source once. Fetch failures end up in the report (a failed
/// window, or `aborted` when the source cannot be reached); only a failing
/// store is an error.
pub async fn run(
    spec: &SourceSpec,
    settings: &SyncSettings,
    range: RunRange,
    now: OffsetDateTime,
    target: Arc<dyn SyncTarget>,
    events: &(dyn Fn(&SyncEvent) + Send + Sync),
) -> Result<SyncReport, SyncError> {
    let base =
        check_url(&spec.url).map_err(|m| SyncError::Config(format!("{}: {m}", spec.name)))?;
    let client = HttpClient::new(spec.http.clone())?;
    let name = spec.name.clone();
    let t = target.clone();
    let progress = blocking(&spec.name, move || t.progress().load_progress(&name)).await?;
    let mut r = Runner {
        spec,
        settings,
        base,
        client,
        target,
        events,
        progress,
        report: SyncReport {
            source: spec.name.clone(),
            started_at: rfc3339(OffsetDateTime::now_utc()),
            ..SyncReport::default()
        },
        retries: AtomicU64::new(0),
        waits: AtomicU64::new(0),
        waited_ms: AtomicU64::new(0),
    };
    let result = match spec.kind {
        SourceKind::Ocds => r.run_feed().await,
        SourceKind::Fts | SourceKind::Cf => r.run_windows(range, now).await,
    };
    r.report.retries = r.retries.load(Ordering::Relaxed);
    r.report.rate_limit_waits = r.waits.load(Ordering::Relaxed);
    r.report.waited_ms = r.waited_ms.load(Ordering::Relaxed);
    r.report.failed_windows = r.progress.failed.clone();
    r.report.finished_at = rfc3339(OffsetDateTime::now_utc());
    result?;
    r.progress.last_run = Some(LastRun {
        started_at: r.report.started_at.clone(),
        finished_at: r.report.finished_at.clone(),
        outcome: r.report.outcome().to_owned(),
        pages: r.report.pages,
        releases_read: r.report.releases_read,
        releases_new: r.report.releases_new,
        windows_failed: r.report.windows_failed,
        error: r
            .report
            .aborted
            .clone()
            .or_else(|| r.progress.failed.first().map(|f| f.error.clone())),
    });
    r.save().await?;
    Ok(r.report)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

async fn blocking<T: Send + 'static>(
    source: &str,
    f: impl FnOnce() -> Result<T, TargetError> + Send + 'static,
) -> Result<T, SyncError> {
    let err = |error: TargetError| SyncError::Target {
        source_name: source.to_owned(),
        error,
    };
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(err),
        Err(e) => Err(err(Box::new(e))),
    }
}

enum WalkEnd {
    Done,
    Split([Window; 2]),
}

enum WalkFail {
    Fetch(FetchError),
    Other(String),
}

impl std::fmt::Display for WalkFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WalkFail::Fetch(e) => e.fmt(f),
            WalkFail::Other(m) => f.write_str(m),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Resumed,
    Pending,
    Retry,
    Planned,
}

/// Whether the run goes on after a window.
enum Flow {
    Continue,
    Abort,
}

struct Runner<'a> {
    spec: &'a SourceSpec,
    settings: &'a SyncSettings,
    base: reqwest::Url,
    client: HttpClient,
    target: Arc<dyn SyncTarget>,
    events: &'a (dyn Fn(&SyncEvent) + Send + Sync),
    progress: SourceProgress,
    report: SyncReport,
    retries: AtomicU64,
    waits: AtomicU64,
    waited_ms: AtomicU64,
}

fn midnight(d: time::Date) -> PrimitiveDateTime {
    PrimitiveDateTime::new(d, Time::MIDNIGHT)
}

impl Runner<'_> {
    async fn save(&self) -> Result<(), SyncError> {
        let t = self.target.clone();
        let name = self.spec.name.clone();
        let p = self.progress.clone();
        blocking(&self.spec.name, move || {
            t.progress().save_progress(&name, &p)
        })
        .await
    }

    fn emit(&self, e: SyncEvent) {
        (self.events)(&e);
    }

    /// The windows `[start, end)` of this run, cut at UK midnights (or every
    /// `window_hours`).
    fn plan(&self, range: RunRange, now: OffsetDateTime) -> Vec<Window> {
        let now_local = uktime::to_uk_local(now)
            .replace_nanosecond(0)
            .unwrap_or(uktime::to_uk_local(now));
        let overlap = time::Duration::minutes(i64::from(self.settings.overlap_minutes));
        let resume_from = self.progress.synced_to.map(|s| s - overlap);
        let first_run = midnight(
            now_local.date() - time::Duration::days(i64::from(self.settings.first_run_days)),
        );
        let start = match range.from {
            Some(d) => midnight(d),
            None => resume_from.unwrap_or(first_run),
        };
        let end = match range.to.and_then(|d| d.next_day()) {
            Some(d) => midnight(d).min(now_local),
            None => now_local,
        };
        let hours = i64::from(self.settings.window_hours.max(1));
        let mut out = Vec::new();
        let mut t = start;
        while t < end {
            let boundary = if hours == 24 {
                t.date().next_day().map_or(end, midnight)
            } else {
                t + time::Duration::hours(hours)
            };
            let e = boundary.min(end);
            out.push(Window { from: t, to: e });
            t = e;
        }
        out
    }

    /// Moves `synced_to` past `w` when `w` continues it (or nothing ran yet).
    fn advance(&mut self, w: Window) {
        match self.progress.synced_to {
            None => self.progress.synced_to = Some(w.to),
            Some(s) if w.from <= s && w.to > s => self.progress.synced_to = Some(w.to),
            Some(_) => {}
        }
    }

    async fn run_windows(&mut self, range: RunRange, now: OffsetDateTime) -> Result<(), SyncError> {
        let mut planned: VecDeque<Window> = self.plan(range, now).into();
        let mut retries: VecDeque<Window> = self.progress.failed.iter().map(|f| f.window).collect();
        let resume = self
            .progress
            .current
            .clone()
            .and_then(|c| c.window.map(|w| (w, c.next)));
        let total = planned.len()
            + retries.len()
            + self.progress.pending.len()
            + usize::from(resume.is_some());
        self.report.windows_planned = total as u64;
        self.emit(SyncEvent::Planned { windows: total });
        let mut done = Vec::new();
        if let Some((w, next)) = resume {
            self.report.windows_resumed += 1;
            if let Flow::Abort = self.window(w, next, Origin::Resumed, &mut done).await? {
                return Ok(());
            }
        }
        loop {
            let (w, origin) = if let Some(w) = self.progress.pending.first().copied() {
                (w, Origin::Pending)
            } else if let Some(w) = retries.pop_front() {
                (w, Origin::Retry)
            } else if let Some(w) = planned.pop_front() {
                if done.contains(&w) {
                    continue;
                }
                (w, Origin::Planned)
            } else {
                break;
            };
            if let Flow::Abort = self.window(w, None, origin, &mut done).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn window(
        &mut self,
        w: Window,
        next: Option<String>,
        origin: Origin,
        done: &mut Vec<Window>,
    ) -> Result<Flow, SyncError> {
        if origin == Origin::Pending {
            self.progress.pending.retain(|p| *p != w);
        }
        let pages = self
            .progress
            .current
            .as_ref()
            .filter(|_| origin == Origin::Resumed)
            .map_or(0, |c| c.pages);
        self.progress.current = Some(Cursor {
            window: Some(w),
            next: next.clone(),
            pages,
        });
        self.save().await?;
        self.emit(SyncEvent::WindowStarted {
            window: Some(w),
            resumed: origin == Origin::Resumed,
        });
        tracing::debug!(source = %self.spec.name, window = %w, "walking window");
        match self.walk(Some(w), next).await? {
            Ok(WalkEnd::Done) => {
                self.progress.current = None;
                self.progress.windows_completed += 1;
                self.progress.failed.retain(|f| f.window != w);
                self.report.windows_completed += 1;
                self.advance(w);
                done.push(w);
                self.save().await?;
                self.emit(SyncEvent::WindowDone { window: Some(w) });
            }
            Ok(WalkEnd::Split(halves)) => {
                tracing::warn!(source = %self.spec.name, window = %w, "a full page came without links.next; walking the window again in halves");
                self.progress.current = None;
                self.progress.failed.retain(|f| f.window != w);
                self.progress.pending.splice(0..0, halves);
                self.report.windows_split += 1;
                self.report.windows_planned += 2;
                self.advance(w);
                self.save().await?;
                self.emit(SyncEvent::WindowSplit { window: w });
            }
            Err(WalkFail::Fetch(e)) if e.is_unreachable() => {
                // Keep the window (and its cursor) for the next run.
                let msg = e.to_string();
                self.report.aborted = Some(msg.clone());
                self.save().await?;
                self.emit(SyncEvent::WindowFailed {
                    window: Some(w),
                    error: msg,
                });
                return Ok(Flow::Abort);
            }
            Err(fail) => {
                let error = fail.to_string();
                tracing::warn!(source = %self.spec.name, window = %w, %error, "window failed; it will be retried on the next run");
                self.progress.current = None;
                match self.progress.failed.iter_mut().find(|f| f.window == w) {
                    Some(f) => {
                        f.failures += 1;
                        f.error = error.clone();
                    }
                    None => self.progress.failed.push(FailedWindow {
                        window: w,
                        error: error.clone(),
                        failures: 1,
                    }),
                }
                self.report.windows_failed += 1;
                self.advance(w);
                self.save().await?;
                self.emit(SyncEvent::WindowFailed {
                    window: Some(w),
                    error,
                });
            }
        }
        Ok(Flow::Continue)
    }

    async fn run_feed(&mut self) -> Result<(), SyncError> {
        let next = self.progress.current.clone().and_then(|c| c.next);
        self.report.windows_planned = 1;
        self.emit(SyncEvent::Planned { windows: 1 });
        if next.is_some() {
            self.report.windows_resumed = 1;
        }
        let pages = self.progress.current.as_ref().map_or(0, |c| c.pages);
        self.progress.current = Some(Cursor {
            window: None,
            next: next.clone(),
            pages,
        });
        self.save().await?;
        self.emit(SyncEvent::WindowStarted {
            window: None,
            resumed: next.is_some(),
        });
        match self.walk(None, next).await? {
            Ok(_) => {
                self.progress.current = None;
                self.progress.windows_completed += 1;
                self.report.windows_completed = 1;
                self.save().await?;
                self.emit(SyncEvent::WindowDone { window: None });
            }
            Err(fail) => {
                let error = fail.to_string();
                self.report.aborted = Some(error.clone());
                self.save().await?;
                self.emit(SyncEvent::WindowFailed {
                    window: None,
                    error,
                });
            }
        }
        Ok(())
    }

    /// The URL of a page: the first of the window, or the one `next` names.
    fn url(&self, window: Option<Window>, next: Option<&str>) -> Result<String, String> {
        if let Some(path) = next.filter(|n| n.starts_with('/')) {
            return self
                .base
                .join(path)
                .map(String::from)
                .map_err(|e| e.to_string());
        }
        let (path, from_key, to_key) = match self.spec.kind {
            SourceKind::Fts => ("api/1.0/ocdsReleasePackages", "updatedFrom", "updatedTo"),
            SourceKind::Cf => (
                "Published/Notices/OCDS/Search",
                "publishedFrom",
                "publishedTo",
            ),
            SourceKind::Ocds => {
                let Some(n) = next else {
                    return Ok(self.base.to_string());
                };
                let u = reqwest::Url::parse(n)
                    .map_err(|e| format!("links.next {n:?} is not a URL: {e}"))?;
                if u.origin() != self.base.origin() {
                    return Err(format!(
                        "links.next {n:?} leaves the configured site {}; not followed",
                        self.base.origin().ascii_serialization()
                    ));
                }
                return Ok(u.to_string());
            }
        };
        let Some(w) = window else {
            return Err("a windowed source needs a window".into());
        };
        let mut u = self.base.clone();
        let base_path = u.path().trim_end_matches('/').to_owned();
        u.set_path(&format!("{base_path}/{path}"));
        u.set_query(None);
        {
            let mut q = u.query_pairs_mut();
            q.append_pair(from_key, &uktime::format_param(w.from));
            q.append_pair(to_key, &uktime::format_param(w.to));
            q.append_pair("limit", &self.settings.page_limit.to_string());
            if let Some(c) = next {
                q.append_pair("cursor", c);
            }
        }
        Ok(u.to_string())
    }

    /// What to keep of a `links.next`: the API cursor (FTS, CF), so later
    /// pages are fetched from the configured base URL; a feed's whole URL.
    fn next_of(&self, link: &str) -> String {
        if self.spec.kind == SourceKind::Ocds {
            return link.to_owned();
        }
        match reqwest::Url::parse(link) {
            Ok(u) => match u.query_pairs().find(|(k, _)| k == "cursor") {
                Some((_, v)) => v.into_owned(),
                None => match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_owned(),
                },
            },
            Err(_) if link.starts_with('/') => link.to_owned(),
            // A bare cursor or a relative link: keep it as a cursor.
            Err(_) => link.to_owned(),
        }
    }

    async fn walk(
        &mut self,
        window: Option<Window>,
        mut next: Option<String>,
    ) -> Result<Result<WalkEnd, WalkFail>, SyncError> {
        let mut pages = 0u64;
        loop {
            if pages >= self.settings.max_pages_per_window {
                return Ok(Err(WalkFail::Other(format!(
                    "more than {pages} pages in one window; is links.next looping?"
                ))));
            }
            let url = match self.url(window, next.as_deref()) {
                Ok(u) => u,
                Err(m) => return Ok(Err(WalkFail::Other(m))),
            };
            let page = match self.fetch(&url).await {
                Ok(p) => p,
                Err(e) => return Ok(Err(WalkFail::Fetch(e))),
            };
            pages += 1;
            let n = page.outcome.releases.len();
            self.report.pages += 1;
            self.report.releases_read += n as u64;
            if page.outcome.lossy_utf8 {
                self.report.pages_lossy_utf8 += 1;
            }
            let new_next = page.next.as_deref().map(|l| self.next_of(l));
            let counts = self.ingest(page.outcome).await?;
            self.emit(SyncEvent::Page {
                releases: n,
                new: counts.releases_new,
            });
            self.add_counts(counts);
            match new_next {
                Some(c) if next.as_deref() == Some(c.as_str()) => {
                    return Ok(Err(WalkFail::Other(format!(
                        "links.next repeats the page just fetched ({url})"
                    ))));
                }
                Some(c) => {
                    next = Some(c);
                    let total_pages = self.progress.current.as_ref().map_or(0, |c| c.pages) + 1;
                    self.progress.current = Some(Cursor {
                        window,
                        next: next.clone(),
                        pages: total_pages,
                    });
                    self.save().await?;
                }
                None => {
                    if let Some(w) = window {
                        if n >= self.settings.page_limit {
                            let min = std::time::Duration::from_secs(
                                u64::from(self.settings.min_split_minutes) * 60,
                            );
                            match w.halves() {
                                Some(h) if w.duration() > min => return Ok(Ok(WalkEnd::Split(h))),
                                _ => self.report.errors.push(format!(
                                    "{w}: a full page without links.next even in a window of {} minutes; some releases may be missing",
                                    w.duration().as_secs() / 60
                                )),
                            }
                        }
                    }
                    return Ok(Ok(WalkEnd::Done));
                }
            }
        }
    }

    async fn fetch(&self, url: &str) -> Result<Page, FetchError> {
        let slot: std::sync::Mutex<Option<Page>> = std::sync::Mutex::new(None);
        // A gzip body may expand no further than a plain one may be long.
        let limits = Limits {
            max_decompressed_bytes: self.spec.http.max_body_bytes,
            ..Limits::default()
        };
        let accept = |body: &[u8]| -> Result<(), String> {
            let page = parse_page_with(body, &limits)?;
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(page);
            Ok(())
        };
        let on_event = |e: HttpEvent| {
            self.retries.fetch_add(1, Ordering::Relaxed);
            let (wait, rate_limit, reason) = match e {
                HttpEvent::RateLimitWait { wait, status } => {
                    self.waits.fetch_add(1, Ordering::Relaxed);
                    (wait, true, format!("HTTP {status}"))
                }
                HttpEvent::Backoff { wait, reason, .. } => (wait, false, reason),
            };
            self.waited_ms
                .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
            (self.events)(&SyncEvent::Waiting {
                wait,
                rate_limit,
                reason,
            });
        };
        self.client.get(url, &accept, &on_event).await?;
        let page = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        page.ok_or_else(|| FetchError::Exhausted {
            url: url.to_owned(),
            attempts: 0,
            message: "no page".into(),
        })
    }

    async fn ingest(&self, outcome: ReadOutcome) -> Result<PageCounts, SyncError> {
        let t = self.target.clone();
        let name = self.spec.name.clone();
        blocking(&self.spec.name, move || t.ingest_page(&name, outcome)).await
    }

    fn add_counts(&mut self, c: PageCounts) {
        let r = &mut self.report;
        r.releases_new += c.releases_new;
        r.releases_duplicate += c.releases_duplicate;
        r.releases_replaced += c.releases_replaced;
        r.notices_created += c.notices_created;
        r.notices_updated += c.notices_updated;
        r.errors.extend(c.errors);
    }
}
