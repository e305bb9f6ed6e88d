//! The named components of a match, each in [0, 1], with the reason a broker
//! reads for each. Pure functions of a notice and a member.

use sebroker_connectors::cpv;
use sebroker_connectors::money::format_pence;
use sebroker_connectors::places::Places;
use sebroker_index::{Member, Notice, Status};
use time::OffsetDateTime;

use crate::members::links::normalise_name;

/// The CPV closeness of two 8-digit codes: same code 1.0, same category
/// (5+ digits) 0.85, class (4) 0.7, group (3) 0.5, division (2) 0.3.
pub fn cpv_pair(a: &str, b: &str) -> f32 {
    if a == b {
        return 1.0;
    }
    let (sa, sb) = (cpv::significant(a), cpv::significant(b));
    let common = sa
        .bytes()
        .zip(sb.bytes())
        .take_while(|(x, y)| x == y)
        .count();
    // A member offering a whole division/group (e.g. 85000000) covers its sub-codes.
    let covers =
        sb.len() <= sa.len() && common == sb.len() || sa.len() <= sb.len() && common == sa.len();
    let level = match common {
        c if c >= 5 => 0.85,
        4 => 0.7,
        3 => 0.5,
        2 => 0.3,
        _ => 0.0,
    };
    if covers && common >= 2 {
        (level + 0.15f32).min(0.95)
    } else {
        level
    }
}

/// Best closeness between any notice code and any member code.
pub fn cpv_score(n: &Notice, m: &Member) -> (f32, Option<String>) {
    let member_codes = m.all_cpv();
    let mut best = (0.0f32, None);
    for nc in &n.cpv {
        for mc in &member_codes {
            let s = cpv_pair(&nc.code, mc);
            if s > best.0 {
                let what = nc
                    .description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                let reason = if s >= 1.0 {
                    format!("CPV {}{what} is one of its services", nc.code)
                } else {
                    format!("CPV {}{what} is close to its {mc}", nc.code)
                };
                best = (s, Some(reason));
            }
        }
    }
    best
}

/// The finest codes of a set holding every NUTS level.
fn finest(codes: &[String]) -> Vec<&str> {
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

/// Where the work is against where the member works.
pub fn geography(n: &Notice, m: &Member, places: &Places) -> (f32, Option<String>) {
    let nf = finest(&n.nuts);
    if nf.is_empty() || m.nuts.is_empty() {
        return (0.5, None);
    }
    if nf.iter().all(|c| c.len() <= 2) {
        return (0.4, Some("delivery is UK-wide".into()));
    }
    let mut best = (0.0f32, None);
    for nc in &nf {
        if m.nuts.iter().any(|mc| mc == nc) {
            let name = places
                .name_of(nc)
                .map(|x| format!(" ({x})"))
                .unwrap_or_default();
            return (
                1.0,
                Some(format!("delivered in {nc}{name}, within its service area")),
            );
        }
        for mc in finest(&m.nuts) {
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
            if s > best.0 {
                let region = &nc[..common.min(nc.len())];
                let name = places
                    .name_of(region)
                    .map(|x| format!(" ({x})"))
                    .unwrap_or_default();
                best = (
                    s,
                    (common >= 3).then(|| {
                        format!("delivered in {nc}, same area {region}{name} as its work")
                    }),
                );
            }
        }
    }
    best
}

/// Value against the member's size: buyers expect annual value to be at most
/// about half of turnover. Multi-lot notices are judged on the lot that fits best.
pub fn capacity(n: &Notice, m: &Member) -> (f32, Option<String>) {
    let mut values: Vec<i64> = n
        .lots
        .iter()
        .filter_map(|l| l.value.as_ref()?.headline_pence())
        .collect();
    if values.is_empty() {
        values.extend(n.value.headline_pence());
    }
    if values.is_empty() {
        return (0.6, None);
    }
    let mut best = (0.0f32, None);
    for v in values {
        let s = capacity_for(v, m);
        if s.0 > best.0 {
            best = s;
        }
    }
    best
}

fn capacity_for(v: i64, m: &Member) -> (f32, Option<String>) {
    let mut score = match m.turnover_pence.filter(|t| *t > 0) {
        Some(t) => {
            let ratio = v as f64 / t as f64;
            let s = if ratio <= 0.5 {
                1.0
            } else if ratio <= 1.0 {
                0.7
            } else if ratio <= 2.0 {
                0.4
            } else {
                0.1
            };
            (
                s,
                Some(format!(
                    "value {} is {:.0}% of its turnover",
                    format_pence(v),
                    ratio * 100.0
                )),
            )
        }
        None => match m.max_contract_pence {
            Some(max) if v <= max => (
                0.9,
                Some(format!(
                    "value {} is within its contract range",
                    format_pence(v)
                )),
            ),
            Some(_) => (
                0.3,
                Some(format!(
                    "value {} is above its largest contract size",
                    format_pence(v)
                )),
            ),
            None => (0.5, None),
        },
    };
    if m.min_contract_pence.is_some_and(|min| v < min) {
        score.0 *= 0.6;
        score.1 = Some(format!(
            "value {} is below its smallest contract size",
            format_pence(v)
        ));
    }
    score
}

/// When there is a deadline: `None` when the notice cannot be bid for at
/// `now` (closed, awarded, cancelled) — a hard exclusion.
pub fn timing(n: &Notice, now: OffsetDateTime) -> Option<(f32, Option<String>)> {
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
pub fn suitability(n: &Notice, m: &Member) -> (f32, Option<String>) {
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

/// Past work for the same buyer.
pub fn relationship(n: &Notice, m: &Member) -> (f32, Option<String>) {
    let Some(buyer) = n
        .buyer
        .name
        .as_deref()
        .map(normalise_name)
        .filter(|b| !b.is_empty())
    else {
        return (0.0, None);
    };
    let mut best = (0.0f32, None);
    for t in &m.track_record {
        let Some(tb) = t.buyer.as_deref() else {
            continue;
        };
        if strsim::jaro_winkler(&buyer, &normalise_name(tb)) >= 0.9 {
            let s = t.confidence.clamp(0.0, 1.0);
            if s > best.0 {
                let when = t.year.map(|y| format!(" ({y})")).unwrap_or_default();
                best = (s, Some(format!("has worked for {tb} before{when}")));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

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
