//! A BERT encoder forward pass written for sentence embeddings on the CPU:
//! the same weights and arithmetic as candle's `BertModel` (which stays the
//! reference, `EncoderBackend::Candle`), organised for speed (ADR 0007):
//!
//! - **Packed tokens, no padding.** The tokens of every sentence of a batch
//!   are stacked into one `tokens × hidden` matrix; the dense layers run once
//!   over it and attention runs per sentence over its own tokens, so no work
//!   is spent on padding and no attention mask is needed. (With padding and a
//!   mask, the real tokens' outputs are the same: masked keys get weight 0.)
//! - **Matrix products on faer** (`W · Xᵀ`, the weights stored column-major
//!   once), the query, key and value projections fused into one product.
//!   With several threads the batch is cut into one run of sentences a
//!   thread, each run through the whole pass with single-threaded products.
//! - **Fused element-wise work:** bias + GELU in one pass, residual + layer
//!   norm in one pass; GELU's `erf` is a rational approximation (Eigen's, max
//!   absolute error 4e-7 in f32) that the compiler vectorises, where candle
//!   calls the scalar `libm::erff` per element.
//! - Mean pooling over each sentence's tokens and L2 normalisation.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use candle_transformers::models::bert::{Config, HiddenAct, PositionEmbeddingType};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::simd::dot;

/// Why a checkpoint cannot run on the fused path (the caller says where).
pub(crate) type LoadError = String;

#[derive(Debug, Clone, Copy)]
enum Act {
    Gelu,
    GeluTanh,
    Relu,
}

/// A row-major `out × inp` weight (PyTorch's layout) stored column-major,
/// the layout faer's kernels read without packing it again for every
/// product (packing the weights took 7 % of the forward pass).
fn column_major(w: &[f32], out: usize, inp: usize) -> Vec<f32> {
    let mut c = vec![0f32; w.len()];
    for (o, row) in w.chunks_exact(inp).enumerate().take(out) {
        for (k, &v) in row.iter().enumerate() {
            c[k * out + o] = v;
        }
    }
    c
}

/// Linear weights are `out × inp`, column-major ([`column_major`]).
struct Layer {
    /// Query, key and value weights stacked: `3·hidden × hidden`.
    qkv_w: Vec<f32>,
    qkv_b: Vec<f32>,
    out_w: Vec<f32>,
    out_b: Vec<f32>,
    ln1_w: Vec<f32>,
    ln1_b: Vec<f32>,
    up_w: Vec<f32>,
    up_b: Vec<f32>,
    down_w: Vec<f32>,
    down_b: Vec<f32>,
    ln2_w: Vec<f32>,
    ln2_b: Vec<f32>,
}

/// BERT weights laid out for [`FusedBert::embed`].
pub(crate) struct FusedBert {
    hidden: usize,
    heads: usize,
    inter: usize,
    eps: f32,
    max_pos: usize,
    vocab: usize,
    act: Act,
    word: Vec<f32>,
    pos: Vec<f32>,
    type0: Vec<f32>,
    emb_ln_w: Vec<f32>,
    emb_ln_b: Vec<f32>,
    layers: Vec<Layer>,
    /// `hidden` ones (row sums as dot products).
    ones: Vec<f32>,
}

impl std::fmt::Debug for FusedBert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FusedBert")
            .field("hidden", &self.hidden)
            .field("layers", &self.layers.len())
            .finish()
    }
}

/// One weight by name (with or without the `bert.` prefix some checkpoints
/// carry; old ones say gamma/beta for LayerNorm weight/bias), as f32 with
/// the expected number of values.
fn take(
    t: &HashMap<String, Tensor>,
    prefix: &str,
    name: &str,
    len: usize,
) -> Result<Vec<f32>, LoadError> {
    let alt = name
        .replace("LayerNorm.weight", "LayerNorm.gamma")
        .replace("LayerNorm.bias", "LayerNorm.beta");
    let found = [format!("{prefix}{name}"), format!("{prefix}{alt}")]
        .into_iter()
        .find_map(|k| t.get(&k));
    let Some(tensor) = found else {
        return Err(format!("weight {prefix}{name} is missing"));
    };
    let v = tensor
        .to_dtype(DType::F32)
        .and_then(|x| x.flatten_all())
        .and_then(|x| x.to_vec1::<f32>())
        .map_err(|e| format!("weight {prefix}{name}: {e}"))?;
    if v.len() != len {
        return Err(format!(
            "weight {prefix}{name} has {} values, the config implies {len}",
            v.len()
        ));
    }
    Ok(v)
}

impl FusedBert {
    /// Takes the weights of a BERT checkpoint (absolute positions only).
    pub fn load(t: &HashMap<String, Tensor>, cfg: &Config) -> Result<Self, LoadError> {
        if !matches!(cfg.position_embedding_type, PositionEmbeddingType::Absolute) {
            return Err("only absolute position embeddings are supported".into());
        }
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        if cfg.num_attention_heads == 0 || h % cfg.num_attention_heads != 0 {
            return Err(format!(
                "hidden size {h} is not a multiple of {} heads",
                cfg.num_attention_heads
            ));
        }
        let prefix = match cfg.model_type.as_deref() {
            Some(m)
                if !t.contains_key("embeddings.word_embeddings.weight")
                    && t.contains_key(&format!("{m}.embeddings.word_embeddings.weight")) =>
            {
                format!("{m}.")
            }
            _ => String::new(),
        };
        let p = prefix.as_str();
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let n = |s: &str| format!("encoder.layer.{l}.{s}");
            let mut qkv_w = take(t, p, &n("attention.self.query.weight"), h * h)?;
            qkv_w.extend(take(t, p, &n("attention.self.key.weight"), h * h)?);
            qkv_w.extend(take(t, p, &n("attention.self.value.weight"), h * h)?);
            let mut qkv_b = take(t, p, &n("attention.self.query.bias"), h)?;
            qkv_b.extend(take(t, p, &n("attention.self.key.bias"), h)?);
            qkv_b.extend(take(t, p, &n("attention.self.value.bias"), h)?);
            layers.push(Layer {
                qkv_w: column_major(&qkv_w, 3 * h, h),
                qkv_b,
                out_w: column_major(
                    &take(t, p, &n("attention.output.dense.weight"), h * h)?,
                    h,
                    h,
                ),
                out_b: take(t, p, &n("attention.output.dense.bias"), h)?,
                ln1_w: take(t, p, &n("attention.output.LayerNorm.weight"), h)?,
                ln1_b: take(t, p, &n("attention.output.LayerNorm.bias"), h)?,
                up_w: column_major(&take(t, p, &n("intermediate.dense.weight"), i * h)?, i, h),
                up_b: take(t, p, &n("intermediate.dense.bias"), i)?,
                down_w: column_major(&take(t, p, &n("output.dense.weight"), h * i)?, h, i),
                down_b: take(t, p, &n("output.dense.bias"), h)?,
                ln2_w: take(t, p, &n("output.LayerNorm.weight"), h)?,
                ln2_b: take(t, p, &n("output.LayerNorm.bias"), h)?,
            });
        }
        let types = take(
            t,
            p,
            "embeddings.token_type_embeddings.weight",
            cfg.type_vocab_size * h,
        )?;
        Ok(Self {
            hidden: h,
            heads: cfg.num_attention_heads,
            inter: i,
            eps: cfg.layer_norm_eps as f32,
            max_pos: cfg.max_position_embeddings,
            vocab: cfg.vocab_size,
            act: match cfg.hidden_act {
                HiddenAct::Gelu => Act::Gelu,
                HiddenAct::GeluApproximate => Act::GeluTanh,
                HiddenAct::Relu => Act::Relu,
            },
            word: take(
                t,
                p,
                "embeddings.word_embeddings.weight",
                cfg.vocab_size * h,
            )?,
            pos: take(
                t,
                p,
                "embeddings.position_embeddings.weight",
                cfg.max_position_embeddings * h,
            )?,
            type0: types[..h].to_vec(),
            emb_ln_w: take(t, p, "embeddings.LayerNorm.weight", h)?,
            emb_ln_b: take(t, p, "embeddings.LayerNorm.bias", h)?,
            layers,
            ones: vec![1.0; h],
        })
    }

    /// Mean-pooled, L2-normalised embeddings of tokenised sentences (each
    /// with its special tokens, at most the position table long; ids
    /// outside the vocabulary are an error of the caller's tokenizer).
    ///
    /// With more than one thread, the batch is cut into one run of
    /// sentences a thread, of about equal token counts, each run through
    /// the whole forward pass with single-threaded products: one
    /// synchronisation a batch instead of one a product (about 60).
    pub fn embed(&self, seqs: &[&[u32]]) -> Result<Vec<Vec<f32>>, LoadError> {
        let threads = rayon::current_num_threads();
        if threads < 2 || seqs.len() < 2 {
            return self.forward(seqs, Par::rayon(0));
        }
        let total: usize = seqs.iter().map(|s| s.len()).sum();
        let share = total.div_ceil(threads).max(1);
        let mut groups: Vec<&[&[u32]]> = Vec::with_capacity(threads);
        let (mut from, mut acc) = (0, 0);
        for (i, s) in seqs.iter().enumerate() {
            acc += s.len();
            if acc >= share * (groups.len() + 1) && groups.len() + 1 < threads {
                groups.push(&seqs[from..=i]);
                from = i + 1;
            }
        }
        if from < seqs.len() {
            groups.push(&seqs[from..]);
        }
        let parts: Vec<Result<Vec<Vec<f32>>, LoadError>> = groups
            .par_iter()
            .map(|g| self.forward(g, Par::Seq))
            .collect();
        let mut out = Vec::with_capacity(seqs.len());
        for p in parts {
            out.extend(p?);
        }
        Ok(out)
    }

    fn forward(&self, seqs: &[&[u32]], par: Par) -> Result<Vec<Vec<f32>>, LoadError> {
        let h = self.hidden;
        let mut starts = Vec::with_capacity(seqs.len() + 1);
        starts.push(0usize);
        for s in seqs {
            if s.len() > self.max_pos {
                return Err(format!(
                    "{} tokens, the model has {} positions",
                    s.len(),
                    self.max_pos
                ));
            }
            if let Some(bad) = s.iter().find(|&&id| id as usize >= self.vocab) {
                return Err(format!("token id {bad} outside the vocabulary"));
            }
            starts.push(starts[starts.len() - 1] + s.len());
        }
        let t = starts[seqs.len()];
        if t == 0 {
            return Ok(vec![vec![0.0; h]; seqs.len()]);
        }
        // Embeddings: word + position + token type 0, then layer norm.
        let mut x = vec![0f32; t * h];
        for (s, seq) in seqs.iter().enumerate() {
            for (p, &id) in seq.iter().enumerate() {
                let row = &mut x[(starts[s] + p) * h..(starts[s] + p + 1) * h];
                let w = &self.word[id as usize * h..(id as usize + 1) * h];
                let pe = &self.pos[p * h..(p + 1) * h];
                for (((o, a), b), c) in row.iter_mut().zip(w).zip(pe).zip(&self.type0) {
                    *o = a + b + c;
                }
            }
        }
        self.norm_rows(&mut x, None, &self.emb_ln_w, &self.emb_ln_b);
        // Biases of the output projections are added inside the next pass
        // (bias + GELU, bias + residual + layer norm): one sweep less each.
        let mut qkv = vec![0f32; t * 3 * h];
        let mut ctx = vec![0f32; t * h];
        let mut tmp = vec![0f32; t * h];
        let mut up = vec![0f32; t * self.inter];
        for l in &self.layers {
            linear(&x, t, h, &l.qkv_w, Some(&l.qkv_b), 3 * h, &mut qkv, par);
            self.attention(&qkv, &starts, &mut ctx);
            linear(&ctx, t, h, &l.out_w, None, h, &mut tmp, par);
            self.norm_rows(&mut x, Some((&tmp, &l.out_b)), &l.ln1_w, &l.ln1_b);
            linear(&x, t, h, &l.up_w, None, self.inter, &mut up, par);
            activate(&mut up, &l.up_b, self.act);
            linear(&up, t, self.inter, &l.down_w, None, h, &mut tmp, par);
            self.norm_rows(&mut x, Some((&tmp, &l.down_b)), &l.ln2_w, &l.ln2_b);
        }
        Ok(starts
            .windows(2)
            .map(|w| {
                let mut v = vec![0f32; h];
                for row in x[w[0] * h..w[1] * h].chunks_exact(h) {
                    for (a, b) in v.iter_mut().zip(row) {
                        *a += b;
                    }
                }
                let n = (w[1] - w[0]).max(1) as f32;
                v.iter_mut().for_each(|a| *a /= n);
                let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|a| *a /= norm);
                v
            })
            .collect())
    }

    /// `x ← LayerNorm(x + add + add_bias)` row by row (rows in parallel).
    fn norm_rows(&self, x: &mut [f32], add: Option<(&[f32], &[f32])>, w: &[f32], b: &[f32]) {
        let h = self.hidden;
        let eps = self.eps;
        let ones = &self.ones[..];
        let one = |(i, row): (usize, &mut [f32])| {
            if let Some((a, ab)) = add {
                for ((v, r), c) in row.iter_mut().zip(&a[i * h..(i + 1) * h]).zip(ab) {
                    *v += r + c;
                }
            }
            // Sums as SIMD dot products (a plain `sum()` is one serial chain).
            let mean = dot(row, ones) / h as f32;
            row.iter_mut().for_each(|v| *v -= mean);
            let var = dot(row, row) / h as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, g), c) in row.iter_mut().zip(w).zip(b) {
                *v = *v * inv * g + c;
            }
        };
        x.par_chunks_mut(h)
            .with_min_len(64)
            .enumerate()
            .for_each(one);
    }

    /// Scaled dot-product attention of each sentence over its own tokens;
    /// heads side by side in `ctx` (`tokens × hidden`).
    fn attention(&self, qkv: &[f32], starts: &[usize], ctx: &mut [f32]) {
        let h = self.hidden;
        let dh = h / self.heads;
        let scale = 1.0 / (dh as f32).sqrt();
        // One mutable slice of ctx per sentence.
        let mut parts: Vec<(usize, &mut [f32])> = Vec::with_capacity(starts.len());
        let mut rest = ctx;
        for w in starts.windows(2) {
            let (a, b) = rest.split_at_mut((w[1] - w[0]) * h);
            parts.push((w[0], a));
            rest = b;
        }
        parts.into_par_iter().for_each(|(start, out)| {
            let len = out.len() / h;
            let mut p = vec![0f32; len];
            for head in 0..self.heads {
                let off = head * dh;
                for i in 0..len {
                    let qrow = (start + i) * 3 * h;
                    let q = &qkv[qrow + off..qrow + off + dh];
                    let mut max = f32::NEG_INFINITY;
                    for (j, pj) in p.iter_mut().enumerate() {
                        let krow = (start + j) * 3 * h + h;
                        let k = &qkv[krow + off..krow + off + dh];
                        *pj = dot(q, k) * scale;
                        max = max.max(*pj);
                    }
                    let mut sum = 0f32;
                    for pj in p.iter_mut() {
                        *pj = (*pj - max).exp();
                        sum += *pj;
                    }
                    let o = &mut out[i * h + off..i * h + off + dh];
                    o.fill(0.0);
                    for (j, pj) in p.iter().enumerate() {
                        let vrow = (start + j) * 3 * h + 2 * h;
                        let v = &qkv[vrow + off..vrow + off + dh];
                        let wgt = pj / sum;
                        for (a, b) in o.iter_mut().zip(v) {
                            *a += wgt * b;
                        }
                    }
                }
            }
        });
    }
}

/// `y = x · Wᵀ + b` for `x`: rows × inp (row-major) and `W`: out × inp
/// (column-major), as one faer product `Yᵀ = W · Xᵀ` (a row-major matrix is
/// its transpose in column-major), then the bias when given. (Plain
/// arguments: the call sites read as the formula.)
#[allow(clippy::too_many_arguments)]
fn linear(
    x: &[f32],
    rows: usize,
    inp: usize,
    w: &[f32],
    b: Option<&[f32]>,
    out: usize,
    y: &mut [f32],
    par: Par,
) {
    let xt = MatRef::from_column_major_slice(&x[..rows * inp], inp, rows);
    let wm = MatRef::from_column_major_slice(w, out, inp);
    let yt = MatMut::from_column_major_slice_mut(&mut y[..rows * out], out, rows);
    matmul(yt, Accum::Replace, wm, xt, 1.0f32, par);
    let Some(b) = b else {
        return;
    };
    y[..rows * out]
        .par_chunks_mut(out)
        .with_min_len(64)
        .for_each(|row| {
            for (v, c) in row.iter_mut().zip(b) {
                *v += c;
            }
        });
}

/// `x ← act(x + b)`, row by row (`b`: one value a column).
fn activate(x: &mut [f32], b: &[f32], act: Act) {
    x.par_chunks_mut(b.len().max(1))
        .with_min_len(16)
        .for_each(|row| match act {
            Act::Gelu => crate::simd::bias_gelu(row, b),
            Act::GeluTanh => row.iter_mut().zip(b).for_each(|(v, c)| {
                let u = *v + c;
                *v = 0.5
                    * u
                    * (1.0
                        + ((2.0 / std::f32::consts::PI).sqrt() * (u + 0.044715 * u * u * u))
                            .tanh());
            }),
            Act::Relu => row
                .iter_mut()
                .zip(b)
                .for_each(|(v, c)| *v = (*v + c).max(0.0)),
        });
}

/// GELU with the exact (erf) definition: `x/2 · (1 + erf(x/√2))`.
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `erf` as Eigen's rational approximation for f32 (`x · P(x²) / Q(x²)` on
/// [-4, 4], ±1 outside): no branches, no library call, so loops over it
/// vectorise. Max absolute error 4e-7 (checked against the f64 `erf` in the
/// tests).
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_5e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_1e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329e-3;
    q = q * x2 - 1.426_474e-2;
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf in f64 by its Maclaurin series (|x| ≤ 3) or continued fraction.
    fn erf64(x: f64) -> f64 {
        if x.abs() > 3.0 {
            // erfc(x) ≈ exp(-x²)/(x√π) · (1 - 1/(2x²) + 3/(4x⁴)) is < 2e-5 here.
            let s = x.signum();
            let a = x.abs();
            let erfc = (-a * a).exp() / (a * std::f64::consts::PI.sqrt())
                * (1.0 - 1.0 / (2.0 * a * a) + 3.0 / (4.0 * a.powi(4)));
            return s * (1.0 - erfc);
        }
        let mut sum = 0.0;
        let mut term = x;
        let mut n = 0.0;
        while term.abs() > 1e-17 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_within_5e7_everywhere() {
        let mut worst = 0f64;
        for i in -80_000..=80_000 {
            let x = i as f64 / 10_000.0;
            worst = worst.max((erf(x as f32) as f64 - erf64(x)).abs());
        }
        assert!(worst < 5e-7, "max |erf error| {worst}");
        assert_eq!(gelu(0.0), 0.0);
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((gelu(-3.0) + 0.004_049_7).abs() < 1e-6);
    }
}
