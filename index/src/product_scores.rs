//! Retrieval scores for given products: what the retrievers would say about
//! a (query, product) pair, including products today's retriever would not
//! return (a logged product, a judged one). Ranking features are built on
//! these, for training and serving alike.

use hyrank_data::DocId;
use serde::Serialize;

use crate::error::Result;
use crate::generation::SearchIndex;
use crate::{FieldBoosts, Filter, SearchOptions};
use std::collections::HashMap;

/// The retrievers' view of one product for one query.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProductScores {
    /// BM25 score (0 when no query term matches); `None` when the index
    /// does not hold the product.
    pub bm25: Option<f32>,
    /// Inner product of the query's and the product's embeddings (cosine:
    /// both are unit length), the dense retriever's score; `None` without
    /// vectors, without the encoder, or for a product without a vector.
    pub cosine: Option<f32>,
    /// The product's 1-based rank in BM25's ranking of the whole catalogue
    /// for the query; `None` below [`RANK_CAP`] (or not matching at all).
    pub bm25_rank: Option<u32>,
    /// Its 1-based rank in the exact dense ranking of the catalogue;
    /// `None` below [`RANK_CAP`] or without vectors.
    pub cosine_rank: Option<u32>,
}

/// The deepest rank [`SearchIndex::score_products`] reports.
pub const RANK_CAP: usize = 1000;

impl SearchIndex {
    /// Scores `ids` for `text` with both retrievers, in the order given,
    /// whether or not a search would return them. The scores are those the
    /// searches give (BM25 with `fields` or the index's boosts; the exact
    /// dense score), so a feature computed here for a returned product equals
    /// the one its retrieval reported. The ranks are each retriever's rank of
    /// the product in the whole catalogue (exact dense search), down to
    /// [`RANK_CAP`]: the same number whether the product is one of ten
    /// logged results or one of a thousand candidates.
    pub fn score_products(
        &self,
        text: &str,
        ids: &[DocId],
        fields: Option<&FieldBoosts>,
    ) -> Result<Vec<ProductScores>> {
        let parser = fields.map(|f| self.bm25.parser(f)).transpose()?;
        let bm25 = self.bm25.score_docs(text, ids, parser.as_ref())?;
        let mut bm25_ranks: HashMap<DocId, u32> = HashMap::new();
        if !ids.is_empty() {
            let top = self
                .bm25
                .search_with(text, RANK_CAP, &Filter::default(), parser.as_ref())?;
            for (i, (d, _)) in top.into_iter().enumerate() {
                bm25_ranks.insert(d, i as u32 + 1);
            }
        }
        let (cosine, cosine_ranks): (Vec<Option<f32>>, HashMap<usize, u32>) =
            match (&self.vectors, &self.encoder) {
                (Some(v), Some(e)) if !ids.is_empty() => {
                    let q = e.encode(&[text])?.pop().unwrap_or_default();
                    let exact = SearchOptions {
                        exact: true,
                        ..SearchOptions::default()
                    };
                    let top = v.search_batch(std::slice::from_ref(&q), RANK_CAP, None, exact)?;
                    let ranks = top
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(|(i, (row, _))| (row, i as u32 + 1))
                        .collect();
                    let cos = ids
                        .iter()
                        .map(|id| {
                            v.row_of(id).map(|row| {
                                v.vector(row)
                                    .iter()
                                    .zip(&q)
                                    .map(|(a, b)| a * b)
                                    .sum::<f32>()
                            })
                        })
                        .collect();
                    (cos, ranks)
                }
                _ => (vec![None; ids.len()], HashMap::new()),
            };
        Ok(ids
            .iter()
            .zip(bm25.into_iter().zip(cosine))
            .map(|(id, (bm25, cosine))| ProductScores {
                bm25,
                cosine,
                bm25_rank: bm25_ranks.get(id).copied(),
                cosine_rank: self
                    .vectors
                    .as_ref()
                    .and_then(|v| v.row_of(id))
                    .and_then(|row| cosine_ranks.get(&row).copied()),
            })
            .collect())
    }
}
