//! Consortia: for a notice no single member covers well, groups of 2–4
//! members that together cover its CPV areas, lots and places with enough
//! combined capacity. A beam search over the best candidates of the match
//! step (not every combination of every member) keeps it fast at 10,000
//! members.

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use sebroker_connectors::money::format_pence;
use sebroker_index::{Member, Notice};

use crate::components::{capacity_of_ratio, cpv_pair, geography};
use crate::error::Result;
use crate::{Match, Matcher, Timing};

/// Members from the match step considered for consortia.
pub const CANDIDATES: usize = 40;
/// Partial consortia kept at each size.
const BEAM: usize = 16;

#[derive(Debug, Clone, Serialize)]
pub struct LotAssignment {
    pub lot_id: String,
    pub lot_title: Option<String>,
    pub member_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub cpv: f64,
    pub lots: f64,
    pub places: f64,
    pub capacity: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Consortium {
    pub members: Vec<String>,
    pub lead: String,
    pub score: f64,
    pub coverage: Coverage,
    pub lots: Vec<LotAssignment>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Proposals {
    pub ocid: String,
    /// The best single member and its coverage score, for comparison.
    pub best_single: Option<(String, f64)>,
    pub consortia: Vec<Consortium>,
}

/// What one candidate brings, precomputed once per notice.
struct Profile<'a> {
    member: &'a Member,
    matched: Match,
    cpv: Vec<f64>,
    lots: Vec<f64>,
    places: Vec<f64>,
}

fn finest(codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .filter(|c| {
            c.len() > 2
                && !codes
                    .iter()
                    .any(|o| o.len() > c.len() && o.starts_with(c.as_str()))
        })
        .cloned()
        .collect()
}

fn words(s: &str) -> HashSet<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 3)
        .map(|w| w.trim_end_matches('s').to_owned())
        .collect()
}

impl<'a> Profile<'a> {
    fn new(
        n: &Notice,
        member: &'a Member,
        matched: Match,
        matcher: &Matcher,
        places: &[String],
    ) -> Self {
        let codes = member.all_cpv();
        let cpv = n
            .cpv
            .iter()
            .map(|c| {
                codes
                    .iter()
                    .map(|mc| cpv_pair(&c.code, mc))
                    .fold(0.0, f64::max)
            })
            .collect();
        let profile_words = words(&member.profile_text());
        let lots = n
            .lots
            .iter()
            .map(|l| {
                let title = l.title.as_deref().map(words).unwrap_or_default();
                let overlap = if title.is_empty() {
                    matched.components.text
                } else {
                    title.intersection(&profile_words).count() as f64 / title.len() as f64
                };
                // A lot with its own codes and places is judged on them.
                let cpv = if l.cpv.is_empty() {
                    matched.components.cpv
                } else {
                    l.cpv
                        .iter()
                        .flat_map(|c| codes.iter().map(move |mc| cpv_pair(c, mc)))
                        .fold(0.0, f64::max)
                };
                let place = if l.nuts.is_empty() {
                    matched.components.geography
                } else {
                    geography(&l.nuts, member, matcher.places, false).0
                };
                0.5 * overlap + 0.35 * cpv + 0.15 * place
            })
            .collect();
        let places = places
            .iter()
            .map(|p| {
                geography(
                    &sebroker_connectors::places::levels(p),
                    member,
                    matcher.places,
                    false,
                )
                .0
            })
            .collect();
        Profile {
            member,
            matched,
            cpv,
            lots,
            places,
        }
    }
}

fn mean_max(profiles: &[&Profile], pick: impl for<'p> Fn(&'p Profile) -> &'p [f64]) -> f64 {
    let Some(first) = profiles.first() else {
        return 0.0;
    };
    let n = pick(first).len();
    if n == 0 {
        return 1.0;
    }
    (0..n)
        .map(|i| profiles.iter().map(|p| pick(p)[i]).fold(0.0, f64::max))
        .sum::<f64>()
        / n as f64
}

/// Each lot to the member that fits it best (index into the set).
/// A lot named once: its title when it already says "Lot 1", else
/// "lot 1: title" ("lot 1 Lot 1: …" repeated it).
fn lot_label(id: &str, title: Option<&str>) -> String {
    match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if t.to_lowercase().starts_with("lot") => t.to_owned(),
        Some(t) => format!("lot {id}: {t}"),
        None => format!("lot {id}"),
    }
}

fn assign(ps: &[&Profile], lots: usize) -> Vec<usize> {
    (0..lots)
        .map(|i| {
            (0..ps.len())
                .max_by(|a, b| ps[*a].lots[i].total_cmp(&ps[*b].lots[i]).then(b.cmp(a)))
                .unwrap_or(0)
        })
        .collect()
}

/// Whether every member brings something: a lot when the notice has lots,
/// else a CPV code or a place no other member covers as well.
fn everyone_contributes(ps: &[&Profile], owners: &[usize]) -> bool {
    if !owners.is_empty() {
        return (0..ps.len()).all(|m| owners.contains(&m));
    }
    (0..ps.len()).all(|m| {
        let best_at = |pick: &dyn for<'p> Fn(&'p Profile) -> &'p [f64]| {
            (0..pick(ps[m]).len()).any(|i| {
                let v = pick(ps[m])[i];
                v > 0.0 && ps.iter().enumerate().all(|(o, p)| o == m || pick(p)[i] < v)
            })
        };
        best_at(&|p| p.cpv.as_slice()) || best_at(&|p| p.places.as_slice())
    })
}

/// Capacity judged per lot against the member that takes it, when lots
/// carry values and members turnovers; otherwise the combined turnover
/// against the notice's value.
fn lot_capacity(n: &Notice, ps: &[&Profile], owners: &[usize]) -> Option<f64> {
    let per_lot: Vec<f64> = n
        .lots
        .iter()
        .zip(owners)
        .filter_map(|(l, o)| {
            let v = l.value.as_ref()?.headline_pence()?;
            let t = ps[*o].member.turnover_pence.filter(|t| *t > 0)?;
            Some(capacity_of_ratio(v as f64 / t as f64))
        })
        .collect();
    (!per_lot.is_empty()).then(|| per_lot.iter().sum::<f64>() / per_lot.len() as f64)
}

fn capacity(value: Option<i64>, profiles: &[&Profile]) -> f64 {
    let Some(v) = value else { return 0.6 };
    let turnover: i64 = profiles
        .iter()
        .filter_map(|p| p.member.turnover_pence)
        .sum();
    if turnover <= 0 {
        return 0.5;
    }
    capacity_of_ratio(v as f64 / turnover as f64)
}

struct Scored {
    members: Vec<usize>,
    score: f64,
    coverage: Coverage,
}

/// Scores a set; `None` when some member would cover nothing.
fn evaluate(set: &[usize], all: &[Profile], n: &Notice) -> Option<Scored> {
    let ps: Vec<&Profile> = set.iter().map(|i| &all[*i]).collect();
    let owners = assign(&ps, n.lots.len());
    if ps.len() > 1 && !everyone_contributes(&ps, &owners) {
        return None;
    }
    let coverage = Coverage {
        cpv: mean_max(&ps, |p| p.cpv.as_slice()),
        lots: mean_max(&ps, |p| p.lots.as_slice()),
        places: mean_max(&ps, |p| p.places.as_slice()),
        capacity: lot_capacity(n, &ps, &owners)
            .unwrap_or_else(|| capacity(n.value.headline_pence(), &ps)),
    };
    let fit = ps.iter().map(|p| p.matched.score).sum::<f64>() / ps.len() as f64;
    let clusters: BTreeSet<&str> = ps.iter().map(|p| p.member.cluster.as_str()).collect();
    let same_cluster = if clusters.len() == 1 { 1.0 } else { 0.0 };
    let score = 0.30 * coverage.cpv
        + 0.15 * coverage.lots
        + 0.15 * coverage.places
        + 0.20 * coverage.capacity
        + 0.15 * fit
        + 0.05 * same_cluster
        - 0.05 * (ps.len() as f64 - 1.0);
    Some(Scored {
        members: set.to_vec(),
        score: (score * 1000.0).round() / 1000.0,
        coverage,
    })
}

/// Up to `top` consortia of 2..=`max_size` members for notice `n`.
pub fn propose(n: &Notice, matcher: &Matcher, max_size: usize, top: usize) -> Result<Proposals> {
    let matches = matcher.match_notice(n, Timing::Ignore, CANDIDATES)?;
    Ok(propose_among(n, matcher, matches, max_size, top))
}

/// [`propose`] from matches already made (the notice's best
/// [`CANDIDATES`] with `Timing::Ignore`): a caller that shows the top
/// matches too matches the notice once, not twice.
pub fn propose_among(
    n: &Notice,
    matcher: &Matcher,
    matches: Vec<Match>,
    max_size: usize,
    top: usize,
) -> Proposals {
    let places = finest(&n.nuts);
    let all: Vec<Profile> = matches
        .into_iter()
        .filter_map(|m| matcher.members.get(&m.member_id).map(|mem| (mem, m)))
        .map(|(mem, m)| Profile::new(n, mem, m, matcher, &places))
        .collect();
    let singles: Vec<Scored> = (0..all.len())
        .filter_map(|i| evaluate(&[i], &all, n))
        .collect();
    let best_single = singles
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .map(|s| (all[s.members[0]].member.id.clone(), s.score));
    let mut beam: Vec<Scored> = singles;
    let mut found: Vec<Scored> = Vec::new();
    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    for _size in 2..=max_size.clamp(2, 4) {
        beam.sort_by(|a, b| b.score.total_cmp(&a.score));
        beam.truncate(BEAM);
        let mut next = Vec::new();
        for s in &beam {
            for j in 0..all.len() {
                if s.members.contains(&j) {
                    continue;
                }
                let mut set = s.members.clone();
                set.push(j);
                set.sort_unstable();
                if !seen.insert(set.clone()) {
                    continue;
                }
                // Only groups where everyone brings something, and that add
                // something over their best part.
                if let Some(e) = evaluate(&set, &all, n).filter(|e| e.score > s.score) {
                    next.push(e);
                }
            }
        }
        found.extend(next.iter().map(|e| Scored {
            members: e.members.clone(),
            score: e.score,
            coverage: e.coverage.clone(),
        }));
        beam = next;
    }
    let single_score = best_single.as_ref().map_or(0.0, |b| b.1);
    found.retain(|c| c.score > single_score);
    found.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.members.cmp(&b.members))
    });
    found.truncate(top);
    let consortia = found.into_iter().map(|s| describe(n, s, &all)).collect();
    Proposals {
        ocid: n.ocid.clone(),
        best_single,
        consortia,
    }
}

fn describe(n: &Notice, s: Scored, all: &[Profile]) -> Consortium {
    let ps: Vec<&Profile> = s.members.iter().map(|i| &all[*i]).collect();
    let owners = assign(&ps, n.lots.len());
    let (lead, why) = lead_of(n, &ps, &owners);
    let lots: Vec<LotAssignment> = n
        .lots
        .iter()
        .zip(&owners)
        .map(|(l, o)| LotAssignment {
            lot_id: l.id.clone(),
            lot_title: l.title.clone(),
            member_id: ps[*o].member.id.clone(),
        })
        .collect();
    let mut reasons = Vec::new();
    for p in &ps {
        let covered: Vec<String> = n
            .cpv
            .iter()
            .zip(&p.cpv)
            .filter(|(_, s)| **s >= 0.7)
            .map(|(c, _)| c.description.clone().unwrap_or_else(|| c.code.clone()))
            .collect();
        if !covered.is_empty() {
            reasons.push(format!(
                "{} ({}) covers {}",
                p.member.name,
                p.member.id,
                covered.join(", ")
            ));
        }
    }
    for a in &lots {
        let who = ps
            .iter()
            .find(|p| p.member.id == a.member_id)
            .map_or(a.member_id.as_str(), |p| p.member.name.as_str());
        reasons.push(format!(
            "{} → {who}",
            lot_label(&a.lot_id, a.lot_title.as_deref())
        ));
    }
    let turnover: i64 = ps
        .iter()
        .filter_map(|p| p.member.turnover_pence)
        .fold(0i64, i64::saturating_add);
    if let (Some(v), true) = (n.value.headline_pence(), turnover > 0) {
        reasons.push(format!(
            "combined turnover {} against a value of {}",
            format_pence(turnover),
            format_pence(v)
        ));
    }
    let clusters: BTreeSet<&str> = ps.iter().map(|p| p.member.cluster.as_str()).collect();
    if clusters.len() == 1 {
        reasons.push(format!(
            "all members are in the {} cluster",
            ps[0].member.cluster
        ));
    }
    reasons.push(format!("lead partner: {lead} ({why})"));
    Consortium {
        members: ps.iter().map(|p| p.member.id.clone()).collect(),
        lead,
        score: s.score,
        coverage: s.coverage,
        lots,
        reasons,
    }
}

/// The lead partner: with lots, the member holding the largest share of the
/// work (lot values, else number of lots; ties by turnover); without lots,
/// the largest turnover. Returns its id and why, in words.
fn lead_of(n: &Notice, ps: &[&Profile], owners: &[usize]) -> (String, String) {
    let turnover = |i: usize| ps[i].member.turnover_pence.unwrap_or(0);
    if owners.is_empty() {
        let i = (0..ps.len())
            .max_by(|a, b| {
                turnover(*a)
                    .cmp(&turnover(*b))
                    .then(ps[*a].matched.score.total_cmp(&ps[*b].matched.score))
            })
            .unwrap_or(0);
        return (ps[i].member.id.clone(), "largest turnover".into());
    }
    let value_of = |i: usize| -> i64 {
        n.lots
            .iter()
            .zip(owners)
            .filter(|(_, o)| **o == i)
            .filter_map(|(l, _)| l.value.as_ref()?.headline_pence())
            .fold(0i64, i64::saturating_add)
    };
    let count_of = |i: usize| owners.iter().filter(|o| **o == i).count();
    let i = (0..ps.len())
        .filter(|i| count_of(*i) > 0)
        .max_by(|a, b| {
            value_of(*a)
                .cmp(&value_of(*b))
                .then(count_of(*a).cmp(&count_of(*b)))
                .then(turnover(*a).cmp(&turnover(*b)))
        })
        .unwrap_or(0);
    let held: Vec<&str> = n
        .lots
        .iter()
        .zip(owners)
        .filter(|(_, o)| **o == i)
        .map(|(l, _)| l.id.as_str())
        .collect();
    let why = match value_of(i) {
        v if v > 0 => format!(
            "holds lot {}, {} of the work: the largest share",
            held.join(", "),
            format_pence(v)
        ),
        _ => format!("holds lot {}: the most lots", held.join(", ")),
    };
    (ps[i].member.id.clone(), why)
}
