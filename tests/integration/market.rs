//! The market map on the shared real data: each local authority's open
//! notices are search's, the total counts each open UK notice once, awards
//! to VCSE-flagged suppliers come from the real award notices, a bad
//! grouping is a 400 with a code, and the funder's answer names no member.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sebroker_engine::config::Config;
use sebroker_engine::market::{market, Market, MarketParams};
use sebroker_engine::search::{search, SearchParams};
use sebroker_engine::Engine;

use crate::common::{repo, run, run_json, shared_data, tempdir};

/// The day the real FTS pages were published after: many tenders open.
const NOW: &str = "2026-08-12";

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("data folder")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// An engine over every real FTS and CF page, the duplicate fixtures and
/// the demo members, with every UK authority from `geo/`.
fn real_engine(data: &Path, dir: &Path) -> Engine {
    let mut config = Config::for_data_dir(dir).expect("config");
    config.authorities = std::sync::Arc::new(
        sebroker_connectors::places::Authorities::load(&data.join("geo")).expect("geo tables"),
    );
    let app = Engine::open(&config).expect("engine");
    let mut files = Vec::new();
    json_files(&data.join("ocds"), &mut files);
    json_files(&repo().join("fixtures").join("groups"), &mut files);
    let opts = sebroker_engine::batch::IngestOptions::default();
    sebroker_engine::ingest::ingest_files(&app, &files, &opts, &mut |_, _| {}).expect("ingest");
    app.follow().expect("follow");
    let text = std::fs::read_to_string(repo().join("fixtures/demo/members.json")).expect("members");
    let parsed = {
        let places = app.places();
        sebroker_connectors::members::parse_text(&text, "json", &config.clusters, &places)
    };
    assert!(parsed.errors.is_empty(), "demo members parse");
    let day = time::macros::date!(2025 - 04 - 01);
    sebroker_engine::members::import(&app, &parsed.members, day, "test").expect("import");
    app
}

fn params(by: &str) -> MarketParams {
    MarketParams {
        by: Some(by.into()),
        now: Some(NOW.into()),
        from: Some("2000-01-01".into()),
        to: Some("2030-12-31".into()),
        ..MarketParams::default()
    }
}

fn search_open(app: &Engine, region: &str) -> u64 {
    let p = SearchParams {
        status: Some("open".into()),
        region: Some(region.into()),
        now: Some(NOW.into()),
        limit: Some(1),
        facets: Some(false),
        snippets: Some(false),
        ..SearchParams::default()
    };
    search(app, &p).expect("search").total
}

#[test]
fn each_places_open_notices_are_searchs_and_the_total_counts_each_once() {
    let Some(data) =
        shared_data("each_places_open_notices_are_searchs_and_the_total_counts_each_once")
    else {
        return;
    };
    let dir = tempdir();
    let app = real_engine(&data, dir.path());
    let m = market(&app, &params("local_authority")).expect("market");
    let mut checked = 0;
    for r in m
        .rows
        .iter()
        .filter(|r| r.kind == "authority" || r.kind == "nuts3")
    {
        let region = r
            .region
            .as_deref()
            .expect("a place row has a search region");
        assert_eq!(
            r.open_notices,
            search_open(&app, region),
            "{} ({})",
            r.name,
            r.key
        );
        checked += usize::from(r.open_notices > 0);
    }
    assert!(checked >= 10, "only {checked} places had open notices");
    // Staffordshire's districts share one NUTS3 area: one row, named so.
    let staffs = m
        .rows
        .iter()
        .find(|r| r.authorities.iter().any(|a| a == "E07000192"))
        .expect("Cannock Chase");
    assert_eq!(staffs.kind, "nuts3");
    assert!(staffs.name.contains("NUTS3 area"), "{}", staffs.name);
    assert!(
        m.rows
            .iter()
            .any(|r| r.key == "E08000030" && r.kind == "authority"),
        "Walsall is its own row"
    );
    // The total: every open notice with a UK place, each opportunity once.
    assert_eq!(m.total.open_notices, search_open(&app, "UK"));
    assert_eq!(m.total.open_notices, open_uk_opportunities(&app));
    assert!(m.total.open_notices > 50, "{}", m.total.open_notices);
    for by in ["region", "cluster", "cpv_division"] {
        let m = market(&app, &params(by)).expect(by);
        assert!(!m.rows.is_empty(), "{by}");
        if by == "region" {
            for r in m.rows.iter().filter(|r| r.kind == "region") {
                assert_eq!(
                    r.open_notices,
                    search_open(&app, &r.key),
                    "region {}",
                    r.key
                );
            }
        }
    }
}

/// Counted without the market's code: open at `NOW` by the model's clock,
/// placed in the UK, one per opportunity group.
fn open_uk_opportunities(app: &Engine) -> u64 {
    let now = sebroker_engine::search::parse_when("now", NOW, false).expect("now");
    let mut units = HashSet::new();
    app.store
        .for_each_notice(&mut |n| {
            if n.status(now) == sebroker_model::Status::Open && n.nuts.iter().any(|c| c == "UK") {
                let group = app.store.group_of(&n.ocid)?;
                units.insert(group.into_iter().min().unwrap_or(n.ocid.clone()));
            }
            Ok(())
        })
        .expect("notices");
    units.len() as u64
}

#[test]
fn awards_to_vcse_flagged_suppliers_are_counted_from_the_real_award_notices() {
    let Some(data) =
        shared_data("awards_to_vcse_flagged_suppliers_are_counted_from_the_real_award_notices")
    else {
        return;
    };
    let dir = tempdir();
    let app = real_engine(&data, dir.path());
    let m = market(&app, &params("region")).expect("market");
    // Independently: each award with a supplier flagged VCSE (or linked to
    // a member), of notices placed in the UK, each opportunity once.
    let links: HashSet<(String, String)> = app
        .store
        .links()
        .expect("links")
        .into_iter()
        .filter(|l| l.status != sebroker_model::LinkStatus::Rejected)
        .map(|l| (l.ocid, l.award_id))
        .collect();
    let (mut vcse, mut all, mut flagged) = (0i64, 0i64, 0usize);
    let mut seen = HashSet::new();
    app.store
        .for_each_notice(&mut |n| {
            let unit = app
                .store
                .group_of(&n.ocid)?
                .into_iter()
                .min()
                .unwrap_or(n.ocid.clone());
            if n.nuts.is_empty() || n.awards.is_empty() || !seen.insert(unit) {
                return Ok(());
            }
            for a in &n.awards {
                let v = a
                    .value
                    .as_ref()
                    .and_then(|v| v.headline_pence())
                    .unwrap_or(0)
                    .max(0);
                all += v;
                let is_vcse = a.suppliers.iter().any(|s| s.vcse == Some(true));
                flagged += usize::from(is_vcse);
                if is_vcse || links.contains(&(n.ocid.clone(), a.id.clone())) {
                    vcse += v;
                }
            }
            Ok(())
        })
        .expect("notices");
    assert!(
        flagged > 0,
        "the real data has awards to VCSE-flagged suppliers"
    );
    assert!(vcse > 0);
    assert_eq!(m.total.awarded_to_vcse_value_pence, vcse);
    assert_eq!(m.total.awarded_value_pence, all);
    assert!(m.total.awarded_to_vcse_value_pence < m.total.awarded_value_pence);
    // A window before any award counts none.
    let early = MarketParams {
        from: Some("2001-01-01".into()),
        to: Some("2001-12-31".into()),
        ..params("region")
    };
    assert_eq!(
        market(&app, &early)
            .expect("early")
            .total
            .awarded_value_pence,
        0
    );
}

#[test]
fn the_command_answers_json_and_csv_and_refuses_a_bad_grouping() {
    let dir = tempdir();
    let d = dir.path();
    let demo = repo().join("fixtures").join("demo");
    let out = run(
        d,
        &[
            "ingest",
            demo.join("fts-2026-11.json").to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, v) = run_json(
        d,
        &[
            "market",
            "--by",
            "local_authority",
            "--now",
            "2026-11-20",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{v}");
    let total: u64 = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["open_notices"].as_u64().unwrap_or(0))
        .sum();
    assert!(v["total"]["open_notices"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(
        total >= v["total"]["open_notices"].as_u64().unwrap_or(0),
        "a notice counts in each of its rows"
    );
    let csv = run(
        d,
        &["market", "--by", "cluster", "--now", "2026-11-20", "--csv"],
    );
    let text = String::from_utf8_lossy(&csv.stdout);
    let header = text.lines().next().unwrap_or("");
    assert!(
        header.contains("gaps") && header.contains("open_notices"),
        "{header}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(",ward-end,") && l.contains(";")),
        "gaps joined by ; in one column: {text}"
    );
    let bad = run(d, &["market", "--by", "postcode"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid_parameter"));
}

#[test]
fn an_unknown_grouping_is_a_400_and_the_funder_sees_counts_but_no_member() {
    let (mut server, url, keys) = crate::browser::demo_server_with_keys();
    let get = |path: &str, key: &str| -> (u16, String) {
        let r = reqwest::blocking::Client::new()
            .get(format!("{url}{path}"))
            .bearer_auth(key)
            .send()
            .expect("request");
        (r.status().as_u16(), r.text().unwrap_or_default())
    };
    let funder = keys.get("funder").expect("funder key").clone();
    let broker = keys.get("broker").expect("broker key").clone();
    let member = keys
        .iter()
        .find(|(l, _)| l.starts_with("member "))
        .map(|(_, k)| k.clone())
        .expect("member key");
    let bad = get("/api/v1/market?by=postcode", &broker);
    // Schemathesis found this one: each date parses, the window does not.
    let reversed = get(
        "/api/v1/market?from=3545-02-19T00%3A05%3A59-21%3A27",
        &broker,
    );
    let answers: Vec<(u16, String)> = ["local_authority", "cluster", "cpv_division"]
        .iter()
        .map(|by| get(&format!("/api/v1/market?by={by}&now=2026-11-20"), &funder))
        .collect();
    let csv = get(
        "/api/v1/market?by=cluster&now=2026-11-20&format=csv",
        &funder,
    );
    let as_member = get("/api/v1/market", &member);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(bad.0, 400, "{}", bad.1);
    let e: serde_json::Value = serde_json::from_str(&bad.1).expect("error JSON");
    assert_eq!(e["error"]["code"], "invalid_parameter");
    assert_eq!(reversed.0, 422, "{}", reversed.1);
    let e: serde_json::Value = serde_json::from_str(&reversed.1).expect("error JSON");
    assert_eq!(e["error"]["code"], "invalid_window");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("3545-02-19T00:05:59-21:27")),
        "{e}"
    );
    assert_eq!(as_member.0, 403);
    let members: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("fixtures/demo/members.json")).expect("members"),
    )
    .expect("members JSON");
    for (status, body) in answers.iter().chain(std::iter::once(&csv)) {
        assert_eq!(*status, 200, "{body}");
        for m in &members {
            for field in ["id", "name"] {
                let s = m[field].as_str().expect("member field");
                assert!(
                    !body.contains(s),
                    "the funder's answer names member {field} {s:?}"
                );
            }
        }
    }
    let clusters: Market = serde_json::from_str(&answers[1].1).expect("market JSON");
    assert!(clusters.total.members > 0, "counts are there");
    assert!(clusters
        .rows
        .iter()
        .any(|r| r.members > 0 && r.key == "walsall"));
    assert!(
        clusters.rows.iter().any(|r| r.matched_members > 0),
        "{:?}",
        clusters.rows
    );
}
