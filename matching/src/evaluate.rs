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

use crate::boosted::{boost, with_trees, Boosting};
use crate::error::Result;
use crate::links::normalise_name;
use crate::listwise::Loss;
use crate::ranker::{features, Corpus, Model, NoticeFacts, Query, FEATURES, L2_GRID, NF};
use crate::{Matcher, Timing, Weights, LEARNED_CANDIDATES};

/// A 95% bootstrap interval (2.5th and 97.5th percentiles over resampled pairs).
pub type Interval = [f64; 2];

#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub name: String,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub recall_at_k: f64,
    pub mrr: f64,
    pub ndcg_at_10: f64,
    /// Bootstrap intervals of recall@k and MRR (resampling pairs).
    pub recall_at_k_ci: Interval,
    pub mrr_ci: Interval,
    pub ndcg_at_10_ci: Interval,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub k: usize,
    /// Pairs (test notice, awarded supplier with a train profile).
    pub n: usize,
    pub train_notices: usize,
    pub test_notices: usize,
    /// Share of pairs whose supplier is among the learned ranker's
    /// candidates at all: the ceiling of its recall.
    pub reach: f64,
    pub profiles: usize,
    pub weights: Weights,
    /// Training queries of the learned ranker (cross-fitted on the train side).
    pub train_queries: usize,
    /// The learned ranker fitted on the train side only.
    pub model: Model,
    /// Its loss and L2 penalty, chosen by train-side cross-validation.
    #[serde(serialize_with = "loss_name")]
    pub loss: Loss,
    pub l2: f64,
    /// The boosted trees' settings, if train-side cross-validation chose them.
    pub boosting: Option<Boosting>,
    /// Features dropped because the train-side cross-validation said they did not earn their place.
    pub dropped: Vec<String>,
    /// Train-side cross-validated MRR of the kept features, and without each feature.
    pub cv: Vec<(String, f64)>,
    pub methods: Vec<Metrics>,
}

fn loss_name<S: serde::Serializer>(loss: &Loss, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(loss.name())
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

/// Supplier identities: one organisation is often published under two
/// identifiers (a Companies House number in one notice, a Find a Tender id
/// in another) with the same name, so a name already seen keeps its key.
#[derive(Debug, Default)]
pub struct Aliases {
    by_name: HashMap<String, String>,
}

impl Aliases {
    /// The key of a supplier while profiles are built (learns its name).
    fn learn(&mut self, identifier: Option<&str>, name: Option<&str>) -> Option<String> {
        let key = supplier_key(identifier, name)?;
        let Some(n) = name.map(normalise_name).filter(|n| !n.is_empty()) else {
            return Some(key);
        };
        Some(self.by_name.entry(n).or_insert(key).clone())
    }

    /// The key of a test notice's supplier: its identifier when profiled,
    /// else the profile of the same name.
    fn resolve(
        &self,
        identifier: Option<&str>,
        name: Option<&str>,
        known: &BTreeSet<&str>,
    ) -> Option<String> {
        let key = supplier_key(identifier, name)?;
        if known.contains(key.as_str()) {
            return Some(key);
        }
        let by_name = name.map(normalise_name).and_then(|n| self.by_name.get(&n));
        Some(by_name.cloned().unwrap_or(key))
    }
}

/// One profile per awarded supplier of the train notices, from its awards only.
pub fn profiles(train: &[Notice]) -> (Vec<Member>, HashMap<String, usize>, Aliases) {
    let mut out: BTreeMap<String, Member> = BTreeMap::new();
    let mut wins: HashMap<String, usize> = HashMap::new();
    let mut aliases = Aliases::default();
    for n in train {
        for a in &n.awards {
            for s in &a.suppliers {
                let Some(key) = aliases.learn(s.identifier.as_deref(), s.name.as_deref()) else {
                    continue;
                };
                *wins.entry(key.clone()).or_default() += 1;
                let postcode = s.postcode.clone();
                let m = out.entry(key.clone()).or_insert_with(|| Member {
                    id: key.clone(),
                    name: s.name.clone().unwrap_or_default(),
                    cluster: "other".into(),
                    legal_form: None,
                    description: String::new(),
                    cpv: Vec::new(),
                    keywords: Vec::new(),
                    service_areas: Vec::new(),
                    postcode: None,
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
                if m.postcode.is_none() {
                    m.postcode = postcode;
                }
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
                    lots: n.award_lots(a),
                });
                m.nuts.extend(n.nuts.iter().cloned());
                m.nuts.sort();
                m.nuts.dedup();
            }
        }
    }
    (out.into_values().collect(), wins, aliases)
}

struct Case {
    notice: Notice,
    gold: BTreeSet<String>,
}

/// Recall@k, MRR and nDCG@10 of a list of ranks.
fn point(ranks: &[Option<usize>], k: usize) -> [f64; 5] {
    let n = ranks.len().max(1) as f64;
    let within = |k: usize| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count() as f64 / n;
    let mean = |f: &dyn Fn(usize) -> f64| ranks.iter().map(|r| r.map_or(0.0, f)).sum::<f64>() / n;
    [
        within(1),
        within(5),
        within(k),
        mean(&|r| 1.0 / r as f64),
        // One relevant supplier per pair: the ideal DCG is 1.
        mean(&|r| {
            if r <= 10 {
                1.0 / (r as f64 + 1.0).log2()
            } else {
                0.0
            }
        }),
    ]
}

/// Resamples drawn for the bootstrap intervals.
const BOOTSTRAP: usize = 1000;

/// 95% percentile bootstrap intervals of recall@k, MRR and nDCG@10, with a
/// fixed seed so reports are reproducible.
fn intervals(ranks: &[Option<usize>], k: usize) -> [Interval; 3] {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64*: small, deterministic, good enough for resampling.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut draws: [Vec<f64>; 3] = Default::default();
    let mut sample = vec![None; ranks.len()];
    for _ in 0..BOOTSTRAP {
        for s in sample.iter_mut() {
            *s = ranks[(next() % ranks.len().max(1) as u64) as usize];
        }
        let p = point(&sample, k);
        for (d, v) in draws.iter_mut().zip([p[2], p[3], p[4]]) {
            d.push(v);
        }
    }
    draws.map(|mut d| {
        d.sort_by(f64::total_cmp);
        let at = |q: f64| {
            d.get(((d.len() as f64 - 1.0) * q).round() as usize)
                .copied()
        };
        [at(0.025).unwrap_or(0.0), at(0.975).unwrap_or(0.0)]
    })
}

/// Ranks of each gold supplier (1-based; None when not ranked).
fn metrics(name: &str, ranks: &[Option<usize>], k: usize) -> Metrics {
    let p = point(ranks, k);
    let ci = if ranks.is_empty() {
        [[0.0; 2]; 3]
    } else {
        intervals(ranks, k)
    };
    Metrics {
        name: name.to_owned(),
        recall_at_1: p[0],
        recall_at_5: p[1],
        recall_at_k: p[2],
        mrr: p[3],
        ndcg_at_10: p[4],
        recall_at_k_ci: ci[0],
        mrr_ci: ci[1],
        ndcg_at_10_ci: ci[2],
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

/// The naive combined scorer: CPV, text, place and buyer with equal weights.
fn naive_combined() -> Weights {
    let mut w = only("text");
    for n in ["cpv", "geography", "relationship"] {
        w.set(n, 1.0);
    }
    w.normalised()
}

/// One case's candidates with their features.
struct Table {
    rows: Vec<(String, [f64; NF])>,
    gold: BTreeSet<String>,
}

/// Candidates of each case (as the matcher finds them) with their features,
/// against `profiles`.
fn tables(cases: &[Case], profiles: &[Member], places: &Places) -> Result<Vec<Table>> {
    let index = MemberIndex::build(profiles)?;
    let members: HashMap<&str, &Member> = profiles.iter().map(|p| (p.id.as_str(), p)).collect();
    let corpus = Corpus::build(&index, profiles.iter());
    let mut out = Vec::with_capacity(cases.len());
    for c in cases {
        let n = &c.notice;
        let facts = NoticeFacts::new(n, &corpus, places);
        let cands = corpus.candidates(&index, n, &facts.buyer, LEARNED_CANDIDATES)?;
        let best = crate::text_best(&cands);
        let rows = cands
            .iter()
            .filter_map(|c| {
                let m = members.get(c.id)?;
                Some((
                    c.id.to_owned(),
                    features(n, &facts, m, c.bm25 / best, c.bm25, (&corpus, places)),
                ))
            })
            .collect();
        out.push(Table {
            rows,
            gold: c.gold.clone(),
        });
    }
    Ok(out)
}

/// Rank of each gold supplier when each table is ordered by `score` (ties by id).
fn rank_tables(tables: &[&Table], score: &dyn Fn(&[f64; NF]) -> f64) -> Vec<Option<usize>> {
    rank_scored(tables, &score_tables(tables, score))
}

/// Each row's score (`[table][row]`).
fn score_tables(tables: &[&Table], score: &dyn Fn(&[f64; NF]) -> f64) -> Vec<Vec<f64>> {
    tables
        .iter()
        .map(|t| t.rows.iter().map(|r| score(&r.1)).collect())
        .collect()
}

/// [`rank_tables`] with each row's score given (`scores[table][row]`).
fn rank_scored(tables: &[&Table], scores: &[Vec<f64>]) -> Vec<Option<usize>> {
    let mut out = Vec::new();
    for (t, sc) in tables.iter().zip(scores) {
        let mut s: Vec<(f64, &str)> = t
            .rows
            .iter()
            .zip(sc)
            .map(|((id, _), v)| (*v, id.as_str()))
            .collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        for g in &t.gold {
            out.push(s.iter().position(|(_, id)| id == g).map(|p| p + 1));
        }
    }
    out
}

fn to_queries(tables: &[&Table]) -> Vec<Query> {
    tables
        .iter()
        .map(|t| {
            let (gold, other) = t
                .rows
                .iter()
                .partition::<Vec<_>, _>(|r| t.gold.contains(&r.0));
            Query {
                gold: gold.into_iter().map(|r| r.1).collect(),
                other: other.into_iter().map(|r| r.1).collect(),
            }
        })
        .filter(|q| !q.gold.is_empty())
        .collect()
}

/// Folds of the train side's cross-fitting.
const FOLDS: usize = 5;

/// A notice's fold: a stable hash (FNV-1a) of its ocid. (Folds by day,
/// closer to the test's "another day", left 14 training queries on the
/// shared splits: too few to fit on.)
fn fold_of(n: &Notice) -> usize {
    let h = n.ocid.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % FOLDS as u64) as usize
}

/// Evaluation cases: notices (not in `exclude`) whose awarded suppliers have
/// a profile, with their awards stripped.
fn cases_for(
    full: &[&Notice],
    stripped: &HashMap<String, Notice>,
    known: &BTreeSet<&str>,
    aliases: &Aliases,
) -> Vec<Case> {
    let mut cases = Vec::new();
    for n in full {
        let gold: BTreeSet<String> = n
            .awards
            .iter()
            .flat_map(|a| &a.suppliers)
            .filter_map(|s| aliases.resolve(s.identifier.as_deref(), s.name.as_deref(), known))
            .filter(|k| known.contains(k.as_str()))
            .collect();
        if let (false, Some(s)) = (gold.is_empty(), stripped.get(&n.ocid)) {
            cases.push(Case {
                notice: s.clone(),
                gold,
            });
        }
    }
    cases
}

/// Train-side queries, cross-fitted: each fold's notices (awards stripped)
/// against profiles built from the other folds only, so no supplier is
/// ranked on a profile that holds the very award being predicted.
fn train_folds(paths: &[PathBuf], places: &Places) -> Result<Vec<Vec<Table>>> {
    let full = load(paths, places, false)?;
    let stripped: HashMap<String, Notice> = load(paths, places, true)?
        .into_iter()
        .map(|n| (n.ocid.clone(), n))
        .collect();
    let mut folds = Vec::with_capacity(FOLDS);
    for f in 0..FOLDS {
        let rest: Vec<Notice> = full.iter().filter(|n| fold_of(n) != f).cloned().collect();
        let (profs, _, aliases) = profiles(&rest);
        let known: BTreeSet<&str> = profs.iter().map(|p| p.id.as_str()).collect();
        let held: Vec<&Notice> = full.iter().filter(|n| fold_of(n) == f).collect();
        folds.push(tables(
            &cases_for(&held, &stripped, &known, &aliases),
            &profs,
            places,
        )?);
    }
    Ok(folds)
}

/// Train-side cross-validated MRR of a feature set: each fold ranked by a
/// model fitted on the other folds.
fn cv_mrr(folds: &[Vec<Table>], feats: &[&str], loss: Loss, l2: f64) -> f64 {
    let mut ranks = Vec::new();
    for f in 0..folds.len() {
        let model = loss.fit(&fold_training(folds, f), feats, l2);
        let held: Vec<&Table> = folds[f].iter().collect();
        ranks.extend(rank_tables(&held, &|x| model.raw(x)));
    }
    point(&ranks, 10)[3]
}

/// Tree settings tried by train-side cross-validation, (depth, smallest
/// leaf), each read at every tree count up to [`MAX_TREES`].
const BOOST_GRID: [(usize, usize); 4] = [(2, 20), (2, 100), (3, 20), (3, 100)];
/// Trees grown per setting in cross-validation.
const MAX_TREES: usize = 100;
/// The trees' learning rate.
const SHRINKAGE: f64 = 0.1;

/// The folds' training sides: for each fold, the other folds' queries.
fn fold_training(folds: &[Vec<Table>], f: usize) -> Vec<Query> {
    let train: Vec<&Table> = folds
        .iter()
        .enumerate()
        .filter(|(g, _)| *g != f)
        .flat_map(|(_, t)| t)
        .collect();
    to_queries(&train)
}

/// Train-side cross-validated MRR after each tree (element `t` with `t + 1`
/// trees), boosting from the linear model of (`feats`, `loss`, `l2`)
/// fitted on the same folds.
fn cv_boosted(
    folds: &[Vec<Table>],
    feats: &[&str],
    loss: Loss,
    l2: f64,
    cfg: Boosting,
) -> Vec<f64> {
    let mut ranks: Vec<Vec<Option<usize>>> = vec![Vec::new(); cfg.trees];
    for f in 0..folds.len() {
        let queries = fold_training(folds, f);
        let base = loss.fit(&queries, feats, l2);
        let held: Vec<&Table> = folds[f].iter().collect();
        let mut scores = score_tables(&held, &|x| base.raw(x));
        let mut t = 0;
        boost(&queries, &base, &FEATURES, cfg, |tree| {
            for (table, sc) in held.iter().zip(scores.iter_mut()) {
                for (row, s) in table.rows.iter().zip(sc.iter_mut()) {
                    *s += tree.value(&row.1);
                }
            }
            ranks[t].extend(rank_scored(&held, &scores));
            t += 1;
        });
    }
    ranks.iter().map(|r| point(r, 10)[3]).collect()
}

/// How much trees must raise the train-side cross-validated MRR to be kept:
/// the best of 400 points of tree-count curves is biased upwards, and on
/// the shared splits a gain under this was noise (0.575 to 0.577 on the
/// first split's train side, 0.278 to 0.252 on its test side).
const TREES_MARGIN: f64 = 0.01;

/// The boosting (settings and tree count) with the best train-side
/// cross-validated MRR, if it beats the linear model's `linear` MRR by
/// [`TREES_MARGIN`].
fn choose_boosting(
    folds: &[Vec<Table>],
    feats: &[&str],
    (loss, l2): (Loss, f64),
    linear: f64,
    cv: &mut Vec<(String, f64)>,
) -> Option<Boosting> {
    let mut best: Option<(Boosting, f64)> = None;
    for (depth, min_leaf) in BOOST_GRID {
        let cfg = Boosting {
            depth,
            min_leaf,
            shrinkage: SHRINKAGE,
            trees: MAX_TREES,
        };
        let curve = cv_boosted(folds, feats, loss, l2, cfg);
        let Some((t, mrr)) = curve
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            continue;
        };
        let chosen = Boosting {
            trees: t + 1,
            ..cfg
        };
        cv.push((
            format!(
                "trees: depth {}, min leaf {}, {}",
                cfg.depth,
                cfg.min_leaf,
                t + 1
            ),
            mrr,
        ));
        if mrr > best.map_or(linear + TREES_MARGIN, |b| b.1) {
            best = Some((chosen, mrr));
        }
    }
    best.map(|b| b.0)
}

/// Fits the linear model and, if `boosting`, its trees, on `queries`.
fn fit_with(
    queries: &[Query],
    feats: &[&str],
    loss: Loss,
    l2: f64,
    boosting: Option<Boosting>,
) -> Model {
    let base = loss.fit(queries, feats, l2);
    match boosting {
        Some(cfg) => with_trees(&base, boost(queries, &base, &FEATURES, cfg, |_| {})),
        None => base,
    }
}

/// A fitted ranker with the record of how its features were chosen.
pub struct Fitted {
    pub model: Model,
    /// The loss and the L2 penalty chosen by train-side cross-validation.
    pub loss: Loss,
    pub l2: f64,
    /// The trees added, if cross-validation chose them.
    pub boosting: Option<Boosting>,
    pub queries: usize,
    pub dropped: Vec<String>,
    pub cv: Vec<(String, f64)>,
}

/// Fits the learned ranker on `paths`: cross-fitted queries, then backward
/// elimination on train-side cross-validated MRR (a feature stays only if
/// removing it lowers that MRR), then one fit on every query.
/// With `trees`, boosted trees are tried on top (see [`choose_boosting`]).
pub fn fit_ranker(paths: &[PathBuf], places: &Places, trees: bool) -> Result<Fitted> {
    Ok(select_and_fit(&train_folds(paths, places)?, trees))
}

fn select_and_fit(folds: &[Vec<Table>], trees: bool) -> Fitted {
    let mut kept: Vec<&str> = FEATURES.to_vec();
    let mut dropped = Vec::new();
    // The loss and penalty first (all features), then backward elimination
    // with them.
    let ((loss, l2), mut best) = Loss::ALL
        .iter()
        .flat_map(|&loss| L2_GRID.iter().map(move |&l2| (loss, l2)))
        .map(|(loss, l2)| ((loss, l2), cv_mrr(folds, &kept, loss, l2)))
        .fold(((Loss::Pairwise, L2_GRID[0]), f64::MIN), |a, b| {
            if b.1 > a.1 {
                b
            } else {
                a
            }
        });
    for _round in 0..NF {
        let trial: Option<(usize, f64)> = (0..kept.len())
            .map(|i| {
                let mut k = kept.clone();
                k.remove(i);
                (i, cv_mrr(folds, &k, loss, l2))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match trial {
            Some((i, m)) if m >= best && kept.len() > 1 => {
                dropped.push(kept.remove(i).to_owned());
                best = m;
            }
            _ => break,
        }
    }
    let mut cv = vec![("kept".to_owned(), best)];
    for i in 0..kept.len() {
        let mut k = kept.clone();
        let f = k.remove(i);
        cv.push((format!("-{f}"), cv_mrr(folds, &k, loss, l2)));
    }
    let boosting = match trees {
        true => choose_boosting(folds, &kept, (loss, l2), best, &mut cv),
        false => None,
    };
    let all: Vec<&Table> = folds.iter().flatten().collect();
    let queries = to_queries(&all);
    Fitted {
        model: fit_with(&queries, &kept, loss, l2, boosting),
        loss,
        l2,
        boosting,
        queries: queries.len(),
        dropped,
        cv,
    }
}

/// Runs the evaluation: the current matcher with `weights`, the learned
/// ranker fitted on the train side only (with boosted trees tried if
/// `trees`), baselines and ablations.
pub fn evaluate(
    train: &[PathBuf],
    test: &[PathBuf],
    k: usize,
    (weights, trees): (Weights, bool),
    places: &Places,
) -> Result<Report> {
    let train_notices = load(train, places, false)?;
    let train_ocids: BTreeSet<&str> = train_notices.iter().map(|n| n.ocid.as_str()).collect();
    let (profiles, wins, aliases) = profiles(&train_notices);
    let full = load(test, places, false)?;
    let stripped: HashMap<String, Notice> = load(test, places, true)?
        .into_iter()
        .map(|n| (n.ocid.clone(), n))
        .collect();
    let known: BTreeSet<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
    let unseen: Vec<&Notice> = full
        .iter()
        .filter(|n| !train_ocids.contains(n.ocid.as_str()))
        .collect();
    let cases = cases_for(&unseen, &stripped, &known, &aliases);
    let folds = train_folds(train, places)?;
    let fitted = select_and_fit(&folds, trees);
    let train_all = to_queries(&folds.iter().flatten().collect::<Vec<_>>());
    let test_tables = tables(&cases, &profiles, places)?;
    let test_refs: Vec<&Table> = test_tables.iter().collect();
    let learned = rank_tables(&test_refs, &|x| fitted.model.raw(x));
    let reach = learned.iter().flatten().count() as f64 / learned.len().max(1) as f64;
    let mut methods = vec![metrics("learned", &learned, k)];
    let index = MemberIndex::build(&profiles)?;
    let members: HashMap<String, Member> =
        profiles.iter().map(|p| (p.id.clone(), p.clone())).collect();
    let matcher_with = |w: Weights| Matcher {
        members: &members,
        index: &index,
        places,
        weights: w,
        ranker: None,
    };
    methods.push(metrics(
        "matcher",
        &ranks_with(&cases, &matcher_with(weights))?,
        k,
    ));
    methods.extend(baselines(&cases, &wins, &matcher_with, k)?);
    // The learned ranker without each kept feature, refitted on the train side.
    for f in &fitted.model.features {
        let rest: Vec<&str> = fitted
            .model
            .features
            .iter()
            .map(String::as_str)
            .filter(|g| g != f)
            .collect();
        let refit = fit_with(&train_all, &rest, fitted.loss, fitted.l2, fitted.boosting);
        methods.push(metrics(
            &format!("learned:-{f}"),
            &rank_tables(&test_refs, &|x| refit.raw(x)),
            k,
        ));
    }
    for name in Weights::NAMES {
        if weights.get(name) == 0.0 {
            continue;
        }
        let mut w = weights;
        w.set(name, 0.0);
        methods.push(metrics(
            &format!("matcher:-{name}"),
            &ranks_with(&cases, &matcher_with(w.normalised()))?,
            k,
        ));
    }
    Ok(Report {
        k,
        n: cases.iter().map(|c| c.gold.len()).sum(),
        train_notices: train_notices.len(),
        test_notices: cases.len(),
        reach,
        profiles: profiles.len(),
        weights,
        train_queries: fitted.queries,
        model: fitted.model,
        loss: fitted.loss,
        l2: fitted.l2,
        boosting: fitted.boosting,
        dropped: fitted.dropped,
        cv: fitted.cv,
        methods,
    })
}

/// Popularity, text only, CPV only and naive combined.
fn baselines<'m>(
    cases: &[Case],
    wins: &HashMap<String, usize>,
    matcher_with: &dyn Fn(Weights) -> Matcher<'m>,
    k: usize,
) -> Result<Vec<Metrics>> {
    // The most frequent winners, whatever the notice.
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
    let mut out = vec![metrics("baseline:popularity", &pop_ranks, k)];
    for (name, w) in [
        ("baseline:bm25", only("text")),
        ("baseline:cpv", only("cpv")),
        ("baseline:naive-combined", naive_combined()),
    ] {
        out.push(metrics(name, &ranks_with(cases, &matcher_with(w))?, k));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five folds of toy tables on `text` alone: the winner has the highest
    /// text, or (with `band`) the only text in a middle band, which no
    /// linear weight can put first.
    fn folds(band: bool) -> Vec<Vec<Table>> {
        let c = FEATURES.iter().position(|f| *f == "text").expect("text");
        let table = |q: usize| {
            let mut rows: Vec<(String, [f64; NF])> = (0..20)
                .map(|i| {
                    let mut x = [0.0; NF];
                    x[c] = match band {
                        true => [0.1, 0.9][i % 2] + (i % 7) as f64 / 100.0,
                        false => (i % 9) as f64 / 10.0,
                    };
                    (format!("m{i}"), x)
                })
                .collect();
            let mut gold = [0.0; NF];
            gold[c] = if band {
                0.5 + (q % 5) as f64 / 100.0
            } else {
                1.0
            };
            rows.push(("gold".to_owned(), gold));
            Table {
                rows,
                gold: BTreeSet::from(["gold".to_owned()]),
            }
        };
        (0..FOLDS)
            .map(|f| (0..6).map(|q| table(f * 6 + q)).collect())
            .collect()
    }

    #[test]
    fn trees_are_kept_only_where_they_earn_their_place() {
        let settings = (Loss::Softmax, 0.01);
        for (band, wanted) in [(true, true), (false, false)] {
            let folds = folds(band);
            let linear = cv_mrr(&folds, &["text"], settings.0, settings.1);
            let mut cv = Vec::new();
            let chosen = choose_boosting(&folds, &["text"], settings, linear, &mut cv);
            assert_eq!(
                chosen.is_some(),
                wanted,
                "band {band}: linear {linear}, {cv:?}"
            );
            assert_eq!(cv.len(), BOOST_GRID.len());
            if let Some(cfg) = chosen {
                let all: Vec<&Table> = folds.iter().flatten().collect();
                let model = fit_with(
                    &to_queries(&all),
                    &["text"],
                    settings.0,
                    settings.1,
                    Some(cfg),
                );
                assert_eq!(model.trees.len(), cfg.trees);
                assert_eq!(point(&rank_tables(&all, &|x| model.raw(x)), 10)[3], 1.0);
            }
        }
    }
}
