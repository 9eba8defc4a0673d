//! The Cranfield 1400 collection (SMART format): `cran.all.1400` (`.I` id,
//! `.T` title, `.A` authors, `.B` source, `.W` text), `cran.qry` (`.I`, `.W`;
//! the `.I` numbers are *not* the qrel ids: the n-th query is topic n) and
//! `cranqrel` (`topic doc code`, code 1 = complete answer … 4 = minimum
//! interest, −1 = not relevant; graded here as 5 − code, −1 → 0).

use std::path::Path;

use super::Lines;
use crate::error::{Error, Result};
use crate::types::{Judgment, Product, Query};

/// One SMART record: its `.I` id and its fields (`.T`, `.W`, ...) with their text.
type Record = (String, Vec<(char, String)>);

/// The records of a SMART file.
fn records(path: &Path) -> Result<Vec<Record>> {
    let mut lines = Lines::open(path)?;
    let mut out: Vec<Record> = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        if let Some(id) = line.strip_prefix(".I") {
            out.push((id.trim().to_owned(), Vec::new()));
            continue;
        }
        let Some((_, fields)) = out.last_mut() else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(Error::parse(
                lines.location(),
                "text before the first `.I` record",
            ));
        };
        let b = line.as_bytes();
        if b.len() >= 2 && b[0] == b'.' && b[1].is_ascii_uppercase() && line.trim_end().len() == 2 {
            fields.push((b[1] as char, String::new()));
        } else if let Some((_, text)) = fields.last_mut() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(line.trim());
        } else {
            return Err(Error::parse(
                lines.location(),
                "text outside a field (expected .T, .A, .B or .W)",
            ));
        }
    }
    Ok(out)
}

fn field(fields: &[(char, String)], f: char) -> String {
    fields
        .iter()
        .find(|(k, _)| *k == f)
        .map(|(_, t)| t.clone())
        .unwrap_or_default()
}

/// Documents as products (title `.T`, description `.W`), and the ids of
/// the documents with neither (two in the real collection, 471 and 995),
/// which are left out: there is nothing to index.
pub fn read_documents(path: impl AsRef<Path>) -> Result<(Vec<Product>, Vec<String>)> {
    let mut empty = Vec::new();
    let mut out = Vec::new();
    for (id, f) in records(path.as_ref())? {
        let (title, text) = (field(&f, 'T'), field(&f, 'W'));
        if title.is_empty() && text.is_empty() {
            empty.push(id);
            continue;
        }
        // A document without a title is titled by the start of its text.
        let title = if title.is_empty() {
            text.split_whitespace()
                .take(12)
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            title
        };
        let mut p = Product::new(id.as_str(), title);
        p.description = text;
        out.push(p);
    }
    Ok((out, empty))
}

/// Queries numbered 1..n in file order (the qrels' topic ids).
pub fn read_queries(path: impl AsRef<Path>) -> Result<Vec<Query>> {
    Ok(records(path.as_ref())?
        .into_iter()
        .enumerate()
        .map(|(n, (_, f))| Query {
            id: (n + 1).to_string().into(),
            text: field(&f, 'W'),
        })
        .collect())
}

/// Judgments with gain 5 − code (codes 1..4), 0 for −1.
pub fn read_qrels(path: impl AsRef<Path>) -> Result<Vec<Judgment>> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() != 3 {
            return Err(Error::parse(
                lines.location(),
                format!("expected `topic doc code`, found {} columns", f.len()),
            ));
        }
        let code: i32 = f[2].parse().map_err(|_| {
            Error::parse(
                lines.location().field("code"),
                format!("`{}` is not an integer", f[2]),
            )
        })?;
        let grade = match code {
            1..=4 => 5 - code,
            -1 | 5 => 0,
            _ => {
                return Err(Error::parse(
                    lines.location().field("code"),
                    format!("relevance code {code} is not 1..4 or -1"),
                ))
            }
        };
        out.push(Judgment {
            query: f[0].into(),
            doc: f[1].into(),
            grade,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_smart_records_and_reversed_codes() {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("cran.all.1400");
        std::fs::write(&docs, ".I 1\n.T\nexperimental investigation of the aerodynamics of a\nwing in a slipstream .\n.A\nbrenckman,m.\n.B\nj. ae. scs. 25, 1958, 324.\n.W\nan experimental study of a wing\nin a propeller slipstream .\n.I 2\n.T\nsimple shear flow .\n.W\nthe flow\n.I 3\n.T\n.A\n.B\n.W\n.I 4\n.T\n.W\nonly text here\n").unwrap();
        let (ps, empty) = read_documents(&docs).unwrap();
        assert_eq!(ps.len(), 3);
        assert_eq!(
            empty,
            ["3"],
            "a document with no title and no text is left out"
        );
        assert_eq!(ps[2].title, "only text here");
        assert_eq!(
            ps[0].title,
            "experimental investigation of the aerodynamics of a wing in a slipstream ."
        );
        assert_eq!(
            ps[0].description,
            "an experimental study of a wing in a propeller slipstream ."
        );
        let q = dir.path().join("cran.qry");
        std::fs::write(
            &q,
            ".I 001\n.W\nwhat similarity laws\n.I 004\n.W\nheat conduction\n",
        )
        .unwrap();
        let qs = read_queries(&q).unwrap();
        assert_eq!(
            (qs[1].id.as_str(), qs[1].text.as_str()),
            ("2", "heat conduction"),
            "the n-th query is topic n"
        );
        let r = dir.path().join("cranqrel");
        std::fs::write(&r, "1 184 2 \n1 29 -1\n1 5 4\n").unwrap();
        assert_eq!(
            read_qrels(&r)
                .unwrap()
                .iter()
                .map(|j| j.grade)
                .collect::<Vec<_>>(),
            vec![3, 0, 1]
        );
        std::fs::write(&r, "1 184 9\n").unwrap();
        assert!(read_qrels(&r)
            .unwrap_err()
            .to_string()
            .contains("cranqrel:1: field `code`"));
        std::fs::write(&docs, "stray text\n.I 1\n").unwrap();
        assert!(read_documents(&docs)
            .unwrap_err()
            .to_string()
            .contains("before the first"));
    }
}
