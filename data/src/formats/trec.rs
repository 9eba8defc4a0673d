//! TREC qrels (`qid iter docno rel`) and run files (`qid Q0 docno rank score tag`),
//! whitespace-separated as trec_eval reads them.

use std::io::Write;
use std::path::Path;

use super::Lines;
use crate::error::{Error, IoContext, Result};
use crate::fsio::AtomicFile;
use crate::types::{DocId, Judgment, QueryId};

/// One line of a run file.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    /// Query id.
    pub query: QueryId,
    /// Document id.
    pub doc: DocId,
    /// The rank column (trec_eval ignores it and sorts by score).
    pub rank: u32,
    /// Retrieval score.
    pub score: f64,
    /// Run tag (system name).
    pub tag: String,
}

fn fields<'a>(
    line: &'a str,
    n: usize,
    what: &str,
    lines: &Lines<impl std::io::BufRead>,
) -> Result<Option<Vec<&'a str>>> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.is_empty() {
        return Ok(None);
    }
    if f.len() != n {
        return Err(Error::parse(
            lines.location(),
            format!(
                "expected {n} whitespace-separated columns ({what}), found {}",
                f.len()
            ),
        ));
    }
    Ok(Some(f))
}

/// Reads a qrels file.
pub fn read_qrels(path: impl AsRef<Path>) -> Result<Vec<Judgment>> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        let Some(f) = fields(&line, 4, "qid iter docno rel", &lines)? else {
            continue;
        };
        let grade = f[3].parse::<i32>().map_err(|_| {
            Error::parse(
                lines.location().field("rel"),
                format!("`{}` is not an integer", f[3]),
            )
        })?;
        out.push(Judgment {
            query: f[0].into(),
            doc: f[2].into(),
            grade,
        });
    }
    Ok(out)
}

/// Writes a qrels file (`qid 0 docno rel`).
pub fn write_qrels(path: impl AsRef<Path>, qrels: &[Judgment]) -> Result<()> {
    let path = path.as_ref();
    let mut f = AtomicFile::create(path)?;
    for j in qrels {
        writeln!(f, "{} 0 {} {}", j.query, j.doc, j.grade).at(path)?;
    }
    f.commit()
}

/// Reads a run file.
pub fn read_run(path: impl AsRef<Path>) -> Result<Vec<RunEntry>> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        let Some(f) = fields(&line, 6, "qid Q0 docno rank score tag", &lines)? else {
            continue;
        };
        let rank = f[3].parse::<u32>().map_err(|_| {
            Error::parse(
                lines.location().field("rank"),
                format!("`{}` is not a non-negative integer", f[3]),
            )
        })?;
        let score = f[4]
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite())
            .ok_or_else(|| {
                Error::parse(
                    lines.location().field("score"),
                    format!("`{}` is not a finite number", f[4]),
                )
            })?;
        out.push(RunEntry {
            query: f[0].into(),
            doc: f[2].into(),
            rank,
            score,
            tag: f[5].to_owned(),
        });
    }
    Ok(out)
}

/// Writes a run file.
pub fn write_run(path: impl AsRef<Path>, run: &[RunEntry]) -> Result<()> {
    let path = path.as_ref();
    let mut f = AtomicFile::create(path)?;
    for r in run {
        writeln!(
            f,
            "{} Q0 {} {} {} {}",
            r.query, r.doc, r.rank, r.score, r.tag
        )
        .at(path)?;
    }
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("qrels");
        let js = vec![Judgment {
            query: "1".into(),
            doc: "d".into(),
            grade: 2,
        }];
        write_qrels(&q, &js).unwrap();
        assert_eq!(read_qrels(&q).unwrap(), js);
        std::fs::write(&q, "1 0 d 2\n1 0 e high\n").unwrap();
        let e = read_qrels(&q).unwrap_err().to_string();
        assert!(e.contains("qrels:2: field `rel`"), "{e}");
        std::fs::write(&q, "1 0 d\n").unwrap();
        assert!(read_qrels(&q)
            .unwrap_err()
            .to_string()
            .contains("expected 4"));

        let r = dir.path().join("run");
        let run = vec![RunEntry {
            query: "1".into(),
            doc: "d".into(),
            rank: 1,
            score: 0.5,
            tag: "bm25".into(),
        }];
        write_run(&r, &run).unwrap();
        assert_eq!(read_run(&r).unwrap(), run);
        std::fs::write(&r, "1 Q0 d 1 NaN t\n").unwrap();
        assert!(read_run(&r)
            .unwrap_err()
            .to_string()
            .contains("field `score`"));
    }
}
