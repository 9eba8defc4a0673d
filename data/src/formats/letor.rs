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

/// A LETOR file read as learning-to-rank data: its rows in file order, the
/// line each came from, and the query groups as consecutive runs of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct LetorSet {
    /// The rows.
    pub rows: Vec<LetorRow>,
    /// The 1-based line of each row.
    pub lines: Vec<u64>,
    /// Group boundaries: group `g` is rows `groups[g]..groups[g + 1]`.
    pub groups: Vec<usize>,
    /// The query id of each group (`qid:` or the group's 0-based number).
    pub qids: Vec<String>,
    /// Where the groups came from: the `.query` file, or `None` for `qid:`.
    pub group_file: Option<std::path::PathBuf>,
}

impl LetorSet {
    /// One more than the largest feature index (LightGBM's column count:
    /// `1:x` is column 1 and column 0 exists, empty, when no row uses it).
    pub fn num_features(&self) -> usize {
        self.rows
            .iter()
            .filter_map(|r| r.features.last())
            .map(|&(i, _)| i as usize + 1)
            .max()
            .unwrap_or(0)
    }
}

/// Reads a LETOR file with its query groups, as LightGBM does: from
/// `group_file` when given, else from `<path>.query` when it exists, else from
/// the rows' `qid:` (each query's rows must be consecutive; a query that comes
/// back later is an error naming the line). Rows with neither are an error.
pub fn read_letor_set(path: impl AsRef<Path>, group_file: Option<&Path>) -> Result<LetorSet> {
    let path = path.as_ref();
    let mut lines = Lines::open(path)?;
    let (mut rows, mut at) = (Vec::new(), Vec::new());
    while let Some(next) = lines.next_line() {
        let (n, line) = next?;
        if let Some(row) = parse_row(&line, &lines.location())? {
            rows.push(row);
            at.push(n);
        }
    }
    let sidecar = {
        let mut name = path.as_os_str().to_owned();
        name.push(".query");
        std::path::PathBuf::from(name)
    };
    let group_file = match group_file {
        Some(g) => Some(g.to_path_buf()),
        None if sidecar.exists() => Some(sidecar.clone()),
        None => None,
    };
    let mut groups = vec![0];
    let mut qids = Vec::new();
    if let Some(gf) = &group_file {
        let sizes = read_group_sizes(gf)?;
        let total: usize = sizes.iter().sum();
        if total != rows.len() {
            return Err(Error::parse(
                Location::new(gf, 0),
                format!(
                    "group sizes add up to {total} but {} has {} rows",
                    path.display(),
                    rows.len()
                ),
            ));
        }
        for (g, n) in sizes.iter().enumerate() {
            groups.push(groups[g] + n);
            qids.push(g.to_string());
        }
    } else {
        let mut seen = std::collections::HashSet::new();
        for (i, r) in rows.iter().enumerate() {
            let Some(q) = &r.qid else {
                return Err(Error::parse(
                    Location::new(path, at[i]).field("qid"),
                    format!(
                        "the row has no `qid:` and there is no group file {}",
                        sidecar.display()
                    ),
                ));
            };
            if qids.last() != Some(q) {
                if !seen.insert(q.clone()) {
                    return Err(Error::parse(
                        Location::new(path, at[i]).field("qid"),
                        format!("query {q} comes back after other queries: a query's rows must be consecutive"),
                    ));
                }
                if i > 0 {
                    groups.push(i);
                }
                qids.push(q.clone());
            }
        }
        if !rows.is_empty() {
            groups.push(rows.len());
        }
    }
    Ok(LetorSet {
        rows,
        lines: at,
        groups,
        qids,
        group_file,
    })
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

/// Reads a score file: one finite number a line (LightGBM's `predict`
/// output), in row order. Blank lines are an error: a score file has exactly
/// one line per row.
pub fn read_scores(path: impl AsRef<Path>) -> Result<Vec<f64>> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        let t = line.trim();
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => out.push(v),
            _ => {
                return Err(Error::parse(
                    lines.location().column(1),
                    format!("`{t}` is not a finite score"),
                ))
            }
        }
    }
    Ok(out)
}

/// Writes one score a line, crash-safely (shortest form that reads back exactly).
pub fn write_scores(path: impl AsRef<Path>, scores: &[f64]) -> Result<()> {
    let path = path.as_ref();
    let mut f = AtomicFile::create(path)?;
    for s in scores {
        writeln!(f, "{s}").at(path)?;
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

    #[test]
    fn sets_take_groups_from_the_sidecar_or_from_qid() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.txt");
        std::fs::write(&data, "1 qid:a 1:1\n0 qid:a 2:1\n\n2 qid:b 3:1\n").unwrap();
        let set = read_letor_set(&data, None).unwrap();
        assert_eq!(set.groups, vec![0, 2, 3]);
        assert_eq!(set.qids, vec!["a", "b"]);
        assert_eq!(set.lines, vec![1, 2, 4]);
        assert_eq!(set.num_features(), 4);
        std::fs::write(dir.path().join("d.txt.query"), "1\n2\n").unwrap();
        let set = read_letor_set(&data, None).unwrap();
        assert_eq!(
            (set.groups, set.qids),
            (vec![0, 1, 3], vec!["0".into(), "1".into()])
        );
        std::fs::write(dir.path().join("d.txt.query"), "1\n1\n").unwrap();
        assert!(read_letor_set(&data, None)
            .unwrap_err()
            .to_string()
            .contains("add up to 2"));

        let back = dir.path().join("e.txt");
        std::fs::write(&back, "1 qid:a 1:1\n0 qid:b 2:1\n2 qid:a 3:1\n").unwrap();
        let e = read_letor_set(&back, None).unwrap_err().to_string();
        assert!(e.contains("e.txt:3") && e.contains("consecutive"), "{e}");
        let none = dir.path().join("f.txt");
        std::fs::write(&none, "1 1:1\n").unwrap();
        let e = read_letor_set(&none, None).unwrap_err().to_string();
        assert!(e.contains("f.txt:1") && e.contains("f.txt.query"), "{e}");
    }
}
