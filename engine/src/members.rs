//! Changing the members: an import stores them, records in the ledger the
//! clusters that changed (from the day they take effect, so wins count for
//! the cluster of their day) and re-matches every notice; a broker's
//! decision on an award link is stored and re-matches too. The command
//! line and the API call these, so both do the same.

use serde::Serialize;
use time::Date;

use sebroker_model::{AwardLink, LinkStatus, Member};

use crate::error::Result;
use crate::Engine;

/// What an import did.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Imported {
    pub imported: usize,
    pub rematched_notices: usize,
}

/// Stores `members` (replacing by id), records their cluster changes
/// effective `effective` as `actor`, and re-matches every notice.
pub fn import(
    engine: &Engine,
    members: &[Member],
    effective: Date,
    actor: &str,
) -> Result<Imported> {
    for m in members {
        engine.store.put_member(m)?;
    }
    engine.store.flush()?;
    crate::views::record_clusters(engine, members, effective, actor)?;
    let rematched_notices = if members.is_empty() {
        0
    } else {
        engine.rematch_all()?
    };
    Ok(Imported {
        imported: members.len(),
        rematched_notices,
    })
}

/// Records a broker's decision on the link of `member` to `award` of
/// `ocid`, then re-matches (a confirmed link is track record, a rejected
/// one is not). `None` when there is no such link.
pub fn decide_link(
    engine: &Engine,
    member: &str,
    ocid: &str,
    award: &str,
    status: LinkStatus,
) -> Result<Option<AwardLink>> {
    let Some(mut link) = engine
        .store
        .links()?
        .into_iter()
        .find(|l| l.member_id == member && l.ocid == ocid && l.award_id == award)
    else {
        return Ok(None);
    };
    link.status = status;
    engine.store.put_link(&link, true)?;
    engine.store.flush()?;
    engine.rematch_all()?;
    Ok(Some(link))
}

/// Why a member write through the API was refused.
#[derive(Debug)]
pub enum MemberWriteError {
    /// A field does not parse into a valid value (422).
    Invalid { field: String, message: String },
    /// The caller may not change this field (403).
    Forbidden { field: String },
    /// A member with this id is stored already (409).
    Exists(String),
    /// No member with this id (404).
    NotFound(String),
    /// The store or the ledger failed.
    Engine(crate::error::Error),
}

impl From<sebroker_store::Error> for MemberWriteError {
    fn from(e: sebroker_store::Error) -> Self {
        MemberWriteError::Engine(e.into())
    }
}

impl From<crate::error::Error> for MemberWriteError {
    fn from(e: crate::error::Error) -> Self {
        MemberWriteError::Engine(e)
    }
}

/// The fields a member key may change on its own record: what it offers,
/// where, at what size, and who to contact. Everything else (name,
/// cluster, identifiers, track record...) is the brokers'.
pub const MEMBER_EDITABLE: &[&str] = &[
    "description",
    "keywords",
    "cpv",
    "service_areas",
    "turnover_gbp",
    "min_contract_gbp",
    "max_contract_gbp",
    "contact",
];

/// Parses one member in the import format for the API: as the import
/// does, except that a service area that resolves to no place is refused
/// (`service_areas[i]`) instead of kept with a warning.
pub fn parse_input(
    engine: &Engine,
    body: serde_json::Value,
    strict_places: bool,
) -> std::result::Result<Member, MemberWriteError> {
    let areas: Vec<String> = body
        .get("service_areas")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let input: sebroker_connectors::members::MemberInput =
        serde_json::from_value(body).map_err(|e| {
            let message = e.to_string();
            let field = serde_field(&message).unwrap_or_else(|| "body".into());
            MemberWriteError::Invalid { field, message }
        })?;
    let places = engine.places();
    let (member, unresolved) = input
        .into_member(&engine.config.clusters, &places)
        .map_err(|(field, message)| MemberWriteError::Invalid { field, message })?;
    if let Some(u) = unresolved.first().filter(|_| strict_places) {
        let i = areas.iter().position(|a| a.trim() == u).unwrap_or(0);
        return Err(MemberWriteError::Invalid {
            field: format!("service_areas[{i}]"),
            message: format!(
                "{u:?} is not a place we know (a place name, postcode, NUTS or GSS code)"
            ),
        });
    }
    Ok(member)
}

/// The field a serde message names (`unknown field `x``), if any.
fn serde_field(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_owned())
}

/// `POST /api/v1/members`: stores a new member (refused if the id exists),
/// records its cluster in the ledger and re-matches; durable on return.
pub fn create(
    engine: &Engine,
    body: serde_json::Value,
    actor: &str,
) -> std::result::Result<Member, MemberWriteError> {
    let member = parse_input(engine, body, true)?;
    if engine.store.get_member(&member.id)?.is_some() {
        return Err(MemberWriteError::Exists(member.id));
    }
    import(engine, std::slice::from_ref(&member), today(), actor)?;
    Ok(member)
}

/// `PATCH /api/v1/members/{id}`: a JSON merge patch (RFC 7386) over the
/// member in the import format. `own_only` (a member key) limits it to
/// [`MEMBER_EDITABLE`]. The id cannot change. A cluster change is recorded
/// in the ledger as an import records it; then every notice is re-matched.
pub fn update(
    engine: &Engine,
    id: &str,
    patch: serde_json::Value,
    own_only: bool,
    actor: &str,
) -> std::result::Result<Member, MemberWriteError> {
    let serde_json::Value::Object(fields) = &patch else {
        return Err(MemberWriteError::Invalid {
            field: "body".into(),
            message: "a merge patch is a JSON object".into(),
        });
    };
    if own_only {
        if let Some(f) = fields
            .keys()
            .find(|k| !MEMBER_EDITABLE.contains(&k.as_str()))
        {
            return Err(MemberWriteError::Forbidden { field: f.clone() });
        }
    }
    if let Some(v) = fields.get("id") {
        if v.as_str() != Some(id) {
            return Err(MemberWriteError::Invalid {
                field: "id".into(),
                message: "the id of a member cannot change".into(),
            });
        }
    }
    let stored = engine
        .store
        .get_member(id)?
        .ok_or_else(|| MemberWriteError::NotFound(id.to_owned()))?;
    let mut doc = to_input(&stored);
    merge_patch(&mut doc, &patch);
    // Places kept from an import (unknown, with a warning) stay as they
    // were; new ones must resolve.
    let mut member = parse_input(engine, doc, fields.contains_key("service_areas"))?;
    member.vcse = stored.vcse;
    member.sme = stored.sme;
    import(engine, std::slice::from_ref(&member), today(), actor)?;
    Ok(member)
}

fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// A stored member written back in the import format (pounds, not pence;
/// the import only ever stores whole pounds).
pub fn to_input(m: &Member) -> serde_json::Value {
    let gbp = |p: Option<i64>| p.map(|v| v / 100);
    let track: Vec<serde_json::Value> = m
        .track_record
        .iter()
        .filter(|t| t.confidence >= 1.0)
        .map(|t| {
            serde_json::json!({ "title": t.title, "buyer": t.buyer, "value_gbp": gbp(t.value_pence),
                "year": t.year, "cpv": t.cpv, "ocid": t.ocid })
        })
        .collect();
    serde_json::json!({
        "id": m.id, "name": m.name, "cluster": m.cluster, "legal_form": m.legal_form,
        "description": m.description, "cpv": m.cpv, "keywords": m.keywords,
        "service_areas": m.service_areas, "turnover_gbp": gbp(m.turnover_pence),
        "employees": m.employees, "min_contract_gbp": gbp(m.min_contract_pence),
        "max_contract_gbp": gbp(m.max_contract_pence),
        "identifiers": { "companies_house": m.identifiers.companies_house,
            "charity": m.identifiers.charity, "ppon": m.identifiers.ppon },
        "track_record": track, "website": m.website,
        "contact": m.contact.as_ref().map(|c| serde_json::json!({
            "name": c.name, "email": c.email, "phone": c.phone })),
    })
}

/// RFC 7386: objects merge key by key, `null` removes, anything else
/// replaces. Recursion is bounded by the body's depth limit.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(serde_json::Map::new());
    }
    if let serde_json::Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_merges_removes_and_replaces() {
        let mut doc = serde_json::json!({"a": 1, "c": {"x": 1, "y": 2}, "l": [1, 2]});
        merge_patch(
            &mut doc,
            &serde_json::json!({"a": null, "c": {"x": null, "z": 3}, "l": [3], "n": "v"}),
        );
        assert_eq!(
            doc,
            serde_json::json!({"c": {"y": 2, "z": 3}, "l": [3], "n": "v"})
        );
    }
}
