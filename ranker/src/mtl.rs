//! The multi-task click and purchase network, as served: plain weights and
//! a forward pass over feature rows (training lives in `hyrank-training`,
//! on candle-nn, and exports into this form).
//!
//! Shape: standardised features → experts (each a ReLU stack) → per task a
//! softmax gate mixing the experts (MMoE, Ma et al. 2018; one expert and no
//! gate is the shared-bottom network) → a click tower and a conversion
//! tower (ReLU stacks ending in one logit). pCTR = σ(click logit), pCVR =
//! σ(conversion logit) = P(purchase | click), and P(click ∧ purchase) =
//! pCTR · pCVR, the entire-space factorisation of ESMM (Ma et al. 2018).

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::gbdt::FeatureMatrix;

/// One fully connected layer: `y = W x + b`, `W` row-major `out × in`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dense {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// Weights, `outputs × inputs`, row-major.
    pub w: Vec<f32>,
    /// Biases.
    pub b: Vec<f32>,
}

impl Dense {
    fn apply(&self, x: &[f32], out: &mut Vec<f32>, relu: bool) {
        out.clear();
        for o in 0..self.outputs {
            let row = &self.w[o * self.inputs..(o + 1) * self.inputs];
            let mut s = self.b[o];
            for (a, b) in row.iter().zip(x) {
                s += a * b;
            }
            out.push(if relu { s.max(0.0) } else { s });
        }
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.w.len() != self.inputs * self.outputs || self.b.len() != self.outputs {
            return Err(format!(
                "a layer of {}x{} holds {} weights and {} biases",
                self.outputs,
                self.inputs,
                self.w.len(),
                self.b.len()
            ));
        }
        if self.w.iter().chain(&self.b).any(|v| !v.is_finite()) {
            return Err("a layer holds a weight that is not finite".into());
        }
        Ok(())
    }
}

/// A ReLU stack: every layer but a tower's last is followed by ReLU.
fn run(layers: &[Dense], x: &[f32], last_relu: bool) -> Vec<f32> {
    let mut cur = x.to_vec();
    let mut next = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        l.apply(&cur, &mut next, last_relu || i + 1 < layers.len());
        std::mem::swap(&mut cur, &mut next);
    }
    cur
}

/// The served network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlNet {
    /// Features a row must have.
    pub num_features: usize,
    /// Training mean of each feature.
    pub mean: Vec<f32>,
    /// Training standard deviation of each feature (1 for a constant one).
    pub scale: Vec<f32>,
    /// The experts (one for shared-bottom), each a ReLU stack.
    pub experts: Vec<Vec<Dense>>,
    /// One gate per task (click, conversion) over the experts; empty with one expert.
    pub gates: Vec<Dense>,
    /// The click tower and the conversion tower, each ending in one logit.
    pub towers: [Vec<Dense>; 2],
}

/// Both tasks' probabilities for one row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TaskProbabilities {
    /// P(click).
    pub ctr: f64,
    /// P(purchase | click).
    pub cvr: f64,
}

fn sigmoid(z: f32) -> f64 {
    1.0 / (1.0 + (-f64::from(z)).exp())
}

impl MtlNet {
    /// The two logits (click, conversion) of one row.
    pub fn logits(&self, row: &[f32]) -> [f32; 2] {
        let x: Vec<f32> = row
            .iter()
            .zip(self.mean.iter().zip(&self.scale))
            .map(|(v, (m, s))| (v - m) / s)
            .collect();
        let outs: Vec<Vec<f32>> = self.experts.iter().map(|e| run(e, &x, true)).collect();
        let mut logits = [0f32; 2];
        for (t, tower) in self.towers.iter().enumerate() {
            let mixed = if self.gates.is_empty() {
                outs[0].clone()
            } else {
                let g = run(std::slice::from_ref(&self.gates[t]), &x, false);
                let m = g.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = g.iter().map(|v| (v - m).exp()).collect();
                let z: f32 = e.iter().sum();
                let mut mixed = vec![0f32; outs[0].len()];
                for (w, o) in e.iter().zip(&outs) {
                    for (a, b) in mixed.iter_mut().zip(o) {
                        *a += w / z * b;
                    }
                }
                mixed
            };
            logits[t] = run(tower, &mixed, false)[0];
        }
        logits
    }

    /// pCTR and pCVR of every row.
    pub fn predict(&self, x: &FeatureMatrix) -> Result<Vec<TaskProbabilities>> {
        x.check_width(self.num_features)?;
        Ok((0..x.rows())
            .map(|r| {
                let [c, v] = self.logits(x.row(r));
                TaskProbabilities {
                    ctr: sigmoid(c),
                    cvr: sigmoid(v),
                }
            })
            .collect())
    }

    /// The network's own checks (shapes chain, weights finite).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let f = self.num_features;
        if self.mean.len() != f || self.scale.len() != f {
            return Err(format!(
                "{f} features but {} means and {} scales",
                self.mean.len(),
                self.scale.len()
            ));
        }
        if self.scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err("a feature scale is not a positive number".into());
        }
        if self.experts.is_empty() {
            return Err("the network has no expert".into());
        }
        let chain = |layers: &[Dense], inputs: usize| -> std::result::Result<usize, String> {
            let mut n = inputs;
            for l in layers {
                l.check()?;
                if l.inputs != n {
                    return Err(format!(
                        "a layer takes {} inputs where {n} arrive",
                        l.inputs
                    ));
                }
                n = l.outputs;
            }
            Ok(n)
        };
        let widths = self
            .experts
            .iter()
            .map(|e| chain(e, f))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if widths.windows(2).any(|w| w[0] != w[1]) {
            return Err("the experts' outputs differ in width".into());
        }
        let width = widths[0];
        if self.experts.len() > 1 {
            if self.gates.len() != 2 {
                return Err(format!("{} gates for 2 tasks", self.gates.len()));
            }
            for g in &self.gates {
                g.check()?;
                if g.inputs != f || g.outputs != self.experts.len() {
                    return Err("a gate does not map the features onto the experts".into());
                }
            }
        } else if !self.gates.is_empty() {
            return Err("gates without several experts".into());
        }
        for t in &self.towers {
            if t.is_empty() || chain(t, width)? != 1 {
                return Err("a tower must end in one logit".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(inputs: usize, outputs: usize, v: f32) -> Dense {
        Dense {
            inputs,
            outputs,
            w: vec![v; inputs * outputs],
            b: vec![0.0; outputs],
        }
    }

    #[test]
    fn shared_bottom_and_mmoe_forward() {
        let mut net = MtlNet {
            num_features: 2,
            mean: vec![0.0, 0.0],
            scale: vec![1.0, 1.0],
            experts: vec![vec![dense(2, 3, 1.0)]],
            gates: vec![],
            towers: [vec![dense(3, 1, 1.0)], vec![dense(3, 1, -1.0)]],
        };
        net.validate().unwrap();
        // x = (1, 1): expert = relu(2, 2, 2); click logit 6, conversion −6.
        assert_eq!(net.logits(&[1.0, 1.0]), [6.0, -6.0]);
        let p = net
            .predict(&FeatureMatrix::new(2, vec![1.0, 1.0]).unwrap())
            .unwrap();
        assert!(p[0].ctr > 0.99 && p[0].cvr < 0.01);
        // Two identical experts with gates: the mixture equals one expert.
        net.experts.push(vec![dense(2, 3, 1.0)]);
        assert!(net.validate().is_err(), "two experts need two gates");
        net.gates = vec![dense(2, 2, 0.3), dense(2, 2, -0.2)];
        net.validate().unwrap();
        let l = net.logits(&[1.0, 1.0]);
        assert!((l[0] - 6.0).abs() < 1e-5 && (l[1] + 6.0).abs() < 1e-5);
        net.towers[0][0].w[0] = f32::NAN;
        assert!(net.validate().unwrap_err().contains("not finite"));
    }
}
