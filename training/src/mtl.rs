//! Training the multi-task network on candle-nn: ESMM's entire-space loss
//! over every impression, shared-bottom or MMoE, an optional position
//! tower, AdamW on mini-batches, early stopping on the validation loss;
//! exported into [`hyrank_ranker::mtl::MtlNet`] for serving.
//!
//! Loss (Ma et al. 2018, "Entire Space Multi-Task Model"):
//! `BCE(click, pCTR) + BCE(click ∧ purchase, pCTR · pCVR)`, both on all
//! impressions, so pCVR is learnt without the sample-selection bias of a
//! model trained on clicked impressions only. With the position tower,
//! training uses `P(click) = P(seen | position) · pCTR` (the tower is a
//! learnt logit per position, dropped at serving). `entire_space: false`
//! trains the baseline ESMM is compared with: the conversion tower on
//! clicked impressions only, `BCE(purchase, pCVR)` there.
//!
//! Every log-probability is computed in the stable form
//! `log σ(z) = −(max(−z, 0) + ln(1 + e^{−|z|}))`: candle-nn's
//! `binary_cross_entropy_with_logit` takes the log of a sigmoid and gives
//! NaN on large logits. Weights start from a seeded ChaCha stream and
//! batches are shuffled by it, so a seed gives the same weights.

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use hyrank_ranker::mtl::{Dense, MtlNet};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::logset::LogRows;
use crate::logtrain::Step;

/// The network's shape and its training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MtlParams {
    /// Experts: 1 is the shared-bottom network, more is MMoE (one gate per task).
    pub experts: usize,
    /// Widths of each expert's ReLU layers.
    pub expert_hidden: Vec<usize>,
    /// Widths of each tower's ReLU layers (before its output logit).
    pub tower_hidden: Vec<usize>,
    /// Most passes over the training rows.
    pub epochs: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// AdamW's learning rate.
    pub learning_rate: f64,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    /// Epochs without a better validation loss before stopping.
    pub patience: usize,
    /// Seed of the initial weights and of the batch order.
    pub seed: u64,
    /// Learn P(seen | position) beside pCTR (training only).
    pub position_tower: bool,
    /// Positions the tower tells apart (deeper ones share the last).
    pub max_position: usize,
    /// ESMM's entire-space loss (`true`), or the conversion tower on clicked rows only.
    pub entire_space: bool,
}

impl Default for MtlParams {
    fn default() -> Self {
        Self {
            experts: 2,
            expert_hidden: vec![32],
            tower_hidden: vec![16],
            epochs: 8,
            batch_size: 1024,
            learning_rate: 2e-3,
            weight_decay: 1e-4,
            patience: 2,
            seed: 0,
            position_tower: false,
            max_position: 20,
            entire_space: true,
        }
    }
}

impl MtlParams {
    fn validate(&self) -> Result<()> {
        let bad = |name: &str, why: &str| Err(Error::InvalidArgument(format!("mtl.{name}: {why}")));
        if !(1..=64).contains(&self.experts) {
            return bad("experts", "must be 1 to 64");
        }
        if self.expert_hidden.is_empty() || self.expert_hidden.iter().any(|&w| w == 0 || w > 4096) {
            return bad(
                "expert_hidden",
                "needs at least one layer, each 1 to 4096 wide",
            );
        }
        if self.tower_hidden.iter().any(|&w| w == 0 || w > 4096) {
            return bad("tower_hidden", "each layer must be 1 to 4096 wide");
        }
        if self.epochs == 0 || self.epochs > 10_000 {
            return bad("epochs", "must be 1 to 10000");
        }
        if self.batch_size == 0 || self.batch_size > 1 << 20 {
            return bad("batch_size", "must be 1 to 1048576");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning_rate", "must be a positive number");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("weight_decay", "must be a number >= 0");
        }
        if self.max_position == 0 || self.max_position > 1000 {
            return bad("max_position", "must be 1 to 1000");
        }
        Ok(())
    }
}

fn candle(e: candle_core::Error) -> Error {
    Error::Train(e.to_string())
}

/// A layer being trained: `y = x W + b`, `W` of `inputs × outputs`.
struct Layer {
    w: Var,
    b: Var,
}

impl Layer {
    fn new(inputs: usize, outputs: usize, rng: &mut ChaCha8Rng) -> Result<Self> {
        // Glorot uniform.
        let a = (6.0 / (inputs + outputs) as f64).sqrt() as f32;
        let w: Vec<f32> = (0..inputs * outputs)
            .map(|_| rng.random_range(-a..a))
            .collect();
        Ok(Self {
            w: Var::from_tensor(
                &Tensor::from_vec(w, (inputs, outputs), &Device::Cpu).map_err(candle)?,
            )
            .map_err(candle)?,
            b: Var::from_tensor(&Tensor::zeros(outputs, DType::F32, &Device::Cpu).map_err(candle)?)
                .map_err(candle)?,
        })
    }

    fn forward(&self, x: &Tensor, relu: bool) -> candle_core::Result<Tensor> {
        let y = x
            .matmul(self.w.as_tensor())?
            .broadcast_add(self.b.as_tensor())?;
        if relu {
            y.relu()
        } else {
            Ok(y)
        }
    }

    fn export(&self) -> Result<Dense> {
        let (inputs, outputs) = self.w.as_tensor().dims2().map_err(candle)?;
        let w = self
            .w
            .as_tensor()
            .t()
            .and_then(|t| t.contiguous())
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(candle)?;
        let b = self.b.as_tensor().to_vec1::<f32>().map_err(candle)?;
        Ok(Dense {
            inputs,
            outputs,
            w,
            b,
        })
    }
}

fn stack(layers: &[Layer], x: &Tensor, last_relu: bool) -> candle_core::Result<Tensor> {
    let mut cur = x.clone();
    for (i, l) in layers.iter().enumerate() {
        cur = l.forward(&cur, last_relu || i + 1 < layers.len())?;
    }
    Ok(cur)
}

struct Net {
    experts: Vec<Vec<Layer>>,
    gates: Vec<Layer>,
    towers: [Vec<Layer>; 2],
    positions: Option<Var>,
}

impl Net {
    fn new(features: usize, p: &MtlParams) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed ^ 0x0E55_3A11);
        let chain = |inputs: usize, widths: &[usize], rng: &mut ChaCha8Rng| -> Result<Vec<Layer>> {
            let mut n = inputs;
            let mut out = Vec::new();
            for &w in widths {
                out.push(Layer::new(n, w, rng)?);
                n = w;
            }
            Ok(out)
        };
        let experts = (0..p.experts)
            .map(|_| chain(features, &p.expert_hidden, &mut rng))
            .collect::<Result<Vec<_>>>()?;
        let gates = if p.experts > 1 {
            (0..2)
                .map(|_| Layer::new(features, p.experts, &mut rng))
                .collect::<Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        let width = *p
            .expert_hidden
            .last()
            .expect("validated: at least one layer");
        let tower = |rng: &mut ChaCha8Rng| -> Result<Vec<Layer>> {
            let mut t = chain(width, &p.tower_hidden, rng)?;
            t.push(Layer::new(
                p.tower_hidden.last().copied().unwrap_or(width),
                1,
                rng,
            )?);
            Ok(t)
        };
        let towers = [tower(&mut rng)?, tower(&mut rng)?];
        let positions = if p.position_tower {
            Some(
                Var::from_tensor(
                    &Tensor::full(2.0f32, p.max_position, &Device::Cpu).map_err(candle)?,
                )
                .map_err(candle)?,
            )
        } else {
            None
        };
        Ok(Self {
            experts,
            gates,
            towers,
            positions,
        })
    }

    fn vars(&self) -> Vec<Var> {
        let mut v = Vec::new();
        let layers = self
            .experts
            .iter()
            .flatten()
            .chain(&self.gates)
            .chain(self.towers.iter().flatten());
        for l in layers {
            v.push(l.w.clone());
            v.push(l.b.clone());
        }
        v.extend(self.positions.clone());
        v
    }

    /// The click and conversion logits, `(B,)` each.
    fn forward(&self, x: &Tensor) -> candle_core::Result<[Tensor; 2]> {
        let outs = self
            .experts
            .iter()
            .map(|e| stack(e, x, true))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let mut logits = Vec::with_capacity(2);
        for (t, tower) in self.towers.iter().enumerate() {
            let mixed = if self.gates.is_empty() {
                outs[0].clone()
            } else {
                let g = candle_nn::ops::softmax(&self.gates[t].forward(x, false)?, D::Minus1)?;
                let e = Tensor::stack(&outs, 1)?; // (B, E, H)
                e.broadcast_mul(&g.unsqueeze(2)?)?.sum(1)?
            };
            logits.push(stack(tower, &mixed, false)?.squeeze(1)?);
        }
        let v = logits.pop().expect("two towers");
        let c = logits.pop().expect("two towers");
        Ok([c, v])
    }

    fn export(&self, mean: &[f32], scale: &[f32]) -> Result<MtlNet> {
        let ex = |ls: &[Layer]| ls.iter().map(Layer::export).collect::<Result<Vec<_>>>();
        Ok(MtlNet {
            num_features: mean.len(),
            mean: mean.to_vec(),
            scale: scale.to_vec(),
            experts: self
                .experts
                .iter()
                .map(|e| ex(e))
                .collect::<Result<Vec<_>>>()?,
            gates: ex(&self.gates)?,
            towers: [ex(&self.towers[0])?, ex(&self.towers[1])?],
        })
    }
}

/// `log σ(z)`, stably.
fn log_sigmoid(z: &Tensor) -> candle_core::Result<Tensor> {
    let softplus_neg = (z.neg()?.relu()? + z.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
    softplus_neg.neg()
}

/// Mean BCE from log-probabilities `log p` (≤ 0) and 0/1 targets.
fn bce_log(log_p: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
    let log_1m = log_p
        .exp()?
        .affine(-1.0, 1.0)?
        .clamp(1e-7f32, 1.0f32)?
        .log()?;
    let ll = (y.mul(log_p)? + y.affine(-1.0, 1.0)?.mul(&log_1m)?)?;
    ll.neg()?.mean_all()
}

/// Mean BCE from logits, in the stable form `max(z, 0) − y z + ln(1 + e^{−|z|})`,
/// weighted per row by `w` (mean over the weight's sum).
fn bce_logits_weighted(z: &Tensor, y: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    let l = ((z.relu()? - y.mul(z)?)? + z.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
    let total = w.sum_all()?.to_scalar::<f32>()?.max(1.0);
    l.mul(w)?.sum_all()? / f64::from(total)
}

struct Batch {
    x: Tensor,
    click: Tensor,
    buy: Tensor,
    position: Tensor,
}

fn batch(
    x: &[f32],
    cols: usize,
    rows: &LogRows,
    idx: &[usize],
    max_position: usize,
) -> candle_core::Result<Batch> {
    let mut xs = Vec::with_capacity(idx.len() * cols);
    for &r in idx {
        xs.extend_from_slice(&x[r * cols..(r + 1) * cols]);
    }
    let flag = |v: &[bool]| {
        idx.iter()
            .map(|&r| f32::from(u8::from(v[r])))
            .collect::<Vec<f32>>()
    };
    let buy: Vec<f32> = idx
        .iter()
        .map(|&r| f32::from(u8::from(rows.click[r] && rows.purchase[r])))
        .collect();
    let pos: Vec<u32> = idx
        .iter()
        .map(|&r| (rows.positions[r].max(1) as usize).min(max_position) as u32 - 1)
        .collect();
    let n = idx.len();
    Ok(Batch {
        x: Tensor::from_vec(xs, (n, cols), &Device::Cpu)?,
        click: Tensor::from_vec(flag(&rows.click), n, &Device::Cpu)?,
        buy: Tensor::from_vec(buy, n, &Device::Cpu)?,
        position: Tensor::from_vec(pos, n, &Device::Cpu)?,
    })
}

fn loss(net: &Net, b: &Batch, p: &MtlParams) -> candle_core::Result<Tensor> {
    let [c, v] = net.forward(&b.x)?;
    let mut log_click = log_sigmoid(&c)?;
    if let Some(pos) = &net.positions {
        log_click = (log_click + log_sigmoid(&pos.as_tensor().index_select(&b.position, 0)?)?)?;
    }
    let click_loss = bce_log(&log_click, &b.click)?;
    let conv_loss = if p.entire_space {
        bce_log(&(log_click + log_sigmoid(&v)?)?, &b.buy)?
    } else {
        bce_logits_weighted(&v, &b.buy, &b.click)?
    };
    click_loss + conv_loss
}

/// Standardises `rows.x` with its own (training) statistics.
fn standardise(rows: &LogRows) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (n, f) = (rows.len(), rows.x.cols());
    let mut mean = vec![0f64; f];
    let mut sq = vec![0f64; f];
    for r in 0..n {
        for (j, v) in rows.x.row(r).iter().enumerate() {
            mean[j] += f64::from(*v);
            sq[j] += f64::from(*v) * f64::from(*v);
        }
    }
    let mean: Vec<f32> = mean.iter().map(|m| (m / n.max(1) as f64) as f32).collect();
    let scale: Vec<f32> = sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| {
            let var = s / n.max(1) as f64 - f64::from(*m) * f64::from(*m);
            let sd = var.max(0.0).sqrt() as f32;
            if sd > 1e-6 {
                sd
            } else {
                1.0
            }
        })
        .collect();
    (apply(rows, &mean, &scale), mean, scale)
}

fn apply(rows: &LogRows, mean: &[f32], scale: &[f32]) -> Vec<f32> {
    let f = rows.x.cols();
    let mut out = Vec::with_capacity(rows.len() * f);
    for r in 0..rows.len() {
        out.extend(
            rows.x
                .row(r)
                .iter()
                .enumerate()
                .map(|(j, v)| (v - mean[j]) / scale[j]),
        );
    }
    out
}

/// Trains the network on `train`, stopping early on the loss over `valid`;
/// returns the weights of the best epoch. `progress` sees every epoch.
pub fn train_mtl(
    train: &LogRows,
    valid: &LogRows,
    p: &MtlParams,
    progress: &mut dyn FnMut(&Step),
) -> Result<MtlNet> {
    p.validate()?;
    let cols = train.x.cols();
    let (xt, mean, scale) = standardise(train);
    let xv = apply(valid, &mean, &scale);
    let net = Net::new(cols, p)?;
    let mut opt = AdamW::new(
        net.vars(),
        ParamsAdamW {
            lr: p.learning_rate,
            weight_decay: p.weight_decay,
            ..ParamsAdamW::default()
        },
    )
    .map_err(candle)?;
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed ^ 0xBA7C_4E55);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let valid_idx: Vec<usize> = (0..valid.len()).collect();
    let (mut best, mut best_net, mut since) = (f64::INFINITY, None, 0usize);
    for epoch in 0..p.epochs {
        // Fisher-Yates from the seeded stream.
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        for chunk in order.chunks(p.batch_size) {
            let b = batch(&xt, cols, train, chunk, p.max_position).map_err(candle)?;
            let l = loss(&net, &b, p).map_err(candle)?;
            opt.backward_step(&l).map_err(candle)?;
        }
        let mut total = 0.0;
        for chunk in valid_idx.chunks(65_536) {
            let b = batch(&xv, cols, valid, chunk, p.max_position).map_err(candle)?;
            let l = loss(&net, &b, p)
                .and_then(|l| l.to_scalar::<f32>())
                .map_err(candle)?;
            total += f64::from(l) * chunk.len() as f64;
        }
        let v = total / valid.len().max(1) as f64;
        if !v.is_finite() {
            return Err(Error::Train(format!(
                "epoch {}: the validation loss is not finite",
                epoch + 1
            )));
        }
        progress(&Step {
            unit: "epoch",
            index: epoch + 1,
            of: p.epochs,
            valid: Some(v),
        });
        if v < best - 1e-6 {
            (best, since) = (v, 0);
            best_net = Some(net.export(&mean, &scale)?);
        } else {
            since += 1;
            if since >= p.patience {
                break;
            }
        }
    }
    let out = match best_net {
        Some(n) => n,
        None => net.export(&mean, &scale)?,
    };
    out.validate().map_err(Error::Train)?;
    Ok(out)
}
