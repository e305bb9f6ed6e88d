//! What the funder reads: brokered value totals by dimension, progress to
//! the target, the programme's other KPIs, and reconciliation of ingested
//! awards against open cases.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::Date;

use super::model::{ymd, CaseStatus};
use super::state::{Case, State};
use super::LedgerSettings;
use crate::error::{Error, Result};
use sebroker_model::{AwardLink, LinkStatus};

/// Members per cluster the programme aims for.
pub const MEMBERS_PER_CLUSTER_TARGET: u64 = 50;
/// SEGA referrals per cluster the programme aims for (at least).
pub const SEGA_TARGET: u64 = 3;
/// SEDF referrals per cluster the programme aims for (at least).
pub const SEDF_TARGET: u64 = 2;
/// Members' yearly turnover growth the programme aims for (percent).
pub const TURNOVER_GROWTH_TARGET_PERCENT: u64 = 15;
/// Programme years counted (year-1 .. year-3).
pub const PROGRAMME_YEARS: i32 = 3;

/// A dimension of the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Cluster,
    Member,
    Source,
    Buyer,
    CpvDivision,
    Month,
    ProgrammeYear,
}

impl By {
    pub const NAMES: &'static str =
        "cluster, member, source, buyer, cpv_division, month, programme_year";

    pub fn parse(s: &str) -> Result<By> {
        Ok(match s.trim() {
            "cluster" => By::Cluster,
            "member" => By::Member,
            "source" => By::Source,
            "buyer" => By::Buyer,
            "cpv_division" | "cpv" => By::CpvDivision,
            "month" => By::Month,
            "programme_year" | "year" => By::ProgrammeYear,
            other => {
                return Err(Error::Invalid(format!(
                    "by: {other:?} is not one of {}",
                    By::NAMES
                )))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            By::Cluster => "cluster",
            By::Member => "member",
            By::Source => "source",
            By::Buyer => "buyer",
            By::CpvDivision => "cpv_division",
            By::Month => "month",
            By::ProgrammeYear => "programme_year",
        }
    }
}

/// `year-1`, `year-2`, `year-3`, or `before` / `after` the programme.
pub fn programme_year(start: Date, d: Date) -> String {
    if d < start {
        return "before".into();
    }
    let mut months = (d.year() - start.year()) * 12
        + (i32::from(u8::from(d.month())) - i32::from(u8::from(start.month())));
    if d.day() < start.day() {
        months -= 1;
    }
    let y = months / 12 + 1;
    if y > PROGRAMME_YEARS {
        "after".into()
    } else {
        format!("year-{y}")
    }
}

/// `part` of `whole` in percent, to two decimals (not money: a ratio).
pub fn percent(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    let bp = i128::from(part) * 10_000 / i128::from(whole);
    bp as f64 / 100.0
}

#[derive(Debug, Clone, Serialize)]
pub struct TotalRow {
    pub key: String,
    pub value_pence: i64,
    /// Counted wins contributing to this row.
    pub wins: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_pence: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_percent: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub by: &'static str,
    pub total_pence: i64,
    pub target_pence: i64,
    pub progress_percent: f64,
    pub wins: usize,
    pub rows: Vec<TotalRow>,
}

/// The clusters that carry a share of the target: every configured cluster
/// but `other`.
pub fn programme_clusters(clusters: &[String]) -> Vec<String> {
    clusters.iter().filter(|c| *c != "other").cloned().collect()
}

/// A cluster's share of the target (the target split evenly between the
/// programme clusters), or none for clusters outside the programme.
pub fn cluster_target(
    settings: &LedgerSettings,
    clusters: &[String],
    cluster: &str,
) -> Option<i64> {
    let p = programme_clusters(clusters);
    (p.iter().any(|c| c == cluster) && !p.is_empty())
        .then(|| settings.target_pence / p.len() as i64)
}

/// Brokered value by a dimension. Consortium wins are split into members'
/// parts (whole pence, remainder to the lead) for `cluster` and `member`.
pub fn totals(cases: &[Case], by: By, settings: &LedgerSettings, clusters: &[String]) -> Totals {
    let mut rows: BTreeMap<String, (i64, BTreeSet<&str>)> = BTreeMap::new();
    if by == By::Cluster {
        for c in programme_clusters(clusters) {
            rows.entry(c).or_default();
        }
    }
    // Sums saturate rather than wrap: appends keep the total within i64
    // and open refuses a chain whose total does not fit, so they never do.
    let mut total: i64 = 0;
    let mut wins = 0;
    for c in cases {
        let Some(w) = c.win.as_ref().filter(|w| w.counted) else {
            continue;
        };
        total = total.saturating_add(w.value_pence);
        wins += 1;
        let whole = |key: String| (key, w.value_pence);
        let keyed: Vec<(String, i64)> = match by {
            By::Cluster => w
                .parts
                .iter()
                .map(|p| (p.cluster.clone(), p.value_pence))
                .collect(),
            By::Member => w
                .parts
                .iter()
                .map(|p| (p.member_id.clone(), p.value_pence))
                .collect(),
            By::Source => vec![whole(c.source.clone())],
            By::Buyer => vec![whole(c.buyer.clone().unwrap_or_else(|| "unknown".into()))],
            By::CpvDivision => vec![whole(
                c.cpv_division.clone().unwrap_or_else(|| "unknown".into()),
            )],
            By::Month => vec![whole(ymd::format(w.date)[..7].to_owned())],
            By::ProgrammeYear => vec![whole(programme_year(settings.programme_start, w.date))],
        };
        for (k, v) in keyed {
            let e = rows.entry(k).or_default();
            e.0 = e.0.saturating_add(v);
            e.1.insert(&c.case_id);
        }
    }
    let rows = rows
        .into_iter()
        .map(|(key, (value, cases))| {
            let target = (by == By::Cluster)
                .then(|| cluster_target(settings, clusters, &key))
                .flatten();
            TotalRow {
                progress_percent: target.map(|t| percent(value, t)),
                target_pence: target,
                key,
                value_pence: value,
                wins: cases.len(),
            }
        })
        .collect();
    Totals {
        by: by.as_str(),
        total_pence: total,
        target_pence: settings.target_pence,
        progress_percent: percent(total, settings.target_pence),
        wins,
        rows,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterKpis {
    pub cluster: String,
    pub brokered_pence: i64,
    pub brokered_target_pence: Option<i64>,
    pub brokered_progress_percent: Option<f64>,
    pub members: u64,
    pub members_target: u64,
    pub sega_referrals: u64,
    pub sega_target: u64,
    pub sedf_referrals: u64,
    pub sedf_target: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kpis {
    #[serde(with = "ymd")]
    pub programme_start: Date,
    pub programme_year_now: String,
    pub brokered_total_pence: i64,
    pub brokered_target_pence: i64,
    pub brokered_progress_percent: f64,
    pub clusters: Vec<ClusterKpis>,
    pub turnover_growth_target_percent: u64,
    /// Members with turnover in two yearly returns.
    pub turnover_growth_members_reporting: u64,
    pub turnover_growth_members_meeting_target: u64,
    /// Mean of members' average yearly growth, percent.
    pub turnover_growth_mean_percent: Option<f64>,
    pub employees_members_reporting: u64,
    /// Sum over members of (latest − earliest employees reported).
    pub employee_growth: i64,
    pub new_products_services: u64,
    pub new_markets: u64,
    pub volunteering_hours: u64,
    pub clients_supported: u64,
    pub jobs_created: u64,
}

/// The programme's KPIs. `members` are the current members (id, cluster).
pub fn kpis(
    state: &State,
    cases: &[Case],
    members: &[(String, String)],
    cluster_of: &dyn Fn(&str) -> String,
    settings: &LedgerSettings,
    clusters: &[String],
    today: Date,
) -> Kpis {
    let by_cluster = totals(cases, By::Cluster, settings, clusters);
    let referrals = state.referrals(cluster_of);
    let mut names: BTreeSet<String> = programme_clusters(clusters).into_iter().collect();
    names.extend(by_cluster.rows.iter().map(|r| r.key.clone()));
    names.extend(members.iter().map(|m| m.1.clone()));
    let cluster_rows = names
        .into_iter()
        .map(|c| {
            let row = by_cluster.rows.iter().find(|r| r.key == c);
            let target = cluster_target(settings, clusters, &c);
            let brokered = row.map_or(0, |r| r.value_pence);
            let count = |p: super::model::Programme| {
                referrals
                    .iter()
                    .filter(|r| r.cluster == c && r.programme == p)
                    .count() as u64
            };
            ClusterKpis {
                brokered_pence: brokered,
                brokered_target_pence: target,
                brokered_progress_percent: target.map(|t| percent(brokered, t)),
                members: members.iter().filter(|m| m.1 == c).count() as u64,
                members_target: MEMBERS_PER_CLUSTER_TARGET,
                sega_referrals: count(super::model::Programme::Sega),
                sega_target: SEGA_TARGET,
                sedf_referrals: count(super::model::Programme::Sedf),
                sedf_target: SEDF_TARGET,
                cluster: c,
            }
        })
        .collect();
    let returns = state.returns();
    let mut by_member: BTreeMap<&str, Vec<&super::state::ReturnView>> = BTreeMap::new();
    for r in &returns {
        by_member.entry(&r.member_id).or_default().push(r);
    }
    let (mut reporting, mut meeting, mut growth_sum_bp) = (0u64, 0u64, 0i128);
    let (mut emp_reporting, mut emp_growth) = (0u64, 0i64);
    for list in by_member.values() {
        let t: Vec<(i32, i64)> = list
            .iter()
            .filter_map(|r| Some((r.figures.year, r.figures.turnover_pence?)))
            .collect();
        if let (Some(first), Some(last)) = (t.first(), t.last()) {
            if last.0 > first.0 && first.1 > 0 {
                let years = i128::from(last.0 - first.0);
                let bp = (i128::from(last.1) - i128::from(first.1)) * 10_000
                    / i128::from(first.1)
                    / years;
                reporting += 1;
                growth_sum_bp = growth_sum_bp.saturating_add(bp);
                if bp >= i128::from(TURNOVER_GROWTH_TARGET_PERCENT) * 100 {
                    meeting += 1;
                }
            }
        }
        let e: Vec<u32> = list.iter().filter_map(|r| r.figures.employees).collect();
        if let (Some(first), Some(last)) = (e.first(), e.last()) {
            emp_reporting += 1;
            emp_growth = emp_growth.saturating_add(i64::from(*last) - i64::from(*first));
        }
    }
    let sum = |f: &dyn Fn(&super::model::ReturnFigures) -> Option<u32>| -> u64 {
        returns
            .iter()
            .filter_map(|r| f(&r.figures))
            .map(u64::from)
            .fold(0u64, u64::saturating_add)
    };
    Kpis {
        programme_start: settings.programme_start,
        programme_year_now: programme_year(settings.programme_start, today),
        brokered_total_pence: by_cluster.total_pence,
        brokered_target_pence: settings.target_pence,
        brokered_progress_percent: by_cluster.progress_percent,
        clusters: cluster_rows,
        turnover_growth_target_percent: TURNOVER_GROWTH_TARGET_PERCENT,
        turnover_growth_members_reporting: reporting,
        turnover_growth_members_meeting_target: meeting,
        turnover_growth_mean_percent: (reporting > 0)
            .then(|| (growth_sum_bp / i128::from(reporting)) as f64 / 100.0),
        employees_members_reporting: emp_reporting,
        employee_growth: emp_growth,
        new_products_services: sum(&|f| f.new_products_services),
        new_markets: sum(&|f| f.new_markets),
        volunteering_hours: sum(&|f| f.volunteering_hours),
        clients_supported: sum(&|f| f.clients_supported),
        jobs_created: sum(&|f| f.jobs_created),
    }
}

/// A proposed `won` for a broker to confirm (never booked automatically).
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub case_id: String,
    pub case_status: CaseStatus,
    pub ocid: String,
    pub award_id: String,
    pub member_id: String,
    pub supplier_name: Option<String>,
    pub match_method: String,
    pub value_pence: Option<i64>,
    pub date: Option<String>,
    pub title: String,
    /// The body to POST to `/api/v1/cases/{case_id}/events` to confirm.
    pub event: serde_json::Value,
    /// The idempotency key to confirm with: confirming twice books once.
    pub idempotency_key: String,
}

/// An award to a member with no case: shown, never counted.
#[derive(Debug, Clone, Serialize)]
pub struct UnbrokeredWin {
    pub member_id: String,
    pub ocid: String,
    pub award_id: String,
    pub title: String,
    pub buyer: Option<String>,
    pub value_pence: Option<i64>,
    pub date: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    pub proposals: Vec<Proposal>,
    pub won_without_brokerage: Vec<UnbrokeredWin>,
}

/// Matches award links (members named in ingested awards) against cases.
/// `award_date` gives an award's date from its notice.
pub fn reconcile(
    cases: &[Case],
    links: &[AwardLink],
    award_date: &dyn Fn(&str, &str) -> Option<Date>,
) -> Reconciliation {
    let mut proposals = Vec::new();
    let mut unbrokered = Vec::new();
    for l in links.iter().filter(|l| l.status != LinkStatus::Rejected) {
        let on_case: Vec<&Case> = cases
            .iter()
            .filter(|c| {
                (c.ocid == l.ocid || c.group.contains(&l.ocid)) && c.members.contains(&l.member_id)
            })
            .collect();
        let date = award_date(&l.ocid, &l.award_id).map(ymd::format);
        if on_case.is_empty() {
            unbrokered.push(UnbrokeredWin {
                member_id: l.member_id.clone(),
                ocid: l.ocid.clone(),
                award_id: l.award_id.clone(),
                title: l.title.clone(),
                buyer: l.buyer.clone(),
                value_pence: l.value_pence,
                date,
            });
            continue;
        }
        for c in on_case.into_iter().filter(|c| c.status.is_open()) {
            let mut event = serde_json::json!({ "type": "won", "notes": format!("award {} of {}", l.award_id, l.ocid) });
            if let Some(v) = l.value_pence {
                event["value_pence"] = v.into();
            }
            if let Some(d) = &date {
                event["date"] = d.clone().into();
            }
            if c.members.len() > 1 {
                event["shares"] = serde_json::json!([]);
            }
            proposals.push(Proposal {
                case_id: c.case_id.clone(),
                case_status: c.status,
                ocid: l.ocid.clone(),
                award_id: l.award_id.clone(),
                member_id: l.member_id.clone(),
                supplier_name: l.supplier_name.clone(),
                match_method: l.method.clone(),
                value_pence: l.value_pence,
                date: date.clone(),
                title: l.title.clone(),
                event,
                idempotency_key: format!("reconcile:{}:{}:{}", c.case_id, l.ocid, l.award_id),
            });
        }
    }
    Reconciliation {
        proposals,
        won_without_brokerage: unbrokered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn programme_years_count_from_the_start() {
        let s = date!(2025 - 04 - 01);
        assert_eq!(programme_year(s, date!(2025 - 03 - 31)), "before");
        assert_eq!(programme_year(s, date!(2025 - 04 - 01)), "year-1");
        assert_eq!(programme_year(s, date!(2026 - 03 - 31)), "year-1");
        assert_eq!(programme_year(s, date!(2026 - 04 - 01)), "year-2");
        assert_eq!(programme_year(s, date!(2028 - 03 - 31)), "year-3");
        assert_eq!(programme_year(s, date!(2028 - 04 - 01)), "after");
        assert!((percent(1, 3) - 33.33).abs() < 1e-9);
    }
}
