//! Erasure end to end: a member with a contact, alert settings (e-mail and
//! webhook), deliveries, an outbox e-mail, a case whose notes name a person
//! and a key named after her; `POST /api/v1/members/{id}/erase`; then no
//! byte of the name, e-mail, phone or notes is left in the ledger, its key
//! file, the outbox, a backup made after, nor any decoded value of any tree
//! of the notice store; `verify` passes; totals and KPIs are unchanged.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::tempdir;
use crate::crash::{folder, sb};
use crate::members_api::cli_key;

const NAME: &str = "Priya Shah";
const EMAIL: &str = "priya.shah@youth.example.org";
const PHONE: &str = "07700 900461";
const NOTES: &str = "Call Priya Shah before the bid";

fn call(url: &str, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut r = reqwest::blocking::Client::new()
        .request(m, format!("{url}{path}"))
        .bearer_auth(key)
        .header("Idempotency-Key", format!("erasure-{path}-{method}"));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().expect("request");
    let s = resp.status().as_u16();
    (s, resp.json().unwrap_or(Value::Null))
}

/// Files under `dir` (recursively), skipping the folders named in `skip`.
fn files(dir: &Path, skip: &[&str]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable").flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() && !skip.contains(&name) {
                stack.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

fn personal_in(bytes: &[u8]) -> Vec<&'static str> {
    [NAME, EMAIL, PHONE, NOTES, "priya-hook"]
        .into_iter()
        .filter(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
        .collect()
}

/// Waits (bounded) until the outbox holds an e-mail.
fn wait_for_outbox(d: &Path) {
    for _ in 0..400 {
        let n = std::fs::read_dir(d.join("outbox")).map_or(0, |r| r.count());
        if n > 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no e-mail reached the outbox");
}

#[test]
fn erasure_removes_personal_data_everywhere_and_keeps_totals() {
    let dir = tempdir();
    let d = dir.path();
    let (ocid, broker) = folder(d);
    let admin = cli_key(d, "admin", None);
    let config = d.join("sebroker.toml");
    std::fs::write(&config, "[alerts]\nwebhook_allow = ['127.0.0.1']\nbackoff_base_ms = 10\nbackoff_max_ms = 50\nmax_attempts = 2\n").expect("config");
    let hook = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("http://{}/priya-hook", l.local_addr().expect("addr"))
    };
    let (child, url) = crate::cli::serve(
        &[
            "--data-dir",
            d.to_str().expect("p"),
            "--config",
            config.to_str().expect("p"),
        ],
        &[],
    );
    let mut server = crate::crash::Server { child, url };
    let url = server.url.clone();
    let m = "m-0001";
    let (st, v) = call(
        &url,
        &broker,
        "PATCH",
        &format!("/api/v1/members/{m}"),
        Some(json!({"contact": {"name": NAME, "email": EMAIL, "phone": PHONE}})),
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = call(
        &url,
        &admin,
        "PUT",
        &format!("/api/v1/members/{m}/alert-settings"),
        Some(
            json!({"email": EMAIL, "webhook_url": hook, "frequency": "instant", "threshold": 0.0}),
        ),
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = call(
        &url,
        &admin,
        "POST",
        "/api/v1/alerts/run",
        Some(json!({"now": "2026-11-27T10:00:00Z"})),
    );
    assert_eq!(st, 200, "{v}");
    wait_for_outbox(d);
    let (st, v) = call(
        &url,
        &broker,
        "POST",
        "/api/v1/cases",
        Some(json!({"ocid": ocid, "members": [m], "notes": NOTES})),
    );
    assert_eq!(st, 201, "{v}");
    let case = v["case"]["case_id"].as_str().expect("case id").to_owned();
    let (st, v) = call(
        &url,
        &broker,
        "POST",
        &format!("/api/v1/cases/{case}/events"),
        Some(json!({"type": "introduced", "notes": format!("introduced {NAME}")})),
    );
    assert_eq!(st, 201, "{v}");
    let (st, v) = call(
        &url,
        &admin,
        "POST",
        "/api/v1/keys",
        Some(json!({"role": "member", "member_id": m, "name": NAME})),
    );
    assert_eq!(st, 201, "{v}");
    let (_, totals) = call(&url, &admin, "GET", "/api/v1/totals?by=cluster", None);
    let (_, kpis) = call(&url, &admin, "GET", "/api/v1/kpis?today=2026-12-01", None);
    let (_, deliveries) = call(
        &url,
        &admin,
        "GET",
        &format!("/api/v1/alerts/deliveries?member={m}"),
        None,
    );
    assert!(
        deliveries["deliveries"]
            .as_array()
            .is_some_and(|a| a.len() >= 2),
        "an e-mail and a webhook delivery: {deliveries}"
    );

    // Only admins erase, and only with the id confirmed.
    let path = format!("/api/v1/members/{m}/erase");
    assert_eq!(
        call(&url, &broker, "POST", &path, Some(json!({"confirm": m}))).0,
        403
    );
    assert_eq!(
        call(
            &url,
            &admin,
            "POST",
            &path,
            Some(json!({"confirm": "m-0002"}))
        )
        .0,
        422
    );
    let (st, erased) = call(&url, &admin, "POST", &path, Some(json!({"confirm": m})));
    assert_eq!(st, 200, "{erased}");
    assert!(erased["ledger_records"].as_u64() >= Some(2), "{erased}");
    assert!(erased["outbox_files"].as_u64() >= Some(1), "{erased}");

    // Through the API: gone, and the figures unchanged.
    let (_, member) = call(&url, &broker, "GET", &format!("/api/v1/members/{m}"), None);
    assert_eq!(member["name"], format!("erased member {m}"));
    assert_eq!(member["contact"], Value::Null);
    let (_, c) = call(&url, &broker, "GET", &format!("/api/v1/cases/{case}"), None);
    assert!(personal_in(c.to_string().as_bytes()).is_empty(), "{c}");
    assert!(c.to_string().contains("[erased]"), "{c}");
    let (_, keys) = call(&url, &admin, "GET", "/api/v1/keys?limit=1000", None);
    assert!(
        personal_in(keys.to_string().as_bytes()).is_empty(),
        "{keys}"
    );
    let (_, alerts) = call(
        &url,
        &broker,
        "GET",
        &format!("/api/v1/members/{m}/alerts"),
        None,
    );
    assert!(
        personal_in(alerts.to_string().as_bytes()).is_empty(),
        "{alerts}"
    );
    let (_, dl) = call(
        &url,
        &admin,
        "GET",
        &format!("/api/v1/alerts/deliveries?member={m}"),
        None,
    );
    assert!(personal_in(dl.to_string().as_bytes()).is_empty(), "{dl}");
    assert_eq!(
        call(&url, &admin, "GET", "/api/v1/totals?by=cluster", None).1,
        totals
    );
    assert_eq!(
        call(&url, &admin, "GET", "/api/v1/kpis?today=2026-12-01", None).1,
        kpis
    );
    let _ = server.child.kill();
    let _ = server.child.wait();

    // On disk: verify passes; a backup made now holds none of it.
    let out = sb(d).args(["verify", "--json"]).output().expect("verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let backup = d.join("after.jsonl");
    let out = sb(d)
        .args(["backup", "--out"])
        .arg(&backup)
        .output()
        .expect("backup");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The raw bytes of everything but the notice store's sled files (the
    // ledger's database included: personal data never entered it).
    for f in files(d, &["store"]) {
        let found = personal_in(&std::fs::read(&f).expect("readable"));
        assert!(found.is_empty(), "{} holds {found:?}", f.display());
    }
    // The notice store (sled keeps superseded values in its log until it
    // reclaims the segment): every decoded value of every tree.
    let store = sebroker_store::SledStore::open(&d.join("store")).expect("store");
    let db = store.db();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).expect("tree");
        for kv in tree.iter() {
            let (k, v) = kv.expect("entry");
            let found = personal_in(&[k.as_ref(), v.as_ref()].concat());
            assert!(
                found.is_empty(),
                "tree {:?} holds {found:?}",
                String::from_utf8_lossy(&name)
            );
        }
    }
    let count = || -> usize {
        files(&d.join("store"), &[])
            .iter()
            .map(|f| personal_in(&std::fs::read(f).unwrap_or_default()).len())
            .sum()
    };
    let raw = count();
    // Measured, not asserted: sled reuses a segment only when it cleans it
    // (0 to 3 copies over runs); see docs/api.md, erasure.
    eprintln!("erasure: superseded copies in the notice store's sled segments: {raw}");
    drop(store);
    // `sebroker compact` rewrites the store: then not even sled's segment
    // files hold them, and the store still verifies.
    let out = sb(d).args(["compact", "--json"]).output().expect("compact");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(), 0, "after compaction");
    let out = sb(d).args(["verify", "--json"]).output().expect("verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = sb(d)
        .args(["members", "show", m, "--json"])
        .output()
        .expect("show");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("erased member"),
        "the store is whole"
    );
}
