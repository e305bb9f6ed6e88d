//! The Common Procurement Vocabulary: code normalisation, the hierarchy
//! (division, group, class, category — read from the digits) and
//! descriptions, learned from notices or imported from the full CPV 2008 list.

use std::collections::HashMap;
use std::io::Read;

use crate::error::RowError;

/// Normalises a CPV code: strips a check digit (`85312000-9`), keeps 8 digits.
/// Shorter all-digit prefixes are padded with zeros (`853` → `85300000`).
pub fn normalise(code: &str) -> Option<String> {
    let digits = code.trim().split('-').next()?.trim();
    if digits.len() < 2 || digits.len() > 8 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(format!("{digits:0<8}"))
}

/// The significant digits of a code: `85312000` → `85312`, `85000000` → `85`.
pub fn significant(code: &str) -> &str {
    let trimmed = code.trim_end_matches('0');
    if trimmed.len() < 2 {
        code.get(..2).unwrap_or(code)
    } else {
        trimmed
    }
}

/// The parent of a code in the hierarchy: `85312000` → `85310000`;
/// `85000000` has none.
pub fn parent(code: &str) -> Option<String> {
    let sig = significant(code);
    if sig.len() <= 2 {
        return None;
    }
    normalise(&sig[..sig.len() - 1])
}

/// The division of a code (`85`).
pub fn division(code: &str) -> Option<&str> {
    code.get(..2)
}

/// CPV code → English description.
#[derive(Debug, Default, Clone)]
pub struct CpvTable {
    descriptions: HashMap<String, String>,
}

impl CpvTable {
    pub fn len(&self) -> usize {
        self.descriptions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.descriptions.is_empty()
    }

    pub fn describe(&self, code: &str) -> Option<&str> {
        self.descriptions.get(code).map(String::as_str)
    }

    /// Records a description seen on a notice, unless one is already known.
    /// Returns true when it was new.
    pub fn learn(&mut self, code: &str, description: &str) -> bool {
        let d = description.trim();
        if d.is_empty() || self.descriptions.contains_key(code) {
            return false;
        }
        self.descriptions.insert(code.to_owned(), d.to_owned());
        true
    }

    /// Sets a description, replacing any learned one (reference import).
    pub fn set(&mut self, code: String, description: String) {
        self.descriptions.insert(code, description);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.descriptions.iter()
    }

    /// Parses the CPV 2008 list (`CODE,EN` header, codes with check digits,
    /// optional BOM). Returns the entries and the rows that failed (line, why).
    pub fn parse_csv<R: Read>(r: R) -> (Vec<(String, String)>, Vec<RowError>) {
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(r);
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        let (code_col, desc_col) = match rdr.headers() {
            Ok(h) => {
                let find = |names: &[&str]| {
                    h.iter().position(|c| {
                        let c = c.trim_start_matches('\u{feff}').trim();
                        names.iter().any(|n| c.eq_ignore_ascii_case(n))
                    })
                };
                (
                    find(&["CODE", "cpv", "code"]).unwrap_or(0),
                    find(&["EN", "description"]).unwrap_or(1),
                )
            }
            Err(e) => {
                return (
                    ok,
                    vec![RowError::new(1, format!("cannot read header: {e}"))],
                )
            }
        };
        for rec in rdr.records() {
            match rec {
                Ok(rec) => {
                    let line = rec.position().map_or(0, |p| p.line());
                    let code = rec.get(code_col).and_then(normalise);
                    let desc = rec.get(desc_col).map(str::trim).filter(|d| !d.is_empty());
                    match (code, desc) {
                        (Some(c), Some(d)) => ok.push((c, d.to_owned())),
                        _ => bad.push(RowError::new(line, "expected a CPV code and a description")),
                    }
                }
                Err(e) => bad.push(RowError::new(
                    e.position().map_or(0, |p| p.line()),
                    e.to_string(),
                )),
            }
        }
        (ok, bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_hierarchy() {
        assert_eq!(normalise("85312000-9").as_deref(), Some("85312000"));
        assert_eq!(normalise("85312000").as_deref(), Some("85312000"));
        assert_eq!(normalise("853").as_deref(), Some("85300000"));
        assert_eq!(normalise("8531x000"), None);
        assert_eq!(parent("85312000").as_deref(), Some("85310000"));
        assert_eq!(parent("85310000").as_deref(), Some("85300000"));
        assert_eq!(parent("85300000").as_deref(), Some("85000000"));
        assert_eq!(parent("85000000"), None);
        assert_eq!(parent("45261920").as_deref(), Some("45261900"));
        assert_eq!(significant("03000000"), "03");
    }

    #[test]
    fn parses_the_cpv_list_format() {
        let csv = "\u{feff}CODE,EN\n03000000-1,\"Agricultural, farming\"\n45261920-9,Roof maintenance work\nbad,\n";
        let (ok, bad) = CpvTable::parse_csv(csv.as_bytes());
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1], ("45261920".into(), "Roof maintenance work".into()));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 4);
    }
}
