//! Golden outputs on the shared data: search results, matches, alerts and
//! totals compared against `tests/goldens/`, so speed work cannot change
//! what users see. `UPDATE_GOLDENS=1` rewrites the files.

use std::path::{Path, PathBuf};

use sebroker_alerts::settings::SettingsInput;
use sebroker_alerts::{self as alerts, RunOptions, Scope};
use sebroker_engine::search::SearchParams;
use sebroker_engine::Engine;
use serde_json::{json, Value};
use time::macros::{date, datetime};

use crate::common::{repo, shared_data, tempdir};

/// The time every status, deadline and digest is judged at: between the
/// shared FTS days (August 2026) and the demo notices (November 2026).
const NOW: &str = "2026-08-12T12:00:00Z";

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// A fresh engine with the demo members, then every shared FTS and CF file.
fn load(data: &Path) -> (tempfile::TempDir, Engine) {
    let dir = tempdir();
    let app = Engine::open_dir(dir.path()).expect("opens");
    let text =
        std::fs::read_to_string(repo().join("fixtures/demo/members.json")).expect("demo members");
    let clusters: Vec<String> = sebroker_connectors::members::DEFAULT_CLUSTERS
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let parsed = {
        let places = app.places();
        sebroker_connectors::members::parse_text(&text, "json", &clusters, &places)
    };
    assert!(
        parsed.errors.is_empty(),
        "{:?}",
        parsed.errors.first().map(|e| &e.message)
    );
    sebroker_engine::members::import(&app, &parsed.members, date!(2026 - 01 - 01), "goldens")
        .expect("members import");
    let mut files = Vec::new();
    json_files(&data.join("ocds/fts"), &mut files);
    json_files(&data.join("ocds/cf"), &mut files);
    let opts = sebroker_engine::ingest::IngestOptions::default();
    let report =
        sebroker_engine::ingest::ingest_files(&app, &files, &opts, &mut |_, _| {}).expect("ingest");
    assert!(report.releases_new > 1000, "{report:?}");
    (dir, app)
}

/// Compares `actual` with `tests/goldens/<name>.json`, or rewrites it.
fn check(name: &str, actual: &Value) {
    let path = repo().join("tests/goldens").join(format!("{name}.json"));
    if std::env::var("UPDATE_GOLDENS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("goldens dir");
        let text = serde_json::to_string_pretty(actual).expect("json") + "\n";
        std::fs::write(&path, text).expect("writes the golden");
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDENS=1 to create it)",
            path.display()
        )
    });
    let expected: Value = serde_json::from_str(&text).expect("golden is JSON");
    if let Some(d) = first_difference("", &expected, actual) {
        panic!("{name} differs from {}: {d}", path.display());
    }
}

/// Where two values first differ, as a JSON path with both sides.
fn first_difference(at: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let (va, vb) = (x.get(k), y.get(k));
                match (va, vb) {
                    (Some(va), Some(vb)) => {
                        if let Some(d) = first_difference(&format!("{at}.{k}"), va, vb) {
                            return Some(d);
                        }
                    }
                    _ => return Some(format!("{at}.{k}: golden {va:?}, now {vb:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(&format!("{at}[{i}]"), va, vb) {
                    return Some(d);
                }
            }
            (x.len() != y.len())
                .then(|| format!("{at}: golden has {} items, now {}", x.len(), y.len()))
        }
        _ => (a != b).then(|| format!("{at}: golden {a}, now {b}")),
    }
}

/// The queries: keywords, filters, status, region, CPV, social value, paging.
fn queries() -> Vec<Value> {
    vec![
        json!({}),
        json!({"q": "services"}),
        json!({"q": "construction", "status": "open"}),
        json!({"q": "care support", "region": "UKG"}),
        json!({"cpv": "45"}),
        json!({"cpv": "85000000,79000000"}),
        json!({"min_social_value": 10}),
        json!({"q": "software", "offset": 10, "limit": 10}),
        json!({"status": "awarded", "sort": "value", "limit": 20}),
        json!({"source": "cf", "sort": "published"}),
        json!({"region": "London", "q": "cleaning"}),
        json!({"vcse": true}),
        json!({"q": "\"mental health\""}),
        json!({"sme": true, "status": "open,planned", "sort": "deadline"}),
        json!({"min_value": 100000, "max_value": 1000000, "offset": 5}),
        json!({"group": false, "q": "framework", "limit": 25}),
        json!({"type": "UK4", "q": "maintenance"}),
    ]
}

fn search_goldens(app: &Engine) -> Value {
    let mut out = Vec::new();
    for q in queries() {
        let mut p = q.clone();
        p["now"] = json!(NOW);
        let params: SearchParams = serde_json::from_value(p).expect("params");
        let page = sebroker_engine::search::search(app, &params)
            .unwrap_or_else(|e| panic!("search {q}: {e}"));
        let ids: Vec<&str> = page.hits.iter().map(|h| h.notice.ocid.as_str()).collect();
        out.push(json!({"query": q, "total": page.total, "ids": ids, "facets": page.facets}));
    }
    Value::Array(out)
}

fn rounded(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Stored matches of ten notices spread over every matched one, and counts.
fn match_goldens(app: &Engine) -> Value {
    let mut ocids = Vec::new();
    app.store
        .for_each_notice(&mut |n| {
            ocids.push(n.ocid);
            Ok(())
        })
        .expect("notices");
    ocids.sort();
    let mut matched = Vec::new();
    let mut stored = 0usize;
    for o in &ocids {
        let ms = app.store.matches_of_notice(o).expect("matches");
        stored += ms.len();
        if !ms.is_empty() {
            matched.push((o.clone(), ms));
        }
    }
    let step = (matched.len() / 10).max(1);
    let sample: Vec<Value> = matched
        .iter()
        .step_by(step)
        .take(10)
        .map(|(o, ms)| {
            let top: Vec<Value> = ms
                .iter()
                .map(|m| json!({"member": m.member_id, "score": rounded(m.score), "reasons": m.reasons}))
                .collect();
            json!({"ocid": o, "matches": top})
        })
        .collect();
    json!({"notices": ocids.len(), "notices_matched": matched.len(), "matches_stored": stored, "sample": sample})
}

/// What a digest run would send: every demo member on a daily digest.
fn alert_goldens(app: &Engine) -> Value {
    let now = datetime!(2026-08-12 12:00 UTC);
    let members: Vec<String> = app.member_set().members.keys().cloned().collect();
    for m in &members {
        let input: SettingsInput =
            serde_json::from_value(json!({"frequency": "daily", "feed": true})).expect("settings");
        alerts::put_settings(app, m, input, now).expect("settings");
    }
    let report = alerts::run(
        app,
        &RunOptions {
            now,
            dry_run: true,
            scope: Scope::All,
        },
    )
    .expect("alert run");
    let mut sent: Vec<Value> = report
        .preview
        .iter()
        .map(|a| {
            let ocids: Vec<&str> = a.items.iter().map(|i| i.ocid.as_str()).collect();
            json!({"recipient": a.recipient, "kind": a.kind, "ocids": ocids})
        })
        .collect();
    sent.sort_by_key(|v| v["recipient"].as_str().unwrap_or_default().to_owned());
    json!({"digests_due": report.digests_due, "alerts": sent})
}

fn totals_goldens(app: &Engine) -> Value {
    let now = datetime!(2026-08-12 12:00 UTC);
    let mut stats = serde_json::to_value(sebroker_engine::views::stats(app, now).expect("stats"))
        .expect("json");
    // The index's size on disk is tantivy's business, not an output.
    if let Some(o) = stats.as_object_mut() {
        o.remove("index_bytes");
    }
    let totals = sebroker_engine::views::totals(app, sebroker_ledger::totals::By::Cluster);
    let kpis = sebroker_engine::views::kpis(app, date!(2026 - 08 - 12));
    json!({"stats": stats, "totals": totals, "kpis": kpis, "links": app.store.links().expect("links").len()})
}

#[test]
fn shared_data_outputs_match_the_goldens() {
    let Some(data) = shared_data("shared_data_outputs_match_the_goldens") else {
        return;
    };
    let (_dir, app) = load(&data);
    check("search", &search_goldens(&app));
    check("matches", &match_goldens(&app));
    check("totals", &totals_goldens(&app));
    // Last: it subscribes every member.
    check("alerts", &alert_goldens(&app));
}
