//! Members, matches, consortia and award links on the command line.

use serde::Serialize;

use super::{LinksCommand, MembersCommand};
use sebroker_alerts::selection::member_matches;
use sebroker_connectors::members::{self, RowProblem};
use sebroker_engine::config::Config;
use sebroker_engine::search::parse_when;
use sebroker_engine::Engine;
use sebroker_index::Status;
use sebroker_matching::links::LinkStatus;
use sebroker_matching::Match;
use sebroker_model::exit;

#[derive(Serialize)]
struct ImportReport {
    imported: usize,
    rematched_notices: usize,
    errors: Vec<RowProblem>,
    warnings: Vec<RowProblem>,
}

pub fn members_cmd(config: &Config, cmd: MembersCommand) -> anyhow::Result<u8> {
    let app = Engine::open(config)?;
    match cmd {
        MembersCommand::Import {
            file,
            effective,
            json,
        } => {
            let effective = match effective.as_deref().map(sebroker_ledger::model::ymd::parse) {
                None => time::OffsetDateTime::now_utc().date(),
                Some(Ok(d)) => d,
                Some(Err(m)) => {
                    eprintln!("error: --effective: {m}");
                    return Ok(exit::USAGE);
                }
            };
            let parsed = {
                let places = app.places();
                members::parse_file(&file, &config.clusters, &places)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
            };
            let done = sebroker_engine::members::import(
                &app,
                &parsed.members,
                effective,
                "cli:members-import",
            )?;
            let report = ImportReport {
                imported: done.imported,
                rematched_notices: done.rematched_notices,
                errors: parsed.errors,
                warnings: parsed.warnings,
            };
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{} members imported; {} notices re-matched",
                    report.imported, report.rematched_notices
                );
                for e in &report.errors {
                    eprintln!(
                        "error: {} {}: {}",
                        e.at,
                        e.field.as_deref().unwrap_or(""),
                        e.message
                    );
                }
                for w in &report.warnings {
                    eprintln!(
                        "warning: {} {}: {}",
                        w.at,
                        w.field.as_deref().unwrap_or(""),
                        w.message
                    );
                }
            }
            Ok(match (report.errors.is_empty(), report.imported) {
                (true, _) => exit::OK,
                (false, 0) => exit::FAILED,
                (false, _) => exit::PARTIAL,
            })
        }
        MembersCommand::List { json } => {
            let list = app.store.members()?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                for m in list {
                    println!("{:<10} {:<16} {}", m.id, m.cluster, m.name);
                }
            }
            Ok(exit::OK)
        }
        MembersCommand::Show { id, json } => {
            let set = app.member_set();
            let Some(m) = set.members.get(&id) else {
                eprintln!("error: no member with id {id:?}");
                return Ok(exit::FAILED);
            };
            if json {
                println!("{}", serde_json::to_string(m)?);
            } else {
                println!(
                    "{} {} ({}, {})\n{}",
                    m.id,
                    m.name,
                    m.cluster,
                    m.legal_form.as_deref().unwrap_or("-"),
                    m.description
                );
                println!(
                    "CPV: {}\nareas: {}",
                    m.cpv.join(", "),
                    m.service_areas.join(", ")
                );
                for t in &m.track_record {
                    println!(
                        "  record: {} — {} ({:.2})",
                        t.title,
                        t.buyer.as_deref().unwrap_or("-"),
                        t.confidence
                    );
                }
            }
            Ok(exit::OK)
        }
    }
}

#[derive(Serialize)]
struct NoticeMatches {
    ocid: String,
    matches: Vec<Match>,
}

pub fn match_cmd(config: &Config, ocid: &str, top: usize, json: bool) -> anyhow::Result<u8> {
    let app = Engine::open(config)?;
    let Some((n, matches)) = app.matches.notice_matches(ocid, top)? else {
        eprintln!("error: no notice with ocid {ocid:?}");
        return Ok(exit::FAILED);
    };
    let set = app.member_set();
    let out = NoticeMatches {
        ocid: ocid.to_owned(),
        matches,
    };
    if json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!("{}\n{}", n.ocid, n.title);
        for m in &out.matches {
            let name = set
                .members
                .get(&m.member_id)
                .map_or("", |x| x.name.as_str());
            println!("\n{:.3}  {}  {}", m.score, m.member_id, name);
            for r in &m.reasons {
                println!("       - {r}");
            }
        }
    }
    Ok(exit::OK)
}

pub fn matches_cmd(
    config: &Config,
    member: &str,
    status: Option<String>,
    now: Option<String>,
    top: usize,
    json: bool,
) -> anyhow::Result<u8> {
    let app = Engine::open(config)?;
    if app.store.get_member(member)?.is_none() {
        eprintln!("error: no member with id {member:?}");
        return Ok(exit::FAILED);
    }
    let now = match now {
        Some(s) => parse_when("now", &s, false)?,
        None => time::OffsetDateTime::now_utc(),
    };
    let mut statuses = Vec::new();
    for s in status
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match Status::parse(s) {
            Some(st) => statuses.push(st),
            None => {
                eprintln!("error: --status {s:?} is not one of pipeline, planned, open, closed, awarded, cancelled");
                return Ok(exit::USAGE);
            }
        }
    }
    let list = member_matches(&app, member, &statuses, now, top)?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({ "member_id": member, "matches": list }))?
        );
    } else {
        for m in &list {
            println!(
                "{:.3}  {}  [{}]  {}",
                m.matched.score,
                m.ocid,
                m.status.as_str(),
                m.title
            );
            for r in &m.matched.reasons {
                println!("       - {r}");
            }
        }
    }
    Ok(exit::OK)
}

pub fn consortia_cmd(
    config: &Config,
    ocid: &str,
    max_size: usize,
    top: usize,
    json: bool,
) -> anyhow::Result<u8> {
    let app = Engine::open(config)?;
    let Some((n, p)) = app.matches.consortia(ocid, max_size, top)? else {
        eprintln!("error: no notice with ocid {ocid:?}");
        return Ok(exit::FAILED);
    };
    if json {
        println!("{}", serde_json::to_string(&p)?);
    } else {
        println!("{}\n{}", n.ocid, n.title);
        if let Some((id, s)) = &p.best_single {
            println!("best single member: {id} (coverage {s:.3})");
        }
        if p.consortia.is_empty() {
            println!("no consortium covers this notice better than the best single member");
        }
        for c in &p.consortia {
            println!(
                "\n{:.3}  {}  (lead {})",
                c.score,
                c.members.join(" + "),
                c.lead
            );
            for r in &c.reasons {
                println!("       - {r}");
            }
        }
    }
    Ok(exit::OK)
}

pub fn links_cmd(config: &Config, cmd: LinksCommand) -> anyhow::Result<u8> {
    let app = Engine::open(config)?;
    let (member, ocid, award, status) = match cmd {
        LinksCommand::List { member, json } => {
            let links: Vec<_> = app
                .store
                .links()?
                .into_iter()
                .filter(|l| member.as_ref().is_none_or(|m| *m == l.member_id))
                .collect();
            if json {
                println!("{}", serde_json::to_string(&links)?);
            } else {
                for l in links {
                    println!(
                        "{:?}  {}  {}  {}  {} ({}, {:.2})",
                        l.status, l.member_id, l.ocid, l.award_id, l.title, l.method, l.confidence
                    );
                }
            }
            return Ok(exit::OK);
        }
        LinksCommand::Confirm {
            member,
            ocid,
            award,
        } => (member, ocid, award, LinkStatus::Confirmed),
        LinksCommand::Reject {
            member,
            ocid,
            award,
        } => (member, ocid, award, LinkStatus::Rejected),
    };
    if sebroker_engine::members::decide_link(&app, &member, &ocid, &award, status)?.is_none() {
        eprintln!("error: no link of member {member:?} to award {award:?} of {ocid:?}");
        return Ok(exit::FAILED);
    }
    eprintln!("link {:?}", status);
    Ok(exit::OK)
}
