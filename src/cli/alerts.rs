//! `sebroker alerts run | deliveries | settings`.

use std::sync::Arc;

use serde::Serialize;

use super::AlertsCommand;
use sebroker_alerts::deliver::{deliver_due, DeliverReport};
use sebroker_alerts::log::DeliveryState;
use sebroker_alerts::settings::SettingsInput;
use sebroker_alerts::{self as alerts, RunOptions, RunReport, Scope};
use sebroker_engine::config::Config;
use sebroker_engine::search::parse_when;
use sebroker_engine::Engine;
use sebroker_model::exit;

#[derive(Serialize)]
struct RunOutput {
    #[serde(flatten)]
    run: RunReport,
    delivery: DeliverReport,
}

pub fn alerts_cmd(config: &Config, command: AlertsCommand) -> anyhow::Result<u8> {
    match command {
        AlertsCommand::Run { dry_run, now, json } => run_cmd(config, dry_run, now, json),
        AlertsCommand::Deliveries { state, json } => deliveries_cmd(config, state, json),
        AlertsCommand::Settings {
            member,
            frequency,
            threshold,
            email,
            webhook_url,
            feed,
            json,
        } => {
            let clear = |v: Option<String>| v.map(|s| Some(s).filter(|s| !s.trim().is_empty()));
            let input = SettingsInput {
                frequency,
                threshold,
                early_signals: None,
                email: clear(email),
                webhook_url: clear(webhook_url),
                rotate_webhook_secret: false,
                feed,
                rotate_feed_token: false,
            };
            settings_cmd(config, &member, input, json)
        }
    }
}

fn open(config: &Config) -> anyhow::Result<Engine> {
    Ok(Engine::open(config)?)
}

fn run_cmd(config: &Config, dry_run: bool, now: Option<String>, json: bool) -> anyhow::Result<u8> {
    let now = match now.as_deref().map(|s| parse_when("now", s, false)) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
        None => time::OffsetDateTime::now_utc(),
    };
    let app = Arc::new(open(config)?);
    let run = alerts::run(
        app.as_ref(),
        &RunOptions {
            now,
            dry_run,
            scope: Scope::All,
        },
    )?;
    let delivery = if dry_run {
        DeliverReport::default()
    } else {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(deliver_due(app.clone()))?
    };
    let code = delivery.exit_code();
    if json {
        println!("{}", serde_json::to_string(&RunOutput { run, delivery })?);
        return Ok(code);
    }
    println!(
        "{}{} alert(s) for {} recipient(s) considered ({} digest(s) due): {} new notice(s), {} update(s), {} deliveries queued",
        if dry_run { "dry run: " } else { "" },
        run.alerts.len(),
        run.recipients_considered,
        run.digests_due,
        run.items_new,
        run.items_updates,
        run.deliveries_queued
    );
    for a in &run.alerts {
        println!(
            "  {} {} {} item(s) → {}",
            a.recipient,
            a.kind.as_str(),
            a.items,
            if a.channels.is_empty() {
                "-".to_owned()
            } else {
                a.channels.join(", ")
            }
        );
    }
    for a in &run.preview {
        for i in &a.items {
            println!(
                "    {} [{}] {:.2} {}",
                a.recipient,
                i.kind,
                i.score.unwrap_or(0.0),
                i.title
            );
        }
    }
    if delivery.attempted > 0 {
        println!(
            "deliveries: {} attempted, {} sent, {} failed (will retry), {} dead",
            delivery.attempted, delivery.sent, delivery.failed, delivery.dead
        );
        for d in delivery.deliveries.iter().filter(|d| d.error.is_some()) {
            eprintln!(
                "  {} {} {}: {}",
                d.id,
                d.channel.as_str(),
                d.state.as_str(),
                d.error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(code)
}

fn deliveries_cmd(config: &Config, state: Option<String>, json: bool) -> anyhow::Result<u8> {
    let filter = match state.as_deref() {
        Some(s) => match DeliveryState::parse(s) {
            Some(st) => Some(st),
            None => {
                eprintln!("error: --state {s:?}: expected queued, sending, sent, failed or dead");
                return Ok(exit::USAGE);
            }
        },
        None => None,
    };
    let app = open(config)?;
    let list: Vec<_> = app
        .alert_log()
        .deliveries()?
        .into_iter()
        .filter(|d| filter.is_none_or(|f| d.state == f))
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({ "deliveries": list }))?
        );
        return Ok(exit::OK);
    }
    for d in &list {
        println!(
            "{} {} {:<8} {:<7} attempts {} {}",
            d.id,
            d.recipient,
            d.channel.as_str(),
            d.state.as_str(),
            d.attempts,
            d.last_error.as_deref().unwrap_or("")
        );
    }
    Ok(exit::OK)
}

fn settings_cmd(
    config: &Config,
    member: &str,
    input: SettingsInput,
    json: bool,
) -> anyhow::Result<u8> {
    let app = open(config)?;
    let now = time::OffsetDateTime::now_utc();
    let s = match alerts::put_settings(&app, member, input, now) {
        Ok(s) => s,
        Err(e @ (sebroker_alerts::Error::Invalid(_) | sebroker_alerts::Error::NotFound(_))) => {
            eprintln!("error: {e}");
            return Ok(if matches!(e, sebroker_alerts::Error::NotFound(_)) {
                exit::FAILED
            } else {
                exit::USAGE
            });
        }
        Err(e) => return Err(e.into()),
    };
    let view = alerts::settings_view(&app.config.alerts, &s, true);
    if json {
        println!("{}", serde_json::to_string(&view)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&view)?);
    }
    Ok(exit::OK)
}
