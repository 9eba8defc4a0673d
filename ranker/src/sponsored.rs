//! Sponsored products: campaigns read from a file, an auction per query
//! among the campaigns whose product the query retrieved, and the winners
//! placed at fixed slots of the page by [`crate::rerank::place_sponsored`]
//! (the organic order is kept everywhere else).
//!
//! A campaign file is JSON Lines, one campaign a line:
//!
//! ```json
//! {"campaign": "spring-sofas", "doc": "P0000123", "bid": 0.80, "keywords": ["sofa", "grey couch"]}
//! ```
//!
//! - `campaign`: a unique id (shown on the hit); `doc`: the advertised
//!   product; `bid`: what the advertiser pays per click (> 0).
//! - `keywords` (optional): broad match, as search ads define it: the
//!   campaign takes part when every word of one keyword phrase is among the
//!   query's words (lower-cased, split as the text features split). Without
//!   keywords it takes part in every query.
//! - Relevance gate: a campaign takes part only when its product is among
//!   the candidates the query retrieved (the top `--rerank-depth`), so an
//!   ad is never a product the query does not match.
//!
//! The auction ranks the campaigns taking part by `bid × quality`, quality
//! the model's P(click) of the product for this query (expected cost per
//! impression, as generalised second-price auctions order ads), one
//! campaign per product (its best), and fills the slots in that order.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use hyrank_data::{DocId, Location};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::features::text::tokens;

/// One campaign line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignLine {
    campaign: String,
    doc: String,
    bid: f64,
    #[serde(default)]
    keywords: Vec<String>,
}

/// A campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// Its id.
    pub id: String,
    /// The advertised product.
    pub doc: DocId,
    /// Cost per click.
    pub bid: f64,
    /// Keyword phrases as word sets; empty: every query.
    pub keywords: Vec<Vec<String>>,
}

impl Campaign {
    /// Whether the query (its distinct words) broad-matches a keyword.
    fn matches(&self, words: &HashSet<String>) -> bool {
        self.keywords.is_empty()
            || self
                .keywords
                .iter()
                .any(|k| k.iter().all(|w| words.contains(w)))
    }
}

/// What a sponsored hit carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SponsoredHit {
    /// The campaign.
    pub campaign: String,
    /// Its bid.
    pub bid: f64,
    /// Its auction score, `bid × P(click)`.
    pub ad_rank: f64,
}

/// Every campaign of a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Campaigns {
    campaigns: Vec<Campaign>,
    /// Campaign indices per advertised product.
    by_doc: HashMap<DocId, Vec<usize>>,
}

impl Campaigns {
    /// Campaigns from JSON Lines text; `source` names it in errors. A bad
    /// line is an error naming `source:line:column` and the field; nothing
    /// is loaded then.
    pub fn parse(text: &str, source: &Path) -> Result<Self> {
        let mut out = Self::default();
        let mut ids: HashMap<String, u64> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let n = i as u64 + 1;
            let at = Location::new(source, n);
            let c: CampaignLine = hyrank_data::formats::parse_json(line, at.clone())?;
            let bad = |field: &str, why: String| {
                Error::Data(hyrank_data::Error::parse(at.field(field), why))
            };
            if c.campaign.trim().is_empty() || c.campaign.chars().any(char::is_control) {
                return Err(bad(
                    "campaign",
                    "must be a non-empty id without control characters".into(),
                ));
            }
            if let Some(first) = ids.insert(c.campaign.clone(), n) {
                return Err(bad(
                    "campaign",
                    format!("`{}` is also on line {first}", c.campaign),
                ));
            }
            if c.doc.trim().is_empty() {
                return Err(bad("doc", "must name a product".into()));
            }
            if !(c.bid.is_finite() && c.bid > 0.0) {
                return Err(bad(
                    "bid",
                    format!("must be a positive number, got {}", c.bid),
                ));
            }
            let mut keywords = Vec::with_capacity(c.keywords.len());
            for (k, phrase) in c.keywords.iter().enumerate() {
                let words = tokens(phrase);
                if words.is_empty() {
                    return Err(bad(&format!("keywords[{k}]"), "has no word".into()));
                }
                keywords.push(words);
            }
            let doc = DocId::from(c.doc.as_str());
            out.by_doc
                .entry(doc.clone())
                .or_default()
                .push(out.campaigns.len());
            out.campaigns.push(Campaign {
                id: c.campaign,
                doc,
                bid: c.bid,
                keywords,
            });
        }
        Ok(out)
    }

    /// Reads a campaign file (see the module docs).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Data(hyrank_data::Error::io(path, e)))?;
        Self::parse(&text, path)
    }

    /// Campaigns loaded.
    pub fn len(&self) -> usize {
        self.campaigns.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.campaigns.is_empty()
    }

    /// The auction for `query` over its candidates `docs` (the relevance
    /// gate) with `p_click[i]` each candidate's predicted click probability:
    /// the winners best first, as (candidate index, what the hit carries),
    /// one per product. Ties go to the earlier candidate, then the earlier
    /// campaign.
    pub fn auction(
        &self,
        query: &str,
        docs: &[DocId],
        p_click: &[f64],
    ) -> Vec<(usize, SponsoredHit)> {
        if self.campaigns.is_empty() {
            return Vec::new();
        }
        let words: HashSet<String> = tokens(query).into_iter().collect();
        let mut bids: Vec<(usize, usize, f64)> = Vec::new();
        for (i, d) in docs.iter().enumerate() {
            let Some(cs) = self.by_doc.get(d) else {
                continue;
            };
            let quality = p_click
                .get(i)
                .copied()
                .filter(|p| p.is_finite())
                .unwrap_or(0.0);
            let best = cs
                .iter()
                .filter(|&&c| self.campaigns[c].matches(&words))
                .map(|&c| (c, self.campaigns[c].bid * quality))
                .fold(None::<(usize, f64)>, |b, (c, r)| match b {
                    Some((_, br)) if br >= r => b,
                    _ => Some((c, r)),
                });
            if let Some((c, r)) = best {
                bids.push((i, c, r));
            }
        }
        bids.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        bids.into_iter()
            .map(|(i, c, ad_rank)| {
                let c = &self.campaigns[c];
                (
                    i,
                    SponsoredHit {
                        campaign: c.id.clone(),
                        bid: c.bid,
                        ad_rank,
                    },
                )
            })
            .collect()
    }
}

/// A sponsored candidate shown: its index and what its hit carries.
pub type Placed = (usize, SponsoredHit);

/// Sponsored slots of the re-rank layer: the campaigns and the 1-based
/// positions they may take.
#[derive(Debug, Clone, PartialEq)]
pub struct SponsoredSlots {
    /// The campaigns.
    pub campaigns: std::sync::Arc<Campaigns>,
    /// Positions, increasing, 1-based.
    pub positions: Vec<usize>,
}

impl SponsoredSlots {
    /// Slots at `positions` (1-based, increasing, at least one).
    pub fn new(campaigns: std::sync::Arc<Campaigns>, positions: Vec<usize>) -> Result<Self> {
        if positions.is_empty()
            || positions.contains(&0)
            || positions.windows(2).any(|w| w[1] <= w[0])
        {
            return Err(Error::InvalidArgument(format!(
                "sponsored positions must be 1-based and increasing, got {positions:?}"
            )));
        }
        Ok(Self {
            campaigns,
            positions,
        })
    }

    /// The page of `page_len` over the organic `order` (indices into
    /// `docs`): the auction's winners at the slots, the organic order kept
    /// everywhere else, an advertised product not shown twice. Returns the
    /// page's indices and, for each sponsored one, what it carries.
    pub fn place(
        &self,
        query: &str,
        docs: &[DocId],
        p_click: &[f64],
        order: &[usize],
        page_len: usize,
    ) -> Result<(Vec<usize>, Vec<Placed>)> {
        let winners = self.campaigns.auction(query, docs, p_click);
        let ads: Vec<usize> = winners.iter().map(|(i, _)| *i).collect();
        let page = crate::rerank::place_sponsored(order, &ads, &self.positions, page_len, Some)?;
        let mut shown = Vec::new();
        let indices = page
            .into_iter()
            .map(|s| match s {
                crate::rerank::Slot::Organic(i) => i,
                crate::rerank::Slot::Sponsored(i) => {
                    if let Some((_, hit)) = winners.iter().find(|(w, _)| *w == i) {
                        shown.push((i, hit.clone()));
                    }
                    i
                }
            })
            .collect();
        Ok((indices, shown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<DocId> {
        v.iter().map(|s| DocId::from(*s)).collect()
    }

    #[test]
    fn the_auction_needs_a_retrieved_product_and_a_matching_keyword() {
        let text = r#"
{"campaign": "a", "doc": "P2", "bid": 1.0, "keywords": ["grey sofa"]}
{"campaign": "b", "doc": "P3", "bid": 0.5}
{"campaign": "c", "doc": "P9", "bid": 9.0}
{"campaign": "d", "doc": "P3", "bid": 0.6, "keywords": ["lamp"]}
"#;
        let c = Campaigns::parse(text, Path::new("ads.jsonl")).unwrap();
        assert_eq!(c.len(), 4);
        let docs = ids(&["P1", "P2", "P3"]);
        let p = [0.5, 0.1, 0.4];
        // "sofa grey" broad-matches "grey sofa"; P9 was not retrieved; d's keyword does not match.
        let w = c.auction("Sofa, grey", &docs, &p);
        let got: Vec<(usize, &str)> = w.iter().map(|(i, h)| (*i, h.campaign.as_str())).collect();
        assert_eq!(got, vec![(2, "b"), (1, "a")], "0.5*0.4 = 0.2 beats 1.0*0.1");
        assert!((w[0].1.ad_rank - 0.2).abs() < 1e-12);
        let w = c.auction("sofa", &docs, &p);
        assert_eq!(w.len(), 1, "\"grey sofa\" needs both words");
        // One campaign per product: d outbids b on a lamp query.
        let w = c.auction("lamp", &docs, &p);
        assert_eq!(w[0].1.campaign, "d");
    }

    #[test]
    fn slots_keep_the_organic_order_and_do_not_show_a_product_twice() {
        let c = Campaigns::parse(
            r#"{"campaign": "x", "doc": "P3", "bid": 1.0}"#,
            Path::new("ads.jsonl"),
        )
        .unwrap();
        let slots = SponsoredSlots::new(std::sync::Arc::new(c), vec![1, 4]).unwrap();
        let docs = ids(&["P1", "P2", "P3", "P4", "P5"]);
        let (page, shown) = slots
            .place("q", &docs, &[0.1; 5], &[0, 1, 2, 3, 4], 4)
            .unwrap();
        assert_eq!(page, vec![2, 0, 1, 3], "P3 at slot 1, not again at 3");
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].0, 2);
        assert!(SponsoredSlots::new(slots.campaigns.clone(), vec![]).is_err());
        assert!(SponsoredSlots::new(slots.campaigns.clone(), vec![3, 2]).is_err());
    }

    #[test]
    fn bad_campaign_lines_name_the_line_and_the_field() {
        let cases = [
            ("{\"campaign\": \"a\", \"doc\": \"P1\", \"bid\": 0}", "ads.jsonl:1", "bid"),
            (
                "{\"campaign\": \"a\", \"doc\": \"P1\", \"bid\": 1}\n{\"campaign\": \"a\", \"doc\": \"P2\", \"bid\": 1}",
                "ads.jsonl:2",
                "line 1",
            ),
            ("{\"campaign\": \"a\", \"doc\": \"P1\", \"bid\": 1, \"budget\": 5}", "ads.jsonl:1", "budget"),
            ("{\"campaign\": \"a\", \"doc\": \"P1\", \"bid\": 1, \"keywords\": [\"!!\"]}", "ads.jsonl:1", "keywords[0]"),
            ("{\"campaign\": \"a\", \"doc\": \"P1\", \"bid\": \"x\"}", "ads.jsonl:1", "bid"),
        ];
        for (text, at, what) in cases {
            let e = Campaigns::parse(text, Path::new("ads.jsonl"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(at) && e.contains(what), "{text}: {e}");
        }
    }
}
