//! Live sources against a local replay of the real FTS and CF pages, with
//! injected faults; anchors; opportunity groups; the sources API.
//!
//! Delays are scaled down (Retry-After × 0.002, CF's 5 minutes → 150 ms,
//! backoff in tens of milliseconds); waits are checked as lower bounds only.

mod replay;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use replay::{Fault, Replay, CF_DAY};
use sebroker_connectors::http::HttpSettings;
use sebroker_connectors::sync::{RunRange, SourceSpec, SyncEvent, SyncReport, SyncSettings};
use sebroker_engine::sources::run_once;
use sebroker_engine::Engine;
use time::macros::{date, datetime};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shared_data(test: &str) -> Option<PathBuf> {
    // One rule for every real-data test: skip with a message, or fail when
    // SEBROKER_REQUIRE_DATA=1 (CI).
    let p = crate::common::shared_data(test)?;
    assert!(
        p.join("ocds/fts/backfill").is_dir(),
        "{test}: ../shared/data has no ocds/fts/backfill (the sync tests replay its real pages)"
    );
    Some(p)
}

fn fast_http(base: HttpSettings) -> HttpSettings {
    HttpSettings {
        min_interval_ms: 0,
        timeout_ms: 30_000,
        max_attempts: 4,
        backoff_base_ms: 10,
        backoff_max_ms: 40,
        retry_after_scale: 0.002,
        forbidden_wait_ms: base.forbidden_wait_ms.map(|_| 150),
        ..base
    }
}

struct Env {
    rt: tokio::runtime::Runtime,
    replay: Arc<Replay>,
    app: Arc<Engine>,
    base: String,
    _dir: tempfile::TempDir,
}

fn env(test: &str) -> Option<Env> {
    let data = shared_data(test)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let replay = Replay::load(&data);
    let base = rt.block_on(replay.start());
    let dir = tempfile::Builder::new()
        .prefix("sebroker-sync-")
        .tempdir()
        .expect("tempdir");
    let app = Arc::new(Engine::open_dir(dir.path()).expect("app"));
    Some(Env {
        rt,
        replay,
        app,
        base,
        _dir: dir,
    })
}

impl Env {
    fn fts(&self) -> SourceSpec {
        let mut s = SourceSpec::fts(Some(&self.base));
        s.http = fast_http(s.http);
        s
    }

    fn cf(&self) -> SourceSpec {
        let mut s = SourceSpec::cf(Some(&self.base));
        s.http = fast_http(s.http);
        s
    }

    fn run(&self, spec: &SourceSpec, range: RunRange) -> SyncReport {
        let now = datetime!(2026-08-20 00:00 UTC);
        self.rt
            .block_on(run_once(
                self.app.clone(),
                spec,
                &SyncSettings::default(),
                range,
                now,
                &|_| {},
            ))
            .expect("the run completes")
    }

    fn releases_stored(&self) -> u64 {
        self.app.store.counts().expect("counts").releases
    }
}

const DAY1: RunRange = RunRange {
    from: Some(date!(2026 - 08 - 10)),
    to: Some(date!(2026 - 08 - 10)),
};
const TWO_DAYS: RunRange = RunRange {
    from: Some(date!(2026 - 08 - 10)),
    to: Some(date!(2026 - 08 - 11)),
};

#[test]
fn fts_backfill_walks_both_days_once() {
    let Some(e) = env("fts_backfill_walks_both_days_once") else {
        return;
    };
    let (d1, d2) = (
        e.replay.day_count("2026-08-10"),
        e.replay.day_count("2026-08-11"),
    );
    assert_eq!((d1, d2), (459, 496));
    let r = e.run(&e.fts(), TWO_DAYS);
    assert_eq!(r.outcome(), "ok", "{r:?}");
    assert_eq!(r.pages, 10);
    assert_eq!(r.releases_read, 955);
    assert_eq!(r.releases_new, 955);
    assert_eq!(r.releases_duplicate, 0);
    assert_eq!(e.releases_stored(), 955);
    assert_eq!(r.windows_completed, 2);
    // Continuing without dates starts from the end of the last window.
    let p = e.app.store.sync_progress("fts").expect("progress");
    assert_eq!(p.synced_to, Some(datetime!(2026-08-12 00:00)));
    assert!(p.current.is_none() && p.failed.is_empty());
    // Again: nothing new, every release a duplicate.
    let r = e.run(&e.fts(), DAY1);
    assert_eq!((r.releases_new, r.releases_duplicate), (0, 459));
    assert_eq!(e.releases_stored(), 955);
}

#[test]
fn fts_429_with_and_without_retry_after_and_503() {
    let Some(e) = env("fts_429_with_and_without_retry_after_and_503") else {
        return;
    };
    e.replay.inject(
        "fts:2026-08-10:2",
        Fault::TooMany {
            retry_after: Some(120),
        },
    );
    e.replay
        .inject("fts:2026-08-10:3", Fault::TooMany { retry_after: None });
    e.replay.inject("fts:2026-08-10:4", Fault::Unavailable);
    let r = e.run(&e.fts(), DAY1);
    assert_eq!(r.outcome(), "ok", "{r:?}");
    assert_eq!(r.releases_new, 459);
    assert_eq!(e.releases_stored(), 459);
    assert_eq!(r.rate_limit_waits, 2, "{r:?}");
    assert_eq!(r.retries, 3);
    // Retry-After: 120 scaled by 0.002 = 240 ms, honoured before the retry.
    let p2 = e.replay.requests("fts:2026-08-10:2");
    assert_eq!(
        p2.iter().map(|l| l.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
    assert!(p2[1].at - p2[0].at >= Duration::from_millis(240));
    assert!(r.waited_ms >= 240);
    assert_eq!(e.replay.requests("fts:2026-08-10:4").len(), 2);
}

#[test]
fn fts_truncated_and_html_pages_are_fetched_again() {
    let Some(e) = env("fts_truncated_and_html_pages_are_fetched_again") else {
        return;
    };
    e.replay.inject("fts:2026-08-10:1", Fault::Truncated);
    e.replay.inject("fts:2026-08-10:3", Fault::Html200);
    let r = e.run(&e.fts(), DAY1);
    assert_eq!(r.outcome(), "ok", "{r:?}");
    assert_eq!((r.pages, r.releases_new, r.releases_duplicate), (5, 459, 0));
    assert_eq!(e.releases_stored(), 459);
    assert_eq!(e.replay.requests("fts:2026-08-10:1").len(), 2);
    assert_eq!(e.replay.requests("fts:2026-08-10:3").len(), 2);
}

#[test]
fn fts_full_page_without_next_rewalks_the_window_in_halves() {
    let Some(e) = env("fts_full_page_without_next_rewalks_the_window_in_halves") else {
        return;
    };
    e.replay.inject("fts:2026-08-10:2", Fault::DropNext);
    let r = e.run(&e.fts(), DAY1);
    assert_eq!(r.outcome(), "ok", "{r:?}");
    assert_eq!(r.windows_split, 1);
    assert_eq!(r.releases_new, 459, "{r:?}");
    assert_eq!(e.releases_stored(), 459);
    // The two pages read before the split came again in the halves.
    assert_eq!(r.releases_duplicate, 200);
    assert!(e.replay.requests("fts:2026-08-10:3").is_empty());
}

#[test]
fn fts_slow_response_times_out_and_is_retried() {
    let Some(e) = env("fts_slow_response_times_out_and_is_retried") else {
        return;
    };
    e.replay
        .inject("fts:2026-08-10:2", Fault::Slow(Duration::from_secs(5)));
    let mut spec = e.fts();
    spec.http.timeout_ms = 1_500;
    let r = e.run(&spec, DAY1);
    assert_eq!(r.outcome(), "ok", "{r:?}");
    assert_eq!(r.releases_new, 459);
    assert_eq!(r.retries, 1);
    assert_eq!(e.replay.requests("fts:2026-08-10:2").len(), 2);
}

#[test]
fn fts_window_that_keeps_failing_is_recorded_and_retried_next_run() {
    let Some(e) = env("fts_window_that_keeps_failing_is_recorded_and_retried_next_run") else {
        return;
    };
    for _ in 0..4 {
        e.replay.inject("fts:2026-08-10:3", Fault::Unavailable);
    }
    let r = e.run(&e.fts(), TWO_DAYS);
    assert_eq!(r.outcome(), "partial", "{r:?}");
    assert_eq!((r.windows_failed, r.windows_completed), (1, 1));
    assert_eq!(r.failed_windows.len(), 1);
    // The later window went on.
    assert_eq!(r.releases_new, 200 + 496);
    // The next run (no dates) retries the failed window.
    let r = e.run(&e.fts(), RunRange::default());
    assert!(r.failed_windows.is_empty(), "{r:?}");
    assert_eq!(e.releases_stored(), 955);
    assert!(e
        .app
        .store
        .sync_progress("fts")
        .expect("progress")
        .failed
        .is_empty());
}

#[test]
fn fts_stopped_mid_walk_resumes_at_its_cursor() {
    let Some(e) = env("fts_stopped_mid_walk_resumes_at_its_cursor") else {
        return;
    };
    let spec = e.fts();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let pages = Arc::new(Mutex::new(0));
    let app = e.app.clone();
    let task = {
        let spec = spec.clone();
        let pages = pages.clone();
        e.rt.spawn(async move {
            let on_event = move |ev: &SyncEvent| {
                if let SyncEvent::Page { .. } = ev {
                    let mut n = pages.lock().expect("lock");
                    *n += 1;
                    if *n == 2 {
                        if let Some(tx) = tx.lock().expect("lock").take() {
                            let _ = tx.send(());
                        }
                    }
                }
            };
            let now = datetime!(2026-08-20 00:00 UTC);
            run_once(app, &spec, &SyncSettings::default(), DAY1, now, &on_event).await
        })
    };
    rx.recv_timeout(Duration::from_secs(60))
        .expect("two pages arrive");
    task.abort();
    let _ = e.rt.block_on(task);
    let p = e.app.store.sync_progress("fts").expect("progress");
    assert!(p.current.is_some(), "the window in progress is kept: {p:?}");
    assert!(e.releases_stored() < 459);
    let r = e.run(&spec, DAY1);
    assert_eq!(r.outcome(), "ok", "{r:?}");
    assert_eq!(r.windows_resumed, 1);
    assert_eq!(e.releases_stored(), 459);
    // Resumed at the cursor: the first page was never fetched again.
    assert_eq!(e.replay.requests("fts:2026-08-10:1").len(), 1);
    assert!(
        r.releases_duplicate <= 100,
        "at most the page in flight came twice: {r:?}"
    );
}

#[test]
fn cf_403_waits_and_invalid_utf8_is_counted() {
    let Some(e) = env("cf_403_waits_and_invalid_utf8_is_counted") else {
        return;
    };
    e.replay.inject("cf:1", Fault::Forbidden);
    e.replay.inject("cf:1", Fault::InvalidUtf8);
    let day = time::Date::parse(
        CF_DAY,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .expect("date");
    let r = e.run(
        &e.cf(),
        RunRange {
            from: Some(day),
            to: Some(day),
        },
    );
    assert_eq!(r.outcome(), "ok", "{r:?}");
    assert_eq!((r.pages, r.releases_read, r.releases_new), (2, 100, 100));
    assert_eq!(r.pages_lossy_utf8, 1);
    assert_eq!(r.rate_limit_waits, 1);
    let log = e.replay.requests("cf:1");
    assert_eq!(log[0].status, 403);
    assert!(log[1].at - log[0].at >= Duration::from_millis(150));
    assert_eq!(e.releases_stored(), 100);
}

#[test]
fn cli_sync_exit_codes() {
    let Some(e) = env("cli_sync_exit_codes") else {
        return;
    };
    let cfg = e._dir.path().join("sebroker.toml");
    std::fs::write(
        &cfg,
        "[http.fts]\nmin_interval_ms = 0\nmax_attempts = 2\nbackoff_base_ms = 10\nretry_after_scale = 0.002\n\
         [http.cf]\nmin_interval_ms = 0\nforbidden_wait_ms = 100\n",
    )
    .expect("config");
    let data = tempfile::Builder::new()
        .prefix("sebroker-sync-cli-")
        .tempdir()
        .expect("tempdir");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sebroker"))
            .env_remove("SEBROKER_DATA_DIR")
            .env_remove("SEBROKER_FTS_URL")
            .env_remove("SEBROKER_CF_URL")
            .arg("--data-dir")
            .arg(data.path())
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .output()
            .expect("runs")
    };
    for _ in 0..2 {
        e.replay.inject("fts:2026-08-11:2", Fault::Unavailable);
    }
    let out = run(&[
        "sync",
        "fts",
        "--fts-url",
        &e.base,
        "--from",
        "2026-08-10",
        "--to",
        "2026-08-11",
        "--now",
        "2026-08-20T00:00:00Z",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["sources"][0]["windows_failed"], 1);
    assert_eq!(v["sources"][0]["releases_new"], 459 + 100);
    // Continue: the failed window is retried, nothing else is missing.
    let out = run(&[
        "sync",
        "fts",
        "--fts-url",
        &e.base,
        "--now",
        "2026-08-12T00:10:00Z",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["stats", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["releases"], 955);
    assert_eq!(run(&["sync", "ted"]).status.code(), Some(2));
    assert_eq!(
        run(&["sync", "fts", "--from", "10/08/2026"]).status.code(),
        Some(2)
    );
}

#[test]
fn schedule_keeps_serving_when_a_source_is_offline() {
    let Some(e) = env("schedule_keeps_serving_when_a_source_is_offline") else {
        return;
    };
    // A port nobody listens on: bind, note it, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let mut offline = SourceSpec::fts(Some(&format!("http://{dead}")));
    offline.http = HttpSettings {
        max_attempts: 2,
        ..fast_http(offline.http)
    };
    let cf = e.cf();
    e.replay.inject("cf:other", Fault::Unavailable);
    let app = e.app.clone();
    let settings = SyncSettings {
        first_run_days: 1,
        ..SyncSettings::default()
    };
    let tasks = e.rt.block_on(async {
        sebroker_engine::sources::spawn_schedule(
            app.clone(),
            vec![offline, cf],
            settings,
            Duration::from_secs(3600),
        )
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let st = sebroker_engine::sources::statuses(&e.app).expect("statuses");
        if st.iter().filter(|s| s.runs >= 1).count() == 2 {
            let fts = st.iter().find(|s| s.source == "fts").expect("fts");
            let cf = st.iter().find(|s| s.source == "cf").expect("cf");
            assert_eq!(fts.failed_runs, 1, "{fts:?}");
            assert!(
                fts.last_run.as_ref().is_some_and(|l| l.outcome == "failed"),
                "{fts:?}"
            );
            assert_eq!(cf.failed_runs, 0, "{cf:?}");
            assert!(cf.next_run.is_some());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "both sources ran once"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The API answers meanwhile (to a broker's key).
    let (key, _) = e
        .app
        .ledger
        .create_key(
            sebroker_ledger::auth::Role::Broker,
            None,
            "test".into(),
            None,
        )
        .expect("key");
    let router = sebroker_server::router::local(e.app.clone());
    let body = e.rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        reqwest::Client::new()
            .get(format!("http://{addr}/api/v1/sources"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body")
    });
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["sources"].as_array().map(Vec::len), Some(2), "{v}");
    for t in tasks {
        t.abort();
    }
}

fn fixture(p: &str) -> PathBuf {
    repo().join("fixtures").join(p)
}

fn open_app() -> (tempfile::TempDir, Arc<Engine>) {
    let dir = tempfile::Builder::new()
        .prefix("sebroker-anchors-")
        .tempdir()
        .expect("tempdir");
    let app = Arc::new(Engine::open_dir(dir.path()).expect("app"));
    (dir, app)
}

#[test]
fn anchors_import_keeps_good_rows_and_reports_bad_ones() {
    let (_d, app) = open_app();
    let bytes = std::fs::read(fixture("anchors/bad-rows.csv")).expect("fixture");
    let r =
        sebroker_engine::anchors::import_file(&app, "walsall-council", &bytes).expect("imports");
    assert_eq!(r.exit_code(), 3);
    assert_eq!((r.rows_read, r.rows_imported, r.notices_created), (4, 2, 2));
    let errs: Vec<(u64, &str)> = r
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(
        errs,
        vec![(4, "cpv"), (4, "deadline"), (5, "title"), (5, "type")]
    );
    let n = app
        .store
        .get_notice("anchor-walsall-council-wmbc-2026-014")
        .expect("get")
        .expect("stored");
    assert_eq!(n.source, "anchor:walsall-council");
    assert_eq!(n.value.max_pence, Some(4_500_000));
    assert!(n.nuts.contains(&"UKG38".to_owned()), "{:?}", n.nuts);
    // Re-import: updated by reference, nothing created.
    let r =
        sebroker_engine::anchors::import_file(&app, "walsall-council", &bytes).expect("imports");
    assert_eq!(r.notices_created, 0);
    let json = std::fs::read(fixture("anchors/opportunities.json")).expect("fixture");
    let r = sebroker_engine::anchors::import_file(&app, "walsall-council", &json).expect("imports");
    assert_eq!(r.exit_code(), 0, "{:?}", r.errors);
    assert_eq!(r.notices_updated, 1, "WMBC-2026-014 changed its deadline");
    let csv = std::fs::read(fixture("anchors/opportunities.csv")).expect("fixture");
    let r = sebroker_engine::anchors::import_file(&app, "dudley-group", &csv).expect("imports");
    assert_eq!(r.exit_code(), 0, "{:?}", r.errors);
}

#[test]
fn anchors_api_needs_the_admin_token() {
    let (_d, app) = open_app();
    let mut app = Arc::try_unwrap(app).ok().expect("sole owner");
    app.config.sync.admin_token = Some(sebroker_engine::config::Secret(
        "test-token-0123456789".into(),
    ));
    let (admin_key, _) = app
        .ledger
        .create_key(
            sebroker_ledger::auth::Role::Admin,
            None,
            "test admin".into(),
            None,
        )
        .expect("key");
    let (broker_key, _) = app
        .ledger
        .create_key(
            sebroker_ledger::auth::Role::Broker,
            None,
            "test broker".into(),
            None,
        )
        .expect("key");
    let app = Arc::new(app);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let router = sebroker_server::router::local(app.clone());
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        let url = format!("http://{addr}/api/v1/anchors/walsall-council/opportunities");
        let body = serde_json::json!({
            "anchor": "Walsall Council", "reference": "API-1", "title": "Befriending service for older residents",
            "type": "open", "deadline": "2026-12-15", "places": "WS2", "vcse_suitable": true, "cpv": ["85312000"]
        });
        let c = reqwest::Client::new();
        let r = c.post(&url).json(&body).send().await.expect("post");
        assert_eq!(r.status(), 401);
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["error"]["code"], "missing_key");
        let r = c.post(&url).bearer_auth("wrong-token-0123456789").json(&body).send().await.expect("post");
        assert_eq!(r.status(), 401);
        let r = c.post(&url).bearer_auth(&broker_key).json(&body).send().await.expect("post");
        assert_eq!(r.status(), 403, "brokers may not upload for anchors");
        let other = serde_json::json!({
            "anchor": "Walsall Council", "reference": "API-2", "title": "Gardening service for older residents",
            "type": "open", "deadline": "2026-12-15", "places": "WS2", "vcse_suitable": true, "cpv": ["77310000"]
        });
        let r = c.post(&url).bearer_auth(&admin_key).json(&other).send().await.expect("post");
        assert_eq!(r.status(), 201, "an admin key works as well as the admin token");
        let r = c.post(&url).bearer_auth("test-token-0123456789").json(&body).send().await.expect("post");
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["ocid"], "anchor-walsall-council-api-1");
        let r = c.post(&url).bearer_auth("test-token-0123456789").json(&body).send().await.expect("post");
        assert_eq!(r.status(), 200, "the same reference again updates");
        let bad = serde_json::json!({ "anchor": "W", "reference": "x", "title": "t", "type": "tender" });
        let r = c.post(&url).bearer_auth("test-token-0123456789").json(&bad).send().await.expect("post");
        assert_eq!(r.status(), 422);
        let unknown = serde_json::json!({ "anchor": "W", "reference": "x", "title": "t", "type": "open", "colour": 1 });
        let r = c.post(&url).bearer_auth("test-token-0123456789").json(&unknown).send().await.expect("post");
        assert_eq!(r.status(), 400);
    });
    assert!(app
        .store
        .get_notice("anchor-walsall-council-api-1")
        .expect("get")
        .is_some());
}

#[test]
fn duplicates_across_sources_show_once_with_every_source() {
    let (_d, app) = open_app();
    let opts = sebroker_engine::ingest::IngestOptions::default();
    for f in [
        "groups/fts-community-meals.json",
        "groups/cf-community-meals.json",
    ] {
        let text = std::fs::read_to_string(fixture(f)).expect("fixture");
        sebroker_engine::ingest::ingest_text(&app, f, &text, &opts).expect("ingests");
    }
    assert_eq!(app.store.groups().expect("groups").len(), 1);
    let params =
        |group: Option<bool>, source: Option<&str>| sebroker_engine::search::SearchParams {
            q: Some("community meals".into()),
            now: Some("2026-11-01".into()),
            group,
            source: source.map(str::to_owned),
            ..Default::default()
        };
    let page = sebroker_engine::search::search(&app, &params(None, None)).expect("search");
    assert_eq!(page.total, 1);
    let hit = &page.hits[0];
    assert_eq!(hit.notice.source, "fts");
    let g = hit.group.as_ref().expect("grouped");
    assert_eq!(g.sources, vec!["fts", "cf"]);
    assert_eq!(
        g.others[0].ocid,
        "ocds-b5fd17-7c1e0f3a-0001-4d2b-9a61-000000000001"
    );
    let page = sebroker_engine::search::search(&app, &params(Some(false), None)).expect("search");
    assert_eq!(page.total, 2);
    // Filtering on CF alone still finds the opportunity, through its CF notice.
    let page = sebroker_engine::search::search(&app, &params(None, Some("cf"))).expect("search");
    assert_eq!(page.total, 1);
    assert_eq!(page.hits[0].notice.source, "cf");
}

/// `[weights]` far from the defaults, so a score made with the defaults
/// cannot pass for one made with these.
const SKEWED_WEIGHTS: &str =
    "[weights]\ntext = 0.05\ncpv = 0.05\ngeography = 0.05\ncapacity = 0.05\n\
     timing = 0.05\nsuitability = 0.7\nrelationship = 0.05\n";

/// Every stored match in `data` was scored with the configuration's
/// weights; at least one would score otherwise with the defaults.
fn assert_stored_matches_use(data: &Path, cfg: &Path) {
    let file = sebroker_engine::config::FileConfig::load(Some(cfg)).expect("config");
    let flags = sebroker_engine::config::Flags {
        data_dir: Some(data.to_owned()),
        ..Default::default()
    };
    let config = sebroker_engine::config::Config::resolve(file, flags).expect("resolves");
    let app = Engine::open(&config).expect("opens after the command exited");
    let mut ocids = Vec::new();
    app.store
        .for_each_notice(&mut |n| {
            ocids.push(n.ocid);
            Ok(())
        })
        .expect("notices");
    let (mut stored, mut differs) = (0, 0);
    for ocid in &ocids {
        for m in app.store.matches_of_notice(ocid).expect("matches") {
            stored += 1;
            assert_eq!(
                m.score,
                m.components.score(&config.weights),
                "{ocid} {}",
                m.member_id
            );
            if m.score != m.components.score(&sebroker_matching::Weights::default()) {
                differs += 1;
            }
        }
    }
    assert!(stored > 0, "the command stored matches");
    assert!(differs > 0, "scores with the defaults would differ");
}

fn import_demo_members(data: &Path, cfg: &Path) {
    let out = crate::common::bin()
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(cfg)
        .args(["members", "import"])
        .arg(repo().join("fixtures/demo/members.json"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn anchors_import_matches_with_the_configured_weights() {
    let dir = crate::common::tempdir();
    let cfg = dir.path().join("sebroker.toml");
    std::fs::write(&cfg, SKEWED_WEIGHTS).expect("config");
    let data = dir.path().join("data");
    import_demo_members(&data, &cfg);
    let out = crate::common::bin()
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .args(["anchors", "import", "--anchor", "walsall-council"])
        .arg(fixture("anchors/opportunities.json"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_stored_matches_use(&data, &cfg);
}

#[test]
fn sync_matches_with_the_configured_weights() {
    let Some(e) = env("sync_matches_with_the_configured_weights") else {
        return;
    };
    let cfg = e._dir.path().join("sebroker.toml");
    std::fs::write(
        &cfg,
        format!("{SKEWED_WEIGHTS}[http.fts]\nmin_interval_ms = 0\nmax_attempts = 2\nbackoff_base_ms = 10\n"),
    )
    .expect("config");
    let data = crate::common::tempdir();
    import_demo_members(data.path(), &cfg);
    let out = crate::common::bin()
        .env_remove("SEBROKER_FTS_URL")
        .arg("--data-dir")
        .arg(data.path())
        .arg("--config")
        .arg(&cfg)
        .args([
            "sync",
            "fts",
            "--fts-url",
            &e.base,
            "--from",
            "2026-08-10",
            "--to",
            "2026-08-11",
            "--now",
            "2026-08-20T00:00:00Z",
            "--json",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_stored_matches_use(data.path(), &cfg);
}
