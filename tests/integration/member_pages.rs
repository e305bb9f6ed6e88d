//! A member's pages and the funder's downloads over HTTP against
//! `serve --demo` on 127.0.0.1: opportunities, the member's notice view
//! and "ask the brokerage about this", settings (refused input kept, the
//! webhook test against a receiver on 127.0.0.1), alerts, profile, another
//! member's pages, and the dashboard's CSV in pounds.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};

use crate::common::{bin, listening_url, tempdir};

const ADMIN: &str = "member-pages-admin-token-0123456789";

struct Server {
    child: Child,
    url: String,
    http: Client,
    keys: HashMap<String, String>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `serve --demo` with webhooks to 127.0.0.1 allowed; its demo keys by label.
fn start() -> Server {
    let dir = tempdir();
    let config = dir.path().join("sebroker.toml");
    std::fs::write(&config, "[alerts]\nwebhook_allow = ['127.0.0.1']\n").expect("config");
    let mut child = bin()
        .env("SEBROKER_ADMIN_TOKEN", ADMIN)
        .env("SEBROKER_CONFIG", &config)
        .args(["serve", "--addr", "127.0.0.1:0", "--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let url = listening_url(&mut child);
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in stderr.lines().map_while(Result::ok) {
            if let Some((label, key)) = l.strip_prefix("demo key ").and_then(|r| r.split_once(": "))
            {
                let _ = tx.send((label.to_owned(), key.trim().to_owned()));
            }
        }
    });
    let mut keys = HashMap::new();
    while keys.len() < 4 {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((l, k)) => {
                keys.insert(l, k);
            }
            Err(_) => break,
        }
    }
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    Server {
        child,
        url,
        http,
        keys,
        _dir: dir,
    }
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

/// A page session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

impl Server {
    fn key(&self, label_start: &str) -> (String, String) {
        self.keys
            .iter()
            .find(|(l, _)| l.starts_with(label_start))
            .map(|(l, k)| (l.clone(), k.clone()))
            .unwrap_or_else(|| panic!("no demo key {label_start}: {:?}", self.keys.keys()))
    }

    fn sign_in(&self, key: &str) -> Session {
        let form = self
            .http
            .get(format!("{}/signin", self.url))
            .send()
            .expect("form");
        let c = set_cookie(&form, "sebroker_signin").expect("signin cookie");
        let csrf = hidden(&form.text().expect("html"), "csrf").expect("csrf");
        let r = self
            .http
            .post(format!("{}/signin", self.url))
            .header("cookie", format!("sebroker_signin={c}"))
            .form(&[("key", key), ("csrf", csrf.as_str()), ("next", "/")])
            .send()
            .expect("signin");
        assert_eq!(r.status().as_u16(), 303);
        let cookie = set_cookie(&r, "sebroker_session").expect("session");
        let (_, html) = self.get(&cookie, "/settings");
        let csrf = hidden(&html, "csrf").unwrap_or_default();
        Session { cookie, csrf }
    }

    fn get(&self, cookie: &str, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .header("cookie", format!("sebroker_session={cookie}"))
            .send()
            .expect("page");
        (r.status().as_u16(), r.text().unwrap_or_default())
    }

    fn get_full(&self, cookie: &str, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.url))
            .header("cookie", format!("sebroker_session={cookie}"))
            .send()
            .expect("page")
    }

    fn post(&self, s: &Session, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let mut fields = vec![("csrf", s.csrf.as_str())];
        fields.extend_from_slice(form);
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("cookie", format!("sebroker_session={}", s.cookie))
            .form(&fields)
            .send()
            .expect("post");
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (r.status().as_u16(), location, r.text().unwrap_or_default())
    }

    fn api(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut r = self
            .http
            .request(m, format!("{}{path}", self.url))
            .bearer_auth(key)
            .header("Idempotency-Key", format!("mp-{path}-{}", nonce()));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().expect("api");
        let st = r.status().as_u16();
        (st, r.json().unwrap_or(Value::Null))
    }
}

fn nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The first `/opportunities/{ocid}` link of a page.
fn first_opportunity(html: &str) -> Option<String> {
    let at = html.find("href=\"/opportunities/")?;
    let rest = &html[at + 6..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Every bar's label percentage and width, which must agree.
fn bars_agree(html: &str) -> usize {
    let mut n = 0;
    for part in html.split("role=\"img\" aria-label=\"").skip(1) {
        let label = &part[..part.find('"').expect("label end")];
        let Some(p) = label.rsplit(": ").next().and_then(|x| x.strip_suffix('%')) else {
            continue;
        };
        let width = part
            .split("width:")
            .nth(1)
            .and_then(|w| w.split('%').next())
            .expect("bar width");
        assert_eq!(p, width, "a bar's label and its width differ: {label}");
        n += 1;
    }
    n
}

/// A one-shot webhook receiver on 127.0.0.1: the request it got.
fn receiver() -> (String, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://127.0.0.1:{}/hook",
        l.local_addr().expect("addr").port()
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then the body by its length (bounded reads).
            for _ in 0..64 {
                let Ok(n) = s.read(&mut chunk) else { break };
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tx.send(String::from_utf8_lossy(&buf).to_string());
        }
    });
    (url, rx)
}

#[test]
fn a_member_reads_a_notice_and_asks_the_brokerage_about_it() {
    let s = start();
    let (label, key) = s.key("member ");
    let own = label.trim_start_matches("member ").to_owned();
    let me = s.sign_in(&key);
    // Sign-in lands on the member's opportunities, each a link.
    let home = s.get_full(&me.cookie, "/");
    assert_eq!(
        home.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/opportunities")
    );
    let (st, html) = s.get(&me.cookie, "/opportunities");
    assert_eq!(st, 200, "{html}");
    assert!(html.contains("Your opportunities"), "{html}");
    let link = first_opportunity(&html).expect("a linked opportunity");
    let (st, notice) = s.get(&me.cookie, &link);
    assert_eq!(st, 200, "{notice}");
    for words in [
        "Why it fits you",
        "Buyer",
        "Deadline",
        "Places",
        "Ask the brokerage about this",
        "your services",
    ] {
        assert!(notice.contains(words), "{words}: {notice}");
    }
    assert_eq!(bars_agree(&notice), 7, "seven component bars");
    // Every `<time datetime>` is RFC 3339 (no `2027-02-12 12:00:00.0 +00:00:00`).
    let stamps: Vec<&str> = notice
        .split("datetime=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .collect();
    assert!(!stamps.is_empty(), "the deadline is a <time>");
    for v in stamps {
        assert!(v.contains('T') && !v.contains(' '), "datetime {v:?}");
    }
    // Asking is durable, idempotent, and opens no case.
    let (_, cases_before) = s.api(&s.key("broker").1, "GET", "/api/v1/cases", None);
    let (st, to, _) = s.post(&me, &format!("{link}/interest"), &[]);
    assert_eq!((st, to.as_str()), (303, format!("{link}#ask").as_str()));
    let (_, again) = s.get(&me.cookie, &link);
    assert!(
        again.contains("You asked the brokerage about this notice on"),
        "{again}"
    );
    let ocid = urldecode(link.trim_start_matches("/opportunities/"));
    let (st, mine) = s.api(
        &key,
        "GET",
        &format!("/api/v1/members/{own}/interests"),
        None,
    );
    assert_eq!(st, 200, "{mine}");
    assert_eq!(mine["interests"][0]["ocid"], ocid.as_str(), "{mine}");
    let (st, v) = s.api(
        &key,
        "POST",
        &format!("/api/v1/members/{own}/interests"),
        Some(json!({"ocid": ocid})),
    );
    assert_eq!((st, &v["new"]), (200, &json!(false)), "{v}");
    let (_, cases_after) = s.api(&s.key("broker").1, "GET", "/api/v1/cases", None);
    assert_eq!(
        cases_before["total"], cases_after["total"],
        "an interest opens no case"
    );
    // Another member: its pages and records are not found.
    let other = if own == "m-0013" { "m-0001" } else { "m-0013" };
    let (st, _) = s.api(
        &key,
        "POST",
        &format!("/api/v1/members/{other}/interests"),
        Some(json!({"ocid": ocid})),
    );
    assert_eq!(st, 404);
    assert_eq!(s.get(&me.cookie, &format!("/members/{other}")).0, 404);
    // A broker may ask for any member; an unknown notice is refused.
    let broker = s.key("broker").1;
    let (st, v) = s.api(
        &broker,
        "POST",
        &format!("/api/v1/members/{other}/interests"),
        Some(json!({"ocid": ocid})),
    );
    assert_eq!(st, 201, "{v}");
    let (st, v) = s.api(
        &broker,
        "POST",
        &format!("/api/v1/members/{other}/interests"),
        Some(json!({"ocid": "no-such"})),
    );
    // The ocid is the body's, not the path's: 422, naming the field.
    assert_eq!(
        (
            st,
            v["error"]["code"].as_str(),
            v["error"]["field"].as_str()
        ),
        (422, Some("notice_not_found"), Some("ocid")),
        "{v}"
    );
    // Brokers and funders do not have "your" pages.
    let b = s.sign_in(&broker);
    assert_eq!(s.get(&b.cookie, "/settings").0, 404);
    // Brokers see who asked: on the notice page and on the pipeline.
    let (st, page) = s.get(&b.cookie, &link.replace("/opportunities/", "/notices/"));
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("Members who asked about this"), "{page}");
    let (st, board) = s.get(&b.cookie, "/pipeline");
    assert_eq!(st, 200);
    assert!(
        board.contains("Members asking about notices (2)"),
        "{board}"
    );
}

/// `%XX` escapes decoded (the pages' links encode ocids).
fn urldecode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(x)) => {
                out.push(x);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_member_changes_its_settings_tests_its_webhook_and_reads_its_alerts() {
    let s = start();
    let (label, key) = s.key("member ");
    let own = label.trim_start_matches("member ").to_owned();
    let me = s.sign_in(&key);
    // Refused input stays on the page as typed.
    let (st, _, html) = s.post(
        &me,
        "/settings",
        &[
            ("frequency", "daily"),
            ("threshold", "150"),
            ("email", "alerts@example.org"),
        ],
    );
    assert_eq!(st, 422, "{html}");
    assert!(
        html.contains("value=\"150\"") && html.contains("alerts@example.org"),
        "{html}"
    );
    assert!(html.contains("from 0 to 100"), "{html}");
    let (st, _, html) = s.post(
        &me,
        "/settings",
        &[
            ("frequency", "daily"),
            ("threshold", "10"),
            ("email", "not an address"),
        ],
    );
    assert_eq!(st, 422);
    assert!(html.contains("not an address"), "{html}");
    // Saved settings are applied: the page and the API agree.
    let (hook, got) = receiver();
    let form = [
        ("frequency", "instant"),
        ("threshold", "0"),
        ("email", "alerts@example.org"),
        ("webhook_url", hook.as_str()),
        ("feed", "1"),
    ];
    let (st, _, html) = s.post(&me, "/settings", &form);
    assert_eq!(st, 200, "{html}");
    assert!(
        html.contains("Your settings are saved") && html.contains("selected>as soon as"),
        "{html}"
    );
    let (_, v) = s.api(&key, "GET", &format!("/api/v1/members/{own}/alerts"), None);
    assert_eq!(v["settings"]["frequency"], "instant", "{v}");
    assert_eq!(v["settings"]["threshold"], 0.0, "{v}");
    assert_eq!(v["settings"]["webhook_url"], hook.as_str(), "{v}");
    // The feed address rotates.
    let feed = |h: &str| {
        h.split("id=\"feed-url\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .map(str::to_owned)
    };
    let before = feed(&html).expect("feed url");
    let (_, _, rotated) = s.post(&me, "/settings", &[("action", "rotate_feed")]);
    assert_ne!(feed(&rotated).expect("feed url"), before);
    // The webhook test goes out signed through the alerts' send.
    let (st, _, html) = s.post(&me, "/settings/test", &[]);
    assert_eq!(st, 200);
    assert!(html.contains("The test reached"), "{html}");
    let req = got
        .recv_timeout(Duration::from_secs(30))
        .expect("the receiver got the test");
    assert!(
        req.contains("\"event\":\"test\"")
            && req.to_ascii_lowercase().contains("sebroker-signature: v1="),
        "{req}"
    );
    // Through the API, a refused URL reports its outcome.
    let (st, v) = s.api(
        &key,
        "POST",
        &format!("/api/v1/members/{own}/alert-settings/test"),
        None,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["delivered"], false,
        "the receiver took one request only: {v}"
    );
    // Alerts: run them, then read them on the page, linked.
    let (st, run) = s.api(ADMIN, "POST", "/api/v1/alerts/run", Some(json!({})));
    assert_eq!(st, 200, "{run}");
    let (st, html) = s.get(&me.cookie, "/alerts");
    assert_eq!(st, 200);
    assert!(
        html.contains("href=\"/opportunities/"),
        "an alert with linked notices: {html} after {run}"
    );
}

#[test]
fn a_member_edits_its_profile_with_services_found_by_name() {
    let s = start();
    let (label, key) = s.key("member ");
    let own = label.trim_start_matches("member ").to_owned();
    let me = s.sign_in(&key);
    let (st, html) = s.get(&me.cookie, "/profile?cpv_q=services");
    assert_eq!(st, 200, "{html}");
    let add = html
        .split("name=\"add_cpv\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a CPV found by name")
        .to_owned();
    let (st, _, html) = s.post(
        &me,
        "/profile",
        &[("description", "We cook."), ("turnover_gbp", "lots")],
    );
    assert_eq!(st, 422);
    assert!(
        html.contains("value=\"lots\"") && html.contains("We cook."),
        "{html}"
    );
    let form = [
        ("description", "We cook for schools."),
        ("keywords", "catering, meals"),
        ("add_cpv", add.as_str()),
        ("service_areas", "Walsall"),
        ("turnover_gbp", "£420,000"),
    ];
    let (st, _, html) = s.post(&me, "/profile", &form);
    assert_eq!(st, 200, "{html}");
    assert!(html.contains("Walsall →"), "{html}");
    let (_, m) = s.api(&key, "GET", &format!("/api/v1/members/{own}"), None);
    assert_eq!(m["description"], "We cook for schools.", "{m}");
    assert_eq!(m["turnover_pence"], 42_000_000, "{m}");
    assert_eq!(m["cpv"], json!([add]), "{m}");
}

#[test]
fn the_funder_downloads_csv_in_pounds_without_members() {
    let s = start();
    let broker = s.key("broker").1;
    let (_, list) = s.api(&broker, "GET", "/api/v1/notices?status=open&limit=1", None);
    let ocid = list["hits"][0]["ocid"]
        .as_str()
        .expect("an open notice")
        .to_owned();
    let (st, c) = s.api(
        &broker,
        "POST",
        "/api/v1/cases",
        Some(json!({"ocid": ocid, "members": ["m-0013"]})),
    );
    assert!(st == 200 || st == 201, "{c}");
    let id = c["case"]["case_id"].as_str().expect("case id").to_owned();
    for body in [
        json!({"type": "introduced"}),
        json!({"type": "won", "value_pence": 15_000_050}),
    ] {
        let (st, v) = s.api(
            &broker,
            "POST",
            &format!("/api/v1/cases/{id}/events"),
            Some(body),
        );
        assert!(st == 200 || st == 201, "{v}");
    }
    let funder = s.key("funder").1;
    let (_, t) = s.api(&funder, "GET", "/api/v1/totals", None);
    let pence = t["total_pence"].as_i64().expect("total");
    let f = s.sign_in(&funder);
    let csv = |by: &str| {
        let r = s.get_full(&f.cookie, &format!("/dashboard/totals.csv?by={by}"));
        let name = r
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (r.status().as_u16(), name, r.text().unwrap_or_default())
    };
    let (st, cluster_file, text) = csv("cluster");
    assert_eq!(st, 200);
    assert!(
        text.starts_with("cluster,brokered_gbp,wins,target_gbp,progress_percent\n"),
        "{text}"
    );
    let pounds = format!("{}.{:02}", pence / 100, pence % 100);
    assert_eq!(pounds, "150000.50");
    assert!(text.contains(&pounds), "{text}");
    let (_, month_file, months) = csv("month");
    assert!(
        months.starts_with("month,brokered_gbp,cumulative_gbp\n") && months.contains(&pounds),
        "{months}"
    );
    let (_, wins_file, wins) = csv("wins");
    assert!(
        wins.starts_with("date,notice,ocid,cluster,value_gbp\n") && wins.contains(&pounds),
        "{wins}"
    );
    let names = [&cluster_file, &month_file, &wins_file];
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("attachment; filename=\"sebroker-")),
        "{names:?}"
    );
    assert!(
        cluster_file != month_file && month_file != wins_file,
        "{names:?}"
    );
    assert_eq!(csv("member").0, 404, "funders never see totals by member");
    let (st, page) = s.get(&f.cookie, "/dashboard");
    assert_eq!(st, 200);
    for words in [
        "As at",
        "target £1.0m",
        "The wins behind the total",
        "SEGA referrals",
        "£150,000.50",
    ] {
        assert!(page.contains(words), "{words}: {page}");
    }
    assert!(!page.contains("Caldmore"), "no member names for the funder");
    // Brokers see names in the wins.
    let b = s.sign_in(&broker);
    let (_, wins) = s.get(&b.cookie, "/dashboard/totals.csv?by=wins");
    assert!(
        wins.starts_with("date,notice,ocid,cluster,member,value_gbp\n"),
        "{wins}"
    );
}
