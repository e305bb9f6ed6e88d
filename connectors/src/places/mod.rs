//! Places: turning what notices and members say about where (NUTS codes,
//! region names, postcodes, local authority names or GSS codes) into a set of
//! NUTS codes at every level, so a filter on `UKG` finds `UKG21`.
//!
//! A small built-in table ([`builtin`]) covers the West Midlands and every UK
//! postcode area; full tables can be imported at run time
//! (`sebroker reference import places FILE`).

pub mod authorities;
pub mod builtin;
pub mod gazetteer;
mod import;

use std::collections::HashMap;
use std::sync::Arc;

pub use authorities::{Authorities, Authority};
pub use gazetteer::{Gazetteer, Named, Point};

pub use import::{parse_places_csv, PlaceEntry};

/// Resolves place descriptions to NUTS codes.
#[derive(Debug, Clone, Default)]
pub struct Places {
    names: HashMap<String, String>,
    /// lower-case region name → NUTS code
    regions: HashMap<String, String>,
    /// postcode area (`WS`) → NUTS code
    areas: HashMap<String, String>,
    /// postcode district (`WS1`) → NUTS code
    districts: HashMap<String, String>,
    /// lower-case authority name or upper-case GSS code → NUTS code
    authorities: HashMap<String, String>,
    /// Postcode districts with coordinates, when a table was given.
    gazetteer: Option<Arc<Gazetteer>>,
}

impl Places {
    /// Adds a gazetteer (distances between suppliers and the work).
    pub fn with_gazetteer(mut self, g: Gazetteer) -> Places {
        self.gazetteer = Some(Arc::new(g));
        self
    }

    pub fn gazetteer(&self) -> Option<&Gazetteer> {
        self.gazetteer.as_deref()
    }

    /// The built-in table.
    pub fn builtin() -> Places {
        let mut p = Places::default();
        for (code, name) in builtin::NUTS_NAMES {
            p.names.insert((*code).to_owned(), (*name).to_owned());
            p.regions.insert(name.to_lowercase(), (*code).to_owned());
        }
        for (alias, code) in builtin::REGION_ALIASES {
            p.regions.insert(alias.to_lowercase(), (*code).to_owned());
        }
        for (area, code) in builtin::POSTCODE_AREAS {
            p.areas.insert((*area).to_owned(), (*code).to_owned());
        }
        for (district, code) in builtin::POSTCODE_DISTRICTS {
            p.districts
                .insert((*district).to_owned(), (*code).to_owned());
        }
        for (gss, name, nuts) in builtin::LOCAL_AUTHORITIES {
            p.authorities.insert((*gss).to_owned(), (*nuts).to_owned());
            p.authorities
                .insert(name.to_lowercase(), (*nuts).to_owned());
        }
        let by_gss: HashMap<&str, &str> = builtin::LOCAL_AUTHORITIES
            .iter()
            .map(|(gss, _, nuts)| (*gss, *nuts))
            .collect();
        for (alias, gss) in builtin::LOCAL_AUTHORITY_ALIASES {
            if let Some(nuts) = by_gss.get(gss) {
                p.authorities
                    .insert(alias.to_lowercase(), (*nuts).to_owned());
            }
        }
        p
    }

    /// Adds an imported entry. A coarser code never replaces a finer one that
    /// agrees with it (an imported `UKG` keeps the built-in `UKG38`).
    pub fn add(&mut self, entry: &PlaceEntry) {
        let (map, key) = match entry {
            PlaceEntry::District { district, .. } => (&mut self.districts, district.to_uppercase()),
            PlaceEntry::Authority { key, .. } => (&mut self.authorities, authority_key(key)),
            PlaceEntry::Name { code, name } => {
                self.names
                    .entry(code.clone())
                    .or_insert_with(|| name.clone());
                return;
            }
        };
        let nuts = entry.nuts().to_owned();
        match map.get(&key) {
            Some(old) if old.starts_with(&nuts) => {}
            _ => {
                map.insert(key, nuts);
            }
        }
    }

    /// The name of a NUTS code (`UKG38` → `Walsall`), when known.
    pub fn name_of(&self, code: &str) -> Option<&str> {
        self.names.get(code).map(String::as_str)
    }

    /// The finest NUTS code for a place description, or `None` when it cannot
    /// be resolved.
    pub fn resolve_code(&self, place: &str) -> Option<String> {
        let p = place.trim();
        if p.is_empty() {
            return None;
        }
        if let Some(code) = nuts_code(p) {
            return Some(code);
        }
        let lower = p.to_lowercase();
        if let Some(c) = self.regions.get(&lower) {
            return Some(c.clone());
        }
        if let Some(c) = self.authorities.get(&authority_key(p)) {
            return Some(c.clone());
        }
        if let Some(c) = self.authorities.get(&lower) {
            return Some(c.clone());
        }
        self.resolve_postcode(p)
    }

    /// Every NUTS level of a place (`UKG21` → `UK`, `UKG`, `UKG2`, `UKG21`).
    pub fn resolve(&self, place: &str) -> Option<Vec<String>> {
        self.resolve_code(place).map(|c| levels(&c))
    }

    /// A full postcode (`WS1 1TP`), a district (`WS1`) or an area (`WS`).
    pub fn resolve_postcode(&self, postcode: &str) -> Option<String> {
        let compact: String = postcode
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        if compact.is_empty()
            || compact.len() > 8
            || !compact.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return None;
        }
        let district = postcode_district(&compact)?;
        if let Some(c) = self.districts.get(&district) {
            return Some(c.clone());
        }
        let area: String = district
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        self.areas.get(&area).cloned()
    }
}

fn authority_key(s: &str) -> String {
    let t = s.trim();
    if is_gss(t) {
        t.to_uppercase()
    } else {
        t.to_lowercase()
    }
}

/// A GSS code: a letter and 8 digits (`E08000030`).
pub fn is_gss(s: &str) -> bool {
    s.len() == 9
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s[1..].chars().all(|c| c.is_ascii_digit())
}

/// `UK`, `UKG`, `UKG2`, `UKG21` (any case) → upper-case NUTS code.
pub fn nuts_code(s: &str) -> Option<String> {
    let u = s.trim().to_uppercase();
    let ok = u.starts_with("UK")
        && (2..=5).contains(&u.len())
        && u.chars().nth(2).is_none_or(|c| c.is_ascii_uppercase())
        && u.chars().skip(3).all(|c| c.is_ascii_alphanumeric());
    ok.then_some(u)
}

/// Every level of a NUTS code, from `UK` down to the code itself.
pub fn levels(code: &str) -> Vec<String> {
    (2..=code.len())
        .filter_map(|n| code.get(..n))
        .map(str::to_owned)
        .collect()
}

/// The district of a compact postcode: `WS11TP` → `WS1`, `B661AA` → `B66`,
/// `WS1` → `WS1`. A full postcode ends in digit + two letters (the inward code).
fn postcode_district(compact: &str) -> Option<String> {
    let b = compact.as_bytes();
    let n = b.len();
    let full = n >= 5
        && b[n - 3].is_ascii_digit()
        && b[n - 2].is_ascii_alphabetic()
        && b[n - 1].is_ascii_alphabetic();
    let outward = if full { &compact[..n - 3] } else { compact };
    let starts_alpha = outward
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic());
    (starts_alpha && (2..=4).contains(&outward.len())
        || outward.chars().all(|c| c.is_ascii_alphabetic()))
    .then(|| outward.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nuts_codes_expand_to_every_level() {
        let p = Places::builtin();
        assert_eq!(
            p.resolve("UKG21"),
            Some(vec![
                "UK".into(),
                "UKG".into(),
                "UKG2".into(),
                "UKG21".into()
            ])
        );
        assert_eq!(p.resolve("ukg"), Some(vec!["UK".into(), "UKG".into()]));
        assert_eq!(nuts_code("UKZZZZ"), None);
    }

    #[test]
    fn names_postcodes_and_authorities() {
        let p = Places::builtin();
        assert_eq!(p.resolve_code("West Midlands").as_deref(), Some("UKG"));
        assert_eq!(p.resolve_code("WEST MIDLANDS").as_deref(), Some("UKG"));
        assert_eq!(p.resolve_code("Walsall").as_deref(), Some("UKG38"));
        assert_eq!(p.resolve_code("E08000030").as_deref(), Some("UKG38"));
        assert_eq!(p.resolve_code("B66 1AA").as_deref(), Some("UKG37"));
        assert_eq!(p.resolve_code("WS1").as_deref(), Some("UKG38"));
        assert!(p
            .resolve_code("SW1A 1AA")
            .is_some_and(|c| c.starts_with("UKI")));
        assert_eq!(p.resolve_code("Atlantis"), None);
        assert_eq!(p.name_of("UKG"), Some("West Midlands"));
    }

    #[test]
    fn imports_never_coarsen() {
        let mut p = Places::builtin();
        p.add(&PlaceEntry::District {
            district: "WS1".into(),
            nuts: "UKG".into(),
        });
        assert_eq!(p.resolve_code("WS1").as_deref(), Some("UKG38"));
        p.add(&PlaceEntry::District {
            district: "ZZ9".into(),
            nuts: "UKJ".into(),
        });
        assert_eq!(p.resolve_code("ZZ9 9ZZ").as_deref(), Some("UKJ"));
    }
}
