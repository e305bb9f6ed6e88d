//! Ledger commands (`cases`, `referrals`, `returns`, `totals`, `kpis`,
//! `reconcile`, `keys`, `stats` while serving) as requests to the API: sent
//! in-process to the router over the opened data folder (as an admin: who
//! can open the folder owns it), or, when `serve` holds the folder, over
//! HTTP to that server with `--key` / `SEBROKER_KEY`. One code path for
//! checks, validation and answers.

use std::path::Path;

use anyhow::Context;
use axum::body::Body;
use axum::http::{Method, Request};
use tower::ServiceExt;

use sebroker_engine::config::Config;
use sebroker_engine::Engine;
use sebroker_engine::Error;
use sebroker_ledger::auth::Role;
use sebroker_model::exit;
use sebroker_server::principal::Principal;

/// Where `serve` writes its address, for commands run beside it.
pub fn url_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("serve.url")
}

/// How to reach the API.
pub struct Remote {
    pub server: Option<String>,
    pub key: Option<String>,
}

/// An answer: HTTP status and body (JSON, or CSV text).
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The exit code and, on failure, the API's message on stderr.
    pub fn report_error(&self) -> u8 {
        let v = self.json();
        let msg = v["error"]["message"].as_str().unwrap_or(&self.body);
        let code = v["error"]["code"].as_str().unwrap_or("error");
        eprintln!("error: {msg} ({code})");
        match self.status {
            400 | 422 => exit::USAGE,
            _ => exit::FAILED,
        }
    }
}

fn cli_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// A fresh idempotency key for a command-line write.
pub fn fresh_key() -> String {
    sebroker_ledger::auth::random_bytes::<12>()
        .map(|b| format!("cli-{}", sebroker_ledger::auth::hex(&b)))
        .unwrap_or_else(|_| {
            format!(
                "cli-{}",
                time::OffsetDateTime::now_utc().unix_timestamp_nanos()
            )
        })
}

/// Sends one request to the API: in-process over the data folder, or to
/// the running server when the folder is locked.
pub fn request(
    config: &Config,
    remote: &Remote,
    method: Method,
    path_and_query: &str,
    body: Option<serde_json::Value>,
    idempotency_key: Option<&str>,
) -> anyhow::Result<Answer> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if let Some(server) = &remote.server {
        return rt.block_on(http(
            server,
            remote,
            method,
            path_and_query,
            body,
            idempotency_key,
        ));
    }
    match Engine::open(config) {
        Ok(app) => {
            let app = std::sync::Arc::new(app);
            let mut req = Request::builder()
                .method(method)
                .uri(path_and_query)
                .header("content-type", "application/json");
            if let Some(k) = idempotency_key {
                req = req.header("idempotency-key", k);
            }
            let mut req = req.body(match body {
                Some(b) => Body::from(b.to_string()),
                None => Body::empty(),
            })?;
            req.extensions_mut().insert(Principal {
                key_id: "cli".into(),
                name: format!("cli:{}", cli_user()),
                role: Role::Admin,
                member_id: None,
                via: sebroker_server::principal::Via::Local,
            });
            rt.block_on(async move {
                let resp = sebroker_server::router::local(app)
                    .oneshot(req)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let status = resp.status().as_u16();
                let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
                Ok(Answer {
                    status,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                })
            })
        }
        Err(Error::Locked { dir, pid }) => {
            let url = std::fs::read_to_string(url_file(&config.data_dir))
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "the data folder {} is in use by process {pid}, and it left no serve.url to reach it; pass --server URL",
                        dir.display()
                    )
                })?;
            eprintln!(
                "note: {} is held by `sebroker serve` (process {pid}); going through {url}",
                dir.display()
            );
            rt.block_on(http(
                &url,
                remote,
                method,
                path_and_query,
                body,
                idempotency_key,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn http(
    server: &str,
    remote: &Remote,
    method: Method,
    path_and_query: &str,
    body: Option<serde_json::Value>,
    idempotency_key: Option<&str>,
) -> anyhow::Result<Answer> {
    let key = remote.key.as_deref().ok_or_else(|| {
        anyhow::anyhow!(
            "going through the server needs an API key: pass --key KEY or set SEBROKER_KEY"
        )
    })?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let url = format!("{}{path_and_query}", server.trim_end_matches('/'));
    let m = reqwest::Method::from_bytes(method.as_str().as_bytes())?;
    let mut rb = client.request(m, &url).bearer_auth(key);
    if let Some(k) = idempotency_key {
        rb = rb.header("idempotency-key", k);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status().as_u16();
    let body = resp.text().await?;
    Ok(Answer { status, body })
}

/// Prints an answer: JSON as it came with `--json`, else through `human`.
pub fn print(answer: &Answer, json: bool, human: impl Fn(&serde_json::Value)) -> u8 {
    if !answer.ok() {
        return answer.report_error();
    }
    if json {
        println!("{}", answer.body.trim_end());
    } else {
        human(&answer.json());
    }
    exit::OK
}

pub fn pounds(p: &serde_json::Value) -> String {
    let p = p.as_i64().unwrap_or(0);
    let sign = if p < 0 { "-" } else { "" };
    let a = p.unsigned_abs();
    format!("{sign}£{}.{:02}", group(a / 100), a % 100)
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn print_case(c: &serde_json::Value) {
    println!(
        "{}  [{}]  {}  {}",
        c["case_id"].as_str().unwrap_or(""),
        c["status"].as_str().unwrap_or(""),
        c["ocid"].as_str().unwrap_or(""),
        c["title"].as_str().unwrap_or("")
    );
    let members: Vec<&str> = c["members"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m.as_str()).collect())
        .unwrap_or_default();
    println!(
        "    members: {} (lead {})",
        members.join(", "),
        c["lead"].as_str().unwrap_or("")
    );
    if c["win"].is_object() {
        println!(
            "    won {} on {}{}",
            pounds(&c["win"]["value_pence"]),
            c["win"]["date"].as_str().unwrap_or(""),
            if c["win"]["counted"] == true {
                ""
            } else {
                " (not counted: no introduction)"
            }
        );
    }
}

pub fn print_totals(v: &serde_json::Value) {
    println!(
        "brokered {} of {} ({}%), {} wins, by {}",
        pounds(&v["total_pence"]),
        pounds(&v["target_pence"]),
        v["progress_percent"],
        v["wins"],
        v["by"].as_str().unwrap_or("")
    );
    for r in v["rows"].as_array().into_iter().flatten() {
        let target = if r["target_pence"].is_null() {
            String::new()
        } else {
            format!(
                "  of {} ({}%)",
                pounds(&r["target_pence"]),
                r["progress_percent"]
            )
        };
        println!(
            "  {:<24} {:>16}  {} wins{target}",
            r["key"].as_str().unwrap_or(""),
            pounds(&r["value_pence"]),
            r["wins"]
        );
    }
}

pub fn print_kpis(v: &serde_json::Value) {
    println!(
        "programme from {} (now {}): brokered {} of {} ({}%)",
        v["programme_start"].as_str().unwrap_or(""),
        v["programme_year_now"].as_str().unwrap_or(""),
        pounds(&v["brokered_total_pence"]),
        pounds(&v["brokered_target_pence"]),
        v["brokered_progress_percent"]
    );
    for c in v["clusters"].as_array().into_iter().flatten() {
        println!(
            "  {:<16} brokered {:>14}  members {}/{}  SEGA {}/{}  SEDF {}/{}",
            c["cluster"].as_str().unwrap_or(""),
            pounds(&c["brokered_pence"]),
            c["members"],
            c["members_target"],
            c["sega_referrals"],
            c["sega_target"],
            c["sedf_referrals"],
            c["sedf_target"]
        );
    }
    println!(
        "  turnover growth: {} of {} reporting members at or above {}% (mean {})",
        v["turnover_growth_members_meeting_target"],
        v["turnover_growth_members_reporting"],
        v["turnover_growth_target_percent"],
        v["turnover_growth_mean_percent"]
    );
    println!(
        "  employees: {:+} across {} members; new products/services {}; new markets {}",
        v["employee_growth"].as_i64().unwrap_or(0),
        v["employees_members_reporting"],
        v["new_products_services"],
        v["new_markets"]
    );
    println!(
        "  social value: {} volunteering hours, {} clients supported, {} jobs created",
        v["volunteering_hours"], v["clients_supported"], v["jobs_created"]
    );
}
