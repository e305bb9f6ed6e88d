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
                0.6 * overlap + 0.4 * matched.components.cpv
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

fn evaluate(set: &[usize], all: &[Profile], value: Option<i64>) -> Scored {
    let ps: Vec<&Profile> = set.iter().map(|i| &all[*i]).collect();
    let coverage = Coverage {
        cpv: mean_max(&ps, |p| p.cpv.as_slice()),
        lots: mean_max(&ps, |p| p.lots.as_slice()),
        places: mean_max(&ps, |p| p.places.as_slice()),
        capacity: capacity(value, &ps),
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
    Scored {
        members: set.to_vec(),
        score: (score * 1000.0).round() / 1000.0,
        coverage,
    }
}

/// Up to `top` consortia of 2..=`max_size` members for notice `n`.
pub fn propose(n: &Notice, matcher: &Matcher, max_size: usize, top: usize) -> Result<Proposals> {
    let matches = matcher.match_notice(n, Timing::Ignore, CANDIDATES)?;
    let places = finest(&n.nuts);
    let all: Vec<Profile> = matches
        .into_iter()
        .filter_map(|m| matcher.members.get(&m.member_id).map(|mem| (mem, m)))
        .map(|(mem, m)| Profile::new(n, mem, m, matcher, &places))
        .collect();
    let value = n.value.headline_pence();
    let singles: Vec<Scored> = (0..all.len())
        .map(|i| evaluate(&[i], &all, value))
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
                let e = evaluate(&set, &all, value);
                // Only groups that add something over their best part.
                if e.score > s.score {
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
    Ok(Proposals {
        ocid: n.ocid.clone(),
        best_single,
        consortia,
    })
}

fn describe(n: &Notice, s: Scored, all: &[Profile]) -> Consortium {
    let ps: Vec<&Profile> = s.members.iter().map(|i| &all[*i]).collect();
    let lead = ps
        .iter()
        .max_by(|a, b| {
            a.member
                .turnover_pence
                .unwrap_or(0)
                .cmp(&b.member.turnover_pence.unwrap_or(0))
                .then(a.matched.score.total_cmp(&b.matched.score))
        })
        .map(|p| p.member.id.clone())
        .unwrap_or_default();
    let lots: Vec<LotAssignment> = n
        .lots
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let best = ps.iter().max_by(|a, b| a.lots[i].total_cmp(&b.lots[i]))?;
            Some(LotAssignment {
                lot_id: l.id.clone(),
                lot_title: l.title.clone(),
                member_id: best.member.id.clone(),
            })
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
        reasons.push(format!(
            "lot {} {} → {}",
            a.lot_id,
            a.lot_title.as_deref().unwrap_or(""),
            a.member_id
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
    reasons.push(format!("lead partner: {lead} (largest turnover)"));
    Consortium {
        members: ps.iter().map(|p| p.member.id.clone()).collect(),
        lead,
        score: s.score,
        coverage: s.coverage,
        lots,
        reasons,
    }
}
