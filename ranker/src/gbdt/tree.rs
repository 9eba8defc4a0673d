//! One regression tree as it is stored and evaluated.

use serde::{Deserialize, Serialize};

/// A binary regression tree: internal nodes test `x[feature] <= threshold`
/// (NaN goes left); a child is a node index when `>= 0` and the leaf `!child`
/// when negative (LightGBM's encoding). A tree of one leaf has no nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Internal nodes; node 0 is the root.
    pub nodes: Vec<Node>,
    /// Leaf outputs (already multiplied by the learning rate).
    pub leaves: Vec<f64>,
}

/// One split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature index tested.
    pub feature: u32,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f64,
    /// Left child (node index, or `!leaf`).
    pub left: i32,
    /// Right child.
    pub right: i32,
    /// Loss reduction of the split (for feature importance).
    pub gain: f64,
    /// Training rows that reached the node.
    pub count: u32,
}

impl Tree {
    /// A tree that outputs one constant.
    pub fn constant(value: f64) -> Self {
        Self {
            nodes: Vec::new(),
            leaves: vec![value],
        }
    }

    /// The leaf a row falls into.
    pub fn leaf_of(&self, row: &[f32]) -> usize {
        if self.nodes.is_empty() {
            return 0;
        }
        let mut at = 0i32;
        loop {
            let n = &self.nodes[at as usize];
            let v = row[n.feature as usize];
            let next = if v.is_nan() || f64::from(v) <= n.threshold {
                n.left
            } else {
                n.right
            };
            if next < 0 {
                return !next as usize;
            }
            at = next;
        }
    }

    /// The tree's output for one row.
    pub fn predict(&self, row: &[f32]) -> f64 {
        self.leaves[self.leaf_of(row)]
    }

    /// Checks the structure (children in range, every leaf reached once,
    /// features below `num_features`, finite numbers): a model file that
    /// passes cannot make prediction index out of bounds or loop.
    pub fn validate(&self, num_features: usize) -> Result<(), String> {
        if self.leaves.len() != self.nodes.len() + 1 {
            return Err(format!(
                "{} nodes need {} leaves, found {}",
                self.nodes.len(),
                self.nodes.len() + 1,
                self.leaves.len()
            ));
        }
        if let Some(l) = self.leaves.iter().position(|v| !v.is_finite()) {
            return Err(format!("leaf {l} is not finite"));
        }
        let mut node_seen = vec![false; self.nodes.len()];
        let mut leaf_seen = vec![false; self.leaves.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if n.feature as usize >= num_features {
                return Err(format!(
                    "node {i} tests feature {} of {num_features}",
                    n.feature
                ));
            }
            if n.threshold.is_nan() {
                return Err(format!("node {i} threshold is NaN"));
            }
            for c in [n.left, n.right] {
                if c >= 0 {
                    // Children come after their parent: no cycles.
                    let c = c as usize;
                    if c <= i || c >= self.nodes.len() || std::mem::replace(&mut node_seen[c], true)
                    {
                        return Err(format!("node {i} has a bad child node {c}"));
                    }
                } else {
                    let l = !c as usize;
                    if l >= self.leaves.len() || std::mem::replace(&mut leaf_seen[l], true) {
                        return Err(format!("node {i} has a bad leaf {l}"));
                    }
                }
            }
        }
        if self.nodes.is_empty()
            || (node_seen.iter().skip(1).all(|&s| s) && leaf_seen.iter().all(|&s| s))
        {
            Ok(())
        } else {
            Err("some nodes or leaves are unreachable".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump() -> Tree {
        Tree {
            nodes: vec![
                Node {
                    feature: 0,
                    threshold: 0.5,
                    left: !0,
                    right: 1,
                    gain: 1.0,
                    count: 10,
                },
                Node {
                    feature: 1,
                    threshold: 2.0,
                    left: !1,
                    right: !2,
                    gain: 0.5,
                    count: 6,
                },
            ],
            leaves: vec![-1.0, 0.0, 1.0],
        }
    }

    #[test]
    fn rows_follow_thresholds_and_nan_goes_left() {
        let t = stump();
        assert_eq!(t.predict(&[0.5, 9.0]), -1.0);
        assert_eq!(t.predict(&[0.6, 2.0]), 0.0);
        assert_eq!(t.predict(&[0.6, 2.1]), 1.0);
        assert_eq!(t.predict(&[f32::NAN, 9.0]), -1.0);
        assert!(t.validate(2).is_ok());
        assert_eq!(Tree::constant(0.3).predict(&[]), 0.3);
    }

    #[test]
    fn broken_structures_are_refused() {
        let mut t = stump();
        t.nodes[1].right = 0;
        assert!(t.validate(2).is_err(), "cycle");
        let mut t = stump();
        t.nodes[1].right = !1;
        assert!(t.validate(2).is_err(), "leaf twice");
        assert!(stump().validate(1).is_err(), "feature out of range");
        let mut t = stump();
        t.leaves.pop();
        assert!(t.validate(2).is_err());
    }
}
