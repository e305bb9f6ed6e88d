//! What a member hears: new matches above its threshold, ranked, never a
//! notice (or another notice of the same opportunity group) it was alerted
//! to before; and updates on notices it was alerted to when they changed
//! materially (deadline moved, value changed, cancelled or withdrawn,
//! awarded, or an early signal opened for bids). Early signals (UK1, UK2,
//! UK3, early engagement, PSR intentions to award) are marked as such.

use std::collections::{BTreeSet, HashSet};

use sebroker_connectors::money::format_pence;
use sebroker_model::{Notice, Stage, Status, Value};
use serde::Serialize;
use time::OffsetDateTime;

use super::schedule::{add_working_days, days_left};
use super::settings::AlertSettings;
use super::{notice_link, AlertItem, Change, Signal, Snapshot};
use crate::config::AlertsConfig;
use crate::error::Result;
use crate::host::Host;
use sebroker_matching::members::{STORED_MIN_SCORE, STORED_PER_NOTICE};
use sebroker_matching::{Match, Timing};

/// Working days a Provider Selection Regime intention to award stays open
/// to representations (standstill).
pub const PSR_WINDOW_WORKING_DAYS: u32 = 8;

/// A value in words.
pub fn value_words(v: &Value) -> String {
    match v.headline_pence() {
        Some(p) => match v.currency.as_deref() {
            Some("GBP") | None => format_pence(p),
            Some(c) => format!("{} {c}", format_pence(p).trim_start_matches('£')),
        },
        None if v.unbounded => "unbounded".into(),
        None => "not given".into(),
    }
}

/// Whether the notice is a PSR intention to award (by its text: the
/// notice model keeps no legal basis).
pub fn is_psr_intention(n: &Notice) -> bool {
    let text = format!("{}\n{}", n.title, n.description).to_lowercase();
    (text.contains("provider selection regime") || text.contains("(psr)"))
        && (text.contains("intention to award") || text.contains("intends to award"))
}

/// The end of a PSR notice's window, from its publication.
pub fn psr_window_end(n: &Notice) -> Option<OffsetDateTime> {
    let start = n
        .published
        .or(n.updated)
        .or_else(|| n.releases.iter().filter_map(|r| r.date).max())?;
    Some(add_working_days(start, PSR_WINDOW_WORKING_DAYS))
}

/// The early signal a notice gives at `now`, if any.
pub fn signal_of(n: &Notice, now: OffsetDateTime) -> Option<Signal> {
    let s = |kind: &str, label: &str| Signal {
        kind: kind.into(),
        label: label.into(),
        window_ends: None,
    };
    if is_psr_intention(n) {
        let end = psr_window_end(n)?;
        return (now < end).then(|| Signal {
            kind: "psr_intention_to_award".into(),
            label: format!(
                "Provider Selection Regime intention to award: representations within {PSR_WINDOW_WORKING_DAYS} working days, until {}",
                super::schedule::uk_day(end)
            ),
            window_ends: Some(end),
        });
    }
    match n.notice_type.as_deref() {
        Some("UK1") => {
            return Some(s(
                "pipeline",
                "Early signal: pipeline notice (UK1), not yet open for bids",
            ))
        }
        Some("UK2") => {
            return Some(s(
                "market_engagement",
                "Early signal: preliminary market engagement (UK2), the buyer wants to hear from providers",
            ))
        }
        Some("UK3") => {
            return Some(s(
                "planned_procurement",
                "Early signal: planned procurement notice (UK3), a tender is expected",
            ))
        }
        _ => {}
    }
    match n.stage {
        Stage::Pipeline | Stage::Planned => Some(s(
            "early_engagement",
            "Early signal: early engagement, not yet open for bids",
        )),
        _ => None,
    }
}

/// What is remembered of an alerted notice.
pub fn snapshot(n: &Notice, score: Option<f64>) -> Snapshot {
    Snapshot {
        alert_id: String::new(),
        deadline: n.deadline,
        value_pence: n.value.headline_pence(),
        stage: n.stage,
        score,
    }
}

/// The material changes of a notice since it was alerted.
pub fn changes(old: &Snapshot, n: &Notice) -> Vec<Change> {
    let mut out = Vec::new();
    if old.deadline != n.deadline {
        out.push(Change::DeadlineMoved {
            from: old.deadline,
            to: n.deadline,
        });
    }
    let value = n.value.headline_pence();
    if old.value_pence != value {
        out.push(Change::ValueChanged {
            from_pence: old.value_pence,
            to_pence: value,
        });
    }
    if n.stage != old.stage {
        match n.stage {
            Stage::Cancelled => out.push(Change::Cancelled),
            Stage::Awarded => out.push(Change::Awarded),
            Stage::Tender if matches!(old.stage, Stage::Pipeline | Stage::Planned) => {
                out.push(Change::Opened)
            }
            _ => {}
        }
    }
    out
}

/// An alert item for a notice.
pub fn item(
    cfg: &AlertsConfig,
    n: &Notice,
    now: OffsetDateTime,
    kind: &str,
    score: Option<f64>,
    reasons: Vec<String>,
    changes: Vec<Change>,
) -> AlertItem {
    AlertItem {
        ocid: n.ocid.clone(),
        kind: kind.into(),
        changes,
        title: n.title.clone(),
        buyer: n.buyer.name.clone(),
        value_pence: n.value.headline_pence(),
        value: value_words(&n.value),
        deadline: n.deadline,
        days_left: n.deadline.map(|d| days_left(d, now)),
        status: n.status(now),
        score,
        reasons,
        signal: signal_of(n, now),
        broker: None,
        link: notice_link(cfg, &n.ocid),
        source_url: n.source_url.clone(),
    }
}

/// Matches PSR intentions to award among changed notices against every
/// member (stored matches keep only biddable notices) and keeps them while
/// their window is open.
pub fn note_signals(
    app: &dyn Host,
    changed: &BTreeSet<String>,
    now: OffsetDateTime,
    dry_run: bool,
) -> Result<()> {
    if dry_run {
        return Ok(());
    }
    let log = app.alert_log();
    for ocid in changed {
        let Some(n) = app.store().get_notice(ocid)? else {
            continue;
        };
        if !is_psr_intention(&n) {
            continue;
        }
        let open = psr_window_end(&n).is_some_and(|end| now < end);
        let matches: Vec<Match> = if open {
            let set = app.members();
            let places = app.places();
            crate::host::matcher(app, &set, &places)
                .match_notice(&n, Timing::Ignore, STORED_PER_NOTICE)?
                .into_iter()
                .filter(|m| m.score >= STORED_MIN_SCORE)
                .collect()
        } else {
            Vec::new()
        };
        log.put_signal_matches(ocid, &matches)?;
    }
    Ok(())
}

/// The members a change of these notices may concern: matched, alerted
/// before, or matched to a signal.
pub fn affected_members(app: &dyn Host, changed: &BTreeSet<String>) -> Result<HashSet<String>> {
    let log = app.alert_log();
    let mut out = HashSet::new();
    for ocid in changed {
        out.extend(
            app.store()
                .matches_of_notice(ocid)?
                .into_iter()
                .map(|m| m.member_id),
        );
        out.extend(log.alerted_on(ocid)?);
    }
    Ok(out)
}

/// A member's items at `now`: updates first, then new matches best first
/// (at most `max_items` new ones; the rest wait for the next alert).
/// `only` limits both to these notices.
pub fn select_member(
    app: &dyn Host,
    s: &AlertSettings,
    now: OffsetDateTime,
    only: Option<&BTreeSet<String>>,
) -> Result<Vec<(AlertItem, Snapshot)>> {
    let cfg = app.config();
    let log = app.alert_log();
    let wanted = |ocid: &str| only.is_none_or(|o| o.contains(ocid));
    let alerted = log.alerted_of(&s.member_id)?;
    let mut seen: HashSet<String> = alerted.iter().map(|(o, _)| o.clone()).collect();

    let mut updates = Vec::new();
    for (ocid, snap) in &alerted {
        if !wanted(ocid) {
            continue;
        }
        let Some(n) = app.store().get_notice(ocid)? else {
            continue;
        };
        let ch = changes(snap, &n);
        if ch.is_empty() {
            continue;
        }
        let reasons = ch.iter().map(Change::describe).collect();
        let it = item(cfg, &n, now, "update", snap.score, reasons, ch);
        updates.push((it, snapshot(&n, snap.score)));
    }

    // Candidates: stored matches judged at now, and open signal matches.
    let mut candidates: Vec<(String, f64, Vec<String>)> =
        member_matches(app, &s.member_id, &[], now, usize::MAX)?
            .into_iter()
            .map(|m| (m.ocid, m.matched.score, m.matched.reasons))
            .collect();
    for (ocid, m) in log.signal_matches_of(&s.member_id)? {
        if !candidates.iter().any(|c| c.0 == ocid) {
            candidates.push((ocid, m.score, m.reasons));
        }
    }
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let mut fresh = Vec::new();
    for (ocid, score, reasons) in candidates {
        if fresh.len() >= cfg.max_items {
            break;
        }
        if score < s.threshold || !wanted(&ocid) || seen.contains(&ocid) {
            continue;
        }
        // Another notice of the same opportunity already alerted (or picked).
        let group = app.store().group_of(&ocid)?;
        if group.iter().any(|g| g != &ocid && seen.contains(g)) {
            continue;
        }
        let Some(n) = app.store().get_notice(&ocid)? else {
            continue;
        };
        let it = item(cfg, &n, now, "new", Some(score), reasons, Vec::new());
        if let Some(sig) = &it.signal {
            if !s.early_signals {
                continue;
            }
            if sig.window_ends.is_some_and(|end| now >= end) {
                continue;
            }
        }
        seen.insert(ocid);
        fresh.push((it, snapshot(&n, Some(score))));
    }
    updates.sort_by(|a, b| a.0.ocid.cmp(&b.0.ocid));
    updates.extend(fresh);
    Ok(updates)
}

#[derive(Serialize)]
pub struct MemberMatch {
    pub ocid: String,
    pub title: String,
    pub status: Status,
    #[serde(flatten)]
    pub matched: Match,
}

/// A member's stored matches, with timing judged at `now` and closed,
/// awarded and cancelled notices left out.
pub fn member_matches(
    app: &dyn Host,
    member_id: &str,
    statuses: &[Status],
    now: time::OffsetDateTime,
    top: usize,
) -> Result<Vec<MemberMatch>> {
    let mut out = Vec::new();
    for (ocid, mut m) in app.store().matches_of_member(member_id)? {
        let Some(n) = app.store().get_notice(&ocid)? else {
            continue;
        };
        let status = n.status(now);
        if !statuses.is_empty() && !statuses.contains(&status) {
            continue;
        }
        let Some((timing, reason)) = sebroker_matching::components::timing(&n, now) else {
            continue;
        };
        m.components.timing = timing;
        m.score = m.components.score(&app.weights());
        m.reasons
            .retain(|r| !r.contains("days left") && !r.starts_with("early signal"));
        m.reasons.extend(reason);
        out.push(MemberMatch {
            ocid,
            title: n.title.clone(),
            status,
            matched: m,
        });
    }
    out.sort_by(|a, b| {
        b.matched
            .score
            .total_cmp(&a.matched.score)
            .then_with(|| a.ocid.cmp(&b.ocid))
    });
    out.truncate(top);
    Ok(out)
}
