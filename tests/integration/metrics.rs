//! `GET /metrics` of a real `serve --demo`: it parses as Prometheus text,
//! the request counter of a route moves after a request, the ingest
//! counters after an anchor's upload (read from the anchors fixture), the
//! webhook deliveries after an alert run (to a receiver on 127.0.0.1);
//! admin keys and the `metrics_token` read it, member and broker keys get
//! 403, no key 401, and the metrics token opens no other route.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{json, Value};

use crate::cli::{serve_demo, DemoServer};
use crate::common::{repo, tempdir};

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";

/// One sample: its name and labels, as written.
type Samples = HashMap<String, f64>;

/// Parses the text format: `name{a="x",b="y"} value` lines, comments
/// skipped; labels are sorted so a key does not depend on their order.
fn parse(text: &str) -> Samples {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let key = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').expect("labels close");
                let mut l: Vec<&str> = labels.split(',').filter(|s| !s.is_empty()).collect();
                l.sort_unstable();
                format!("{name}{{{}}}", l.join(","))
            }
            None => series.to_owned(),
        };
        assert!(
            key.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_'),
            "not a metric name: {line}"
        );
        out.insert(key, value);
    }
    out
}

fn get(s: &Samples, key: &str) -> f64 {
    s.get(key).copied().unwrap_or(0.0)
}

/// A webhook receiver on 127.0.0.1 that answers 200 to every request.
fn receiver() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let got = Arc::new(AtomicUsize::new(0));
    let count = got.clone();
    std::thread::spawn(move || {
        for stream in l.incoming().take(1000) {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            count.fetch_add(1, Ordering::SeqCst);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (format!("http://{addr}/hook"), got)
}

struct Env {
    s: DemoServer,
    http: Client,
    _dir: tempfile::TempDir,
}

impl Env {
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut r = self.http.request(method, format!("{}{path}", self.s.url));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().expect("request");
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    }

    fn scrape(&self) -> Samples {
        let r = self
            .http
            .get(format!("{}/metrics", self.s.url))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .expect("scrape");
        assert_eq!(r.status().as_u16(), 200);
        let ct = r.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        parse(&r.text().expect("text"))
    }
}

fn start() -> Env {
    let dir = tempdir();
    let config = dir.path().join("sebroker.toml");
    std::fs::write(
        &config,
        format!("[server]\nmetrics_token = '{METRICS_TOKEN}'\n[alerts]\nwebhook_allow = ['127.0.0.1']\nbackoff_base_ms = 10\nbackoff_max_ms = 50\n"),
    )
    .expect("config");
    let c = config.to_str().expect("utf-8 path").to_owned();
    let s = serve_demo(&["--config", &c], &["--demo"]);
    let http = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    Env { s, http, _dir: dir }
}

#[test]
fn metrics_parse_move_and_need_an_admin_or_the_metrics_token() {
    use reqwest::Method;
    let e = start();
    let admin = e.s.key("admin").to_owned();

    // Who may read it.
    assert_eq!(e.call(Method::GET, "/metrics", None, None).0, 401);
    let member =
        e.s.keys
            .iter()
            .find(|(k, _)| k.starts_with("member "))
            .map(|(_, v)| v.clone())
            .expect("a demo member key");
    assert_eq!(e.call(Method::GET, "/metrics", Some(&member), None).0, 403);
    assert_eq!(
        e.call(Method::GET, "/metrics", Some(e.s.key("broker")), None)
            .0,
        403
    );
    assert_eq!(e.call(Method::GET, "/metrics", Some(&admin), None).0, 200);
    // The metrics token reads /metrics and nothing else.
    for path in ["/api/v1/members", "/api/v1/keys", "/api/v1/totals"] {
        assert_eq!(
            e.call(Method::GET, path, Some(METRICS_TOKEN), None).0,
            401,
            "{path}"
        );
    }

    // Requests by route template and status, with a latency histogram.
    let before = e.scrape();
    let hz = r#"http_requests_total{method="GET",route="/healthz",status="200"}"#;
    for _ in 0..3 {
        assert_eq!(e.call(Method::GET, "/healthz", None, None).0, 200);
    }
    let (st, _) = e.call(
        Method::GET,
        "/api/v1/notices/no-such-ocid",
        Some(&admin),
        None,
    );
    assert_eq!(st, 404);
    let after = e.scrape();
    assert_eq!(get(&after, hz) - get(&before, hz), 3.0);
    let nf = r#"http_requests_total{method="GET",route="/api/v1/notices/{ocid}",status="404"}"#;
    assert_eq!(
        get(&after, nf) - get(&before, nf),
        1.0,
        "the template, not the raw path"
    );
    assert!(
        !after.keys().any(|k| k.contains("no-such-ocid")),
        "a raw path became a label"
    );
    let count = r#"http_request_duration_seconds_count{method="GET",route="/healthz"}"#;
    assert!(get(&after, count) >= 3.0, "{count}");
    assert!(get(&after, "sebroker_members") >= 1.0);
    assert!(get(&after, "sebroker_notices") >= 1.0);

    // Ingest counters: one opportunity of the anchors fixture, twice.
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("fixtures/anchors/opportunities.json"))
            .expect("fixture"),
    )
    .expect("JSON");
    let opp = fixture["opportunities"][0].clone();
    let (st, body) = e.call(
        Method::POST,
        "/api/v1/anchors/metrics-test/opportunities",
        Some(&admin),
        Some(opp.clone()),
    );
    assert_eq!(st, 201, "{body}");
    let mid = e.scrape();
    for (name, moved) in [
        ("sebroker_ingest_releases_read_total", 1.0),
        ("sebroker_ingest_releases_new_total", 1.0),
        ("sebroker_ingest_notices_created_total", 1.0),
    ] {
        assert_eq!(get(&mid, name) - get(&after, name), moved, "{name}");
    }
    let (st, body) = e.call(
        Method::POST,
        "/api/v1/anchors/metrics-test/opportunities",
        Some(&admin),
        Some(opp),
    );
    assert_eq!(st, 200, "{body}");
    let again = e.scrape();
    let dup = "sebroker_ingest_releases_duplicate_total";
    assert_eq!(get(&again, dup) - get(&mid, dup), 1.0, "{dup}");
    assert_eq!(
        get(&again, "sebroker_ingest_notices_created_total"),
        get(&mid, "sebroker_ingest_notices_created_total")
    );
    let events = get(&again, "sebroker_ledger_events");

    // Deliveries by channel and state: every member on a webhook, then a run.
    let (hook, received) = receiver();
    let (_, members) = e.call(
        Method::GET,
        "/api/v1/members?limit=1000",
        Some(&admin),
        None,
    );
    let members: Value = serde_json::from_str(&members).expect("members JSON");
    for m in members["members"].as_array().expect("a list") {
        let id = m["id"].as_str().expect("id");
        let (st, body) = e.call(
            Method::PUT,
            &format!("/api/v1/members/{id}/alert-settings"),
            Some(&admin),
            Some(json!({"webhook_url": hook, "frequency": "instant", "threshold": 0.05})),
        );
        assert_eq!(st, 200, "{body}");
    }
    let webhook_total = |s: &Samples| -> f64 {
        ["queued", "sending", "sent", "failed", "dead"]
            .iter()
            .map(|st| {
                get(
                    s,
                    &format!(r#"sebroker_alert_deliveries{{channel="webhook",state="{st}"}}"#),
                )
            })
            .sum()
    };
    let before_run = e.scrape();
    let (st, body) = e.call(
        Method::POST,
        "/api/v1/alerts/run",
        Some(&admin),
        Some(json!({"now": "2026-12-01"})),
    );
    assert_eq!(st, 200, "{body}");
    let run = e.scrape();
    assert!(
        webhook_total(&run) > webhook_total(&before_run),
        "no webhook delivery counted after the run: {body}"
    );
    let sent = r#"sebroker_alert_deliveries{channel="webhook",state="sent"}"#;
    let mut done = false;
    for _ in 0..300 {
        if get(&e.scrape(), sent) >= 1.0 && received.load(Ordering::SeqCst) >= 1 {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        done,
        "no webhook delivery reached the receiver and was counted sent"
    );
    assert_eq!(
        get(&e.scrape(), "sebroker_ledger_events"),
        events,
        "no ledger write happened"
    );
}
