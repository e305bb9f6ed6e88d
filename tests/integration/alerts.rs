//! Alerts: selection and updates in-process on the demo data; webhooks
//! end to end against a real receiver on 127.0.0.1 (retries after 500s,
//! signatures, dead letters, redirects and SSRF refusals); the `.eml`
//! outbox; the Atom feed; a crash mid-delivery and the restart.

use std::collections::BTreeSet;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use sebroker_alerts::settings::SettingsInput;
use sebroker_alerts::{self as alerts, AlertKind, Change, Frequency, RunOptions, Scope};
use sebroker_engine::Engine;
use time::macros::datetime;

use crate::cli::serve;
use crate::common::{repo, run_json, tempdir};

const ADMIN: &str = "alerts-admin-token-0123456789";

fn demo_text(name: &str) -> String {
    std::fs::read_to_string(repo().join("fixtures/demo").join(name)).expect("demo file")
}

/// The FTS demo file without the given release ids.
fn fts_without(ids: &[&str]) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&demo_text("fts-2026-11.json")).expect("json");
    if let Some(rs) = v["releases"].as_array_mut() {
        rs.retain(|r| !ids.iter().any(|id| r["id"] == *id));
    }
    v.to_string()
}

fn open_demo(fts: &str) -> (tempfile::TempDir, Engine) {
    let dir = tempdir();
    let app = Engine::open_dir(dir.path()).expect("opens");
    let parsed = {
        let places = app.places();
        let clusters: Vec<String> = sebroker_connectors::members::DEFAULT_CLUSTERS
            .iter()
            .map(|c| (*c).to_owned())
            .collect();
        sebroker_connectors::members::parse_text(
            &demo_text("members.json"),
            "json",
            &clusters,
            &places,
        )
    };
    for m in &parsed.members {
        app.store.put_member(m).expect("member");
    }
    app.matches.reload_members().expect("reload");
    let opts = sebroker_engine::ingest::IngestOptions::default();
    sebroker_engine::ingest::ingest_text(&app, "fts", fts, &opts).expect("fts");
    sebroker_engine::ingest::ingest_text(&app, "cf", &demo_text("cf-2026-11.json"), &opts)
        .expect("cf");
    (dir, app)
}

fn subscribe(app: &Engine, member: &str, json: &str) {
    let input: SettingsInput = serde_json::from_str(json).expect("settings json");
    alerts::put_settings(app, member, input, time::OffsetDateTime::now_utc()).expect("settings");
}

fn run_at(app: &Engine, now: time::OffsetDateTime, scope: Scope) -> alerts::RunReport {
    alerts::run(
        app,
        &RunOptions {
            now,
            dry_run: false,
            scope,
        },
    )
    .expect("run")
}

#[test]
fn updates_on_cancellation_and_deadline_moves_never_repeats() {
    // Without the cancellation (900035) and the deadline extension (900036).
    let (_d, app) = open_demo(&fts_without(&["900035-2026", "900036-2026"]));
    subscribe(&app, "m-0011", r#"{"frequency":"instant","feed":true}"#);
    subscribe(&app, "m-0020", r#"{"frequency":"instant","feed":true}"#);
    let now = datetime!(2026-11-18 12:00 UTC);
    let r = run_at(&app, now, Scope::All);
    let log = app.alert_log();
    let first = log.alerts_of("m-0011", 10).expect("alerts");
    assert_eq!(first.len(), 1, "{r:?}");
    let ocids: Vec<&str> = first[0].items.iter().map(|i| i.ocid.as_str()).collect();
    assert!(ocids.contains(&"ocds-h6vhtk-d00004"), "{ocids:?}");
    // Ranked: scores never increase; every item explained and linked.
    let scores: Vec<f64> = first[0].items.iter().filter_map(|i| i.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(first[0]
        .items
        .iter()
        .all(|i| !i.reasons.is_empty() && i.score.is_some_and(|s| s >= 0.6)));

    // Nothing new: nothing sent.
    let again = run_at(&app, now, Scope::All);
    assert!(again.alerts.is_empty(), "{again:?}");

    // The cancellation and the deadline extension arrive.
    let opts = sebroker_engine::ingest::IngestOptions::default();
    sebroker_engine::ingest::ingest_text(&app, "fts", &demo_text("fts-2026-11.json"), &opts)
        .expect("fts");
    let later = datetime!(2026-11-21 12:00 UTC);
    let r = run_at(&app, later, Scope::Changes);
    let upd = log.alerts_of("m-0011", 10).expect("alerts");
    assert_eq!(upd.len(), 2, "{r:?}");
    let item = &upd[0].items[0];
    assert_eq!(item.ocid, "ocds-h6vhtk-d00004");
    assert_eq!(item.kind, "update");
    assert!(item.changes.contains(&Change::Cancelled), "{item:?}");
    assert_eq!(upd[0].items.len(), 1, "only the update: {:?}", upd[0].items);
    let m20 = log.alerts_of("m-0020", 10).expect("alerts");
    let moved = m20[0]
        .items
        .iter()
        .find(|i| i.ocid == "ocds-h6vhtk-d00007")
        .expect("the peer support update");
    assert!(
        matches!(moved.changes[0], Change::DeadlineMoved { .. }),
        "{moved:?}"
    );
    // Once told, never again.
    assert!(run_at(&app, later, Scope::All).alerts.is_empty());

    // Early signals are marked.
    for a in log.alerts_of("m-0020", 10).expect("alerts") {
        for i in a.items.iter().filter_map(|i| i.signal.as_ref()) {
            assert!(
                [
                    "pipeline",
                    "market_engagement",
                    "planned_procurement",
                    "early_engagement"
                ]
                .contains(&i.kind.as_str()),
                "{i:?}"
            );
        }
    }
}

#[test]
fn digests_group_rank_and_follow_the_schedule() {
    let (_d, app) = open_demo(&demo_text("fts-2026-11.json"));
    subscribe(
        &app,
        "m-0013",
        r#"{"frequency":"daily","threshold":0.5,"feed":true}"#,
    );
    subscribe(&app, "m-0016", r#"{"frequency":"weekly","feed":true}"#);
    // Tuesday 1 Dec 2026, 09:00 UK: the daily digest is due (08:00), the
    // weekly one (Mondays) too on its first run.
    let r = run_at(&app, datetime!(2026-12-01 09:00 UTC), Scope::All);
    assert_eq!(r.digests_due, 2, "{r:?}");
    let log = app.alert_log();
    let daily = log.alerts_of("m-0013", 10).expect("alerts");
    assert_eq!(daily.len(), 1);
    assert_eq!(daily[0].kind, AlertKind::Daily);
    assert!(daily[0].items.len() >= 5, "{:?}", daily[0].items);
    let scores: Vec<f64> = daily[0].items.iter().filter_map(|i| i.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    assert!(daily[0]
        .items
        .iter()
        .all(|i| i.score.is_some_and(|s| s >= 0.5)));
    // Before the next slot nothing is due; at it, the digest runs but has
    // nothing new.
    let r = run_at(&app, datetime!(2026-12-01 20:00 UTC), Scope::All);
    assert_eq!(r.digests_due, 0);
    let r = run_at(&app, datetime!(2026-12-02 08:30 UTC), Scope::All);
    assert_eq!(r.digests_due, 1, "only the daily one");
    assert!(r.alerts.is_empty());
    assert_eq!(
        log.settings("m-0016").expect("s").map(|s| s.frequency),
        Some(Frequency::Weekly)
    );
    // The digest ranks across its items and no notice appears twice.
    let all: Vec<String> = daily[0].items.iter().map(|i| i.ocid.clone()).collect();
    let set: BTreeSet<&String> = all.iter().collect();
    assert_eq!(set.len(), all.len());
}

#[test]
fn broker_alerts_for_consortia_and_few_matches() {
    let (_d, mut demo) = open_demo(&demo_text("fts-2026-11.json"));
    demo.config.alerts = toml::from_str::<sebroker_engine::config::FileConfig>(
        "[alerts]\nbroker_feed_token = 'broker-feed-token-0123456789'\nbroker_high_value_gbp = 500000\n",
    )
    .expect("toml")
    .alerts
    .expect("alerts")
    .resolve(None, &"127.0.0.1:1".parse().expect("addr"), None)
    .expect("valid");
    let r = run_at(&demo, datetime!(2026-11-27 10:00 UTC), Scope::All);
    let b = demo
        .alert_log()
        .alerts_of(alerts::BROKERS, 5)
        .expect("alerts");
    assert_eq!(b.len(), 1, "{r:?}");
    let kinds: BTreeSet<String> = b[0]
        .items
        .iter()
        .filter_map(|i| i.broker.as_ref().map(|n| n.kind.clone()))
        .collect();
    assert!(!kinds.is_empty(), "{:?}", b[0].items);
    assert!(
        kinds
            .iter()
            .all(|k| k == "consortium" || k == "few_matches"),
        "{kinds:?}"
    );
    let feed = alerts::feed_for_token(
        &demo,
        "broker-feed-token-0123456789",
        datetime!(2026-11-27 10:00 UTC),
    )
    .expect("feed")
    .expect("the broker feed");
    let parsed = feed_rs::parser::parse(feed.as_bytes()).expect("valid Atom");
    assert_eq!(parsed.entries.len(), b[0].items.len());
    assert!(
        alerts::feed_for_token(&demo, "nope", datetime!(2026-11-27 10:00 UTC))
            .expect("feed")
            .is_none()
    );
}

// ---- end to end: a webhook receiver and the real server ----

#[derive(Clone, Debug)]
struct Received {
    path: String,
    delivery: String,
    timestamp: i64,
    signature: String,
    body: Vec<u8>,
}

#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Received>>,
    /// Paths answered 500 this many more times.
    fail: Mutex<std::collections::HashMap<String, u32>>,
    /// Paths that never answer.
    hang: Mutex<BTreeSet<String>>,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    AxPath(path): AxPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    r.got.lock().expect("lock").push(Received {
        path: path.clone(),
        delivery: h("sebroker-delivery"),
        timestamp: h("sebroker-timestamp").parse().unwrap_or(0),
        signature: h("sebroker-signature"),
        body: body.to_vec(),
    });
    if r.hang.lock().expect("lock").contains(&path) {
        std::future::pending::<()>().await;
    }
    if path == "redirect" {
        return (
            StatusCode::FOUND,
            [("location", "http://127.0.0.1:1/target")],
        )
            .into_response();
    }
    if path == "down" {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut fail = r.fail.lock().expect("lock");
    if let Some(n) = fail.get_mut(&path).filter(|n| **n > 0) {
        *n -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

struct Env {
    rt: tokio::runtime::Runtime,
    receiver: Arc<Receiver>,
    hook: String,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Env {
    fn new() -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let receiver = Arc::new(Receiver::default());
        let router = axum::Router::new()
            .route("/hook/{path}", axum::routing::post(receive))
            .with_state(receiver.clone());
        let addr = rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let a = l.local_addr().expect("addr");
            tokio::spawn(async move { axum::serve(l, router).await });
            a
        });
        let dir = tempdir();
        let demo = repo().join("fixtures/demo");
        for args in [
            vec![
                "ingest",
                demo.join("fts-2026-11.json").to_str().expect("p"),
                demo.join("cf-2026-11.json").to_str().expect("p"),
                "--json",
            ],
            vec![
                "members",
                "import",
                demo.join("members.json").to_str().expect("p"),
                "--json",
            ],
        ] {
            let (code, _) = run_json(dir.path(), &args);
            assert_eq!(code, 0);
        }
        let config = dir.path().join("sebroker.toml");
        std::fs::write(
            &config,
            format!(
                "admin_token = '{ADMIN}'\npublic_url = 'https://brokerage.example.org'\n[alerts]\nwebhook_allow = ['127.0.0.1']\nbackoff_base_ms = 10\nbackoff_max_ms = 50\nmax_attempts = 4\nwebhook_timeout_ms = 120000\n"
            ),
        )
        .expect("config");
        Env {
            rt,
            receiver,
            hook: format!("http://{addr}/hook"),
            dir,
            config,
        }
    }

    fn serve(&self) -> Server {
        let d = self.dir.path().to_str().expect("p");
        let c = self.config.to_str().expect("p");
        let (child, url) = serve(&["--data-dir", d, "--config", c], &[]);
        Server { child, url }
    }

    fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<serde_json::Value>,
        token: Option<&str>,
    ) -> (u16, serde_json::Value) {
        self.rt.block_on(async {
            let c = reqwest::Client::new();
            let mut req = c.request(method, url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req.send().await.expect("request");
            let status = r.status().as_u16();
            let text = r.text().await.expect("body");
            (
                status,
                serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
            )
        })
    }

    fn get_text(&self, url: &str) -> (u16, String) {
        self.rt.block_on(async {
            let r = reqwest::get(url).await.expect("get");
            (r.status().as_u16(), r.text().await.expect("body"))
        })
    }

    fn received(&self, path: &str) -> Vec<Received> {
        self.receiver
            .got
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits (bounded) until `cond` holds.
    fn wait_for(&self, what: &str, cond: impl Fn() -> bool) {
        for _ in 0..600 {
            if cond() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("gave up waiting for {what}");
    }

    fn settings(
        &self,
        s: &Server,
        member: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call(
            reqwest::Method::PUT,
            &format!("{}/api/v1/members/{member}/alert-settings", s.url),
            Some(body),
            Some(ADMIN),
        )
    }

    fn run(&self, s: &Server) -> serde_json::Value {
        let (code, v) = self.call(
            reqwest::Method::POST,
            &format!("{}/api/v1/alerts/run", s.url),
            Some(serde_json::json!({"now": "2026-11-27T10:00:00Z"})),
            Some(ADMIN),
        );
        assert_eq!(code, 200, "{v}");
        v
    }

    fn deliveries(&self, s: &Server, member: &str) -> Vec<serde_json::Value> {
        let (code, v) = self.call(
            reqwest::Method::GET,
            &format!("{}/api/v1/alerts/deliveries?member={member}", s.url),
            None,
            Some(ADMIN),
        );
        assert_eq!(code, 200, "{v}");
        v["deliveries"].as_array().cloned().unwrap_or_default()
    }
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn verify_all(got: &[Received], secret: &str) {
    for r in got {
        assert!(
            alerts::webhook::verify(secret, r.timestamp, &r.body, &r.signature),
            "the signature of {} verifies",
            r.delivery
        );
    }
}

#[test]
fn webhooks_retry_verify_dead_letter_and_refuse_ssrf() {
    let env = Env::new();
    let s = env.serve();
    env.receiver
        .fail
        .lock()
        .expect("lock")
        .insert("a".into(), 2);

    // Routes need a key (here the admin token).
    let (code, v) = env.call(
        reqwest::Method::GET,
        &format!("{}/api/v1/members/m-0013/alerts", s.url),
        None,
        None,
    );
    assert_eq!(code, 401, "{v}");
    assert_eq!(v["error"]["code"], "missing_key");

    // SSRF: refused at subscription when not allowlisted.
    for bad in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/hook",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
    ] {
        let (code, v) = env.settings(&s, "m-0013", serde_json::json!({ "webhook_url": bad }));
        assert_eq!(code, 422, "{bad}: {v}");
        assert_eq!(v["error"]["code"], "invalid_alert_settings");
    }
    let (code, v) = env.settings(&s, "m-9999", serde_json::json!({ "frequency": "daily" }));
    assert_eq!(code, 404, "{v}");
    let (code, v) = env.settings(&s, "m-0013", serde_json::json!({ "colour": "red" }));
    assert_eq!(code, 400, "{v}");

    let (code, a) = env.settings(&s, "m-0013", serde_json::json!({ "frequency": "instant", "webhook_url": format!("{}/a", env.hook), "feed": true }));
    assert_eq!(code, 200, "{a}");
    let secret = a["webhook_secret"].as_str().expect("secret").to_owned();
    let feed_url = a["feed_url"].as_str().expect("feed url").to_owned();
    assert!(feed_url.starts_with("https://brokerage.example.org/feeds/"));
    let (_, b) = env.settings(&s, "m-0016", serde_json::json!({ "frequency": "instant", "webhook_url": format!("{}/redirect", env.hook), "feed": true }));
    let feed_b = b["feed_url"].as_str().expect("feed url").to_owned();
    env.settings(
        &s,
        "m-0017",
        serde_json::json!({ "frequency": "instant", "webhook_url": format!("{}/down", env.hook) }),
    );
    let (code, _) = env.settings(
        &s,
        "m-0001",
        serde_json::json!({ "frequency": "instant", "email": "youth@example.org" }),
    );
    assert_eq!(code, 200);

    // (The server's own catch-up run may have queued some of these already.)
    env.run(&s);

    // Down for two attempts, then up: the third attempt lands.
    env.wait_for("three attempts on /a", || env.received("a").len() >= 3);
    env.wait_for("m-0013 sent", || {
        env.deliveries(&s, "m-0013")
            .iter()
            .any(|d| d["state"] == "sent")
    });
    let got = env.received("a");
    assert_eq!(got.len(), 3);
    let ids: BTreeSet<&str> = got.iter().map(|r| r.delivery.as_str()).collect();
    assert_eq!(ids.len(), 1, "one delivery id across attempts");
    verify_all(&got, &secret);
    assert!(!alerts::webhook::verify(
        "wrong",
        got[0].timestamp,
        &got[0].body,
        &got[0].signature
    ));
    let body: serde_json::Value = serde_json::from_slice(&got[2].body).expect("json");
    assert_eq!(body["delivery_id"], got[0].delivery);
    let items = body["alert"]["items"].as_array().expect("items");
    assert_eq!(
        items[0]["ocid"], "ocds-h6vhtk-d00001",
        "Family Hubs ranks first for m-0013"
    );
    for i in items {
        assert!(i["link"]
            .as_str()
            .is_some_and(|l| l.starts_with("https://brokerage.example.org/")));
        assert!(i["reasons"].as_array().is_some_and(|r| !r.is_empty()));
        assert!(i["title"].is_string() && i.get("days_left").is_some() && i.get("value").is_some());
    }
    let d = env.deliveries(&s, "m-0013");
    assert_eq!(d[0]["attempts"], 3);

    // Always down: dead after the last attempt. A redirect is never followed.
    env.wait_for("m-0017 dead", || {
        env.deliveries(&s, "m-0017")
            .iter()
            .any(|d| d["state"] == "dead")
    });
    assert_eq!(env.received("down").len(), 4);
    env.wait_for("m-0016 dead", || {
        env.deliveries(&s, "m-0016")
            .iter()
            .any(|d| d["state"] == "dead")
    });
    let d = env.deliveries(&s, "m-0016");
    assert!(
        d[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("redirect")),
        "{d:?}"
    );
    assert_eq!(env.received("redirect").len(), 1);
    let (_, dead) = env.call(
        reqwest::Method::GET,
        &format!("{}/api/v1/alerts/deliveries?state=dead", s.url),
        None,
        Some(ADMIN),
    );
    assert_eq!(dead["deliveries"].as_array().map(Vec::len), Some(2));

    // The email went to the outbox.
    env.wait_for("m-0001 sent", || {
        env.deliveries(&s, "m-0001")
            .iter()
            .any(|d| d["state"] == "sent")
    });
    let outbox: Vec<_> = std::fs::read_dir(env.dir.path().join("outbox"))
        .expect("outbox")
        .flatten()
        .collect();
    assert_eq!(outbox.len(), 1);
    let eml = std::fs::read_to_string(outbox[0].path()).expect("eml");
    for needle in [
        "To: youth@example.org",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "List-Unsubscribe: <https://brokerage.example.org/unsubscribe/",
        "Subject: New opportunity alert",
    ] {
        assert!(eml.contains(needle), "{needle} in\n{eml}");
    }

    // No duplicate content: running again alerts nobody.
    let again = env.run(&s);
    assert_eq!(again["alerts"].as_array().map(Vec::len), Some(0), "{again}");

    // The member's alerts and feed hold only its own notices.
    let (code, mine) = env.call(
        reqwest::Method::GET,
        &format!("{}/api/v1/members/m-0013/alerts", s.url),
        None,
        Some(ADMIN),
    );
    assert_eq!(code, 200);
    assert!(
        mine["settings"].get("webhook_secret").is_none(),
        "no secrets when reading"
    );
    let n_items = mine["alerts"][0]["items"].as_array().map_or(0, Vec::len);
    let path = |u: &str| {
        u.trim_start_matches("https://brokerage.example.org")
            .to_owned()
    };
    let (code, xml) = env.get_text(&format!("{}{}", s.url, path(&feed_url)));
    assert_eq!(code, 200);
    let feed = feed_rs::parser::parse(xml.as_bytes()).expect("valid Atom");
    assert_eq!(feed.entries.len(), n_items);
    let (_, xml_b) = env.get_text(&format!("{}{}", s.url, path(&feed_b)));
    let feed_b_parsed = feed_rs::parser::parse(xml_b.as_bytes()).expect("valid Atom");
    let alert_a = mine["alerts"][0]["id"].as_str().expect("id");
    assert!(
        feed_b_parsed
            .entries
            .iter()
            .all(|e| !e.id.contains(alert_a)),
        "another member's feed shows none of m-0013's alerts"
    );
    // Revoked: the old URL is gone.
    env.settings(&s, "m-0013", serde_json::json!({ "feed": false }));
    let (code, _) = env.get_text(&format!("{}{}", s.url, path(&feed_url)));
    assert_eq!(code, 404);

    // The e-mail's unsubscribe link: a page that asks, then the button.
    let token = eml
        .split("/unsubscribe/")
        .nth(1)
        .and_then(|r| r.split(['>', '"', '\r', '\n']).next())
        .expect("an unsubscribe link")
        .to_owned();
    let (code, page) = env.get_text(&format!("{}/unsubscribe/{token}", s.url));
    assert_eq!(code, 200);
    assert!(
        page.contains("<html lang=\"en\">") && page.contains("<title>"),
        "{page}"
    );
    assert!(
        page.contains(&format!("action=\"/unsubscribe/{token}\"")),
        "{page}"
    );
    let unsubscribe = |t: &str| {
        env.call(
            reqwest::Method::POST,
            &format!("{}/unsubscribe/{t}", s.url),
            None,
            None,
        )
    };
    let (code, refused) = unsubscribe("not-a-token");
    assert_eq!(code, 404);
    assert_eq!(
        refused["error"]["code"], "unsubscribe_not_found",
        "{refused}"
    );
    let (code, done) = unsubscribe(&token);
    assert_eq!(code, 200, "{done}");
    let (_, after) = env.call(
        reqwest::Method::GET,
        &format!("{}/api/v1/members/m-0001/alerts", s.url),
        None,
        Some(ADMIN),
    );
    assert!(after["settings"]["email"].is_null(), "{after}");
}

#[test]
fn a_crash_mid_delivery_resends_only_that_delivery() {
    let env = Env::new();
    env.receiver
        .hang
        .lock()
        .expect("lock")
        .insert("hang".into());
    let first_id;
    {
        let s = env.serve();
        let (_, a) = env.settings(
            &s,
            "m-0013",
            serde_json::json!({ "frequency": "instant", "webhook_url": format!("{}/a", env.hook) }),
        );
        assert!(a["webhook_secret"].is_string());
        env.run(&s);
        env.wait_for("m-0013 sent", || {
            env.deliveries(&s, "m-0013")
                .iter()
                .any(|d| d["state"] == "sent")
        });
        first_id = env.received("a")[0].delivery.clone();
        // The second member's receiver takes the request and never answers.
        env.settings(&s, "m-0016", serde_json::json!({ "frequency": "instant", "webhook_url": format!("{}/hang", env.hook) }));
        env.run(&s);
        env.wait_for("the hanging request", || !env.received("hang").is_empty());
        let d = env.deliveries(&s, "m-0016");
        assert_eq!(d[0]["state"], "sending", "{d:?}");
        // Crash: SIGKILL, no chance to record anything.
        drop(s);
    }
    env.receiver.hang.lock().expect("lock").clear();
    let hung_id = env.received("hang")[0].delivery.clone();
    let s = env.serve();
    env.wait_for("the resend", || env.received("hang").len() >= 2);
    env.wait_for("m-0016 sent", || {
        env.deliveries(&s, "m-0016")
            .iter()
            .any(|d| d["state"] == "sent")
    });
    let hang = env.received("hang");
    assert_eq!(hang.len(), 2);
    assert_eq!(hang[1].delivery, hung_id, "the same delivery id again");
    assert_eq!(hang[0].body, hang[1].body, "the same content again");
    // What was recorded as sent is never sent again; nothing new is alerted.
    let again = env.run(&s);
    assert_eq!(again["alerts"].as_array().map(Vec::len), Some(0), "{again}");
    std::thread::sleep(Duration::from_millis(200));
    let a = env.received("a");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].delivery, first_id);
}

#[test]
fn a_members_alerts_are_invisible_to_other_members() {
    let (mut server, url, keys) = crate::browser::demo_server_with_keys();
    let get = |path: &str, key: &str| -> u16 {
        reqwest::blocking::Client::new()
            .get(format!("{url}{path}"))
            .bearer_auth(key)
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let (label, member_key) = keys
        .iter()
        .find(|(l, _)| l.starts_with("member "))
        .expect("member key");
    let own = label.trim_start_matches("member ");
    let other = if own == "m-0013" { "m-0001" } else { "m-0013" };
    let results = [
        get(&format!("/api/v1/members/{own}/alerts"), member_key),
        get(&format!("/api/v1/members/{other}/alerts"), member_key),
        get("/api/v1/alerts/deliveries", member_key),
        get(
            &format!("/api/v1/members/{other}/alerts"),
            keys.get("broker").expect("broker"),
        ),
        get(
            &format!("/api/v1/members/{other}/alerts"),
            keys.get("funder").expect("funder"),
        ),
    ];
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(results, [200, 404, 403, 200, 403]);
}
