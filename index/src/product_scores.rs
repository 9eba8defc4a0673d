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
    /// BM25 of each field alone (title, description, brand, category, in
    /// [`FieldBoosts::NAMES`] order, boost 1); `None` for a product the index
    /// does not hold.
    pub field_bm25: [Option<f32>; 4],
}

/// A query's vector and the dense ranks of the rows in its top [`RANK_CAP`].
type DenseView = Option<(Vec<f32>, HashMap<usize, u32>)>;

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
        Ok(self
            .score_products_batch(&[(text, ids)], fields)?
            .pop()
            .unwrap_or_default())
    }

    /// [`SearchIndex::score_products`] for many queries at once: the
    /// queries are encoded and searched densely in batches (what training
    /// on a log with thousands of distinct queries needs); the same numbers.
    pub fn score_products_batch(
        &self,
        requests: &[(&str, &[DocId])],
        fields: Option<&FieldBoosts>,
    ) -> Result<Vec<Vec<ProductScores>>> {
        const BATCH: usize = 64;
        let parser = fields.map(|f| self.bm25.parser(f)).transpose()?;
        let single: Vec<_> = (0..4)
            .map(|i| {
                let mut a = [0.0f32; 4];
                a[i] = 1.0;
                self.bm25.parser(&FieldBoosts::from_array(a))
            })
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(BATCH) {
            // Dense: one encoding pass and one exact search for the chunk.
            let dense: Vec<DenseView> = match (&self.vectors, &self.encoder) {
                (Some(v), Some(e)) => {
                    let texts: Vec<&str> = chunk.iter().map(|(t, _)| *t).collect();
                    let qs = e.encode(&texts)?;
                    let exact = SearchOptions {
                        exact: true,
                        ..SearchOptions::default()
                    };
                    let tops = v.search_batch(&qs, RANK_CAP, None, exact)?;
                    qs.into_iter()
                        .zip(tops)
                        .map(|(q, top)| {
                            let ranks = top
                                .into_iter()
                                .enumerate()
                                .map(|(i, (row, _))| (row, i as u32 + 1))
                                .collect();
                            Some((q, ranks))
                        })
                        .collect()
                }
                _ => vec![None; chunk.len()],
            };
            for ((text, ids), dense) in chunk.iter().zip(dense) {
                if ids.is_empty() {
                    out.push(Vec::new());
                    continue;
                }
                let bm25 = self.bm25.score_docs(text, ids, parser.as_ref())?;
                let per_field = single
                    .iter()
                    .map(|p| self.bm25.score_docs(text, ids, Some(p)))
                    .collect::<Result<Vec<_>>>()?;
                let top =
                    self.bm25
                        .search_with(text, RANK_CAP, &Filter::default(), parser.as_ref())?;
                let bm25_ranks: HashMap<DocId, u32> = top
                    .into_iter()
                    .enumerate()
                    .map(|(i, (d, _))| (d, i as u32 + 1))
                    .collect();
                let row = |id: &DocId| self.vectors.as_ref().and_then(|v| v.row_of(id));
                out.push(
                    ids.iter()
                        .zip(bm25)
                        .enumerate()
                        .map(|(k, (id, bm25))| {
                            let (cosine, cosine_rank) = match (&dense, &self.vectors, row(id)) {
                                (Some((q, ranks)), Some(v), Some(r)) => (
                                    Some(
                                        v.vector(r).iter().zip(q).map(|(a, b)| a * b).sum::<f32>(),
                                    ),
                                    ranks.get(&r).copied(),
                                ),
                                _ => (None, None),
                            };
                            ProductScores {
                                bm25,
                                cosine,
                                bm25_rank: bm25_ranks.get(id).copied(),
                                cosine_rank,
                                field_bm25: std::array::from_fn(|f| per_field[f][k]),
                            }
                        })
                        .collect(),
                );
            }
        }
        Ok(out)
    }
}
