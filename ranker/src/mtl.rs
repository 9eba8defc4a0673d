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

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

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

/// `x · Wᵀ + b` of a batch (`x`: rows × inputs), ReLU'd when asked.
fn layer(x: MatRef<'_, f32>, l: &Dense, relu: bool) -> Mat<f32> {
    // `w` is row-major outputs × inputs: column-major, it is Wᵀ (inputs × outputs).
    let wt = MatRef::from_column_major_slice(&l.w, l.inputs, l.outputs);
    let mut y = Mat::from_fn(x.nrows(), l.outputs, |_, j| l.b[j]);
    matmul(y.as_mut(), Accum::Add, x, wt, 1.0, Par::Seq);
    if relu {
        for j in 0..y.ncols() {
            for v in y.col_mut(j).iter_mut() {
                *v = v.max(0.0);
            }
        }
    }
    y
}

/// Layers that read the same input, as one layer (their outputs side by side).
fn fuse<'a>(layers: impl IntoIterator<Item = &'a Dense>) -> Dense {
    let mut out = Dense {
        inputs: 0,
        outputs: 0,
        w: Vec::new(),
        b: Vec::new(),
    };
    for l in layers {
        out.inputs = l.inputs;
        out.outputs += l.outputs;
        out.w.extend_from_slice(&l.w);
        out.b.extend_from_slice(&l.b);
    }
    out
}

/// A stack over a batch: every layer but a tower's last is ReLU'd.
fn run_batch(layers: &[Dense], x: MatRef<'_, f32>, last_relu: bool) -> Mat<f32> {
    let Some((first, rest)) = layers.split_first() else {
        return x.to_owned();
    };
    let mut cur = layer(x, first, last_relu || !rest.is_empty());
    for (i, l) in rest.iter().enumerate() {
        cur = layer(cur.as_ref(), l, last_relu || i + 1 < rest.len());
    }
    cur
}

impl MtlNet {
    /// The two logits (click, conversion) of every row of `x`, in one
    /// pass of matrix products over the batch (one thread).
    pub fn logits_batch(&self, x: &FeatureMatrix) -> Result<Vec<[f32; 2]>> {
        x.check_width(self.num_features)?;
        let n = x.rows();
        let z = Mat::from_fn(n, self.num_features, |i, j| {
            (x.get(i, j) - self.mean[j]) / self.scale[j]
        });
        // The experts' first layers (and the gates) read the same input:
        // one matrix product for all of them, then each expert's columns.
        let first = layer(z.as_ref(), &fuse(self.experts.iter().map(|e| &e[0])), true);
        let mut offset = 0;
        let outs: Vec<Mat<f32>> = self
            .experts
            .iter()
            .map(|e| {
                let cols = first.as_ref().subcols(offset, e[0].outputs);
                offset += e[0].outputs;
                run_batch(&e[1..], cols, true)
            })
            .collect();
        let gates = (!self.gates.is_empty()).then(|| layer(z.as_ref(), &fuse(&self.gates), false));
        let mut logits = vec![[0f32; 2]; n];
        for (t, tower) in self.towers.iter().enumerate() {
            let mixed = if self.gates.is_empty() {
                outs[0].clone()
            } else {
                let experts = self.gates[t].outputs;
                let g = gates
                    .as_ref()
                    .expect("gates exist")
                    .as_ref()
                    .subcols(t * experts, experts);
                let h = outs[0].ncols();
                // Softmax over each row's gate logits, one column per expert.
                let mut w = Mat::<f32>::zeros(n, experts);
                for i in 0..n {
                    let m = (0..experts)
                        .map(|e| g[(i, e)])
                        .fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0.0;
                    for e in 0..experts {
                        let v = (g[(i, e)] - m).exp();
                        w[(i, e)] = v;
                        sum += v;
                    }
                    for e in 0..experts {
                        w[(i, e)] /= sum;
                    }
                }
                // Column by column (faer is column-major): mixed = Σ_e w_e ⊙ out_e.
                let mut mixed = Mat::<f32>::zeros(n, h);
                for (e, o) in outs.iter().enumerate() {
                    let we = w.col(e);
                    for k in 0..h {
                        let (src, dst) = (o.col(k), mixed.col_mut(k));
                        for ((d, s), a) in dst.iter_mut().zip(src.iter()).zip(we.iter()) {
                            *d += a * s;
                        }
                    }
                }
                mixed
            };
            let out = run_batch(tower, mixed.as_ref(), false);
            for (i, l) in logits.iter_mut().enumerate() {
                l[t] = out[(i, 0)];
            }
        }
        Ok(logits)
    }

    /// The two logits (click, conversion) of one row.
    pub fn logits(&self, row: &[f32]) -> [f32; 2] {
        FeatureMatrix::new(row.len(), row.to_vec())
            .and_then(|x| self.logits_batch(&x))
            .ok()
            .and_then(|v| v.first().copied())
            .unwrap_or([f32::NAN; 2])
    }

    /// pCTR and pCVR of every row.
    pub fn predict(&self, x: &FeatureMatrix) -> Result<Vec<TaskProbabilities>> {
        Ok(self
            .logits_batch(x)?
            .into_iter()
            .map(|[c, v]| TaskProbabilities {
                ctr: sigmoid(c),
                cvr: sigmoid(v),
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
