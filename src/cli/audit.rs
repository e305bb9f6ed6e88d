//! `sebroker audit`: the audit log (through the API's `GET /api/v1/audit`,
//! in-process or over HTTP beside `serve`), and which commands are writes
//! the command line records in it (those that do not go through the API;
//! the ones that do are recorded by the server's middleware).

use axum::http::Method;

use super::ledger::{print, request, Remote};
use super::{AlertsCommand, Command, LinksCommand, MembersCommand};
use sebroker_engine::config::Config;

/// The audit kind of a command that writes outside the API, if it is one.
pub fn write_kind(c: &Command) -> Option<&'static str> {
    Some(match c {
        Command::Ingest { .. } => "ingest",
        Command::Reindex => "reindex",
        Command::Reference { .. } => "reference import",
        Command::Members {
            command: MembersCommand::Import { .. },
        } => "members import",
        Command::Links {
            command: LinksCommand::Confirm { .. },
        } => "links confirm",
        Command::Links {
            command: LinksCommand::Reject { .. },
        } => "links reject",
        Command::Sync { .. } => "sync",
        Command::Alerts {
            command: AlertsCommand::Run { .. },
        } => "alerts run",
        Command::Alerts {
            command: AlertsCommand::Settings { .. },
        } => "alerts settings",
        Command::Anchors { .. } => "anchors import",
        Command::Backup { .. } => "backup",
        Command::Restore { .. } => "restore",
        Command::Ledger { .. } => "ledger init",
        Command::Compact { .. } => "compact",
        _ => return None,
    })
}

/// Records a command-line write (after it ran) with its exit code; a
/// failure to record is a warning, the command's own outcome stands.
pub fn record(config: &Config, kind: &str, code: u8) {
    match sebroker_engine::audit::record_cli(&config.data_dir, kind, code) {
        Ok(_) => {}
        Err(e) => eprintln!("warning: the audit log did not record `{kind}`: {e}"),
    }
}

/// `sebroker audit [--since] [--actor] [--kind] [--json|--csv]`.
pub fn audit_cmd(
    config: &Config,
    remote: &Remote,
    filters: [(&str, Option<&str>); 3],
    json: bool,
    csv: bool,
) -> anyhow::Result<u8> {
    let mut q: Vec<String> = filters
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", sebroker_server::principal::urlencode(v))))
        .collect();
    q.push("limit=1000".into());
    if csv {
        q.push("format=csv".into());
    }
    let path = format!("/api/v1/audit?{}", q.join("&"));
    let a = request(config, remote, Method::GET, &path, None, None)?;
    if csv && a.ok() {
        print!("{}", a.body);
        return Ok(sebroker_model::exit::OK);
    }
    Ok(print(&a, json, |v| {
        for e in v["entries"].as_array().into_iter().flatten() {
            println!(
                "{:>6} {} {} {} from {} → {}{}",
                e["id"],
                e["at"].as_str().unwrap_or(""),
                e["actor"].as_str().unwrap_or(""),
                e["kind"].as_str().unwrap_or(""),
                e["from"].as_str().unwrap_or(""),
                e["status"],
                e["idempotency_key"]
                    .as_str()
                    .map(|k| format!(" (key {k})"))
                    .unwrap_or_default()
            );
        }
    }))
}
