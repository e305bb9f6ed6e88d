//! The market map's snapshot: the few facts of every notice, member and
//! stored match that the map counts, kept in memory and rebuilt only when
//! the store, its followers or the members change (so an answer is a scan
//! of memory, not of the store).

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use time::OffsetDateTime;

use sebroker_index::schema::NO_DEADLINE;
use sebroker_model::{LinkStatus, Notice, Stage};

use crate::error::Result;
use crate::Engine;

/// One award of a notice.
#[derive(Debug, Clone)]
pub(crate) struct AwardFact {
    pub date: OffsetDateTime,
    pub value: i64,
    /// A supplier is flagged VCSE, or the award is linked to a member.
    pub vcse: bool,
}

/// What the map needs of one notice.
#[derive(Debug, Clone)]
pub(crate) struct Fact {
    pub ocid: String,
    pub source: String,
    /// The opportunity group (probable duplicates) it belongs to, or its own.
    pub unit: u32,
    pub stage: Stage,
    /// Unix seconds, [`NO_DEADLINE`] when none: exactly what the index holds.
    pub deadline_ts: i64,
    pub published: Option<OffsetDateTime>,
    /// Every NUTS level of its places, as indexed.
    pub nuts: Vec<String>,
    pub cpv: Vec<String>,
    pub divisions: Vec<String>,
    pub value: i64,
    pub vcse_value: i64,
    pub reserved: bool,
    pub social: bool,
    pub awards: Vec<AwardFact>,
    /// Stored matches: (member index, score).
    pub matches: Vec<(u32, f64)>,
}

impl Fact {
    /// Open at `now` by the index's own rule (`index::query` `status_query`):
    /// a tender whose deadline, in whole seconds, is after `now`'s.
    pub fn open_at(&self, now_ts: i64) -> bool {
        self.stage == Stage::Tender && self.deadline_ts > now_ts
    }
}

/// What the map needs of one member: never its name.
#[derive(Debug, Clone)]
pub(crate) struct MemberFact {
    pub cluster: String,
    pub nuts: Vec<String>,
    /// The finest codes of its service areas (a member serving `UKG`
    /// covers every place in it).
    pub finest: Vec<String>,
    pub divisions: Vec<String>,
}

impl MemberFact {
    /// Whether its service areas overlap the place `code`.
    pub fn covers(&self, code: &str) -> bool {
        self.nuts.iter().any(|c| c == code)
            || self.finest.iter().any(|f| code.starts_with(f.as_str()))
    }
}

#[derive(Debug)]
pub(crate) struct Snapshot {
    key: Key,
    pub facts: Vec<Fact>,
    pub members: Vec<MemberFact>,
}

/// What a snapshot was built from; any change rebuilds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    last_seq: u64,
    cursors: [u64; 3],
    members: u64,
}

/// The snapshot for the engine as it is now: the one kept in the engine's
/// `market` slot, or a new one built (and kept) if anything changed.
pub(crate) fn current(app: &Engine) -> Result<Arc<Snapshot>> {
    let key = key(app)?;
    if let Some(s) = app.market.get::<Snapshot>() {
        if s.key == key {
            return Ok(s);
        }
    }
    let snap = Arc::new(build(app, key)?);
    app.market.set(snap.clone());
    Ok(snap)
}

fn key(app: &Engine) -> Result<Key> {
    use crate::consumers::{GROUPS, LINKS, MATCHES};
    let s = app.store.as_ref();
    Ok(Key {
        last_seq: s.last_seq()?,
        cursors: [s.cursor(GROUPS)?, s.cursor(LINKS)?, s.cursor(MATCHES)?],
        members: members_fingerprint(app),
    })
}

/// A hash of what the members are (an import, an erasure or a link
/// decision reloads the set and rematches, and changes it).
fn members_fingerprint(app: &Engine) -> u64 {
    let set = app.member_set();
    let mut ids: Vec<&String> = set.members.keys().collect();
    ids.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for id in ids {
        if let Some(m) = set.members.get(id) {
            (&m.id, &m.cluster, &m.nuts, &m.cpv).hash(&mut h);
            for t in &m.track_record {
                (&t.ocid, t.confidence.to_bits()).hash(&mut h);
            }
        }
    }
    h.finish()
}

fn build(app: &Engine, key: Key) -> Result<Snapshot> {
    let (members, index) = members(app);
    let linked: HashSet<(String, String)> = app
        .store
        .links()?
        .into_iter()
        .filter(|l| l.status != LinkStatus::Rejected)
        .map(|l| (l.ocid, l.award_id))
        .collect();
    let mut unit_of: HashMap<String, u32> = HashMap::new();
    for (i, g) in app.store.groups()?.into_iter().enumerate() {
        for o in g {
            unit_of.insert(o, u32::try_from(i).unwrap_or(u32::MAX));
        }
    }
    let mut next_unit = u32::try_from(unit_of.len()).unwrap_or(u32::MAX);
    let mut facts = Vec::new();
    let store = app.store.clone();
    app.store.for_each_notice(&mut |n| {
        let unit = *unit_of.entry(n.ocid.clone()).or_insert_with(|| {
            next_unit = next_unit.saturating_add(1);
            next_unit
        });
        // Only tenders can be open, and only open notices' matches count.
        let matches = if n.stage == Stage::Tender {
            store
                .matches_of_notice(&n.ocid)?
                .into_iter()
                .filter_map(|m| index.get(&m.member_id).map(|i| (*i, m.score)))
                .collect()
        } else {
            Vec::new()
        };
        facts.push(fact(&n, unit, matches, &linked));
        Ok(())
    })?;
    Ok(Snapshot {
        key,
        facts,
        members,
    })
}

fn members(app: &Engine) -> (Vec<MemberFact>, HashMap<String, u32>) {
    let set = app.member_set();
    let mut ids: Vec<&String> = set.members.keys().collect();
    ids.sort();
    let mut out = Vec::new();
    let mut index = HashMap::new();
    for id in ids {
        let Some(m) = set.members.get(id) else {
            continue;
        };
        index.insert(m.id.clone(), u32::try_from(out.len()).unwrap_or(u32::MAX));
        let mut divisions: Vec<String> = m
            .all_cpv()
            .iter()
            .filter_map(|c| c.get(..2).map(str::to_owned))
            .collect();
        divisions.sort();
        divisions.dedup();
        out.push(MemberFact {
            cluster: m.cluster.clone(),
            finest: finest(&m.nuts),
            nuts: m.nuts.clone(),
            divisions,
        });
    }
    (out, index)
}

/// The codes of `nuts` that no other code refines (`UKG31` of `UK, UKG,
/// UKG3, UKG31`).
pub(crate) fn finest(nuts: &[String]) -> Vec<String> {
    nuts.iter()
        .filter(|c| {
            !nuts
                .iter()
                .any(|d| d.len() > c.len() && d.starts_with(c.as_str()))
        })
        .cloned()
        .collect()
}

fn fact(
    n: &Notice,
    unit: u32,
    matches: Vec<(u32, f64)>,
    linked: &HashSet<(String, String)>,
) -> Fact {
    let value = n.value.headline_pence().unwrap_or(0).max(0);
    Fact {
        ocid: n.ocid.clone(),
        source: n.source.clone(),
        unit,
        stage: n.stage,
        deadline_ts: n.deadline.map_or(NO_DEADLINE, |t| t.unix_timestamp()),
        published: n.published,
        nuts: n.nuts.clone(),
        cpv: n.cpv.iter().map(|c| c.code.clone()).collect(),
        divisions: n.cpv_divisions(),
        value,
        vcse_value: vcse_value(n, value),
        reserved: n.reserved,
        social: n.social_value_bp().is_some_and(|bp| bp > 0),
        awards: awards(n, linked),
        matches,
    }
}

/// The value open to VCSEs: the lots marked suitable for VCSEs when they
/// carry values, else the whole notice when it (or any lot) is marked.
fn vcse_value(n: &Notice, value: i64) -> i64 {
    let lots: Vec<i64> = n
        .lots
        .iter()
        .filter(|l| l.suitability.vcse)
        .filter_map(|l| l.value.as_ref().and_then(|v| v.headline_pence()))
        .map(|v| v.max(0))
        .collect();
    if !lots.is_empty() {
        // A sum past i64 is no real figure: the notice's own value stands.
        return lots
            .iter()
            .try_fold(0i64, |a, v| a.checked_add(*v))
            .unwrap_or(value);
    }
    if n.suitability.vcse {
        value
    } else {
        0
    }
}

/// Awards with a date (the award's, else the notice's last update or
/// publication: some sources leave the award undated).
fn awards(n: &Notice, linked: &HashSet<(String, String)>) -> Vec<AwardFact> {
    n.awards
        .iter()
        .filter_map(|a| {
            let date = a.date.or(n.updated).or(n.published)?;
            let vcse = a.suppliers.iter().any(|s| s.vcse == Some(true))
                || linked.contains(&(n.ocid.clone(), a.id.clone()));
            Some(AwardFact {
                date,
                value: a
                    .value
                    .as_ref()
                    .and_then(|v| v.headline_pence())
                    .unwrap_or(0)
                    .max(0),
                vcse,
            })
        })
        .collect()
}
