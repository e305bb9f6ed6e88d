//! The compiled notice: one per procurement (OCDS `ocid`), merged from all of
//! its releases. Money is integer pence; times keep the offset they were
//! published with.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where a notice's process stands, from its notice type or OCDS tags.
/// `Tender` becomes `open` or `closed` at query time, against a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Pipeline,
    Planned,
    Tender,
    Awarded,
    Cancelled,
    #[default]
    Unknown,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Pipeline => "pipeline",
            Stage::Planned => "planned",
            Stage::Tender => "tender",
            Stage::Awarded => "awarded",
            Stage::Cancelled => "cancelled",
            Stage::Unknown => "unknown",
        }
    }
}

/// The status users filter on: the stage, with `tender` split by deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pipeline,
    Planned,
    Open,
    Closed,
    Awarded,
    Cancelled,
    Unknown,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Pipeline,
        Status::Planned,
        Status::Open,
        Status::Closed,
        Status::Awarded,
        Status::Cancelled,
        Status::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pipeline => "pipeline",
            Status::Planned => "planned",
            Status::Open => "open",
            Status::Closed => "closed",
            Status::Awarded => "awarded",
            Status::Cancelled => "cancelled",
            Status::Unknown => "unknown",
        }
    }

    /// Parses the one vocabulary used by the CLI, the API and the config.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The status of a notice at stage `stage` with `deadline`, seen at `now`.
    /// A tender without a deadline counts as open: nothing says it closed.
    pub fn at(stage: Stage, deadline: Option<OffsetDateTime>, now: OffsetDateTime) -> Status {
        match stage {
            Stage::Pipeline => Status::Pipeline,
            Stage::Planned => Status::Planned,
            Stage::Tender => match deadline {
                Some(d) if d <= now => Status::Closed,
                _ => Status::Open,
            },
            Stage::Awarded => Status::Awarded,
            Stage::Cancelled => Status::Cancelled,
            Stage::Unknown => Status::Unknown,
        }
    }
}

/// One release that contributed to the notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRef {
    pub id: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub date: Option<OffsetDateTime>,
    pub tags: Vec<String>,
}

/// A CPV code (8 digits, no check digit) and its English description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpvCode {
    pub code: String,
    pub description: Option<String>,
}

/// An amount of money. Every amount is in integer pence; `unbounded` is set
/// when the source gave a number too large to hold (e.g. `1e9999`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Value {
    pub amount_pence: Option<i64>,
    pub gross_pence: Option<i64>,
    pub min_pence: Option<i64>,
    pub max_pence: Option<i64>,
    /// ISO 4217 code as published; `None` when the source gave none (never assumed).
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unbounded: bool,
}

impl Value {
    /// The best single figure for filtering and sorting: net, else gross,
    /// else the maximum, else the minimum.
    pub fn headline_pence(&self) -> Option<i64> {
        self.amount_pence
            .or(self.gross_pence)
            .or(self.max_pence)
            .or(self.min_pence)
    }

    pub fn is_empty(&self) -> bool {
        self.headline_pence().is_none() && !self.unbounded
    }
}

/// SME / VCSE suitability flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suitability {
    pub sme: bool,
    pub vcse: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub id: String,
    pub title: Option<String>,
    pub value: Option<Value>,
    pub suitability: Suitability,
    /// How bids for the lot are judged (`awardCriteria.criteria[]`).
    #[serde(default)]
    pub award_criteria: Vec<Criterion>,
    /// The lot's own CPV codes (its items'), when the notice links items to lots.
    #[serde(default)]
    pub cpv: Vec<String>,
    /// The lot's own delivery places, every NUTS level, when given.
    #[serde(default)]
    pub nuts: Vec<String>,
}

/// One award criterion of a lot, as published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Criterion {
    /// `price`, `cost` or `quality`.
    pub kind: Option<String>,
    pub name: Option<String>,
    /// Its weight in basis points (1500 = 15%), when given as an exact percentage.
    pub weight_bp: Option<u32>,
    /// Its name or description says "social value".
    pub social_value: bool,
}

impl Lot {
    /// The weight of social value in this lot's award (basis points), when
    /// some criterion is social value with a weight.
    pub fn social_value_bp(&self) -> Option<u32> {
        self.award_criteria
            .iter()
            .filter(|c| c.social_value)
            .filter_map(|c| c.weight_bp)
            .fold(None, |a, w| Some(a.unwrap_or(0).saturating_add(w)))
    }
}

/// A published contact point. Kept in the store and shown on the notice's own
/// detail only; never logged, never in search results.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub telephone: Option<String>,
    pub url: Option<String>,
}

impl std::fmt::Debug for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Contact(<redacted>)")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    pub name: Option<String>,
    pub id: Option<String>,
    /// NUTS code or region name, as published.
    pub region: Option<String>,
    pub postcode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplier {
    pub name: Option<String>,
    /// `scheme-id`, e.g. `GB-COH-01234567`, or the party id when no identifier.
    pub identifier: Option<String>,
    /// `sme` or `large`, as published.
    pub scale: Option<String>,
    pub vcse: Option<bool>,
    /// The postcode of its address, as published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Award {
    pub id: String,
    pub status: Option<String>,
    pub suppliers: Vec<Supplier>,
    pub value: Option<Value>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub date: Option<OffsetDateTime>,
    /// The lots it is for (`relatedLots`), as published.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lots: Vec<String>,
}

/// The compiled notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub ocid: String,
    /// `fts`, `cf`, `anchor:<slug>` or `ocds:<name>`.
    pub source: String,
    pub source_url: Option<String>,
    pub releases: Vec<ReleaseRef>,
    /// Procurement Act notice type `UK1`..`UK17`, when published.
    pub notice_type: Option<String>,
    pub stage: Stage,
    pub title: String,
    pub description: String,
    pub buyer: Buyer,
    pub contacts: Vec<Contact>,
    pub cpv: Vec<CpvCode>,
    pub value: Value,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
    /// Places as published: NUTS codes, region names, postcodes.
    pub places: Vec<String>,
    /// Every NUTS code the places resolve to, at every level (`UK`, `UKG`, `UKG2`, `UKG21`).
    pub nuts: Vec<String>,
    /// Notice-level suitability, or any lot's.
    pub suitability: Suitability,
    /// Participation reserved for SMEs/VCSEs (`smeVcse`).
    pub reserved: bool,
    pub lots: Vec<Lot>,
    pub awards: Vec<Award>,
}

impl Notice {
    pub fn status(&self, now: OffsetDateTime) -> Status {
        Status::at(self.stage, self.deadline, now)
    }

    /// The largest weight of social value in any lot's award (basis points).
    pub fn social_value_bp(&self) -> Option<u32> {
        self.lots.iter().filter_map(Lot::social_value_bp).max()
    }

    /// The lots an award is for: its own `relatedLots`, else the notice's
    /// only lot (a call-off notice often names its one lot and nothing else).
    pub fn award_lots(&self, a: &Award) -> Vec<String> {
        match (a.lots.is_empty(), self.lots.as_slice()) {
            (false, _) => a.lots.clone(),
            (true, [only]) => vec![only.id.clone()],
            _ => Vec::new(),
        }
    }

    /// The CPV divisions (first two digits) of the notice, deduplicated.
    pub fn cpv_divisions(&self) -> Vec<String> {
        let mut d: Vec<String> = self
            .cpv
            .iter()
            .filter_map(|c| c.code.get(..2).map(str::to_owned))
            .collect();
        d.sort();
        d.dedup();
        d
    }

    /// The NUTS1 regions among the notice's places (`UKG`...).
    pub fn regions(&self) -> Vec<String> {
        self.nuts.iter().filter(|n| n.len() == 3).cloned().collect()
    }
}

/// What a search result shows: the notice without its contacts, releases,
/// lots or awards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeSummary {
    pub ocid: String,
    pub source: String,
    pub notice_type: Option<String>,
    pub status: Status,
    pub title: String,
    pub buyer: Option<String>,
    pub cpv: Vec<String>,
    pub value: Value,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
    pub nuts: Vec<String>,
    pub suitability: Suitability,
    pub reserved: bool,
}

impl NoticeSummary {
    pub fn of(n: &Notice, now: OffsetDateTime) -> Self {
        NoticeSummary {
            ocid: n.ocid.clone(),
            source: n.source.clone(),
            notice_type: n.notice_type.clone(),
            status: n.status(now),
            title: n.title.clone(),
            buyer: n.buyer.name.clone(),
            cpv: n.cpv.iter().map(|c| c.code.clone()).collect(),
            value: n.value.clone(),
            published: n.published,
            deadline: n.deadline,
            nuts: n.nuts.clone(),
            suitability: n.suitability,
            reserved: n.reserved,
        }
    }
}

/// A search result as the index stores it, so that a hit is answered from
/// the index alone: the summary, and the stage its clock-dependent status
/// is judged from at query time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub stage: Stage,
    pub summary: NoticeSummary,
}

impl Listing {
    pub fn of(n: &Notice) -> Self {
        Listing {
            stage: n.stage,
            // The status stored here is replaced on every read.
            summary: NoticeSummary::of(n, OffsetDateTime::UNIX_EPOCH),
        }
    }

    /// The summary with its status judged against `now`.
    pub fn at(mut self, now: OffsetDateTime) -> NoticeSummary {
        self.summary.status = Status::at(self.stage, self.summary.deadline, now);
        self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn tender_status_depends_on_the_clock() {
        let deadline = Some(datetime!(2026-08-25 12:00 +01:00));
        assert_eq!(
            Status::at(Stage::Tender, deadline, datetime!(2026-08-25 10:59 UTC)),
            Status::Open
        );
        assert_eq!(
            Status::at(Stage::Tender, deadline, datetime!(2026-08-25 11:00 UTC)),
            Status::Closed
        );
        assert_eq!(
            Status::at(Stage::Tender, None, datetime!(2030-01-01 0:00 UTC)),
            Status::Open
        );
    }

    #[test]
    fn status_vocabulary_round_trips() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("OPEN"), Some(Status::Open));
        assert_eq!(Status::parse("live"), None);
    }

    #[test]
    fn contacts_never_print() {
        let c = Contact {
            email: Some("officer@example.org".into()),
            ..Contact::default()
        };
        assert!(!format!("{c:?}").contains("officer"));
    }
}
