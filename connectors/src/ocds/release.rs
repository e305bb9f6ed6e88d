//! The typed view of an OCDS release: only the fields sebroker uses, each one
//! optional and tolerant of nulls, numbers-as-strings and strings-as-numbers.
//! Amounts stay raw JSON text so that `1e9999` never reaches a float parser.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Deserializes `null` or a missing field as an empty list.
fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A string that may have been published as a number (ids, codes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(d)?;
        let s = raw.get().trim();
        if s.starts_with('"') {
            let v: String = serde_json::from_str(s).map_err(de::Error::custom)?;
            Ok(Text(v))
        } else if s.starts_with(['{', '[']) {
            Err(de::Error::custom("expected a string or a number"))
        } else {
            // Numbers are kept as written; `null` would not reach here
            // (Option handles it).
            Ok(Text(s.to_owned()))
        }
    }
}

/// A boolean that may have been published as `"true"`/`"yes"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(d)?;
        let s = raw.get().trim().trim_matches('"').to_ascii_lowercase();
        Ok(Flag(matches!(s.as_str(), "true" | "yes" | "1" | "y")))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Release {
    pub ocid: Option<String>,
    pub id: Option<Text>,
    pub date: Option<String>,
    #[serde(deserialize_with = "tags")]
    pub tag: Vec<String>,
    #[serde(deserialize_with = "list")]
    pub parties: Vec<Party>,
    pub buyer: Option<OrgRef>,
    pub planning: Option<Planning>,
    pub tender: Option<Tender>,
    #[serde(deserialize_with = "list")]
    pub awards: Vec<Award>,
    #[serde(deserialize_with = "list")]
    pub contracts: Vec<Contract>,
}

/// `tag` is a list, but some publishers write a single string.
fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Tags {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Tags>::deserialize(d)? {
        None => Vec::new(),
        Some(Tags::One(s)) => vec![s],
        Some(Tags::Many(v)) => v,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OrgRef {
    pub id: Option<Text>,
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Party {
    pub id: Option<Text>,
    pub name: Option<String>,
    pub identifier: Option<Identifier>,
    #[serde(deserialize_with = "list")]
    pub additional_identifiers: Vec<Identifier>,
    pub address: Option<Address>,
    pub contact_point: Option<ContactPoint>,
    #[serde(deserialize_with = "list")]
    pub roles: Vec<String>,
    pub details: Option<PartyDetails>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Identifier {
    pub scheme: Option<String>,
    pub id: Option<Text>,
    pub legal_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Address {
    pub street_address: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContactPoint {
    pub name: Option<String>,
    pub email: Option<String>,
    pub telephone: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PartyDetails {
    pub scale: Option<String>,
    pub vcse: Option<Flag>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Planning {
    #[serde(deserialize_with = "list")]
    pub documents: Vec<Document>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Document {
    pub notice_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Classification {
    pub scheme: Option<String>,
    pub id: Option<Text>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Item {
    /// The lot the item belongs to (`items[].relatedLot`).
    pub related_lot: Option<Text>,
    pub classification: Option<Classification>,
    #[serde(deserialize_with = "list")]
    pub additional_classifications: Vec<Classification>,
    #[serde(deserialize_with = "list")]
    pub delivery_addresses: Vec<Address>,
    pub delivery_address: Option<Address>,
}

/// An OCDS value; amounts are raw JSON (see the module doc).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Value {
    pub amount: Option<Box<RawValue>>,
    pub amount_gross: Option<Box<RawValue>>,
    pub currency: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Period {
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Suitability {
    pub sme: Option<Flag>,
    pub vcse: Option<Flag>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Lot {
    pub id: Option<Text>,
    pub title: Option<String>,
    pub value: Option<Value>,
    pub suitability: Option<Suitability>,
    pub award_criteria: Option<AwardCriteria>,
}

/// `awardCriteria`: read leniently, so an odd shape costs the criteria,
/// never the release.
#[derive(Debug, Default)]
pub struct AwardCriteria(pub Vec<Criterion>);

impl<'de> Deserialize<'de> for AwardCriteria {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Default, Deserialize)]
        #[serde(default)]
        struct Raw {
            #[serde(deserialize_with = "list")]
            criteria: Vec<Criterion>,
        }
        let raw: Box<RawValue> = Deserialize::deserialize(d)?;
        Ok(AwardCriteria(
            serde_json::from_str::<Raw>(raw.get())
                .map(|r| r.criteria)
                .unwrap_or_default(),
        ))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Criterion {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(deserialize_with = "list")]
    pub numbers: Vec<CriterionNumber>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CriterionNumber {
    pub number: Option<Text>,
    pub weight: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OtherRequirements {
    #[serde(deserialize_with = "list")]
    pub reserved_participation: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Tender {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
    pub classification: Option<Classification>,
    #[serde(deserialize_with = "list")]
    pub additional_classifications: Vec<Classification>,
    #[serde(deserialize_with = "list")]
    pub items: Vec<Item>,
    pub value: Option<Value>,
    pub min_value: Option<Value>,
    pub max_value: Option<Value>,
    pub tender_period: Option<Period>,
    #[serde(deserialize_with = "list")]
    pub lots: Vec<Lot>,
    pub suitability: Option<Suitability>,
    pub other_requirements: Option<OtherRequirements>,
    #[serde(deserialize_with = "list")]
    pub documents: Vec<Document>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Award {
    pub id: Option<Text>,
    pub status: Option<String>,
    pub date: Option<String>,
    pub value: Option<Value>,
    #[serde(deserialize_with = "list")]
    pub suppliers: Vec<OrgRef>,
    #[serde(deserialize_with = "list")]
    pub items: Vec<Item>,
    #[serde(deserialize_with = "list")]
    pub documents: Vec<Document>,
    #[serde(deserialize_with = "list")]
    pub related_lots: Vec<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Contract {
    #[serde(deserialize_with = "list")]
    pub documents: Vec<Document>,
    #[serde(deserialize_with = "list")]
    pub items: Vec<Item>,
}

impl Release {
    /// Parses one release from its JSON text.
    pub fn parse(json: &str) -> Result<Release, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The Procurement Act notice type of this release: from the documents of
    /// contracts, then awards, then tender, then planning (the later stage wins).
    pub fn notice_type(&self) -> Option<String> {
        let from = |docs: &[Document]| {
            docs.iter()
                .filter_map(|d| d.notice_type.as_deref())
                .map(|t| t.trim().to_ascii_uppercase())
                .find(|t| is_notice_type(t))
        };
        self.contracts
            .iter()
            .find_map(|c| from(&c.documents))
            .or_else(|| self.awards.iter().find_map(|a| from(&a.documents)))
            .or_else(|| self.tender.as_ref().and_then(|t| from(&t.documents)))
            .or_else(|| self.planning.as_ref().and_then(|p| from(&p.documents)))
    }
}

/// `UK1` to `UK17`.
pub fn is_notice_type(t: &str) -> bool {
    t.strip_prefix("UK")
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (1..=17).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_of_nulls_numbers_and_huge_values() {
        let r = Release::parse(
            r#"{"ocid":"ocds-x-1","id":42,"tag":"tender","parties":null,
                "tender":{"title":"T","maximumLotsBidPerSupplier":1e9999,
                "value":{"amount":1e9999},"lots":[{"id":1,"suitability":{"vcse":"true"}}]}}"#,
        )
        .expect("parses");
        assert_eq!(r.id, Some(Text("42".into())));
        assert_eq!(r.tag, vec!["tender".to_owned()]);
        let t = r.tender.expect("tender");
        let amount = t.value.and_then(|v| v.amount).expect("amount");
        assert_eq!(amount.get(), "1e9999");
        assert_eq!(
            t.lots[0].suitability.as_ref().and_then(|s| s.vcse),
            Some(Flag(true))
        );
    }

    #[test]
    fn notice_type_prefers_later_stages() {
        let r = Release::parse(
            r#"{"tender":{"documents":[{"noticeType":"UK4"}]},
                "awards":[{"documents":[{"noticeType":"UK6"}]}]}"#,
        )
        .expect("parses");
        assert_eq!(r.notice_type().as_deref(), Some("UK6"));
        assert!(!is_notice_type("UK18"));
    }
}
