//! `sebroker sync` and `sebroker anchors import`.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use sebroker_connectors::sync::{RunRange, SyncEvent, SyncReport};

use sebroker_engine::config::Config;
use sebroker_engine::Engine;
use sebroker_model::exit;

fn parse_day(flag: &str, s: &str) -> Result<time::Date, String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &fmt)
        .map_err(|_| format!("--{flag} {s:?}: expected a date YYYY-MM-DD"))
}

pub fn sync_cmd(
    config: &Config,
    source: &str,
    from: Option<String>,
    to: Option<String>,
    now: Option<String>,
    json: bool,
) -> anyhow::Result<u8> {
    let sync = &config.sync;
    let specs = match source {
        "all" => {
            let mut v = vec![sync.fts.clone(), sync.cf.clone()];
            v.extend(sync.feeds.iter().cloned());
            v
        }
        name => match sync.spec(name) {
            Some(s) => vec![s.clone()],
            None => {
                eprintln!("error: source {name:?}: expected fts, cf, all or ocds:<name> of a feed in the configuration");
                return Ok(exit::USAGE);
            }
        },
    };
    let range = {
        let from = from.as_deref().map(|s| parse_day("from", s)).transpose();
        let to = to.as_deref().map(|s| parse_day("to", s)).transpose();
        match (from, to) {
            (Ok(from), Ok(to)) => {
                if let (Some(f), Some(t)) = (from, to) {
                    if f > t {
                        eprintln!("error: --from is after --to");
                        return Ok(exit::USAGE);
                    }
                }
                RunRange { from, to }
            }
            (Err(m), _) | (_, Err(m)) => {
                eprintln!("error: {m}");
                return Ok(exit::USAGE);
            }
        }
    };
    let now = match now {
        Some(s) => match sebroker_engine::search::parse_when("now", &s, false) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(exit::USAGE);
            }
        },
        None => time::OffsetDateTime::now_utc(),
    };
    let app = Arc::new(Engine::open(config)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut reports = Vec::new();
    let mut fatal = None;
    for spec in &specs {
        let bar = indicatif::ProgressBar::new(0);
        if !std::io::stderr().is_terminal() || json {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:>6} [{bar:30}] {pos}/{len} windows  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(spec.name.clone());
        let counters = std::sync::Mutex::new((0u64, 0u64, 0u64));
        let on_event = |e: &SyncEvent| {
            let mut c = counters.lock().unwrap_or_else(|e| e.into_inner());
            match e {
                SyncEvent::Planned { windows } => bar.set_length(*windows as u64),
                SyncEvent::WindowSplit { .. } => bar.inc_length(2),
                SyncEvent::WindowDone { .. }
                | SyncEvent::WindowFailed { .. }
                | SyncEvent::WindowStarted { .. } => {
                    if !matches!(e, SyncEvent::WindowStarted { .. }) {
                        bar.inc(1);
                    }
                }
                SyncEvent::Page { releases, .. } => {
                    c.0 += 1;
                    c.1 += *releases as u64;
                }
                SyncEvent::Waiting {
                    wait,
                    rate_limit,
                    reason,
                } => {
                    if *rate_limit {
                        c.2 += 1;
                    }
                    bar.set_message(format!("waiting {:.0?} ({reason})", wait));
                    return;
                }
            }
            bar.set_message(format!(
                "{} pages, {} releases, {} rate-limit waits",
                c.0, c.1, c.2
            ));
        };
        let result = rt.block_on(sebroker_engine::sources::run_once(
            app.clone(),
            spec,
            &sync.settings,
            range,
            now,
            &on_event,
        ));
        bar.finish_and_clear();
        match result {
            Ok(r) => reports.push(r),
            Err(e) => {
                fatal = Some(format!("{}: {e}", spec.name));
                break;
            }
        }
    }
    // What the sources brought is grouped and matched before the command ends.
    app.follow()?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "sources": reports, "error": fatal })
        );
    } else {
        for r in &reports {
            summary(r);
        }
        if let Some(e) = &fatal {
            eprintln!("error: {e}");
        }
    }
    if fatal.is_some() {
        return Ok(exit::FAILED);
    }
    let outcomes: Vec<&str> = reports.iter().map(SyncReport::outcome).collect();
    Ok(if outcomes.iter().all(|o| *o == "ok") {
        exit::OK
    } else if outcomes.iter().all(|o| *o == "failed") {
        exit::FAILED
    } else {
        exit::PARTIAL
    })
}

fn summary(r: &SyncReport) {
    println!(
        "{}: {} — {} windows ({} completed, {} failed, {} split, {} resumed), {} pages, {} releases read: {} new, {} duplicate, {} replaced; notices {} created, {} updated",
        r.source, r.outcome(), r.windows_planned, r.windows_completed, r.windows_failed, r.windows_split, r.windows_resumed,
        r.pages, r.releases_read, r.releases_new, r.releases_duplicate, r.releases_replaced, r.notices_created, r.notices_updated
    );
    if r.retries > 0 {
        println!(
            "  {} retries, {} rate-limit waits, {:.1} s waited",
            r.retries,
            r.rate_limit_waits,
            r.waited_ms as f64 / 1000.0
        );
    }
    if r.pages_lossy_utf8 > 0 {
        println!(
            "  {} pages had invalid UTF-8 (replaced with U+FFFD)",
            r.pages_lossy_utf8
        );
    }
    for f in &r.failed_windows {
        eprintln!(
            "  failed window {} ({} runs): {} — retried on the next run",
            f.window, f.failures, f.error
        );
    }
    for e in r.errors.iter().take(20) {
        eprintln!("  error: {e}");
    }
    if let Some(a) = &r.aborted {
        eprintln!("  stopped: {a}");
    }
}

pub fn anchors_import_cmd(
    config: &Config,
    file: &Path,
    anchor: &str,
    json: bool,
) -> anyhow::Result<u8> {
    if let Err(m) = sebroker_connectors::anchors::check_slug(anchor) {
        eprintln!("error: --anchor: {m}");
        return Ok(exit::USAGE);
    }
    let bytes = sebroker_connectors::json::read_bounded(
        file,
        sebroker_connectors::ocds::read::MAX_FILE_BYTES,
    )
    .with_context(|| format!("cannot read {}", file.display()))?;
    let app = Engine::open(config)?;
    let report = match sebroker_engine::anchors::import_file(&app, anchor, &bytes) {
        Ok(r) => r,
        Err(sebroker_engine::Error::Invalid(m)) => {
            eprintln!("error: {}: {m}", file.display());
            return Ok(exit::FAILED);
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "anchor:{}: {} rows read, {} imported ({} notices created, {} updated), {} errors",
            report.anchor,
            report.rows_read,
            report.rows_imported,
            report.notices_created,
            report.notices_updated,
            report.errors.len()
        );
        for e in &report.errors {
            eprintln!("  {}: {e}", file.display());
        }
    }
    Ok(report.exit_code())
}
