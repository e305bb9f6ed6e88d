//! What brokers hear: notices that need brokering. Three kinds:
//! - `consortium`: no strong single match, but a strong consortium;
//! - `few_matches`: high-value VCSE-suitable or reserved (`smeVcse`)
//!   notices that few members match;
//! - `closing_case`: deadlines closing on cases still open. Cases live in
//!   the ledger ([`LedgerCases`]).
//!
//! Each notice reaches brokers once (per kind); material changes come as
//! updates, as for members.

use std::collections::BTreeSet;

use time::{Duration, OffsetDateTime};

use sebroker_connectors::money::format_pence;
use sebroker_model::{Notice, Stage, Status};

use super::selection::{changes, item, snapshot};
use super::{AlertItem, BrokerNote, Change, Snapshot, BROKERS};
use crate::config::AlertsConfig;
use crate::error::Result;
use crate::host::Host;

/// An open case whose notice closes soon.
pub use crate::host::{CaseDeadline, CaseDeadlines};

/// No cases at all (tests of the other broker alerts).
pub struct NoCases;

impl CaseDeadlines for NoCases {
    fn closing(&self, _: &dyn Host, _: OffsetDateTime, _: Duration) -> Result<Vec<CaseDeadline>> {
        Ok(Vec::new())
    }
}

/// Broker alerts go somewhere.
pub fn enabled(cfg: &AlertsConfig) -> bool {
    cfg.broker_email.is_some()
        || cfg.broker_webhook_url.is_some()
        || cfg.broker_feed_token.is_some()
}

fn biddable_at(n: &Notice, now: OffsetDateTime) -> bool {
    matches!(
        n.status(now),
        Status::Open | Status::Pipeline | Status::Planned
    )
}

/// Why brokers should look at `n`, if they should.
pub fn judge(
    app: &dyn Host,
    n: &Notice,
    now: OffsetDateTime,
) -> Result<Option<(BrokerNote, Option<f64>)>> {
    let cfg = app.config();
    if !biddable_at(n, now) {
        return Ok(None);
    }
    let matches = app.store().matches_of_notice(&n.ocid)?;
    let best = matches.first().map(|m| m.score);
    let strong = matches
        .iter()
        .filter(|m| m.score >= cfg.broker_strong_match)
        .count();
    let value = n.value.headline_pence().unwrap_or(0);
    if (n.suitability.vcse || n.reserved)
        && value >= cfg.broker_high_value_gbp.saturating_mul(100)
        && strong < cfg.broker_few_matches
    {
        let what = if n.reserved {
            "reserved for SMEs and VCSEs"
        } else {
            "marked suitable for VCSEs"
        };
        return Ok(Some((
            BrokerNote {
                kind: "few_matches".into(),
                case_id: None,
                detail: format!(
                    "{} and {what}, but only {strong} member(s) match strongly (score ≥ {})",
                    format_pence(value),
                    cfg.broker_strong_match
                ),
            },
            best,
        )));
    }
    if best.is_none_or(|b| b < cfg.broker_strong_match) && !matches.is_empty() {
        let set = app.members();
        let places = app.places();
        let matcher = crate::host::matcher(app, &set, &places);
        let p = sebroker_matching::consortia::propose(n, &matcher, 4, 1)?;
        if let Some(c) = p.consortia.first() {
            if c.score >= cfg.broker_strong_consortium {
                let single = p
                    .best_single
                    .as_ref()
                    .map(|(id, s)| format!("the best single member ({id}) covers {s:.2}"))
                    .unwrap_or_else(|| "no single member covers it".into());
                return Ok(Some((
                    BrokerNote {
                        kind: "consortium".into(),
                        case_id: None,
                        detail: format!(
                            "no strong single match ({single}), but a consortium of {} led by {} scores {:.2}",
                            c.members.join(", "),
                            c.lead,
                            c.score
                        ),
                    },
                    Some(c.score),
                )));
            }
        }
    }
    Ok(None)
}

/// Broker items at `now` for the notices in `only` (all notices if none).
pub fn select(
    app: &dyn Host,
    now: OffsetDateTime,
    only: Option<&BTreeSet<String>>,
    cases: &dyn CaseDeadlines,
) -> Result<Vec<(AlertItem, Snapshot)>> {
    let cfg = app.config();
    let log = app.alert_log();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    // Updates on notices brokers were told of.
    for (ocid, snap) in log.alerted_of(BROKERS)? {
        seen.insert(ocid.clone());
        if only.is_some_and(|o| !o.contains(&ocid)) {
            continue;
        }
        let Some(n) = app.store().get_notice(&ocid)? else {
            continue;
        };
        let ch = changes(&snap, &n);
        if ch.is_empty() {
            continue;
        }
        let reasons = ch.iter().map(Change::describe).collect();
        out.push((
            item(cfg, &n, now, "update", snap.score, reasons, ch),
            snapshot(&n, snap.score),
        ));
    }
    let mut consider = |n: Notice, out: &mut Vec<(AlertItem, Snapshot)>| -> Result<()> {
        if seen.contains(&n.ocid) {
            return Ok(());
        }
        if let Some((note, score)) = judge(app, &n, now)? {
            let mut it = item(
                cfg,
                &n,
                now,
                "new",
                score,
                vec![note.detail.clone()],
                Vec::new(),
            );
            it.broker = Some(note);
            seen.insert(n.ocid.clone());
            out.push((it, snapshot(&n, score)));
        }
        Ok(())
    };
    match only {
        Some(o) => {
            for ocid in o {
                if let Some(n) = app.store().get_notice(ocid)? {
                    consider(n, &mut out)?;
                }
            }
        }
        None => {
            let mut all = Vec::new();
            app.store().for_each_notice(&mut |n| {
                if matches!(n.stage, Stage::Tender | Stage::Pipeline | Stage::Planned) {
                    all.push(n);
                }
                Ok(())
            })?;
            for n in all {
                consider(n, &mut out)?;
            }
        }
    }
    for c in cases.closing(app, now, Duration::days(cfg.case_deadline_days))? {
        let key = format!("case:{}", c.case_id);
        if log.alerted(BROKERS, &key)?.is_some() {
            continue;
        }
        if let Some(n) = app.store().get_notice(&c.ocid)? {
            let mut it = item(
                cfg,
                &n,
                now,
                "new",
                None,
                vec![c.detail.clone()],
                Vec::new(),
            );
            it.broker = Some(BrokerNote {
                kind: "closing_case".into(),
                detail: format!(
                    "case {} closes {}: {}",
                    c.case_id,
                    super::schedule::uk_day(c.deadline),
                    c.detail
                ),
                case_id: Some(c.case_id.clone()),
            });
            out.push((it, snapshot(&n, None)));
        }
    }
    Ok(out)
}
