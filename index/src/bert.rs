//! A BERT encoder forward pass written for sentence embeddings on the CPU:
//! the same weights and arithmetic as candle's `BertModel` (which stays the
//! reference, `EncoderBackend::Candle`), organised for speed (ADR 0007):
//!
//! - **Packed tokens, no padding.** The tokens of every sentence of a batch
//!   are stacked into one `tokens × hidden` matrix; the dense layers run once
//!   over it and attention runs per sentence over its own tokens, so no work
//!   is spent on padding and no attention mask is needed. (With padding and a
//!   mask, the real tokens' outputs are the same: masked keys get weight 0.)
//! - **Matrix products** `x · Wᵀ` by [`Linear`] (`crate::kernels::gemm`): on AVX-512
//!   CPUs our own kernel over weights packed once at load, elsewhere faer
//!   over weights stored column-major once; the query, key and value
//!   projections fused into one product.
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
use faer::Par;
use rayon::prelude::*;

use crate::kernels::dot::dot;
use crate::kernels::gemm::{Kernel, Linear};

/// Why a checkpoint cannot run on the fused path (the caller says where).
pub(crate) type LoadError = String;

#[derive(Debug, Clone, Copy)]
enum Act {
    Gelu,
    GeluTanh,
    Relu,
}

/// Linear weights are `out × inp`, laid out for this CPU's kernel ([`Linear`]).
struct Layer {
    /// Query, key and value weights stacked: `3·hidden × hidden`.
    qkv_w: Linear,
    qkv_b: Vec<f32>,
    out_w: Linear,
    out_b: Vec<f32>,
    ln1_w: Vec<f32>,
    ln1_b: Vec<f32>,
    up_w: Linear,
    up_b: Vec<f32>,
    down_w: Linear,
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
    /// The matrix-product kernel the layers run: `avx512-panels` or `faer`
    /// (the feed-forward and attention weights share one choice).
    pub fn matmul_kernel(&self) -> &'static str {
        match self.layers.first().map(|l| l.qkv_w.kernel()) {
            Some(Kernel::Panels) => "avx512-panels",
            _ => "faer",
        }
    }

    /// Takes the weights of a BERT checkpoint (absolute positions only).
    /// `faer_only`: lay every weight out for faer even where the AVX-512
    /// kernel could run (for measuring what that kernel gains).
    pub fn load(
        t: &HashMap<String, Tensor>,
        cfg: &Config,
        faer_only: bool,
    ) -> Result<Self, LoadError> {
        let linear = |w: &[f32], out: usize, inp: usize| {
            if faer_only {
                Linear::with_kernel(w, out, inp, Kernel::Faer)
            } else {
                Linear::new(w, out, inp)
            }
        };
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
                qkv_w: linear(&qkv_w, 3 * h, h),
                qkv_b,
                out_w: linear(
                    &take(t, p, &n("attention.output.dense.weight"), h * h)?,
                    h,
                    h,
                ),
                out_b: take(t, p, &n("attention.output.dense.bias"), h)?,
                ln1_w: take(t, p, &n("attention.output.LayerNorm.weight"), h)?,
                ln1_b: take(t, p, &n("attention.output.LayerNorm.bias"), h)?,
                up_w: linear(&take(t, p, &n("intermediate.dense.weight"), i * h)?, i, h),
                up_b: take(t, p, &n("intermediate.dense.bias"), i)?,
                down_w: linear(&take(t, p, &n("output.dense.weight"), h * i)?, h, i),
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

    /// One run of sentences through the pass. The element-wise work
    /// (embeddings, attention, layer norms, bias + activation, pooling) is
    /// compiled twice: for AVX2 + FMA, chosen at run time, and for the
    /// build's baseline (SSE2 in release builds). It runs sequentially
    /// inside the calling thread's run. Against the earlier 4-wide,
    /// rayon-split version this measured no different (six alternating
    /// pairs, 0.97-1.04): the pass is bound by its matrix products.
    fn forward(&self, seqs: &[&[u32]], par: Par) -> Result<Vec<Vec<f32>>, LoadError> {
        crate::kernels::run_avx2_fma(&Forward {
            model: self,
            seqs,
            par,
        })
    }

    #[inline(always)]
    fn forward_body(&self, seqs: &[&[u32]], par: Par) -> Result<Vec<Vec<f32>>, LoadError> {
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
        let mut scores = Vec::new();
        for l in &self.layers {
            l.qkv_w.forward(&x, t, &mut qkv, par);
            add_bias(&mut qkv, &l.qkv_b);
            self.attention(&qkv, &starts, &mut ctx, &mut scores);
            l.out_w.forward(&ctx, t, &mut tmp, par);
            self.norm_rows(&mut x, Some((&tmp, &l.out_b)), &l.ln1_w, &l.ln1_b);
            l.up_w.forward(&x, t, &mut up, par);
            activate(&mut up, &l.up_b, self.act);
            l.down_w.forward(&up, t, &mut tmp, par);
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
                let norm = dot(&v, &v).sqrt().max(1e-12);
                v.iter_mut().for_each(|a| *a /= norm);
                v
            })
            .collect())
    }

    /// `x ← LayerNorm(x + add + add_bias)` row by row.
    #[inline(always)]
    fn norm_rows(&self, x: &mut [f32], add: Option<(&[f32], &[f32])>, w: &[f32], b: &[f32]) {
        let h = self.hidden;
        for (i, row) in x.chunks_exact_mut(h).enumerate() {
            if let Some((a, ab)) = add {
                for ((v, r), c) in row.iter_mut().zip(&a[i * h..(i + 1) * h]).zip(ab) {
                    *v += r + c;
                }
            }
            let mean = sum8(row) / h as f32;
            row.iter_mut().for_each(|v| *v -= mean);
            let var = dot(row, row) / h as f32;
            let inv = 1.0 / (var + self.eps).sqrt();
            for ((v, g), c) in row.iter_mut().zip(w).zip(b) {
                *v = *v * inv * g + c;
            }
        }
    }

    /// Scaled dot-product attention of each sentence over its own tokens;
    /// heads side by side in `ctx` (`tokens × hidden`). `p` is scratch for
    /// one row of scores.
    #[inline(always)]
    fn attention(&self, qkv: &[f32], starts: &[usize], ctx: &mut [f32], p: &mut Vec<f32>) {
        let h = self.hidden;
        let dh = h / self.heads;
        let scale = 1.0 / (dh as f32).sqrt();
        for w in starts.windows(2) {
            let (start, len) = (w[0], w[1] - w[0]);
            p.clear();
            p.resize(len, 0.0);
            for head in 0..self.heads {
                let off = head * dh;
                for i in 0..len {
                    let qrow = (start + i) * 3 * h;
                    let q = &qkv[qrow + off..qrow + off + dh];
                    let mut max = f32::NEG_INFINITY;
                    for (j, pj) in p.iter_mut().enumerate() {
                        let krow = (start + j) * 3 * h + h;
                        *pj = dot(q, &qkv[krow + off..krow + off + dh]) * scale;
                        max = max.max(*pj);
                    }
                    let mut sum = 0f32;
                    for pj in p.iter_mut() {
                        *pj = (*pj - max).exp();
                        sum += *pj;
                    }
                    let inv = 1.0 / sum;
                    let o = &mut ctx[(start + i) * h + off..(start + i) * h + off + dh];
                    o.fill(0.0);
                    for (j, pj) in p.iter().enumerate() {
                        let vrow = (start + j) * 3 * h + 2 * h;
                        let v = &qkv[vrow + off..vrow + off + dh];
                        let wgt = pj * inv;
                        for (a, b) in o.iter_mut().zip(v) {
                            *a += wgt * b;
                        }
                    }
                }
            }
        }
    }
}

/// Eight independent partial sums, added pairwise at the end: a lane-wise
/// loop the compiler turns into one 8-wide vector (or two 4-wide) per step,
/// where a plain `sum()` is one serial chain.
#[inline(always)]
fn sum8(x: &[f32]) -> f32 {
    let (chunks, rest) = x.as_chunks::<8>();
    let mut acc = [0f32; 8];
    for c in chunks {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    lanes(acc) + rest.iter().sum::<f32>()
}

#[inline(always)]
fn lanes(a: [f32; 8]) -> f32 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// `x ← x + b` row by row (`b`: one value a column).
#[inline(always)]
fn add_bias(x: &mut [f32], b: &[f32]) {
    for row in x.chunks_exact_mut(b.len().max(1)) {
        for (v, c) in row.iter_mut().zip(b) {
            *v += c;
        }
    }
}

/// `x ← act(x + b)`, row by row (`b`: one value a column).
#[inline(always)]
fn activate(x: &mut [f32], b: &[f32], act: Act) {
    for row in x.chunks_exact_mut(b.len().max(1)) {
        let pairs = row.iter_mut().zip(b);
        match act {
            Act::Gelu => pairs.for_each(|(v, c)| *v = gelu(*v + c)),
            Act::GeluTanh => pairs.for_each(|(v, c)| {
                let u = *v + c;
                *v = 0.5
                    * u
                    * (1.0
                        + ((2.0 / std::f32::consts::PI).sqrt() * (u + 0.044715 * u * u * u))
                            .tanh());
            }),
            Act::Relu => pairs.for_each(|(v, c)| *v = (*v + c).max(0.0)),
        }
    }
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

/// One forward pass, as a body the kernels module compiles twice (for AVX2
/// + FMA and for the baseline) and runs with the widest the CPU has.
struct Forward<'a, 'b> {
    model: &'a FusedBert,
    seqs: &'a [&'b [u32]],
    par: Par,
}

impl crate::kernels::Body for Forward<'_, '_> {
    type Output = Result<Vec<Vec<f32>>, LoadError>;

    #[inline(always)]
    fn run(&self) -> Self::Output {
        self.model.forward_body(self.seqs, self.par)
    }
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

    /// A small model with weights from a fixed hash, to compare the pass's
    /// two compilations (its 48-wide query-key-value product runs on the
    /// AVX-512 panel kernel where the CPU has one, the others on faer).
    fn tiny() -> FusedBert {
        let (h, i, vocab, max_pos) = (16, 40, 50, 24);
        let mut seed = 7u64;
        let mut w = |n: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale
                })
                .collect()
        };
        let layers = (0..2)
            .map(|_| Layer {
                qkv_w: Linear::new(&w(3 * h * h, 0.5), 3 * h, h),
                qkv_b: w(3 * h, 0.1),
                out_w: Linear::new(&w(h * h, 0.5), h, h),
                out_b: w(h, 0.1),
                ln1_w: w(h, 0.2).into_iter().map(|v| v + 1.0).collect(),
                ln1_b: w(h, 0.1),
                up_w: Linear::new(&w(i * h, 0.5), i, h),
                up_b: w(i, 0.1),
                down_w: Linear::new(&w(h * i, 0.5), h, i),
                down_b: w(h, 0.1),
                ln2_w: w(h, 0.2).into_iter().map(|v| v + 1.0).collect(),
                ln2_b: w(h, 0.1),
            })
            .collect();
        FusedBert {
            hidden: h,
            heads: 2,
            inter: i,
            eps: 1e-12,
            max_pos,
            vocab,
            act: Act::Gelu,
            word: w(vocab * h, 1.0),
            pos: w(max_pos * h, 1.0),
            type0: w(h, 1.0),
            emb_ln_w: vec![1.0; h],
            emb_ln_b: vec![0.0; h],
            layers,
        }
    }

    /// The dispatched pass (AVX2 + FMA on CPUs that have them) and the
    /// baseline compilation give the same embeddings; so do a batch and its
    /// sentences one at a time, and sentences of 1 to 23 tokens (lengths
    /// around the 8-lane steps).
    #[test]
    fn both_compilations_and_any_batching_agree() {
        let m = tiny();
        let seqs: Vec<Vec<u32>> = (1..24)
            .map(|n| (0..n).map(|k| ((k * 7 + n * 3) % 50) as u32).collect())
            .collect();
        let refs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
        let base = m.forward_body(&refs, Par::Seq).unwrap();
        let fast = m.forward(&refs, Par::Seq).unwrap();
        let split = m.embed(&refs).unwrap();
        for (n, b) in base.iter().enumerate() {
            let one = m.forward_body(&refs[n..=n], Par::Seq).unwrap();
            for other in [&fast[n], &split[n], &one[0]] {
                let worst = b
                    .iter()
                    .zip(other)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max);
                assert!(worst < 1e-5, "sentence {n}: max difference {worst}");
            }
            let norm = b.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "sentence {n}: norm {norm}");
        }
        // Distinct sentences, distinct embeddings (the pass is not constant).
        assert!(base[0]
            .iter()
            .zip(&base[5])
            .any(|(x, y)| (x - y).abs() > 1e-3));
        assert!(m
            .forward(&[&[50u32][..]], Par::Seq)
            .unwrap_err()
            .contains("outside"));
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
