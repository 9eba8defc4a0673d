//! Tuning retrieval against judgments, with numbers that hold out of sample.
//!
//! [`tune`] searches, for each mode it is asked for:
//! - **BM25**: the field boosts, by coordinate ascent from the base config's
//!   (each field in turn over [`BOOST_GRID`], the best kept, two passes);
//! - **hybrid**: the fusion (RRF with k in [`RRF_K_GRID`], or linear with each
//!   normalisation), the BM25 : dense weight ratio ([`RATIO_GRID`]), the
//!   depth ([`DEPTH_GRID`]), and the field boosts (the base's or BM25's tuned);
//! - **dense**: nothing (its knobs trade speed, not quality), so its tuned
//!   config is its default.
//!
//! Numbers are cross-validated: the judged queries are split into `folds`
//! (seeded shuffle); for each fold the search runs on the other folds and
//! the winner is scored on the held-out one. Every query's held-out value
//! comes from a config chosen without it; the report gives the mean of those
//! against the default's on the same queries, with a paired randomisation
//! test. The config written is tuned on all the queries.
//!
//! Costs: retrieval runs once per BM25 boost setting tried (memoised across
//! folds) and once for dense; fusion settings reuse those lists.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use hyrank_data::formats::trec::RunEntry;
use hyrank_data::{DocId, Judgment, Query};
use hyrank_eval::significance::{randomization_test, SplitMix64};
use hyrank_eval::{evaluate, EvalOptions, Measure, Qrels, Run};
use hyrank_index::fusion::fuse;
use hyrank_index::{FieldBoosts, FusionMethod, Mode, Normalization, SearchConfig, SearchIndex};
use serde::Serialize;

use crate::error::{Error, Result};

/// Boost values tried for each field (0 leaves a field out).
pub const BOOST_GRID: [f32; 8] = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0];
/// RRF constants tried.
pub const RRF_K_GRID: [f32; 6] = [5.0, 10.0, 20.0, 40.0, 60.0, 100.0];
/// BM25 : dense weight ratios tried (dense weight 1).
pub const RATIO_GRID: [f32; 7] = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0];
/// Hybrid depths tried (each retriever's candidates before fusion).
pub const DEPTH_GRID: [usize; 4] = [25, 50, 100, 200];

/// What to tune, and how to score it.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// Folds of the cross-validation (2 or more; at most the judged queries).
    pub folds: usize,
    /// Seed of the split into folds (and of the significance test).
    pub seed: u64,
    /// The measure to maximise (trec_eval name, e.g. `ndcg_cut_10`).
    pub metric: Measure,
    /// How the measure is computed (gain, relevance level).
    pub eval: EvalOptions,
    /// Results per query in the runs scored (≥ the metric's cut-off).
    pub k: usize,
    /// The modes to tune.
    pub modes: Vec<Mode>,
}

impl Default for TuneOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            seed: 42,
            metric: Measure::parse_list("ndcg_cut_10")
                .ok()
                .and_then(|m| m.into_iter().next())
                .unwrap_or(Measure::Ndcg),
            eval: EvalOptions::default(),
            k: 100,
            modes: vec![Mode::Bm25, Mode::Dense, Mode::Hybrid],
        }
    }
}

/// One fold of one mode.
#[derive(Debug, Clone, Serialize)]
pub struct FoldResult {
    /// Queries held out.
    pub queries: usize,
    /// The default's mean on them.
    pub default: f64,
    /// The config tuned on the other folds, on them.
    pub tuned: f64,
    /// That config, in words.
    pub config: String,
}

/// What tuning one mode gave.
#[derive(Debug, Clone, Serialize)]
pub struct ModeResult {
    /// The mode.
    pub mode: Mode,
    /// The default's mean over the judged queries (nothing is fitted: all are held out).
    pub default: f64,
    /// The mean of the held-out values (each query scored by a config tuned without it).
    pub tuned_held_out: f64,
    /// Paired randomisation test of the two, two-sided.
    pub p_value: f64,
    /// Per fold.
    pub folds: Vec<FoldResult>,
    /// Tuned on every judged query: the config to use.
    pub config: SearchConfig,
    /// Its mean on every judged query (in sample: not an estimate).
    pub in_sample: f64,
}

/// What [`tune`] found.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    /// The measure.
    pub metric: String,
    /// Judged queries used.
    pub queries: usize,
    /// Folds.
    pub folds: usize,
    /// Per mode, in the order asked.
    pub modes: Vec<ModeResult>,
}

impl TuneReport {
    /// The mode whose tuned config does best held out.
    pub fn best(&self) -> Option<&ModeResult> {
        self.modes
            .iter()
            .max_by(|a, b| a.tuned_held_out.total_cmp(&b.tuned_held_out))
    }

    /// A text table.
    pub fn render(&self) -> String {
        let mut o = format!(
            "{} over {} judged queries, {}-fold cross-validation (held-out folds)\n{:<8} {:>9} {:>9} {:>8} {:>8}  tuned on all queries\n",
            self.metric, self.queries, self.folds, "mode", "default", "tuned", "delta", "p"
        );
        for m in &self.modes {
            o.push_str(&format!(
                "{:<8} {:>9.4} {:>9.4} {:>+8.4} {:>8.3}  {}\n",
                mode_name(m.mode),
                m.default,
                m.tuned_held_out,
                m.tuned_held_out - m.default,
                m.p_value,
                describe(&m.config)
            ));
        }
        o
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Bm25 => "bm25",
        Mode::Dense => "dense",
        Mode::Hybrid => "hybrid",
    }
}

/// A config's tuned parts, in words.
pub fn describe(c: &SearchConfig) -> String {
    let fields = c
        .fields
        .map_or_else(|| "index fields".to_owned(), |f| format!("fields {f}"));
    match c.mode {
        Mode::Bm25 => fields,
        Mode::Dense => "dense (nothing to tune)".to_owned(),
        Mode::Hybrid => {
            let fusion = match c.fusion {
                FusionMethod::Rrf => format!("rrf k={}", c.rrf_k),
                FusionMethod::Linear => format!(
                    "linear {}",
                    match c.norm {
                        Normalization::MinMax => "minmax",
                        Normalization::ZScore => "zscore",
                        Normalization::Dbsf => "dbsf",
                    }
                ),
            };
            format!(
                "{fusion}, weights {}:{}, depth {}, {fields}",
                c.bm25_weight, c.dense_weight, c.depth
            )
        }
    }
}

/// Every query's ranked list, in query order (shared between the configs
/// that need it).
type Lists = Arc<Vec<Vec<(DocId, f32)>>>;

/// The lists and per-query scores shared by every fold.
struct Lab<'a> {
    index: &'a Arc<SearchIndex>,
    queries: Vec<&'a Query>,
    qrels: Qrels,
    opts: &'a TuneOptions,
    base: &'a SearchConfig,
    /// BM25 lists at the largest depth, per boost setting tried.
    bm25: HashMap<[u32; 4], Lists>,
    dense: Option<Lists>,
    /// Per-query values, per config key.
    scores: HashMap<String, Arc<Vec<f64>>>,
    progress: &'a dyn Fn(&str, u64, u64),
}

fn key(b: &FieldBoosts) -> [u32; 4] {
    b.as_array().map(f32::to_bits)
}

impl Lab<'_> {
    fn max_depth(&self) -> usize {
        DEPTH_GRID
            .iter()
            .copied()
            .max()
            .unwrap_or(100)
            .max(self.opts.k)
    }

    fn texts(&self) -> Vec<&str> {
        self.queries.iter().map(|q| q.text.as_str()).collect()
    }

    fn bm25_lists(&mut self, b: &FieldBoosts) -> Result<Lists> {
        if let Some(l) = self.bm25.get(&key(b)) {
            return Ok(Arc::clone(l));
        }
        let depth = self.max_depth();
        let filter = self.base.filter();
        let lists = Arc::new(
            self.index
                .bm25_lists(&self.texts(), depth, &filter, Some(b))?,
        );
        self.bm25.insert(key(b), Arc::clone(&lists));
        Ok(lists)
    }

    fn dense_lists(&mut self) -> Result<Lists> {
        if let Some(d) = &self.dense {
            return Ok(Arc::clone(d));
        }
        let depth = self.max_depth();
        let filter = self.base.filter();
        let texts = self.texts();
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            out.extend(self.index.dense_lists(
                chunk,
                depth,
                &filter,
                Some(self.base.search_options()),
            )?);
            (self.progress)("encode", out.len() as u64, texts.len() as u64);
        }
        let out = Arc::new(out);
        self.dense = Some(Arc::clone(&out));
        Ok(out)
    }

    /// Per-query values (query order) of ranked lists.
    fn score(&self, lists: &[Vec<(DocId, f32)>]) -> Result<Vec<f64>> {
        let mut rows = Vec::new();
        for (q, list) in self.queries.iter().zip(lists) {
            for (i, (d, s)) in list.iter().take(self.opts.k).enumerate() {
                rows.push(RunEntry {
                    query: q.id.clone(),
                    doc: d.clone(),
                    rank: i as u32 + 1,
                    score: f64::from(*s),
                    tag: "tune".into(),
                });
            }
        }
        let opts = EvalOptions {
            complete: true,
            ..self.opts.eval.clone()
        };
        let e = evaluate(
            &self.qrels,
            &Run::new("tune", &rows),
            std::slice::from_ref(&self.opts.metric),
            &opts,
        )?;
        Ok(self
            .queries
            .iter()
            .map(|q| e.per_query.get(q.id.as_str()).map_or(0.0, |v| v[0]))
            .collect())
    }

    /// Per-query values of a config (memoised).
    fn eval(&mut self, c: &SearchConfig) -> Result<Arc<Vec<f64>>> {
        let k = serde_json::to_string(c).unwrap_or_default();
        if let Some(s) = self.scores.get(&k) {
            return Ok(Arc::clone(s));
        }
        let fields = c.fields.unwrap_or(self.index.manifest.fields);
        let values = match c.mode {
            Mode::Bm25 => {
                let l = self.bm25_lists(&fields)?;
                self.score(&l)?
            }
            Mode::Dense => {
                let l = self.dense_lists()?;
                self.score(&l)?
            }
            Mode::Hybrid => {
                let lex = self.bm25_lists(&fields)?;
                let depth = c.depth.max(self.opts.k);
                let fusion = c.fusion();
                let weights = c.weights();
                let den = self.dense_lists()?;
                let mut fused = Vec::with_capacity(lex.len());
                for (l, d) in lex.iter().zip(den.iter()) {
                    let l = &l[..l.len().min(depth)];
                    let d = &d[..d.len().min(depth)];
                    fused.push(fuse(&fusion, &[l, d], &weights)?);
                }
                self.score(&fused)?
            }
        };
        let values = Arc::new(values);
        self.scores.insert(k, Arc::clone(&values));
        Ok(values)
    }
}

fn mean_of(values: &[f64], idx: &[usize]) -> f64 {
    if idx.is_empty() {
        return 0.0;
    }
    idx.iter().map(|&i| values[i]).sum::<f64>() / idx.len() as f64
}

/// Coordinate ascent on the queries `idx`, from `cur`: for each of `axes`
/// in turn, every setting `candidates(axis, &cur)` offers is scored, and a
/// change is kept only when it raises the mean (by more than 1e-12); at most
/// two passes, fewer when a pass moves nothing. Fewer comparisons than a full
/// grid, so less of what the training folds reward is noise.
fn ascend(
    lab: &mut Lab<'_>,
    mut cur: SearchConfig,
    idx: &[usize],
    axes: usize,
    candidates: impl Fn(usize, &SearchConfig) -> Vec<SearchConfig>,
) -> Result<SearchConfig> {
    let mut best = mean_of(&lab.eval(&cur)?, idx);
    for _pass in 0..2 {
        let mut moved = false;
        for axis in 0..axes {
            for cand in candidates(axis, &cur) {
                let m = mean_of(&lab.eval(&cand)?, idx);
                if m > best + 1e-12 {
                    best = m;
                    cur = cand;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    Ok(cur)
}

/// Coordinate ascent over the field boosts on the queries `idx`: each field
/// in turn over [`BOOST_GRID`] (settings that fail validation skipped).
fn tune_fields(lab: &mut Lab<'_>, start: &SearchConfig, idx: &[usize]) -> Result<SearchConfig> {
    let mut cur = start.clone();
    cur.mode = Mode::Bm25;
    cur.fields = Some(cur.fields.unwrap_or(lab.index.manifest.fields));
    ascend(lab, cur, idx, FieldBoosts::NAMES.len(), |f, cur| {
        let now = cur.fields.expect("set above").as_array();
        BOOST_GRID
            .iter()
            .filter(|&&v| now[f] != v)
            .filter_map(|&v| {
                let mut b = now;
                b[f] = v;
                let boosts = FieldBoosts::from_array(b);
                boosts.validate().ok().map(|()| SearchConfig {
                    fields: Some(boosts),
                    ..cur.clone()
                })
            })
            .collect()
    })
}

/// The settings one hybrid axis tries, around `cur`: 0 the field boosts
/// (the base's or BM25's tuned), 1 the fusion (each RRF k, each linear
/// normalisation), 2 the BM25 : dense weight ratio, 3 the depth.
fn hybrid_axis(
    axis: usize,
    cur: &SearchConfig,
    fields: [Option<FieldBoosts>; 2],
) -> Vec<SearchConfig> {
    let with = |f: &dyn Fn(&mut SearchConfig)| {
        let mut c = cur.clone();
        f(&mut c);
        c
    };
    match axis {
        0 => fields.iter().map(|&fl| with(&|c| c.fields = fl)).collect(),
        1 => RRF_K_GRID
            .iter()
            .map(|&k| {
                with(&|c| {
                    c.fusion = FusionMethod::Rrf;
                    c.rrf_k = k;
                })
            })
            .chain(
                [
                    Normalization::MinMax,
                    Normalization::ZScore,
                    Normalization::Dbsf,
                ]
                .iter()
                .map(|&n| {
                    with(&|c| {
                        c.fusion = FusionMethod::Linear;
                        c.norm = n;
                    })
                }),
            )
            .collect(),
        2 => RATIO_GRID
            .iter()
            .map(|&r| {
                with(&|c| {
                    c.bm25_weight = r;
                    c.dense_weight = 1.0;
                })
            })
            .collect(),
        _ => DEPTH_GRID.iter().map(|&d| with(&|c| c.depth = d)).collect(),
    }
}

/// Coordinate ascent over the hybrid settings on the queries `idx`, from
/// the base, one axis at a time ([`hybrid_axis`]).
fn tune_hybrid(
    lab: &mut Lab<'_>,
    start: &SearchConfig,
    tuned_fields: Option<FieldBoosts>,
    idx: &[usize],
) -> Result<SearchConfig> {
    let cur = SearchConfig {
        mode: Mode::Hybrid,
        ..start.clone()
    };
    ascend(lab, cur, idx, 4, |axis, cur| {
        hybrid_axis(axis, cur, [start.fields, tuned_fields])
    })
}

/// The config of `mode` tuned on the queries `idx`.
fn tune_on(lab: &mut Lab<'_>, mode: Mode, idx: &[usize]) -> Result<SearchConfig> {
    let start = SearchConfig {
        mode,
        ..lab.base.clone()
    };
    Ok(match mode {
        Mode::Dense => start,
        Mode::Bm25 => tune_fields(lab, &start, idx)?,
        Mode::Hybrid => {
            let fields = tune_fields(lab, &start, idx)?.fields;
            tune_hybrid(lab, &start, fields, idx)?
        }
    })
}

/// Tunes the index's retrieval on `queries` judged by `qrels` (see the module docs).
/// `progress(stage, done, total)` reports each fold.
pub fn tune(
    index: &Arc<SearchIndex>,
    queries: &[Query],
    qrels: &[Judgment],
    base: &SearchConfig,
    opts: &TuneOptions,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<TuneReport> {
    base.validate()?;
    let judged: std::collections::HashSet<&str> = qrels.iter().map(|j| j.query.as_str()).collect();
    let mut used: Vec<&Query> = queries
        .iter()
        .filter(|q| judged.contains(q.id.as_str()))
        .collect();
    used.sort_by(|a, b| a.id.cmp(&b.id));
    used.dedup_by(|a, b| a.id == b.id);
    if opts.folds < 2 {
        return Err(Error::InvalidArgument(format!(
            "folds must be 2 or more, got {}",
            opts.folds
        )));
    }
    if used.len() < opts.folds {
        return Err(Error::InvalidArgument(format!(
            "{} judged queries for {} folds: every fold needs a query (the queries and the qrels must share ids)",
            used.len(),
            opts.folds
        )));
    }
    if opts.k == 0 || opts.modes.is_empty() {
        return Err(Error::InvalidArgument(
            "k must be > 0 and at least one mode tuned".into(),
        ));
    }
    // Folds: a seeded shuffle, dealt round-robin.
    let mut order: Vec<usize> = (0..used.len()).collect();
    let mut rng = SplitMix64::new(opts.seed);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut fold_of = vec![0usize; used.len()];
    for (n, &i) in order.iter().enumerate() {
        fold_of[i] = n % opts.folds;
    }
    let n = used.len();
    let mut lab = Lab {
        index,
        queries: used,
        qrels: Qrels::new(qrels),
        opts,
        base,
        bm25: HashMap::new(),
        dense: None,
        scores: HashMap::new(),
        progress,
    };
    let all: Vec<usize> = (0..n).collect();
    let mut modes = Vec::new();
    let steps = (opts.modes.len() * (opts.folds + 1)) as u64;
    let mut step = 0u64;
    for &mode in &opts.modes {
        let default_cfg = SearchConfig {
            mode,
            ..base.clone()
        };
        let default_values = lab.eval(&default_cfg)?;
        let mut held_out = vec![0.0; n];
        let mut folds = Vec::new();
        for f in 0..opts.folds {
            let train: Vec<usize> = all.iter().copied().filter(|&i| fold_of[i] != f).collect();
            let test: Vec<usize> = all.iter().copied().filter(|&i| fold_of[i] == f).collect();
            let cfg = tune_on(&mut lab, mode, &train)?;
            let values = lab.eval(&cfg)?;
            for &i in &test {
                held_out[i] = values[i];
            }
            folds.push(FoldResult {
                queries: test.len(),
                default: mean_of(&default_values, &test),
                tuned: mean_of(&values, &test),
                config: describe(&cfg),
            });
            step += 1;
            progress(mode_name(mode), step, steps);
        }
        let config = tune_on(&mut lab, mode, &all)?;
        let in_sample = mean_of(&lab.eval(&config)?, &all);
        step += 1;
        progress(mode_name(mode), step, steps);
        let p_value = randomization_test(&default_values, &held_out, 10_000, opts.seed)?;
        modes.push(ModeResult {
            mode,
            default: mean_of(&default_values, &all),
            tuned_held_out: mean_of(&held_out, &all),
            p_value,
            folds,
            config,
            in_sample,
        });
    }
    Ok(TuneReport {
        metric: opts.metric.to_string(),
        queries: n,
        folds: opts.folds,
        modes,
    })
}

/// The per-query values of `config` on `queries` (for reports and tests).
pub fn per_query(
    index: &Arc<SearchIndex>,
    queries: &[Query],
    qrels: &[Judgment],
    config: &SearchConfig,
    opts: &TuneOptions,
) -> Result<BTreeMap<String, f64>> {
    let mut lab = Lab {
        index,
        queries: queries.iter().collect(),
        qrels: Qrels::new(qrels),
        opts,
        base: config,
        bm25: HashMap::new(),
        dense: None,
        scores: HashMap::new(),
        progress: &|_, _, _| {},
    };
    let v = lab.eval(config)?;
    Ok(queries
        .iter()
        .map(|q| q.id.0.clone())
        .zip(v.iter().copied())
        .collect())
}
