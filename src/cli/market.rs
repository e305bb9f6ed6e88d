//! `sebroker market --by local_authority [--now DATE] [--json|--csv]`: the
//! market map through the API's `GET /api/v1/market` (in-process, or over
//! HTTP beside `serve`), so the command and the API answer alike.

use axum::http::Method;

use super::ledger::{pounds, print, request, Remote};
use sebroker_engine::config::Config;

/// The command's options, as the API's query.
pub struct MarketArgs<'a> {
    pub by: &'a str,
    pub now: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub cpv: Option<&'a str>,
    pub source: Option<&'a str>,
}

pub fn market_cmd(
    config: &Config,
    remote: &Remote,
    a: &MarketArgs,
    json: bool,
    csv: bool,
) -> anyhow::Result<u8> {
    let enc = sebroker_server::principal::urlencode;
    let mut q = vec![format!("by={}", enc(a.by))];
    for (k, v) in [
        ("now", a.now),
        ("from", a.from),
        ("to", a.to),
        ("cpv", a.cpv),
        ("source", a.source),
    ] {
        if let Some(v) = v {
            q.push(format!("{k}={}", enc(v)));
        }
    }
    if csv {
        q.push("format=csv".into());
    }
    let answer = request(
        config,
        remote,
        Method::GET,
        &format!("/api/v1/market?{}", q.join("&")),
        None,
        None,
    )?;
    if csv && answer.ok() {
        print!("{}", answer.body);
        return Ok(sebroker_model::exit::OK);
    }
    Ok(print(&answer, json, |v| {
        println!(
            "{:<10} {:<44} {:>6} {:>16} {:>16} {:>8} {:>8}  gaps",
            "key", "name", "open", "open value", "VCSE-suitable", "members", "matched"
        );
        for r in v["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&v["total"]))
        {
            let gaps: Vec<&str> = r["gaps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g.as_str())
                .take(3)
                .collect();
            println!(
                "{:<10} {:<44} {:>6} {:>16} {:>16} {:>8} {:>8}  {}",
                r["key"].as_str().unwrap_or(""),
                r["name"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(44)
                    .collect::<String>(),
                r["open_notices"],
                pounds(&r["open_value_pence"]),
                pounds(&r["vcse_suitable_open_value_pence"]),
                r["members"],
                r["matched_members"],
                gaps.join(" ")
            );
        }
    }))
}
