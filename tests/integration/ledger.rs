//! The brokerage ledger end to end: cases to a consortium win over real
//! HTTP on 127.0.0.1, roles, idempotent retries, compensating corrections,
//! reconciliation, CSV, cluster history, and durability (refusal to start on
//! an older store, backup → restore → verify).

use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use crate::cli::{serve, serve_demo, DemoServer};
use crate::common::{bin, repo, tempdir};

struct Http<'a> {
    url: &'a str,
    key: Option<&'a str>,
}

fn as_key<'a>(s: &'a DemoServer, label: &str) -> Http<'a> {
    Http {
        url: &s.url,
        key: Some(s.key(label)),
    }
}

impl Http<'_> {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        let r = reqwest::blocking::Client::new().request(method, format!("{}{path}", self.url));
        match self.key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let r = self.req(reqwest::Method::GET, path).send().expect("get");
        let s = r.status().as_u16();
        (s, r.json().unwrap_or(Value::Null))
    }

    fn text(&self, path: &str, accept: Option<&str>) -> (u16, String, String) {
        let mut r = self.req(reqwest::Method::GET, path);
        if let Some(a) = accept {
            r = r.header("accept", a);
        }
        let r = r.send().expect("get");
        let s = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (s, ct, r.text().expect("text"))
    }

    fn post(&self, path: &str, idem: Option<&str>, body: &Value) -> (u16, Value) {
        let mut r = self.req(reqwest::Method::POST, path).json(body);
        if let Some(k) = idem {
            r = r.header("Idempotency-Key", k);
        }
        let r = r.send().expect("post");
        let s = r.status().as_u16();
        (s, r.json().unwrap_or(Value::Null))
    }
}

fn row<'a>(totals: &'a Value, key: &str) -> Option<&'a Value> {
    totals["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["key"] == key))
}

#[test]
fn a_consortium_win_through_the_api_with_roles_retries_and_a_correction() {
    let s = serve_demo(&[], &["--demo"]);
    let broker = as_key(&s, "broker");
    let funder = as_key(&s, "funder");
    let member = as_key(&s, "member m-0001");
    let nobody = Http {
        url: &s.url,
        key: None,
    };
    let wrong = Http {
        url: &s.url,
        key: Some("sbk_000000000000_nope"),
    };
    let (_, page) = broker.get("/api/v1/notices?q=cleaning&limit=1");
    let ocid = page["hits"][0]["ocid"]
        .as_str()
        .expect("a notice")
        .to_owned();

    // Who may do what.
    assert_eq!(nobody.get("/api/v1/cases").0, 401);
    assert_eq!(
        nobody.get("/api/v1/cases").1["error"]["code"],
        "missing_key"
    );
    assert_eq!(wrong.get("/api/v1/totals").0, 401);
    assert_eq!(nobody.get("/healthz").0, 200, "health stays open");
    let case_body = json!({ "ocid": ocid, "members": ["m-0001", "m-0002"], "lead": "m-0002", "notes": "consortium" });
    let (st, e) = funder.post("/api/v1/cases", Some("f-1"), &case_body);
    assert_eq!((st, e["error"]["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(funder.get("/api/v1/notices").0, 403);
    assert_eq!(funder.get("/api/v1/members").0, 403);
    assert_eq!(
        funder.get("/api/v1/totals?by=member").0,
        403,
        "anonymised only"
    );
    assert_eq!(member.get("/api/v1/totals").0, 403);
    let (st, other) = member.get("/api/v1/members/m-0002");
    let (st2, missing) = member.get("/api/v1/members/m-9999");
    assert_eq!((st, st2), (404, 404));
    assert_eq!(
        other["error"]["code"], missing["error"]["code"],
        "no existence leak"
    );
    assert_eq!(member.get("/api/v1/members/m-0001").0, 200);
    assert_eq!(member.get("/api/v1/members/m-0002/matches").0, 404);
    let (_, mine) = member.get("/api/v1/members");
    assert_eq!(mine["total"], 1, "a member lists only itself: {mine}");

    // Open the case; a retry books nothing twice; a write needs a key.
    assert_eq!(broker.post("/api/v1/cases", None, &case_body).0, 400);
    let (st, opened) = broker.post("/api/v1/cases", Some("case-a"), &case_body);
    assert_eq!(st, 201, "{opened}");
    let id = opened["case"]["case_id"].as_str().expect("id").to_owned();
    let (st, again) = broker.post("/api/v1/cases", Some("case-a"), &case_body);
    assert_eq!((st, again["replayed"].as_bool()), (200, Some(true)));
    assert_eq!(again["case"]["case_id"], id.as_str());
    let (st, e) = broker.post(
        "/api/v1/cases",
        Some("case-a"),
        &json!({ "ocid": ocid, "members": ["m-0003"] }),
    );
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    let (st, e) = broker.post(
        "/api/v1/cases",
        Some("case-x"),
        &json!({ "ocid": ocid, "members": ["m-0001"], "role": "admin" }),
    );
    assert_eq!(st, 400, "no mass assignment: {e}");

    let events = format!("/api/v1/cases/{id}/events");
    for (k, t) in [
        ("s1", "introduced"),
        ("s2", "interested"),
        ("s3", "bid_submitted"),
    ] {
        let (st, v) = broker.post(&events, Some(k), &json!({ "type": t }));
        assert_eq!(st, 201, "{v}");
    }
    let (st, e) = broker.post(&events, Some("s4"), &json!({ "type": "interested" }));
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let (st, e) = broker.post(
        &events,
        Some("w-bad"),
        &json!({ "type": "won", "value_pence": 100_001,
        "shares": [{ "member_id": "m-0001", "basis_points": 5000 }] }),
    );
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("invalid_shares"))
    );
    let won = json!({ "type": "won", "value_pence": 100_001, "date": "2026-01-15",
        "shares": [{ "member_id": "m-0001", "basis_points": 3333 }, { "member_id": "m-0002", "basis_points": 6667 }] });
    let (st, w) = broker.post(&events, Some("w1"), &won);
    assert_eq!(st, 201, "{w}");
    let won_seq = w["seq"].as_u64().expect("seq");
    let parts = &w["case"]["win"]["parts"];
    assert_eq!(parts[0]["value_pence"], 33_330);
    assert_eq!(
        parts[1]["value_pence"], 66_671,
        "the remainder goes to the lead"
    );
    for _ in 0..3 {
        assert_eq!(
            broker.post(&events, Some("w1"), &won).0,
            200,
            "a retried win is not booked again"
        );
    }
    let (_, t) = funder.get("/api/v1/totals?by=cluster");
    assert_eq!(t["total_pence"], 100_001, "{t}");
    assert_eq!(t["target_pence"], 100_000_000);
    let (_, by_member) = broker.get("/api/v1/totals?by=member");
    assert_eq!(
        row(&by_member, "m-0001").map(|r| r["value_pence"].clone()),
        Some(json!(33_330))
    );
    assert_eq!(
        row(&by_member, "m-0002").map(|r| r["value_pence"].clone()),
        Some(json!(66_671))
    );
    let (_, months) = funder.get("/api/v1/totals?by=month");
    assert_eq!(
        row(&months, "2026-01").map(|r| r["value_pence"].clone()),
        Some(json!(100_001))
    );
    let (_, years) = funder.get("/api/v1/totals?by=programme_year");
    assert!(row(&years, "year-1").is_some(), "{years}");

    // The member sees its case; not another member's.
    assert_eq!(member.get(&format!("/api/v1/cases/{id}")).0, 200);
    let (_, other_case) = broker.post(
        "/api/v1/cases",
        Some("case-b"),
        &json!({ "ocid": ocid, "members": ["m-0003"] }),
    );
    let other_id = other_case["case"]["case_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (st, e) = member.get(&format!("/api/v1/cases/{other_id}"));
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (404, Some("case_not_found"))
    );
    let (_, list) = member.get("/api/v1/cases");
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(
        funder
            .post(
                &format!("/api/v1/cases/{id}/events"),
                Some("f2"),
                &json!({ "type": "lost" })
            )
            .0,
        403
    );

    // A correction: void the win, book the right value. Nothing is edited.
    let (st, v) = broker.post(
        &events,
        Some("void-1"),
        &json!({ "type": "void", "voids_seq": won_seq, "notes": "value was wrong" }),
    );
    assert_eq!(st, 201, "{v}");
    assert_eq!(funder.get("/api/v1/totals").1["total_pence"], 0);
    let fixed = json!({ "type": "won", "value_pence": 90_000, "date": "2026-01-15",
        "shares": [{ "member_id": "m-0001", "basis_points": 5000 }, { "member_id": "m-0002", "basis_points": 5000 }] });
    assert_eq!(broker.post(&events, Some("w2"), &fixed).0, 201);
    assert_eq!(funder.get("/api/v1/totals").1["total_pence"], 90_000);
    let (_, c) = broker.get(&format!("/api/v1/cases/{id}"));
    let voided: Vec<&Value> = c["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["voided_by"].is_u64())
        .collect();
    assert_eq!(voided.len(), 1, "the first win stays, voided: {c}");

    // Referrals, returns, KPIs.
    assert_eq!(
        broker
            .post(
                "/api/v1/referrals",
                Some("r1"),
                &json!({ "member_id": "m-0001", "programme": "sega" })
            )
            .0,
        201
    );
    assert_eq!(
        broker
            .post(
                "/api/v1/referrals",
                Some("r1"),
                &json!({ "member_id": "m-0001", "programme": "sega" })
            )
            .0,
        200
    );
    for (k, y, t) in [("ret-1", 2025, 30_000_000), ("ret-2", 2026, 36_000_000)] {
        let (st, v) = broker.post(
            "/api/v1/members/m-0001/returns",
            Some(k),
            &json!({ "year": y, "turnover_pence": t, "employees": 11, "volunteering_hours": 100 }),
        );
        assert_eq!(st, 201, "{v}");
    }
    assert_eq!(member.get("/api/v1/members/m-0001/returns").1["total"], 2);
    assert_eq!(member.get("/api/v1/members/m-0002/returns").0, 404);
    assert_eq!(
        funder
            .post(
                "/api/v1/members/m-0001/returns",
                Some("ret-f"),
                &json!({ "year": 2026 })
            )
            .0,
        403
    );
    let (st, k) = funder.get("/api/v1/kpis");
    assert_eq!(st, 200);
    let ward_end = k["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .find(|c| c["cluster"] == "ward-end")
        .expect("ward-end");
    assert_eq!(ward_end["sega_referrals"], 1, "{k}");
    assert_eq!(
        k["turnover_growth_members_meeting_target"], 1,
        "20% growth meets 15%"
    );
    assert_eq!(k["volunteering_hours"], 200);

    // CSV on lists and totals.
    let (st, ct, csv) = funder.text("/api/v1/totals?by=month&format=csv", None);
    assert_eq!(st, 200);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert_eq!(csv, "key,value_pence,wins\n2026-01,90000,1\n");
    let (_, _, csv) = broker.text("/api/v1/cases?limit=10", Some("text/csv"));
    assert!(
        csv.lines().next().is_some_and(|h| h.contains("case_id")),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3, "header and two cases: {csv}");
    assert_eq!(broker.text("/api/v1/cases?format=xml", None).0, 400);
}

#[test]
fn reconciliation_proposes_wins_from_award_notices_and_never_books_them() {
    let s = serve_demo(&[], &["--demo"]);
    let broker = as_key(&s, "broker");
    // The demo's CF award to Washwood Heath Youth Link CIC (m-0001).
    let ocid = "ocds-b5fd17-cb63ed6c-353f-551a-9e47-02836ff39323";
    let (st, c) = broker.post(
        "/api/v1/cases",
        Some("rc-1"),
        &json!({ "ocid": ocid, "members": ["m-0001"] }),
    );
    assert_eq!(st, 201, "{c}");
    let id = c["case"]["case_id"].as_str().expect("id").to_owned();
    broker.post(
        &format!("/api/v1/cases/{id}/events"),
        Some("rc-2"),
        &json!({ "type": "introduced" }),
    );
    let (st, r) = broker.get("/api/v1/reconciliation");
    assert_eq!(st, 200);
    let p = r["proposals"]
        .as_array()
        .expect("proposals")
        .iter()
        .find(|p| p["case_id"] == id.as_str())
        .expect("a proposal")
        .clone();
    assert_eq!(p["value_pence"], 8_600_000);
    assert!(
        r["won_without_brokerage"]
            .as_array()
            .is_some_and(|w| !w.is_empty()),
        "{r}"
    );
    assert_eq!(
        as_key(&s, "funder").get("/api/v1/totals").1["total_pence"],
        0,
        "proposals book nothing"
    );
    let key = p["idempotency_key"].as_str().expect("key");
    let path = format!("/api/v1/cases/{id}/events");
    assert_eq!(broker.post(&path, Some(key), &p["event"]).0, 201);
    assert_eq!(
        broker.post(&path, Some(key), &p["event"]).0,
        200,
        "confirming twice books once"
    );
    assert_eq!(
        as_key(&s, "funder").get("/api/v1/totals").1["total_pence"],
        8_600_000
    );
    let (_, r) = broker.get("/api/v1/reconciliation");
    assert!(!r["proposals"]
        .as_array()
        .expect("p")
        .iter()
        .any(|p| p["case_id"] == id.as_str()));
}

fn sb(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.arg("--data-dir").arg(dir).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("runs")
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn members_file(dir: &Path, name: &str, cluster_a: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        json!([
            { "id": "a", "name": "Alpha Care CIC", "cluster": cluster_a },
            { "id": "b", "name": "Beta Gardens CIC", "cluster": "walsall" }
        ])
        .to_string(),
    )
    .expect("write");
    p
}

/// A data folder with two members (from 2025-01-01) and the demo notices.
fn folder() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempdir();
    let data = dir.path().join("data");
    let m = members_file(dir.path(), "members.json", "walsall");
    let d = data.as_path();
    ok_json(&sb(
        d,
        &[
            "members",
            "import",
            m.to_str().expect("p"),
            "--effective",
            "2025-01-01",
            "--json",
        ],
        &[],
    ));
    let demo = repo().join("fixtures/demo/fts-2026-11.json");
    ok_json(&sb(
        d,
        &["ingest", demo.to_str().expect("p"), "--json"],
        &[],
    ));
    let page = ok_json(&sb(d, &["search", "--limit", "1", "--json"], &[]));
    let ocid = page["hits"][0]["ocid"].as_str().expect("ocid").to_owned();
    (dir, data, ocid)
}

fn win(
    d: &Path,
    ocid: &str,
    member: &str,
    pence: &str,
    date: &str,
    env: &[(&str, &str)],
) -> String {
    let c = ok_json(&sb(
        d,
        &[
            "cases", "open", "--ocid", ocid, "--member", member, "--json",
        ],
        env,
    ));
    let id = c["case"]["case_id"].as_str().expect("id").to_owned();
    ok_json(&sb(
        d,
        &["cases", "event", &id, "--type", "introduced", "--json"],
        env,
    ));
    ok_json(&sb(
        d,
        &[
            "cases",
            "event",
            &id,
            "--type",
            "won",
            "--value-pence",
            pence,
            "--date",
            date,
            "--idempotency-key",
            &format!("win-{id}"),
            "--json",
        ],
        env,
    ));
    id
}

#[test]
fn totals_by_cluster_follow_the_cluster_of_the_win_date() {
    let (dir, data, ocid) = folder();
    let d = data.as_path();
    win(d, &ocid, "a", "1000", "2025-06-01", &[]);
    let m = members_file(dir.path(), "members2.json", "smethwick");
    ok_json(&sb(
        d,
        &[
            "members",
            "import",
            m.to_str().expect("p"),
            "--effective",
            "2025-09-01",
            "--json",
        ],
        &[],
    ));
    // One case per member per notice: the second win is on another notice.
    let page = ok_json(&sb(d, &["search", "--limit", "2", "--json"], &[]));
    let other = page["hits"][1]["ocid"].as_str().expect("a second ocid");
    assert_ne!(other, ocid);
    win(d, other, "a", "2000", "2025-10-01", &[]);
    let t = ok_json(&sb(d, &["totals", "--by", "cluster", "--json"], &[]));
    assert_eq!(
        row(&t, "walsall").map(|r| r["value_pence"].clone()),
        Some(json!(1000)),
        "{t}"
    );
    assert_eq!(
        row(&t, "smethwick").map(|r| r["value_pence"].clone()),
        Some(json!(2000)),
        "{t}"
    );
    assert_eq!(t["total_pence"], 3000);
    let csv = sb(d, &["totals", "--by", "cluster", "--csv"], &[]);
    assert!(
        String::from_utf8_lossy(&csv.stdout).contains("smethwick,0.0,25000000,2000,1"),
        "{}",
        String::from_utf8_lossy(&csv.stdout)
    );
    let k = ok_json(&sb(d, &["kpis", "--today", "2025-12-01", "--json"], &[]));
    assert_eq!(k["programme_year_now"], "year-1");
    assert_eq!(k["brokered_total_pence"], 3000);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}

#[test]
fn an_older_store_is_refused_and_backup_restore_verify_keep_the_totals() {
    let (dir, data, ocid) = folder();
    let d = data.as_path();
    let admin = ok_json(&sb(
        d,
        &["keys", "create", "--role", "admin", "--json"],
        &[],
    ));
    let broker = ok_json(&sb(
        d,
        &[
            "keys",
            "create",
            "--role",
            "broker",
            "--name",
            "test broker",
            "--json",
        ],
        &[],
    ));
    let admin_key = admin["key"].as_str().expect("key").to_owned();
    let broker_key = broker["key"].as_str().expect("key").to_owned();
    let bad = sb(d, &["keys", "create", "--role", "member"], &[]);
    assert_eq!(bad.status.code(), Some(2), "a member key needs --member");
    win(d, &ocid, "a", "5000", "2025-06-01", &[]);
    let b1 = dir.path().join("b1.jsonl");
    let r = ok_json(&sb(
        d,
        &["backup", "--out", b1.to_str().expect("p"), "--json"],
        &[],
    ));
    assert_eq!(
        (r["verified"].as_bool(), r["brokered_total_pence"].as_i64()),
        (Some(true), Some(5000))
    );
    let old = dir.path().join("old-ledger");
    copy_dir(&data.join("ledger"), &old);

    // While serving, ledger writes and stats go through the server.
    let dd = d.to_str().expect("p");
    let (mut server, url) = serve(&["--data-dir", dd], &[]);
    let env = [("SEBROKER_KEY", broker_key.as_str())];
    win(d, &ocid, "b", "7000", "2025-07-01", &env);
    let stats = ok_json(&sb(d, &["stats", "--json"], &env));
    assert_eq!(stats["brokered_total_pence"], 12_000, "{stats}");
    let http = Http {
        url: &url,
        key: Some(&broker_key),
    };
    assert_eq!(http.get("/api/v1/totals").1["total_pence"], 12_000);
    // An admin revokes the broker's key through the server: it stops working.
    let id = broker["id"].as_str().expect("id");
    let out = sb(
        d,
        &["keys", "revoke", id],
        &[("SEBROKER_KEY", admin_key.as_str())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(http.get("/api/v1/totals").0, 401);
    let _ = server.kill();
    let _ = server.wait();

    // sled "loses" the last writes: an older copy of the ledger folder.
    std::fs::remove_dir_all(data.join("ledger")).expect("rm");
    copy_dir(&old, &data.join("ledger"));
    let out = sb(d, &["serve", "--addr", "127.0.0.1:0", "--no-sync"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing to open the ledger") && err.contains("b1.jsonl"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "never listens"
    );
    assert_eq!(sb(d, &["verify"], &[]).status.code(), Some(1));

    let r = ok_json(&sb(d, &["restore", b1.to_str().expect("p"), "--json"], &[]));
    assert_eq!(r["events"].as_u64(), old_events(&b1));
    let v = ok_json(&sb(d, &["verify", "--json"], &[]));
    assert_eq!(
        (v["ok"].as_bool(), v["brokered_total_pence"].as_i64()),
        (Some(true), Some(5000))
    );
    let t = ok_json(&sb(d, &["totals", "--json"], &[]));
    assert_eq!(t["total_pence"], 5000);

    // Backup → restore into a fresh folder → verify: equal totals.
    let b2 = dir.path().join("b2.jsonl");
    ok_json(&sb(
        d,
        &["backup", "--out", b2.to_str().expect("p"), "--json"],
        &[],
    ));
    let fresh = dir.path().join("fresh");
    let r = ok_json(&sb(
        &fresh,
        &["restore", b2.to_str().expect("p"), "--json"],
        &[],
    ));
    assert_eq!(r["members"], 2);
    assert_eq!(ok_json(&sb(&fresh, &["verify", "--json"], &[]))["ok"], true);
    // Totals need the notices only for display; the ledger alone sums them.
    let t2 = ok_json(&sb(&fresh, &["totals", "--by", "cluster", "--json"], &[]));
    assert_eq!(t2["total_pence"], t["total_pence"]);
    assert_eq!(row(&t2, "walsall"), row(&t, "walsall"));
}

fn old_events(backup: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(backup).expect("read");
    let first: Value = serde_json::from_str(text.lines().next()?).ok()?;
    first["events"].as_u64()
}
