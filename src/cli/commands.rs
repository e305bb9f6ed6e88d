//! What each subcommand does.

use std::io::IsTerminal;

use anyhow::Context;
use serde::Serialize;

use sebroker_connectors::cpv::CpvTable;
use sebroker_connectors::places::{self, Places};

use super::{
    output, AnchorsCommand, Cli, Command, ReferenceCommand, ReferenceKind, SearchArgs, SourceUrls,
};
use sebroker_engine::config::{Config, FileConfig, Flags};
use sebroker_engine::ingest::{self, IngestOptions};
use sebroker_engine::search::{self, SearchParams};
use sebroker_engine::Engine;
use sebroker_engine::Error;
use sebroker_model::exit;

pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let file = FileConfig::load(cli.config.as_deref())?;
    let addr_flag = match &cli.command {
        Command::Serve { addr, .. } => addr.clone(),
        _ => None,
    };
    let (urls, interval) = match &cli.command {
        Command::Serve {
            urls,
            sync_interval,
            ..
        } => (urls.clone(), *sync_interval),
        Command::Sync { urls, .. } => (urls.clone(), None),
        _ => (SourceUrls::default(), None),
    };
    let flags = Flags {
        data_dir: cli.data_dir.clone(),
        addr: addr_flag,
        public_url: cli.public_url.clone(),
        fts_url: urls.fts_url,
        cf_url: urls.cf_url,
        sync_interval_minutes: interval,
        admin_token: std::env::var("SEBROKER_ADMIN_TOKEN").ok(),
    };
    // The one configuration every command opens the engine with.
    let config = match Config::resolve(file, flags) {
        Ok(c) => c,
        Err(e @ Error::Config(_)) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
        Err(e) => return Err(e.into()),
    };
    let remote = super::ledger::Remote {
        server: cli.server.clone(),
        key: cli.key.clone(),
    };
    let audited = super::audit::write_kind(&cli.command);
    let result = dispatch(cli.command, config.clone(), remote);
    if let Some(kind) = audited {
        let code = result.as_ref().map_or(exit::FAILED, |c| *c);
        super::audit::record(&config, kind, code);
    }
    result
}

/// Runs one command.
fn dispatch(command: Command, config: Config, remote: super::ledger::Remote) -> anyhow::Result<u8> {
    match command {
        Command::Compact { json } => {
            let c = sebroker_engine::erase::compact_store(&config.data_dir)?;
            if json {
                println!("{}", serde_json::to_string(&c)?);
            } else {
                eprintln!(
                    "compacted the store: {} trees, {} entries, {:.1} MiB -> {:.1} MiB",
                    c.trees,
                    c.entries,
                    c.bytes_before as f64 / 1048576.0,
                    c.bytes_after as f64 / 1048576.0
                );
            }
            Ok(exit::OK)
        }
        Command::Audit {
            since,
            actor,
            kind,
            json,
            csv,
        } => super::audit::audit_cmd(
            &config,
            &remote,
            [
                ("since", since.as_deref()),
                ("actor", actor.as_deref()),
                ("kind", kind.as_deref()),
            ],
            json,
            csv,
        ),
        Command::Market {
            by,
            now,
            from,
            to,
            cpv,
            source,
            json,
            csv,
        } => {
            let a = super::market::MarketArgs {
                by: &by,
                now: now.as_deref(),
                from: from.as_deref(),
                to: to.as_deref(),
                cpv: cpv.as_deref(),
                source: source.as_deref(),
            };
            super::market::market_cmd(&config, &remote, &a, json, csv)
        }
        Command::Keys { command } => super::ledger_cmd::keys(&config, &remote, command),
        Command::Cases { command } => super::ledger_cmd::cases(&config, &remote, command),
        Command::Referrals { command } => super::ledger_cmd::referrals(&config, &remote, command),
        Command::Returns { command } => super::ledger_cmd::returns(&config, &remote, command),
        Command::Totals { by, json, csv } => {
            super::ledger_cmd::totals(&config, &remote, &by, json, csv)
        }
        Command::Kpis { today, json } => {
            super::ledger_cmd::kpis(&config, &remote, today.as_deref(), json)
        }
        Command::Reconcile { json } => super::ledger_cmd::reconcile(&config, &remote, json),
        Command::Backup { out, json } => super::ledger_cmd::backup(&config, out, json),
        Command::Restore { file, force, json } => {
            super::ledger_cmd::restore(&config, &file, force, json)
        }
        Command::Verify { json } => super::ledger_cmd::verify(&config, json),
        Command::Ledger { command } => super::ledger_cmd::ledger(&config, command),
        Command::Serve { demo, no_sync, .. } => sebroker_server::serve::run(&config, demo, no_sync),
        Command::Sync {
            source,
            from,
            to,
            now,
            json,
            ..
        } => super::sync::sync_cmd(&config, &source, from, to, now, json),
        Command::Alerts { command } => super::alerts::alerts_cmd(&config, command),
        Command::Anchors {
            command: AnchorsCommand::Import { file, anchor, json },
        } => super::sync::anchors_import_cmd(&config, &file, &anchor, json),
        Command::Ingest {
            paths,
            source,
            json,
        } => ingest_cmd(&config, &paths, source, json),
        Command::Search(args) => search_cmd(&config, args),
        Command::Notice { ocid, json } => notice_cmd(&config, &ocid, json),
        Command::Stats { now, json } => stats_cmd(&config, &remote, now, json),
        Command::Reindex => {
            let app = Engine::open(&config)?;
            let n = app.writer.reindex()?;
            eprintln!("reindexed {n} notices");
            Ok(exit::OK)
        }
        Command::Members { command } => super::matching::members_cmd(&config, command),
        Command::Match { ocid, top, json } => super::matching::match_cmd(&config, &ocid, top, json),
        Command::Matches {
            member,
            status,
            now,
            top,
            json,
        } => super::matching::matches_cmd(&config, &member, status, now, top, json),
        Command::Consortia {
            ocid,
            max_size,
            top,
            json,
        } => super::matching::consortia_cmd(&config, &ocid, max_size, top, json),
        Command::Links { command } => super::matching::links_cmd(&config, command),
        Command::Evaluate {
            train,
            test,
            k,
            postcodes,
            fit,
            out,
            trees,
            json,
        } => {
            let places = super::output::evaluation_places(&config, postcodes.as_deref())?;
            match (fit, out) {
                (true, Some(out)) => {
                    super::output::fit_model(&train, &test, (&out, trees), json, &places)
                }
                _ => super::output::evaluation(
                    &train,
                    &test,
                    k,
                    json,
                    (config.weights, trees),
                    &places,
                ),
            }
        }
        Command::Reference {
            command: ReferenceCommand::Import { kind, file, json },
        } => reference_cmd(&config, kind, &file, json),
    }
}

fn ingest_cmd(
    config: &Config,
    paths: &[std::path::PathBuf],
    source: Option<String>,
    json: bool,
) -> anyhow::Result<u8> {
    if let Some(s) = &source {
        if !sebroker_connectors::source::is_valid_source(s) || !s.contains(':') {
            eprintln!(
                "error: --source {s:?}: expected anchor:<slug> or ocds:<name> (lower-case slug)"
            );
            return Ok(exit::USAGE);
        }
    }
    let app = Engine::open(config)?;
    let mut skipped = Vec::new();
    let files = ingest::collect_files(paths, &mut skipped)?;
    let bar = indicatif::ProgressBar::new(files.len() as u64);
    if !std::io::stderr().is_terminal() || files.len() < 2 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut report =
        ingest::ingest_files(&app, &files, &IngestOptions { source }, &mut |done, _| {
            bar.set_position(done as u64)
        })?;
    bar.finish_and_clear();
    report.files_skipped = skipped.len() as u64;
    report.skipped = skipped;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        output::ingest_summary(&report);
    }
    Ok(report.exit_code())
}

fn search_cmd(config: &Config, a: Box<SearchArgs>) -> anyhow::Result<u8> {
    let params = SearchParams {
        q: Some(a.query),
        status: a.status,
        cpv: a.cpv,
        region: a.region,
        min_value: a.min_value,
        max_value: a.max_value,
        min_social_value: a.min_social_value,
        vcse: Some(a.vcse),
        sme: Some(a.sme),
        reserved: Some(a.reserved),
        source: a.source,
        notice_type: a.notice_type,
        buyer: a.buyer,
        deadline_from: a.deadline_from,
        deadline_to: a.deadline_to,
        sort: a.sort,
        now: a.now,
        limit: Some(a.limit),
        offset: Some(a.offset),
        facets: Some(!a.no_facets),
        snippets: Some(!a.json && !a.no_snippets),
        group: Some(!a.ungrouped),
    };
    let app = Engine::open(config)?;
    let page = match search::search(&app, &params) {
        Ok(p) => p,
        Err(Error::Invalid(m)) => {
            eprintln!("error: {m}");
            return Ok(exit::USAGE);
        }
        Err(e) => return Err(e.into()),
    };
    if a.json {
        println!("{}", serde_json::to_string(&page)?);
    } else {
        output::search_page(&page);
    }
    Ok(exit::OK)
}

fn notice_cmd(config: &Config, ocid: &str, json: bool) -> anyhow::Result<u8> {
    let app = Engine::open(config)?;
    let Some(n) = app.store.get_notice(ocid)? else {
        eprintln!(
            "error: no notice with ocid {ocid:?} in {}",
            config.data_dir.display()
        );
        return Ok(exit::FAILED);
    };
    if json {
        println!("{}", serde_json::to_string(&n)?);
    } else {
        output::notice(&n, &app.places());
    }
    Ok(exit::OK)
}

fn stats_cmd(
    config: &Config,
    remote: &super::ledger::Remote,
    now: Option<String>,
    json: bool,
) -> anyhow::Result<u8> {
    let app = match Engine::open(config) {
        Ok(app) => app,
        Err(Error::Locked { .. }) if remote.key.is_some() || remote.server.is_some() => {
            // `serve` holds the folder: ask it.
            let path = match &now {
                Some(n) => format!("/api/v1/stats?now={n}"),
                None => "/api/v1/stats".into(),
            };
            let a =
                super::ledger::request(config, remote, axum::http::Method::GET, &path, None, None)?;
            return Ok(super::ledger::print(&a, json, print_stats));
        }
        Err(e) => return Err(e.into()),
    };
    let now = match now {
        Some(s) => search::parse_when("now", &s, false)?,
        None => time::OffsetDateTime::now_utc(),
    };
    let s = sebroker_engine::views::stats(&app, now)?;
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        print_stats(&serde_json::to_value(&s)?);
    }
    Ok(exit::OK)
}

fn print_stats(s: &serde_json::Value) {
    println!("notices   {}\nreleases  {}", s["notices"], s["releases"]);
    for (k, v) in s["by_source"].as_object().into_iter().flatten() {
        println!("  source {k:<16} {v}");
    }
    for (k, v) in s["by_status"].as_object().into_iter().flatten() {
        println!("  status {k:<16} {v}");
    }
    println!(
        "CPV descriptions {}\nindex: {} documents, {} bytes",
        s["cpv_descriptions"], s["index_docs"], s["index_bytes"]
    );
    if !s["ledger_events"].is_null() {
        println!(
            "ledger: {} events, brokered {}",
            s["ledger_events"],
            super::ledger::pounds(&s["brokered_total_pence"])
        );
    }
}

#[derive(Serialize)]
struct ReferenceReport {
    kind: &'static str,
    entries: usize,
    new: usize,
    errors: Vec<ingest::IngestError>,
}

fn reference_cmd(
    config: &Config,
    kind: ReferenceKind,
    file: &std::path::Path,
    json: bool,
) -> anyhow::Result<u8> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let app = Engine::open(config)?;
    let name = file.display().to_string();
    let to_errors = |bad: Vec<sebroker_connectors::error::RowError>| -> Vec<ingest::IngestError> {
        bad.into_iter()
            .map(|e| ingest::IngestError {
                file: name.clone(),
                position: e.line,
                message: format!("line {}: {}", e.line, e.message),
            })
            .collect()
    };
    let report = match kind {
        ReferenceKind::Cpv => {
            let (entries, bad) = CpvTable::parse_csv(f);
            let new = app.store.put_cpv(&entries, true)?;
            ReferenceReport {
                kind: "cpv",
                entries: entries.len(),
                new,
                errors: to_errors(bad),
            }
        }
        ReferenceKind::Places => {
            let builtin = Places::builtin();
            let region = |s: &str| {
                builtin
                    .resolve_code(s)
                    .filter(|c| places::nuts_code(c).is_some())
            };
            let (entries, bad) =
                places::parse_places_csv(f, &region).map_err(|m| anyhow::anyhow!("{name}: {m}"))?;
            let new = app.store.put_place_entries(&entries)?;
            ReferenceReport {
                kind: "places",
                entries: entries.len(),
                new,
                errors: to_errors(bad),
            }
        }
    };
    app.store.flush()?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        eprintln!(
            "{}: {} entries read, {} new, {} rows with errors",
            report.kind,
            report.entries,
            report.new,
            report.errors.len()
        );
        for e in report.errors.iter().take(20) {
            eprintln!("  {}: {}", e.file, e.message);
        }
    }
    Ok(match (report.errors.is_empty(), report.entries) {
        (true, _) => exit::OK,
        (false, 0) => exit::FAILED,
        (false, _) => exit::PARTIAL,
    })
}
