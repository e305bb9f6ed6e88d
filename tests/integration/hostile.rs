//! Hostile files and a hostile upstream against the real binary: nesting
//! 200,000 deep, `Infinity` and control characters inside releases, damaged
//! gzip and gzip bombs, and a Find a Tender stand-in on 127.0.0.1 that
//! answers deep nesting, bad tokens, truncated gzip, a bomb, a slow body, an
//! endless body, a redirect to another host and HTML. The process never
//! aborts, every good release is kept, bad windows are recorded as failed and
//! later windows go on.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;

/// `n` real releases (verbatim) of a recorded Find a Tender page, from `skip`.
fn real_releases(data: &Path, day: &str, skip: usize, n: usize) -> Vec<String> {
    let page = data.join(format!("ocds/fts/backfill/{day}/page-001.json"));
    let bytes = std::fs::read(&page).expect("recorded page");
    let o = sebroker_connectors::ocds::read_bytes(&bytes, false, false);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let out: Vec<String> = o
        .releases
        .into_iter()
        .skip(skip)
        .take(n)
        .map(|r| r.json)
        .collect();
    assert_eq!(out.len(), n);
    out
}

/// A release package around releases, with the byte offset of each.
fn package(releases: &[String]) -> (String, Vec<usize>) {
    let mut text = String::from(
        "{\"uri\":\"https://www.find-tender.service.gov.uk/api/1.0/ocdsReleasePackages\",\n\"version\":\"1.1\",\n\"releases\":[\n",
    );
    let mut at = Vec::new();
    for (i, r) in releases.iter().enumerate() {
        if i > 0 {
            text.push_str(",\n");
        }
        at.push(text.len());
        text.push_str(r);
    }
    text.push_str("\n]}\n");
    (text, at)
}

/// Puts `"hostile": <token>,` first in a release.
fn corrupt(release: &str, token: &str) -> String {
    format!("{{\"hostile\": {token},{}", &release[1..])
}

fn ocid(release: &str) -> String {
    let v: Value = serde_json::from_str(&release.replace("1e9999", "0")).expect("json");
    v["ocid"].as_str().expect("ocid").to_owned()
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); exit {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `ingest --json FILES…` into `store`, which must end partial (exit 3);
/// its report.
fn ingest_partially(store: &Path, files: &[&std::path::PathBuf]) -> Value {
    let mut args = vec!["ingest", "--json"];
    args.extend(files.iter().map(|f| f.to_str().expect("a UTF-8 temp path")));
    let (code, r) = common::run_json(store, &args);
    assert_eq!(code, 3, "{r}");
    r
}

fn stats(dir: &Path) -> Value {
    let (code, v) = common::run_json(dir, &["stats", "--json"]);
    assert_eq!(code, 0, "{v}");
    v
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn ingest_reads_around_a_file_nested_200000_deep() {
    let Some(data) = common::shared_data("ingest_reads_around_a_file_nested_200000_deep") else {
        return;
    };
    let dir = common::tempdir();
    let files = dir.path().join("in");
    std::fs::create_dir(&files).expect("dir");
    let a = files.join("a.json");
    let deep = files.join("deep.json");
    let c = files.join("c.json");
    std::fs::write(&a, package(&real_releases(&data, "2026-08-10", 0, 20)).0).expect("a");
    std::fs::write(
        &deep,
        format!("{}{}", "[".repeat(200_000), "]".repeat(200_000)),
    )
    .expect("deep");
    std::fs::write(&c, package(&real_releases(&data, "2026-08-10", 20, 20)).0).expect("c");
    let store = dir.path().join("data");
    let r = ingest_partially(&store, &[&a, &deep, &c]);
    assert_eq!(r["files"], 3);
    assert_eq!(
        (r["releases_read"].as_u64(), r["releases_new"].as_u64()),
        (Some(40), Some(40)),
        "{r}"
    );
    let errors = r["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{r}");
    assert!(
        errors[0]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("deep.json")),
        "{r}"
    );
    // The 65th `[` is where the file went too deep.
    assert_eq!(errors[0]["position"], 64, "{r}");
    let msg = errors[0]["message"].as_str().unwrap_or("");
    assert!(msg.contains("nested deeper than 64 levels"), "{msg}");
    assert_eq!(stats(&store)["releases"], 40);
}

#[test]
fn three_of_twenty_real_releases_with_infinity_cost_three() {
    let Some(data) = common::shared_data("three_of_twenty_real_releases_with_infinity_cost_three")
    else {
        return;
    };
    let mut releases = real_releases(&data, "2026-08-11", 0, 20);
    let bad = [2usize, 9, 17];
    let bad_ocids: Vec<String> = bad.iter().map(|i| ocid(&releases[*i])).collect();
    for i in bad {
        releases[i] = corrupt(&releases[i], "Infinity");
    }
    let (text, at) = package(&releases);
    let dir = common::tempdir();
    let file = dir.path().join("fts-infinity.json");
    std::fs::write(&file, &text).expect("write");
    let store = dir.path().join("data");
    let r = ingest_partially(&store, &[&file]);
    assert_eq!(r["releases_read"], 17, "{r}");
    assert_eq!(r["releases_new"], 17, "{r}");
    assert_eq!(r["releases_skipped"], 3, "{r}");
    let errors = r["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 3, "{r}");
    for ((e, i), ocid) in errors.iter().zip(bad).zip(&bad_ocids) {
        let msg = e["message"].as_str().unwrap_or("");
        assert!(msg.contains(ocid.as_str()), "{msg} should name {ocid}");
        assert!(msg.contains(&format!("at byte {} skipped", at[i])), "{msg}");
        // The position is the bad token itself.
        let pos = e["position"].as_u64().expect("position") as usize;
        assert!(
            text[pos..].starts_with("Infinity"),
            "{msg}: {:?}",
            &text[pos..pos + 12]
        );
    }
    assert_eq!(stats(&store)["releases"], 17);
}

#[test]
fn ingest_truncated_gzip_keeps_what_decoded() {
    let Some(data) = common::shared_data("ingest_truncated_gzip_keeps_what_decoded") else {
        return;
    };
    let page = data.join("ocds/fts/backfill/2026-08-10/page-001.json");
    let z = gzip(&std::fs::read(&page).expect("page"));
    let dir = common::tempdir();
    let file = dir.path().join("cut.json.gz");
    std::fs::write(&file, &z[..z.len() * 6 / 10]).expect("write");
    let store = dir.path().join("data");
    let r = ingest_partially(&store, &[&file]);
    let read = r["releases_read"].as_u64().expect("count");
    assert!(read > 10 && read < 100, "{r}");
    let msgs: Vec<&str> = r["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("gzip stream is damaged")),
        "{msgs:?}"
    );
    assert_eq!(stats(&store)["releases"], read);
}

/// What the stand-in answers for one day's window.
#[derive(Clone)]
enum Answer {
    Page(String),
    Raw {
        content_type: &'static str,
        body: Vec<u8>,
        gzip: bool,
    },
    SlowBody,
    EndlessBody,
    Redirect(String),
}

/// A Find a Tender stand-in on 127.0.0.1 speaking raw HTTP/1.1, so bodies
/// can be trickled, cut or endless. One request per connection.
struct Hostile {
    base: String,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Hostile {
    fn start(answers: Vec<(&'static str, Answer)>) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(answers);
        let (s, log) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            // Bounded: stops when told, or after 5 minutes whatever happens.
            while !s.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(300) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (answers, log) = (answers.clone(), log.clone());
                        std::thread::spawn(move || serve_one(conn, &answers, &log));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Hostile {
            base,
            stop,
            requests,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_one(mut conn: TcpStream, answers: &[(&'static str, Answer)], log: &Mutex<Vec<String>>) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    log.lock().expect("lock").push(target.clone());
    let day = target
        .split("updatedFrom=")
        .nth(1)
        .map(|s| s.chars().take(10).collect::<String>())
        .unwrap_or_default();
    // An exact day, else the `*` answer, else an empty page.
    let answer = answers
        .iter()
        .find(|(d, _)| *d == day)
        .or_else(|| answers.iter().find(|(d, _)| *d == "*"))
        .map(|(_, a)| a.clone())
        .unwrap_or_else(|| Answer::Page(package(&[]).0));
    let _ = answer_with(&mut conn, answer);
}

fn answer_with(conn: &mut TcpStream, answer: Answer) -> std::io::Result<()> {
    let head = |status: &str, headers: &str| {
        format!("HTTP/1.1 {status}\r\nConnection: close\r\n{headers}\r\n")
    };
    match answer {
        Answer::Page(text) => {
            let h = format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                text.len()
            );
            conn.write_all(head("200 OK", &h).as_bytes())?;
            conn.write_all(text.as_bytes())
        }
        Answer::Raw {
            content_type,
            body,
            gzip,
        } => {
            let enc = if gzip {
                "Content-Encoding: gzip\r\n"
            } else {
                ""
            };
            let h = format!(
                "Content-Type: {content_type}\r\n{enc}Content-Length: {}\r\n",
                body.len()
            );
            conn.write_all(head("200 OK", &h).as_bytes())?;
            conn.write_all(&body)
        }
        Answer::SlowBody => {
            let h = "Content-Type: application/json\r\nContent-Length: 100000\r\n";
            conn.write_all(head("200 OK", h).as_bytes())?;
            // A byte every 100 ms: the page would take 3 hours.
            for _ in 0..100 {
                conn.write_all(b" ")?;
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        }
        Answer::EndlessBody => {
            let h = "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n";
            conn.write_all(head("200 OK", h).as_bytes())?;
            let chunk = vec![b' '; 65_536];
            // Bounded at 256 MiB; the client gives up long before.
            for _ in 0..4096 {
                conn.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                conn.write_all(&chunk)?;
                conn.write_all(b"\r\n")?;
            }
            Ok(())
        }
        Answer::Redirect(to) => {
            let h = format!("Location: {to}\r\nContent-Length: 0\r\n");
            conn.write_all(head("302 Found", &h).as_bytes())
        }
    }
}

/// A gzip bomb: 1 MiB of spaces compressed once, the member repeated 64 times.
fn bomb() -> Vec<u8> {
    let member = gzip(&vec![b' '; 1 << 20]);
    member.repeat(64)
}

#[test]
fn sync_survives_a_hostile_upstream_window_by_window() {
    let Some(data) = common::shared_data("sync_survives_a_hostile_upstream_window_by_window")
    else {
        return;
    };
    let mut with_infinity = real_releases(&data, "2026-08-10", 20, 20);
    with_infinity[5] = corrupt(&with_infinity[5], "NaN");
    let mut with_control = real_releases(&data, "2026-08-10", 40, 20);
    with_control[7] = corrupt(&with_control[7], "\"tab\u{1}here\"");
    let truncated = gzip(
        package(&real_releases(&data, "2026-08-10", 60, 20))
            .0
            .as_bytes(),
    );
    let other = TcpListener::bind("127.0.0.1:0").expect("bind");
    let other_hits = Arc::new(AtomicUsize::new(0));
    let other_addr = other.local_addr().expect("addr");
    other.set_nonblocking(true).expect("nonblocking");
    let (hits, done) = (other_hits.clone(), Arc::new(AtomicBool::new(false)));
    let watch = {
        let done = done.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            while !done.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(300) {
                if other.accept().is_ok() {
                    hits.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let server = Hostile::start(vec![
        (
            "2026-08-10",
            Answer::Page(package(&real_releases(&data, "2026-08-10", 0, 20)).0),
        ),
        (
            "2026-08-11",
            Answer::Raw {
                content_type: "application/json",
                body: deep.into_bytes(),
                gzip: false,
            },
        ),
        ("2026-08-12", Answer::Page(package(&with_infinity).0)),
        ("2026-08-13", Answer::Page(package(&with_control).0)),
        (
            "2026-08-14",
            Answer::Raw {
                content_type: "application/json",
                body: truncated[..truncated.len() / 2].to_vec(),
                gzip: true,
            },
        ),
        (
            "2026-08-15",
            Answer::Raw {
                content_type: "application/json",
                body: bomb(),
                gzip: true,
            },
        ),
        ("2026-08-16", Answer::SlowBody),
        ("2026-08-17", Answer::EndlessBody),
        (
            "2026-08-18",
            Answer::Redirect(format!("http://{other_addr}/api/1.0/ocdsReleasePackages")),
        ),
        (
            "2026-08-19",
            Answer::Raw {
                content_type: "text/html; charset=utf-8",
                body: b"<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>"
                    .to_vec(),
                gzip: false,
            },
        ),
        (
            "2026-08-20",
            Answer::Page(package(&real_releases(&data, "2026-08-11", 0, 20)).0),
        ),
    ]);
    let dir = common::tempdir();
    let cfg = dir.path().join("sebroker.toml");
    std::fs::write(
        &cfg,
        "[http.fts]\nmin_interval_ms = 0\ntimeout_ms = 2000\nmax_attempts = 2\nbackoff_base_ms = 10\n\
         backoff_max_ms = 20\nmax_body_bytes = 8000000\n",
    )
    .expect("config");
    let store = dir.path().join("data");
    let sync = |extra: &[&str]| {
        common::bin()
            .arg("--data-dir")
            .arg(&store)
            .arg("--config")
            .arg(&cfg)
            .args(["sync", "fts", "--fts-url", &server.base, "--json"])
            .args(extra)
            .env_remove("SEBROKER_FTS_URL")
            .output()
            .expect("runs")
    };
    let out = sync(&[
        "--from",
        "2026-08-10",
        "--to",
        "2026-08-20",
        "--now",
        "2026-08-25T00:00:00Z",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    let r = &v["sources"][0];
    assert!(r["aborted"].is_null(), "{r}");
    assert_eq!(
        (
            r["windows_completed"].as_u64(),
            r["windows_failed"].as_u64()
        ),
        (Some(4), Some(7)),
        "{r}"
    );
    assert_eq!(r["releases_new"], 20 + 19 + 19 + 20, "{r}");
    let errors: Vec<&str> = r["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().all(|e| e.contains("skipped: invalid JSON")),
        "{errors:?}"
    );
    let failed: Vec<(String, String)> = r["failed_windows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let w = f["window"]["from"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(10)
                .collect();
            (w, f["error"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    let why = |day: &str| {
        failed
            .iter()
            .find(|(d, _)| d == day)
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| panic!("{day} is not a failed window: {failed:?}"))
    };
    assert!(
        why("2026-08-11").contains("nested deeper than 64 levels"),
        "{}",
        why("2026-08-11")
    );
    assert!(
        why("2026-08-14").contains("gzip stream is damaged"),
        "{}",
        why("2026-08-14")
    );
    assert!(
        why("2026-08-15").contains("gzip bomb"),
        "{}",
        why("2026-08-15")
    );
    assert!(why("2026-08-16").contains("time"), "{}", why("2026-08-16"));
    assert!(
        why("2026-08-17").contains("larger than 8000000 bytes"),
        "{}",
        why("2026-08-17")
    );
    assert!(
        why("2026-08-18").contains("not followed"),
        "{}",
        why("2026-08-18")
    );
    assert!(
        why("2026-08-19").contains("text/html instead of JSON"),
        "{}",
        why("2026-08-19")
    );
    assert_eq!(
        other_hits.load(Ordering::Relaxed),
        0,
        "the redirect was followed"
    );
    // The redirect is not retried; the others were, once.
    let asked = |day: &str| {
        server
            .requests()
            .iter()
            .filter(|t| t.contains(&format!("updatedFrom={day}")))
            .count()
    };
    assert_eq!(asked("2026-08-18"), 1);
    assert_eq!(asked("2026-08-19"), 2);
    assert_eq!(stats(&store)["releases"], 78);

    // The next start fetches the failed windows again: they fail again, the
    // process lives, nothing stored is lost, the windows after go on.
    let out = sync(&["--now", "2026-08-22T00:00:00Z"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    let r = &v["sources"][0];
    assert!(r["aborted"].is_null(), "{r}");
    assert_eq!(r["windows_failed"], 7, "{r}");
    let failures: Vec<u64> = r["failed_windows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["failures"].as_u64())
        .collect();
    assert_eq!(failures, vec![2; 7], "{r}");
    assert!(
        r["windows_completed"].as_u64().is_some_and(|n| n >= 1),
        "{r}"
    );
    assert_eq!(stats(&store)["releases"], 78);
    drop(server);
    done.store(true, Ordering::Relaxed);
    let _ = watch.join();
}

/// The crash of the issue: `serve` syncing a source that answers 10,000 `[`
/// then 10,000 `]` died with `has overflowed its stack`. It now keeps
/// serving, and the windows are recorded as failed.
#[test]
fn serve_keeps_serving_when_every_page_is_nested_10000_deep() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let server = Hostile::start(vec![(
        "*",
        Answer::Raw {
            content_type: "application/json",
            body: deep.into_bytes(),
            gzip: false,
        },
    )]);
    let dir = common::tempdir();
    let cfg = dir.path().join("sebroker.toml");
    std::fs::write(
        &cfg,
        "sync_sources = [\"fts\"]\n[http.fts]\nmin_interval_ms = 0\nmax_attempts = 2\nbackoff_base_ms = 10\nbackoff_max_ms = 20\n",
    )
    .expect("config");
    let store = dir.path().join("data");
    let (code, key) = common::run_json(&store, &["keys", "create", "--role", "broker", "--json"]);
    assert_eq!(code, 0, "{key}");
    let key = key["key"].as_str().expect("key").to_owned();
    let mut child = common::bin()
        .arg("--data-dir")
        .arg(&store)
        .arg("--config")
        .arg(&cfg)
        .args(["serve", "--addr", "127.0.0.1:0", "--fts-url", &server.base])
        .env_remove("SEBROKER_FTS_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve starts");
    let url = crate::common::listening_url(&mut child);
    let client = reqwest::blocking::Client::new();
    let mut fts = Value::Null;
    // Bounded wait for the first run to end (it takes well under a second).
    for _ in 0..600 {
        let v: Value = client
            .get(format!("{url}/api/v1/sources"))
            .bearer_auth(&key)
            .send()
            .and_then(|r| r.json())
            .unwrap_or(Value::Null);
        fts = v["sources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["source"] == "fts")
            .cloned()
            .unwrap_or(Value::Null);
        if fts["runs"].as_u64().is_some_and(|n| n >= 1) {
            break;
        }
        assert!(child.try_wait().expect("status").is_none(), "serve died");
        std::thread::sleep(Duration::from_millis(100));
    }
    let alive = child.try_wait().expect("status").is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(alive, "serve died");
    assert_eq!(fts["runs"], 1, "{fts}");
    let failed = fts["failed_windows"].as_array().expect("failed windows");
    assert!(failed.len() >= 7, "the last 7 days failed: {fts}");
    for f in failed {
        let e = f["error"].as_str().unwrap_or("");
        assert!(e.contains("nested deeper than 64 levels"), "{e}");
    }
    assert_eq!(fts["last_run"]["outcome"], "partial", "{fts}");
    // Every window was asked twice (max_attempts), none more.
    assert_eq!(server.requests().len(), 2 * failed.len());
}
