//! Cluster members: importing them from JSON, JSON Lines or CSV (each row
//! parsed into a valid [`Member`] or reported by line/index and field).

use std::path::Path;

use serde::Deserialize;

use crate::cpv;
use crate::json::{self, scan};
use crate::places::Places;
use sebroker_model::member::Contact;
use sebroker_model::{Identifiers, Member, TrackRecord};

/// Cluster slugs when none are configured.
pub const DEFAULT_CLUSTERS: &[&str] =
    &["ward-end", "walsall", "smethwick", "wolverhampton", "other"];
pub const LEGAL_FORMS: &[&str] = &["charity", "cic", "cio", "cbs", "co-op", "clg", "other"];

/// A member as written in an import file. Unknown fields are errors.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub legal_form: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub cpv: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub service_areas: Vec<String>,
    /// The postcode of its address (`WS1 1AA`), for distances to the work.
    #[serde(default)]
    pub postcode: Option<String>,
    #[serde(default)]
    pub turnover_gbp: Option<i64>,
    #[serde(default)]
    pub employees: Option<u32>,
    #[serde(default)]
    pub min_contract_gbp: Option<i64>,
    #[serde(default)]
    pub max_contract_gbp: Option<i64>,
    #[serde(default)]
    pub identifiers: Option<IdentifiersInput>,
    #[serde(default)]
    pub track_record: Vec<TrackRecordInput>,
    /// The organisation's web site: an `http` or `https` URL.
    #[serde(default)]
    pub website: Option<String>,
    /// Who to contact: a person's name, e-mail and phone (personal data).
    #[serde(default)]
    pub contact: Option<ContactInput>,
}

/// The contact of a member as written in an import file.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifiersInput {
    pub companies_house: Option<String>,
    pub charity: Option<String>,
    pub ppon: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackRecordInput {
    pub title: String,
    #[serde(default)]
    pub buyer: Option<String>,
    #[serde(default)]
    pub value_gbp: Option<i64>,
    #[serde(default)]
    pub year: Option<i32>,
    #[serde(default)]
    pub cpv: Vec<String>,
    #[serde(default)]
    pub ocid: Option<String>,
    /// The lots of the procurement it was won in, as the notice names them.
    #[serde(default)]
    pub lots: Vec<String>,
}

/// The most lots one past contract may name, and the longest lot id.
const MAX_LOTS: usize = 100;
const MAX_LOT_ID: usize = 100;

/// A past contract's lot ids: trimmed, each once, bounded in number and length.
fn lot_list(field: &str, lots: &[String]) -> Result<Vec<String>, (String, String)> {
    if lots.len() > MAX_LOTS {
        return Err((field.to_owned(), format!("names more than {MAX_LOTS} lots")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, l) in lots.iter().enumerate() {
        let id = l.trim();
        if id.is_empty() || id.chars().count() > MAX_LOT_ID || id.chars().any(char::is_control) {
            return Err((
                format!("{field}[{i}]"),
                format!("is not a lot id (1 to {MAX_LOT_ID} characters, no control characters)"),
            ));
        }
        if !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    Ok(out)
}

/// A parsed row, or the field (when known) and why it failed.
type RowResult = Result<MemberInput, (Option<String>, String)>;

/// A problem with one row: where (line or 1-based index), which field, why.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct RowProblem {
    /// `line 4` (CSV, JSONL) or `item 3` (JSON array).
    pub at: String,
    pub field: Option<String>,
    pub message: String,
}

/// The outcome of parsing one import file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub members: Vec<Member>,
    pub errors: Vec<RowProblem>,
    pub warnings: Vec<RowProblem>,
}

fn pence(field: &str, gbp: Option<i64>) -> Result<Option<i64>, (String, String)> {
    match gbp {
        None => Ok(None),
        Some(v) if v < 0 => Err((field.into(), "must not be negative".into())),
        Some(v) => v
            .checked_mul(100)
            .map(Some)
            .ok_or_else(|| (field.into(), "is too large".into())),
    }
}

fn cpv_list(field: &str, codes: &[String]) -> Result<Vec<String>, (String, String)> {
    let mut out = Vec::new();
    for (i, c) in codes.iter().enumerate() {
        let n = cpv::normalise(c)
            .ok_or_else(|| (format!("{field}[{i}]"), format!("{c:?} is not a CPV code")))?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// A UK postcode's shape (`B8 1AA`, `WS11 9ZZ`, `SW1A 1AA`), normalised to
/// upper case with one space before the inward code.
fn postcode(p: Option<String>) -> Result<Option<String>, (String, String)> {
    let Some(p) = non_empty(p) else {
        return Ok(None);
    };
    let compact: String = p
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let b = compact.as_bytes();
    let n = b.len();
    let shaped = (5..=7).contains(&n)
        && b.iter().all(u8::is_ascii_alphanumeric)
        && b[0].is_ascii_alphabetic()
        && b[n - 3].is_ascii_digit()
        && b[n - 2].is_ascii_alphabetic()
        && b[n - 1].is_ascii_alphabetic();
    if !shaped {
        return Err(("postcode".into(), format!("{p:?} is not a UK postcode")));
    }
    Ok(Some(format!("{} {}", &compact[..n - 3], &compact[n - 3..])))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|x| x.trim().to_owned()).filter(|x| !x.is_empty())
}

/// The longest e-mail address (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;

/// An e-mail address: one `@`, a local part, a domain with a dot, no
/// spaces or control characters. Deliverability is the mail server's.
pub fn email(field: &str, s: &str) -> Result<String, (String, String)> {
    let s = s.trim();
    let bad = || (field.to_owned(), format!("{s:?} is not an e-mail address"));
    if s.len() > MAX_EMAIL || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = s.split_once('@').ok_or_else(bad)?;
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if local.is_empty() || domain.contains('@') || !domain.contains('.') || !labels_ok {
        return Err(bad());
    }
    Ok(s.to_owned())
}

/// A phone number: digits with spaces, `+`, `-`, `(`, `)`; 7 to 15 digits.
pub fn phone(field: &str, s: &str) -> Result<String, (String, String)> {
    let s = s.trim();
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let allowed = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
    if !allowed || !(7..=15).contains(&digits) {
        return Err((field.to_owned(), format!("{s:?} is not a phone number")));
    }
    Ok(s.to_owned())
}

/// A web address: `http://` or `https://` and a host, at most 2,000 bytes.
pub fn web_url(field: &str, s: &str) -> Result<String, (String, String)> {
    let s = s.trim();
    let bad = || (field.to_owned(), format!("{s:?} is not an http(s) URL"));
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if s.len() > 2000 || !host_ok || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    Ok(s.to_owned())
}

impl ContactInput {
    /// The valid contact, `None` when every field is empty.
    pub fn parse(self) -> Result<Option<Contact>, (String, String)> {
        let c = Contact {
            name: non_empty(self.name),
            email: non_empty(self.email)
                .map(|e| email("contact.email", &e))
                .transpose()?,
            phone: non_empty(self.phone)
                .map(|p| phone("contact.phone", &p))
                .transpose()?,
        };
        Ok((!c.is_empty()).then_some(c))
    }
}

impl MemberInput {
    /// Parses into a valid member: `Err((field, why))`, or the member and the
    /// service areas that could not be resolved (warnings).
    pub fn into_member(
        self,
        clusters: &[String],
        places: &Places,
    ) -> Result<(Member, Vec<String>), (String, String)> {
        let id = self.id.trim().to_owned();
        // An id goes into URLs, ledger keys and file names: no spaces,
        // control characters or '/'.
        if id.is_empty()
            || id.len() > 64
            || id.contains(char::is_whitespace)
            || id.contains(char::is_control)
            || id.contains('/')
        {
            return Err((
                "id".into(),
                "must be 1–64 characters without spaces, control characters or '/'".into(),
            ));
        }
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(("name".into(), "must not be empty".into()));
        }
        let cluster = non_empty(self.cluster)
            .unwrap_or_else(|| "other".into())
            .to_lowercase();
        if !clusters.contains(&cluster) {
            return Err((
                "cluster".into(),
                format!("{cluster:?} is not one of {}", clusters.join(", ")),
            ));
        }
        let legal_form = non_empty(self.legal_form).map(|l| l.to_lowercase());
        if let Some(l) = &legal_form {
            if !LEGAL_FORMS.contains(&l.as_str()) {
                return Err((
                    "legal_form".into(),
                    format!("{l:?} is not one of {}", LEGAL_FORMS.join(", ")),
                ));
            }
        }
        let mut nuts = Vec::new();
        let mut unresolved = Vec::new();
        for a in self
            .service_areas
            .iter()
            .map(|a| a.trim())
            .filter(|a| !a.is_empty())
        {
            match places.resolve(a) {
                Some(levels) => nuts.extend(levels),
                None => unresolved.push(a.to_owned()),
            }
        }
        nuts.sort();
        nuts.dedup();
        let min = pence("min_contract_gbp", self.min_contract_gbp)?;
        let max = pence("max_contract_gbp", self.max_contract_gbp)?;
        if let (Some(a), Some(b)) = (min, max) {
            if a > b {
                return Err((
                    "min_contract_gbp".into(),
                    "is above max_contract_gbp".into(),
                ));
            }
        }
        let mut track_record = Vec::new();
        for (i, t) in self.track_record.into_iter().enumerate() {
            let field = format!("track_record[{i}]");
            track_record.push(TrackRecord {
                title: t.title.trim().to_owned(),
                buyer: non_empty(t.buyer),
                value_pence: pence(&format!("{field}.value_gbp"), t.value_gbp)?,
                year: t.year,
                cpv: cpv_list(&format!("{field}.cpv"), &t.cpv)?,
                ocid: non_empty(t.ocid),
                confidence: 1.0,
                lots: lot_list(&format!("{field}.lots"), &t.lots)?,
            });
        }
        let ids = self.identifiers.unwrap_or_default();
        let website = non_empty(self.website)
            .map(|w| web_url("website", &w))
            .transpose()?;
        let contact = match self.contact {
            Some(c) => c.parse()?,
            None => None,
        };
        let member = Member {
            id,
            name,
            cluster,
            legal_form,
            description: self.description.unwrap_or_default().trim().to_owned(),
            cpv: cpv_list("cpv", &self.cpv)?,
            keywords: self
                .keywords
                .into_iter()
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect(),
            service_areas: self.service_areas,
            postcode: postcode(self.postcode)?,
            nuts,
            turnover_pence: pence("turnover_gbp", self.turnover_gbp)?,
            employees: self.employees,
            min_contract_pence: min,
            max_contract_pence: max,
            identifiers: Identifiers {
                companies_house: non_empty(ids.companies_house),
                charity: non_empty(ids.charity),
                ppon: non_empty(ids.ppon),
            },
            track_record,
            vcse: true,
            sme: true,
            website,
            contact,
        };
        Ok((member, unresolved))
    }
}

/// The field named in a serde error message (`unknown field `x``, `missing field `y``).
fn serde_field(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_owned())
}

/// Parses an import file; the format comes from the extension.
pub fn parse_file(path: &Path, clusters: &[String], places: &Places) -> std::io::Result<Parsed> {
    let bytes = crate::json::read_bounded(path, crate::ocds::read::MAX_FILE_BYTES)?;
    let text = crate::json::decode(&bytes).text;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(parse_text(&text, &ext, clusters, places))
}

/// Parses members from text in the format of extension `ext` (`json`,
/// `jsonl`, `csv`).
pub fn parse_text(text: &str, ext: &str, clusters: &[String], places: &Places) -> Parsed {
    let rows: Vec<(String, RowResult)> = match ext {
        "csv" => csv_rows(text),
        "jsonl" | "ndjson" => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (format!("line {}", i + 1), json_row(l)))
            .collect(),
        _ => json_items(text),
    };
    let mut out = Parsed::default();
    for (at, row) in rows {
        match row.and_then(|input| {
            input
                .into_member(clusters, places)
                .map_err(|(f, m)| (Some(f), m))
        }) {
            Ok((m, unresolved)) => {
                for u in unresolved {
                    out.warnings.push(RowProblem {
                        at: at.clone(),
                        field: Some("service_areas".into()),
                        message: format!(
                            "{u:?} is not a place we know; kept, but it matches nothing"
                        ),
                    });
                }
                out.members.push(m);
            }
            Err((field, message)) => out.errors.push(RowProblem { at, field, message }),
        }
    }
    out
}

/// The 1-based line of byte `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The members of a JSON array, item by item: a bad token or a too-deep
/// value costs that member only; a truncation keeps the members before it.
fn json_items(text: &str) -> Vec<(String, RowResult)> {
    let b = text.as_bytes();
    let open = scan::skip_ws(b, 0);
    if b.get(open) != Some(&b'[') {
        return vec![(
            format!("line {}", line_of(text, open)),
            Err((None, "not a JSON array of members: expected `[`".into())),
        )];
    }
    let mut out = Vec::new();
    let mut n = 0;
    let mut items = scan::items(b, open);
    for item in items.by_ref() {
        match item {
            scan::Item::Value(r) => {
                n += 1;
                let row = match text.get(r) {
                    Some(raw) => json_row(raw),
                    None => Err((None, "not on a character boundary".into())),
                };
                out.push((format!("item {n}"), row));
            }
            scan::Item::Junk(r) => out.push((
                format!("line {}", line_of(text, r.start)),
                Err((
                    None,
                    format!("{} unexpected byte(s) between members skipped", r.len()),
                )),
            )),
        }
    }
    let trailing = items
        .end()
        .map(|e| scan::skip_ws(b, e))
        .filter(|e| *e < b.len());
    let problem = match (items.error(), trailing) {
        (Some(e), _) => Some((
            e.position(),
            format!("not a complete JSON array of members: {e}"),
        )),
        (None, Some(t)) => Some((t, "unexpected data after the array".to_owned())),
        (None, None) => None,
    };
    if let Some((at, m)) = problem {
        out.push((format!("line {}", line_of(text, at)), Err((None, m))));
    }
    out
}

/// One member's JSON, depth-checked before serde sees it.
fn json_row(text: &str) -> RowResult {
    if let Err(e) = json::check_depth(text.as_bytes(), json::MAX_DEPTH) {
        return Err((None, format!("member skipped: {e}")));
    }
    serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        (serde_field(&msg), msg)
    })
}

const CSV_COLUMNS: &[&str] = &[
    "id",
    "name",
    "cluster",
    "legal_form",
    "description",
    "cpv",
    "keywords",
    "service_areas",
    "turnover_gbp",
    "employees",
    "min_contract_gbp",
    "max_contract_gbp",
    "companies_house",
    "charity",
    "ppon",
    "website",
    "contact_name",
    "contact_email",
    "contact_phone",
];

fn csv_rows(text: &str) -> Vec<(String, RowResult)> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return vec![(
                "line 1".into(),
                Err((None, format!("cannot read the header: {e}"))),
            )]
        }
    };
    if let Some(bad) = headers.iter().find(|h| !CSV_COLUMNS.contains(h)) {
        return vec![(
            "line 1".into(),
            Err((
                Some(bad.to_owned()),
                format!(
                    "unknown column {bad:?}; expected some of {}",
                    CSV_COLUMNS.join(", ")
                ),
            )),
        )];
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        match rec {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line());
                out.push((format!("line {line}"), csv_member(&headers, &rec)));
            }
            Err(e) => out.push((
                format!("line {}", e.position().map_or(0, |p| p.line())),
                Err((None, e.to_string())),
            )),
        }
    }
    out
}

fn csv_member(headers: &csv::StringRecord, rec: &csv::StringRecord) -> RowResult {
    let get = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .and_then(|i| rec.get(i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let list = |name: &str| {
        get(name)
            .map(|v| {
                v.split(';')
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let num = |name: &str| -> Result<Option<i64>, (Option<String>, String)> {
        get(name)
            .map(|v| {
                v.replace(',', "").parse::<i64>().map_err(|_| {
                    (
                        Some(name.to_owned()),
                        format!("{v:?} is not a whole number"),
                    )
                })
            })
            .transpose()
    };
    Ok(MemberInput {
        id: get("id")
            .ok_or((Some("id".into()), "is required".into()))?
            .to_owned(),
        name: get("name")
            .ok_or((Some("name".into()), "is required".into()))?
            .to_owned(),
        cluster: get("cluster").map(str::to_owned),
        legal_form: get("legal_form").map(str::to_owned),
        description: get("description").map(str::to_owned),
        cpv: list("cpv"),
        keywords: list("keywords"),
        service_areas: list("service_areas"),
        postcode: get("postcode").map(str::to_owned),
        turnover_gbp: num("turnover_gbp")?,
        employees: num("employees")?
            .map(|e| {
                u32::try_from(e)
                    .map_err(|_| (Some("employees".to_owned()), "is out of range".to_owned()))
            })
            .transpose()?,
        min_contract_gbp: num("min_contract_gbp")?,
        max_contract_gbp: num("max_contract_gbp")?,
        identifiers: Some(IdentifiersInput {
            companies_house: get("companies_house").map(str::to_owned),
            charity: get("charity").map(str::to_owned),
            ppon: get("ppon").map(str::to_owned),
        }),
        track_record: Vec::new(),
        website: get("website").map(str::to_owned),
        contact: Some(ContactInput {
            name: get("contact_name").map(str::to_owned),
            email: get("contact_email").map(str::to_owned),
            phone: get("contact_phone").map(str::to_owned),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clusters() -> Vec<String> {
        DEFAULT_CLUSTERS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_valid_member_parses_with_pence_and_places() {
        let input: MemberInput = serde_json::from_str(
            r#"{"id":"m-1","name":"Care CIC","cluster":"walsall","legal_form":"cic","cpv":["85312000-9","853"],
                "service_areas":["UKG38","Walsall","WS1","West Midlands","Narnia"],"turnover_gbp":420000}"#,
        )
        .expect("parses");
        let (m, unresolved) = input
            .into_member(&clusters(), &Places::builtin())
            .expect("valid");
        assert_eq!(m.cpv, vec!["85312000", "85300000"]);
        assert_eq!(m.turnover_pence, Some(42_000_000));
        assert!(m.nuts.contains(&"UKG38".to_owned()) && m.nuts.contains(&"UKG".to_owned()));
        assert_eq!(unresolved, vec!["Narnia".to_owned()]);
    }

    #[test]
    fn bad_fields_are_named() {
        let control: MemberInput =
            serde_json::from_str(r#"{"id":"m\u0018x","name":"n"}"#).expect("parses");
        let e = control
            .into_member(&clusters(), &Places::builtin())
            .expect_err("a control character in an id");
        assert_eq!(e.0, "id");
        let e = json_row(r#"{"id":"m","name":"n","colour":"red"}"#).expect_err("unknown field");
        assert_eq!(e.0.as_deref(), Some("colour"));
        let input: MemberInput =
            serde_json::from_str(r#"{"id":"m","name":"n","cluster":"mars"}"#).expect("parses");
        let e = input
            .into_member(&clusters(), &Places::builtin())
            .expect_err("bad cluster");
        assert_eq!(e.0, "cluster");
        let input: MemberInput =
            serde_json::from_str(r#"{"id":"m","name":"n","cpv":["12"]}"#).expect("parses");
        assert!(input.into_member(&clusters(), &Places::builtin()).is_ok());
        let input: MemberInput =
            serde_json::from_str(r#"{"id":"m","name":"n","cpv":["x1"]}"#).expect("parses");
        assert_eq!(
            input
                .into_member(&clusters(), &Places::builtin())
                .err()
                .map(|e| e.0)
                .as_deref(),
            Some("cpv[0]")
        );
    }

    #[test]
    fn a_past_contracts_lots_are_read_or_named() {
        let parse = |lots: &str| {
            serde_json::from_str::<MemberInput>(&format!(
                r#"{{"id":"m","name":"n","track_record":[{{"title":"SEND transport","lots":{lots}}}]}}"#
            ))
            .expect("parses")
            .into_member(&clusters(), &Places::builtin())
        };
        let (m, _) = parse(r#"[" 2716 ","2717","2716"]"#).expect("valid");
        assert_eq!(m.track_record[0].lots, vec!["2716", "2717"]);
        let e = parse(r#"["2716","  "]"#).expect_err("an empty lot id");
        assert_eq!(e.0, "track_record[0].lots[1]");
        let many = format!("[{}]", vec!["\"1\""; MAX_LOTS + 1].join(","));
        let e = parse(&many).expect_err("too many lots");
        assert_eq!(e.0, "track_record[0].lots");
    }

    #[test]
    fn contact_and_website_are_parsed_or_named() {
        let parse = |json: &str| {
            serde_json::from_str::<MemberInput>(json)
                .expect("parses")
                .into_member(&clusters(), &Places::builtin())
        };
        let (m, _) = parse(
            r#"{"id":"m","name":"n","website":"https://care.example.org/about",
                "contact":{"name":" Ann Lee ","email":"ann@care.example.org","phone":"+44 121 496 0000"}}"#,
        )
        .expect("valid");
        let c = m.contact.expect("contact");
        assert_eq!(c.name.as_deref(), Some("Ann Lee"));
        assert_eq!(c.email.as_deref(), Some("ann@care.example.org"));
        assert_eq!(m.website.as_deref(), Some("https://care.example.org/about"));
        let field = |json: &str| parse(json).err().map(|e| e.0);
        assert_eq!(
            field(r#"{"id":"m","name":"n","contact":{"email":"ann at example"}}"#).as_deref(),
            Some("contact.email")
        );
        assert_eq!(
            field(r#"{"id":"m","name":"n","contact":{"phone":"call me"}}"#).as_deref(),
            Some("contact.phone")
        );
        assert_eq!(
            field(r#"{"id":"m","name":"n","website":"javascript:alert(1)"}"#).as_deref(),
            Some("website")
        );
        let (m, _) = parse(r#"{"id":"m","name":"n","contact":{"name":"  "}}"#).expect("valid");
        assert_eq!(m.contact, None);
        let p = parse_text(
            "id,name,contact_name,contact_email\nm1,N,Ann Lee,ann@example.org\n",
            "csv",
            &clusters(),
            &Places::builtin(),
        );
        assert_eq!(
            p.members[0]
                .contact
                .as_ref()
                .and_then(|c| c.email.as_deref()),
            Some("ann@example.org")
        );
    }

    #[test]
    fn a_bad_member_costs_that_member_only() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let text = format!(
            "[{{\"id\":\"a\",\"name\":\"A\"}},\n{{\"id\":\"b\",\"name\":\"B\",\"turnover_gbp\":Infinity}},\n{{\"id\":\"c\",\"name\":\"C\",\"keywords\":{deep}}},\n{{\"id\":\"d\",\"name\":\"D\"}}]"
        );
        let p = parse_text(&text, "json", &clusters(), &Places::builtin());
        let ids: Vec<&str> = p.members.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, vec!["a", "d"]);
        let at: Vec<&str> = p.errors.iter().map(|e| e.at.as_str()).collect();
        assert_eq!(at, vec!["item 2", "item 3"]);
        assert!(
            p.errors[1].message.contains("deeper than 64"),
            "{:?}",
            p.errors
        );
        // Truncated: the members before the cut are kept, the cut is reported.
        let p = parse_text(
            &text[..text.len() - 30],
            "json",
            &clusters(),
            &Places::builtin(),
        );
        assert_eq!(p.members.len(), 1);
        assert!(
            p.errors
                .last()
                .is_some_and(|e| e.message.contains("truncated")),
            "{:?}",
            p.errors
        );
        let p = parse_text(
            &format!("{deep}\n"),
            "jsonl",
            &clusters(),
            &Places::builtin(),
        );
        assert_eq!((p.members.len(), p.errors.len()), (0, 1));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn members_readers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
                let text = String::from_utf8_lossy(&bytes);
                for ext in ["csv", "json", "jsonl"] {
                    let _ = parse_text(&text, ext, &clusters(), &Places::builtin());
                    let with_header = format!("id,name,turnover_gbp\n{text}");
                    let _ = parse_text(&with_header, ext, &clusters(), &Places::builtin());
                }
            }

            #[test]
            fn members_csv_keeps_good_rows_around_bad_ones(rows in prop::collection::vec(0u8..5, 0..30)) {
                let mut f = String::from("id,name,turnover_gbp,cluster\n");
                for (i, r) in rows.iter().enumerate() {
                    f.push_str(&match r {
                        0 => format!("m{i},\"Name, {i}\",\"1,000\",walsall\n"),
                        1 => format!("m{i},N,{i},\n"),
                        2 => format!("m{i},N,lots,walsall\n"),
                        3 => format!("m{i},N,1,mars\n"),
                        _ => format!("m{i},N,1,walsall,extra\n"),
                    });
                }
                let p = parse_text(&f, "csv", &clusters(), &Places::builtin());
                let good: Vec<String> = rows.iter().enumerate().filter(|(_, r)| **r < 2).map(|(i, _)| format!("m{i}")).collect();
                prop_assert_eq!(p.members.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), good);
                let bad: Vec<String> = rows.iter().enumerate().filter(|(_, r)| **r >= 2).map(|(i, _)| format!("line {}", i + 2)).collect();
                prop_assert_eq!(p.errors.iter().map(|e| e.at.clone()).collect::<Vec<_>>(), bad);
            }
        }
    }
}
