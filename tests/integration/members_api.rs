//! Members managed through the API against the real binary on 127.0.0.1:
//! `POST /api/v1/members` (valid → 201, GET shows it, its matches appear;
//! each invalid field → 422 naming it; an existing id → 409) and `PATCH
//! /api/v1/members/{id}` (brokers any field, a member its own editable
//! fields only; another member's id → 404 as for reads; a cluster change
//! recorded in the ledger).

use std::path::Path;

use serde_json::{json, Value};

use crate::common::tempdir;
use crate::crash::{folder, sb, start, Server};

/// A data folder with the demo members and notices, a running server, and
/// a key per role (`admin`, `broker`, `funder`, `member` for m-0001).
pub struct Site {
    pub server: Server,
    pub keys: std::collections::HashMap<&'static str, String>,
}

/// Creates a key with the CLI (before `serve` holds the folder).
pub fn cli_key(d: &Path, role: &str, member: Option<&str>) -> String {
    let mut c = sb(d);
    c.args(["keys", "create", "--role", role, "--json"]);
    if let Some(m) = member {
        c.args(["--member", m]);
    }
    let out = c.output().expect("keys create runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["key"].as_str().expect("key").to_owned()
}

/// Sets up `d` and starts the server on it.
pub fn site(d: &Path) -> Site {
    let (_, broker) = folder(d);
    let mut keys = std::collections::HashMap::new();
    keys.insert("broker", broker);
    keys.insert("admin", cli_key(d, "admin", None));
    keys.insert("funder", cli_key(d, "funder", None));
    keys.insert("member", cli_key(d, "member", Some("m-0001")));
    let server = start(d, &d.join("serve.log")).expect("serve starts");
    Site { server, keys }
}

impl Site {
    /// `METHOD path` as `role` (no key for `None`), with a JSON body.
    pub fn call(
        &self,
        role: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut r = reqwest::blocking::Client::new()
            .request(m, format!("{}{path}", self.server.url))
            .header("Idempotency-Key", format!("k-{}", rand_suffix()));
        if let Some(role) = role {
            r = r.bearer_auth(&self.keys[role]);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r.send().expect("request");
        let s = resp.status().as_u16();
        (s, resp.json().unwrap_or(Value::Null))
    }

    /// Stops the server (SIGKILL: every answer was flushed before it was sent).
    pub fn stop(mut self) {
        let _ = self.server.child.kill();
        let _ = self.server.child.wait();
    }
}

/// A unique-enough suffix for idempotency keys within one test run.
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn new_member() -> Value {
    json!({
        "id": "api-1", "name": "Ward End Cleaning Co-op", "cluster": "ward-end",
        "legal_form": "co-op", "description": "Office and community building cleaning",
        "cpv": ["90910000", "90919200"], "keywords": ["cleaning", "office cleaning"],
        "service_areas": ["Birmingham", "B8", "UKG31", "E08000025"],
        "turnover_gbp": 250000, "website": "https://cleaning.example.org",
        "contact": { "name": "Priya Shah", "email": "priya@cleaning.example.org", "phone": "0121 496 0123" }
    })
}

#[test]
fn post_creates_a_member_that_gets_matches_and_bad_fields_are_named() {
    let dir = tempdir();
    let s = site(dir.path());
    let (st, created) = s.call(
        Some("broker"),
        "POST",
        "/api/v1/members",
        Some(&new_member()),
    );
    assert_eq!(st, 201, "{created}");
    assert_eq!(
        created["member"]["contact"]["email"],
        "priya@cleaning.example.org"
    );
    let (st, got) = s.call(Some("broker"), "GET", "/api/v1/members/api-1", None);
    assert_eq!(
        (st, got["name"].as_str()),
        (200, Some("Ward End Cleaning Co-op"))
    );
    assert_eq!(
        got["contact"]["name"], "Priya Shah",
        "brokers see the contact"
    );
    let (st, m) = s.call(
        Some("broker"),
        "GET",
        "/api/v1/members/api-1/matches?top=50",
        None,
    );
    assert_eq!(st, 200);
    assert!(
        !m["matches"].as_array().expect("matches").is_empty(),
        "re-matched: {m}"
    );
    let (st, e) = s.call(
        Some("broker"),
        "POST",
        "/api/v1/members",
        Some(&new_member()),
    );
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("member_exists"))
    );

    let bad: [(&str, Value, &str); 7] = [
        ("name", json!(" "), "name"),
        ("cluster", json!("mars"), "cluster"),
        ("cpv", json!(["90910000", "85312000", "12x"]), "cpv[2]"),
        ("service_areas", json!(["B8", "Narnia"]), "service_areas[1]"),
        (
            "contact",
            json!({"email": "priya at example"}),
            "contact.email",
        ),
        ("website", json!("ftp://example.org"), "website"),
        ("colour", json!("red"), "colour"),
    ];
    for (i, (field, value, named)) in bad.into_iter().enumerate() {
        let mut body = new_member();
        body["id"] = json!(format!("bad-{i}"));
        body[field] = value;
        let (st, e) = s.call(Some("broker"), "POST", "/api/v1/members", Some(&body));
        assert_eq!(st, 422, "{field}: {e}");
        assert_eq!(e["error"]["code"], "invalid_member", "{field}: {e}");
        assert_eq!(e["error"]["field"], named, "{e}");
        let (st, _) = s.call(
            Some("broker"),
            "GET",
            &format!("/api/v1/members/bad-{i}"),
            None,
        );
        assert_eq!(st, 404, "nothing stored for a refused {field}");
    }
    for role in ["funder", "member"] {
        let mut body = new_member();
        body["id"] = json!("api-2");
        let (st, _) = s.call(Some(role), "POST", "/api/v1/members", Some(&body));
        assert_eq!(st, 403, "{role} may not create members");
    }
    let (st, _) = s.call(Some("funder"), "GET", "/api/v1/members/api-1", None);
    assert_eq!(st, 403, "funders never see members (nor their contacts)");
}

#[test]
fn patch_by_broker_and_by_the_member_itself_and_clusters_reach_the_ledger() {
    let dir = tempdir();
    let d = dir.path();
    let s = site(d);
    // A broker changes any field; the cluster change goes to the ledger.
    let (st, m) = s.call(
        Some("broker"),
        "PATCH",
        "/api/v1/members/m-0002",
        Some(&json!({"cluster": "walsall", "legal_form": null})),
    );
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["member"]["cluster"], "walsall");
    assert_eq!(m["member"]["legal_form"], Value::Null, "null clears");
    let (_, got) = s.call(Some("broker"), "GET", "/api/v1/members/m-0002", None);
    assert_eq!(got["cluster"], "walsall");
    assert!(
        !got["name"].as_str().unwrap_or("").is_empty(),
        "absent fields unchanged"
    );
    let (st, e) = s.call(
        Some("broker"),
        "PATCH",
        "/api/v1/members/m-0002",
        Some(&json!({"cpv": ["bad"]})),
    );
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("cpv[0]")));

    // The member on its own editable fields.
    let patch = json!({"description": "Youth work and mentoring", "keywords": ["mentoring"],
        "turnover_gbp": 90000, "contact": {"name": "Sam Okafor", "email": "sam@youth.example.org"}});
    let (st, m) = s.call(
        Some("member"),
        "PATCH",
        "/api/v1/members/m-0001",
        Some(&patch),
    );
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["member"]["turnover_pence"], 9_000_000);
    let (_, got) = s.call(Some("member"), "GET", "/api/v1/members/m-0001", None);
    assert_eq!(
        got["contact"]["name"], "Sam Okafor",
        "the member sees its own contact"
    );
    assert_eq!(got["description"], "Youth work and mentoring");
    // A partial contact patch keeps the other contact fields.
    let (st, m) = s.call(
        Some("member"),
        "PATCH",
        "/api/v1/members/m-0001",
        Some(&json!({"contact": {"phone": "0121 496 0456"}})),
    );
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["member"]["contact"]["email"], "sam@youth.example.org");
    // ... but nothing else, and never another member.
    for (field, value) in [
        ("cluster", json!("walsall")),
        ("name", json!("New name")),
        ("identifiers", json!({})),
    ] {
        let (st, e) = s.call(
            Some("member"),
            "PATCH",
            "/api/v1/members/m-0001",
            Some(&json!({ field: value })),
        );
        assert_eq!(
            (st, e["error"]["field"].as_str()),
            (403, Some(field)),
            "{e}"
        );
    }
    let (st, e) = s.call(
        Some("member"),
        "PATCH",
        "/api/v1/members/m-0002",
        Some(&json!({"description": "x"})),
    );
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (404, Some("member_not_found")),
        "as for reads: {e}"
    );
    let (st, _) = s.call(
        Some("funder"),
        "PATCH",
        "/api/v1/members/m-0001",
        Some(&json!({"description": "x"})),
    );
    assert_eq!(st, 403);
    let (_, got) = s.call(Some("broker"), "GET", "/api/v1/members/m-0001", None);
    assert_eq!(
        got["cluster"], "ward-end",
        "the refused cluster change did nothing"
    );
    s.stop();

    // The ledger holds the cluster change (a backup lists its events).
    let out = d.join("b.jsonl");
    let o = sb(d)
        .args(["backup", "--out"])
        .arg(&out)
        .output()
        .expect("backup");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).expect("backup file");
    let changes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"cluster_changed\"") && l.contains("\"m-0002\""))
        .collect();
    assert_eq!(
        changes.len(),
        2,
        "the import's and the PATCH's: {changes:?}"
    );
    assert!(changes[1].contains("\"walsall\""), "{changes:?}");
}
