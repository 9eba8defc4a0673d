//! LETOR / SVMlight rows (`label [qid:Q] idx:val ... [# comment]`) and
//! LightGBM's `.query` group files (one group size per line, in row order).

use std::io::Write;
use std::path::Path;

use super::Lines;
use crate::error::{Error, IoContext, Location, Result};
use crate::fsio::AtomicFile;

/// One LETOR row.
#[derive(Debug, Clone, PartialEq)]
pub struct LetorRow {
    /// Relevance label.
    pub label: f32,
    /// `qid:` value, when the row carries one.
    pub qid: Option<String>,
    /// Sparse features `(index, value)`, indices strictly increasing.
    pub features: Vec<(u32, f32)>,
    /// Text after `#`, if any.
    pub comment: Option<String>,
}

/// Parses one row; `at` names the place in errors.
pub fn parse_row(line: &str, at: &Location) -> Result<Option<LetorRow>> {
    let (body, comment) = match line.split_once('#') {
        Some((b, c)) => (b, Some(c.trim().to_owned())),
        None => (line, None),
    };
    let mut tokens = body.split_whitespace();
    let Some(label_tok) = tokens.next() else {
        return Ok(None);
    };
    let label = label_tok
        .parse::<f32>()
        .ok()
        .filter(|l| l.is_finite())
        .ok_or_else(|| {
            Error::parse(
                at.clone().field("label"),
                format!("`{label_tok}` is not a number"),
            )
        })?;
    let mut qid = None;
    let mut features = Vec::new();
    let mut last: Option<u32> = None;
    for tok in tokens {
        let (k, v) = tok
            .split_once(':')
            .ok_or_else(|| Error::parse(at.clone(), format!("`{tok}` is not `index:value`")))?;
        if k == "qid" {
            qid = Some(v.to_owned());
            continue;
        }
        let idx = k.parse::<u32>().map_err(|_| {
            Error::parse(
                at.clone().field(tok),
                format!("feature index `{k}` is not an integer"),
            )
        })?;
        let val = v
            .parse::<f32>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| {
                Error::parse(
                    at.clone().field(tok),
                    format!("feature value `{v}` is not a finite number"),
                )
            })?;
        if last.is_some_and(|l| idx <= l) {
            return Err(Error::parse(
                at.clone().field(tok),
                "feature indices must increase",
            ));
        }
        last = Some(idx);
        features.push((idx, val));
    }
    Ok(Some(LetorRow {
        label,
        qid,
        features,
        comment,
    }))
}

/// Reads a whole LETOR / SVMlight file.
pub fn read_letor(path: impl AsRef<Path>) -> Result<Vec<LetorRow>> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        if let Some(row) = parse_row(&line, &lines.location())? {
            out.push(row);
        }
    }
    Ok(out)
}

/// Writes rows in LETOR format (features with value 0 are kept as given).
pub fn write_letor(path: impl AsRef<Path>, rows: &[LetorRow]) -> Result<()> {
    let path = path.as_ref();
    let mut f = AtomicFile::create(path)?;
    for r in rows {
        let mut line = format!("{}", r.label);
        if let Some(q) = &r.qid {
            line.push_str(&format!(" qid:{q}"));
        }
        for (i, v) in &r.features {
            line.push_str(&format!(" {i}:{v}"));
        }
        if let Some(c) = &r.comment {
            line.push_str(&format!(" # {c}"));
        }
        writeln!(f, "{line}").at(path)?;
    }
    f.commit()
}

/// Reads a LightGBM `.query` file: one positive group size per line.
pub fn read_group_sizes(path: impl AsRef<Path>) -> Result<Vec<usize>> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        match t.parse::<usize>() {
            Ok(n) if n > 0 => out.push(n),
            _ => {
                return Err(Error::parse(
                    lines.location(),
                    format!("`{t}` is not a positive group size"),
                ))
            }
        }
    }
    Ok(out)
}

/// Gives rows without `qid:` the query ids `0, 1, ...` from group sizes,
/// checking that the sizes add up to the number of rows.
pub fn assign_groups(rows: &mut [LetorRow], sizes: &[usize], sizes_path: &Path) -> Result<()> {
    let total: usize = sizes.iter().sum();
    if total != rows.len() {
        return Err(Error::parse(
            Location::new(sizes_path, 0),
            format!(
                "group sizes add up to {total} but the data file has {} rows",
                rows.len()
            ),
        ));
    }
    let mut i = 0;
    for (g, &n) in sizes.iter().enumerate() {
        for r in &mut rows[i..i + n] {
            r.qid = Some(g.to_string());
        }
        i += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_groups() {
        let at = Location::new("x", 1);
        let r = parse_row("2 qid:10 1:0.5 3:1 # doc=7", &at)
            .unwrap()
            .unwrap();
        assert_eq!(r.label, 2.0);
        assert_eq!(r.qid.as_deref(), Some("10"));
        assert_eq!(r.features, vec![(1, 0.5), (3, 1.0)]);
        assert_eq!(r.comment.as_deref(), Some("doc=7"));
        assert!(parse_row("   ", &at).unwrap().is_none());
        assert!(parse_row("x 1:2", &at)
            .unwrap_err()
            .to_string()
            .contains("label"));
        assert!(parse_row("1 3:1 2:1", &at)
            .unwrap_err()
            .to_string()
            .contains("increase"));
        assert!(parse_row("1 a:1", &at).is_err());

        let mut rows = vec![r.clone(), r.clone(), r];
        assert!(assign_groups(&mut rows, &[1, 1], Path::new("g")).is_err());
        assign_groups(&mut rows, &[1, 2], Path::new("g")).unwrap();
        assert_eq!(rows[2].qid.as_deref(), Some("1"));
    }
}
