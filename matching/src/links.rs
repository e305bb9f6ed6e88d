//! Linking award notices to members' track records: by identifier (Companies
//! House, charity number, PPON) with confidence 1, else by normalised-name
//! similarity (Jaro-Winkler) above [`NAME_THRESHOLD`]. A broker confirms or
//! rejects each link.

use std::collections::HashMap;

use sebroker_model::{Member, Notice};

/// Jaro-Winkler similarity above which two normalised supplier names are
/// taken to be the same organisation. Chosen on the cases in the tests below:
/// spelling variants of one name ("Bushbury Parks & Gardens CIC" /
/// "Bushbury Parks and Gardens Community Interest Company") score ≥ 0.95
/// after normalisation, while different organisations sharing a place-name
/// prefix ("Walsall Community Transport" / "Walsall Community Care") score
/// about 0.90–0.92. 0.93 keeps the first and drops the second.
pub const NAME_THRESHOLD: f64 = 0.93;

pub use sebroker_model::{AwardLink, LinkStatus};

/// The notice buyer's normalised name (empty without a name).
pub fn buyer_name(n: &sebroker_model::Notice) -> String {
    n.buyer
        .name
        .as_deref()
        .map(normalise_name)
        .unwrap_or_default()
}

/// Lower case, `&` → `and`, punctuation dropped, legal-form words removed.
pub fn normalise_name(name: &str) -> String {
    const DROP: &[&str] = &[
        "ltd",
        "limited",
        "plc",
        "llp",
        "cic",
        "cio",
        "the",
        "community interest company",
        "charitable incorporated organisation",
        "company",
        "co",
        "uk",
        "inc",
    ];
    let lowered = name.to_lowercase().replace('&', " and ");
    let cleaned: String = lowered
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut text = format!(
        " {} ",
        cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    for d in DROP.iter().filter(|d| d.contains(' ')) {
        text = text.replace(&format!(" {d} "), " ");
    }
    text.split_whitespace()
        .filter(|w| !DROP.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Members by identifier and by name prefix, for fast lookups.
pub struct MemberLookup<'a> {
    by_id: HashMap<String, &'a Member>,
    by_prefix: HashMap<String, Vec<(&'a Member, String)>>,
}

fn prefix(n: &str) -> String {
    n.chars().take(3).collect()
}

impl<'a> MemberLookup<'a> {
    pub fn new(members: impl IntoIterator<Item = &'a Member>) -> Self {
        let mut by_id = HashMap::new();
        let mut by_prefix: HashMap<String, Vec<(&Member, String)>> = HashMap::new();
        for m in members {
            for id in m.identifiers.ocds_ids() {
                by_id.insert(id.to_uppercase(), m);
            }
            let n = normalise_name(&m.name);
            by_prefix.entry(prefix(&n)).or_default().push((m, n));
        }
        MemberLookup { by_id, by_prefix }
    }

    /// The member a supplier is, with the method and confidence.
    pub fn find(
        &self,
        identifier: Option<&str>,
        name: Option<&str>,
    ) -> Option<(&'a Member, &'static str, f64)> {
        if let Some(m) = identifier.and_then(|i| self.by_id.get(&i.trim().to_uppercase())) {
            return Some((m, "identifier", 1.0));
        }
        let n = normalise_name(name?);
        if n.is_empty() {
            return None;
        }
        let mut best: Option<(&Member, f64)> = None;
        for (m, mn) in self.by_prefix.get(&prefix(&n)).into_iter().flatten() {
            let s = strsim::jaro_winkler(&n, mn);
            if s >= NAME_THRESHOLD && best.is_none_or(|(_, b)| s > b) {
                best = Some((m, s));
            }
        }
        best.map(|(m, s)| (m, "name", s))
    }
}

/// Links between a notice's awards and members.
pub fn links_for(notice: &Notice, lookup: &MemberLookup) -> Vec<AwardLink> {
    let mut out = Vec::new();
    for a in &notice.awards {
        for s in &a.suppliers {
            let Some((m, method, confidence)) =
                lookup.find(s.identifier.as_deref(), s.name.as_deref())
            else {
                continue;
            };
            out.push(AwardLink {
                member_id: m.id.clone(),
                ocid: notice.ocid.clone(),
                award_id: a.id.clone(),
                supplier_name: s.name.clone(),
                supplier_identifier: s.identifier.clone(),
                method: method.to_owned(),
                confidence,
                status: LinkStatus::Proposed,
                title: notice.title.clone(),
                buyer: notice.buyer.name.clone(),
                value_pence: a
                    .value
                    .as_ref()
                    .and_then(|v| v.headline_pence())
                    .or(notice.value.headline_pence()),
                year: a.date.or(notice.published).map(|d| d.year()),
                cpv: notice.cpv.iter().map(|c| c.code.clone()).collect(),
                lots: notice.award_lots(a),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_names_drop_legal_forms() {
        assert_eq!(
            normalise_name("Bushbury Parks & Gardens CIC"),
            "bushbury parks and gardens"
        );
        assert_eq!(
            normalise_name("Bushbury Parks and Gardens Community Interest Company"),
            "bushbury parks and gardens"
        );
        assert_eq!(
            normalise_name("The Cape Hill Neighbours Ltd."),
            "cape hill neighbours"
        );
    }

    #[test]
    fn threshold_separates_variants_from_neighbours() {
        let jw = |a: &str, b: &str| strsim::jaro_winkler(&normalise_name(a), &normalise_name(b));
        assert!(jw("Bushbury Parks & Gardens CIC", "Bushbury Parks and Gardens") >= NAME_THRESHOLD);
        assert!(jw("Cape Hill Neighbours", "Cape Hill Neighbors CIO") >= NAME_THRESHOLD);
        assert!(jw("Walsall Community Transport", "Walsall Community Care") < NAME_THRESHOLD);
        assert!(jw("Ward End Youth Partnership", "Ward End Food Partnership") < NAME_THRESHOLD);
    }
}
