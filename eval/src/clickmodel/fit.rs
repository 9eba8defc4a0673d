//! Fitting: counting (rank-CTR, cascade, SDBN) and EM (PBM, UBM, DBN, DCM).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{ClickModel, ClickSession, ModelKind, PairParams};
use crate::error::{Error, Result};

/// Fitting knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FitOptions {
    /// Ranks of each page used (top first).
    pub max_rank: usize,
    /// EM iterations (PBM, UBM, DBN).
    pub iterations: usize,
    /// Beta pseudo-count pulling a pair's parameters towards the prior.
    pub prior_strength: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            max_rank: 10,
            iterations: 40,
            prior_strength: 1.0,
        }
    }
}

/// Sessions with their query-document pairs numbered.
struct Indexed {
    pairs: Vec<(String, String)>,
    sessions: Vec<(Vec<u32>, Vec<bool>)>,
    ranks: usize,
}

impl Indexed {
    fn new(sessions: &[ClickSession], max_rank: usize) -> Self {
        let mut ids: HashMap<(&str, &str), u32> = HashMap::new();
        let mut pairs = Vec::new();
        let mut out = Vec::with_capacity(sessions.len());
        let mut ranks = 0;
        for s in sessions {
            let n = s.docs.len().min(max_rank).min(s.clicks.len());
            ranks = ranks.max(n);
            let p: Vec<u32> = s.docs[..n]
                .iter()
                .map(|d| {
                    *ids.entry((s.query.as_str(), d.as_str()))
                        .or_insert_with(|| {
                            pairs.push((s.query.clone(), d.clone()));
                            (pairs.len() - 1) as u32
                        })
                })
                .collect();
            out.push((p, s.clicks[..n].to_vec()));
        }
        Self {
            pairs,
            sessions: out,
            ranks,
        }
    }

    fn occurrences(&self) -> Vec<f64> {
        let mut n = vec![0.0; self.pairs.len()];
        for (p, _) in &self.sessions {
            for &i in p {
                n[i as usize] += 1.0;
            }
        }
        n
    }

    fn export(&self, values: &[f64], prior: f64) -> PairParams {
        let mut map: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for ((q, d), v) in self.pairs.iter().zip(values) {
            map.entry(q.clone()).or_default().insert(d.clone(), *v);
        }
        PairParams { prior, values: map }
    }
}

/// `(num + k · prior) / (den + k)` per pair, and the prior: the pooled
/// ratio over all occurrences.
fn smooth(num: &[f64], den: &[f64], k: f64) -> (Vec<f64>, f64) {
    let (sn, sd): (f64, f64) = (num.iter().sum(), den.iter().sum());
    let prior = if sd > 0.0 {
        (sn / sd).clamp(0.0, 1.0)
    } else {
        0.5
    };
    let v = num
        .iter()
        .zip(den)
        .map(|(n, d)| ((n + k * prior) / (d + k)).clamp(0.0, 1.0))
        .collect();
    (v, prior)
}

/// Fits a model of `kind` on `sessions`.
pub fn fit(kind: ModelKind, sessions: &[ClickSession], opts: &FitOptions) -> Result<ClickModel> {
    if opts.max_rank == 0 || opts.prior_strength.is_nan() || opts.prior_strength < 0.0 {
        return Err(Error::InvalidArgument(
            "click model fitting needs max_rank > 0 and prior_strength >= 0".into(),
        ));
    }
    let ix = Indexed::new(sessions, opts.max_rank);
    if ix.sessions.iter().all(|(p, _)| p.is_empty()) {
        return Err(Error::InvalidArgument(
            "no result pages to fit a click model on (the log has no full impressions)".into(),
        ));
    }
    let k = opts.prior_strength;
    Ok(match kind {
        ModelKind::RankCtr => {
            let mut c = vec![0.0; ix.ranks];
            let mut n = vec![0.0; ix.ranks];
            for (p, clicks) in &ix.sessions {
                for r in 0..p.len() {
                    n[r] += 1.0;
                    c[r] += f64::from(u8::from(clicks[r]));
                }
            }
            ClickModel::RankCtr {
                ctr: c
                    .iter()
                    .zip(&n)
                    .map(|(c, n): (&f64, &f64)| c / n.max(1.0))
                    .collect(),
            }
        }
        ModelKind::Pbm => {
            let (gamma, alpha, prior) = em_position(&ix, opts, |_, _| 0, |_| 1);
            ClickModel::Pbm {
                gamma: gamma.into_iter().map(|row| row[0]).collect(),
                alpha: ix.export(&alpha, prior),
            }
        }
        ModelKind::Ubm => {
            let (gamma, alpha, prior) = em_position(&ix, opts, |_, prev| prev, |r| r + 1);
            ClickModel::Ubm {
                gamma,
                alpha: ix.export(&alpha, prior),
            }
        }
        ModelKind::Cascade => {
            let mut num = vec![0.0; ix.pairs.len()];
            let mut den = vec![0.0; ix.pairs.len()];
            for (p, clicks) in &ix.sessions {
                let last = clicks
                    .iter()
                    .position(|&c| c)
                    .unwrap_or(p.len().saturating_sub(1));
                for r in 0..p.len().min(last + 1) {
                    den[p[r] as usize] += 1.0;
                    num[p[r] as usize] += f64::from(u8::from(clicks[r]));
                }
            }
            let (alpha, prior) = smooth(&num, &den, k);
            ClickModel::Cascade {
                alpha: ix.export(&alpha, prior),
            }
        }
        ModelKind::Sdbn => {
            let np = ix.pairs.len();
            let (mut an, mut ad, mut sn, mut sd) =
                (vec![0.0; np], vec![0.0; np], vec![0.0; np], vec![0.0; np]);
            for (p, clicks) in &ix.sessions {
                let last = clicks.iter().rposition(|&c| c);
                let examined = last.map_or(p.len(), |l| l + 1);
                for r in 0..examined {
                    let i = p[r] as usize;
                    ad[i] += 1.0;
                    if clicks[r] {
                        an[i] += 1.0;
                        sd[i] += 1.0;
                        if Some(r) == last {
                            sn[i] += 1.0;
                        }
                    }
                }
            }
            let (alpha, ap) = smooth(&an, &ad, k);
            let (sigma, sp) = smooth(&sn, &sd, k);
            ClickModel::Sdbn {
                alpha: ix.export(&alpha, ap),
                sigma: ix.export(&sigma, sp),
            }
        }
        ModelKind::Dbn => dbn_em(&ix, opts),
        ModelKind::Dcm => dcm_em(&ix, opts),
    })
}

/// EM for the dependent click model. Down to a page's last click every
/// result was examined; below it, all were examined if the user went on
/// after that click, none otherwise (a result not clicked never stops the
/// scan). The hidden variable is that one choice: with `l` the last click
/// and `P = Π_(r > l) (1 − α_r)`, `P(went on | clicks) = λ_l P / (1 − λ_l
/// + λ_l P)`. A page without clicks was examined to the bottom.
fn dcm_em(ix: &Indexed, opts: &FitOptions) -> ClickModel {
    let np = ix.pairs.len();
    let den_a = ix.occurrences();
    let mut den_l = vec![0.0; ix.ranks];
    for (p, clicks) in &ix.sessions {
        for r in 0..p.len() {
            if clicks[r] {
                den_l[r] += 1.0;
            }
        }
    }
    let mut alpha = vec![0.5; np];
    let mut prior = 0.5;
    let mut lambda = vec![0.5; ix.ranks];
    for _ in 0..opts.iterations.max(1) {
        let mut num_a = vec![0.0; np];
        let mut num_l = vec![0.0; ix.ranks];
        for (p, clicks) in &ix.sessions {
            let last = clicks.iter().rposition(|&c| c);
            let went_on = last.map_or(1.0, |l| {
                let below: f64 = p[l + 1..]
                    .iter()
                    .map(|&i| 1.0 - alpha[i as usize])
                    .product();
                let g = lambda[l] * below;
                let z = 1.0 - lambda[l] + g;
                if z > 0.0 {
                    g / z
                } else {
                    0.0
                }
            });
            for r in 0..p.len() {
                let i = p[r] as usize;
                if clicks[r] {
                    num_a[i] += 1.0;
                    // Went on after every click but the last, surely.
                    num_l[r] += if Some(r) == last { went_on } else { 1.0 };
                } else if last.is_some_and(|l| r > l) {
                    // Attracted only if never examined.
                    num_a[i] += (1.0 - went_on) * alpha[i];
                }
            }
        }
        (alpha, prior) = smooth(&num_a, &den_a, opts.prior_strength);
        for r in 0..lambda.len() {
            if den_l[r] > 0.0 {
                lambda[r] = (num_l[r] / den_l[r]).clamp(0.0, 1.0);
            }
        }
    }
    ClickModel::Dcm {
        lambda,
        alpha: ix.export(&alpha, prior),
    }
}

/// EM for the models with `P(C_r = 1) = γ_slot · α_pair`, clicks
/// independent given the slot: PBM (slot = rank) and UBM (slot = rank and
/// the previous click's rank). Returns γ per rank and slot, α and its prior.
fn em_position(
    ix: &Indexed,
    opts: &FitOptions,
    slot: impl Fn(usize, usize) -> usize,
    slots: impl Fn(usize) -> usize,
) -> (Vec<Vec<f64>>, Vec<f64>, f64) {
    let np = ix.pairs.len();
    let den_a = ix.occurrences();
    let mut alpha = vec![0.5; np];
    let mut prior = 0.5;
    let mut gamma: Vec<Vec<f64>> = (0..ix.ranks).map(|r| vec![0.5; slots(r)]).collect();
    for _ in 0..opts.iterations.max(1) {
        let mut num_a = vec![0.0; np];
        let mut num_g: Vec<Vec<f64>> = gamma.iter().map(|r| vec![0.0; r.len()]).collect();
        let mut den_g: Vec<Vec<f64>> = num_g.clone();
        for (p, clicks) in &ix.sessions {
            let mut prev = 0;
            for r in 0..p.len() {
                let i = p[r] as usize;
                let j = slot(r, prev);
                let (a, g) = (alpha[i], gamma[r][j]);
                den_g[r][j] += 1.0;
                if clicks[r] {
                    num_a[i] += 1.0;
                    num_g[r][j] += 1.0;
                    prev = r + 1;
                } else {
                    let d = (1.0 - g * a).max(1e-12);
                    num_a[i] += a * (1.0 - g) / d;
                    num_g[r][j] += g * (1.0 - a) / d;
                }
            }
        }
        (alpha, prior) = smooth(&num_a, &den_a, opts.prior_strength);
        for r in 0..gamma.len() {
            for j in 0..gamma[r].len() {
                if den_g[r][j] > 0.0 {
                    gamma[r][j] = (num_g[r][j] / den_g[r][j]).clamp(0.0, 1.0);
                }
            }
        }
    }
    (gamma, alpha, prior)
}

/// EM for Chapelle & Zhang's DBN by forward-backward over the hidden
/// examination chain `E_r` of each page:
/// emission `P(C_r = 1 | E_r = 1) = α`, `P(C_r = 1 | E_r = 0) = 0`;
/// transition from `E_r = 1` to `E_(r+1) = 1` with `γ (1 − σ)` after a
/// click and `γ` otherwise; `E_r = 0` is absorbing.
fn dbn_em(ix: &Indexed, opts: &FitOptions) -> ClickModel {
    let np = ix.pairs.len();
    let den_a = ix.occurrences();
    let mut den_s = vec![0.0; np];
    for (p, clicks) in &ix.sessions {
        for (r, &i) in p.iter().enumerate() {
            if clicks[r] {
                den_s[i as usize] += 1.0;
            }
        }
    }
    let mut alpha = vec![0.5; np];
    let mut sigma = vec![0.5; np];
    let (mut ap, mut sp) = (0.5, 0.5);
    let mut gamma = 0.9f64;
    let mut f1 = Vec::new();
    let mut f0 = Vec::new();
    let mut b1 = Vec::new();
    let mut b0 = Vec::new();
    for _ in 0..opts.iterations.max(1) {
        let mut num_a = vec![0.0; np];
        let mut num_s = vec![0.0; np];
        let (mut cont, mut chances) = (0.0, 0.0);
        for (p, clicks) in &ix.sessions {
            let n = p.len();
            let emit1 = |r: usize| {
                let a = alpha[p[r] as usize];
                if clicks[r] {
                    a
                } else {
                    1.0 - a
                }
            };
            let trans = |r: usize| {
                if clicks[r] {
                    gamma * (1.0 - sigma[p[r] as usize])
                } else {
                    gamma
                }
            };
            f1.clear();
            f0.clear();
            f1.push(1.0);
            f0.push(0.0);
            for r in 0..n {
                let e = f1[r] * emit1(r);
                let e0 = if clicks[r] { 0.0 } else { f0[r] };
                f1.push(e * trans(r));
                f0.push(e0 + e * (1.0 - trans(r)));
            }
            b1.clear();
            b0.clear();
            b1.resize(n + 1, 1.0);
            b0.resize(n + 1, 1.0);
            for r in (0..n).rev() {
                b0[r] = if clicks[r] { 0.0 } else { b0[r + 1] };
                let t = trans(r);
                b1[r] = emit1(r) * (t * b1[r + 1] + (1.0 - t) * b0[r + 1]);
            }
            let z = f1[0] * b1[0] + f0[0] * b0[0];
            if z <= 0.0 {
                continue;
            }
            for r in 0..n {
                let i = p[r] as usize;
                let p_e1 = f1[r] * b1[r] / z;
                if clicks[r] {
                    num_a[i] += 1.0;
                    let s = sigma[i];
                    let stop = s * b0[r + 1];
                    let go = (1.0 - s) * (gamma * b1[r + 1] + (1.0 - gamma) * b0[r + 1]);
                    if stop + go > 0.0 {
                        num_s[i] += stop / (stop + go);
                    }
                    if r + 1 < n {
                        // E_r = 1 surely; not satisfied, then continued or not.
                        let a = alpha[i];
                        let unsat = f1[r] * a * go / z;
                        chances += unsat;
                        cont += f1[r] * a * (1.0 - s) * gamma * b1[r + 1] / z;
                    }
                } else {
                    num_a[i] += (1.0 - p_e1) * alpha[i];
                    if r + 1 < n {
                        chances += p_e1;
                        cont += f1[r] * (1.0 - alpha[i]) * gamma * b1[r + 1] / z;
                    }
                }
            }
        }
        (alpha, ap) = smooth(&num_a, &den_a, opts.prior_strength);
        (sigma, sp) = smooth(&num_s, &den_s, opts.prior_strength);
        if chances > 0.0 {
            gamma = (cont / chances).clamp(0.0, 1.0);
        }
    }
    ClickModel::Dbn {
        gamma,
        alpha: ix.export(&alpha, ap),
        sigma: ix.export(&sigma, sp),
    }
}
