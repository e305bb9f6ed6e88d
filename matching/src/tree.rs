//! Regression trees as model files carry them: nodes split on a named
//! feature at a threshold, leaves give the tree's output. Parsing checks
//! every node (known features, finite numbers, children after their
//! parent, so evaluating a tree always ends).

use serde::{Deserialize, Serialize};

/// One node of a regression tree.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Node {
    /// The tree's output for rows that reach this node.
    Leaf(f64),
    /// Rows whose `feature` is below `below` go to node `left`, others to
    /// `right` (indices into the tree, always after this node).
    Split {
        feature: String,
        below: f64,
        left: usize,
        right: usize,
        /// The feature's position in the feature vector (worked out on
        /// parsing).
        #[serde(skip)]
        column: usize,
    },
}

/// A regression tree: node 0 is the root.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Tree(pub Vec<Node>);

impl Tree {
    /// The tree's output for a feature vector.
    pub fn value(&self, x: &[f64]) -> f64 {
        let mut k = 0;
        // Children always come after their parent (checked on parsing), so
        // this walks at most `len` steps.
        while let Some(node) = self.0.get(k) {
            match node {
                Node::Leaf(v) => return *v,
                Node::Split {
                    column,
                    below,
                    left,
                    right,
                    ..
                } => {
                    let v = x.get(*column).copied().unwrap_or(0.0);
                    k = if v < *below { *left } else { *right };
                }
            }
        }
        0.0
    }

    /// Checks a parsed tree and resolves its feature names against
    /// `features` (the names of the feature vector's positions).
    pub fn check(&mut self, features: &[&str]) -> Result<(), String> {
        let len = self.0.len();
        for (k, node) in self.0.iter_mut().enumerate() {
            match node {
                Node::Leaf(v) if !v.is_finite() => {
                    return Err(format!("node {k}: leaf not finite"))
                }
                Node::Leaf(_) => {}
                Node::Split {
                    feature,
                    below,
                    left,
                    right,
                    column,
                } => {
                    *column = features
                        .iter()
                        .position(|f| f == feature)
                        .ok_or_else(|| format!("node {k}: unknown feature {feature:?}"))?;
                    if !below.is_finite() {
                        return Err(format!("node {k}: threshold not finite"));
                    }
                    if *left <= k || *right <= k || *left >= len || *right >= len {
                        return Err(format!("node {k}: children must come after it in the tree"));
                    }
                }
            }
        }
        if len == 0 {
            return Err("a tree needs at least one node".into());
        }
        Ok(())
    }

    /// The columns this tree splits on.
    pub fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().filter_map(|n| match n {
            Node::Split { column, .. } => Some(*column),
            Node::Leaf(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["text", "cpv", "wins"];

    #[test]
    fn bad_trees_are_refused() {
        for bad in [
            r#"[{"split":{"feature":"text","below":0.5,"left":0,"right":1}},{"leaf":1.0}]"#,
            r#"[{"split":{"feature":"nope","below":0.5,"left":1,"right":2}},{"leaf":1.0},{"leaf":0.0}]"#,
            r#"[{"split":{"feature":"text","below":0.5,"left":1,"right":9}},{"leaf":1.0}]"#,
            r#"[]"#,
        ] {
            let mut t: Tree = serde_json::from_str(bad).expect("json");
            assert!(t.check(&NAMES).is_err(), "{bad}");
        }
        let mut ok: Tree = serde_json::from_str(
            r#"[{"split":{"feature":"cpv","below":0.5,"left":1,"right":2}},{"leaf":-1.0},{"leaf":2.0}]"#,
        )
        .expect("json");
        assert_eq!(ok.check(&NAMES), Ok(()));
        assert_eq!(ok.value(&[0.9, 0.0, 0.0]), -1.0);
        assert_eq!(ok.value(&[0.0, 0.7, 0.0]), 2.0);
        assert_eq!(ok.columns().collect::<Vec<_>>(), vec![1]);
    }
}
