//! `hyrank-eval`: judging rankers.
//!
//! Metrics agree with trec_eval 9.x to the last printed digit (tested against
//! its own test collection): the run is re-sorted by score descending with
//! ties broken by document id descending, a grade ≥ the relevance level is
//! relevant, `ndcg` uses linear gain. Exponential gain and custom gain maps
//! are options whose name appears in every report.
//!
//! ```
//! use hyrank_data::formats::trec::RunEntry;
//! use hyrank_data::Judgment;
//! use hyrank_eval::{evaluate, EvalOptions, Measure, Qrels, Run};
//!
//! let qrels = Qrels::new(&[Judgment { query: "q1".into(), doc: "a".into(), grade: 1 }]);
//! let run = Run::new("bm25", &[
//!     RunEntry { query: "q1".into(), doc: "b".into(), rank: 1, score: 2.0, tag: "bm25".into() },
//!     RunEntry { query: "q1".into(), doc: "a".into(), rank: 2, score: 1.0, tag: "bm25".into() },
//! ]);
//! let e = evaluate(&qrels, &run, &Measure::parse_list("recip_rank,P_1").unwrap(), &EvalOptions::default()).unwrap();
//! assert_eq!(e.get("recip_rank"), Some(0.5));
//! assert_eq!(e.get("P_1"), Some(0.0));
//! ```
//!
//! Modules: [`measures`] (pure functions with formulas and sources),
//! [`prepare`] (qrels and runs into per-query judged lists), [`evaluate`](mod@evaluate)
//! (measure names, aggregation, trec_eval's output layout),
//! [`files`] (run files against a qrels file), [`significance`] (paired
//! tests and confidence intervals),
//! [`report`] (comparison tables in text, Markdown, JSON and HTML),
//! [`clickmodel`] (PBM, cascade, DBN, SDBN, UBM fitted on logs, with
//! PyClick's log-likelihood and perplexity), [`interleaving`] (team-draft,
//! multileaving, balanced, credit and the sign test), [`abtest`] (Welch,
//! two proportions, bootstrap, power), [`offpolicy`] (IPS, SNIPS, doubly
//! robust) and [`gate`] (the promotion gate's decision rule).
//!
//! Dependency rule (see `docs/architecture.md` in the shared docs): data ← index ←
//! ranker; data ← eval; {ranker, eval} ← {training, experiment, api} ← the `hyrank` binary.

pub mod abtest;
pub mod classification;
pub mod clickmodel;
pub mod error;
pub mod evaluate;
pub mod files;
pub mod gate;
pub mod interleaving;
pub mod measures;
pub mod offpolicy;
pub mod oracle;
pub mod prepare;
pub mod report;
pub mod significance;

pub use error::{Error, Result};
pub use evaluate::{evaluate, format_trec, EvalOptions, Evaluation, Measure};
pub use files::{evaluate_files, evaluate_letor_scores, LetorEvaluation, RunNames};
pub use measures::Gain;
pub use prepare::{Qrels, Run};
pub use report::{compare, CompareOptions, Comparison};
