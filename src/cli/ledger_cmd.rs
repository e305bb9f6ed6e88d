//! What the ledger and key subcommands do (see [`super::ledger`] for how
//! they reach the API).

use axum::http::Method;
use serde_json::json;

use super::ledger::{fresh_key, print, print_case, print_kpis, print_totals, request, Remote};
use super::{CasesCommand, KeysCommand, LedgerCommand, ReferralsCommand, ReturnsCommand};
use sebroker_engine::config::Config;
use sebroker_model::exit;

/// Query-string encoding of one value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn qs(pairs: &[(&str, Option<&str>)]) -> String {
    let v: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", enc(v))))
        .collect();
    if v.is_empty() {
        String::new()
    } else {
        format!("?{}", v.join("&"))
    }
}

pub fn keys(config: &Config, remote: &Remote, cmd: KeysCommand) -> anyhow::Result<u8> {
    match cmd {
        KeysCommand::Create {
            role,
            member,
            name,
            expires,
            json,
        } => {
            if sebroker_ledger::auth::Role::parse(&role).is_none() {
                eprintln!("error: --role {role:?} is not one of admin, broker, funder, member");
                return Ok(exit::USAGE);
            }
            let body =
                json!({ "role": role, "member_id": member, "name": name, "expires": expires });
            let a = request(
                config,
                remote,
                Method::POST,
                "/api/v1/keys",
                Some(body),
                None,
            )?;
            Ok(print(&a, json, |v| {
                eprintln!(
                    "created {} key {} ({}); store it now, it is not shown again:",
                    v["role"].as_str().unwrap_or(""),
                    v["id"].as_str().unwrap_or(""),
                    v["name"].as_str().unwrap_or("")
                );
                println!("{}", v["key"].as_str().unwrap_or(""));
            }))
        }
        KeysCommand::List { json } => {
            let a = request(
                config,
                remote,
                Method::GET,
                "/api/v1/keys?limit=1000",
                None,
                None,
            )?;
            Ok(print(&a, json, |v| {
                for k in v["keys"].as_array().into_iter().flatten() {
                    println!(
                        "{}  {:<7} {:<10} {}{}",
                        k["id"].as_str().unwrap_or(""),
                        k["role"].as_str().unwrap_or(""),
                        k["member_id"].as_str().unwrap_or("-"),
                        k["name"].as_str().unwrap_or(""),
                        if k["revoked_at"].is_null() {
                            ""
                        } else {
                            "  (revoked)"
                        }
                    );
                }
            }))
        }
        KeysCommand::Revoke { id } => {
            let a = request(
                config,
                remote,
                Method::POST,
                &format!("/api/v1/keys/{}/revoke", enc(&id)),
                None,
                None,
            )?;
            Ok(print(&a, false, |_| eprintln!("key {id} revoked")))
        }
    }
}

pub fn cases(config: &Config, remote: &Remote, cmd: CasesCommand) -> anyhow::Result<u8> {
    match cmd {
        CasesCommand::Open {
            ocid,
            members,
            lead,
            notes,
            date,
            idempotency_key,
            json,
        } => {
            let body = json!({ "ocid": ocid, "members": members, "lead": lead, "notes": notes, "date": date });
            let key = idempotency_key.unwrap_or_else(fresh_key);
            let a = request(
                config,
                remote,
                Method::POST,
                "/api/v1/cases",
                Some(body),
                Some(&key),
            )?;
            Ok(print(&a, json, |v| {
                print_case(&v["case"]);
                if v["replayed"] == true {
                    eprintln!("(already recorded with this idempotency key; nothing booked twice)");
                }
            }))
        }
        CasesCommand::List {
            status,
            member,
            json,
        } => {
            let path = format!(
                "/api/v1/cases{}",
                qs(&[
                    ("status", status.as_deref()),
                    ("member", member.as_deref()),
                    ("limit", Some("1000"))
                ])
            );
            let a = request(config, remote, Method::GET, &path, None, None)?;
            Ok(print(&a, json, |v| {
                for c in v["cases"].as_array().into_iter().flatten() {
                    print_case(c);
                }
            }))
        }
        CasesCommand::Show { id, json } => {
            let a = request(
                config,
                remote,
                Method::GET,
                &format!("/api/v1/cases/{}", enc(&id)),
                None,
                None,
            )?;
            Ok(print(&a, json, |c| {
                print_case(c);
                for e in c["events"].as_array().into_iter().flatten() {
                    println!(
                        "    #{:<5} {}  {:<15} {}{}{}",
                        e["seq"],
                        e["date"].as_str().unwrap_or(""),
                        e["status"].as_str().or(e["type"].as_str()).unwrap_or(""),
                        e["notes"].as_str().unwrap_or(""),
                        if e["value_pence"].is_null() {
                            String::new()
                        } else {
                            format!(" {}", super::ledger::pounds(&e["value_pence"]))
                        },
                        if e["voided_by"].is_null() {
                            String::new()
                        } else {
                            format!("  (voided by #{})", e["voided_by"])
                        }
                    );
                }
            }))
        }
        CasesCommand::Event {
            id,
            kind,
            value_pence,
            shares,
            voids,
            notes,
            date,
            idempotency_key,
            json,
        } => {
            let mut parsed = Vec::new();
            for s in &shares {
                let Some((m, bp)) = s.split_once('=') else {
                    eprintln!(
                        "error: --share {s:?}: expected MEMBER=BASIS_POINTS, e.g. m-0001=6000"
                    );
                    return Ok(exit::USAGE);
                };
                let Ok(bp) = bp.trim().parse::<u32>() else {
                    eprintln!("error: --share {s:?}: {bp:?} is not a whole number of basis points");
                    return Ok(exit::USAGE);
                };
                parsed.push(json!({ "member_id": m.trim(), "basis_points": bp }));
            }
            let mut body = json!({ "type": kind, "notes": notes, "date": date });
            if let Some(v) = value_pence {
                body["value_pence"] = v.into();
            }
            if !parsed.is_empty() {
                body["shares"] = parsed.into();
            }
            if let Some(v) = voids {
                body["voids_seq"] = v.into();
            }
            let key = idempotency_key.unwrap_or_else(fresh_key);
            let a = request(
                config,
                remote,
                Method::POST,
                &format!("/api/v1/cases/{}/events", enc(&id)),
                Some(body),
                Some(&key),
            )?;
            Ok(print(&a, json, |v| {
                eprintln!("recorded event {}", v["seq"]);
                print_case(&v["case"]);
            }))
        }
    }
}

pub fn referrals(config: &Config, remote: &Remote, cmd: ReferralsCommand) -> anyhow::Result<u8> {
    match cmd {
        ReferralsCommand::Add {
            member,
            programme,
            date,
            notes,
            idempotency_key,
            json,
        } => {
            let body = json!({ "member_id": member, "programme": programme, "date": date, "notes": notes });
            let key = idempotency_key.unwrap_or_else(fresh_key);
            let a = request(
                config,
                remote,
                Method::POST,
                "/api/v1/referrals",
                Some(body),
                Some(&key),
            )?;
            Ok(print(&a, json, |v| {
                eprintln!("referral recorded (event {})", v["event"]["seq"]);
            }))
        }
        ReferralsCommand::List { member, json } => {
            let path = format!(
                "/api/v1/referrals{}",
                qs(&[("member", member.as_deref()), ("limit", Some("1000"))])
            );
            let a = request(config, remote, Method::GET, &path, None, None)?;
            Ok(print(&a, json, |v| {
                for r in v["referrals"].as_array().into_iter().flatten() {
                    println!(
                        "#{:<5} {}  {}  {} ({})",
                        r["seq"],
                        r["date"].as_str().unwrap_or(""),
                        r["programme"].as_str().unwrap_or(""),
                        r["member_id"].as_str().unwrap_or(""),
                        r["cluster"].as_str().unwrap_or("")
                    );
                }
            }))
        }
    }
}

pub fn returns(config: &Config, remote: &Remote, cmd: ReturnsCommand) -> anyhow::Result<u8> {
    match cmd {
        ReturnsCommand::Import { file, json } => {
            let bytes = sebroker_connectors::json::read_bounded(
                &file,
                sebroker_connectors::ocds::read::MAX_FILE_BYTES,
            )
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let text = sebroker_connectors::json::decode(&bytes).text;
            let (mut ok, mut errors) = (0u64, Vec::new());
            for (line, row) in sebroker_ledger::input::returns_csv(&text) {
                let (member, input) = match row {
                    Ok(r) => r,
                    Err(m) => {
                        errors.push(json!({ "line": line, "message": m }));
                        continue;
                    }
                };
                let body = json!({
                    "year": input.year, "turnover_pence": input.turnover_pence, "employees": input.employees,
                    "new_products_services": input.new_products_services, "new_markets": input.new_markets,
                    "volunteering_hours": input.volunteering_hours, "clients_supported": input.clients_supported,
                    "jobs_created": input.jobs_created, "date": input.date, "notes": input.notes,
                });
                // The same row re-imported is the same request: booked once.
                let key = format!(
                    "returns-csv:{}",
                    sebroker_ledger::auth::hash_secret(&format!("{member}\n{body}"))
                );
                let a = request(
                    config,
                    remote,
                    Method::POST,
                    &format!("/api/v1/members/{}/returns", enc(&member)),
                    Some(body),
                    Some(&key),
                )?;
                if a.ok() {
                    ok += 1;
                } else {
                    let v = a.json();
                    errors.push(json!({ "line": line, "message": v["error"]["message"] }));
                }
            }
            let report = json!({ "imported": ok, "errors": errors });
            if json {
                println!("{report}");
            } else {
                eprintln!("{ok} returns recorded, {} rows with errors", errors.len());
                for e in &errors {
                    eprintln!(
                        "  line {}: {}",
                        e["line"],
                        e["message"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(match (errors.is_empty(), ok) {
                (true, _) => exit::OK,
                (false, 0) => exit::FAILED,
                (false, _) => exit::PARTIAL,
            })
        }
        ReturnsCommand::List { member, json } => {
            let path = match &member {
                Some(m) => format!("/api/v1/members/{}/returns?limit=1000", enc(m)),
                None => "/api/v1/returns?limit=1000".into(),
            };
            let a = request(config, remote, Method::GET, &path, None, None)?;
            Ok(print(&a, json, |v| {
                for r in v["returns"].as_array().into_iter().flatten() {
                    println!(
                        "{} {}  turnover {}  employees {}",
                        r["member_id"].as_str().unwrap_or(""),
                        r["year"],
                        super::ledger::pounds(&r["turnover_pence"]),
                        r["employees"]
                    );
                }
            }))
        }
    }
}

pub fn totals(
    config: &Config,
    remote: &Remote,
    by: &str,
    json: bool,
    csv: bool,
) -> anyhow::Result<u8> {
    let path = format!(
        "/api/v1/totals{}",
        qs(&[("by", Some(by)), ("format", csv.then_some("csv"))])
    );
    let a = request(config, remote, Method::GET, &path, None, None)?;
    if csv && a.ok() {
        print!("{}", a.body);
        return Ok(exit::OK);
    }
    Ok(print(&a, json, print_totals))
}

pub fn kpis(
    config: &Config,
    remote: &Remote,
    today: Option<&str>,
    json: bool,
) -> anyhow::Result<u8> {
    let path = format!("/api/v1/kpis{}", qs(&[("today", today)]));
    let a = request(config, remote, Method::GET, &path, None, None)?;
    Ok(print(&a, json, print_kpis))
}

pub fn reconcile(config: &Config, remote: &Remote, json: bool) -> anyhow::Result<u8> {
    let a = request(
        config,
        remote,
        Method::GET,
        "/api/v1/reconciliation",
        None,
        None,
    )?;
    Ok(print(&a, json, |v| {
        for p in v["proposals"].as_array().into_iter().flatten() {
            println!(
                "propose won on {}: {} named in award {} of {} ({}), confirm with:\n    sebroker cases event {} --type won --value-pence {} --idempotency-key {}",
                p["case_id"].as_str().unwrap_or(""),
                p["member_id"].as_str().unwrap_or(""),
                p["award_id"].as_str().unwrap_or(""),
                p["ocid"].as_str().unwrap_or(""),
                super::ledger::pounds(&p["value_pence"]),
                p["case_id"].as_str().unwrap_or(""),
                p["value_pence"],
                p["idempotency_key"].as_str().unwrap_or("")
            );
        }
        for w in v["won_without_brokerage"].as_array().into_iter().flatten() {
            println!(
                "won without brokerage (not counted): {} — {} {} ({})",
                w["member_id"].as_str().unwrap_or(""),
                w["ocid"].as_str().unwrap_or(""),
                w["title"].as_str().unwrap_or(""),
                super::ledger::pounds(&w["value_pence"])
            );
        }
    }))
}

pub fn backup(config: &Config, out: Option<std::path::PathBuf>, json: bool) -> anyhow::Result<u8> {
    let app = sebroker_engine::Engine::open(config)?;
    let out = out.unwrap_or_else(|| sebroker_ledger::backup::default_path(&config.data_dir));
    let members = app.store.members()?;
    let r = sebroker_ledger::backup::backup(&app.ledger, &members, &out)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        eprintln!(
            "backup written and verified: {} ({} events, {} members, {} keys, brokered {})",
            r.file,
            r.events,
            r.members,
            r.keys,
            super::ledger::pounds(&r.brokered_total_pence.into())
        );
    }
    Ok(exit::OK)
}

pub fn restore(
    config: &Config,
    file: &std::path::Path,
    force: bool,
    json: bool,
) -> anyhow::Result<u8> {
    let _lock = sebroker_store::DirLock::acquire(&config.data_dir)?;
    let store = notice_store(config)?;
    let r = sebroker_ledger::backup::restore(
        &config.data_dir,
        file,
        force,
        config.ledger,
        Some(store.clone()),
        &mut |m| Ok(store.put_member(m)?),
    )?;
    store.flush()?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        eprintln!(
            "restored {} events, {} members and {} keys from {} (brokered {}){}",
            r.events,
            r.members,
            r.keys,
            r.file,
            super::ledger::pounds(&r.brokered_total_pence.into()),
            r.replaced_kept_at
                .as_deref()
                .map(|p| format!("; the replaced ledger is kept at {p}"))
                .unwrap_or_default()
        );
        eprintln!("run `sebroker reindex` if the notice index needs rebuilding; matches refresh on the next members import");
    }
    Ok(exit::OK)
}

pub fn verify(config: &Config, json: bool) -> anyhow::Result<u8> {
    let _lock = sebroker_store::DirLock::acquire(&config.data_dir)?;
    let r = match notice_store(config).and_then(|s| Ok(s.check().map(|_| s)?)) {
        Ok(store) => sebroker_ledger::backup::verify(&config.data_dir, config.ledger, Some(store))?,
        Err(e) => sebroker_ledger::backup::VerifyReport {
            ok: false,
            events: 0,
            brokered_total_pence: None,
            head: None,
            problem: Some(format!("the notice store cannot be opened: {e}")),
        },
    };
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else if r.ok {
        println!(
            "ledger ok: {} events, chain and checksums verified, head matches, brokered {}",
            r.events,
            super::ledger::pounds(&r.brokered_total_pence.unwrap_or(0).into())
        );
    } else {
        eprintln!("ledger NOT ok: {}", r.problem.as_deref().unwrap_or(""));
    }
    Ok(if r.ok { exit::OK } else { exit::FAILED })
}

/// The notice store of the data folder (the caller holds the lock).
fn notice_store(
    config: &Config,
) -> sebroker_engine::Result<std::sync::Arc<dyn sebroker_store::NoticeStore>> {
    Ok(std::sync::Arc::new(sebroker_store::SledStore::open(
        &config.data_dir.join("store"),
    )?))
}

/// `sebroker ledger init [--replace-missing | --adopt-store]`.
pub fn ledger(config: &Config, cmd: LedgerCommand) -> anyhow::Result<u8> {
    let LedgerCommand::Init {
        replace_missing,
        adopt_store,
        json,
    } = cmd;
    let _lock = sebroker_store::DirLock::acquire(&config.data_dir)?;
    let store = notice_store(config)?;
    let dir = &config.data_dir;
    let (l, what) = if replace_missing {
        let l = sebroker_ledger::Ledger::init_replacing_missing(
            dir,
            config.ledger,
            store.clone(),
            &format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            ),
        )?;
        (
            l,
            "a new ledger replaces the missing one (its first event records what it replaced)",
        )
    } else if adopt_store {
        let l = sebroker_ledger::Ledger::adopt_store(dir, config.ledger, store.clone())?;
        (l, "the notice store now records this ledger")
    } else {
        let l = sebroker_ledger::Ledger::open_with(dir, config.ledger, Some(store.clone()))?;
        (l, "the ledger is ready")
    };
    let events = l.state().last_seq();
    if json {
        println!(
            "{}",
            json!({ "ledger_id": l.id(), "events": events, "message": what })
        );
    } else {
        eprintln!("{what}: ledger {} with {events} events", l.id());
    }
    Ok(exit::OK)
}
