//! The named components of a match, each in [0, 1], with the reason a broker
//! reads for each. Pure functions of a notice and a member.

use sebroker_connectors::cpv;
use sebroker_connectors::money::format_pence;
use sebroker_connectors::places::Places;
use sebroker_index::{Member, Notice, Status};
use time::OffsetDateTime;

use crate::links::normalise_name;

/// The CPV closeness of two 8-digit codes: same code 1.0, same category
/// (5+ digits) 0.85, class (4) 0.7, group (3) 0.5, division (2) 0.3.
pub fn cpv_pair(a: &str, b: &str) -> f64 {
    cpv_pair_key(&CpvKey::new(a), &CpvKey::new(b))
}

/// A CPV code made ready for [`cpv_pair_key`]: its significant digits, and
/// their first eight bytes in one word, so that the digits two codes share
/// are one XOR away (a member with a long track record and a notice with
/// many codes make hundreds of pairs: comparing them byte by byte, and
/// finding each code's significant digits per pair, was a third of
/// re-matching real notices).
#[derive(Debug, Clone, Copy)]
pub struct CpvKey<'a> {
    code: &'a str,
    sig: &'a str,
    head: u64,
}

impl<'a> CpvKey<'a> {
    pub fn new(code: &'a str) -> CpvKey<'a> {
        let sig = cpv::significant(code);
        let mut head = [0u8; 8];
        for (h, b) in head.iter_mut().zip(sig.bytes()) {
            *h = b;
        }
        CpvKey {
            code,
            sig,
            head: u64::from_be_bytes(head),
        }
    }

    pub fn code(&self) -> &'a str {
        self.code
    }
}

/// The closeness of two keyed codes (see [`cpv_pair`]).
#[inline]
pub fn cpv_pair_key(a: &CpvKey<'_>, b: &CpvKey<'_>) -> f64 {
    let x = a.head ^ b.head;
    if x == 0 && a.code == b.code {
        return 1.0;
    }
    let short = a.sig.len().min(b.sig.len());
    // Bytes past a significant part's end are zero in its head: the count
    // is cut at the shorter part, so a zero there is never taken for a
    // shared digit.
    let common = if x == 0 && short > 8 {
        8 + sig_tail(a.sig)
            .iter()
            .zip(sig_tail(b.sig))
            .take_while(|(p, q)| p == q)
            .count()
    } else {
        ((x.leading_zeros() / 8) as usize).min(short)
    };
    closeness(common, a.sig.len(), b.sig.len())
}

/// Significant digits past the eighth (none in a well-formed code).
fn sig_tail(sig: &str) -> &[u8] {
    sig.as_bytes().get(8..).unwrap_or_default()
}

/// The closeness of two codes that differ, from how many significant
/// digits they share and how many each has.
#[inline]
fn closeness(common: usize, sa: usize, sb: usize) -> f64 {
    // A member offering a whole division/group (e.g. 85000000) covers its sub-codes.
    let covers = sb <= sa && common == sb || sa <= sb && common == sa;
    let level = match common {
        c if c >= 5 => 0.85,
        4 => 0.7,
        3 => 0.5,
        2 => 0.3,
        _ => 0.0,
    };
    if covers && common >= 2 {
        (level + 0.15f64).min(0.95)
    } else {
        level
    }
}

/// Best closeness between any notice code and any member code; the reason
/// is written only when `explain`.
pub fn cpv_score(n: &Notice, m: &Member, explain: bool) -> (f64, Option<String>) {
    // The member's codes as they come (no sorted copy per pair): of the
    // pairs with the best closeness, the first notice code and the smallest
    // member code name the reason, as over `Member::all_cpv`'s sorted list.
    let codes = m
        .cpv
        .iter()
        .chain(m.track_record.iter().flat_map(|t| &t.cpv));
    let members: Vec<CpvKey<'_>> = codes.map(|c| CpvKey::new(c)).collect();
    let mut best: (f64, Option<(usize, &str)>) = (0.0, None);
    for (i, nc) in n.cpv.iter().enumerate() {
        let nk = CpvKey::new(&nc.code);
        for mk in &members {
            let (s, mc) = (cpv_pair_key(&nk, mk), mk.code());
            let first = match best.1 {
                Some((bi, bm)) => s == best.0 && bi == i && mc < bm,
                None => false,
            };
            if s > best.0 || first {
                best = (s, Some((i, mc)));
            }
        }
    }
    (best.0, cpv_reason(n, best, explain))
}

/// [`cpv_score`]'s score alone: the best closeness of any pair, given the
/// notice's codes as keys.
pub fn cpv_score_quick(notice: &[CpvKey<'_>], m: &Member) -> f64 {
    let mut best = 0.0;
    for mc in m
        .cpv
        .iter()
        .chain(m.track_record.iter().flat_map(|t| &t.cpv))
    {
        let member = CpvKey::new(mc);
        for nc in notice {
            let s = cpv_pair_key(nc, &member);
            if s > best {
                best = s;
            }
        }
    }
    best
}

/// [`cpv_score`] against a member's codes given as `Member::all_cpv` gives
/// them (sorted, each once: the first best pair names the reason).
pub fn cpv_score_in<S: AsRef<str>>(
    n: &Notice,
    member_codes: &[S],
    explain: bool,
) -> (f64, Option<String>) {
    let mut best: (f64, Option<(usize, &str)>) = (0.0, None);
    for (i, nc) in n.cpv.iter().enumerate() {
        for mc in member_codes.iter().map(AsRef::as_ref) {
            let s = cpv_pair(&nc.code, mc);
            if s > best.0 {
                best = (s, Some((i, mc)));
            }
        }
    }
    (best.0, cpv_reason(n, best, explain))
}

/// The reason for the best (closeness, (notice code, member code)) pair.
fn cpv_reason(n: &Notice, best: (f64, Option<(usize, &str)>), explain: bool) -> Option<String> {
    match best.1 {
        Some((i, mc)) if explain => {
            let nc = &n.cpv[i];
            let what = nc
                .description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            Some(if best.0 >= 1.0 {
                format!("CPV {}{what} is one of its services", nc.code)
            } else {
                format!("CPV {}{what} is close to its {mc}", nc.code)
            })
        }
        _ => None,
    }
}

/// The finest codes of a set holding every NUTS level.
pub fn finest(codes: &[String]) -> Vec<&str> {
    codes
        .iter()
        .filter(|c| {
            !codes
                .iter()
                .any(|o| o.len() > c.len() && o.starts_with(c.as_str()))
        })
        .map(String::as_str)
        .collect()
}

/// The score of two places sharing a NUTS prefix, and its length: the
/// same NUTS2 area or finer 0.8, the same region 0.6, else 0.1.
fn shared_area(nc: &str, mc: &str) -> (f64, usize) {
    let common = nc
        .bytes()
        .zip(mc.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let s = match common {
        c if c >= 4 => 0.8,
        3 => 0.6,
        _ => 0.1,
    };
    (s, common)
}

/// Where the work is against where the member works.
/// `nuts` holds every level of the notice's places.
pub fn geography(
    nuts: &[String],
    m: &Member,
    places: &Places,
    explain: bool,
) -> (f64, Option<String>) {
    geography_in(&finest(nuts), m, &finest(&m.nuts), places, explain)
}

/// [`geography`] given the finest codes of the notice (`nf`) and of the
/// member (`mf`), as [`finest`] gives them.
pub fn geography_in<S: AsRef<str>, T: AsRef<str>>(
    nf: &[S],
    m: &Member,
    mf: &[T],
    places: &Places,
    explain: bool,
) -> (f64, Option<String>) {
    if nf.is_empty() || m.nuts.is_empty() {
        return (0.5, None);
    }
    if nf.iter().all(|c| c.as_ref().len() <= 2) {
        return (0.4, explain.then(|| "delivery is UK-wide".into()));
    }
    if let Some(nc) = nf
        .iter()
        .map(AsRef::as_ref)
        .find(|nc| m.nuts.iter().any(|mc| mc == nc))
    {
        let reason = explain.then(|| {
            let name = places
                .name_of(nc)
                .map(|x| format!(" ({x})"))
                .unwrap_or_default();
            format!("delivered in {nc}{name}, within its service area")
        });
        return (1.0, reason);
    }
    let mut best: (f64, Option<(&str, usize)>) = (0.0, None);
    for nc in nf.iter().map(AsRef::as_ref) {
        for mc in mf.iter().map(AsRef::as_ref) {
            let (s, common) = shared_area(nc, mc);
            if s > best.0 {
                best = (s, Some((nc, common)));
            }
        }
    }
    let reason = match best.1 {
        Some((nc, common)) if explain && common >= 3 => {
            let region = &nc[..common.min(nc.len())];
            let name = places
                .name_of(region)
                .map(|x| format!(" ({x})"))
                .unwrap_or_default();
            Some(format!(
                "delivered in {nc}, same area {region}{name} as its work"
            ))
        }
        _ => None,
    };
    (best.0, reason)
}

/// [`geography`]'s score alone (no reason), given the notice's finest codes:
/// the member's finest codes are worked out only when no code is shared.
pub fn geography_score<S: AsRef<str>>(nf: &[S], m: &Member) -> f64 {
    if nf.is_empty() || m.nuts.is_empty() {
        return 0.5;
    }
    if nf.iter().all(|c| c.as_ref().len() <= 2) {
        return 0.4;
    }
    if nf
        .iter()
        .any(|nc| m.nuts.iter().any(|mc| mc == nc.as_ref()))
    {
        return 1.0;
    }
    let mut best = 0.0;
    for nc in nf.iter().map(AsRef::as_ref) {
        for mc in finest(&m.nuts) {
            let (s, _) = shared_area(nc, mc);
            if s > best {
                best = s;
            }
        }
    }
    best
}

/// The values a notice's capacity is judged on: each lot's, else the
/// notice's own (empty: no value known).
pub fn capacity_values(n: &Notice) -> Vec<i64> {
    let mut values: Vec<i64> = n
        .lots
        .iter()
        .filter_map(|l| l.value.as_ref()?.headline_pence())
        .collect();
    if values.is_empty() {
        values.extend(n.value.headline_pence());
    }
    values
}

/// Value against the member's size: buyers expect annual value to be at most
/// about half of turnover. Multi-lot notices are judged on the lot that fits best.
pub fn capacity(n: &Notice, m: &Member, explain: bool) -> (f64, Option<String>) {
    let values = capacity_values(n);
    if values.is_empty() {
        return (0.6, None);
    }
    let mut best = (0.0f64, None);
    for v in values {
        let s = capacity_for(v, m, explain);
        if s.0 > best.0 {
            best = s;
        }
    }
    best
}

/// [`capacity`]'s score alone, given [`capacity_values`] (no reasons
/// written, nothing allocated).
pub fn capacity_score(values: &[i64], m: &Member) -> f64 {
    if values.is_empty() {
        return 0.6;
    }
    let mut best = 0.0f64;
    for &v in values {
        let mut s = match m.turnover_pence.filter(|t| *t > 0) {
            Some(t) => capacity_of_ratio(v as f64 / t as f64),
            None => match m.max_contract_pence {
                Some(max) if v <= max => 0.9,
                Some(_) => 0.3,
                None => 0.5,
            },
        };
        if m.min_contract_pence.is_some_and(|min| v < min) {
            s *= 0.6;
        }
        if s > best {
            best = s;
        }
    }
    best
}

/// Value divided by turnover → capacity: buyers expect value to be at most
/// about half of turnover.
pub fn capacity_of_ratio(ratio: f64) -> f64 {
    if ratio <= 0.5 {
        1.0
    } else if ratio <= 1.0 {
        0.7
    } else if ratio <= 2.0 {
        0.4
    } else {
        0.1
    }
}

fn capacity_for(v: i64, m: &Member, explain: bool) -> (f64, Option<String>) {
    let mut score: (f64, Option<String>) = match m.turnover_pence.filter(|t| *t > 0) {
        Some(t) => {
            let ratio = v as f64 / t as f64;
            let s = capacity_of_ratio(ratio);
            (
                s,
                explain.then(|| {
                    format!(
                        "value {} is {:.0}% of its turnover",
                        format_pence(v),
                        ratio * 100.0
                    )
                }),
            )
        }
        None => match m.max_contract_pence {
            Some(max) if v <= max => (
                0.9,
                explain.then(|| format!("value {} is within its contract range", format_pence(v))),
            ),
            Some(_) => (
                0.3,
                explain.then(|| {
                    format!(
                        "value {} is above its largest contract size",
                        format_pence(v)
                    )
                }),
            ),
            None => (0.5, None),
        },
    };
    if m.min_contract_pence.is_some_and(|min| v < min) {
        score.0 *= 0.6;
        score.1 = explain.then(|| {
            format!(
                "value {} is below its smallest contract size",
                format_pence(v)
            )
        });
    }
    score
}

/// When there is a deadline: `None` when the notice cannot be bid for at
/// `now` (closed, awarded, cancelled) — a hard exclusion.
pub fn timing(n: &Notice, now: OffsetDateTime) -> Option<(f64, Option<String>)> {
    match n.status(now) {
        Status::Open => {
            let Some(d) = n.deadline else {
                return Some((0.8, None));
            };
            let days = (d - now).whole_days();
            let s = match days {
                d if d >= 14 => 1.0,
                d if d >= 7 => 0.7,
                d if d >= 2 => 0.4,
                _ => 0.2,
            };
            Some((s, Some(format!("{days} days left to bid"))))
        }
        Status::Pipeline | Status::Planned => {
            Some((0.8, Some("early signal: not yet open for bids".into())))
        }
        _ => None,
    }
}

/// SME/VCSE suitability and reservation against what the member is.
pub fn suitability(n: &Notice, m: &Member) -> (f64, Option<String>) {
    if n.reserved && (m.vcse || m.sme) {
        (1.0, Some("reserved for SMEs and VCSEs".into()))
    } else if n.suitability.vcse && m.vcse {
        (1.0, Some("marked suitable for VCSEs".into()))
    } else if n.suitability.sme && m.sme {
        (0.8, Some("marked suitable for SMEs".into()))
    } else {
        (0.4, None)
    }
}

/// [`suitability`]'s score alone (its reasons are fixed words, allocated
/// only when shown).
pub fn suitability_score(n: &Notice, m: &Member) -> f64 {
    if n.reserved && (m.vcse || m.sme) || n.suitability.vcse && m.vcse {
        1.0
    } else if n.suitability.sme && m.sme {
        0.8
    } else {
        0.4
    }
}

/// Whether `text` in lower case contains `lower` (itself lower case), as
/// `text.to_lowercase().contains(lower)`, without a lower-case copy when
/// `text` is ASCII (most buyer names).
pub fn lowered_contains(text: &str, lower: &str) -> bool {
    if !text.is_ascii() {
        return text.to_lowercase().contains(lower);
    }
    let (t, l) = (text.as_bytes(), lower.as_bytes());
    if l.is_empty() {
        return true;
    }
    t.windows(l.len())
        .any(|w| w.iter().zip(l).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

/// [`relationship`]'s score alone: the best confidence of a past award from
/// the same buyer. `same` remembers, per past buyer's name, whether it is
/// the notice's buyer (normalising a name costs more than the rest of a
/// candidate's score, and candidates share their buyers).
pub fn relationship_score<'m>(
    buyer: &str,
    m: &'m Member,
    same: &mut std::collections::HashMap<&'m str, bool>,
) -> f64 {
    let Some(first) = buyer.split(' ').next().filter(|w| !w.is_empty()) else {
        return 0.0;
    };
    let mut best = 0.0;
    for t in &m.track_record {
        let Some(tb) = t.buyer.as_deref() else {
            continue;
        };
        if lowered_contains(tb, first)
            && *same
                .entry(tb)
                .or_insert_with(|| strsim::jaro_winkler(buyer, &normalise_name(tb)) >= 0.9)
        {
            let s = t.confidence.clamp(0.0, 1.0);
            if s > best {
                best = s;
            }
        }
    }
    best
}

/// Past work for the same buyer. `buyer` is the notice buyer's normalised
/// name (computed once per notice).
pub fn relationship(buyer: &str, m: &Member, explain: bool) -> (f64, Option<String>) {
    let Some(first) = buyer.split(' ').next().filter(|w| !w.is_empty()) else {
        return (0.0, None);
    };
    let mut best: (f64, Option<&sebroker_index::TrackRecord>) = (0.0, None);
    for t in &m.track_record {
        let Some(tb) = t.buyer.as_deref() else {
            continue;
        };
        // Cheap pre-check before normalising: the first word must appear.
        if !lowered_contains(tb, first) {
            continue;
        }
        if strsim::jaro_winkler(buyer, &normalise_name(tb)) >= 0.9 {
            let s = t.confidence.clamp(0.0, 1.0);
            if s > best.0 {
                best = (s, Some(t));
            }
        }
    }
    let reason = best.1.filter(|_| explain).map(|t| {
        let when = t.year.map(|y| format!(" ({y})")).unwrap_or_default();
        format!(
            "has worked for {} before{when}",
            t.buyer.as_deref().unwrap_or("")
        )
    });
    (best.0, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The closeness of two codes compared byte by byte (how `cpv_pair`
    /// was written before codes were keyed): the reference for the keys.
    fn byte_by_byte(a: &str, b: &str) -> f64 {
        if a == b {
            return 1.0;
        }
        let (sa, sb) = (cpv::significant(a), cpv::significant(b));
        let common = sa
            .bytes()
            .zip(sb.bytes())
            .take_while(|(x, y)| x == y)
            .count();
        closeness(common, sa.len(), sb.len())
    }

    proptest::proptest! {
        /// Keyed pairs are the byte-by-byte closeness, bit for bit, for codes
        /// well formed or not: check digits, long, short, empty, other bytes.
        #[test]
        fn keyed_pairs_equal_cpv_pair(
            a in "([0-9]{1,8}(-[0-9])?|[0-9]{8}[0-9a-z]{0,6}|[0\\x00a-z]{0,10})",
            b in "([0-9]{1,8}(-[0-9])?|[0-9]{8}[0-9a-z]{0,6}|[0\\x00a-z]{0,10})",
        ) {
            let keyed = cpv_pair_key(&CpvKey::new(&a), &CpvKey::new(&b));
            proptest::prop_assert_eq!(keyed.to_bits(), byte_by_byte(&a, &b).to_bits());
        }

        /// Codes sharing their first digits (the cases that decide a score).
        #[test]
        fn keyed_pairs_equal_cpv_pair_near(
            stem in "[0-9]{2,8}",
            x in "[0-9]{0,6}(-[0-9])?",
            y in "[0-9]{0,6}(-[0-9])?",
        ) {
            let (a, b) = (format!("{stem}{x}"), format!("{stem}{y}"));
            let keyed = cpv_pair_key(&CpvKey::new(&a), &CpvKey::new(&b));
            proptest::prop_assert_eq!(keyed.to_bits(), byte_by_byte(&a, &b).to_bits());
        }
    }

    #[test]
    fn cpv_closeness_follows_the_hierarchy() {
        assert_eq!(cpv_pair("85312000", "85312000"), 1.0);
        assert!(cpv_pair("85312000", "85312100") >= 0.85);
        assert_eq!(cpv_pair("85312000", "85320000"), 0.5);
        assert_eq!(cpv_pair("85312000", "85110000"), 0.3);
        assert_eq!(cpv_pair("85312000", "90910000"), 0.0);
        // A member offering the whole division covers its codes, but less than an exact match.
        let d = cpv_pair("85312000", "85000000");
        assert!(d > 0.3 && d < 1.0);
    }
}
