//! Reading full place tables at run time, in the formats of the public files:
//! postcode districts (`Postcode`, `UK region`), UK local authorities
//! (`gss-code`, `nice-name`, `official-name`, `region`, `nation`) and the ONS
//! LAD → NUTS lookup (`LAD18CD`, `LAD18NM`, `NUTS318CD`).

use std::collections::HashMap;
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::error::RowError;

/// One imported fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PlaceEntry {
    District {
        district: String,
        nuts: String,
    },
    /// `key` is an authority name or a GSS code.
    Authority {
        key: String,
        nuts: String,
    },
    Name {
        code: String,
        name: String,
    },
}

impl PlaceEntry {
    pub fn nuts(&self) -> &str {
        match self {
            PlaceEntry::District { nuts, .. } | PlaceEntry::Authority { nuts, .. } => nuts,
            PlaceEntry::Name { code, .. } => code,
        }
    }
}

/// Parses one of the supported place files, recognised by its header.
/// `region_code` maps a region or nation name to its NUTS1 code.
/// Returns the entries and the rows that failed (line, why).
pub fn parse_places_csv<R: Read>(
    r: R,
    region_code: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<PlaceEntry>, Vec<RowError>), String> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(r);
    let headers = rdr
        .headers()
        .map_err(|e| format!("cannot read header: {e}"))?
        .clone();
    let col: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim_start_matches('\u{feff}').trim().to_lowercase(), i))
        .collect();
    let has = |names: &[&str]| names.iter().all(|n| col.contains_key(*n));
    let kind = if has(&["lad18cd", "nuts318cd"]) {
        Kind::LadNuts
    } else if has(&["gss-code", "region"]) {
        Kind::Authorities
    } else if has(&["postcode", "uk region"]) {
        Kind::Districts
    } else {
        return Err(
            "unrecognised places file: expected the header of postcode_districts.csv, \
                    uk_local_authorities.csv or lad18_to_nuts318.csv"
                .into(),
        );
    };
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                bad.push(RowError::new(
                    e.position().map_or(0, |p| p.line()),
                    e.to_string(),
                ));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let get = Row {
            rec: &rec,
            col: &col,
        };
        let before = entries.len();
        match kind {
            Kind::LadNuts => lad_nuts(&get, &mut entries),
            Kind::Authorities => authorities(&get, region_code, &mut entries),
            Kind::Districts => districts(&get, region_code, &mut entries),
        }
        if entries.len() == before {
            bad.push(RowError::new(line, "no usable place in this row"));
        }
    }
    Ok((entries, bad))
}

/// One CSV row, read by column name.
struct Row<'a> {
    rec: &'a csv::StringRecord,
    col: &'a HashMap<String, usize>,
}

impl<'a> Row<'a> {
    fn get(&self, name: &str) -> &'a str {
        self.col
            .get(name)
            .and_then(|i| self.rec.get(*i))
            .map(str::trim)
            .unwrap_or("")
    }
}

enum Kind {
    LadNuts,
    Authorities,
    Districts,
}

fn lad_nuts(get: &Row, out: &mut Vec<PlaceEntry>) {
    let nuts = get.get("nuts318cd").to_uppercase();
    if super::nuts_code(&nuts).is_none() {
        return;
    }
    for key in [get.get("lad18cd"), get.get("lad18nm")] {
        if !key.is_empty() {
            out.push(PlaceEntry::Authority {
                key: key.to_owned(),
                nuts: nuts.clone(),
            });
        }
    }
    for (code, name) in [
        ("nuts318cd", "nuts318nm"),
        ("nuts218cd", "nuts218nm"),
        ("nuts118cd", "nuts118nm"),
    ] {
        let (c, n) = (get.get(code), get.get(name));
        if !c.is_empty() && !n.is_empty() {
            out.push(PlaceEntry::Name {
                code: c.to_uppercase(),
                name: n.to_owned(),
            });
        }
    }
}

fn authorities(get: &Row, region_code: &dyn Fn(&str) -> Option<String>, out: &mut Vec<PlaceEntry>) {
    let region = get.get("region");
    let Some(nuts) = region_code(region).or_else(|| region_code(get.get("nation"))) else {
        return;
    };
    for key in [
        get.get("gss-code"),
        get.get("nice-name"),
        get.get("official-name"),
    ] {
        if !key.is_empty() {
            out.push(PlaceEntry::Authority {
                key: key.to_owned(),
                nuts: nuts.clone(),
            });
        }
    }
}

fn districts(get: &Row, region_code: &dyn Fn(&str) -> Option<String>, out: &mut Vec<PlaceEntry>) {
    let district = get.get("postcode").to_uppercase();
    if district.is_empty() {
        return;
    }
    if let Some(nuts) = region_code(get.get("uk region")) {
        out.push(PlaceEntry::District { district, nuts });
    }
}
