//! One opportunity, several notices: probable duplicates across sources
//! (the same procurement on Contracts Finder and Find a Tender, or posted
//! again by an anchor), judged on normalised buyer names, titles, deadline,
//! value and shared identifiers.

use sebroker_model::Notice;

use crate::uktime;

/// Lower-case words, `&` as `and`, punctuation and filler words dropped.
pub fn normalise(s: &str) -> String {
    const FILLER: &[&str] = &[
        "the", "of", "ltd", "limited", "plc", "llp", "cic", "for", "a", "an", "to", "in",
    ];
    let s = s.to_lowercase().replace('&', " and ");
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !FILLER.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What two notices share.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Jaro-Winkler similarity of the normalised buyer names (0 when either is missing).
    pub buyer: f64,
    /// Sørensen-Dice similarity of the normalised titles.
    pub title: f64,
    /// Both deadlines fall on the same UK day.
    pub same_deadline: bool,
    /// Both headline values are the same number of pence.
    pub same_value: bool,
    /// The same buyer identifier.
    pub shared_identifier: bool,
}

pub fn evidence(a: &Notice, b: &Notice) -> Evidence {
    let buyer = match (a.buyer.name.as_deref(), b.buyer.name.as_deref()) {
        (Some(x), Some(y)) => strsim::jaro_winkler(&normalise(x), &normalise(y)),
        _ => 0.0,
    };
    let title = strsim::sorensen_dice(&normalise(&a.title), &normalise(&b.title));
    let same_deadline = match (a.deadline, b.deadline) {
        (Some(x), Some(y)) => uktime::to_uk_local(x).date() == uktime::to_uk_local(y).date(),
        _ => false,
    };
    let same_value = match (a.value.headline_pence(), b.value.headline_pence()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    };
    let id = |n: &Notice| {
        n.buyer
            .id
            .as_deref()
            .map(str::trim)
            .filter(|s| s.len() > 3)
            .map(str::to_lowercase)
    };
    let shared_identifier = matches!((id(a), id(b)), (Some(x), Some(y)) if x == y);
    Evidence {
        buyer,
        title,
        same_deadline,
        same_value,
        shared_identifier,
    }
}

/// Probably one opportunity: different sources, the same buyer (similar name
/// or shared identifier), a similar title, and the same deadline or value —
/// or a merely related title with both the same deadline and value.
pub fn probable_duplicate(a: &Notice, b: &Notice) -> bool {
    if a.ocid == b.ocid || a.source == b.source {
        return false;
    }
    let e = evidence(a, b);
    let same_buyer = e.buyer >= 0.88 || e.shared_identifier;
    same_buyer
        && ((e.title >= 0.8 && (e.same_deadline || e.same_value))
            || (e.title >= 0.5 && e.same_deadline && e.same_value))
}

/// The keys under which candidates are looked up: the deadline to the
/// minute, or (without a deadline) the headline value. Notices with neither
/// are never grouped.
pub fn candidate_keys(n: &Notice) -> Vec<String> {
    if let Some(d) = n.deadline {
        return vec![format!("d:{}", d.unix_timestamp().div_euclid(60))];
    }
    match n.value.headline_pence().filter(|v| *v > 0) {
        Some(v) => vec![format!("v:{v}")],
        None => Vec::new(),
    }
}

/// Orders group members: the one shown first is Find a Tender's, then
/// Contracts Finder's, then others; ties by ocid.
pub fn source_rank(source: &str) -> u8 {
    match source {
        "fts" => 0,
        "cf" => 1,
        s if s.starts_with("ocds:") => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sebroker_model::notice::{Buyer, Stage, Suitability, Value};
    use time::macros::datetime;

    fn notice(ocid: &str, source: &str, buyer: &str, title: &str) -> Notice {
        Notice {
            ocid: ocid.into(),
            source: source.into(),
            source_url: None,
            releases: vec![],
            notice_type: None,
            stage: Stage::Tender,
            title: title.into(),
            description: String::new(),
            buyer: Buyer {
                name: Some(buyer.into()),
                ..Buyer::default()
            },
            contacts: vec![],
            cpv: vec![],
            value: Value {
                amount_pence: Some(12_000_000),
                currency: Some("GBP".into()),
                ..Value::default()
            },
            published: None,
            updated: None,
            deadline: Some(datetime!(2026-12-01 12:00 UTC)),
            places: vec![],
            nuts: vec![],
            suitability: Suitability::default(),
            reserved: false,
            lots: vec![],
            awards: vec![],
        }
    }

    #[test]
    fn same_procurement_on_two_services() {
        let a = notice(
            "ocds-h6vhtk-1",
            "fts",
            "Walsall Metropolitan Borough Council",
            "Community Meals Service 2027-2030",
        );
        let mut b = notice(
            "ocds-b5fd17-1",
            "cf",
            "WALSALL METROPOLITAN BOROUGH COUNCIL.",
            "Community meals service (2027 - 2030)",
        );
        assert!(probable_duplicate(&a, &b), "{:?}", evidence(&a, &b));
        b.deadline = Some(datetime!(2026-12-01 23:59 +00:00));
        assert!(
            probable_duplicate(&a, &b),
            "same day, same value: {:?}",
            evidence(&a, &b)
        );
        let c = notice(
            "ocds-b5fd17-2",
            "cf",
            "Sandwell Council",
            "Grounds maintenance",
        );
        assert!(!probable_duplicate(&a, &c));
        let same_source = notice(
            "ocds-h6vhtk-2",
            "fts",
            "Walsall Metropolitan Borough Council",
            "Community Meals Service 2027-2030",
        );
        assert!(!probable_duplicate(&a, &same_source));
        assert_eq!(
            candidate_keys(&a),
            vec![format!("d:{}", 1_796_126_400 / 60)]
        );
    }
}
