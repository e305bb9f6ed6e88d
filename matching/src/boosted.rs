//! LambdaMART: gradient-boosted regression trees on top of the linear
//! ranker. Each tree is fitted (least squares, Newton leaf values) to the
//! lambda gradients of nDCG: for every (winner, other) pair of a query, the
//! logistic pull towards the right order, weighted by how much swapping the
//! two would change nDCG, so the pull is strongest near the top of the list
//! a broker reads. Boosting starts from the linear model's raw score, so the
//! trees only correct what the linear ranking gets wrong; `evaluate` keeps
//! them only if train-side cross-validation says they earn their place.

use serde::Serialize;

use crate::ranker::{feature_columns, Model, Query, FEATURES, NF};
use crate::tree::{Node, Tree};

/// How the trees are grown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Boosting {
    /// Levels of splits per tree.
    pub depth: usize,
    /// Rows each leaf must hold at least.
    pub min_leaf: usize,
    /// Each tree's outputs are multiplied by this (the learning rate).
    pub shrinkage: f64,
    /// Trees grown.
    pub trees: usize,
}

/// The L2 penalty on leaf values (added to the Newton step's denominator).
const LEAF_L2: f64 = 1.0;

/// Queries flattened into rows: features, label, and each query's range.
struct Rows {
    x: Vec<[f64; NF]>,
    gold: Vec<bool>,
    queries: Vec<std::ops::Range<usize>>,
}

impl Rows {
    fn new(queries: &[Query]) -> Rows {
        let (mut x, mut gold, mut ranges) = (Vec::new(), Vec::new(), Vec::new());
        for q in queries
            .iter()
            .filter(|q| !q.gold.is_empty() && !q.other.is_empty())
        {
            let start = x.len();
            x.extend(q.gold.iter().chain(&q.other).copied());
            gold.extend(
                q.gold
                    .iter()
                    .map(|_| true)
                    .chain(q.other.iter().map(|_| false)),
            );
            ranges.push(start..x.len());
        }
        Rows {
            x,
            gold,
            queries: ranges,
        }
    }
}

/// Grows `cfg.trees` trees on `queries`, boosting from `base`'s raw score,
/// splitting only on the features in `use_features`. `each` sees each tree
/// as it is grown (cross-validation reads every tree count from one fit).
pub fn boost(
    queries: &[Query],
    base: &Model,
    use_features: &[&str],
    cfg: Boosting,
    mut each: impl FnMut(&Tree),
) -> Vec<Tree> {
    let rows = Rows::new(queries);
    let order = presort(&rows.x, &feature_columns(use_features));
    let mut score: Vec<f64> = rows.x.iter().map(|x| base.raw(x)).collect();
    let mut trees = Vec::with_capacity(cfg.trees);
    for _ in 0..cfg.trees {
        let (g, h) = lambdas(&rows, &score);
        let tree = grow(&rows.x, &g, &h, &order, cfg);
        for (s, x) in score.iter_mut().zip(&rows.x) {
            *s += tree.value(x);
        }
        each(&tree);
        trees.push(tree);
    }
    trees
}

/// For each column, the row indices sorted by that column's value.
fn presort(x: &[[f64; NF]], columns: &[usize]) -> Vec<(usize, Vec<u32>)> {
    columns
        .iter()
        .map(|&c| {
            let mut idx: Vec<u32> = (0..x.len() as u32).collect();
            idx.sort_by(|&a, &b| x[a as usize][c].total_cmp(&x[b as usize][c]));
            (c, idx)
        })
        .collect()
}

/// The lambda gradients (the direction each row's score should move) and
/// their second derivatives, nDCG-weighted, per row.
fn lambdas(rows: &Rows, score: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut g, mut h) = (vec![0.0; score.len()], vec![0.0; score.len()]);
    let discount = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    for q in &rows.queries {
        let mut by_score: Vec<usize> = q.clone().collect();
        by_score.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
        let mut rank = vec![0; q.len()];
        for (r, &i) in by_score.iter().enumerate() {
            rank[i - q.start] = r;
        }
        let golds = q.clone().filter(|&i| rows.gold[i]).count();
        let ideal: f64 = (0..golds).map(discount).sum();
        for i in q.clone().filter(|&i| rows.gold[i]) {
            for j in q.clone().filter(|&j| !rows.gold[j]) {
                let swap =
                    (discount(rank[i - q.start]) - discount(rank[j - q.start])).abs() / ideal;
                // rho: the logistic probability that j is wrongly above i.
                let rho = 1.0 / (1.0 + (score[i] - score[j]).exp());
                g[i] += rho * swap;
                g[j] -= rho * swap;
                let w = (rho * (1.0 - rho) * swap).max(1e-12);
                h[i] += w;
                h[j] += w;
            }
        }
    }
    (g, h)
}

/// One regression tree fitted to gradients `g` with curvatures `h`.
fn grow(x: &[[f64; NF]], g: &[f64], h: &[f64], order: &[(usize, Vec<u32>)], cfg: Boosting) -> Tree {
    let mut nodes = vec![Node::Leaf(0.0)];
    // Frontier: (node index, its depth); `at` maps each row to its node.
    let mut at = vec![0usize; x.len()];
    let mut frontier = vec![(0usize, 0usize)];
    while let Some((k, depth)) = frontier.pop() {
        let split = if depth < cfg.depth {
            best_split(x, g, h, order, &at, k, cfg.min_leaf)
        } else {
            None
        };
        match split {
            Some((column, below)) => {
                let (left, right) = (nodes.len(), nodes.len() + 1);
                nodes.push(Node::Leaf(0.0));
                nodes.push(Node::Leaf(0.0));
                for (a, row) in at.iter_mut().zip(x) {
                    if *a == k {
                        *a = if row[column] < below { left } else { right };
                    }
                }
                nodes[k] = Node::Split {
                    feature: FEATURES[column].to_owned(),
                    below,
                    left,
                    right,
                    column,
                };
                frontier.push((left, depth + 1));
                frontier.push((right, depth + 1));
            }
            None => {
                let (sg, sh) = at
                    .iter()
                    .zip(g.iter().zip(h))
                    .filter(|(a, _)| **a == k)
                    .fold((0.0, 0.0), |(a, b), (_, (g, h))| (a + g, b + h));
                nodes[k] = Node::Leaf(round(cfg.shrinkage * sg / (sh + LEAF_L2)));
            }
        }
    }
    Tree(nodes)
}

/// Leaf values and thresholds rounded as they are shipped.
fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The split of node `k`'s rows with the largest gain (each side holding at
/// least `min_leaf` rows), as (column, threshold).
fn best_split(
    x: &[[f64; NF]],
    g: &[f64],
    h: &[f64],
    order: &[(usize, Vec<u32>)],
    at: &[usize],
    k: usize,
    min_leaf: usize,
) -> Option<(usize, f64)> {
    let gain = |sg: f64, sh: f64| sg * sg / (sh + LEAF_L2);
    let mut best: Option<(f64, usize, f64)> = None;
    for (c, idx) in order {
        let rows: Vec<usize> = idx
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| at[i] == k)
            .collect();
        let (tg, th) = rows
            .iter()
            .fold((0.0, 0.0), |(a, b), &i| (a + g[i], b + h[i]));
        let whole = gain(tg, th);
        let (mut lg, mut lh) = (0.0, 0.0);
        for (n, pair) in rows.windows(2).enumerate() {
            lg += g[pair[0]];
            lh += h[pair[0]];
            let (lo, hi) = (x[pair[0]][*c], x[pair[1]][*c]);
            if n + 1 < min_leaf || rows.len() - n - 1 < min_leaf || lo == hi {
                continue;
            }
            let gained = gain(lg, lh) + gain(tg - lg, th - lh) - whole;
            if gained > best.map_or(1e-9, |b| b.0) {
                best = Some((gained, *c, round(lo + (hi - lo) / 2.0)));
            }
        }
    }
    best.map(|(_, c, below)| (c, below))
}

/// The model `base` with `trees` added.
pub fn with_trees(base: &Model, trees: Vec<Tree>) -> Model {
    Model {
        trees,
        ..base.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str) -> usize {
        FEATURES.iter().position(|f| *f == name).expect("feature")
    }

    /// The winner is the only candidate with `text` in a middle band: no
    /// linear weight on `text` can put it first, one tree of depth 2 can.
    #[test]
    fn trees_learn_what_a_line_cannot() {
        let c = col("text");
        let mut queries = Vec::new();
        for q in 0..40 {
            let mut gold = [0.0; NF];
            gold[c] = 0.5 + (q % 5) as f64 / 100.0;
            let other = (0..30)
                .map(|i| {
                    let mut x = [0.0; NF];
                    x[c] = if i % 2 == 0 { 0.1 } else { 0.9 } + (i % 7) as f64 / 100.0;
                    x
                })
                .collect();
            queries.push(Query {
                gold: vec![gold],
                other,
            });
        }
        let base = crate::ranker::fit(&queries, &["text"], 0.01);
        let cfg = Boosting {
            depth: 2,
            min_leaf: 10,
            shrinkage: 0.3,
            trees: 30,
        };
        let mut grown = Vec::new();
        let mut firsts = Vec::new();
        let trees = boost(&queries, &base, &["text"], cfg, |t| {
            grown.push(t.clone());
            firsts.push(mean_first(&queries, &with_trees(&base, grown.clone())));
        });
        let model = with_trees(&base, trees);
        assert!(mean_first(&queries, &base) < 0.5, "the line alone fails");
        assert_eq!(mean_first(&queries, &model), 1.0, "{firsts:?}");
        assert!(firsts.windows(2).all(|w| w[1] >= w[0] - 0.05), "{firsts:?}");
        // Round-trips through the model file.
        let text = serde_json::to_string(&model).expect("json");
        let back = Model::parse(&text).expect("parse");
        assert_eq!(
            back.raw(&queries[0].gold[0]),
            model.raw(&queries[0].gold[0])
        );
    }

    /// Share of queries whose winner ranks first.
    fn mean_first(queries: &[Query], m: &Model) -> f64 {
        let first = queries
            .iter()
            .filter(|q| q.other.iter().all(|o| m.raw(o) < m.raw(&q.gold[0])))
            .count();
        first as f64 / queries.len() as f64
    }
}
