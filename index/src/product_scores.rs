//! Retrieval scores for given products: what the retrievers would say about
//! a (query, product) pair, including products today's retriever would not
//! return (a logged product, a judged one). Ranking features are built on
//! these, for training and serving alike.

use hyrank_data::DocId;
use serde::Serialize;

use crate::error::Result;
use crate::generation::SearchIndex;
use crate::FieldBoosts;

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
}

impl SearchIndex {
    /// Scores `ids` for `text` with both retrievers, in the order given,
    /// whether or not a search would return them. The scores are those the
    /// searches give (BM25 with `fields` or the index's boosts; the exact
    /// dense score), so a feature computed here for a returned product equals
    /// the one its retrieval reported.
    pub fn score_products(
        &self,
        text: &str,
        ids: &[DocId],
        fields: Option<&FieldBoosts>,
    ) -> Result<Vec<ProductScores>> {
        let parser = fields.map(|f| self.bm25.parser(f)).transpose()?;
        let bm25 = self.bm25.score_docs(text, ids, parser.as_ref())?;
        let cosine: Vec<Option<f32>> = match (&self.vectors, &self.encoder) {
            (Some(v), Some(e)) if !ids.is_empty() => {
                let q = e.encode(&[text])?.pop().unwrap_or_default();
                ids.iter()
                    .map(|id| {
                        v.row_of(id).map(|row| {
                            v.vector(row)
                                .iter()
                                .zip(&q)
                                .map(|(a, b)| a * b)
                                .sum::<f32>()
                        })
                    })
                    .collect()
            }
            _ => vec![None; ids.len()],
        };
        Ok(bm25
            .into_iter()
            .zip(cosine)
            .map(|(bm25, cosine)| ProductScores { bm25, cosine })
            .collect())
    }
}
