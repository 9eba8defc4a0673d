//! OpenSearch Search Relevance Workbench (SRW): judgment lists and query sets.
//!
//! - Judgments (`POST _plugins/_search_relevance/judgments` with `"type":
//!   "IMPORT_JUDGMENT"`, and what SRW returns):
//!   `{"name", "description", "type", "judgmentRatings": [{"query": TEXT,
//!   "ratings": [{"docId": ID, "rating": "100.000"}]}]}`. Ratings are strings
//!   or numbers.
//! - Query sets: `{"name", "description", "sampling", "querySetQueries":
//!   [{"queryText": TEXT}]}`.
//!
//! SRW keys queries by their text; hyrank's qrels need ids. A query's id is
//! derived from its text alone (`srw-` and 16 hex digits of its FNV-1a hash),
//! so a query set and a judgment list read apart still agree.
//!
//! Ratings become grades through a [`RatingMap`] (`--grades`): explicit
//! pairs such as ESCI's `100=3,10=2,1=1,0=0`; `round` (nearest integer) or
//! `scale=10` (×10, then nearest integer: LLM ratings in 0..1); with no map,
//! ratings must be whole numbers and are the grades. A rating the map does
//! not cover is an error naming its file, line, column and JSON path.
//!
//! Written back (`--to srw`), grades become ratings through the same map
//! inverted (pairs; `scale` divides; otherwise the grade itself).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{de, Deserialize, Deserializer};

use super::parse_json;
use crate::error::{Error, IoContext, Location, Result};
use crate::types::{DocId, Judgment, Query, QueryId};

/// How SRW ratings become integer grades.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum RatingMap {
    /// Ratings must be whole numbers; the grade is the rating.
    #[default]
    Whole,
    /// Each rating listed with its grade (compared as numbers).
    Pairs(Vec<(f64, i32)>),
    /// The nearest integer.
    Round,
    /// Rating × factor, then the nearest integer.
    Scale(f64),
}

impl RatingMap {
    /// Parses `100=3,10=2,1=1,0=0`, `round` or `scale=10`.
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("round") {
            return Ok(RatingMap::Round);
        }
        if let Some(f) = spec.strip_prefix("scale=") {
            let f: f64 = f
                .trim()
                .parse()
                .map_err(|_| format!("`scale={f}`: the factor is not a number"))?;
            if !(f.is_finite() && f > 0.0) {
                return Err(format!("`scale={f}`: the factor must be > 0"));
            }
            return Ok(RatingMap::Scale(f));
        }
        let mut pairs = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                format!("`{part}` is not RATING=GRADE (or use `round`, `scale=K`)")
            })?;
            let r: f64 = k
                .trim()
                .parse()
                .map_err(|_| format!("rating `{}` of `{part}` is not a number", k.trim()))?;
            let g: i32 = v
                .trim()
                .parse()
                .map_err(|_| format!("grade `{}` of `{part}` is not an integer", v.trim()))?;
            pairs.push((r, g));
        }
        if pairs.is_empty() {
            return Err("an empty rating map (e.g. 100=3,10=2,1=1,0=0)".into());
        }
        Ok(RatingMap::Pairs(pairs))
    }

    /// The grade of a rating.
    pub fn grade(&self, rating: f64) -> std::result::Result<i32, String> {
        let whole = |x: f64| -> std::result::Result<i32, String> {
            if x.is_finite() && x.abs() < 1e9 {
                Ok(x.round() as i32)
            } else {
                Err(format!("rating {rating} is out of range"))
            }
        };
        match self {
            RatingMap::Whole if rating.fract() == 0.0 => whole(rating),
            RatingMap::Whole => Err(format!(
                "rating {rating} is not a whole number: give --grades (e.g. `100=3,10=2,1=1,0=0`, `round` or `scale=10`)"
            )),
            RatingMap::Round => whole(rating),
            RatingMap::Scale(f) => whole(rating * f),
            RatingMap::Pairs(p) => p
                .iter()
                .find(|(r, _)| (r - rating).abs() < 1e-9)
                .map(|(_, g)| *g)
                .ok_or_else(|| {
                    let known: Vec<String> = p.iter().map(|(r, g)| format!("{r}={g}")).collect();
                    format!("rating {rating} is not in the grade map ({})", known.join(","))
                }),
        }
    }

    /// The rating written for a grade.
    pub fn rating(&self, grade: i32) -> f64 {
        match self {
            RatingMap::Pairs(p) => p
                .iter()
                .find(|(_, g)| *g == grade)
                .map_or(f64::from(grade), |(r, _)| *r),
            RatingMap::Scale(f) => f64::from(grade) / f,
            RatingMap::Whole | RatingMap::Round => f64::from(grade),
        }
    }
}

thread_local! {
    /// The map the `rating` fields of the document being read use.
    static MAP: RefCell<RatingMap> = const { RefCell::new(RatingMap::Whole) };
}

fn de_grade<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(f64),
        Text(String),
    }
    let rating = match Raw::deserialize(d)? {
        Raw::Num(x) => x,
        Raw::Text(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| de::Error::custom(format!("rating `{s}` is not a number")))?,
    };
    MAP.with(|m| m.borrow().grade(rating))
        .map_err(de::Error::custom)
}

fn de_text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(de::Error::custom("the query text is empty"));
    }
    Ok(s.trim().to_owned())
}

fn de_id<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let t = s.trim();
    if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(de::Error::custom(format!(
            "docId {s:?} is empty or has spaces or control characters (ids go into TREC files)"
        )));
    }
    Ok(t.to_owned())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rating {
    #[serde(deserialize_with = "de_id")]
    doc_id: String,
    #[serde(deserialize_with = "de_grade")]
    rating: i32,
}

#[derive(Deserialize)]
struct JudgedQuery {
    #[serde(deserialize_with = "de_text")]
    query: String,
    #[serde(default)]
    ratings: Vec<Rating>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JudgmentsDoc {
    judgment_ratings: Vec<JudgedQuery>,
}

#[derive(Deserialize)]
struct SetQuery {
    #[serde(rename = "queryText", deserialize_with = "de_text")]
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QuerySetDoc {
    query_set_queries: Vec<SetQuery>,
}

/// The id of a query text: `srw-` and 16 hex digits of FNV-1a-64.
pub fn query_id(text: &str) -> QueryId {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    QueryId(format!("srw-{h:016x}"))
}

/// What an SRW input held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SrwData {
    /// Queries, in order of first appearance (query sets first).
    pub queries: Vec<Query>,
    /// Judgments (none when only query sets were read).
    pub qrels: Vec<Judgment>,
    /// The files read, and which kind each was.
    pub files: Vec<(PathBuf, &'static str)>,
}

/// Reads an SRW judgments file, a query-set file, or a folder of either
/// (every `*.json`), with `map` turning ratings into grades.
pub fn read_srw(input: &Path, map: &RatingMap) -> Result<SrwData> {
    let files = if input.is_dir() {
        let mut f: Vec<PathBuf> = std::fs::read_dir(input)
            .at(input)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
            .collect();
        f.sort();
        if f.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{}: no SRW files (*.json judgments or query sets)",
                input.display()
            )));
        }
        f
    } else {
        vec![input.to_path_buf()]
    };
    let mut out = SrwData::default();
    let mut seen = std::collections::HashMap::<QueryId, String>::new();
    let mut add_query = |out: &mut SrwData, text: &str, at: &Path| -> Result<QueryId> {
        let id = query_id(text);
        match seen.get(&id) {
            Some(t) if t != text => Err(Error::parse(
                Location::new(at, 0),
                format!("queries {t:?} and {text:?} have the same id {id}"),
            )),
            Some(_) => Ok(id),
            None => {
                seen.insert(id.clone(), text.to_owned());
                out.queries.push(Query {
                    id: id.clone(),
                    text: text.to_owned(),
                });
                Ok(id)
            }
        }
    };
    // Query sets first, so that their order is the queries' order.
    let mut kinds = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).at(f)?;
        let text = text.trim_start_matches('\u{feff}').to_owned();
        if let Some(hint) = super::lfs_pointer_hint(text.as_bytes()) {
            return Err(Error::parse(Location::new(f, 1).column(1), hint));
        }
        let probe: serde_json::Value = parse_json(&text, Location::new(f, 1))?;
        let kind = if probe.get("judgmentRatings").is_some() {
            "judgments"
        } else if probe.get("querySetQueries").is_some() {
            "query set"
        } else {
            return Err(Error::parse(
                Location::new(f, 1).column(1),
                "neither SRW judgments (`judgmentRatings`) nor a query set (`querySetQueries`)",
            ));
        };
        kinds.push((f.clone(), kind, text));
    }
    kinds.sort_by_key(|(_, k, _)| *k != "query set");
    for (f, kind, text) in kinds {
        out.files.push((f.clone(), kind));
        if kind == "query set" {
            let doc: QuerySetDoc = parse_json(&text, Location::new(&f, 1))?;
            for q in doc.query_set_queries {
                add_query(&mut out, &q.text, &f)?;
            }
        } else {
            MAP.with(|m| *m.borrow_mut() = map.clone());
            let doc: Result<JudgmentsDoc> = parse_json(&text, Location::new(&f, 1));
            MAP.with(|m| *m.borrow_mut() = RatingMap::Whole);
            for jq in doc?.judgment_ratings {
                let id = add_query(&mut out, &jq.query, &f)?;
                for r in jq.ratings {
                    out.qrels.push(Judgment {
                        query: id.clone(),
                        doc: DocId(r.doc_id),
                        grade: r.rating,
                    });
                }
            }
        }
    }
    Ok(out)
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// SRW judgments JSON of `qrels` (query texts from `queries`), ratings from
/// grades through `map` inverted.
pub fn judgments_json(
    queries: &[Query],
    qrels: &[Judgment],
    map: &RatingMap,
    name: &str,
) -> Result<String> {
    let text: std::collections::HashMap<&str, &str> = queries
        .iter()
        .map(|q| (q.id.as_str(), q.text.as_str()))
        .collect();
    let mut order: Vec<&str> = Vec::new();
    let mut by_query: std::collections::HashMap<&str, Vec<&Judgment>> =
        std::collections::HashMap::new();
    for j in qrels {
        let q = j.query.as_str();
        if !by_query.contains_key(q) {
            order.push(q);
        }
        by_query.entry(q).or_default().push(j);
    }
    // Pretty-printed as SRW shows it, one rating a line.
    let mut o = String::new();
    let _ = write!(
        o,
        "{{\n  \"name\": {},\n  \"description\": \"written by hyrank\",\n  \"type\": \"IMPORT_JUDGMENT\",\n  \"judgmentRatings\": [",
        json_string(name)
    );
    for (i, q) in order.iter().enumerate() {
        let t = text.get(q).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the judgments name query `{q}`, which the queries do not have: SRW keys judgments by query text"
            ))
        })?;
        let _ = write!(
            o,
            "{}\n    {{\n      \"query\": {},\n      \"ratings\": [",
            if i > 0 { "," } else { "" },
            json_string(t)
        );
        for (k, j) in by_query[q].iter().enumerate() {
            let _ = write!(
                o,
                "{}\n        {{\"docId\": {}, \"rating\": \"{:.3}\"}}",
                if k > 0 { "," } else { "" },
                json_string(j.doc.as_str()),
                map.rating(j.grade)
            );
        }
        o.push_str("\n      ]\n    }");
    }
    o.push_str("\n  ]\n}\n");
    Ok(o)
}

/// An SRW query set JSON of `queries`.
pub fn query_set_json(queries: &[Query], name: &str) -> String {
    let mut o = format!(
        "{{\n  \"name\": {},\n  \"description\": \"written by hyrank\",\n  \"sampling\": \"manual\",\n  \"querySetQueries\": [",
        json_string(name)
    );
    for (i, q) in queries.iter().enumerate() {
        let _ = write!(
            o,
            "{}\n    {{\"queryText\": {}}}",
            if i > 0 { "," } else { "" },
            json_string(&q.text)
        );
    }
    o.push_str("\n  ]\n}\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUDGMENTS: &str = r#"{
  "name": "ESCI Judgments",
  "type": "IMPORT_JUDGMENT",
  "judgmentRatings": [
    {
      "query": "t towels kitchen",
      "ratings": [
        {"docId": "B07NCQWCQS", "rating": "100.000"},
        {"docId": "B07QLRTGVQ", "rating": "10.000"},
        {"docId": "B0825VCHDG", "rating": 1},
        {"docId": "B08JZ36B5B", "rating": "0.000"}
      ]
    }
  ]
}"#;

    #[test]
    fn esci_scale_judgments_and_errors_with_position() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("judgments.json");
        std::fs::write(&j, JUDGMENTS).unwrap();
        let esci = RatingMap::parse("100=3,10=2,1=1,0=0").unwrap();
        let d = read_srw(&j, &esci).unwrap();
        assert_eq!(d.queries.len(), 1);
        assert_eq!(d.queries[0].id, query_id("t towels kitchen"));
        assert_eq!(
            d.qrels.iter().map(|q| q.grade).collect::<Vec<_>>(),
            [3, 2, 1, 0]
        );
        // Whole numbers without a map are grades as they are.
        assert_eq!(read_srw(&j, &RatingMap::Whole).unwrap().qrels[0].grade, 100);
        // A rating the map lacks: file, line, column and path.
        let err = read_srw(&j, &RatingMap::parse("100=3,0=0").unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("judgments.json:9:33:")
                && err.contains("judgmentRatings[0].ratings[1].rating")
                && err.contains("not in the grade map"),
            "{err}"
        );
        std::fs::write(
            &j,
            JUDGMENTS
                .replace("\"1.000\"", "x")
                .replace("\"10.000\"", "\"ten\""),
        )
        .unwrap();
        let err = read_srw(&j, &esci).unwrap_err().to_string();
        assert!(
            err.contains("rating `ten` is not a number") && err.contains(":9:"),
            "{err}"
        );
        assert!(RatingMap::parse("a=1").is_err());
        assert_eq!(RatingMap::parse("scale=10").unwrap().grade(0.6), Ok(6));
        assert!(RatingMap::Whole
            .grade(0.6)
            .unwrap_err()
            .contains("--grades"));
    }

    #[test]
    fn query_sets_and_judgments_agree_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("judgments.json"), JUDGMENTS).unwrap();
        std::fs::write(
            dir.path().join("queryset.json"),
            r#"{"name": "q", "sampling": "manual", "querySetQueries": [{"queryText": "laptop stand"}, {"queryText": "t towels kitchen"}]}"#,
        )
        .unwrap();
        let esci = RatingMap::parse("100=3,10=2,1=1,0=0").unwrap();
        let d = read_srw(dir.path(), &esci).unwrap();
        assert_eq!(
            d.queries
                .iter()
                .map(|q| q.text.as_str())
                .collect::<Vec<_>>(),
            ["laptop stand", "t towels kitchen"]
        );
        assert_eq!(d.qrels.len(), 4);
        let out = tempfile::tempdir().unwrap();
        std::fs::write(
            out.path().join("judgments.json"),
            judgments_json(&d.queries, &d.qrels, &esci, "x").unwrap(),
        )
        .unwrap();
        std::fs::write(
            out.path().join("queryset.json"),
            query_set_json(&d.queries, "x"),
        )
        .unwrap();
        let back = read_srw(out.path(), &esci).unwrap();
        assert_eq!(
            back,
            SrwData {
                files: back.files.clone(),
                ..d
            }
        );
        let text = std::fs::read_to_string(out.path().join("judgments.json")).unwrap();
        assert!(text.contains("\"rating\": \"100.000\""), "{text}");
        std::fs::write(out.path().join("other.json"), "{\"a\": 1}").unwrap();
        let err = read_srw(out.path(), &esci).unwrap_err().to_string();
        assert!(
            err.contains("other.json:1:1") && err.contains("neither SRW judgments"),
            "{err}"
        );
    }
}
