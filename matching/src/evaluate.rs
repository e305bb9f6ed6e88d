//! `sebroker evaluate`: match quality measured on real award data. Supplier
//! profiles are built from the awards of the train files only (as a broker
//! would fill a track record); the test notices are matched with their
//! awards stripped; each (test notice, awarded supplier with a profile) pair
//! is scored by the rank of that supplier. Reports recall@1/5/k and MRR for
//! the matcher, baselines and per-component ablations.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde::Serialize;

use sebroker_connectors::json::content_hash;
use sebroker_connectors::ocds::{self, CompileContext, Release};
use sebroker_connectors::places::Places;
use sebroker_index::{Identifiers, Member, MemberIndex, Notice, TrackRecord};

use crate::error::Result;
use crate::links::normalise_name;
use crate::{Matcher, Timing, Weights};

#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub name: String,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub recall_at_k: f64,
    pub mrr: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub k: usize,
    /// Pairs (test notice, awarded supplier with a train profile).
    pub n: usize,
    pub train_notices: usize,
    pub test_notices: usize,
    pub profiles: usize,
    pub weights: Weights,
    pub methods: Vec<Metrics>,
}

/// Reads files (or folders) into compiled notices; `strip` removes awards,
/// contracts and supplier/tenderer parties first.
pub fn load(paths: &[PathBuf], places: &Places, strip: bool) -> Result<Vec<Notice>> {
    let mut skipped = Vec::new();
    let files = sebroker_connectors::ocds::files::collect_files(paths, &mut skipped)?;
    let mut by_ocid: BTreeMap<String, Vec<Release>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for f in files {
        let outcome = ocds::read_path(&f).map_err(|source| crate::Error::Io {
            path: f.clone(),
            source,
        })?;
        for raw in outcome.releases {
            let Ok(mut rel) = Release::parse(&raw.json) else {
                continue;
            };
            let Some(ocid) = rel.ocid.clone() else {
                continue;
            };
            if !seen.insert(content_hash(&raw.json)) {
                continue;
            }
            if strip {
                // The procurement's CPV codes often sit in award items; keep
                // them (they say what was bought, not who won), drop the rest.
                let items: Vec<_> = rel
                    .awards
                    .drain(..)
                    .flat_map(|a| a.items)
                    .chain(rel.contracts.drain(..).flat_map(|c| c.items))
                    .collect();
                rel.tender
                    .get_or_insert_with(Default::default)
                    .items
                    .extend(items);
                rel.parties.retain(|p| {
                    !p.roles
                        .iter()
                        .any(|r| matches!(r.as_str(), "supplier" | "tenderer" | "payee"))
                });
            }
            by_ocid.entry(ocid).or_default().push(rel);
        }
    }
    let ctx = CompileContext {
        places,
        source: None,
    };
    Ok(by_ocid
        .into_values()
        .filter_map(|r| ocds::compile(r, &ctx))
        .collect())
}

/// The key a supplier is known by: its identifier, else its normalised name.
fn supplier_key(identifier: Option<&str>, name: Option<&str>) -> Option<String> {
    identifier
        .map(|i| i.trim().to_uppercase())
        .filter(|i| !i.is_empty())
        .or_else(|| {
            name.map(normalise_name)
                .filter(|n| !n.is_empty())
                .map(|n| format!("name:{n}"))
        })
}

/// One profile per awarded supplier of the train notices, from its awards only.
pub fn profiles(train: &[Notice]) -> (Vec<Member>, HashMap<String, usize>) {
    let mut out: BTreeMap<String, Member> = BTreeMap::new();
    let mut wins: HashMap<String, usize> = HashMap::new();
    for n in train {
        for a in &n.awards {
            for s in &a.suppliers {
                let Some(key) = supplier_key(s.identifier.as_deref(), s.name.as_deref()) else {
                    continue;
                };
                *wins.entry(key.clone()).or_default() += 1;
                let m = out.entry(key.clone()).or_insert_with(|| Member {
                    id: key.clone(),
                    name: s.name.clone().unwrap_or_default(),
                    cluster: "other".into(),
                    legal_form: None,
                    description: String::new(),
                    cpv: Vec::new(),
                    keywords: Vec::new(),
                    service_areas: Vec::new(),
                    nuts: Vec::new(),
                    turnover_pence: None,
                    employees: None,
                    min_contract_pence: None,
                    max_contract_pence: None,
                    identifiers: Identifiers::default(),
                    track_record: Vec::new(),
                    vcse: s.vcse.unwrap_or(false),
                    sme: s.scale.as_deref() == Some("sme"),
                    website: None,
                    contact: None,
                });
                if m.track_record
                    .iter()
                    .any(|t| t.ocid.as_deref() == Some(n.ocid.as_str()))
                {
                    continue;
                }
                m.description.push_str(&format!("{}\n", n.description));
                m.track_record.push(TrackRecord {
                    title: n.title.clone(),
                    buyer: n.buyer.name.clone(),
                    value_pence: a.value.as_ref().and_then(|v| v.headline_pence()),
                    year: a.date.map(|d| d.year()),
                    cpv: n.cpv.iter().map(|c| c.code.clone()).collect(),
                    ocid: Some(n.ocid.clone()),
                    confidence: 1.0,
                });
                m.nuts.extend(n.nuts.iter().cloned());
                m.nuts.sort();
                m.nuts.dedup();
            }
        }
    }
    (out.into_values().collect(), wins)
}

struct Case {
    notice: Notice,
    gold: BTreeSet<String>,
}

/// Ranks of each gold supplier (1-based; None when not ranked).
fn metrics(name: &str, ranks: &[Option<usize>], k: usize) -> Metrics {
    let n = ranks.len().max(1) as f64;
    let within = |k: usize| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count() as f64 / n;
    Metrics {
        name: name.to_owned(),
        recall_at_1: within(1),
        recall_at_5: within(5),
        recall_at_k: within(k),
        mrr: ranks
            .iter()
            .map(|r| r.map_or(0.0, |r| 1.0 / r as f64))
            .sum::<f64>()
            / n,
    }
}

fn ranks_with(cases: &[Case], matcher: &Matcher) -> Result<Vec<Option<usize>>> {
    let mut out = Vec::new();
    for c in cases {
        let ranked = matcher.match_notice(&c.notice, Timing::Ignore, usize::MAX)?;
        for g in &c.gold {
            out.push(ranked.iter().position(|m| &m.member_id == g).map(|p| p + 1));
        }
    }
    Ok(out)
}

fn only(name: &str) -> Weights {
    let mut w = Weights {
        text: 0.0,
        cpv: 0.0,
        geography: 0.0,
        capacity: 0.0,
        timing: 0.0,
        suitability: 0.0,
        relationship: 0.0,
    };
    w.set(name, 1.0);
    w
}

/// Components the award data can fit. Timing is constant when replaying
/// history, and capacity and suitability barely vary between suppliers
/// profiled from awards alone (no turnover; few flags), so those keep their
/// documented defaults.
pub const FITTED: [&str; 4] = ["text", "cpv", "geography", "relationship"];

/// Coordinate ascent on MRR over a small grid, starting from `start`.
fn fit<'m>(
    cases: &[Case],
    matcher_with: &dyn Fn(Weights) -> Matcher<'m>,
    start: Weights,
) -> Result<Weights> {
    let mrr = |w: Weights| -> Result<f64> {
        Ok(metrics("", &ranks_with(cases, &matcher_with(w))?, 10).mrr)
    };
    let mut best = start;
    let mut best_mrr = mrr(best)?;
    for _round in 0..3 {
        for name in FITTED {
            for v in [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6] {
                let mut w = best;
                w.set(name, v);
                let fixed: f64 = ["timing", "capacity", "suitability"]
                    .iter()
                    .map(|n| w.get(n))
                    .sum();
                let free: f64 = FITTED.iter().map(|n| w.get(n)).sum();
                if free <= 0.0 {
                    continue;
                }
                for n in FITTED {
                    w.set(n, w.get(n) / free * (1.0 - fixed));
                }
                let m = mrr(w)?;
                if m > best_mrr + 1e-9 {
                    best = w;
                    best_mrr = m;
                }
            }
        }
    }
    Ok(best)
}

/// Runs the evaluation with `weights` for the matcher; with `fit_weights`,
/// first fits the weights on this split (in-sample: report them on another).
pub fn evaluate(train: &[PathBuf], test: &[PathBuf], k: usize, weights: Weights) -> Result<Report> {
    evaluate_with(train, test, k, weights, false)
}

pub fn evaluate_with(
    train: &[PathBuf],
    test: &[PathBuf],
    k: usize,
    weights: Weights,
    fit_weights: bool,
) -> Result<Report> {
    let places = Places::builtin();
    let train_notices = load(train, &places, false)?;
    let train_ocids: BTreeSet<&str> = train_notices.iter().map(|n| n.ocid.as_str()).collect();
    let (profiles, wins) = profiles(&train_notices);
    let full = load(test, &places, false)?;
    let stripped: HashMap<String, Notice> = load(test, &places, true)?
        .into_iter()
        .map(|n| (n.ocid.clone(), n))
        .collect();
    let known: BTreeSet<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
    let mut cases = Vec::new();
    for n in &full {
        if train_ocids.contains(n.ocid.as_str()) {
            continue;
        }
        let gold: BTreeSet<String> = n
            .awards
            .iter()
            .flat_map(|a| &a.suppliers)
            .filter_map(|s| supplier_key(s.identifier.as_deref(), s.name.as_deref()))
            .filter(|k| known.contains(k.as_str()))
            .collect();
        if let (false, Some(s)) = (gold.is_empty(), stripped.get(&n.ocid)) {
            cases.push(Case {
                notice: s.clone(),
                gold,
            });
        }
    }
    let index = MemberIndex::build(&profiles)?;
    let members: HashMap<String, Member> =
        profiles.iter().map(|p| (p.id.clone(), p.clone())).collect();
    let matcher_with = |w: Weights| Matcher {
        members: &members,
        index: &index,
        places: &places,
        weights: w,
    };
    let weights = if fit_weights {
        fit(&cases, &matcher_with, weights)?
    } else {
        weights
    };
    let mut methods = vec![metrics(
        "matcher",
        &ranks_with(&cases, &matcher_with(weights))?,
        k,
    )];
    // Baseline: the most frequent winners, whatever the notice.
    let mut popular: Vec<(&String, &usize)> = wins.iter().collect();
    popular.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let pop_ranks: Vec<Option<usize>> = cases
        .iter()
        .flat_map(|c| {
            c.gold
                .iter()
                .map(|g| popular.iter().position(|(id, _)| *id == g).map(|p| p + 1))
        })
        .collect();
    methods.push(metrics("baseline:popularity", &pop_ranks, k));
    methods.push(metrics(
        "baseline:bm25",
        &ranks_with(&cases, &matcher_with(only("text")))?,
        k,
    ));
    methods.push(metrics(
        "baseline:cpv",
        &ranks_with(&cases, &matcher_with(only("cpv")))?,
        k,
    ));
    for name in Weights::NAMES {
        if weights.get(name) == 0.0 {
            continue;
        }
        let mut w = weights;
        w.set(name, 0.0);
        methods.push(metrics(
            &format!("ablation:-{name}"),
            &ranks_with(&cases, &matcher_with(w.normalised()))?,
            k,
        ));
    }
    let n = methods
        .first()
        .map_or(0, |_| cases.iter().map(|c| c.gold.len()).sum());
    Ok(Report {
        k,
        n,
        train_notices: train_notices.len(),
        test_notices: cases.len(),
        profiles: profiles.len(),
        weights,
        methods,
    })
}
