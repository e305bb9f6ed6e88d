//! The member model: a VCSE in a cluster, its identifiers and its track record.

use serde::{Deserialize, Serialize};

/// One past contract, entered by a broker or linked from an award notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackRecord {
    pub title: String,
    pub buyer: Option<String>,
    pub value_pence: Option<i64>,
    pub year: Option<i32>,
    #[serde(default)]
    pub cpv: Vec<String>,
    pub ocid: Option<String>,
    /// 1.0 for a record a broker entered or confirmed; the link confidence
    /// for one proposed from an award notice.
    #[serde(default = "one")]
    pub confidence: f64,
    /// The lots of the procurement it was won in (lot ids as published), so
    /// a later call-off in the same lot of the same framework is recognised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lots: Vec<String>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifiers {
    pub companies_house: Option<String>,
    pub charity: Option<String>,
    pub ppon: Option<String>,
}

impl Identifiers {
    /// The OCDS identifiers this member would carry in award notices
    /// (`GB-COH-12345678`, `GB-CHC-1234567`, `GB-PPON-...`).
    pub fn ocds_ids(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = &self.companies_house {
            out.push(format!("GB-COH-{}", c.trim().to_uppercase()));
        }
        if let Some(c) = &self.charity {
            out.push(format!("GB-CHC-{}", c.trim()));
        }
        if let Some(p) = &self.ppon {
            out.push(format!("GB-PPON-{}", p.trim().to_uppercase()));
        }
        out
    }
}

/// The person to contact at a member: personal data, shown to brokers,
/// admins and the member itself, never to funders, and removed by erasure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

impl Contact {
    /// Whether no field is set (an empty contact is stored as none).
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.phone.is_none()
    }
}

/// A cluster member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub cluster: String,
    pub legal_form: Option<String>,
    pub description: String,
    /// 8-digit CPV codes.
    pub cpv: Vec<String>,
    pub keywords: Vec<String>,
    /// As given: NUTS codes, authority names or GSS codes, postcode districts, regions.
    pub service_areas: Vec<String>,
    /// The postcode of its address (distance to the work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// Every NUTS level the service areas resolve to.
    pub nuts: Vec<String>,
    pub turnover_pence: Option<i64>,
    pub employees: Option<u32>,
    pub min_contract_pence: Option<i64>,
    pub max_contract_pence: Option<i64>,
    pub identifiers: Identifiers,
    pub track_record: Vec<TrackRecord>,
    /// A VCSE (charity, CIC, co-op...): true for cluster members.
    #[serde(default = "yes")]
    pub vcse: bool,
    /// An SME: true unless known otherwise.
    #[serde(default = "yes")]
    pub sme: bool,
    /// The organisation's web site (an `http` or `https` URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Who to contact (personal data; see [`Contact`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

fn yes() -> bool {
    true
}

impl Member {
    /// Every CPV code of the member: its own and its track record's.
    pub fn all_cpv(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.cpv.iter().map(String::as_str).collect();
        for t in &self.track_record {
            v.extend(t.cpv.iter().map(String::as_str));
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The text a notice is matched against.
    pub fn profile_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}",
            self.name,
            self.description,
            self.keywords.join(" ")
        );
        for t in &self.track_record {
            s.push('\n');
            s.push_str(&t.title);
        }
        s
    }
}
