//! The market map's snapshot: the few facts of every notice, member and
//! stored match that the map counts, kept in memory (so an answer is a scan
//! of memory, not of the store). A change to the store or its followers
//! re-reads only the notices the change log names since the snapshot was
//! made; a change to the members rebuilds it.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use time::OffsetDateTime;

use sebroker_index::schema::NO_DEADLINE;
use sebroker_model::{LinkStatus, Notice, Stage};

use super::rows::Defs;
use crate::error::Result;
use crate::Engine;

/// Past this share (1/N) of the notices changed, a rebuild (one pass over
/// the store) is cheaper than reading each changed notice by its ocid.
const REBUILD_SHARE: usize = 4;

/// One award of a notice.
#[derive(Debug, Clone)]
pub(crate) struct AwardFact {
    /// Unix nanoseconds (comparing these is what a window check costs).
    pub at: i128,
    /// `year * 12 + month - 1` of `date`: the timeline's month.
    pub month: i32,
    pub value: i64,
    /// A supplier is flagged VCSE, or the award is linked to a member.
    pub vcse: bool,
}

/// What the map needs of one notice.
#[derive(Debug, Clone)]
pub(crate) struct Fact {
    pub ocid: String,
    pub source: String,
    pub stage: Stage,
    /// Unix seconds, [`NO_DEADLINE`] when none: exactly what the index holds.
    pub deadline_ts: i64,
    /// Unix nanoseconds, and the timeline's month.
    pub published: Option<(i128, i32)>,
    /// The first and last month it was (or is to be) open: from its
    /// publication to its deadline; a tender without a deadline runs on
    /// (`i32::MAX`), any other notice ends at its first award.
    pub open_months: Option<(i32, i32)>,
    /// Every NUTS level of its places, as indexed.
    pub nuts: Vec<String>,
    /// The codes of `nuts` no other code refines (see [`finest`]).
    pub finest: Vec<String>,
    pub cpv: Vec<String>,
    /// Its CPV divisions, as indexes into [`Snapshot::divisions`].
    pub divisions: Vec<u16>,
    pub value: i64,
    pub vcse_value: i64,
    pub reserved: bool,
    pub social: bool,
    pub awards: Vec<AwardFact>,
    /// Stored matches: (member index, score).
    pub matches: Vec<(u32, f64)>,
}

/// The numbers of a fact that every answer reads, kept side by side so a
/// scan does not chase each fact's allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hot {
    /// The opportunity group (probable duplicates) it belongs to, or its own.
    pub unit: u32,
    /// Its source's rank: of a group, search shows the least by (rank,
    /// ocid) (`groups::representative`).
    pub rank: u8,
    /// The deadline of a tender, `i64::MIN` for any other stage.
    open_until: i64,
    /// The earliest and latest award, in whole Unix seconds (`MAX`, `MIN`
    /// when none): a window outside them holds none of its awards.
    awards_from: i64,
    awards_to: i64,
    /// Some of its value is VCSE-suitable.
    pub suitable: bool,
}

impl Hot {
    /// Open at `now` by the index's own rule (`index::query` `status_query`):
    /// a tender whose deadline, in whole seconds, is after `now`'s.
    pub fn open_at(&self, now_ts: i64) -> bool {
        self.open_until > now_ts
    }

    /// Whether an award may fall in the window of whole seconds `[from, to]`
    /// (the award itself decides).
    pub fn may_have_awards_in(&self, from: i64, to: i64) -> bool {
        self.awards_to >= from && self.awards_from <= to
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

/// The members, with the index each stored match is mapped by.
#[derive(Debug, Default)]
pub(crate) struct Members {
    pub facts: Vec<MemberFact>,
    index: HashMap<String, u32>,
}

#[derive(Debug)]
pub(crate) struct Snapshot {
    key: Key,
    pub facts: Vec<Arc<Fact>>,
    /// Side by side with `facts`.
    pub hot: Vec<Hot>,
    pub members: Arc<Members>,
    /// CPV division codes by index.
    pub divisions: Vec<String>,
    /// One more than the largest unit.
    pub units: usize,
    /// Where each ocid's fact is, shared by every update of this snapshot
    /// (facts are replaced or appended, never moved); its lock makes one
    /// update at a time.
    ocids: Arc<Mutex<HashMap<String, u32>>>,
    /// The group index of each ocid in a group of probable duplicates.
    grouped: Arc<HashMap<String, u32>>,
    /// The award links not rejected, re-read when the link follower moves.
    linked: Arc<HashSet<(String, String)>>,
    /// Each grouping's rows, made at its first answer from this snapshot.
    placements: [OnceLock<Arc<Defs>>; 4],
}

/// What a snapshot was built from; any change updates it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    last_seq: u64,
    /// The group, link and match followers' positions in the change log.
    cursors: [u64; 3],
    members: u64,
}

impl Key {
    /// The change-log range a snapshot made at `self` misses at `new`.
    fn missed(&self, new: &Key) -> (u64, u64) {
        let lo = self.cursors.iter().copied().fold(self.last_seq, u64::min);
        let hi = new.cursors.iter().copied().fold(new.last_seq, u64::max);
        (lo, hi)
    }
}

/// The snapshot for the engine as it is now: the one kept in the engine's
/// `market` slot, brought up to date if anything changed.
pub(crate) fn current(app: &Engine) -> Result<Arc<Snapshot>> {
    let key = key(app)?;
    let Some(kept) = app.market.get::<Snapshot>() else {
        return keep(app, build(app, key)?);
    };
    if kept.key == key {
        return Ok(kept);
    }
    if kept.key.members != key.members {
        return keep(app, build(app, key)?);
    }
    let shared = kept.ocids.clone();
    let mut ocids = shared.lock().unwrap_or_else(|e| e.into_inner());
    // The newest snapshot of this line, now that no other update runs on it.
    let base = match app.market.get::<Snapshot>() {
        Some(s) if Arc::ptr_eq(&s.ocids, &shared) => s,
        _ => kept,
    };
    if base.key == key {
        return Ok(base);
    }
    match base.updated(app, key.clone(), &mut ocids)? {
        Some(s) => keep(app, s),
        None => {
            drop(ocids);
            keep(app, build(app, key)?)
        }
    }
}

fn keep(app: &Engine, snap: Snapshot) -> Result<Arc<Snapshot>> {
    let snap = Arc::new(snap);
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

impl Snapshot {
    /// The rows of grouping `slot`, made by `make` the first time.
    pub fn placement(&self, slot: usize, make: impl FnOnce() -> Result<Defs>) -> Result<Arc<Defs>> {
        let Some(cell) = self.placements.get(slot) else {
            return make().map(Arc::new);
        };
        if let Some(d) = cell.get() {
            return Ok(d.clone());
        }
        let d = Arc::new(make()?);
        // Two first answers at once make it twice; either is kept.
        Ok(cell.get_or_init(|| d).clone())
    }

    /// This snapshot with the notices changed since it was made read again,
    /// or `None` when so much changed that a rebuild is cheaper.
    fn updated(
        &self,
        app: &Engine,
        key: Key,
        ocids: &mut HashMap<String, u32>,
    ) -> Result<Option<Snapshot>> {
        let (lo, hi) = self.key.missed(&key);
        let (changed, _) = app.store.changes_between(lo, hi)?;
        if changed.len().saturating_mul(REBUILD_SHARE) > self.facts.len().max(1) {
            return Ok(None);
        }
        let regroup = key.cursors[0] != self.key.cursors[0];
        let grouped = if regroup {
            Arc::new(grouped(app)?)
        } else {
            self.grouped.clone()
        };
        let linked = if key.cursors[1] == self.key.cursors[1] {
            self.linked.clone()
        } else {
            Arc::new(linked(app)?)
        };
        let mut next = Snapshot {
            key,
            facts: self.facts.clone(),
            hot: if regroup {
                Vec::new()
            } else {
                self.hot.clone()
            },
            members: self.members.clone(),
            divisions: self.divisions.clone(),
            units: self.units,
            ocids: self.ocids.clone(),
            grouped,
            linked: linked.clone(),
            placements: Default::default(),
        };
        let mut touched = Vec::with_capacity(changed.len());
        let mut interner = Interner::new(&mut next.divisions);
        for ocid in &changed {
            let Some(n) = app.store.get_notice(ocid)? else {
                continue;
            };
            let f = Arc::new(fact(app, &n, &self.members, &linked, &mut interner)?);
            let i = match ocids.get(ocid).map(|i| *i as usize) {
                Some(i) if i < next.facts.len() => {
                    next.facts[i] = f;
                    i
                }
                _ => {
                    let i = next.facts.len();
                    ocids.insert(ocid.clone(), u32::try_from(i).unwrap_or(u32::MAX));
                    next.facts.push(f);
                    i
                }
            };
            touched.push(i);
        }
        if regroup {
            next.index();
        } else {
            let groups = next.groups();
            for i in touched {
                let Some(h) = next.facts.get(i).map(|f| next.hot_of(i, f, groups)) else {
                    continue;
                };
                match next.hot.get_mut(i) {
                    Some(slot) => *slot = h,
                    None => next.hot.push(h),
                }
                next.units = next.units.max(h.unit as usize + 1);
            }
        }
        tracing::debug!(changed = changed.len(), "market snapshot updated");
        Ok(Some(next))
    }

    /// One more than the largest group index.
    fn groups(&self) -> usize {
        self.grouped
            .values()
            .copied()
            .max()
            .map_or(0, |g| g as usize + 1)
    }

    /// The hot numbers of fact `i`: a notice in no group is a unit of its own.
    fn hot_of(&self, i: usize, f: &Fact, groups: usize) -> Hot {
        Hot {
            unit: self
                .grouped
                .get(&f.ocid)
                .copied()
                .unwrap_or_else(|| u32::try_from(groups.saturating_add(i)).unwrap_or(u32::MAX)),
            rank: sebroker_connectors::dedupe::source_rank(&f.source),
            open_until: if f.stage == Stage::Tender {
                f.deadline_ts
            } else {
                i64::MIN
            },
            awards_from: f
                .awards
                .iter()
                .map(|a| seconds(a.at))
                .min()
                .unwrap_or(i64::MAX),
            awards_to: f
                .awards
                .iter()
                .map(|a| seconds(a.at))
                .max()
                .unwrap_or(i64::MIN),
            suitable: f.vcse_value > 0,
        }
    }

    /// Fills `hot` and `units` for every fact.
    fn index(&mut self) {
        let groups = self.groups();
        self.hot = self
            .facts
            .iter()
            .enumerate()
            .map(|(i, f)| self.hot_of(i, f, groups))
            .collect();
        self.units = self
            .hot
            .iter()
            .map(|h| h.unit as usize + 1)
            .max()
            .unwrap_or(0);
    }
}

/// Whole seconds of Unix nanoseconds, rounded down.
pub(crate) fn seconds(ns: i128) -> i64 {
    i64::try_from(ns.div_euclid(1_000_000_000)).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

fn grouped(app: &Engine) -> Result<HashMap<String, u32>> {
    let mut out = HashMap::new();
    for (i, g) in app.store.groups()?.into_iter().enumerate() {
        for o in g {
            out.insert(o, u32::try_from(i).unwrap_or(u32::MAX));
        }
    }
    Ok(out)
}

/// The (ocid, award id) pairs linked to a member and not rejected.
fn linked(app: &Engine) -> Result<HashSet<(String, String)>> {
    Ok(app
        .store
        .links()?
        .into_iter()
        .filter(|l| l.status != LinkStatus::Rejected)
        .map(|l| (l.ocid, l.award_id))
        .collect())
}

/// Gives CPV divisions their indexes, adding new ones at the end.
struct Interner<'a> {
    codes: &'a mut Vec<String>,
    index: HashMap<String, u16>,
}

impl<'a> Interner<'a> {
    fn new(codes: &'a mut Vec<String>) -> Interner<'a> {
        let index = codes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| u16::try_from(i).ok().map(|i| (c.clone(), i)))
            .collect();
        Interner { codes, index }
    }

    /// The index of `code`; `None` past 65,536 distinct codes (there are
    /// about 45 CPV divisions: a corrupt code list, not a real one).
    fn id(&mut self, code: String) -> Option<u16> {
        if let Some(i) = self.index.get(&code) {
            return Some(*i);
        }
        let i = u16::try_from(self.codes.len()).ok()?;
        self.codes.push(code.clone());
        self.index.insert(code, i);
        Some(i)
    }
}

fn build(app: &Engine, key: Key) -> Result<Snapshot> {
    let members = Arc::new(members(app));
    let linked = Arc::new(linked(app)?);
    let mut divisions = Vec::new();
    let mut interner = Interner::new(&mut divisions);
    let mut facts = Vec::new();
    let mut ocids = HashMap::new();
    app.store.for_each_notice(&mut |n| {
        ocids.insert(
            n.ocid.clone(),
            u32::try_from(facts.len()).unwrap_or(u32::MAX),
        );
        facts.push(Arc::new(fact(app, &n, &members, &linked, &mut interner)?));
        Ok(())
    })?;
    tracing::debug!(notices = facts.len(), "market snapshot built");
    let mut snap = Snapshot {
        key,
        facts,
        hot: Vec::new(),
        members,
        divisions,
        units: 0,
        ocids: Arc::new(Mutex::new(ocids)),
        grouped: Arc::new(grouped(app)?),
        linked,
        placements: Default::default(),
    };
    snap.index();
    Ok(snap)
}

fn members(app: &Engine) -> Members {
    let set = app.member_set();
    let mut ids: Vec<&String> = set.members.keys().collect();
    ids.sort();
    let mut out = Members::default();
    for id in ids {
        let Some(m) = set.members.get(id) else {
            continue;
        };
        let i = u32::try_from(out.facts.len()).unwrap_or(u32::MAX);
        out.index.insert(m.id.clone(), i);
        let mut divisions: Vec<String> = m
            .all_cpv()
            .iter()
            .filter_map(|c| c.get(..2).map(str::to_owned))
            .collect();
        divisions.sort();
        divisions.dedup();
        out.facts.push(MemberFact {
            cluster: m.cluster.clone(),
            finest: finest(&m.nuts),
            nuts: m.nuts.clone(),
            divisions,
        });
    }
    out
}

/// `year * 12 + month - 1`.
pub(crate) fn month_of(t: OffsetDateTime) -> i32 {
    t.year() * 12 + i32::from(u8::from(t.month())) - 1
}

fn fact(
    app: &Engine,
    n: &Notice,
    members: &Members,
    linked: &HashSet<(String, String)>,
    divisions: &mut Interner<'_>,
) -> sebroker_store::Result<Fact> {
    // Only tenders can be open, and only open notices' matches count.
    let matches = if n.stage == Stage::Tender {
        app.store
            .matches_of_notice(&n.ocid)?
            .into_iter()
            .filter_map(|m| members.index.get(&m.member_id).map(|i| (*i, m.score)))
            .collect()
    } else {
        Vec::new()
    };
    let value = n.value.headline_pence().unwrap_or(0).max(0);
    Ok(Fact {
        ocid: n.ocid.clone(),
        source: n.source.clone(),
        stage: n.stage,
        deadline_ts: n.deadline.map_or(NO_DEADLINE, |t| t.unix_timestamp()),
        published: n.published.map(|p| (p.unix_timestamp_nanos(), month_of(p))),
        open_months: open_months(n),
        nuts: n.nuts.clone(),
        finest: finest(&n.nuts),
        cpv: n.cpv.iter().map(|c| c.code.clone()).collect(),
        divisions: n
            .cpv_divisions()
            .into_iter()
            .filter_map(|d| divisions.id(d))
            .collect(),
        value,
        vcse_value: vcse_value(n, value),
        reserved: n.reserved,
        social: n.social_value_bp().is_some_and(|bp| bp > 0),
        awards: awards(n, linked),
        matches,
    })
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

fn open_months(n: &Notice) -> Option<(i32, i32)> {
    let start = month_of(n.published?);
    let end = match n.deadline {
        Some(d) => month_of(d),
        None if n.stage == Stage::Tender => i32::MAX,
        None => n
            .awards
            .iter()
            .filter_map(|a| a.date)
            .min()
            .map_or(start, month_of),
    };
    Some((start, end.max(start)))
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
                at: date.unix_timestamp_nanos(),
                month: month_of(date),
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
