//! [`SearchConfig`]: one search, configured. What `hyrank search`'s flags,
//! the API's parameters, a search config file (`--config FILE`, written by
//! `hyrank tune`) and an index's stored default all become, validated in one
//! place.
//!
//! Precedence, lowest first: the built-in defaults, the index's stored
//! config (`search.json` in the index folder), a `--config` file, then the
//! flags or parameters of the search itself ([`SearchConfig::overlay`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bm25::{FieldBoosts, Filter};
use crate::error::{Error, Result};
use crate::fusion::{Fusion, Normalization};
use crate::retriever::{Mode, RetrieverSpec};
use crate::vectors::SearchOptions;

/// Most results one search may ask for (`k`).
pub const MAX_K: usize = 1000;
/// Most candidates a hybrid search may take from each retriever (`depth`).
pub const MAX_DEPTH: usize = 10_000;
/// Longest query, in bytes (the encoder truncates at 256 tokens anyway).
pub const MAX_QUERY_BYTES: usize = 1024;
/// The file an index folder keeps its default search config in.
pub const INDEX_CONFIG_FILE: &str = "search.json";

/// Hybrid fusion method (`rrf` or `linear`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    /// Reciprocal rank fusion.
    #[default]
    Rrf,
    /// Linear combination of normalised scores.
    Linear,
}

/// Everything that configures one search. In a file it is JSON with these
/// names; every field is optional there (missing ones keep the layer below).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// `bm25`, `dense` or `hybrid`.
    pub mode: Mode,
    /// Results (1 to [`MAX_K`]).
    pub k: usize,
    /// BM25 field boosts, `title^2,description^0.5,...` (`None`: the index's).
    #[serde(with = "fields_text", skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldBoosts>,
    /// Hybrid: `rrf` or `linear`.
    pub fusion: FusionMethod,
    /// Hybrid RRF: the constant k (> 0).
    pub rrf_k: f32,
    /// Hybrid linear: `minmax`, `zscore` or `dbsf`.
    pub norm: Normalization,
    /// Hybrid: BM25's weight.
    pub bm25_weight: f32,
    /// Hybrid: the dense retriever's weight.
    pub dense_weight: f32,
    /// Hybrid: candidates taken from each retriever before fusion (1 to
    /// [`MAX_DEPTH`]; at least `k` are always taken).
    pub depth: usize,
    /// Filter: a category path prefix or one element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Filter: a brand (case-insensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Filter: lowest price, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_price: Option<f64>,
    /// Filter: highest price, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price: Option<f64>,
    /// Scan every vector even when the index has an HNSW graph.
    pub exact: bool,
    /// HNSW candidate list (`None`: the index's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ef_search: Option<usize>,
    /// HNSW level-1 beam (`None`: the index's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper_beam: Option<usize>,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Hybrid,
            k: 10,
            fields: None,
            fusion: FusionMethod::Rrf,
            rrf_k: 60.0,
            norm: Normalization::MinMax,
            bm25_weight: 1.0,
            dense_weight: 1.0,
            depth: 100,
            category: None,
            brand: None,
            min_price: None,
            max_price: None,
            exact: false,
            ef_search: None,
            upper_beam: None,
        }
    }
}

/// `fields` as Elasticsearch's `field^boost` text in JSON.
mod fields_text {
    use serde::{de, Deserialize, Deserializer, Serializer};

    use crate::bm25::FieldBoosts;

    pub fn serialize<S: Serializer>(f: &Option<FieldBoosts>, s: S) -> Result<S::Ok, S::Error> {
        match f {
            Some(f) => s.collect_str(f),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FieldBoosts>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(t) => FieldBoosts::parse(&t).map(Some).map_err(de::Error::custom),
        }
    }
}

/// The fields of one layer that are set; [`SearchConfig::overlay`] applies
/// them over a base. Filled from CLI flags or API parameters (`None`: not given).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigLayer {
    /// See [`SearchConfig`].
    pub mode: Option<Mode>,
    /// See [`SearchConfig`].
    pub k: Option<usize>,
    /// See [`SearchConfig`].
    pub fields: Option<FieldBoosts>,
    /// See [`SearchConfig`].
    pub fusion: Option<FusionMethod>,
    /// See [`SearchConfig`].
    pub rrf_k: Option<f32>,
    /// See [`SearchConfig`].
    pub norm: Option<Normalization>,
    /// See [`SearchConfig`].
    pub bm25_weight: Option<f32>,
    /// See [`SearchConfig`].
    pub dense_weight: Option<f32>,
    /// See [`SearchConfig`].
    pub depth: Option<usize>,
    /// See [`SearchConfig`].
    pub category: Option<String>,
    /// See [`SearchConfig`].
    pub brand: Option<String>,
    /// See [`SearchConfig`].
    pub min_price: Option<f64>,
    /// See [`SearchConfig`].
    pub max_price: Option<f64>,
    /// See [`SearchConfig`] (`Some(true)` turns it on).
    pub exact: Option<bool>,
    /// See [`SearchConfig`].
    pub ef_search: Option<usize>,
    /// See [`SearchConfig`].
    pub upper_beam: Option<usize>,
}

impl SearchConfig {
    /// `layer`'s set fields over `self`.
    #[must_use]
    pub fn overlay(mut self, layer: &ConfigLayer) -> Self {
        macro_rules! set {
            ($($f:ident),*) => {$(
                if let Some(v) = &layer.$f {
                    self.$f = v.clone();
                }
            )*};
        }
        set!(
            mode,
            k,
            fusion,
            rrf_k,
            norm,
            bm25_weight,
            dense_weight,
            depth,
            exact
        );
        macro_rules! set_opt {
            ($($f:ident),*) => {$(
                if layer.$f.is_some() {
                    self.$f = layer.$f.clone();
                }
            )*};
        }
        set_opt!(fields, category, brand, min_price, max_price, ef_search, upper_beam);
        self
    }

    /// Checks every parameter ([`Error::InvalidArgument`] naming it).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.k == 0 || self.k > MAX_K {
            return bad(format!("k must be 1 to {MAX_K}, got {}", self.k));
        }
        if self.depth == 0 || self.depth > MAX_DEPTH {
            return bad(format!(
                "depth must be 1 to {MAX_DEPTH}, got {}",
                self.depth
            ));
        }
        if self.ef_search == Some(0) {
            return bad("ef_search must be > 0".into());
        }
        if self.upper_beam == Some(0) {
            return bad("upper_beam must be > 0".into());
        }
        if let Some(f) = &self.fields {
            f.validate()?;
        }
        crate::fusion::fuse(&self.fusion(), &[&[], &[]], &self.weights())?;
        self.filter().validate()
    }

    /// Checks a query text: not blank, at most [`MAX_QUERY_BYTES`].
    pub fn validate_query(q: &str) -> Result<()> {
        if q.trim().is_empty() {
            return Err(Error::InvalidArgument("the query is empty".into()));
        }
        if q.len() > MAX_QUERY_BYTES {
            return Err(Error::InvalidArgument(format!(
                "the query is {} bytes, at most {MAX_QUERY_BYTES}",
                q.len()
            )));
        }
        Ok(())
    }

    /// The fusion.
    pub fn fusion(&self) -> Fusion {
        match self.fusion {
            FusionMethod::Rrf => Fusion::Rrf { k: self.rrf_k },
            FusionMethod::Linear => Fusion::Linear {
                normalization: self.norm,
            },
        }
    }

    /// The hybrid weights (BM25, dense).
    pub fn weights(&self) -> [f32; 2] {
        [self.bm25_weight, self.dense_weight]
    }

    /// The retriever this config asks for.
    pub fn retriever_spec(&self) -> RetrieverSpec {
        RetrieverSpec {
            mode: self.mode,
            fusion: self.fusion(),
            weights: self.weights(),
            depth: self.depth,
            fields: self.fields,
            options: Some(self.search_options()),
        }
    }

    /// The filter.
    pub fn filter(&self) -> Filter {
        Filter {
            category: self.category.clone(),
            brand: self.brand.clone(),
            min_price: self.min_price,
            max_price: self.max_price,
        }
    }

    /// The vector search options.
    pub fn search_options(&self) -> SearchOptions {
        SearchOptions {
            exact: self.exact,
            ef_search: self.ef_search,
            upper_beam: self.upper_beam,
            ..SearchOptions::default()
        }
    }

    /// Reads a search config file (JSON; see the type's docs); an error
    /// names the file, line, column and key.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let c: SearchConfig =
            hyrank_data::formats::parse_json(&text, hyrank_data::Location::new(path, 1))?;
        c.validate().map_err(|e| {
            Error::InvalidArgument(format!(
                "{}: {}",
                path.display(),
                e.to_string().trim_start_matches("invalid argument: ")
            ))
        })?;
        Ok(c)
    }

    /// Writes it as a config file, atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_string_pretty(self)
            .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        json.push('\n');
        hyrank_data::fsio::write_atomic(path, json.as_bytes())?;
        Ok(())
    }

    /// The index folder's stored default, if it has one.
    pub fn of_index(dir: &Path) -> Result<Option<Self>> {
        let p = dir.join(INDEX_CONFIG_FILE);
        if p.exists() {
            Self::read(&p).map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_layers_overlay_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("search.json");
        let c = SearchConfig {
            mode: Mode::Bm25,
            fields: Some(FieldBoosts::parse("title^3,description").unwrap()),
            ..SearchConfig::default()
        };
        c.write(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("\"fields\": \"title^3,description^1\""),
            "{text}"
        );
        assert_eq!(SearchConfig::read(&p).unwrap(), c);
        let layered = c.clone().overlay(&ConfigLayer {
            k: Some(5),
            mode: Some(Mode::Hybrid),
            ..ConfigLayer::default()
        });
        assert_eq!(
            (layered.k, layered.mode, layered.fields),
            (5, Mode::Hybrid, c.fields)
        );

        std::fs::write(&p, "{\n  \"mode\": \"bm25\",\n  \"kk\": 3\n}").unwrap();
        let err = SearchConfig::read(&p).unwrap_err().to_string();
        assert!(
            err.contains("search.json:3:") && err.contains("unknown field `kk`"),
            "{err}"
        );
        std::fs::write(&p, "{\"fields\": \"title^x\"}").unwrap();
        let err = SearchConfig::read(&p).unwrap_err().to_string();
        assert!(
            err.contains("search.json:1:") && err.contains("boost `x`"),
            "{err}"
        );
        std::fs::write(&p, "{\"depth\": 0}").unwrap();
        let err = SearchConfig::read(&p).unwrap_err().to_string();
        assert!(
            err.contains("search.json") && err.contains("depth must be 1"),
            "{err}"
        );
        assert!(SearchConfig::validate_query("  ").is_err());
        assert!(SearchConfig {
            rrf_k: 0.0,
            ..SearchConfig::default()
        }
        .validate()
        .is_err());
    }
}
