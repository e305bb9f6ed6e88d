//! The market map (`GET /api/v1/market`, `/market`, `sebroker market`):
//! open and awarded value place by place, the members who can cover it,
//! and the CPV divisions no member matches yet. Place and "open" are
//! search's own: a local authority's row holds exactly the notices that
//! search returns for `status=open&region=<GSS code>` at the same `now`,
//! and an opportunity group counts once, as search shows it.

mod rows;
mod snapshot;
mod sum;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use sebroker_connectors::source;

use crate::error::{Error, Result};
use crate::when::parse_when;
use crate::Engine;

use snapshot::Fact;
use sum::Acc;

/// The most months the timeline shows (ten years).
const MAX_MONTHS: usize = 120;
/// The most gaps listed per row.
const MAX_GAPS: usize = 10;

/// The query of `GET /api/v1/market` and `sebroker market`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct MarketParams {
    /// local_authority (default), cluster, region, cpv_division.
    pub by: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`: the clock open notices are judged by [default: now].
    pub now: Option<String>,
    /// The first day of the awards' window [default: 12 months before `to`].
    pub from: Option<String>,
    /// The last day of the awards' window [default: `now`].
    pub to: Option<String>,
    /// Comma-separated CPV codes or prefixes (`85`, `85300000`).
    pub cpv: Option<String>,
    /// Comma-separated sources (`fts`, `cf`, `anchor:<slug>`, `ocds:<name>`).
    pub source: Option<String>,
}

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    LocalAuthority,
    Cluster,
    Region,
    CpvDivision,
}

impl By {
    pub fn parse(s: &str) -> Result<By> {
        match s.trim() {
            "local_authority" => Ok(By::LocalAuthority),
            "cluster" => Ok(By::Cluster),
            "region" => Ok(By::Region),
            "cpv_division" => Ok(By::CpvDivision),
            other => Err(Error::Invalid(format!(
                "by: {other:?} is not local_authority, cluster, region or cpv_division"
            ))),
        }
    }
}

/// One place or group. Counts only: no member is ever named.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MarketRow {
    /// A GSS code, a NUTS code, a cluster slug or a CPV division.
    pub key: String,
    pub name: String,
    /// authority, nuts3, elsewhere, region, cluster, cpv_division or total.
    pub kind: String,
    /// The `region` that search filters this row's place with (none for
    /// clusters and divisions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The local authorities (GSS codes) the row covers.
    pub authorities: Vec<String>,
    pub open_notices: u64,
    pub open_value_pence: i64,
    pub vcse_suitable_open_value_pence: i64,
    pub reserved_open_value_pence: i64,
    pub social_value_weighted_notices: u64,
    pub awarded_value_pence: i64,
    pub awarded_to_vcse_value_pence: i64,
    pub members: u64,
    pub matched_members: u64,
    /// `division=value_pence`, largest first: open value no member matches.
    pub gaps: Vec<String>,
}

/// One month of the timeline.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// VCSE-suitable value of the opportunities open at some time that
    /// month: published by its end, deadline not before its start.
    pub open_vcse_suitable_value_pence: i64,
    /// VCSE-suitable value of the opportunities published that month.
    pub published_vcse_suitable_value_pence: i64,
    /// Value awarded that month to VCSE-flagged suppliers or members.
    pub awarded_to_vcse_value_pence: i64,
}

/// The answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Market {
    pub rows: Vec<MarketRow>,
    pub total: MarketRow,
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// The match score a member needs to count as matched.
    pub threshold: f64,
    pub timeline: Vec<Month>,
}

/// The validated query.
pub(crate) struct Query {
    pub by: By,
    pub now: OffsetDateTime,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// `from` and `to` in Unix nanoseconds.
    from_ns: i128,
    to_ns: i128,
    cpv: Vec<String>,
    sources: Vec<String>,
}

fn list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

impl MarketParams {
    fn query(&self) -> Result<Query> {
        let by = By::parse(self.by.as_deref().unwrap_or("local_authority"))?;
        let now = match &self.now {
            Some(s) => parse_when("now", s, false)?,
            None => OffsetDateTime::now_utc(),
        };
        let to = match &self.to {
            Some(s) => parse_when("to", s, true)?,
            None => now,
        };
        let from = match &self.from {
            Some(s) => parse_when("from", s, false)?,
            // A year earlier, but never before year 0 (RFC 3339 cannot
            // write a negative year, and the answer carries its window).
            None if to.year() <= 0 => to,
            None => to
                .replace_year(to.year() - 1)
                .unwrap_or(to - time::Duration::days(365)),
        };
        if from > to {
            // Each parses; together they name no window (422, not 400).
            let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string());
            return Err(Error::Unprocessable {
                code: "invalid_window",
                message: format!("from: {} is after to: {}", at(from), at(to)),
            });
        }
        let mut cpv = Vec::new();
        for c in list(&self.cpv) {
            // The index's rule: the digits before any check digit, 2 to 8 of them.
            let digits: String = c.chars().take_while(|ch| *ch != '-').collect();
            if !(2..=8).contains(&digits.len()) || !digits.chars().all(|ch| ch.is_ascii_digit()) {
                return Err(Error::Invalid(format!(
                    "cpv: {c:?} is not a CPV code prefix (2 to 8 digits, e.g. 85 or 85312000)"
                )));
            }
            cpv.push(digits);
        }
        let sources = list(&self.source);
        if let Some(s) = sources.iter().find(|s| !source::is_valid_source(s)) {
            return Err(Error::Invalid(format!(
                "source: {s:?} is not fts, cf, anchor:<slug> or ocds:<name>"
            )));
        }
        Ok(Query {
            by,
            now,
            from,
            to,
            from_ns: from.unix_timestamp_nanos(),
            to_ns: to.unix_timestamp_nanos(),
            cpv,
            sources,
        })
    }
}

impl Query {
    /// Whether the cpv and source filters are given (else every placed
    /// notice is admitted).
    fn filters(&self) -> bool {
        !self.cpv.is_empty() || !self.sources.is_empty()
    }

    /// The cpv and source filters, as the index applies them.
    fn admits(&self, f: &Fact) -> bool {
        let cpv = self.cpv.is_empty()
            || f.cpv
                .iter()
                .any(|c| self.cpv.iter().any(|p| c.starts_with(p.as_str())));
        let src = self.sources.is_empty()
            || self
                .sources
                .iter()
                .any(|s| f.source == *s || f.source.split_once(':').is_some_and(|(k, _)| k == s));
        cpv && src && !f.nuts.is_empty()
    }

    /// The window in whole Unix seconds, rounded down (an award in the
    /// window has its whole second in this range).
    fn window_seconds(&self) -> (i64, i64) {
        (
            snapshot::seconds(self.from_ns),
            snapshot::seconds(self.to_ns),
        )
    }

    /// Whether Unix nanoseconds `t` fall in the awards' window.
    fn in_window(&self, t: i128) -> bool {
        t >= self.from_ns && t <= self.to_ns
    }
}

/// The market map for `params`.
pub fn market(app: &Engine, params: &MarketParams) -> Result<Market> {
    let q = params.query()?;
    let snap = snapshot::current(app)?;
    let threshold = app.config.alerts.default_threshold;
    let defs = snap.placement(q.by as usize, || rows::define(app, q.by, &snap))?;
    let admitted = |facts: &[u32]| -> Vec<u32> {
        facts
            .iter()
            .copied()
            .filter(|i| snap.facts.get(*i as usize).is_some_and(|f| q.admits(f)))
            .collect()
    };
    let mut acc = Acc::new(&q, &snap, threshold);
    let mut out = Vec::with_capacity(defs.rows.len());
    for (i, def) in defs.rows.iter().enumerate() {
        let facts = defs.members_of.get(i).map(Vec::as_slice).unwrap_or(&[]);
        let mut row = if q.filters() {
            acc.row(&admitted(facts))?
        } else {
            acc.row(facts)?
        };
        row.members = defs.member_counts.get(i).copied().unwrap_or(0);
        row.key.clone_from(&def.key);
        row.name.clone_from(&def.name);
        row.kind.clone_from(&def.kind);
        row.region.clone_from(&def.region);
        row.authorities.clone_from(&def.authorities);
        out.push(row);
    }
    let everything = if q.filters() {
        admitted(&defs.placed)
    } else {
        defs.placed.clone()
    };
    let mut total = acc.row(&everything)?;
    total.key = "total".into();
    total.name = "Every UK place, each notice once".into();
    total.kind = "total".into();
    total.members = snap.members.facts.len() as u64;
    let (mut months, first) = months(&q);
    acc.timeline(&everything, &mut months, first)?;
    Ok(Market {
        rows: out,
        timeline: months,
        total,
        by: format!("{:?}", q.by).to_lowercase(),
        now: q.now,
        from: q.from,
        to: q.to,
        threshold,
    })
}

/// The window's months, empty (at most [`MAX_MONTHS`]), with the first's
/// `year * 12 + month - 1`.
fn months(q: &Query) -> (Vec<Month>, i32) {
    let first = snapshot::month_of(q.from);
    let last = snapshot::month_of(q.to);
    let n = usize::try_from(last.saturating_sub(first).saturating_add(1))
        .unwrap_or(0)
        .min(MAX_MONTHS);
    let months = (0..n)
        .filter_map(|k| i32::try_from(k).ok())
        .map(|k| {
            let m = first + k;
            Month {
                month: format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1),
                ..Month::default()
            }
        })
        .collect();
    (months, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_grouping_is_invalid() {
        assert_eq!(By::parse("cluster").ok(), Some(By::Cluster));
        let e = By::parse("postcode").expect_err("unknown");
        assert!(e.to_string().contains("local_authority"), "{e}");
        let p = MarketParams {
            from: Some("2026-02-01".into()),
            to: Some("2026-01-01".into()),
            ..MarketParams::default()
        };
        assert!(p.query().is_err(), "a window that ends before it starts");
        let empty = MarketParams {
            from: Some(String::new()),
            ..MarketParams::default()
        };
        assert!(empty.query().is_err(), "an empty date is not a date");
        // The earliest day there is: the default window cannot start before it.
        let early = MarketParams {
            now: Some("0000-01-01".into()),
            ..MarketParams::default()
        };
        let q = early.query().expect("year 0");
        assert!(q.from.year() >= 0 && q.from <= q.to);
    }
}
