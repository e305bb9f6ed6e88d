//! Damaged data folders: each sled file of the ledger and of the notice
//! store deleted, truncated, zeroed or with flipped bytes; the head file
//! missing, empty, ahead or behind; ledger and head both gone; older copies;
//! another folder's ledger; a damaged index. sebroker must refuse to start
//! with a clear message, or start with everything intact — never a silently
//! short or empty ledger, never a store served half. Each scenario runs the
//! real binary in its own child processes, each with a timeout (a damaged
//! sled file can panic or hang).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::tempdir;
use crate::crash::{folder, sb};

/// What a started folder must still hold.
#[derive(Debug, Clone, PartialEq)]
struct Facts {
    notices: u64,
    events: u64,
    brokered: i64,
    /// Key id → revoked.
    keys: Vec<(String, bool)>,
}

/// Runs a command with a timeout: (exit code, stdout, stderr); `None` as
/// the code when it had to be killed.
fn run_for(mut c: Command, secs: u64) -> (Option<i32>, String, String) {
    let dir = tempdir();
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = c
        .stdout(Stdio::from(std::fs::File::create(&o).expect("out")))
        .stderr(Stdio::from(std::fs::File::create(&e).expect("err")))
        .spawn()
        .expect("spawns");
    let until = Instant::now() + Duration::from_secs(secs);
    let code = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s.code();
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (code, read(&o), read(&e))
}

fn json_of(d: &Path, args: &[&str]) -> Result<Value, String> {
    let mut c = sb(d);
    c.args(args);
    match run_for(c, 60) {
        (Some(0), out, _) => {
            serde_json::from_str(&out).map_err(|e| format!("{args:?}: not JSON ({e}): {out}"))
        }
        (None, _, err) => Err(format!("{args:?} HUNG (killed after 60 s): {err}")),
        (Some(c), out, err) => Err(format!("{args:?} exit {c}: {out}{err}")),
    }
}

/// Opens the folder the way every command does (store, index, ledger),
/// then reads what it holds; `Err` is the refusal (or failure) text.
fn facts(d: &Path) -> Result<Facts, String> {
    let stats = json_of(d, &["stats", "--json"])?;
    let v = json_of(d, &["verify", "--json"])?;
    if v["ok"] != true {
        return Err(format!("verify: {v}"));
    }
    let keys = json_of(d, &["keys", "list", "--json"])?;
    let mut keys: Vec<(String, bool)> = keys["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            (
                k["id"].as_str().unwrap_or("").to_owned(),
                !k["revoked_at"].is_null(),
            )
        })
        .collect();
    keys.sort();
    let notices = stats["notices"].as_u64().unwrap_or(0);
    if stats["index_docs"].as_u64() != Some(notices) {
        return Err(format!(
            "STARTED with an index that differs from the store: {stats}"
        ));
    }
    Ok(Facts {
        notices,
        events: v["events"].as_u64().unwrap_or(0),
        brokered: v["brokered_total_pence"].as_i64().unwrap_or(0),
        keys,
    })
}

fn cli(d: &Path, args: &[&str]) -> Value {
    json_of(d, args).unwrap_or_else(|e| panic!("{e}"))
}

/// A brokered win through the command line (one case per member per
/// notice, so each win names its member).
fn win(d: &Path, ocid: &str, member: &str, pence: &str) {
    let c = cli(
        d,
        &[
            "cases", "open", "--ocid", ocid, "--member", member, "--json",
        ],
    );
    let id = c["case"]["case_id"].as_str().expect("case").to_owned();
    cli(
        d,
        &["cases", "event", &id, "--type", "introduced", "--json"],
    );
    cli(
        d,
        &[
            "cases",
            "event",
            &id,
            "--type",
            "won",
            "--value-pence",
            pence,
            "--json",
        ],
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else if e.file_name() != "sebroker.lock" {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}

/// The base folder, an older copy of it, and another folder's ledger.
struct Base {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    older: PathBuf,
    other: PathBuf,
    facts: Facts,
    older_facts: Facts,
}

fn base() -> Base {
    let tmp = tempdir();
    let data = tmp.path().join("data");
    let (ocid, _) = folder(&data);
    let k = cli(&data, &["keys", "create", "--role", "funder", "--json"]);
    let id = k["id"].as_str().expect("id").to_owned();
    let out = sb(&data)
        .args(["keys", "revoke", &id])
        .output()
        .expect("revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    win(&data, &ocid, "m-0001", "12345");
    let b = tmp.path().join("backup.jsonl");
    cli(
        &data,
        &["backup", "--out", b.to_str().expect("p"), "--json"],
    );
    let older = tmp.path().join("older");
    copy_dir(&data, &older);
    let older_facts = facts(&older).expect("the older copy opens");
    win(&data, &ocid, "m-0002", "700");
    let facts = facts(&data).expect("the base opens");
    assert_eq!(facts.brokered, 13_045);
    assert_eq!(facts.events, older_facts.events + 3);
    let other = tmp.path().join("other");
    cli(&other, &["keys", "create", "--role", "admin", "--json"]);
    Base {
        _tmp: tmp,
        data,
        older,
        other,
        facts,
        older_facts,
    }
}

fn file_in(dir: &Path, prefix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no {prefix}* in {}", dir.display()))
}

#[derive(Clone, Copy)]
enum Harm {
    Delete,
    Empty,
    TruncateHalf,
    Zero,
    Flip,
}

fn harm(p: &Path, h: Harm) {
    let bytes = std::fs::read(p).expect("read");
    let n = bytes.len();
    let out = match h {
        Harm::Delete => {
            std::fs::remove_file(p).expect("rm");
            return;
        }
        Harm::Empty => Vec::new(),
        Harm::TruncateHalf => bytes[..n / 2].to_vec(),
        Harm::Zero => vec![0; n],
        Harm::Flip => {
            let mut b = bytes;
            // A run of flipped bytes in the middle and near the start.
            for i in (n / 2..(n / 2 + 64).min(n)).chain(16.min(n)..48.min(n)) {
                b[i] ^= 0xA5;
            }
            b
        }
    };
    std::fs::write(p, out).expect("write");
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Refused,
    /// Refused, and the message names the last backup (the ledger is gone:
    /// the operator needs to know what to restore).
    RefusedNamingBackup,
    Intact,
    /// Starts as the older copy was.
    IntactAsOlder,
    Either,
}

type Damage = Box<dyn Fn(&Path, &Base)>;

fn scenarios() -> Vec<(&'static str, Damage, Expect)> {
    let led = |f: &'static str, h: Harm| -> Damage {
        Box::new(move |d: &Path, _: &Base| harm(&file_in(&d.join("ledger"), f), h))
    };
    let sto = |f: &'static str, h: Harm| -> Damage {
        Box::new(move |d: &Path, _: &Base| harm(&file_in(&d.join("store"), f), h))
    };
    let head = |d: &Path| d.join("ledger.head");
    let edit_head = |f: fn(&mut Value)| -> Damage {
        Box::new(move |d: &Path, _: &Base| {
            let p = d.join("ledger.head");
            let mut v: Value =
                serde_json::from_slice(&std::fs::read(&p).expect("head")).expect("json");
            f(&mut v);
            std::fs::write(&p, v.to_string()).expect("write");
        })
    };
    use Expect::*;
    vec![
        ("ledger db deleted", led("db", Harm::Delete), Refused),
        ("ledger db emptied", led("db", Harm::Empty), Refused),
        ("ledger db truncated", led("db", Harm::TruncateHalf), Either),
        ("ledger db zeroed", led("db", Harm::Zero), Refused),
        ("ledger db flipped", led("db", Harm::Flip), Either),
        ("ledger conf deleted", led("conf", Harm::Delete), Either),
        ("ledger conf flipped", led("conf", Harm::Flip), Either),
        (
            "ledger snapshot deleted",
            led("snap.", Harm::Delete),
            Either,
        ),
        (
            "ledger snapshot truncated",
            led("snap.", Harm::TruncateHalf),
            Either,
        ),
        ("ledger snapshot flipped", led("snap.", Harm::Flip), Either),
        (
            "ledger folder deleted",
            Box::new(|d: &Path, _: &Base| std::fs::remove_dir_all(d.join("ledger")).expect("rm")),
            RefusedNamingBackup,
        ),
        (
            "head missing",
            Box::new(move |d: &Path, _: &Base| std::fs::remove_file(head(d)).expect("rm")),
            Refused,
        ),
        (
            "head empty",
            Box::new(move |d: &Path, _: &Base| std::fs::write(head(d), b"").expect("w")),
            Refused,
        ),
        (
            "head flipped",
            Box::new(move |d: &Path, _: &Base| harm(&head(d), Harm::Flip)),
            Refused,
        ),
        (
            "head ahead",
            edit_head(|v| v["seq"] = (v["seq"].as_u64().unwrap_or(0) + 1).into()),
            Refused,
        ),
        (
            "head total changed",
            edit_head(|v| v["brokered_total_pence"] = 1.into()),
            Refused,
        ),
        (
            "head behind (an older head)",
            Box::new(|d: &Path, b: &Base| {
                std::fs::copy(b.older.join("ledger.head"), d.join("ledger.head")).expect("cp");
            }),
            Intact,
        ),
        (
            "ledger and head both gone",
            Box::new(move |d: &Path, _: &Base| {
                std::fs::remove_dir_all(d.join("ledger")).expect("rm");
                std::fs::remove_file(head(d)).expect("rm");
            }),
            RefusedNamingBackup,
        ),
        (
            "an older copy of the ledger",
            Box::new(|d: &Path, b: &Base| {
                std::fs::remove_dir_all(d.join("ledger")).expect("rm");
                copy_dir(&b.older.join("ledger"), &d.join("ledger"));
            }),
            Refused,
        ),
        (
            "an older copy of the ledger and its head",
            Box::new(|d: &Path, b: &Base| {
                std::fs::remove_dir_all(d.join("ledger")).expect("rm");
                copy_dir(&b.older.join("ledger"), &d.join("ledger"));
                std::fs::copy(b.older.join("ledger.head"), d.join("ledger.head")).expect("cp");
            }),
            Refused,
        ),
        (
            "an older copy of the whole folder",
            Box::new(|d: &Path, b: &Base| {
                std::fs::remove_dir_all(d).expect("rm");
                copy_dir(&b.older, d);
            }),
            IntactAsOlder,
        ),
        (
            "another folder's ledger and head",
            Box::new(|d: &Path, b: &Base| {
                std::fs::remove_dir_all(d.join("ledger")).expect("rm");
                copy_dir(&b.other.join("ledger"), &d.join("ledger"));
                std::fs::copy(b.other.join("ledger.head"), d.join("ledger.head")).expect("cp");
            }),
            Refused,
        ),
        ("store db flipped", sto("db", Harm::Flip), Either),
        ("store db truncated", sto("db", Harm::TruncateHalf), Refused),
        ("store db zeroed", sto("db", Harm::Zero), Refused),
        ("store snapshot deleted", sto("snap.", Harm::Delete), Either),
        (
            "store folder deleted",
            Box::new(|d: &Path, _: &Base| std::fs::remove_dir_all(d.join("store")).expect("rm")),
            Refused,
        ),
        (
            "index deleted",
            Box::new(|d: &Path, _: &Base| std::fs::remove_dir_all(d.join("index")).expect("rm")),
            Intact,
        ),
        (
            "index meta.json zeroed",
            Box::new(|d: &Path, _: &Base| harm(&d.join("index").join("meta.json"), Harm::Zero)),
            Intact,
        ),
        (
            "index segment truncated",
            Box::new(|d: &Path, _: &Base| {
                let p = std::fs::read_dir(d.join("index"))
                    .expect("dir")
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "store"))
                    .expect("a segment");
                harm(&p, Harm::TruncateHalf);
            }),
            Intact,
        ),
    ]
}

/// Runs one scenario on a fresh copy of the base: `Ok(outcome)` or why it
/// broke the rule.
fn scenario(b: &Base, name: &str, damage: &Damage, expect: Expect) -> Result<&'static str, String> {
    let tmp = tempdir();
    let d = tmp.path().join("data");
    copy_dir(&b.data, &d);
    damage(&d, b);
    let want = if expect == Expect::IntactAsOlder {
        &b.older_facts
    } else {
        &b.facts
    };
    match facts(&d) {
        Ok(f) if f == *want && !matches!(expect, Expect::Refused | Expect::RefusedNamingBackup) => {
            Ok("started intact")
        }
        Err(e) if expect == Expect::RefusedNamingBackup && !e.contains("backup.jsonl") => Err(
            format!("{name}: refused without naming the last backup: {e}"),
        ),
        Ok(f) => Err(format!(
            "{name}: started with {f:?}, expected {expect:?} ({want:?})"
        )),
        Err(e) if e.contains("HUNG") => Err(format!("{name}: {e}")),
        Err(e) if e.contains("exit 101") => Err(format!("{name}: a panic, not a message: {e}")),
        Err(_) if matches!(expect, Expect::Intact | Expect::IntactAsOlder) => Err(format!(
            "{name}: refused, expected to start intact: {}",
            facts(&d).err().unwrap_or_default()
        )),
        Err(e) => {
            let clear = [
                "refusing",
                "damaged",
                "corrupt",
                "does not remember",
                "store",
            ]
            .iter()
            .any(|w| e.contains(w));
            if !clear {
                return Err(format!("{name}: refused without a clear message: {e}"));
            }
            // `serve` refuses too, and never listens.
            let mut c = sb(&d);
            c.args(["serve", "--addr", "127.0.0.1:0", "--no-sync"]);
            match run_for(c, 60) {
                (Some(code), out, _) if code != 0 && !out.contains("listening") => Ok("refused"),
                (code, out, err) => Err(format!(
                    "{name}: verify refused but serve gave {code:?}: {out}{err}"
                )),
            }
        }
    }
}

#[test]
fn damaged_folders_are_refused_or_start_intact() {
    let b = base();
    let list = scenarios();
    assert!(list.len() >= 20);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (name, damage, expect) in &list {
        match scenario(&b, name, damage, *expect) {
            Ok(outcome) => report.push(format!("{name}: {outcome}")),
            Err(e) => failures.push(e),
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{} of {} scenarios broke the rule:\n{}",
        failures.len(),
        list.len(),
        failures.join("\n\n")
    );
}

fn post(url: &str, key: &str, path: &str, idem: &str, body: Value) -> (u16, Value) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(key)
        .header("Idempotency-Key", idem)
        .json(&body)
        .send()
        .expect("post");
    let s = r.status().as_u16();
    (s, r.json().unwrap_or(Value::Null))
}

#[test]
fn implausible_money_is_refused_and_an_impossible_chain_fails_verify() {
    let tmp = tempdir();
    let d = tmp.path().join("data");
    let (ocid, key) = folder(&d);
    let log = tmp.path().join("serve.log");
    let server = crate::crash::start(&d, &log).expect("serves");
    let url = server.url.clone();
    let mut cases = Vec::new();
    for i in 0..2 {
        let (s, c) = post(
            &url,
            &key,
            "/api/v1/cases",
            &format!("c{i}"),
            serde_json::json!({ "ocid": ocid, "members": [format!("m-000{}", i + 1)] }),
        );
        assert_eq!(s, 201, "{c}");
        let id = c["case"]["case_id"].as_str().expect("id").to_owned();
        let (s, _) = post(
            &url,
            &key,
            &format!("/api/v1/cases/{id}/events"),
            &format!("i{i}"),
            serde_json::json!({ "type": "introduced" }),
        );
        assert_eq!(s, 201);
        cases.push(id);
    }
    let events = format!("/api/v1/cases/{}/events", cases[0]);
    for (k, v) in [
        ("max", serde_json::json!(i64::MAX)),
        ("above", serde_json::json!(100_000_000_001_i64)),
        ("neg", serde_json::json!(-5)),
    ] {
        let (s, e) = post(
            &url,
            &key,
            &events,
            k,
            serde_json::json!({ "type": "won", "value_pence": v }),
        );
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (422, Some("invalid_value")),
            "{k}: {e}"
        );
    }
    let (s, e) = post(
        &url,
        &key,
        "/api/v1/members/m-0001/returns",
        "ret",
        serde_json::json!({ "year": 2026, "turnover_pence": i64::MAX }),
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("invalid_return")),
        "{e}"
    );
    let (s, _) = post(
        &url,
        &key,
        &events,
        "one",
        serde_json::json!({ "type": "won", "value_pence": 1 }),
    );
    assert_eq!(s, 201);
    let totals: Value = reqwest::blocking::Client::new()
        .get(format!("{url}/api/v1/totals"))
        .bearer_auth(&key)
        .send()
        .expect("totals")
        .json()
        .expect("json");
    assert_eq!(
        totals["total_pence"], 1,
        "never wrapped, never negative: {totals}"
    );
    drop(server);
    hand_craft_a_wrapping_win(&d, &cases[1]);
    let mut c = sb(&d);
    c.args(["verify", "--json"]);
    let (code, out, err) = run_for(c, 60);
    assert_eq!(code, Some(1), "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["ok"], false);
    let p = v["problem"].as_str().unwrap_or("");
    assert!(p.contains("impossible total") && p.contains("wrap"), "{p}");
    let mut c = sb(&d);
    c.args(["serve", "--addr", "127.0.0.1:0", "--no-sync"]);
    let (code, out, err) = run_for(c, 60);
    assert!(
        code == Some(1) && !out.contains("listening") && err.contains("impossible total"),
        "{code:?} {out}{err}"
    );
}

/// Appends, outside sebroker, a correctly chained `won` of i64::MAX on a
/// second introduced case (1 penny is already won), and a head to match.
fn hand_craft_a_wrapping_win(d: &Path, case_id: &str) {
    use sebroker_ledger::model::{Event, Share};
    use sebroker_ledger::store::{self, LedgerStore, SledLedgerStore};
    let db = SledLedgerStore::open(&d.join("ledger")).expect("sled");
    let records = db.records().expect("records");
    let mut r = records.last().cloned().expect("events");
    r.seq += 1;
    r.prev_hash = r.hash.clone();
    r.idempotency_key = "hand-made".into();
    r.event = Event::Won {
        case_id: case_id.to_owned(),
        value_pence: i64::MAX,
        shares: vec![Share {
            member_id: "m-0001".into(),
            basis_points: 10_000,
        }],
    };
    r.hash = r.compute_hash();
    db.append(&r).expect("appends");
    drop(db);
    let p = store::head_path(d);
    let mut head = store::read_head(&p).expect("head").expect("a head");
    head.seq = r.seq;
    head.hash = r.hash.clone();
    store::write_head(&p, &head).expect("head written");
}
