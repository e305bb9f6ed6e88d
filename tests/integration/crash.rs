//! The crash loop: the real binary (`serve` on 127.0.0.1) killed with
//! SIGKILL at seeded random points while several threads write to the
//! ledger with idempotency keys, then restarted; every acknowledged write
//! is there exactly once, a retried unacknowledged write never doubles,
//! the totals are the sum, and `verify` passes after every kill.
//!
//! `SEBROKER_CRASH_CYCLES` (default 50), `SEBROKER_CRASH_SEED`, and
//! `SEBROKER_CRASH_BIN` (default: the debug binary) parameterise it;
//! `benches/crash_soak.sh` runs it with the release binary and 300+ cycles.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{repo, tempdir};

/// The binary under test: `SEBROKER_CRASH_BIN`, else the debug build.
pub fn binary() -> PathBuf {
    std::env::var_os("SEBROKER_CRASH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sebroker")))
}

pub fn sb(dir: &Path) -> Command {
    let mut c = Command::new(binary());
    c.env_remove("SEBROKER_DATA_DIR")
        .env_remove("SEBROKER_CONFIG")
        .env_remove("RUST_LOG")
        .arg("--data-dir")
        .arg(dir);
    c
}

fn ok_json(c: &mut Command) -> Value {
    let out = c.output().expect("sebroker runs");
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// A data folder with the demo members and notices and a broker key:
/// (the folder, an ocid, the key).
pub fn folder(d: &Path) -> (String, String) {
    let members = repo().join("fixtures/demo/members.json");
    ok_json(sb(d).args(["members", "import"]).arg(&members).args([
        "--effective",
        "2025-01-01",
        "--json",
    ]));
    let demo = repo().join("fixtures/demo/fts-2026-11.json");
    ok_json(sb(d).arg("ingest").arg(&demo).arg("--json"));
    let page = ok_json(sb(d).args(["search", "--limit", "1", "--json"]));
    let ocid = page["hits"][0]["ocid"].as_str().expect("ocid").to_owned();
    let key = ok_json(sb(d).args(["keys", "create", "--role", "broker", "--json"]));
    (ocid, key["key"].as_str().expect("key").to_owned())
}

/// A running server; killed (SIGKILL) on drop if still alive.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` and kills it (SIGKILL) `ms` milliseconds later, whether
/// or not it has begun to listen.
fn kill_while_starting(d: &Path, log: &Path, ms: u64) {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut child = sb(d)
        .args(["serve", "--addr", "127.0.0.1:0", "--no-sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(err))
        .spawn()
        .expect("serve starts");
    std::thread::sleep(Duration::from_millis(ms));
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `serve` on port 0, its stderr appended to `log`; `Err` with the
/// log when it exits instead of listening.
pub fn start(d: &Path, log: &Path) -> Result<Server, String> {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut child = sb(d)
        .args(["serve", "--addr", "127.0.0.1:0", "--no-sync"])
        .env("SEBROKER_RATE_LIMIT", "10000000")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err))
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    let _ = BufReader::new(stdout).read_line(&mut line);
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    if !url.starts_with("http://127.0.0.1:") {
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: String = text
            .chars()
            .rev()
            .take(3000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(format!("serve did not start: {line:?}\n{tail}"));
    }
    Ok(Server { child, url })
}

/// xorshift64*: seeded, reproducible kill points without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// One brokered win: open a case, introduce, win; three writes, each
/// retried with its own idempotency key until acknowledged.
#[derive(Debug, Clone)]
struct Job {
    id: u64,
    step: usize,
    case_id: Option<String>,
    value: i64,
    /// The current step failed unacknowledged at least once.
    retrying: bool,
}

#[derive(Default)]
struct Figures {
    acked: AtomicU64,
    retried: AtomicU64,
    /// Retries answered "replayed": the write had been stored before the kill.
    stored_before_kill: AtomicU64,
}

enum Outcome {
    Acked,
    /// The server is gone (or failed the write): retry after the restart.
    Unacked,
}

/// Members in the demo file (`m-0001`…`m-0048`).
const DEMO_MEMBERS: u64 = 48;

fn step(
    http: &reqwest::blocking::Client,
    url: &str,
    key: &str,
    ocids: &[String],
    job: &mut Job,
    f: &Figures,
) -> Outcome {
    // One case per member per notice: each job its own pair.
    let member = format!("m-{:04}", 1 + job.id % DEMO_MEMBERS);
    let ocid = &ocids[(job.id / DEMO_MEMBERS) as usize % ocids.len().max(1)];
    let (path, body, idem) = match job.step {
        0 => (
            "/api/v1/cases".to_owned(),
            json!({ "ocid": ocid, "members": [member], "notes": format!("job-{}", job.id) }),
            format!("job-{}-open", job.id),
        ),
        1 => (
            format!(
                "/api/v1/cases/{}/events",
                job.case_id.as_deref().unwrap_or("")
            ),
            json!({ "type": "introduced" }),
            format!("job-{}-intro", job.id),
        ),
        _ => (
            format!(
                "/api/v1/cases/{}/events",
                job.case_id.as_deref().unwrap_or("")
            ),
            json!({ "type": "won", "value_pence": job.value, "date": "2026-01-15" }),
            format!("job-{}-won", job.id),
        ),
    };
    let sent = http
        .post(format!("{url}{path}"))
        .bearer_auth(key)
        .header("Idempotency-Key", &idem)
        .json(&body)
        .send();
    let Ok(resp) = sent else {
        return Outcome::Unacked;
    };
    let status = resp.status().as_u16();
    if status >= 500 {
        return Outcome::Unacked;
    }
    let Ok(v) = resp.json::<Value>() else {
        return Outcome::Unacked;
    };
    assert!(
        status == 200 || status == 201,
        "job {} step {} ({idem}): {status} {v}",
        job.id,
        job.step
    );
    if job.retrying && v["replayed"] == true {
        f.stored_before_kill.fetch_add(1, Ordering::Relaxed);
    }
    assert!(
        v["replayed"] != true || job.retrying,
        "a first attempt cannot be a replay: {v}"
    );
    if job.step == 0 {
        job.case_id = v["case"]["case_id"].as_str().map(str::to_owned);
    }
    f.acked.fetch_add(1, Ordering::Relaxed);
    job.step += 1;
    job.retrying = false;
    Outcome::Acked
}

/// A writer thread: runs its pending job, then new ones, until the server
/// stops answering (or, with `finish`, until its pending job is done).
fn writer(
    url: String,
    key: String,
    ocids: Arc<Vec<String>>,
    pending: Arc<Mutex<Option<Job>>>,
    next: Arc<AtomicU64>,
    f: Arc<Figures>,
    finish: bool,
) {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    // Bounded: a cycle is cut by the kill long before this.
    for _ in 0..100_000 {
        let mut slot = pending.lock().expect("job");
        let job = slot.get_or_insert_with(|| {
            let id = next.fetch_add(1, Ordering::Relaxed);
            Job {
                id,
                step: 0,
                case_id: None,
                value: 1_000 + (id as i64 % 97) * 13,
                retrying: false,
            }
        });
        if job.retrying {
            f.retried.fetch_add(1, Ordering::Relaxed);
        }
        match step(&http, &url, &key, &ocids, job, &f) {
            Outcome::Acked if job.step == 3 => {
                done_jobs().lock().expect("done").push((job.id, job.value));
                *slot = None;
                if finish {
                    return;
                }
            }
            Outcome::Acked => {}
            Outcome::Unacked => {
                job.retrying = true;
                return;
            }
        }
    }
}

fn done_jobs() -> &'static Mutex<Vec<(u64, i64)>> {
    static DONE: Mutex<Vec<(u64, i64)>> = Mutex::new(Vec::new());
    &DONE
}

fn env_u64(k: &str, default: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn verify(d: &Path, cycle: u64) {
    let out = sb(d)
        .args(["verify", "--json"])
        .output()
        .expect("verify runs");
    assert!(
        out.status.success(),
        "verify after kill {cycle}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every case of the server (all pages).
fn all_cases(url: &str, key: &str) -> Vec<Value> {
    let http = reqwest::blocking::Client::new();
    let mut out = Vec::new();
    for page in 0..1000 {
        let v: Value = http
            .get(format!(
                "{url}/api/v1/cases?limit=1000&offset={}",
                page * 1000
            ))
            .bearer_auth(key)
            .send()
            .expect("cases")
            .json()
            .expect("json");
        let list = v["cases"].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            break;
        }
        out.extend(list);
    }
    out
}

const THREADS: usize = 3;

#[test]
fn acknowledged_writes_survive_kill_9_exactly_once() {
    let cycles = env_u64("SEBROKER_CRASH_CYCLES", 50);
    let mut rng = Rng::new(env_u64("SEBROKER_CRASH_SEED", 20_261_201));
    let dir = tempdir();
    let d = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let (_, key) = folder(&d);
    let page = ok_json(sb(&d).args(["search", "--limit", "100", "--json"]));
    let ocids: Arc<Vec<String>> = Arc::new(
        page["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .filter_map(|h| h["ocid"].as_str().map(str::to_owned))
            .collect(),
    );
    let started = Instant::now();
    let f = Arc::new(Figures::default());
    let next = Arc::new(AtomicU64::new(1));
    let pending: Vec<Arc<Mutex<Option<Job>>>> = (0..THREADS).map(|_| Arc::default()).collect();
    for cycle in 1..=cycles + 1 {
        let last = cycle == cycles + 1;
        if !last && rng.below(4) == 0 {
            // Sometimes the kill comes while `serve` opens and recovers
            // the folder, before it listens.
            kill_while_starting(&d, &log, rng.below(300));
        }
        let server = start(&d, &log).unwrap_or_else(|e| panic!("restart {cycle}: {e}"));
        let threads: Vec<_> = pending
            .iter()
            .map(|p| {
                let (url, key, ocid, p, next, f) = (
                    server.url.clone(),
                    key.clone(),
                    ocids.clone(),
                    p.clone(),
                    next.clone(),
                    f.clone(),
                );
                std::thread::spawn(move || writer(url, key, ocid, p, next, f, last))
            })
            .collect();
        let mut server = server;
        if !last {
            // The seeded kill point: somewhere in the first 400 ms of writing.
            std::thread::sleep(Duration::from_millis(5 + rng.below(400)));
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
        // The writers stop at the first write the dead server does not answer.
        for t in threads {
            t.join().expect("a writer failed");
        }
        if last {
            check_final(&server, &key, &f, cycles, started);
        }
        drop(server);
        verify(&d, cycle);
    }
}

fn check_final(server: &Server, key: &str, f: &Figures, cycles: u64, started: Instant) {
    let done = done_jobs().lock().expect("done").clone();
    let cases = all_cases(&server.url, key);
    let mut doubles = 0u64;
    let mut losses = 0u64;
    for (id, value) in &done {
        let tag = format!("job-{id}");
        let mine: Vec<&Value> = cases
            .iter()
            .filter(|c| c["events"][0]["notes"] == tag.as_str())
            .collect();
        match mine.len() {
            0 => losses += 1,
            1 => {
                let c = mine[0];
                let events = c["events"].as_array().map_or(0, Vec::len);
                if events != 3 {
                    doubles += 1;
                }
                if c["win"]["value_pence"] != *value {
                    losses += 1;
                }
            }
            _ => doubles += 1,
        }
    }
    doubles += (cases.len() as u64).saturating_sub(done.len() as u64);
    let sum: i64 = done.iter().map(|d| d.1).sum();
    let totals: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/totals", server.url))
        .bearer_auth(key)
        .send()
        .expect("totals")
        .json()
        .expect("json");
    let figures = format!(
        "crash loop: cycles {cycles}, jobs {}, writes acked {}, writes retried {}, stored before the kill {}, doubles {doubles}, losses {losses}, total {} = sum {sum}, elapsed {:.1}s",
        done.len(),
        f.acked.load(Ordering::Relaxed),
        f.retried.load(Ordering::Relaxed),
        f.stored_before_kill.load(Ordering::Relaxed),
        totals["total_pence"],
        started.elapsed().as_secs_f64()
    );
    println!("{figures}");
    eprintln!("{figures}");
    assert_eq!((doubles, losses), (0, 0), "{figures}");
    assert_eq!(totals["total_pence"], sum, "{figures}");
    assert!(
        done.len() as u64 >= cycles,
        "the loop wrote too little: {figures}"
    );
    assert!(
        f.retried.load(Ordering::Relaxed) > 0,
        "no write was ever cut by a kill: {figures}"
    );
}
