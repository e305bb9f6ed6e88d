//! The audit log end to end: a scripted session (a key created, a case
//! opened and stepped, a write a member key is refused, a 422, a request
//! without a key) is in `GET /api/v1/audit` with the right status, actor
//! and kind; only admins read it; `since`, `actor` and `kind` filter; CSV
//! works; `sebroker audit` prints the command line's own writes too.

use serde_json::{json, Value};

use crate::common::tempdir;
use crate::crash::sb;
use crate::members_api::site;

fn entries(v: &Value) -> Vec<Value> {
    v["entries"].as_array().cloned().unwrap_or_default()
}

fn find<'a>(es: &'a [Value], kind: &str, status: u16) -> Option<&'a Value> {
    es.iter()
        .find(|e| e["kind"] == kind && e["status"] == status)
}

#[test]
fn a_scripted_session_is_audited_and_only_admins_read_it() {
    let dir = tempdir();
    let d = dir.path();
    let s = site(d);
    let (_, page) = s.call(Some("broker"), "GET", "/api/v1/notices?limit=1", None);
    let ocid = page["hits"][0]["ocid"].as_str().expect("ocid").to_owned();
    let (st, _) = s.call(
        Some("admin"),
        "POST",
        "/api/v1/keys",
        Some(&json!({"role": "funder", "name": "Audit Person"})),
    );
    assert_eq!(st, 201);
    let (st, c) = s.call(
        Some("broker"),
        "POST",
        "/api/v1/cases",
        Some(&json!({"ocid": ocid, "members": ["m-0001"], "notes": "secret notes"})),
    );
    assert_eq!(st, 201, "{c}");
    let case = c["case"]["case_id"].as_str().expect("case").to_owned();
    let step = format!("/api/v1/cases/{case}/events");
    assert_eq!(
        s.call(
            Some("broker"),
            "POST",
            &step,
            Some(&json!({"type": "introduced"}))
        )
        .0,
        201
    );
    assert_eq!(
        s.call(
            Some("member"),
            "POST",
            "/api/v1/cases",
            Some(&json!({"ocid": ocid, "members": ["m-0001"]}))
        )
        .0,
        403
    );
    assert_eq!(
        s.call(
            Some("broker"),
            "POST",
            "/api/v1/members",
            Some(&json!({"id": "x", "name": ""}))
        )
        .0,
        422
    );
    assert_eq!(
        s.call(None, "POST", "/api/v1/cases", Some(&json!({}))).0,
        401
    );
    assert_eq!(
        s.call(Some("broker"), "GET", "/api/v1/cases", None).0,
        200,
        "a read"
    );

    for role in ["broker", "member", "funder"] {
        assert_eq!(
            s.call(Some(role), "GET", "/api/v1/audit", None).0,
            403,
            "{role}"
        );
    }
    let (st, all) = s.call(Some("admin"), "GET", "/api/v1/audit", None);
    assert_eq!(st, 200, "{all}");
    let es = entries(&all);
    let via_cli = find(&es, "POST /api/v1/keys", 201).expect("keys made by the set-up");
    assert_eq!(
        (via_cli["from"].as_str(), via_cli["role"].as_str()),
        (Some("cli"), Some("admin"))
    );
    assert!(
        via_cli["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("cli:")),
        "{via_cli}"
    );
    let key = es
        .iter()
        .find(|e| e["kind"] == "POST /api/v1/keys" && e["from"] == "127.0.0.1")
        .expect("key created over HTTP");
    assert_eq!(
        (key["role"].as_str(), key["status"].as_u64()),
        (Some("admin"), Some(201))
    );
    assert!(
        key["actor"].as_str().is_some_and(|a| a.starts_with("key:")),
        "{key}"
    );
    let opened = find(&es, "POST /api/v1/cases", 201).expect("case opened");
    assert_eq!(opened["role"], "broker");
    assert_eq!(opened["from"], "127.0.0.1");
    assert!(
        opened["idempotency_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("k-")),
        "{opened}"
    );
    assert!(
        OffsetDateTime_ok(opened["at"].as_str().unwrap_or("")),
        "{opened}"
    );
    assert!(
        find(&es, "POST /api/v1/cases/{id}/events", 201).is_some(),
        "the step"
    );
    let refused = find(&es, "POST /api/v1/cases", 403).expect("the member's refused write");
    assert_eq!(refused["role"], "member");
    assert!(find(&es, "POST /api/v1/members", 422).is_some(), "the 422");
    let anon = find(&es, "POST /api/v1/cases", 401).expect("the 401");
    assert_eq!(anon["actor"], "anonymous");
    assert!(
        es.iter()
            .all(|e| !e["kind"].as_str().unwrap_or("").starts_with("GET")),
        "reads are not audited"
    );
    let text = all.to_string();
    assert!(
        !text.contains("secret notes") && !text.contains("Audit Person"),
        "no bodies, no key names"
    );

    // Filters.
    let broker_actor = opened["actor"].as_str().expect("actor").to_owned();
    let (_, mine) = s.call(
        Some("admin"),
        "GET",
        &format!("/api/v1/audit?actor={broker_actor}"),
        None,
    );
    let mine = entries(&mine);
    assert!(
        mine.len() >= 3 && mine.iter().all(|e| e["actor"] == broker_actor.as_str()),
        "{mine:?}"
    );
    let (_, kind) = s.call(Some("admin"), "GET", "/api/v1/audit?kind=/events", None);
    assert_eq!(entries(&kind).len(), 1, "{kind}");
    let at_step = find(&es, "POST /api/v1/cases/{id}/events", 201)
        .and_then(|e| e["at"].as_str())
        .expect("at")
        .to_owned();
    let (_, since) = s.call(
        Some("admin"),
        "GET",
        &format!("/api/v1/audit?since={}", at_step.replace('+', "%2B")),
        None,
    );
    let since = entries(&since);
    assert!(
        !since.is_empty()
            && since
                .iter()
                .all(|e| e["at"].as_str().unwrap_or("") >= at_step.as_str()),
        "{since:?}"
    );
    assert!(
        find(&since, "POST /api/v1/keys", 201).is_none(),
        "before `since`"
    );
    assert_eq!(
        s.call(Some("admin"), "GET", "/api/v1/audit?since=yesterday", None)
            .0,
        400
    );
    let csv = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/audit?format=csv", s.server.url))
        .bearer_auth(&s.keys["admin"])
        .send()
        .expect("csv");
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/csv"));
    let body = csv.text().expect("text");
    assert!(
        body.lines()
            .next()
            .is_some_and(|h| h.contains("actor") && h.contains("status")),
        "{body}"
    );
    assert!(body.contains("POST /api/v1/cases/{id}/events"), "{body}");
    s.stop();

    // The command line: its own writes are audited, and it prints the log.
    let members = crate::common::repo().join("fixtures/demo/members.json");
    let o = sb(d)
        .args(["members", "import"])
        .arg(&members)
        .output()
        .expect("import");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = sb(d)
        .args(["audit", "--kind", "cli members", "--json"])
        .output()
        .expect("audit");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let cli = entries(&v);
    assert_eq!(cli.len(), 2, "the set-up import and this one: {v}");
    assert_eq!(
        (cli[1]["from"].as_str(), cli[1]["status"].as_u64()),
        (Some("cli"), Some(0))
    );
    assert!(
        cli[1]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("cli:")),
        "{v}"
    );
    let o = sb(d).args(["audit", "--csv"]).output().expect("audit csv");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("POST /api/v1/cases") && text.contains("cli members import"),
        "{text}"
    );
    let o = sb(d).args(["audit"]).output().expect("audit");
    assert!(String::from_utf8_lossy(&o.stdout).contains("POST /api/v1/keys"));
}

/// An RFC 3339 time with an offset (`Z` or `±hh:mm`).
#[allow(non_snake_case)]
fn OffsetDateTime_ok(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}
