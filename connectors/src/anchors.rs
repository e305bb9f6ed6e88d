//! Opportunities that anchor institutions (councils, NHS trusts,
//! universities, housing associations) or brokers enter themselves: the
//! versioned `sebroker-anchors` format (CSV or JSON, see docs/anchors.md),
//! parsed row by row into [`Opportunity`]s, each turned into an OCDS-like
//! release with source `anchor:<slug>` and ocid `anchor-<slug>-<reference>`.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::json::scan;
use crate::money::{parse_amount, Amount};
use crate::places::Places;
use crate::{cpv, source, uktime};

/// The version of the format this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The `format` value of JSON files.
pub const FORMAT_NAME: &str = "sebroker-anchors";

/// Every column / field of version 1, in the documented order.
pub const FIELDS: &[&str] = &[
    "anchor",
    "reference",
    "title",
    "description",
    "cpv",
    "value_min_gbp",
    "value_max_gbp",
    "deadline",
    "places",
    "type",
    "vcse_suitable",
    "contact",
    "url",
];

/// What kind of opportunity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpportunityType {
    /// Planned, not yet open to bids.
    Pipeline,
    /// Open for bids now.
    Open,
    /// Part of a contract the anchor or its contractor subcontracts.
    Subcontract,
    /// Preliminary market engagement: the buyer wants to talk to suppliers.
    MarketEngagement,
}

impl OpportunityType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(
            match s.trim().to_lowercase().replace(['_', ' '], "-").as_str() {
                "pipeline" => OpportunityType::Pipeline,
                "open" => OpportunityType::Open,
                "subcontract" => OpportunityType::Subcontract,
                "market-engagement" => OpportunityType::MarketEngagement,
                _ => return None,
            },
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OpportunityType::Pipeline => "pipeline",
            OpportunityType::Open => "open",
            OpportunityType::Subcontract => "subcontract",
            OpportunityType::MarketEngagement => "market-engagement",
        }
    }
}

/// One field as given: text (CSV, JSON strings), a number, a boolean or a list.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum FieldValue {
    Bool(bool),
    #[schema(value_type = f64)]
    Number(serde_json::Number),
    Text(String),
    List(Vec<String>),
}

impl FieldValue {
    fn text(&self) -> String {
        match self {
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::Number(n) => n.to_string(),
            FieldValue::Text(s) => s.trim().to_owned(),
            FieldValue::List(l) => l.join(";"),
        }
    }

    fn list(&self) -> Vec<String> {
        let items: Vec<String> = match self {
            FieldValue::List(l) => l.clone(),
            other => other.text().split(';').map(str::to_owned).collect(),
        };
        items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// One opportunity as entered (a CSV row or a JSON object), before checking.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpportunityInput {
    pub anchor: Option<FieldValue>,
    pub reference: Option<FieldValue>,
    pub title: Option<FieldValue>,
    pub description: Option<FieldValue>,
    pub cpv: Option<FieldValue>,
    pub value_min_gbp: Option<FieldValue>,
    pub value_max_gbp: Option<FieldValue>,
    pub deadline: Option<FieldValue>,
    pub places: Option<FieldValue>,
    #[serde(rename = "type")]
    pub kind: Option<FieldValue>,
    pub vcse_suitable: Option<FieldValue>,
    pub contact: Option<FieldValue>,
    pub url: Option<FieldValue>,
}

/// A problem with one field of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// Line in the file (1-based; 0 for API input).
    pub line: u64,
    pub reference: Option<String>,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A checked opportunity: every field valid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Opportunity {
    /// The anchor institution's name (the buyer).
    pub anchor: String,
    pub reference: String,
    pub title: String,
    pub description: String,
    /// 8-digit CPV codes.
    pub cpv: Vec<String>,
    pub value_min_pence: Option<i64>,
    pub value_max_pence: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
    /// As entered (postcodes, local authorities, NUTS codes); each resolves.
    pub places: Vec<String>,
    pub kind: OpportunityType,
    pub vcse_suitable: bool,
    pub contact: Option<String>,
    pub url: Option<String>,
}

fn text(v: &Option<FieldValue>) -> Option<String> {
    v.as_ref().map(FieldValue::text).filter(|s| !s.is_empty())
}

fn pence(field: &str, v: &Option<FieldValue>, errs: &mut Vec<(String, String)>) -> Option<i64> {
    let s = text(v)?;
    match parse_amount(&s) {
        Some(Amount::Pence(p)) if p >= 0 => Some(p),
        Some(Amount::Pence(_)) => {
            errs.push((field.into(), format!("{s:?} is negative")));
            None
        }
        Some(Amount::Unbounded) => {
            errs.push((field.into(), format!("{s:?} is too large")));
            None
        }
        None => {
            errs.push((
                field.into(),
                format!("{s:?} is not an amount in pounds (e.g. 25000 or 25,000.50)"),
            ));
            None
        }
    }
}

/// A deadline: RFC 3339 with an offset, or a date (read as 23:59 UK time that day).
pub fn parse_deadline(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s.trim(), &Rfc3339) {
        return Some(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s.trim(), &fmt).ok()?;
    Some(uktime::uk_datetime(
        d,
        time::Time::from_hms(23, 59, 0).ok()?,
    ))
}

fn flag(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" | "" => Some(false),
        _ => None,
    }
}

impl Opportunity {
    /// Checks an input; every problem is reported, by field.
    pub fn parse(
        input: &OpportunityInput,
        places: &Places,
    ) -> Result<Opportunity, Vec<(String, String)>> {
        let mut errs: Vec<(String, String)> = Vec::new();
        let mut required = |field: &str, v: &Option<FieldValue>, max: usize| -> String {
            match text(v) {
                None => {
                    errs.push((field.into(), "is required".into()));
                    String::new()
                }
                Some(s) if s.chars().count() > max => {
                    errs.push((field.into(), format!("is longer than {max} characters")));
                    String::new()
                }
                Some(s) => s,
            }
        };
        let anchor = required("anchor", &input.anchor, 200);
        let reference = required("reference", &input.reference, 100);
        let title = required("title", &input.title, 500);
        let kind_s = required("type", &input.kind, 40);
        let description = text(&input.description).unwrap_or_default();
        if description.chars().count() > 20_000 {
            errs.push((
                "description".into(),
                "is longer than 20000 characters".into(),
            ));
        }
        if !reference.is_empty() && slug(&reference).is_empty() {
            errs.push((
                "reference".into(),
                "needs at least one letter or digit".into(),
            ));
        }
        let kind = match OpportunityType::parse(&kind_s) {
            Some(k) => Some(k),
            None if kind_s.is_empty() => None,
            None => {
                errs.push((
                    "type".into(),
                    format!("{kind_s:?} is not pipeline, open, subcontract or market-engagement"),
                ));
                None
            }
        };
        let mut cpv_codes = Vec::new();
        for c in input.cpv.as_ref().map(FieldValue::list).unwrap_or_default() {
            let eight = c.split('-').next().is_some_and(|d| d.trim().len() == 8);
            match cpv::normalise(&c).filter(|_| eight) {
                Some(code) if !cpv_codes.contains(&code) => cpv_codes.push(code),
                Some(_) => {}
                None => errs.push((
                    "cpv".into(),
                    format!("{c:?} is not a CPV code (8 digits, e.g. 85312000 or 85312000-9)"),
                )),
            }
        }
        let value_min_pence = pence("value_min_gbp", &input.value_min_gbp, &mut errs);
        let value_max_pence = pence("value_max_gbp", &input.value_max_gbp, &mut errs);
        if let (Some(a), Some(b)) = (value_min_pence, value_max_pence) {
            if a > b {
                errs.push(("value_min_gbp".into(), "is above value_max_gbp".into()));
            }
        }
        let deadline = match text(&input.deadline) {
            None => None,
            Some(s) => match parse_deadline(&s) {
                Some(t) => Some(t),
                None => {
                    errs.push(("deadline".into(), format!("{s:?} is not a date (YYYY-MM-DD) or a time with offset (2026-12-01T12:00:00+00:00)")));
                    None
                }
            },
        };
        if kind == Some(OpportunityType::Open)
            && deadline.is_none()
            && text(&input.deadline).is_none()
        {
            errs.push((
                "deadline".into(),
                "is required for an open opportunity".into(),
            ));
        }
        let place_list = input
            .places
            .as_ref()
            .map(FieldValue::list)
            .unwrap_or_default();
        for p in &place_list {
            if places.resolve_code(p).is_none() {
                errs.push((
                    "places".into(),
                    format!(
                        "{p:?} is not a postcode, local authority, region or NUTS code we know"
                    ),
                ));
            }
        }
        let vcse_suitable = match text(&input.vcse_suitable) {
            None => false,
            Some(s) => flag(&s).unwrap_or_else(|| {
                errs.push((
                    "vcse_suitable".into(),
                    format!("{s:?} is not true/false/yes/no"),
                ));
                false
            }),
        };
        let url = text(&input.url);
        if let Some(u) = &url {
            if crate::http::check_url(u).is_err() {
                errs.push(("url".into(), format!("{u:?} is not an http(s) URL")));
            }
        }
        let contact = text(&input.contact);
        if contact.as_ref().is_some_and(|c| c.chars().count() > 300) {
            errs.push(("contact".into(), "is longer than 300 characters".into()));
        }
        match kind {
            Some(kind) if errs.is_empty() => Ok(Opportunity {
                anchor,
                reference,
                title,
                description,
                cpv: cpv_codes,
                value_min_pence,
                value_max_pence,
                deadline,
                places: place_list,
                kind,
                vcse_suitable,
                contact,
                url,
            }),
            _ => Err(errs),
        }
    }

    /// The ocid of this opportunity under anchor `slug`.
    pub fn ocid(&self, slug_: &str) -> String {
        format!("anchor-{slug_}-{}", slug(&self.reference))
    }

    /// The OCDS-like release of this opportunity. Its id is its ocid, so a
    /// re-import replaces it; `date` is when it was first entered.
    pub fn to_release(&self, anchor_slug: &str, date: OffsetDateTime) -> String {
        let ocid = self.ocid(anchor_slug);
        let party_id = format!("anchor-{anchor_slug}");
        let (tag, status) = match self.kind {
            OpportunityType::Pipeline => ("planning", "planning"),
            OpportunityType::MarketEngagement => ("planning", "planned"),
            OpportunityType::Open | OpportunityType::Subcontract => ("tender", "active"),
        };
        let money = |p: i64| {
            let v = if p % 100 == 0 {
                json!(p / 100)
            } else {
                json!(format!("{}.{:02}", p / 100, p % 100))
            };
            json!({ "amount": v, "currency": "GBP" })
        };
        let mut tender = serde_json::Map::new();
        tender.insert("id".into(), json!(self.reference));
        tender.insert("title".into(), json!(self.title));
        tender.insert("description".into(), json!(self.description));
        tender.insert("status".into(), json!(status));
        tender.insert("procurementMethodDetails".into(), json!(self.kind.as_str()));
        if let Some((first, rest)) = self.cpv.split_first() {
            tender.insert(
                "classification".into(),
                json!({ "scheme": "CPV", "id": first }),
            );
            let more: Vec<_> = rest
                .iter()
                .map(|c| json!({ "scheme": "CPV", "id": c }))
                .collect();
            tender.insert("additionalClassifications".into(), json!(more));
        }
        if let Some(p) = self.value_min_pence {
            tender.insert("minValue".into(), money(p));
        }
        if let Some(p) = self.value_max_pence {
            tender.insert("maxValue".into(), money(p));
        }
        if let Some(d) = self.deadline.and_then(|d| d.format(&Rfc3339).ok()) {
            tender.insert("tenderPeriod".into(), json!({ "endDate": d }));
        }
        if !self.places.is_empty() {
            let addrs: Vec<_> = self
                .places
                .iter()
                .map(|p| {
                    if looks_like_postcode(p) {
                        json!({ "postalCode": p })
                    } else {
                        json!({ "region": p })
                    }
                })
                .collect();
            tender.insert(
                "items".into(),
                json!([{ "id": "1", "deliveryAddresses": addrs }]),
            );
        }
        tender.insert("suitability".into(), json!({ "vcse": self.vcse_suitable }));
        let mut contact = serde_json::Map::new();
        if let Some(c) = &self.contact {
            let key = if c.contains('@') {
                "email"
            } else if c.chars().filter(char::is_ascii_digit).count() >= 7 {
                "telephone"
            } else {
                "name"
            };
            contact.insert(key.into(), json!(c));
        }
        if let Some(u) = &self.url {
            contact.insert("url".into(), json!(u));
        }
        let mut party = json!({ "id": party_id, "name": self.anchor, "roles": ["buyer"] });
        if !contact.is_empty() {
            party["contactPoint"] = serde_json::Value::Object(contact);
        }
        let release = json!({
            "ocid": ocid,
            "id": ocid,
            "date": date.format(&Rfc3339).unwrap_or_default(),
            "tag": [tag],
            "initiationType": "tender",
            "buyer": { "id": party_id, "name": self.anchor },
            "parties": [party],
            "tender": serde_json::Value::Object(tender),
        });
        release.to_string()
    }
}

/// `WS1 1TP`-like: letters then a digit, at most 8 characters without spaces.
fn looks_like_postcode(p: &str) -> bool {
    let c: String = p.chars().filter(|c| !c.is_whitespace()).collect();
    c.len() <= 8
        && c.chars().next().is_some_and(|x| x.is_ascii_alphabetic())
        && c.chars().any(|x| x.is_ascii_digit())
        && c.chars().all(|x| x.is_ascii_alphanumeric())
        && crate::places::nuts_code(&c).is_none()
        && !crate::places::is_gss(&c)
}

/// Lower-case letters, digits and dashes.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(64).collect()
}

/// Everything read from one anchors file.
#[derive(Debug, Default)]
pub struct ParsedFile {
    /// Good rows, with their line.
    pub rows: Vec<(u64, Opportunity)>,
    pub errors: Vec<RowError>,
    pub rows_read: u64,
}

/// Why a whole file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AnchorsError {
    #[error("{0}")]
    Format(String),
}

/// Parses an anchors file: JSON when it starts with `{` or `[`, else CSV.
/// Bad rows are reported by line and field; good rows are kept. Rows whose
/// `anchor`… column names another institution are not refused: the anchor
/// is the buyer, and `slug` only names the publisher.
pub fn parse_file(bytes: &[u8], places: &Places) -> Result<ParsedFile, AnchorsError> {
    let decoded = crate::json::decode(bytes);
    let text = decoded.text;
    let t = text.trim_start();
    let mut out = if t.starts_with('{') || t.starts_with('[') {
        parse_json(&text, places)?
    } else {
        parse_csv(&text, places)?
    };
    // A reference names one opportunity: later rows with the same one are errors.
    let mut seen = HashSet::new();
    let mut dups = Vec::new();
    out.rows.retain(|(line, o)| {
        let key = slug(&o.reference);
        if seen.insert(key) {
            true
        } else {
            dups.push(RowError {
                line: *line,
                reference: Some(o.reference.clone()),
                field: "reference".into(),
                message: format!("{:?} appears earlier in the file", o.reference),
            });
            false
        }
    });
    out.errors.extend(dups);
    out.errors.sort_by_key(|e| e.line);
    Ok(out)
}

fn push_row(out: &mut ParsedFile, line: u64, input: &OpportunityInput, places: &Places) {
    out.rows_read += 1;
    match Opportunity::parse(input, places) {
        Ok(o) => out.rows.push((line, o)),
        Err(errs) => {
            let reference = text(&input.reference);
            for (field, message) in errs {
                out.errors.push(RowError {
                    line,
                    reference: reference.clone(),
                    field,
                    message,
                });
            }
        }
    }
}

fn parse_csv(text: &str, places: &Places) -> Result<ParsedFile, AnchorsError> {
    // An optional first line `# sebroker-anchors v1` declares the version.
    if let Some(first) = text
        .lines()
        .next()
        .filter(|l| l.trim_start().starts_with('#'))
    {
        check_version_line(first)?;
    }
    let mut rdr = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| AnchorsError::Format(format!("cannot read the header row: {e}")))?
        .clone();
    let cols: Vec<String> = headers.iter().map(|h| h.trim().to_lowercase()).collect();
    let unknown: Vec<&String> = cols
        .iter()
        .filter(|c| !FIELDS.contains(&c.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(AnchorsError::Format(format!(
            "unknown column(s) {unknown:?}; version {FORMAT_VERSION} has {}",
            FIELDS.join(", ")
        )));
    }
    for req in ["reference", "title", "type"] {
        if !cols.iter().any(|c| c == req) {
            return Err(AnchorsError::Format(format!(
                "the header has no `{req}` column"
            )));
        }
    }
    let mut out = ParsedFile::default();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.rows_read += 1;
                out.errors.push(RowError {
                    line,
                    reference: None,
                    field: "row".into(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if rec.len() > cols.len() {
            out.rows_read += 1;
            out.errors.push(RowError {
                line,
                reference: None,
                field: "row".into(),
                message: format!("{} fields, but the header has {}", rec.len(), cols.len()),
            });
            continue;
        }
        let mut map = BTreeMap::new();
        for (c, v) in cols.iter().zip(rec.iter()) {
            if !v.trim().is_empty() {
                map.insert(c.clone(), serde_json::Value::String(v.to_owned()));
            }
        }
        match serde_json::from_value::<OpportunityInput>(serde_json::Value::Object(
            map.into_iter().collect(),
        )) {
            Ok(input) => push_row(&mut out, line, &input, places),
            Err(e) => {
                out.rows_read += 1;
                out.errors.push(RowError {
                    line,
                    reference: None,
                    field: "row".into(),
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

fn check_version_line(line: &str) -> Result<(), AnchorsError> {
    let l = line.trim_start_matches('#').trim();
    let version = l
        .strip_prefix(FORMAT_NAME)
        .map(str::trim)
        .and_then(|v| v.strip_prefix('v'))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or_else(|| {
            AnchorsError::Format(format!(
                "first line {line:?}: expected `# {FORMAT_NAME} v{FORMAT_VERSION}`"
            ))
        })?;
    if version != FORMAT_VERSION {
        return Err(AnchorsError::Format(format!(
            "this file is {FORMAT_NAME} version {version}; this sebroker reads version {FORMAT_VERSION}"
        )));
    }
    Ok(())
}

/// The 1-based line of byte `at`.
fn line_of(text: &str, at: usize) -> u64 {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
        + 1
}

/// `{"format": "sebroker-anchors", "version": 1, "opportunities": [...]}`,
/// split by the tolerant scanner: a bad token or a too-deep value in one
/// opportunity costs that row only.
fn parse_json(text: &str, places: &Places) -> Result<ParsedFile, AnchorsError> {
    let b = text.as_bytes();
    let bad = |at: usize, m: &str| {
        AnchorsError::Format(format!(
            "line {}: not a {FORMAT_NAME} JSON file ({{\"format\": \"{FORMAT_NAME}\", \"version\": 1, \"opportunities\": [...]}}): {m}",
            line_of(text, at)
        ))
    };
    let open = scan::skip_ws(b, 0);
    if b.get(open) != Some(&b'{') {
        return Err(bad(open, "expected an object"));
    }
    let (entries, end) = scan::entries(b, open);
    let end = end.map_err(|e| bad(e.position(), &e.to_string()))?;
    if scan::skip_ws(b, end) < b.len() {
        return Err(bad(end, "unexpected data after the object"));
    }
    if let Some(e) = entries.iter().find(|e| {
        !["format", "version", "opportunities"]
            .iter()
            .any(|k| scan::key_is(b, e, k))
    }) {
        let key = text.get(e.key.clone()).unwrap_or("?");
        return Err(bad(e.key.start, &format!("unknown field {key}")));
    }
    let field = |name: &str| {
        scan::find(b, &entries, name)
            .map(|e| (e.value.clone(), text.get(e.value.clone()).unwrap_or("")))
            .ok_or_else(|| bad(open, &format!("missing field `{name}`")))
    };
    let (at, raw) = field("format")?;
    let format: String =
        serde_json::from_str(raw).map_err(|e| bad(at.start, &format!("format: {e}")))?;
    if format != FORMAT_NAME {
        return Err(AnchorsError::Format(format!(
            "format is {format:?}, expected {FORMAT_NAME:?}"
        )));
    }
    let (at, raw) = field("version")?;
    let version: u32 =
        serde_json::from_str(raw).map_err(|e| bad(at.start, &format!("version: {e}")))?;
    if version != FORMAT_VERSION {
        return Err(AnchorsError::Format(format!(
            "this file is version {version}; this sebroker reads version {FORMAT_VERSION}"
        )));
    }
    let (at, _) = field("opportunities")?;
    if b.get(at.start) != Some(&b'[') {
        return Err(bad(at.start, "opportunities must be an array"));
    }
    let mut out = ParsedFile::default();
    for item in scan::items(b, at.start) {
        match item {
            scan::Item::Value(r) => json_row(text, r, places, &mut out),
            scan::Item::Junk(r) => {
                out.rows_read += 1;
                out.errors.push(RowError {
                    line: line_of(text, r.start),
                    reference: None,
                    field: "row".into(),
                    message: format!("{} unexpected byte(s) between opportunities", r.len()),
                });
            }
        }
    }
    Ok(out)
}

/// One opportunity of a JSON file: depth-checked, then parsed.
fn json_row(text: &str, r: std::ops::Range<usize>, places: &Places, out: &mut ParsedFile) {
    let line = line_of(text, r.start);
    let raw = text.get(r).unwrap_or("");
    let parsed = match crate::json::check_depth(raw.as_bytes(), crate::json::MAX_DEPTH) {
        Err(e) => Err(("row".to_owned(), format!("skipped: {e}"))),
        Ok(()) => serde_json::from_str::<OpportunityInput>(raw).map_err(|e| {
            let msg = e.to_string();
            let field = msg
                .split('`')
                .nth(1)
                .filter(|_| msg.starts_with("unknown field"))
                .unwrap_or("row")
                .to_owned();
            (field, msg)
        }),
    };
    match parsed {
        Ok(input) => push_row(out, line, &input, places),
        Err((field, message)) => {
            out.rows_read += 1;
            out.errors.push(RowError {
                line,
                reference: None,
                field,
                message,
            });
        }
    }
}

/// Checks an anchor slug (`walsall-council`).
pub fn check_slug(s: &str) -> Result<(), String> {
    if source::is_slug(s) {
        Ok(())
    } else {
        Err(format!("anchor {s:?}: expected a lower-case slug of letters, digits and dashes (e.g. walsall-council)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_good_and_bad() {
        let csv = "# sebroker-anchors v1\n\
            anchor,reference,title,description,cpv,value_min_gbp,value_max_gbp,deadline,places,type,vcse_suitable,contact,url\n\
            Walsall Council,WC-001,Meals on wheels,Hot meals,85312000;55520000,10000,25000.50,2026-12-01,WS1;Walsall,open,yes,meals@example.org,https://example.org/1\n\
            Walsall Council,WC-002,Bad one,,123,abc,,tomorrow,Atlantis,tender,maybe,,ftp://x\n";
        let p = parse_file(csv.as_bytes(), &Places::builtin()).expect("parses");
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows_read, 2);
        let (line, o) = &p.rows[0];
        assert_eq!(*line, 3);
        assert_eq!(o.cpv, vec!["85312000", "55520000"]);
        assert_eq!(o.value_max_pence, Some(2_500_050));
        assert_eq!(
            o.deadline.map(|d| d.to_string()),
            Some("2026-12-01 23:59:00.0 +00:00:00".into())
        );
        let fields: Vec<&str> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "type",
                "cpv",
                "value_min_gbp",
                "deadline",
                "places",
                "vcse_suitable",
                "url"
            ]
        );
        assert!(p.errors.iter().all(|e| e.line == 4));
        let rel = o.to_release("walsall-council", OffsetDateTime::UNIX_EPOCH);
        assert!(
            rel.contains(r#""ocid":"anchor-walsall-council-wc-001""#),
            "{rel}"
        );
        assert!(rel.contains(r#""amount":"25000.50""#), "{rel}");
    }

    #[test]
    fn versions_and_unknown_columns() {
        let places = Places::builtin();
        assert!(parse_file(b"# sebroker-anchors v2\nreference,title,type\n", &places).is_err());
        assert!(parse_file(b"reference,title,type,colour\n", &places).is_err());
        let j = br#"{"format":"sebroker-anchors","version":1,"opportunities":[
            {"anchor":"A","reference":"r1","title":"t","type":"pipeline","cpv":["85312000"],"vcse_suitable":true},
            {"anchor":"A","reference":"r2","title":"t","type":"open","colour":"red"}]}"#;
        let p = parse_file(j, &places).expect("parses");
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.errors[0].line, 3);
        assert_eq!(p.errors[0].field, "colour");
    }

    #[test]
    fn a_bad_json_row_costs_that_row_only() {
        let places = Places::builtin();
        let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
        let j = format!(
            "{{\"format\":\"sebroker-anchors\",\"version\":1,\"opportunities\":[\n\
            {{\"anchor\":\"A\",\"reference\":\"r1\",\"title\":\"t\",\"type\":\"pipeline\"}},\n\
            {{\"anchor\":\"A\",\"reference\":\"r2\",\"title\":\"t\",\"type\":\"pipeline\",\"value_max_gbp\":NaN}},\n\
            {{\"anchor\":\"A\",\"reference\":\"r3\",\"title\":{deep},\"type\":\"pipeline\"}},\n\
            {{\"anchor\":\"A\",\"reference\":\"r4\",\"title\":\"t\",\"type\":\"pipeline\"}}]}}"
        );
        let p = parse_file(j.as_bytes(), &places).expect("parses");
        let refs: Vec<&str> = p.rows.iter().map(|(_, o)| o.reference.as_str()).collect();
        assert_eq!(refs, vec!["r1", "r4"]);
        let lines: Vec<u64> = p.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4]);
        assert!(
            p.errors[1].message.contains("deeper than 64"),
            "{:?}",
            p.errors
        );
        assert!(parse_file(&j.as_bytes()[..j.len() - 3], &places).is_err());
    }
}
