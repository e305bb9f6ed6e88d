//! Merging all releases of one ocid into a compiled [`Notice`]: later
//! releases override earlier ones field by field (by release date), awards
//! accumulate by award id, and a cancellation sets the stage.

use std::collections::BTreeMap;

use sebroker_model::notice::{
    Award, Buyer, Contact, CpvCode, Criterion, Lot, Notice, ReleaseRef, Stage, Suitability,
    Supplier, Value,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::release::{self as r, Release};
use crate::json::clean_text;
use crate::money::{parse_amount, Amount};
use crate::places::Places;
use crate::source;

/// What compiling needs besides the releases.
pub struct CompileContext<'a> {
    pub places: &'a Places,
    /// Overrides the source derived from the ocid (e.g. `anchor:walsall`).
    pub source: Option<&'a str>,
}

/// Parses an OCDS date-time, keeping its offset. Dates without an offset
/// are read as UTC; bare dates as midnight UTC.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let with_zone = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        format!("{s}Z")
    };
    OffsetDateTime::parse(&with_zone, &Rfc3339).ok()
}

/// Compiles the releases of one ocid. `releases` may be in any order.
/// Returns `None` when there is nothing to compile.
pub fn compile(mut releases: Vec<Release>, ctx: &CompileContext) -> Option<Notice> {
    let ocid = releases.iter().find_map(|r| r.ocid.clone())?;
    releases.sort_by(|a, b| {
        let ta = a.date.as_deref().and_then(parse_time);
        let tb = b.date.as_deref().and_then(parse_time);
        ta.cmp(&tb).then_with(|| id_of(a).cmp(&id_of(b)))
    });
    let src = ctx
        .source
        .map(str::to_owned)
        .unwrap_or_else(|| source::source_of_ocid(&ocid));
    let mut b = Builder::new(ocid, src);
    for rel in &releases {
        b.apply(rel, ctx.places);
    }
    Some(b.finish(ctx.places))
}

fn id_of(r: &Release) -> String {
    r.id.as_ref().map(|t| t.0.clone()).unwrap_or_default()
}

struct Builder {
    n: Notice,
    awards: BTreeMap<String, Award>,
    sme_notice: Option<bool>,
    vcse_notice: Option<bool>,
    buyer_places: Vec<String>,
}

impl Builder {
    fn new(ocid: String, source: String) -> Self {
        Builder {
            n: Notice {
                ocid,
                source,
                source_url: None,
                releases: Vec::new(),
                notice_type: None,
                stage: Stage::Unknown,
                title: String::new(),
                description: String::new(),
                buyer: Buyer::default(),
                contacts: Vec::new(),
                cpv: Vec::new(),
                value: Value::default(),
                published: None,
                updated: None,
                deadline: None,
                places: Vec::new(),
                nuts: Vec::new(),
                suitability: Suitability::default(),
                reserved: false,
                lots: Vec::new(),
                awards: Vec::new(),
            },
            awards: BTreeMap::new(),
            sme_notice: None,
            vcse_notice: None,
            buyer_places: Vec::new(),
        }
    }

    fn apply(&mut self, rel: &Release, places: &Places) {
        let date = rel.date.as_deref().and_then(parse_time);
        let id = rel.id.as_ref().map(|t| t.0.clone());
        self.n.releases.push(ReleaseRef {
            id: id.clone().unwrap_or_default(),
            date,
            tags: rel.tag.clone(),
        });
        if self.n.published.is_none() {
            self.n.published = date;
        }
        if date.is_some() {
            self.n.updated = date;
        }
        if let Some(url) = source::notice_url(&self.n.source, &self.n.ocid, id.as_deref()) {
            self.n.source_url = Some(url);
        }
        self.apply_stage(rel);
        self.apply_buyer(rel);
        if let Some(t) = &rel.tender {
            self.apply_tender(t, places);
        }
        let cpv = release_cpv(rel);
        if !cpv.is_empty() {
            self.n.cpv = cpv;
        }
        self.apply_awards(rel);
    }

    fn apply_stage(&mut self, rel: &Release) {
        let ty = rel.notice_type();
        if ty.is_some() {
            self.n.notice_type = ty.clone();
        }
        let cancelled_tender = rel
            .tender
            .as_ref()
            .and_then(|t| t.status.as_deref())
            .is_some_and(|s| {
                s.eq_ignore_ascii_case("cancelled") || s.eq_ignore_ascii_case("withdrawn")
            });
        let stage = ty
            .as_deref()
            .and_then(stage_of_notice_type)
            .or_else(|| stage_of_tags(&rel.tag));
        let stage = if cancelled_tender {
            Some(Stage::Cancelled)
        } else {
            stage
        };
        // Anchors' own pipeline entries: a planning release whose tender is
        // still at `planning` (see `anchors`), without a notice type.
        let anchor_pipeline = self.n.source.starts_with("anchor:")
            && ty.is_none()
            && stage == Some(Stage::Planned)
            && rel.tender.as_ref().and_then(|t| t.status.as_deref()) == Some("planning");
        let stage = if anchor_pipeline {
            Some(Stage::Pipeline)
        } else {
            stage
        };
        if let Some(s) = stage {
            // A cancelled procurement stays cancelled unless it was awarded after all.
            if self.n.stage != Stage::Cancelled || s == Stage::Awarded {
                self.n.stage = s;
            }
        }
    }

    fn apply_buyer(&mut self, rel: &Release) {
        if let Some(b) = &rel.buyer {
            set(&mut self.n.buyer.name, b.name.as_deref());
            set(&mut self.n.buyer.id, b.id.as_ref().map(|t| t.0.as_str()));
        }
        let buyers: Vec<&r::Party> = rel
            .parties
            .iter()
            .filter(|p| p.roles.iter().any(|r| r.eq_ignore_ascii_case("buyer")))
            .collect();
        if buyers.is_empty() {
            return;
        }
        let mut contacts = Vec::new();
        self.buyer_places.clear();
        for p in buyers {
            if self.n.buyer.name.is_none() {
                set(&mut self.n.buyer.name, p.name.as_deref());
            }
            if let Some(a) = &p.address {
                set(&mut self.n.buyer.region, a.region.as_deref());
                set(&mut self.n.buyer.postcode, a.postal_code.as_deref());
                self.buyer_places.extend(address_places(a));
            }
            if let Some(c) = &p.contact_point {
                contacts.push(Contact {
                    name: c.name.clone(),
                    email: c.email.clone(),
                    telephone: c.telephone.clone(),
                    url: c.url.clone(),
                });
            }
        }
        if !contacts.is_empty() {
            self.n.contacts = contacts;
        }
    }

    fn apply_tender(&mut self, t: &r::Tender, places: &Places) {
        if let Some(title) = t.title.as_deref().map(clean_text).filter(|s| !s.is_empty()) {
            self.n.title = title;
        }
        if let Some(d) = t
            .description
            .as_deref()
            .map(clean_text)
            .filter(|s| !s.is_empty())
        {
            self.n.description = d;
        }
        if let Some(v) = tender_value(t) {
            self.n.value = v;
        }
        if let Some(end) = t.tender_period.as_ref().and_then(|p| p.end_date.as_deref()) {
            if let Some(d) = parse_time(end) {
                self.n.deadline = Some(d);
            }
        }
        let delivery: Vec<String> = t
            .items
            .iter()
            .flat_map(|i| i.delivery_addresses.iter().chain(i.delivery_address.iter()))
            .flat_map(address_places)
            .collect();
        if !delivery.is_empty() {
            self.n.places = dedup(delivery);
        }
        if !t.lots.is_empty() {
            self.n.lots = t.lots.iter().map(|l| lot(l, &t.items, places)).collect();
        }
        if let Some(s) = &t.suitability {
            if let Some(f) = s.sme {
                self.sme_notice = Some(f.0);
            }
            if let Some(f) = s.vcse {
                self.vcse_notice = Some(f.0);
            }
        }
        if let Some(o) = &t.other_requirements {
            self.n.reserved = o
                .reserved_participation
                .iter()
                .any(|p| p.eq_ignore_ascii_case("smeVcse"));
        }
    }

    fn apply_awards(&mut self, rel: &Release) {
        for a in &rel.awards {
            let Some(id) = a.id.as_ref().map(|t| t.0.clone()) else {
                continue;
            };
            let suppliers = a
                .suppliers
                .iter()
                .map(|s| supplier(s, &rel.parties))
                .collect();
            let award = Award {
                id: id.clone(),
                status: a.status.clone(),
                suppliers,
                value: a.value.as_ref().and_then(|v| value_of(v, None)),
                date: a.date.as_deref().and_then(parse_time),
                lots: a.related_lots.iter().map(|l| l.0.clone()).collect(),
            };
            self.awards.insert(id, award);
        }
    }

    fn finish(mut self, places: &Places) -> Notice {
        self.n.awards = self.awards.into_values().collect();
        let lot_sme = self.n.lots.iter().any(|l| l.suitability.sme);
        let lot_vcse = self.n.lots.iter().any(|l| l.suitability.vcse);
        self.n.suitability = Suitability {
            sme: self.sme_notice.unwrap_or(false) || lot_sme,
            vcse: self.vcse_notice.unwrap_or(false) || lot_vcse,
        };
        if self.n.places.is_empty() {
            // No delivery place published: the buyer's address is the best hint.
            self.n.places = dedup(self.buyer_places);
        }
        let mut nuts: Vec<String> = self
            .n
            .places
            .iter()
            .filter_map(|p| places.resolve(p))
            .flatten()
            .collect();
        nuts.sort();
        nuts.dedup();
        self.n.nuts = nuts;
        self.n
    }
}

fn set(field: &mut Option<String>, v: Option<&str>) {
    if let Some(v) = v.map(clean_text).filter(|s| !s.is_empty()) {
        *field = Some(v);
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
    v
}

/// The places an address names: its region (NUTS code or region name), else
/// its postcode, else its country.
fn address_places(a: &r::Address) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = a.region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        out.push(r.to_owned());
    }
    if let Some(pc) = a
        .postal_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        out.push(pc.to_uppercase());
    }
    if out.is_empty() {
        if let Some(c) = a
            .country_name
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            out.push(c.to_owned());
        }
    }
    out
}

fn classification(c: &r::Classification, out: &mut Vec<CpvCode>) {
    let is_cpv = c
        .scheme
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case("CPV"));
    let code = c.id.as_ref().and_then(|t| crate::cpv::normalise(&t.0));
    if let (true, Some(code)) = (is_cpv, code) {
        if let Some(existing) = out.iter_mut().find(|x| x.code == code) {
            if existing.description.is_none() {
                existing.description = c.description.clone();
            }
        } else {
            out.push(CpvCode {
                code,
                description: c
                    .description
                    .as_deref()
                    .map(clean_text)
                    .filter(|d| !d.is_empty()),
            });
        }
    }
}

/// Every CPV code of a release: tender, its items, and the items of awards
/// and contracts (award notices often carry the codes only there).
fn release_cpv(rel: &Release) -> Vec<CpvCode> {
    let mut out = Vec::new();
    let mut items: Vec<&r::Item> = Vec::new();
    if let Some(t) = &rel.tender {
        if let Some(c) = &t.classification {
            classification(c, &mut out);
        }
        t.additional_classifications
            .iter()
            .for_each(|c| classification(c, &mut out));
        items.extend(&t.items);
    }
    items.extend(rel.awards.iter().flat_map(|a| &a.items));
    items.extend(rel.contracts.iter().flat_map(|c| &c.items));
    for item in items {
        if let Some(c) = &item.classification {
            classification(c, &mut out);
        }
        item.additional_classifications
            .iter()
            .for_each(|c| classification(c, &mut out));
    }
    out
}

/// Parses an amount; `unbounded` is raised when it does not fit.
fn amount(raw: Option<&serde_json::value::RawValue>, unbounded: &mut bool) -> Option<i64> {
    match parse_amount(raw?.get())? {
        Amount::Pence(p) => Some(p),
        Amount::Unbounded => {
            *unbounded = true;
            None
        }
    }
}

fn value_of(v: &r::Value, min: Option<&r::Value>) -> Option<Value> {
    let mut unbounded = false;
    let out = Value {
        amount_pence: amount(v.amount.as_deref(), &mut unbounded),
        gross_pence: amount(v.amount_gross.as_deref(), &mut unbounded),
        min_pence: min.and_then(|m| amount(m.amount.as_deref(), &mut unbounded)),
        max_pence: None,
        currency: v
            .currency
            .as_deref()
            .or(min.and_then(|m| m.currency.as_deref()))
            .map(|c| c.trim().to_uppercase())
            .filter(|c| !c.is_empty()),
        unbounded: false,
    };
    let out = Value { unbounded, ..out };
    (!out.is_empty()).then_some(out)
}

fn tender_value(t: &r::Tender) -> Option<Value> {
    let empty = r::Value::default();
    let base = t.value.as_ref().unwrap_or(&empty);
    let mut v = value_of(base, t.min_value.as_ref()).unwrap_or_default();
    if let Some(max) = &t.max_value {
        let mut unbounded = v.unbounded;
        v.max_pence = amount(max.amount.as_deref(), &mut unbounded);
        v.unbounded = unbounded;
        if v.currency.is_none() {
            v.currency = max.currency.clone();
        }
    }
    (!v.is_empty()).then_some(v)
}

/// A lot with its own CPV codes and places: those of the items that name it.
fn lot(l: &r::Lot, items: &[r::Item], places: &Places) -> Lot {
    let id = l.id.as_ref().map(|t| t.0.clone()).unwrap_or_default();
    let own: Vec<&r::Item> = items
        .iter()
        .filter(|i| !id.is_empty() && i.related_lot.as_ref().is_some_and(|r| r.0 == id))
        .collect();
    let mut cpv = Vec::new();
    for i in &own {
        i.classification
            .iter()
            .chain(&i.additional_classifications)
            .for_each(|c| classification(c, &mut cpv));
    }
    let mut nuts: Vec<String> = own
        .iter()
        .flat_map(|i| i.delivery_addresses.iter().chain(i.delivery_address.iter()))
        .flat_map(address_places)
        .filter_map(|p| places.resolve(&p))
        .flatten()
        .collect();
    nuts.sort();
    nuts.dedup();
    Lot {
        cpv: cpv.into_iter().map(|c| c.code).collect(),
        nuts,
        id,
        title: l.title.as_deref().map(clean_text).filter(|s| !s.is_empty()),
        value: l.value.as_ref().and_then(|v| value_of(v, None)),
        suitability: l
            .suitability
            .as_ref()
            .map(|s| Suitability {
                sme: s.sme.is_some_and(|f| f.0),
                vcse: s.vcse.is_some_and(|f| f.0),
            })
            .unwrap_or_default(),
        award_criteria: l
            .award_criteria
            .iter()
            .flat_map(|c| &c.0)
            .take(MAX_CRITERIA)
            .map(criterion)
            .collect(),
    }
}

/// Criteria kept per lot (real notices have 2–6).
const MAX_CRITERIA: usize = 20;

/// A criterion with its exact percentage weight, and whether it is social value.
fn criterion(c: &r::Criterion) -> Criterion {
    let says_social = |s: &Option<String>| {
        s.as_deref()
            .is_some_and(|x| x.to_lowercase().contains("social value"))
    };
    let weight_bp = c
        .numbers
        .iter()
        .filter(|n| n.weight.as_deref() == Some("percentageExact"))
        .find_map(|n| n.number.as_ref()?.0.trim().parse::<f64>().ok())
        .filter(|p| p.is_finite() && (0.0..=100.0).contains(p))
        .map(|p| (p * 100.0).round() as u32);
    Criterion {
        kind: c.kind.as_deref().map(clean_text).filter(|s| !s.is_empty()),
        name: c.name.as_deref().map(clean_text).filter(|s| !s.is_empty()),
        weight_bp,
        social_value: says_social(&c.name) || says_social(&c.description),
    }
}

fn supplier(s: &r::OrgRef, parties: &[r::Party]) -> Supplier {
    let id = s.id.as_ref().map(|t| t.0.as_str());
    let party = parties
        .iter()
        .find(|p| p.id.as_ref().map(|t| t.0.as_str()) == id && id.is_some());
    let identifier = party
        .and_then(|p| p.identifier.as_ref())
        .and_then(|i| match (i.scheme.as_deref(), i.id.as_ref()) {
            (Some(scheme), Some(id)) if !scheme.is_empty() && !id.0.is_empty() => {
                Some(format!("{}-{}", scheme.trim(), id.0.trim()))
            }
            _ => None,
        })
        .or_else(|| id.map(str::to_owned));
    Supplier {
        name: s
            .name
            .clone()
            .or_else(|| party.and_then(|p| p.name.clone()))
            .map(|n| clean_text(&n)),
        identifier,
        scale: party
            .and_then(|p| p.details.as_ref())
            .and_then(|d| d.scale.clone()),
        vcse: party
            .and_then(|p| p.details.as_ref())
            .and_then(|d| d.vcse)
            .map(|f| f.0),
        postcode: party
            .and_then(|p| p.address.as_ref())
            .and_then(|a| a.postal_code.as_deref())
            .map(clean_text)
            .filter(|p| !p.is_empty()),
    }
}

/// Procurement Act notice types to stages.
pub fn stage_of_notice_type(t: &str) -> Option<Stage> {
    Some(match t {
        "UK1" => Stage::Pipeline,
        "UK2" | "UK3" => Stage::Planned,
        // Tenders, and dynamic markets that suppliers can still apply to join.
        "UK4" | "UK13" | "UK14" | "UK15" => Stage::Tender,
        // Transparency (direct award), award, contract details, payments,
        // performance, change and termination of a let contract.
        "UK5" | "UK6" | "UK7" | "UK8" | "UK9" | "UK10" | "UK11" | "UK17" => Stage::Awarded,
        // Procurement termination; dynamic market cessation: nobody can bid.
        "UK12" | "UK16" => Stage::Cancelled,
        _ => return None,
    })
}

/// OCDS release tags to stages, for notices without a notice type.
pub fn stage_of_tags(tags: &[String]) -> Option<Stage> {
    let has = |t: &str| tags.iter().any(|x| x.eq_ignore_ascii_case(t));
    if has("tenderCancellation") {
        Some(Stage::Cancelled)
    } else if [
        "award",
        "awardUpdate",
        "contract",
        "contractUpdate",
        "contractAmendment",
        "implementation",
        "implementationUpdate",
        "contractTermination",
    ]
    .iter()
    .any(|t| has(t))
    {
        Some(Stage::Awarded)
    } else if has("tender") || has("tenderAmendment") || has("tenderUpdate") {
        Some(Stage::Tender)
    } else if has("planning") || has("planningUpdate") {
        Some(Stage::Planned)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(s: &str) -> Release {
        Release::parse(s).expect("test release parses")
    }

    fn ctx(p: &Places) -> CompileContext<'_> {
        CompileContext {
            places: p,
            source: None,
        }
    }

    #[test]
    fn later_releases_override_and_awards_accumulate() {
        let places = Places::builtin();
        let a = rel(
            r#"{"ocid":"ocds-h6vhtk-1","id":"1","date":"2026-01-01T10:00:00+00:00","tag":["tender"],
            "tender":{"title":"Old","description":"Desc","documents":[{"noticeType":"UK4"}],
              "value":{"amount":"1000.5","currency":"GBP"},"tenderPeriod":{"endDate":"2026-02-01T12:00:00+00:00"},
              "items":[{"additionalClassifications":[{"scheme":"CPV","id":"85312000","description":"Social work"}],
                        "deliveryAddresses":[{"region":"UKG38"}]}],
              "lots":[{"id":"1","suitability":{"sme":true,"vcse":true}}]}}"#,
        );
        let b = rel(
            r#"{"ocid":"ocds-h6vhtk-1","id":"2","date":"2026-03-01T10:00:00+00:00","tag":["award","contract"],
            "tender":{"title":"New"},
            "parties":[{"id":"S1","name":"Care CIC","identifier":{"scheme":"GB-COH","id":"12345678"},
                        "details":{"scale":"sme","vcse":true},"roles":["supplier"]}],
            "awards":[{"id":"A1","status":"active","suppliers":[{"id":"S1","name":"Care CIC"}],
                       "value":{"amount":900},"documents":[{"noticeType":"UK6"}]}]}"#,
        );
        // Given newest first, as the FTS API does.
        let n = compile(vec![b, a], &ctx(&places)).expect("compiles");
        assert_eq!(n.title, "New");
        assert_eq!(n.description, "Desc");
        assert_eq!(n.notice_type.as_deref(), Some("UK6"));
        assert_eq!(n.stage, Stage::Awarded);
        assert_eq!(n.value.amount_pence, Some(100_050));
        assert_eq!(n.value.currency.as_deref(), Some("GBP"));
        assert_eq!(n.cpv[0].code, "85312000");
        assert_eq!(n.nuts, vec!["UK", "UKG", "UKG3", "UKG38"]);
        assert!(n.suitability.vcse && n.suitability.sme);
        assert_eq!(n.awards.len(), 1);
        let s = &n.awards[0].suppliers[0];
        assert_eq!(s.identifier.as_deref(), Some("GB-COH-12345678"));
        assert_eq!(s.vcse, Some(true));
        assert_eq!(n.releases.len(), 2);
        assert_eq!(n.releases[0].id, "1");
        assert_eq!(
            n.source_url.as_deref(),
            Some("https://www.find-tender.service.gov.uk/Notice/2")
        );
    }

    #[test]
    fn cancellation_and_unknown_currency() {
        let places = Places::builtin();
        let a = rel(
            r#"{"ocid":"x-1","id":"1","date":"2026-01-01","tag":["tender"],"tender":{"value":{"amount":5}}}"#,
        );
        let b = rel(r#"{"ocid":"x-1","id":"2","date":"2026-01-02","tag":["tenderCancellation"]}"#);
        let c = rel(r#"{"ocid":"x-1","id":"3","date":"2026-01-03","tag":["tenderUpdate"]}"#);
        let n = compile(vec![a, b, c], &ctx(&places)).expect("compiles");
        assert_eq!(n.stage, Stage::Cancelled);
        assert_eq!(n.value.amount_pence, Some(500));
        assert_eq!(n.value.currency, None);
    }

    #[test]
    fn unbounded_values() {
        let places = Places::builtin();
        let a =
            rel(r#"{"ocid":"x-1","id":"1","tender":{"value":{"amount":1e9999,"currency":"GBP"}}}"#);
        let n = compile(vec![a], &ctx(&places)).expect("compiles");
        assert!(n.value.unbounded);
        assert_eq!(n.value.amount_pence, None);
    }

    #[test]
    fn times_keep_their_offset() {
        let t = parse_time("2026-08-25T12:00:00+01:00").expect("parses");
        assert_eq!(t.offset().whole_hours(), 1);
        assert!(parse_time("2026-08-25").is_some());
        assert!(parse_time("2026-08-25T12:00:00").is_some());
        assert!(parse_time("soon").is_none());
    }
}
