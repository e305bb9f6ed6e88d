//! The authorization matrix: every route and page of the route table
//! (`sebroker_server::router::routes`), tried against the real binary with no
//! credential, a garbage one, a revoked key, an expired key, every role, two
//! different members, and page sessions — live, revoked after sign-in, and
//! expired after sign-in — over real data (cases, a win, returns, referrals,
//! alert settings and alerts for both members). Statuses must follow the
//! policy table, nothing may answer 5xx, and no body or CSV may show a member
//! another member's (or the funder any member's) id, name, e-mail or notes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::Method;
use serde_json::{json, Value};

use sebroker_ledger::auth::Role;
use sebroker_server::policy::Surface;
use sebroker_server::policy::{self, Action, Decision};
use sebroker_server::router::routes;

use crate::common::bin;

const ADMIN_TOKEN: &str = "matrix-admin-token-0123456789";

struct Server {
    child: Child,
    url: String,
    http: Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(env: &[(&str, &str)]) -> Server {
    let mut cmd = bin();
    cmd.env("SEBROKER_ADMIN_TOKEN", ADMIN_TOKEN);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .args(["serve", "--addr", "127.0.0.1:0", "--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let url = crate::common::listening_url(&mut child);
    // Keep draining stderr so the server's logging never blocks.
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    Server { child, url, http }
}

/// Who is asking, as one row of the matrix.
#[derive(Clone, Debug)]
struct Who {
    label: String,
    /// The bearer credential (API) — none for sessions.
    key: Option<String>,
    /// The session cookie and its CSRF token (pages).
    session: Option<(String, String)>,
    /// The role and member it should be treated as; `None`: not signed in.
    acts_as: Option<(Role, Option<String>)>,
    /// Texts this principal must never see.
    forbidden_texts: Vec<String>,
}

impl Server {
    fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .header("Idempotency-Key", format!("setup-{path}-{}", nonce()));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().expect("setup request");
        let st = resp.status().as_u16();
        (st, resp.json().unwrap_or(Value::Null))
    }

    fn key(&self, body: Value) -> (String, String) {
        let (st, v) = self.admin(Method::POST, "/api/v1/keys", Some(body));
        assert_eq!(st, 201, "key: {v}");
        (
            v["key"].as_str().expect("key").to_owned(),
            v["id"].as_str().expect("id").to_owned(),
        )
    }

    /// Signs in through the form (CSRF cookie and field), returning the
    /// session cookie and the session's CSRF token.
    fn sign_in(&self, key: &str) -> (String, String) {
        let form = self
            .http
            .get(format!("{}/signin", self.url))
            .send()
            .expect("signin form");
        let signin_cookie = set_cookie(&form, "sebroker_signin").expect("signin csrf cookie");
        let html = form.text().expect("html");
        let csrf = hidden(&html, "csrf").expect("csrf field on the sign-in form");
        let resp = self
            .http
            .post(format!("{}/signin", self.url))
            .header("cookie", format!("sebroker_signin={signin_cookie}"))
            .form(&[("key", key), ("csrf", csrf.as_str()), ("next", "/")])
            .send()
            .expect("signin");
        assert_eq!(resp.status().as_u16(), 303, "sign-in with a good key");
        let session = set_cookie(&resp, "sebroker_session").expect("session cookie");
        // The session's own CSRF token is on every page (the sign-out form).
        let home = self.page(&session, "/");
        let to = home
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("home redirects")
            .to_owned();
        let page = self.page(&session, &to).text().expect("page");
        let token = hidden(&page, "csrf").expect("csrf on a page");
        (session, token)
    }

    fn page(&self, session: &str, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.url))
            .header("cookie", format!("sebroker_session={session}"))
            .send()
            .expect("page")
    }
}

fn nonce() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    u128::from(N.fetch_add(1, Ordering::Relaxed))
}

fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

struct Data {
    ocid: String,
    a: String,
    b: String,
    case_a: String,
    void_seq: u64,
    spare_key_id: String,
    texts_a: Vec<String>,
    texts_b: Vec<String>,
}

/// Cases, a win, returns, referrals, alert settings and alerts for both members.
fn seed(s: &Server) -> Data {
    let (_, members) = s.admin(Method::GET, "/api/v1/members?limit=2", None);
    let ids: Vec<String> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect();
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let name = |id: &str| {
        s.admin(Method::GET, &format!("/api/v1/members/{id}"), None)
            .1["name"]
            .as_str()
            .expect("name")
            .to_owned()
    };
    let (name_a, name_b) = (name(&a), name(&b));
    let (_, page) = s.admin(Method::GET, "/api/v1/notices?limit=1", None);
    let ocid = page["hits"][0]["notice"]["ocid"]
        .as_str()
        .or(page["hits"][0]["ocid"].as_str())
        .expect("a notice")
        .to_owned();
    let mut case_ids = HashMap::new();
    for (m, tag) in [(&a, "A"), (&b, "B")] {
        let (st, v) = s.admin(
            Method::POST,
            "/api/v1/cases",
            Some(
                json!({ "ocid": ocid, "members": [m], "notes": format!("matrix-case-note-{tag}") }),
            ),
        );
        assert_eq!(st, 201, "{v}");
        let id = v["case"]["case_id"].as_str().expect("case id").to_owned();
        let events = format!("/api/v1/cases/{id}/events");
        for t in ["introduced", "interested", "bid_submitted"] {
            assert_eq!(
                s.admin(Method::POST, &events, Some(json!({ "type": t }))).0,
                201
            );
        }
        let (st, v) = s.admin(
            Method::POST,
            &events,
            Some(
                json!({ "type": "won", "value_pence": 250_000, "date": "2026-06-01",
                "notes": format!("matrix-win-note-{tag}"),
                "shares": [{ "member_id": m, "basis_points": 10000 }] }),
            ),
        );
        assert_eq!(st, 201, "{v}");
        let (st, v) = s.admin(
            Method::POST,
            &format!("/api/v1/members/{m}/returns"),
            Some(json!({ "year": 2026, "turnover_pence": 10_000_000, "notes": format!("matrix-return-note-{tag}") })),
        );
        assert_eq!(st, 201, "{v}");
        let (st, v) = s.admin(
            Method::POST,
            "/api/v1/referrals",
            Some(json!({ "member_id": m, "programme": "sega", "notes": format!("matrix-referral-note-{tag}") })),
        );
        assert_eq!(st, 201, "{v}");
        let (st, v) = s.admin(
            Method::PUT,
            &format!("/api/v1/members/{m}/alert-settings"),
            Some(json!({ "email": format!("matrix-{}@example.org", tag.to_lowercase()), "frequency": "instant", "threshold": 0.0 })),
        );
        assert_eq!(st, 200, "{v}");
        case_ids.insert(tag, id);
    }
    let (st, v) = s.admin(Method::POST, "/api/v1/alerts/run", Some(json!({})));
    assert!(st < 300, "alerts run: {st} {v}");
    // The leak checks on alerts look at something: both members have some.
    for m in [&a, &b] {
        let (st, v) = s.admin(Method::GET, &format!("/api/v1/members/{m}/alerts"), None);
        let n = v["alerts"].as_array().map_or(0, Vec::len);
        assert!(st == 200 && n > 0, "alerts of {m}: {st} {v}");
    }
    let (st, v) = s.admin(
        Method::POST,
        "/api/v1/referrals",
        Some(json!({ "member_id": a, "programme": "sedf" })),
    );
    assert_eq!(st, 201, "{v}");
    let void_seq = v["seq"]
        .as_u64()
        .or(v["event"]["seq"].as_u64())
        .or(v["record"]["seq"].as_u64())
        .unwrap_or_else(|| panic!("seq in {v}"));
    let (_, spare_key_id) =
        s.key(json!({ "role": "funder", "name": "spare, revoked by the matrix" }));
    let texts = |id: &str, name: &str, tag: &str| {
        vec![
            id.to_owned(),
            name.to_owned(),
            format!("matrix-{}@example.org", tag.to_lowercase()),
            format!("matrix-case-note-{tag}"),
            format!("matrix-win-note-{tag}"),
            format!("matrix-return-note-{tag}"),
            format!("matrix-referral-note-{tag}"),
        ]
    };
    Data {
        texts_a: texts(&a, &name_a, "A"),
        texts_b: texts(&b, &name_b, "B"),
        ocid,
        case_a: case_ids["A"].clone(),
        a,
        b,
        void_seq,
        spare_key_id,
    }
}

fn concrete(path: &str, d: &Data) -> String {
    let id = if path.starts_with("/api/v1/members/") || path.starts_with("/members/") {
        d.a.clone()
    } else if path.starts_with("/api/v1/keys/") {
        d.spare_key_id.clone()
    } else {
        d.case_a.clone()
    };
    path.replace("{ocid}", &d.ocid)
        .replace("{id}", &id)
        .replace("{seq}", &d.void_seq.to_string())
        .replace("{slug}", "matrix-anchor")
        .replace("{file}", "no-such-feed.atom")
        .replace("{token}", "no-such-token")
}

/// What the policy table says for this principal, or `None` when the
/// route is public.
fn expected(action: Action, who: &Who, path_member: Option<&str>) -> Option<Decision> {
    if policy::access(action) == policy::Access::Public {
        return None;
    }
    who.acts_as
        .as_ref()
        .map(|(role, own)| policy::decide(action, *role, own.as_deref(), path_member))
}

#[allow(clippy::too_many_lines)]
fn identities(s: &Server, d: &Data) -> (Vec<Who>, Vec<Who>) {
    let none = |label: &str| Who {
        label: label.to_owned(),
        key: None,
        session: None,
        acts_as: None,
        forbidden_texts: [d.texts_a.clone(), d.texts_b.clone()].concat(),
    };
    let all = [d.texts_a.clone(), d.texts_b.clone()].concat();
    let (broker, _) = s.key(json!({ "role": "broker" }));
    let (funder, _) = s.key(json!({ "role": "funder" }));
    let (admin, _) = s.key(json!({ "role": "admin" }));
    let (mem_a, _) = s.key(json!({ "role": "member", "member_id": d.a }));
    let (mem_b, _) = s.key(json!({ "role": "member", "member_id": d.b }));
    let (revoked, revoked_id) = s.key(json!({ "role": "broker" }));
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(4);
    let expires = expires
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let (expiring, _) = s.key(json!({ "role": "broker", "expires": expires }));
    let (revoke_after, revoke_after_id) = s.key(json!({ "role": "broker" }));
    let (revoke_after_member, revoke_after_member_id) =
        s.key(json!({ "role": "member", "member_id": d.a }));

    let sess = |key: &str| Some(s.sign_in(key));
    let broker_s = sess(&broker);
    let funder_s = sess(&funder);
    let admin_s = sess(ADMIN_TOKEN);
    let a_s = sess(&mem_a);
    let b_s = sess(&mem_b);
    let expiring_s = sess(&expiring);
    let revoked_s = sess(&revoke_after);
    let revoked_member_s = sess(&revoke_after_member);
    // The sessions work before their keys go.
    for (label, session) in [
        ("revoked", &revoked_s),
        ("revoked member", &revoked_member_s),
    ] {
        let (cookie, _) = session.as_ref().expect("session");
        let to = if label == "revoked" {
            "/pipeline".to_owned()
        } else {
            format!("/members/{}", d.a)
        };
        assert_eq!(
            s.page(cookie, &to).status().as_u16(),
            200,
            "{label} session works before revocation"
        );
    }
    for id in [&revoked_id, &revoke_after_id, &revoke_after_member_id] {
        let (st, v) = s.admin(Method::POST, &format!("/api/v1/keys/{id}/revoke"), None);
        assert_eq!(st, 200, "{v}");
    }
    // Wait out the expiring key (the server and this test share a clock).
    while time::OffsetDateTime::now_utc() < expires_at(&expires) + time::Duration::milliseconds(500)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let k =
        |label: &str, key: &str, acts: Option<(Role, Option<String>)>, texts: Vec<String>| Who {
            label: label.to_owned(),
            key: Some(key.to_owned()),
            session: None,
            acts_as: acts,
            forbidden_texts: texts,
        };
    let api = vec![
        none("no key"),
        k("garbage key", "sbk_000000000000_garbage", None, all.clone()),
        k("not even a key shape", "hello", None, all.clone()),
        k("revoked key", &revoked, None, all.clone()),
        k("expired key", &expiring, None, all.clone()),
        k(
            "admin token",
            ADMIN_TOKEN,
            Some((Role::Admin, None)),
            vec![],
        ),
        k("admin key", &admin, Some((Role::Admin, None)), vec![]),
        k("broker key", &broker, Some((Role::Broker, None)), vec![]),
        k(
            "funder key",
            &funder,
            Some((Role::Funder, None)),
            all.clone(),
        ),
        k(
            "member A key",
            &mem_a,
            Some((Role::Member, Some(d.a.clone()))),
            d.texts_b.clone(),
        ),
        k(
            "member B key",
            &mem_b,
            Some((Role::Member, Some(d.b.clone()))),
            d.texts_a.clone(),
        ),
    ];
    let p = |label: &str,
             session: Option<(String, String)>,
             acts: Option<(Role, Option<String>)>,
             texts: Vec<String>| Who {
        label: label.to_owned(),
        key: None,
        session,
        acts_as: acts,
        forbidden_texts: texts,
    };
    let pages = vec![
        none("no session"),
        p(
            "garbage session",
            Some(("0".repeat(64), "x".into())),
            None,
            all.clone(),
        ),
        p(
            "session of a key revoked after sign-in",
            revoked_s,
            None,
            all.clone(),
        ),
        p(
            "member session of a key revoked after sign-in",
            revoked_member_s,
            None,
            all.clone(),
        ),
        p(
            "session of a key that expired after sign-in",
            expiring_s,
            None,
            all.clone(),
        ),
        p(
            "admin-token session",
            admin_s,
            Some((Role::Admin, None)),
            vec![],
        ),
        p(
            "broker session",
            broker_s,
            Some((Role::Broker, None)),
            vec![],
        ),
        p(
            "funder session",
            funder_s,
            Some((Role::Funder, None)),
            all.clone(),
        ),
        p(
            "member A session",
            a_s,
            Some((Role::Member, Some(d.a.clone()))),
            d.texts_b.clone(),
        ),
        p(
            "member B session",
            b_s,
            Some((Role::Member, Some(d.b.clone()))),
            d.texts_a.clone(),
        ),
    ];
    (api, pages)
}

fn expires_at(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).expect("time")
}

/// A body an allowed caller's request can be judged by (valid or not, it
/// must never meet 401 or 403).
fn body_for(path: &str, d: &Data) -> Value {
    if path == "/api/v1/cases" {
        json!({ "ocid": d.ocid, "members": [d.a] })
    } else if path.ends_with("/events") {
        json!({ "type": "lost" })
    } else if path.ends_with("/returns") {
        json!({ "year": 2027 })
    } else if path == "/api/v1/referrals" {
        json!({ "member_id": d.a, "programme": "sega" })
    } else if path == "/api/v1/keys" {
        json!({ "role": "funder", "name": "made by the matrix" })
    } else if path.ends_with("/alert-settings") {
        json!({ "frequency": "daily" })
    } else if path.ends_with("/interests") {
        json!({ "ocid": d.ocid })
    } else if path.ends_with("/erase") {
        // Admitted callers get a 400 (the id is not confirmed): the matrix
        // must not erase the member the other rows read.
        json!({ "confirm": "not-this-member" })
    } else if path.ends_with("/void") {
        json!({ "reason": "voided by the authorization matrix" })
    } else if path.ends_with("/opportunities") {
        json!({ "title": "Matrix test opportunity", "buyer": "Matrix" })
    } else {
        json!({})
    }
}

/// Status, `Location`, body, and which of the expected headers are missing.
type Answer = (u16, String, String, Vec<&'static str>);

fn send(
    s: &Server,
    who: &Who,
    method: &Method,
    path: &str,
    surface: Surface,
    d: &Data,
    csv: bool,
) -> Answer {
    let url = if csv {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{sep}format=csv", s.url)
    } else {
        format!("{}{path}", s.url)
    };
    let mut r = s
        .http
        .request(method.clone(), url)
        .header("Idempotency-Key", format!("matrix-{}", nonce()));
    if let Some(k) = &who.key {
        r = r.bearer_auth(k);
    }
    if let Some((cookie, _)) = &who.session {
        r = r.header("cookie", format!("sebroker_session={cookie}"));
    }
    if *method != Method::GET {
        r = match surface {
            Surface::Api => r.json(&body_for(path, d)),
            Surface::Page => {
                let csrf = who
                    .session
                    .as_ref()
                    .map(|(_, c)| c.clone())
                    .unwrap_or_default();
                r.form(&[
                    ("csrf", csrf.as_str()),
                    ("ocid", d.ocid.as_str()),
                    ("member", d.a.as_str()),
                    ("step", "lost"),
                    ("idempotency_key", &format!("matrix-page-{}", nonce())),
                ])
            }
        };
    }
    let resp = r
        .send()
        .unwrap_or_else(|e| panic!("{method} {path} as {}: {e}", who.label));
    let st = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let h = resp.headers();
    let mut missing: Vec<&'static str> = [
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
    ]
    .into_iter()
    .filter(|k| !h.contains_key(*k))
    .collect();
    if h.get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.contains("frame-ancestors 'none'"))
    {
        missing.push("frame-ancestors 'none'");
    }
    if h.get("cache-control").and_then(|v| v.to_str().ok()) != Some("no-store") {
        missing.push("cache-control: no-store");
    }
    (st, location, resp.text().unwrap_or_default(), missing)
}

fn judge(
    who: &Who,
    method: &Method,
    path: &str,
    surface: Surface,
    want: Option<Decision>,
    got: Answer,
    public: bool,
) -> Vec<String> {
    let (st, location, body, missing) = got;
    let mut bad = Vec::new();
    let at = format!("{method} {path} as {}", who.label);
    // Every answer carries the security headers; every answer of a route
    // that needs a principal (refusals included) is not to be cached.
    let missing: Vec<&str> = missing
        .into_iter()
        .filter(|m| !(public && *m == "cache-control: no-store"))
        .collect();
    if !missing.is_empty() {
        bad.push(format!("{at}: {st} without {missing:?}"));
    }
    if st >= 500 {
        bad.push(format!("{at}: {st} {body}"));
    }
    let signin = (300..400).contains(&st) && location.starts_with("/signin");
    match (public, surface, want) {
        (true, _, _) => {}
        (false, Surface::Api, None) if st != 401 => bad.push(format!("{at}: {st}, want 401")),
        (false, Surface::Page, None) if !signin => {
            bad.push(format!("{at}: {st} {location}, want a redirect to /signin"));
        }
        (false, Surface::Api, Some(Decision::Forbidden)) if st != 403 => {
            bad.push(format!("{at}: {st}, want 403"));
        }
        (false, Surface::Api, Some(Decision::Hidden)) if st != 404 => {
            bad.push(format!("{at}: {st}, want 404"));
        }
        (false, Surface::Page, Some(Decision::Forbidden | Decision::Hidden)) if st != 404 => {
            bad.push(format!("{at}: {st}, want 404"));
        }
        (false, _, Some(Decision::Allow)) if st == 401 || st == 403 || signin => {
            bad.push(format!("{at}: {st} {location}, want it allowed: {body}"));
        }
        // Admins and brokers see every row: their reads must succeed (or,
        // for the home page, redirect to the right page), not merely
        // escape 401 and 403.
        (false, _, Some(Decision::Allow))
            if *method == Method::GET
                && matches!(who.acts_as, Some((Role::Admin | Role::Broker, _)))
                && !(200..400).contains(&st) =>
        {
            bad.push(format!("{at}: {st}, want it answered: {body}"));
        }
        _ => {}
    }
    for t in &who.forbidden_texts {
        // An id the caller sent itself, echoed in "no member with id …",
        // tells it nothing.
        if body.contains(t.as_str()) && !path.contains(t.as_str()) {
            bad.push(format!("{at}: the answer shows {t:?}"));
        }
    }
    bad
}

#[test]
fn every_route_and_page_follows_the_policy_table_and_leaks_nothing() {
    // Raised: this test makes thousands of requests and many bad ones.
    let s = start(&[
        ("SEBROKER_RATE_LIMIT", "1000000"),
        ("SEBROKER_AUTH_RATE_LIMIT", "1000000"),
    ]);
    let d = seed(&s);
    let (api_who, page_who) = identities(&s, &d);
    let table = routes();
    assert!(
        table.len() >= 45,
        "the table lists every route: {}",
        table.len()
    );
    // Every action of the table has a policy entry by construction; every
    // path is unique per method.
    let mut seen = std::collections::HashSet::new();
    for r in &table {
        assert!(
            seen.insert((r.method.clone(), r.path)),
            "twice: {} {}",
            r.method,
            r.path
        );
    }
    // Refinements asked inside handlers, probed like routes.
    let mut probes: Vec<(Method, String, Surface, Action)> = table
        .iter()
        .map(|r| (r.method.clone(), concrete(r.path, &d), r.surface, r.action))
        .collect();
    probes.push((
        Method::GET,
        "/api/v1/totals?by=member".into(),
        Surface::Api,
        Action::TotalsByMember,
    ));
    probes.push((
        Method::GET,
        "/dashboard/totals.csv?by=member".into(),
        Surface::Page,
        Action::TotalsByMember,
    ));
    // Signing out ends a session: try it last.
    probes.sort_by_key(|p| p.3 == Action::PageSignOut);
    let mut failures = Vec::new();
    let mut tried = 0;
    for (method, path, surface, action) in &probes {
        let whos = match surface {
            Surface::Api => &api_who,
            Surface::Page => &page_who,
        };
        let public = policy::access(*action) == policy::Access::Public;
        let path_member = (path.contains("/members/")).then_some(d.a.as_str());
        for who in whos {
            let want = expected(*action, who, path_member);
            let got = send(&s, who, method, path, *surface, &d, false);
            tried += 1;
            if *action == Action::PageSignOut && want == Some(Decision::Allow) {
                // Signing out answers with the sign-in page; the session
                // must be over afterwards.
                let (cookie, _) = who.session.as_ref().expect("a session");
                let after = s.page(cookie, "/").status().as_u16();
                let home = s.page(cookie, "/pipeline");
                let location = home
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if got.0 != 303
                    || after != 303
                    || !location.starts_with("/signin")
                    || !got.3.is_empty()
                {
                    failures.push(format!(
                        "POST /signout as {}: {} then {after} {location}",
                        who.label, got.0
                    ));
                }
                continue;
            }
            failures.extend(judge(who, method, path, *surface, want, got, public));
            // Every allowed API read is checked as CSV as well.
            if *surface == Surface::Api && *method == Method::GET && want == Some(Decision::Allow) {
                let got = send(&s, who, method, path, *surface, &d, true);
                failures.extend(judge(who, method, path, *surface, want, got, public));
                tried += 1;
            }
        }
        // Pages never take an API key, and the API never takes a session.
        let cross = match surface {
            Surface::Api => page_who.iter().find(|w| w.label == "broker session"),
            Surface::Page => api_who.iter().find(|w| w.label == "broker key"),
        };
        if let (false, Some(w)) = (public, cross) {
            let stranger = Who {
                acts_as: None,
                ..w.clone()
            };
            let got = send(&s, &stranger, method, path, *surface, &d, false);
            failures.extend(judge(&stranger, method, path, *surface, None, got, public));
            tried += 1;
        }
    }
    assert!(tried > 500, "{tried} requests");
    assert!(
        failures.is_empty(),
        "{} of {tried} requests broke the policy:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn retry_after(r: &Response) -> Option<u64> {
    r.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[test]
fn bad_credentials_sign_ins_and_sessions_are_rate_limited_with_retry_after() {
    let s = start(&[
        ("SEBROKER_AUTH_RATE_LIMIT", "5"),
        ("SEBROKER_RATE_LIMIT", "6"),
    ]);
    // Wrong keys: 401 until the address has used its allowance, then 429.
    let wrong: Vec<(u16, Option<u64>)> = (0..8)
        .map(|_| {
            let r = s
                .http
                .get(format!("{}/api/v1/cases", s.url))
                .bearer_auth("sbk_000000000000_wrong")
                .send()
                .expect("get");
            (r.status().as_u16(), retry_after(&r))
        })
        .collect();
    assert!(wrong[..5].iter().all(|(st, _)| *st == 401), "{wrong:?}");
    assert!(
        wrong[5..].iter().all(|(st, r)| *st == 429 && r.is_some()),
        "{wrong:?}"
    );
    // A good key still works from the same address.
    let ok = s
        .http
        .get(format!("{}/api/v1/kpis", s.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .expect("get");
    assert_eq!(ok.status().as_u16(), 200);
    // A session spends its key's allowance: the pages are limited too.
    let (cookie, _) = s.sign_in(ADMIN_TOKEN);
    let pages: Vec<(u16, Option<u64>)> = (0..8)
        .map(|_| {
            let r = s.page(&cookie, "/search");
            (r.status().as_u16(), retry_after(&r))
        })
        .collect();
    assert!(pages.iter().any(|(st, _)| *st == 200), "{pages:?}");
    assert!(
        pages.iter().any(|(st, r)| *st == 429 && r.is_some()),
        "{pages:?}"
    );
    // Sign-in attempts themselves are counted per address.
    let attempts: Vec<u16> = (0..8)
        .map(|_| {
            s.http
                .post(format!("{}/signin", s.url))
                .form(&[("key", "nope"), ("csrf", "nope")])
                .send()
                .expect("post")
                .status()
                .as_u16()
        })
        .collect();
    assert!(attempts.contains(&429), "{attempts:?}");
}
