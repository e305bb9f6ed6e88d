//! People's accounts over HTTP against the real binary on 127.0.0.1: the
//! accounts API is for admins only, e-mails are unique (case aside) and
//! checked, invitation and reset links work once, sign-in with e-mail and
//! password gives a session that ends when the account is disabled,
//! reset or given another role; a disabled account cannot sign in;
//! erasure of a member removes its people; `serve --demo` prints demo
//! accounts that sign in; unknown paths answer a browser with HTML.

use reqwest::blocking::{Client, Response};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{json, Value};

use crate::common::tempdir;
use crate::members_api::{site, Site};

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of cookie `name` set by `r`, if any.
fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|c| c.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// Signs in at `/signin` with these form fields; the status, the session
/// cookie (if one was made) and the body.
fn sign_in(url: &str, fields: &[(&str, &str)]) -> (u16, Option<String>, String) {
    let c = client();
    let form = c.get(format!("{url}/signin")).send().expect("form");
    let csrf_cookie = set_cookie(&form, "sebroker_signin").expect("sign-in csrf cookie");
    let html = form.text().expect("html");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("csrf field")
        .to_owned();
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("csrf", &csrf));
    all.push(("next", "/"));
    let r = c
        .post(format!("{url}/signin"))
        .header(COOKIE, format!("sebroker_signin={csrf_cookie}"))
        .form(&all)
        .send()
        .expect("sign in");
    let status = r.status().as_u16();
    let session = set_cookie(&r, "sebroker_session");
    (status, session, r.text().unwrap_or_default())
}

/// `GET path` with a session: the status and where it redirects.
fn page(url: &str, session: &str, path: &str) -> (u16, String) {
    let r = client()
        .get(format!("{url}{path}"))
        .header(COOKIE, format!("sebroker_session={session}"))
        .send()
        .expect("page");
    let to = r
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (r.status().as_u16(), to)
}

/// Sets a password through a link's page: the status and the session.
fn set_password(url: &str, path: &str, password: &str, confirm: &str) -> (u16, Option<String>) {
    let r = client()
        .post(format!("{url}{path}"))
        .form(&[("password", password), ("confirm", confirm)])
        .send()
        .expect("set password");
    (r.status().as_u16(), set_cookie(&r, "sebroker_session"))
}

fn invite(s: &Site, email: &str, role: &str, member: Option<&str>) -> (u16, Value) {
    let mut body = json!({"email": email, "name": "Pat Person", "role": role});
    if let Some(m) = member {
        body["member_id"] = json!(m);
    }
    s.call(Some("admin"), "POST", "/api/v1/accounts", Some(&body))
}

#[test]
fn only_admins_manage_accounts_and_emails_are_unique_and_checked() {
    let d = tempdir();
    let s = site(d.path());
    let body = json!({"email": "pat@example.org", "name": "Pat", "role": "broker"});
    for role in [Some("broker"), Some("funder"), Some("member"), None] {
        let want = if role.is_some() { 403 } else { 401 };
        for (m, p, b) in [
            ("GET", "/api/v1/accounts", None),
            ("POST", "/api/v1/accounts", Some(&body)),
            (
                "PATCH",
                "/api/v1/accounts/acc_x",
                Some(&json!({"role": "funder"})),
            ),
            ("POST", "/api/v1/accounts/acc_x/disable", None),
            ("POST", "/api/v1/accounts/acc_x/reset", None),
        ] {
            let (st, v) = s.call(role, m, p, b);
            assert_eq!(st, want, "{role:?} {m} {p}: {v}");
        }
    }
    let (st, v) = invite(&s, "Pat@Example.org", "broker", None);
    assert_eq!(st, 201, "{v}");
    let id = v["account"]["id"].as_str().expect("id").to_owned();
    assert_eq!(v["account"]["status"], "invited");
    assert!(v["invite_path"]
        .as_str()
        .is_some_and(|p| p.starts_with("/invite/sbt_")));
    assert!(v["invite_url"]
        .as_str()
        .is_some_and(|u| u.starts_with("http://127.0.0.1:")));
    let (st, v) = invite(&s, "pat@EXAMPLE.org", "funder", None);
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("account_exists")),
        "{v}"
    );
    for bad in [
        "not-an-address",
        "a@b",
        "two@@example.org",
        "sp ace@example.org",
        "",
    ] {
        let (st, v) = invite(&s, bad, "broker", None);
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (422, Some("invalid_account")),
            "{bad:?}: {v}"
        );
    }
    let (st, v) = invite(&s, "m@example.org", "member", None);
    assert_eq!(st, 422, "a member's account names its member: {v}");
    let (st, v) = invite(&s, "m@example.org", "member", Some("no-such-member"));
    assert_eq!(st, 422, "{v}");
    let (st, v) = invite(&s, "f@example.org", "funder", Some("m-0001"));
    assert_eq!(st, 422, "{v}");
    let (st, v) = s.call(Some("admin"), "GET", "/api/v1/accounts", None);
    assert_eq!(st, 200);
    assert_eq!(v["total"], 1, "{v}");
    let text = v.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
    let (st, v) = s.call(
        Some("admin"),
        "PATCH",
        &format!("/api/v1/accounts/{id}"),
        Some(&json!({"role": "funder"})),
    );
    assert_eq!(
        (st, v["account"]["role"].as_str()),
        (200, Some("funder")),
        "{v}"
    );
    let (st, v) = s.call(
        Some("admin"),
        "POST",
        "/api/v1/accounts/acc_000000000000/disable",
        None,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("account_not_found")),
        "{v}"
    );
    // Each change is in the audit log.
    let (_, audit) = s.call(Some("admin"), "GET", "/api/v1/audit?kind=accounts", None);
    let kinds: Vec<&str> = audit["entries"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(kinds.contains(&"POST /api/v1/accounts"), "{audit}");
    assert!(kinds.contains(&"PATCH /api/v1/accounts/{id}"), "{audit}");
    s.stop();
}

#[test]
fn links_work_once_and_sessions_end_when_the_account_changes() {
    let d = tempdir();
    let s = site(d.path());
    let url = s.server.url.clone();
    let (_, v) = invite(&s, "Member.Person@example.org", "member", Some("m-0001"));
    let id = v["account"]["id"].as_str().expect("id").to_owned();
    let link = v["invite_path"].as_str().expect("path").to_owned();
    let form = client()
        .get(format!("{url}{link}"))
        .send()
        .expect("invite page");
    assert_eq!(form.status().as_u16(), 200);
    assert!(form
        .text()
        .expect("html")
        .contains("Member.Person@example.org"));
    assert_eq!(
        set_password(&url, &link, "short", "short").0,
        422,
        "too short"
    );
    assert_eq!(
        set_password(&url, &link, "a fine long password", "another one").0,
        422,
        "differ"
    );
    let (st, session) = set_password(&url, &link, "a fine long password", "a fine long password");
    assert_eq!(st, 303);
    let first = session.expect("signed in by the invitation");
    assert_eq!(page(&url, &first, "/"), (303, "/opportunities".to_owned()));
    assert_eq!(
        set_password(&url, &link, "a second password", "a second password").0,
        404,
        "used once"
    );
    assert_eq!(
        client()
            .get(format!("{url}{link}"))
            .send()
            .expect("again")
            .status()
            .as_u16(),
        404
    );
    // Sign-in: e-mail in any case; one message for a wrong password and an unknown e-mail.
    let (st, session, _) = sign_in(
        &url,
        &[
            ("email", "member.person@EXAMPLE.org"),
            ("password", "a fine long password"),
        ],
    );
    assert_eq!(st, 303);
    let second = session.expect("session");
    assert_eq!(page(&url, &second, "/members/m-0001").0, 200);
    assert_eq!(
        page(&url, &second, "/members/m-0002").0,
        404,
        "not another member's page"
    );
    let (st, _, wrong) = sign_in(
        &url,
        &[
            ("email", "member.person@example.org"),
            ("password", "a wrong password!"),
        ],
    );
    let (st2, _, unknown) = sign_in(
        &url,
        &[
            ("email", "nobody@example.org"),
            ("password", "a wrong password!"),
        ],
    );
    assert_eq!((st, st2), (401, 401));
    assert_eq!(wrong, unknown, "the same answer for both");
    // A reset ends the sessions; its link works once and signs in.
    let (st, v) = s.call(
        Some("admin"),
        "POST",
        &format!("/api/v1/accounts/{id}/reset"),
        None,
    );
    assert_eq!(st, 200, "{v}");
    let reset = v["reset_path"].as_str().expect("reset path").to_owned();
    assert!(reset.starts_with("/reset/sbt_"));
    assert_eq!(
        page(&url, &second, "/members/m-0001").0,
        303,
        "reset ends the session"
    );
    let (st, session) = set_password(&url, &reset, "a brand new password", "a brand new password");
    assert_eq!(st, 303);
    let third = session.expect("session");
    assert_eq!(
        set_password(&url, &reset, "a brand new password", "a brand new password").0,
        404
    );
    assert_eq!(
        sign_in(
            &url,
            &[
                ("email", "member.person@example.org"),
                ("password", "a fine long password")
            ]
        )
        .0,
        401,
        "old password gone"
    );
    // A role change ends the session too.
    let (st, _) = s.call(
        Some("admin"),
        "PATCH",
        &format!("/api/v1/accounts/{id}"),
        Some(&json!({"role": "member", "member_id": "m-0002"})),
    );
    assert_eq!(st, 200);
    assert_eq!(page(&url, &third, "/").0, 303);
    assert!(page(&url, &third, "/").1.starts_with("/signin"));
    let (_, session, _) = sign_in(
        &url,
        &[
            ("email", "member.person@example.org"),
            ("password", "a brand new password"),
        ],
    );
    let fourth = session.expect("session");
    assert_eq!(page(&url, &fourth, "/"), (303, "/opportunities".to_owned()));
    // The new role's member is the one the session sees.
    assert_eq!(page(&url, &fourth, "/members/m-0002").0, 200);
    assert_eq!(page(&url, &fourth, "/members/m-0001").0, 404);
    // Disabled: the open session ends at its next request; no sign-in; no reset.
    let (st, v) = s.call(
        Some("admin"),
        "POST",
        &format!("/api/v1/accounts/{id}/disable"),
        None,
    );
    assert_eq!(
        (st, v["account"]["status"].as_str()),
        (200, Some("disabled")),
        "{v}"
    );
    assert!(page(&url, &fourth, "/members/m-0002")
        .1
        .starts_with("/signin"));
    assert_eq!(
        sign_in(
            &url,
            &[
                ("email", "member.person@example.org"),
                ("password", "a brand new password")
            ]
        )
        .0,
        401
    );
    let (st, v) = s.call(
        Some("admin"),
        "POST",
        &format!("/api/v1/accounts/{id}/reset"),
        None,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("account_disabled")),
        "{v}"
    );
    s.stop();
}

#[test]
fn erasing_a_member_erases_its_people() {
    let d = tempdir();
    let s = site(d.path());
    let (_, v) = invite(&s, "to-erase@example.org", "member", Some("m-0001"));
    let id = v["account"]["id"].as_str().expect("id").to_owned();
    let (_, other) = invite(&s, "stays@example.org", "member", Some("m-0002"));
    let (st, v) = s.call(
        Some("admin"),
        "POST",
        "/api/v1/members/m-0001/erase",
        Some(&json!({"confirm": "m-0001"})),
    );
    assert_eq!(st, 200, "{v}");
    let (_, list) = s.call(Some("admin"), "GET", "/api/v1/accounts", None);
    let text = list.to_string();
    assert!(!text.contains("to-erase@example.org"), "{text}");
    assert!(text.contains("stays@example.org"));
    let erased = list["accounts"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id.as_str()))
        .expect("the account is kept, erased");
    assert_eq!(erased["status"], "disabled");
    assert_ne!(erased["name"], "Pat Person");
    assert_eq!(other["account"]["status"], "invited");
    s.stop();
}

#[test]
fn the_demo_prints_accounts_that_sign_in_and_unknown_pages_are_html() {
    use std::io::BufRead;
    let mut child = crate::common::bin()
        .args(["serve", "--addr", "127.0.0.1:0", "--demo"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let url = crate::common::listening_url(&mut child);
    let err = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut accounts = Vec::new();
    let mut lines = Vec::new();
    for l in err.lines().map_while(Result::ok) {
        if let Some(rest) = l.strip_prefix("demo account ") {
            let (label, cred) = rest.split_once(": ").expect("label: credentials");
            let (email, password) = cred.split_once(' ').expect("email password");
            accounts.push((label.to_owned(), email.to_owned(), password.to_owned()));
        }
        let done = l.starts_with("try: ");
        lines.push(l);
        if done {
            break;
        }
    }
    let labels: Vec<&str> = accounts.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(labels.len(), 4, "{lines:#?}");
    assert!(labels.iter().any(|l| l.starts_with("member ")));
    assert!(
        !lines.iter().any(|l| l.contains("ledger event recorded")),
        "the demo's ledger events are debug lines: {lines:#?}"
    );
    // The credentials come in one block after the start-up logs.
    let first = lines
        .iter()
        .position(|l| l.starts_with("demo: open "))
        .expect("the URL line");
    assert!(
        lines[first..]
            .iter()
            .all(|l| l.starts_with("demo ") || l.starts_with("demo: ") || l.starts_with("try: ")),
        "{lines:#?}"
    );
    for (label, email, password) in &accounts {
        let (st, session, _) = sign_in(&url, &[("email", email), ("password", password)]);
        assert_eq!(st, 303, "{label}");
        let (st, to) = page(&url, &session.expect("session"), "/");
        assert_eq!(st, 303, "{label}");
        assert!(!to.starts_with("/signin"), "{label} lands on {to}");
    }
    let html = client()
        .get(format!("{url}/no-such-page"))
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .expect("404 page");
    assert_eq!(html.status().as_u16(), 404);
    assert!(html.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/html"));
    let body = html.text().expect("body");
    assert!(
        body.contains("Skip to content")
            && body.contains("<header")
            && body.contains("Page not found"),
        "{body}"
    );
    let api = client()
        .get(format!("{url}/api/v1/no-such-route"))
        .header("Accept", "text/html")
        .send()
        .expect("api 404");
    assert_eq!(api.status().as_u16(), 404);
    let v: Value = api.json().expect("json under /api");
    assert_eq!(v["error"]["code"], "route_not_found");
    let _ = child.kill();
    let _ = child.wait();
}
