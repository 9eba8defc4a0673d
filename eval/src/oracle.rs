//! The oracle re-ranking: a run's own candidates ordered by their true
//! grade. It bounds what any re-ranker of those candidates can reach, so a
//! ranker's gain is read against the gap between the run and its oracle.

use std::collections::HashMap;

use hyrank_data::formats::trec::RunEntry;
use hyrank_data::{DocId, Judgment, QueryId};

/// `run`'s candidates of each query re-ordered by grade (unjudged as 0),
/// ties in the run's order; scores become `n − rank` so that trec_eval's
/// score order is the new order. The tag is `tag`.
pub fn oracle_rerank(run: &[RunEntry], qrels: &[Judgment], tag: &str) -> Vec<RunEntry> {
    let grades: HashMap<(&QueryId, &DocId), i32> = qrels
        .iter()
        .map(|j| ((&j.query, &j.doc), j.grade))
        .collect();
    let mut by_query: Vec<(&QueryId, Vec<&RunEntry>)> = Vec::new();
    for e in run {
        match by_query.last_mut() {
            Some((q, v)) if *q == &e.query => v.push(e),
            _ => by_query.push((&e.query, vec![e])),
        }
    }
    let mut out = Vec::with_capacity(run.len());
    for (q, mut entries) in by_query {
        // The run's own order first (by score, as trec_eval reads it).
        entries.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.rank.cmp(&b.rank)));
        let grade = |e: &RunEntry| grades.get(&(q, &e.doc)).copied().unwrap_or(0);
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| grade(entries[b]).cmp(&grade(entries[a])).then(a.cmp(&b)));
        let n = order.len();
        for (r, i) in order.into_iter().enumerate() {
            out.push(RunEntry {
                query: q.clone(),
                doc: entries[i].doc.clone(),
                rank: r as u32 + 1,
                score: (n - r) as f64,
                tag: tag.to_owned(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(q: &str, d: &str, rank: u32, score: f64) -> RunEntry {
        RunEntry {
            query: QueryId(q.into()),
            doc: DocId(d.into()),
            rank,
            score,
            tag: "r".into(),
        }
    }

    #[test]
    fn candidates_are_ordered_by_grade_and_kept() {
        let run = vec![
            e("q", "a", 1, 3.0),
            e("q", "b", 2, 2.0),
            e("q", "c", 3, 1.0),
            e("p", "x", 1, 1.0),
        ];
        let qrels = vec![
            Judgment {
                query: QueryId("q".into()),
                doc: DocId("c".into()),
                grade: 2,
            },
            Judgment {
                query: QueryId("q".into()),
                doc: DocId("b".into()),
                grade: 1,
            },
            Judgment {
                query: QueryId("q".into()),
                doc: DocId("zz".into()),
                grade: 3,
            },
        ];
        let o = oracle_rerank(&run, &qrels, "oracle");
        let docs: Vec<&str> = o.iter().map(|e| e.doc.as_str()).collect();
        assert_eq!(
            docs,
            ["c", "b", "a", "x"],
            "an unretrieved judged doc is not added"
        );
        assert!(o[0].score > o[1].score && o[1].score > o[2].score);
        assert!(o.iter().all(|e| e.tag == "oracle"));
    }
}
