//! A stand-in for Find a Tender and Contracts Finder on 127.0.0.1: replays
//! the real pages in ../shared/data (links.next rewritten to itself), serves
//! other windows from the same releases, and injects faults on demand.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use time::PrimitiveDateTime;

use sebroker_connectors::ocds::{compile::parse_time, read_bytes, Release};
use sebroker_connectors::uktime;

#[derive(Debug, Clone)]
pub enum Fault {
    TooMany { retry_after: Option<u64> },
    Unavailable,
    Truncated,
    DropNext,
    Html200,
    Slow(Duration),
    Forbidden,
    InvalidUtf8,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub key: String,
    pub status: u16,
}

pub struct Replay {
    /// Recorded FTS days: date → pages.
    fts_days: HashMap<String, Vec<Vec<u8>>>,
    /// Every recorded FTS release with its UK local date.
    fts_releases: Vec<(PrimitiveDateTime, String)>,
    cf_page: Vec<u8>,
    faults: Mutex<HashMap<String, VecDeque<Fault>>>,
    pub log: Mutex<Vec<Logged>>,
    addr: Mutex<Option<SocketAddr>>,
}

pub const CF_DAY: &str = "2025-01-21";

impl Replay {
    pub fn load(data: &Path) -> Arc<Replay> {
        let mut fts_days = HashMap::new();
        let mut fts_releases = Vec::new();
        for day in ["2026-08-10", "2026-08-11"] {
            let dir = data.join("ocds/fts/backfill").join(day);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .expect("backfill day")
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            let pages: Vec<Vec<u8>> = files
                .iter()
                .map(|f| std::fs::read(f).expect("page"))
                .collect();
            for p in &pages {
                for r in read_bytes(p, false, false).releases {
                    let rel = Release::parse(&r.json).expect("release");
                    let t = rel.date.as_deref().and_then(parse_time).expect("dated");
                    fts_releases.push((uktime::to_uk_local(t), r.json));
                }
            }
            fts_days.insert(day.to_owned(), pages);
        }
        let cf_page =
            std::fs::read(data.join("ocds/cf/search-page-2025-01-23.json")).expect("cf page");
        Arc::new(Replay {
            fts_days,
            fts_releases,
            cf_page,
            faults: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            addr: Mutex::new(None),
        })
    }

    /// Releases of a recorded day.
    pub fn day_count(&self, day: &str) -> usize {
        self.fts_days[day]
            .iter()
            .map(|p| read_bytes(p, false, false).releases.len())
            .sum()
    }

    /// Queues a fault for the request with this key (`fts:2026-08-10:2`, `cf:1`).
    pub fn inject(&self, key: &str, fault: Fault) {
        self.faults
            .lock()
            .expect("lock")
            .entry(key.to_owned())
            .or_default()
            .push_back(fault);
    }

    pub fn requests(&self, key: &str) -> Vec<Logged> {
        self.log
            .lock()
            .expect("lock")
            .iter()
            .filter(|l| l.key == key)
            .cloned()
            .collect()
    }

    pub fn base(&self) -> String {
        format!(
            "http://{}",
            self.addr.lock().expect("lock").expect("started")
        )
    }

    /// Serves on 127.0.0.1 (port 0) on the current runtime.
    pub async fn start(self: &Arc<Self>) -> String {
        let app = Router::new()
            .route("/api/1.0/ocdsReleasePackages", get(fts))
            .route("/Published/Notices/OCDS/Search", get(cf))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        *self.addr.lock().expect("lock") = Some(listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        self.base()
    }

    fn take_fault(&self, key: &str) -> Option<Fault> {
        self.faults
            .lock()
            .expect("lock")
            .get_mut(key)
            .and_then(|q| q.pop_front())
    }

    fn record(&self, key: &str, status: u16) {
        self.log.lock().expect("lock").push(Logged {
            at: Instant::now(),
            key: key.to_owned(),
            status,
        });
    }

    /// Applies a fault (or none) to a good body.
    async fn answer(&self, key: &str, mut body: Vec<u8>) -> Response {
        let fault = self.take_fault(key);
        let status = match &fault {
            Some(Fault::TooMany { .. }) => 429,
            Some(Fault::Unavailable) => 503,
            Some(Fault::Forbidden) => 403,
            _ => 200,
        };
        self.record(key, status);
        let json = [("content-type", "application/json")];
        match fault {
            None => (StatusCode::OK, json, body).into_response(),
            Some(Fault::TooMany { retry_after: Some(s) }) => {
                let mut h = HeaderMap::new();
                h.insert("retry-after", s.to_string().parse().expect("header"));
                (StatusCode::TOO_MANY_REQUESTS, h, "Rate limit of 12 exceeded. Please retry after 120 seconds.").into_response()
            }
            Some(Fault::TooMany { retry_after: None }) => {
                (StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded").into_response()
            }
            Some(Fault::Unavailable) => (StatusCode::SERVICE_UNAVAILABLE, "<html>503 Service Unavailable</html>").into_response(),
            Some(Fault::Forbidden) => (StatusCode::FORBIDDEN, "Too many requests, please wait 5 minutes").into_response(),
            Some(Fault::Truncated) => {
                body.truncate(body.len() / 2);
                (StatusCode::OK, json, body).into_response()
            }
            Some(Fault::Html200) => (
                StatusCode::OK,
                [("content-type", "text/html")],
                "<!DOCTYPE html><html><body><h1>Sorry, there is a problem with the service</h1></body></html>",
            )
                .into_response(),
            Some(Fault::DropNext) => {
                let text = String::from_utf8_lossy(&body).replace("\"next\"", "\"prev\"");
                (StatusCode::OK, json, text).into_response()
            }
            Some(Fault::Slow(d)) => {
                tokio::time::sleep(d).await;
                (StatusCode::OK, json, body).into_response()
            }
            Some(Fault::InvalidUtf8) => {
                let text = String::from_utf8_lossy(&body).into_owned();
                let at = text.find("\"title\": \"").map_or(0, |i| i + 10);
                let mut b = text.into_bytes();
                b.insert(at, 0xff);
                (StatusCode::OK, json, b).into_response()
            }
        }
    }
}

/// Replaces the recorded `links.next` with one pointing here.
fn rewrite_next(page: &[u8], next: Option<String>) -> Vec<u8> {
    let text = String::from_utf8_lossy(page).into_owned();
    let Some(start) = text.find("\"next\": \"") else {
        return page.to_vec();
    };
    let value_start = start + "\"next\": \"".len();
    let Some(len) = text[value_start..].find('"') else {
        return page.to_vec();
    };
    match next {
        Some(n) => format!(
            "{}{}{}",
            &text[..value_start],
            n,
            &text[value_start + len..]
        )
        .into_bytes(),
        None => page.to_vec(),
    }
}

type Params = Query<HashMap<String, String>>;

fn bad_params(q: &HashMap<String, String>, allowed: &[&str]) -> Option<Response> {
    q.keys()
        .find(|k| !allowed.contains(&k.as_str()))
        .map(|k| (StatusCode::BAD_REQUEST, format!("unknown parameter {k}")).into_response())
}

async fn fts(State(r): State<Arc<Replay>>, Query(q): Params) -> Response {
    if let Some(bad) = bad_params(&q, &["updatedFrom", "updatedTo", "limit", "cursor"]) {
        return bad;
    }
    let (Some(from), Some(to)) = (
        q.get("updatedFrom").and_then(|s| uktime::parse_param(s)),
        q.get("updatedTo").and_then(|s| uktime::parse_param(s)),
    ) else {
        return (StatusCode::BAD_REQUEST, "updatedFrom/updatedTo").into_response();
    };
    let base = r.base();
    let window = format!(
        "updatedFrom={}&updatedTo={}&limit=100",
        uktime::format_param(from),
        uktime::format_param(to)
    );
    let whole_day = to - from == time::Duration::days(1) && from.time() == time::Time::MIDNIGHT;
    let day = from.date().to_string();
    if whole_day && r.fts_days.contains_key(&day) {
        let n: usize = q
            .get("cursor")
            .and_then(|c| c.strip_prefix('p'))
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let pages = &r.fts_days[&day];
        let Some(page) = pages.get(n - 1) else {
            return (StatusCode::BAD_REQUEST, "bad cursor").into_response();
        };
        let next = (n < pages.len()).then(|| {
            format!(
                "{base}/api/1.0/ocdsReleasePackages?{window}&cursor=p{}",
                n + 1
            )
        });
        let body = rewrite_next(page, next);
        return r.answer(&format!("fts:{day}:{n}"), body).await;
    }
    // Any other window: the recorded releases updated in it, 100 a page.
    let offset: usize = q
        .get("cursor")
        .and_then(|c| c.strip_prefix('s'))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let matching: Vec<&String> = r
        .fts_releases
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, j)| j)
        .collect();
    let page: Vec<&str> = matching
        .iter()
        .skip(offset)
        .take(100)
        .map(|s| s.as_str())
        .collect();
    let links = if offset + 100 < matching.len() {
        format!(
            r#","links":{{"next":"{base}/api/1.0/ocdsReleasePackages?{window}&cursor=s{}"}}"#,
            offset + 100
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"{{"uri":"replay","version":"1.1","releases":[{}]{links}}}"#,
        page.join(",")
    );
    r.answer(
        &format!(
            "fts:{}..{}:{}",
            uktime::format_param(from),
            uktime::format_param(to),
            offset
        ),
        body.into_bytes(),
    )
    .await
}

async fn cf(State(r): State<Arc<Replay>>, Query(q): Params) -> Response {
    if let Some(bad) = bad_params(
        &q,
        &["publishedFrom", "publishedTo", "limit", "cursor", "stages"],
    ) {
        return bad;
    }
    let from = q.get("publishedFrom").and_then(|s| uktime::parse_param(s));
    let base = r.base();
    let on_day = from.is_some_and(|f| f.date().to_string() == CF_DAY);
    match (on_day, q.get("cursor").map(String::as_str)) {
        (true, None) => {
            let next = format!(
                "{base}/Published/Notices/OCDS/Search?publishedFrom={CF_DAY}T00:00:00&publishedTo=2025-01-22T00:00:00&limit=100&cursor=c2"
            );
            let body = rewrite_next(&r.cf_page, Some(next));
            r.answer("cf:1", body).await
        }
        (true, Some("c2")) => {
            r.answer("cf:2", br#"{"uri":"replay","releases":[]}"#.to_vec())
                .await
        }
        _ => {
            r.answer("cf:other", br#"{"uri":"replay","releases":[]}"#.to_vec())
                .await
        }
    }
}
