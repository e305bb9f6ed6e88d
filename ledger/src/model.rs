//! The ledger's records: statuses, events, the hash chain, and the inputs
//! brokers send (parsed into valid events, never trusted as they come).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};

use crate::auth::hex;

/// Where a brokerage case stands. Moves forward only; `won`, `lost` and
/// `withdrawn` end it (a compensating `void` can reopen it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Identified,
    Introduced,
    Interested,
    BidSubmitted,
    Won,
    Lost,
    Withdrawn,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 7] = [
        CaseStatus::Identified,
        CaseStatus::Introduced,
        CaseStatus::Interested,
        CaseStatus::BidSubmitted,
        CaseStatus::Won,
        CaseStatus::Lost,
        CaseStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Identified => "identified",
            CaseStatus::Introduced => "introduced",
            CaseStatus::Interested => "interested",
            CaseStatus::BidSubmitted => "bid_submitted",
            CaseStatus::Won => "won",
            CaseStatus::Lost => "lost",
            CaseStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CaseStatus::Won | CaseStatus::Lost | CaseStatus::Withdrawn
        )
    }

    /// Whether the case is still being worked (reconciliation proposes wins
    /// only for these).
    pub fn is_open(self) -> bool {
        !self.is_terminal()
    }

    /// The steps a case in this status may take next, in pipeline order:
    /// forward only, any end at any time, nothing after an end (a void
    /// reopens). [`crate::state::State::check`] refuses every other step.
    pub fn next_steps(self) -> Vec<CaseStatus> {
        if self.is_terminal() {
            return Vec::new();
        }
        CaseStatus::ALL
            .into_iter()
            .filter(|s| *s != CaseStatus::Identified && (s.is_terminal() || *s > self))
            .collect()
    }
}

/// The two referral programmes the funder counts.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Programme {
    /// Social Economy Growth Accelerator.
    Sega,
    /// Social Economy Development Fund.
    Sedf,
}

impl Programme {
    pub fn as_str(self) -> &'static str {
        match self {
            Programme::Sega => "sega",
            Programme::Sedf => "sedf",
        }
    }
}

/// One consortium member's share of a win, in basis points (10000 = 100%).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Share {
    pub member_id: String,
    pub basis_points: u32,
}

/// A member's yearly return: the figures the KPIs are built from. Every
/// figure is optional; a later return for the same member and year replaces
/// the earlier one (a correction is a new return, never an edit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnFigures {
    /// The year the return covers (e.g. 2026 for the year ending in 2026).
    pub year: i32,
    #[serde(default)]
    pub turnover_pence: Option<i64>,
    #[serde(default)]
    pub employees: Option<u32>,
    #[serde(default)]
    pub new_products_services: Option<u32>,
    #[serde(default)]
    pub new_markets: Option<u32>,
    #[serde(default)]
    pub volunteering_hours: Option<u32>,
    #[serde(default)]
    pub clients_supported: Option<u32>,
    #[serde(default)]
    pub jobs_created: Option<u32>,
}

/// What happened. Each variant is one kind of append-only event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A case is opened (status `identified`) for a notice (and the other
    /// notices of its opportunity group) and a member or a consortium. The
    /// notice's source, buyer and CPV division are copied so that totals can
    /// be recomputed from the ledger alone.
    CaseOpened {
        case_id: String,
        ocid: String,
        #[serde(default)]
        group: Vec<String>,
        members: Vec<String>,
        lead: String,
        title: String,
        source: String,
        buyer: Option<String>,
        cpv_division: Option<String>,
    },
    /// The case moved to `introduced`, `interested`, `bid_submitted`, `lost`
    /// or `withdrawn`.
    StatusChanged { case_id: String, status: CaseStatus },
    /// The case was won: the contract value and each member's share.
    Won {
        case_id: String,
        value_pence: i64,
        shares: Vec<Share>,
    },
    /// A compensating event: the event `voids_seq` no longer counts.
    Voided { voids_seq: u64, reason: String },
    /// A member's cluster from `date` on (recorded at each members import).
    ClusterChanged { member_id: String, cluster: String },
    /// A member was referred to SEGA or SEDF.
    Referral {
        member_id: String,
        programme: Programme,
    },
    /// A member's yearly return.
    ReturnFiled {
        member_id: String,
        figures: ReturnFigures,
    },
    /// An API key was created (its hash only, never the key). Keys are
    /// events so that a lost write cannot bring a revoked key back: the
    /// head covers them.
    KeyCreated { key: crate::auth::ApiKey },
    /// An API key was revoked (from the record's `recorded_at` on).
    KeyRevoked { key_id: String },
    /// This ledger replaced a missing one (`sebroker ledger init
    /// --replace-missing`): what the data folder remembered of it.
    LedgerReplaced {
        previous_ledger_id: String,
        previous_seq: u64,
        previous_hash: String,
    },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::CaseOpened { .. } => "case_opened",
            Event::StatusChanged { .. } => "status_changed",
            Event::Won { .. } => "won",
            Event::Voided { .. } => "voided",
            Event::ClusterChanged { .. } => "cluster_changed",
            Event::Referral { .. } => "referral",
            Event::ReturnFiled { .. } => "return_filed",
            Event::KeyCreated { .. } => "key_created",
            Event::KeyRevoked { .. } => "key_revoked",
            Event::LedgerReplaced { .. } => "ledger_replaced",
        }
    }

    pub fn case_id(&self) -> Option<&str> {
        match self {
            Event::CaseOpened { case_id, .. }
            | Event::StatusChanged { case_id, .. }
            | Event::Won { case_id, .. } => Some(case_id),
            _ => None,
        }
    }

    /// The member the event is about (for members' own views).
    pub fn member_id(&self) -> Option<&str> {
        match self {
            Event::ClusterChanged { member_id, .. }
            | Event::Referral { member_id, .. }
            | Event::ReturnFiled { member_id, .. } => Some(member_id),
            _ => None,
        }
    }
}

/// An event as stored: numbered, dated, signed by its author, chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// 1, 2, 3... without gaps.
    pub seq: u64,
    /// When the event was recorded (with its UTC offset).
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// The business date (of the win, the referral...), `YYYY-MM-DD`.
    #[serde(with = "ymd")]
    pub date: Date,
    /// Who recorded it: the API key's id and name, or `cli:<user>`.
    pub actor: String,
    pub idempotency_key: String,
    #[serde(default)]
    pub notes: Option<String>,
    pub event: Event,
    /// The personal data of the record (notes, the author's name, a void's
    /// reason, a key's name), encrypted under its subject's key outside the
    /// chain (`crate::seal`); absent in records from before sealing, which
    /// the ledger migrates once at open. The hash covers the ciphertext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Sealed>,
    /// The hash of the previous record (hex; 64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and this record's other fields: the
    /// record's checksum and the chain link.
    pub hash: String,
}

/// The sealed personal part of a record as the chain stores (and hashes)
/// it; `crate::seal` makes and opens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// Whose key seals it: `member:<id>`, `case:<id>`, `key:<id>`, `ledger`.
    pub subject: String,
    /// 12 random bytes, hex.
    pub nonce: String,
    /// ChaCha20-Poly1305 ciphertext of the `crate::seal::Personal` JSON, hex.
    pub data: String,
}

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Record {
    /// Computes this record's hash from its content (ignoring `hash`).
    pub fn compute_hash(&self) -> String {
        let mut body = self.clone();
        body.hash = String::new();
        // Serialising a plain struct cannot fail.
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(b"\n");
        h.update(&bytes);
        hex(&h.finalize())
    }

    /// The fingerprint of what was asked (not when or as which number), to
    /// tell a retry from a different request reusing an idempotency key.
    pub fn request_fingerprint(&self) -> String {
        let v = serde_json::json!({
            "date": ymd::format(self.date),
            "notes": self.notes,
            "event": self.event,
        });
        let mut h = Sha256::new();
        h.update(v.to_string().as_bytes());
        hex(&h.finalize())
    }
}

/// Splits `value` by `shares` in whole pence (rounding down), giving the
/// remainder to `lead`, so that the parts always sum to `value`. The sums
/// run in `i128` (a share of any `i64` fits), so nothing can wrap; a
/// negative value or shares above 100% (refused on append) give no parts.
pub fn split(value: i64, shares: &[Share], lead: &str) -> Vec<(String, i64)> {
    let total_bp: u64 = shares.iter().map(|s| u64::from(s.basis_points)).sum();
    if value < 0 || total_bp > 10_000 {
        return Vec::new();
    }
    let mut given: i128 = 0;
    let mut parts: Vec<(String, i64)> = Vec::with_capacity(shares.len() + 1);
    for s in shares {
        // value × bp / 10000 ≤ value because bp ≤ 10000: it fits an i64.
        let p = i128::from(value) * i128::from(s.basis_points) / 10_000;
        given += p;
        parts.push((s.member_id.clone(), i64::try_from(p).unwrap_or(0)));
    }
    // 0 ≤ rest ≤ value, so it fits too.
    let rest = i64::try_from(i128::from(value) - given).unwrap_or(0);
    match parts.iter_mut().find(|(m, _)| m == lead) {
        Some((_, p)) => *p = p.checked_add(rest).unwrap_or(*p),
        None => parts.push((lead.to_owned(), rest)),
    }
    parts
}

/// The default of `[ledger] max_value_pence`: £1bn, the most one contract
/// booked in the ledger may be worth.
pub const DEFAULT_MAX_VALUE_PENCE: i64 = 100_000_000_000;

/// Checks money a broker sends: not negative, not above `max` (pence).
/// `what` names the field in the message.
pub fn check_money(what: &str, pence: i64, max: i64) -> Result<(), String> {
    if pence < 0 {
        return Err(format!("{what}: {pence} is negative"));
    }
    if pence > max {
        return Err(format!(
            "{what}: {pence} pence is above the most the ledger accepts for one entry ({max} pence, `[ledger] max_value_pence`); check the figure is in pence"
        ));
    }
    Ok(())
}

/// Adds money without wrapping: `None` when the sum does not fit.
pub fn sum_pence(values: impl IntoIterator<Item = i64>) -> Option<i64> {
    values
        .into_iter()
        .try_fold(0i64, |acc, v| acc.checked_add(v))
}

/// `YYYY-MM-DD` dates.
pub mod ymd {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    const FMT: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]");

    pub fn format(d: Date) -> String {
        d.format(FMT).unwrap_or_default()
    }

    pub fn parse(s: &str) -> Result<Date, String> {
        Date::parse(s.trim(), FMT).map_err(|_| format!("{s:?} is not a date like 2026-04-01"))
    }

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(m: &str, bp: u32) -> Share {
        Share {
            member_id: m.into(),
            basis_points: bp,
        }
    }

    #[test]
    fn split_gives_the_remainder_to_the_lead() {
        let parts = split(
            100_001,
            &[share("a", 3333), share("b", 3333), share("c", 3334)],
            "b",
        );
        assert_eq!(
            parts,
            vec![
                ("a".into(), 33_330),
                ("b".into(), 33_331),
                ("c".into(), 33_340)
            ]
        );
        assert_eq!(parts.iter().map(|p| p.1).sum::<i64>(), 100_001);
        assert_eq!(split(7, &[share("a", 10_000)], "a"), vec![("a".into(), 7)]);
    }

    #[test]
    fn split_never_wraps_and_sums_to_the_whole() {
        let parts = split(i64::MAX, &[share("a", 5000), share("b", 5000)], "a");
        assert_eq!(sum_pence(parts.iter().map(|p| p.1)), Some(i64::MAX));
        assert_eq!(parts[1].1, i64::MAX / 2);
        assert!(split(-5, &[share("a", 10_000)], "a").is_empty());
        assert!(split(5, &[share("a", 10_000), share("b", 1)], "a").is_empty());
    }

    #[test]
    fn money_is_bounded_and_sums_are_checked() {
        let max = DEFAULT_MAX_VALUE_PENCE;
        assert!(check_money("v", 0, max).is_ok());
        assert!(check_money("v", max, max).is_ok());
        assert!(check_money("v", max + 1, max).is_err());
        assert!(check_money("v", -1, max).is_err());
        assert!(check_money("v", i64::MAX, max).is_err_and(|m| m.contains("max_value_pence")));
        assert_eq!(sum_pence([1, 2, 3]), Some(6));
        assert_eq!(sum_pence([i64::MAX, 1]), None);
        assert_eq!(sum_pence([i64::MIN, -1]), None);
        assert_eq!(sum_pence([]), Some(0));
    }

    #[test]
    fn the_hash_covers_every_field() {
        let mut r = Record {
            seq: 1,
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            date: time::macros::date!(2026 - 04 - 01),
            actor: "t".into(),
            idempotency_key: "k".into(),
            notes: None,
            event: Event::Referral {
                member_id: "m".into(),
                programme: Programme::Sega,
            },
            sealed: None,
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        r.hash = r.compute_hash();
        let json = serde_json::to_string(&r).expect("json");
        let back: Record = serde_json::from_str(&json).expect("back");
        assert_eq!(back.compute_hash(), r.hash);
        let mut tampered = back.clone();
        tampered.actor = "u".into();
        assert_ne!(tampered.compute_hash(), r.hash);
    }
}
