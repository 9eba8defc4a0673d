//! Wayfair WANDS: three tab-separated files with a header row (named `.csv`
//! upstream, but separated by tabs).
//!
//! - `product.csv`: `product_id, product_name, product_class, category hierarchy,
//!   product_description, product_features, rating_count, average_rating, review_count`;
//!   the hierarchy is ` / `-separated, features are `name:value|name:value`.
//! - `query.csv`: `query_id, query, query_class`.
//! - `label.csv`: `id, query_id, product_id, label` (Exact / Partial / Irrelevant).

use std::collections::BTreeMap;
use std::path::Path;

use super::{header_indices, split_tabs, Lines};
use crate::error::{Error, Location, Result};
use crate::types::{GradeMap, Judgment, Product, Query, WandsLabel};

fn read_table(
    path: &Path,
    wanted: &[&str],
    mut row: impl FnMut(&[&str], &Location) -> Result<()>,
) -> Result<()> {
    let mut lines = Lines::open(path)?;
    let Some(first) = lines.next_line() else {
        return Err(Error::parse(
            Location::new(path, 1),
            "empty file: expected a header row",
        ));
    };
    let (_, header) = first?;
    let header: Vec<&str> = header.split('\t').collect();
    let idx = header_indices(&header, wanted, &lines.location())?;
    let need = idx.iter().copied().max().unwrap_or(0) + 1;
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        if line.trim().is_empty() {
            continue;
        }
        let at = lines.location();
        let cols = split_tabs(&line, &at, need, &wanted.join(", "))?;
        let picked: Vec<&str> = idx.iter().map(|&i| cols[i]).collect();
        row(&picked, &at)?;
    }
    Ok(())
}

fn opt_num<T: std::str::FromStr>(s: &str, at: &Location, col: &str) -> Result<Option<T>> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<T>()
        .map(Some)
        .map_err(|_| Error::parse(at.clone().field(col), format!("`{t}` is not a number")))
}

/// Reads `product.csv` into catalogue products.
pub fn read_products(path: impl AsRef<Path>) -> Result<Vec<Product>> {
    let cols = [
        "product_id",
        "product_name",
        "product_class",
        "category hierarchy",
        "product_description",
        "product_features",
        "rating_count",
        "average_rating",
        "review_count",
    ];
    let mut out = Vec::new();
    read_table(path.as_ref(), &cols, |c, at| {
        if c[0].trim().is_empty() {
            return Err(Error::parse(
                at.clone().field("product_id"),
                "must not be empty",
            ));
        }
        let mut p = Product::new(c[0].trim(), c[1].trim());
        p.description = c[4].trim().to_owned();
        p.category = c[3]
            .split('/')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let mut attrs = BTreeMap::new();
        if !c[2].trim().is_empty() {
            attrs.insert("product_class".to_owned(), c[2].trim().to_owned());
        }
        for kv in c[5].split('|') {
            if let Some((k, v)) = kv.split_once(':') {
                if !k.trim().is_empty() {
                    attrs.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
        }
        p.attributes = attrs;
        p.rating = opt_num::<f32>(c[7], at, "average_rating")?;
        // WANDS writes counts as floats ("15.0").
        p.review_count = opt_num::<f64>(c[8], at, "review_count")?.map(|x| x.max(0.0) as u32);
        if p.title.is_empty() {
            // A handful of WANDS rows have no name; keep them searchable by class.
            p.title = c[2].trim().to_owned();
        }
        p.validate()
            .map_err(|(f, why)| Error::parse(at.clone().field(f), why))?;
        out.push(p);
        Ok(())
    })?;
    Ok(out)
}

/// Reads `query.csv`; the class goes nowhere (it is the product class the query targets).
pub fn read_queries(path: impl AsRef<Path>) -> Result<Vec<Query>> {
    let mut out = Vec::new();
    read_table(path.as_ref(), &["query_id", "query"], |c, at| {
        if c[0].trim().is_empty() {
            return Err(Error::parse(
                at.clone().field("query_id"),
                "must not be empty",
            ));
        }
        out.push(Query {
            id: c[0].trim().into(),
            text: c[1].trim().to_owned(),
        });
        Ok(())
    })?;
    Ok(out)
}

/// Reads `label.csv` into judgments, labels graded by `grades`.
pub fn read_labels(path: impl AsRef<Path>, grades: &GradeMap) -> Result<Vec<Judgment>> {
    let mut out = Vec::new();
    read_table(
        path.as_ref(),
        &["query_id", "product_id", "label"],
        |c, at| {
            let label = WandsLabel::parse(c[2]).ok_or_else(|| {
                Error::parse(
                    at.clone().field("label"),
                    format!("`{}` is not Exact, Partial or Irrelevant", c[2].trim()),
                )
            })?;
            out.push(Judgment {
                query: c[0].trim().into(),
                doc: c[1].trim().into(),
                grade: grades.wands(label),
            });
            Ok(())
        },
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCTS: &str = "product_id\tproduct_name\tproduct_class\tcategory hierarchy\tproduct_description\tproduct_features\trating_count\taverage_rating\treview_count\n\
0\tsolid wood platform bed\tBeds\tFurniture / Bedroom Furniture / Beds & Headboards / Beds\tgood, deep sleep can be quite difficult\toverallwidth-sidetoside:64.7|dsprimaryproductstyle:modern\t15.0\t4.5\t15.0\n\
1\tall-clad 7 qt . slow cooker\tSlow Cookers\tKitchen & Tabletop / Small Kitchen Appliances / Slow Cookers\tcreate delicious slow-cooked meals\tcapacityquarts:7\t100.0\t2.0\t98.0\n";

    #[test]
    fn reads_the_three_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("product.csv");
        std::fs::write(&p, PRODUCTS).unwrap();
        let ps = read_products(&p).unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(
            ps[0].category,
            vec![
                "Furniture",
                "Bedroom Furniture",
                "Beds & Headboards",
                "Beds"
            ]
        );
        assert_eq!(ps[0].attributes["dsprimaryproductstyle"], "modern");
        assert_eq!(ps[1].review_count, Some(98));

        let q = dir.path().join("query.csv");
        std::fs::write(
            &q,
            "query_id\tquery\tquery_class\n0\tsalon chair\tMassage Chairs\n",
        )
        .unwrap();
        assert_eq!(read_queries(&q).unwrap()[0].text, "salon chair");

        let l = dir.path().join("label.csv");
        std::fs::write(&l, "id\tquery_id\tproduct_id\tlabel\n0\t0\t25434\tExact\n1\t0\t12088\tIrrelevant\n2\t0\t42931\tPartial\n").unwrap();
        let js = read_labels(&l, &GradeMap::default()).unwrap();
        assert_eq!(
            js.iter().map(|j| j.grade).collect::<Vec<_>>(),
            vec![2, 0, 1]
        );
    }

    #[test]
    fn broken_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let l = dir.path().join("label.csv");
        std::fs::write(&l, "id\tquery_id\tproduct_id\n0\t0\t1\n").unwrap();
        let e = read_labels(&l, &GradeMap::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing column `label`"), "{e}");
        std::fs::write(&l, "id\tquery_id\tproduct_id\tlabel\n0\t0\t1\tMaybe\n").unwrap();
        let e = read_labels(&l, &GradeMap::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("label.csv:2: field `label`"), "{e}");
        std::fs::write(&l, "id\tquery_id\tproduct_id\tlabel\n0\t0\n").unwrap();
        let e = read_labels(&l, &GradeMap::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("label.csv:2") && e.contains("columns"), "{e}");
        let p = dir.path().join("product.csv");
        let bad = PRODUCTS.replace("\t4.5\t", "\tfour\t");
        std::fs::write(&p, bad).unwrap();
        let e = read_products(&p).unwrap_err().to_string();
        assert!(e.contains("product.csv:2: field `average_rating`"), "{e}");
    }
}
