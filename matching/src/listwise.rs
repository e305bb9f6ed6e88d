//! The learned ranker's second loss: a listwise softmax (ListNet top-one)
//! fit. Pairwise logistic regression counts every (winner, other) pair the
//! same, so it may trade the winner's first place for many pairs further
//! down; the softmax loss is the winner's share of the query's probability
//! mass, which is what MRR rewards. `evaluate` picks between the losses by
//! train-side cross-validation only.

use crate::ranker::{Model, Query, Standardiser};

/// Which objective a model was fitted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    Pairwise,
    Softmax,
}

impl Loss {
    pub const ALL: [Loss; 2] = [Loss::Pairwise, Loss::Softmax];

    pub fn name(self) -> &'static str {
        match self {
            Loss::Pairwise => "pairwise logistic",
            Loss::Softmax => "listwise softmax",
        }
    }

    /// Fits a model with this loss (see [`crate::ranker::fit`]).
    pub fn fit(self, queries: &[Query], use_features: &[&str], l2: f64) -> Model {
        match self {
            Loss::Pairwise => crate::ranker::fit(queries, use_features, l2),
            Loss::Softmax => fit_softmax(queries, use_features, l2),
        }
    }
}

/// Gradient steps; each step backtracks until the loss falls (the loss is
/// convex and smooth, so this converges without a tuned learning rate).
const STEPS: usize = 300;

/// One query standardised: the gold rows then the others, as vectors.
struct Standard {
    gold: usize,
    rows: Vec<Vec<f64>>,
}

/// Fits `-log(Σ_gold e^s / Σ_all e^s)` averaged over queries, plus
/// `l2·|w|²`, on the standardised features in `use_features`.
pub fn fit_softmax(queries: &[Query], use_features: &[&str], l2: f64) -> Model {
    let st = Standardiser::new(queries, use_features);
    let data: Vec<Standard> = queries
        .iter()
        .filter(|q| !q.gold.is_empty() && !q.other.is_empty())
        .map(|q| Standard {
            gold: q.gold.len(),
            rows: q.gold.iter().chain(&q.other).map(|x| st.z(x)).collect(),
        })
        .collect();
    let mut w = vec![0.0; st.idx.len()];
    let mut step = 1.0;
    let (mut loss, mut grad) = loss_and_grad(&data, &w, l2);
    for _ in 0..STEPS {
        let norm: f64 = grad.iter().map(|g| g * g).sum();
        if norm < 1e-14 {
            break;
        }
        // Backtracking (Armijo): halve the step until the loss falls enough.
        loop {
            let trial: Vec<f64> = w.iter().zip(&grad).map(|(a, g)| a - step * g).collect();
            let (l, g) = loss_and_grad(&data, &trial, l2);
            if l <= loss - 0.5 * step * norm || step < 1e-10 {
                (w, loss, grad) = (trial, l, g);
                step *= 2.0;
                break;
            }
            step /= 2.0;
        }
    }
    st.model(&w)
}

/// The averaged softmax loss and its gradient at `w`.
fn loss_and_grad(data: &[Standard], w: &[f64], l2: f64) -> (f64, Vec<f64>) {
    let n = data.len().max(1) as f64;
    let mut loss: f64 = l2 * w.iter().map(|x| x * x).sum::<f64>();
    let mut grad: Vec<f64> = w.iter().map(|x| 2.0 * l2 * x).collect();
    for q in data {
        let s: Vec<f64> = q
            .rows
            .iter()
            .map(|r| r.iter().zip(w).map(|(a, b)| a * b).sum())
            .collect();
        // Shifted by the maximum so that exp never overflows.
        let top = s.iter().copied().fold(f64::MIN, f64::max);
        let e: Vec<f64> = s.iter().map(|x| (x - top).exp()).collect();
        let all: f64 = e.iter().sum();
        let gold: f64 = e[..q.gold].iter().sum();
        loss += (all.ln() - gold.ln()) / n;
        for (i, r) in q.rows.iter().enumerate() {
            // d/ds_i = p_i - (i is gold) · e_i / gold
            let mut d = e[i] / all;
            if i < q.gold {
                d -= e[i] / gold;
            }
            for (g, x) in grad.iter_mut().zip(r) {
                *g += d * x / n;
            }
        }
    }
    (loss, grad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranker::{FEATURES, NF};

    /// A feature that puts the winner first in every query but is noisy
    /// lower down, beside one that orders the rest well but not the top:
    /// the softmax fit leans on the first and ranks every winner first.
    #[test]
    fn the_softmax_fit_puts_the_winner_first() {
        let col = |name: &str| FEATURES.iter().position(|f| *f == name).expect("feature");
        let (a, b) = (col(FEATURES[0]), col(FEATURES[1]));
        let mut queries = Vec::new();
        for q in 0..30 {
            let mut gold = [0.0; NF];
            gold[a] = 1.0;
            gold[b] = 0.2;
            let other: Vec<[f64; NF]> = (0..20)
                .map(|i| {
                    let mut x = [0.0; NF];
                    x[a] = ((i * 7 + q) % 10) as f64 / 20.0;
                    x[b] = 1.0 - i as f64 / 40.0;
                    x
                })
                .collect();
            queries.push(Query {
                gold: vec![gold],
                other,
            });
        }
        let m = fit_softmax(&queries, &[FEATURES[0], FEATURES[1]], 0.001);
        for q in &queries {
            let g = m.raw(&q.gold[0]);
            assert!(q.other.iter().all(|o| m.raw(o) < g), "{m:?}");
        }
        assert!(m.weights[0] > 0.0, "{m:?}");
    }

    #[test]
    fn the_loss_falls_and_its_gradient_is_the_slope() {
        let data = vec![Standard {
            gold: 1,
            rows: vec![vec![1.0, -0.5], vec![0.2, 0.3], vec![-1.0, 2.0]],
        }];
        let w = [0.3, -0.2];
        let (l, g) = loss_and_grad(&data, &w, 0.01);
        for k in 0..2 {
            let mut up = w;
            up[k] += 1e-6;
            let (lu, _) = loss_and_grad(&data, &up, 0.01);
            assert!(((lu - l) / 1e-6 - g[k]).abs() < 1e-4, "{k}: {g:?}");
        }
    }
}
