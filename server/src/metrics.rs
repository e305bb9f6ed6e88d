//! `GET /metrics`: Prometheus text from the `metrics` facade. The recorder
//! is installed once per process ([`handle`]); counters are cumulative for
//! the process (tests that start several servers in one process compare
//! before and after). The router counts every request by its route
//! template ([`track`]); the engine counts ingests and syncs; gauges of
//! what is stored (members, notices, ledger events, alert deliveries by
//! channel and state, sources) are read at scrape time ([`render`]).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use sebroker_engine::Engine;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency buckets (seconds): a search is milliseconds, a write tens.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's recorder handle; installs the recorder on first use. If
/// another recorder was installed first (an embedding program), a private
/// one renders (empty) rather than failing the route.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = || {
            let b = PrometheusBuilder::new();
            b.set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                BUCKETS,
            )
            .unwrap_or_else(|_| PrometheusBuilder::new())
        };
        match builder().install_recorder() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "a metrics recorder was installed already");
                builder().build_recorder().handle()
            }
        }
    })
}

/// Counts a request of the route `path` (its template, never the raw
/// path) and its latency, refusals included.
pub async fn track(path: &'static str, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let start = Instant::now();
    let resp = next.run(req).await;
    record(path, &method, resp.status().as_u16(), start);
    resp
}

/// Counts one answer of `route` that started at `start`.
pub fn record(route: &'static str, method: &Method, status: u16, start: Instant) {
    let labels = [
        ("route", route.to_owned()),
        ("method", method.as_str().to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    let labels = [
        ("route", route.to_owned()),
        ("method", method.as_str().to_owned()),
    ];
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
}

/// The gauges read at scrape time, then the whole text.
pub fn render(app: &Engine) -> String {
    // The recorder must exist before the gauges are set.
    let h = handle();
    set_gauges(app);
    h.render()
}

fn set_gauges(app: &Engine) {
    // Each read is independent: one failing leaves the others' values (and
    // is logged), the scrape still answers.
    match app.store.members() {
        Ok(m) => metrics::gauge!("sebroker_members").set(m.len() as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: members unreadable"),
    }
    metrics::gauge!("sebroker_notices").set(app.index.num_docs() as f64);
    metrics::gauge!("sebroker_ledger_events").set(app.ledger.state().last_seq() as f64);
    match app.alert_log().deliveries() {
        Ok(list) => {
            let mut counts = std::collections::BTreeMap::new();
            for d in &list {
                *counts
                    .entry((d.channel.as_str(), d.state.as_str()))
                    .or_insert(0u64) += 1;
            }
            for channel in ["webhook", "email"] {
                for state in ["queued", "sending", "sent", "failed", "dead"] {
                    let n = counts.get(&(channel, state)).copied().unwrap_or(0);
                    metrics::gauge!("sebroker_alert_deliveries", "channel" => channel, "state" => state)
                        .set(n as f64);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: deliveries unreadable"),
    }
    // The board, not `sources::statuses` (which reads every notice).
    for (src, s) in app.sources.snapshot() {
        metrics::gauge!("sebroker_source_running", "source" => src.clone())
            .set(f64::from(u8::from(s.running)));
        metrics::gauge!("sebroker_source_scheduled_runs", "source" => src).set(s.runs as f64);
    }
}

/// The answer of `GET /metrics`.
pub fn answer(text: String) -> Response {
    let mut r = text.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}
