//! How simulated users react to a page: the [`UserModel`] contract, the
//! synthetic world's users ([`WorldUsers`]), the examination curve, the
//! behaviour knobs and drift.

use serde::{Deserialize, Serialize};

use super::catalog::doc_index;
use super::queries::{label, SimQuery};
use super::World;
use crate::error::{Error, Result};
use crate::types::{DocId, EsciLabel, QueryId};

/// A document shown to a simulated user.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    /// The query's id.
    pub query_id: &'a QueryId,
    /// The query text.
    pub query: &'a str,
    /// The document.
    pub doc: &'a DocId,
    /// Its 1-based position.
    pub position: usize,
    /// The user's price sensitivity (log-normal, median 1).
    pub price_sensitivity: f64,
    /// The simulated day (drift applies from a day on).
    pub day: u32,
}

/// How a simulated user reacts to a shown document: the synthetic world's
/// truth ([`WorldUsers`]), or an environment fitted on logs.
///
/// Contract: `None` for a document the model knows nothing of (it is shown
/// but never clicked or bought); probabilities in [0, 1].
pub trait UserModel: Send + Sync {
    /// P(click) of the shown document (examination included).
    fn click_probability(&self, shown: &Shown<'_>) -> Option<f64>;
    /// After a click: P(purchase) and the unit price paid.
    fn purchase(&self, shown: &Shown<'_>) -> Option<(f64, f64)>;
}

/// The synthetic world's users: clicks from examination × attractiveness of
/// the true label × popularity; purchases from the label, the price
/// relative to the category's median (drift included), the user's price
/// sensitivity, quality and popularity.
#[derive(Debug)]
pub struct WorldUsers<'w> {
    world: &'w World,
    behaviour: &'w Behaviour,
    drift: Option<(&'w Drift, u16)>,
}

impl<'w> WorldUsers<'w> {
    /// The users of `world` with `behaviour` and, from its day on, `drift`.
    pub fn new(
        world: &'w World,
        behaviour: &'w Behaviour,
        drift: Option<&'w Drift>,
    ) -> Result<Self> {
        let drift = match drift {
            Some(d) => Some((d, d.leaf(world)?)),
            None => None,
        };
        Ok(Self {
            world,
            behaviour,
            drift,
        })
    }

    fn truth(
        &self,
        shown: &Shown<'_>,
    ) -> Option<(&SimQuery, &super::catalog::ProductTruth, usize, f64)> {
        let q = self.world.query(shown.query_id)?;
        let p = doc_index(shown.doc).and_then(|x| self.world.products.get(x as usize))?;
        let l = Behaviour::grade_index(label(&q.intent, p, &self.world.leaves));
        let pop = f64::from(p.popularity)
            .powf(self.behaviour.popularity_effect)
            .clamp(0.3, 3.0);
        Some((q, p, l, pop))
    }
}

impl UserModel for WorldUsers<'_> {
    fn click_probability(&self, shown: &Shown<'_>) -> Option<f64> {
        let (_, _, l, pop) = self.truth(shown)?;
        let b = self.behaviour;
        Some(b.examination.probability(shown.position) * (b.attractiveness[l] * pop).min(0.95))
    }

    fn purchase(&self, shown: &Shown<'_>) -> Option<(f64, f64)> {
        let (_, p, l, pop) = self.truth(shown)?;
        let mut price = f64::from(p.price);
        if let Some((d, leaf)) = self.drift {
            if shown.day >= d.day && p.leaf == leaf {
                price *= d.price;
            }
        }
        let median = self.world.leaves[p.leaf as usize].spec.median_price;
        let rel_price = (price / median).max(0.05);
        let price_factor = rel_price.powf(-shown.price_sensitivity).clamp(0.2, 2.0);
        let p_buy = (self.behaviour.purchase_given_click[l]
            * price_factor
            * (0.5 + f64::from(p.quality))
            * pop)
            .min(0.9);
        Some((p_buy, price))
    }
}

/// Probability of examining each position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Examination {
    /// A web-search list: the position-based model fitted on the Yandex
    /// WSCD 2012 sample (0.81, 0.57, 0.47, 0.39, 0.30, 0.27, 0.25, 0.21,
    /// 0.22, 0.21), then 0.21 · 0.9^(r-10) below rank 10.
    Web,
    /// A product grid: `per_row` tiles a row; a row is examined with
    /// 0.85 · 0.78^row, a tile within it with 1 − 0.06 · column.
    Grid {
        /// Tiles per row.
        per_row: usize,
    },
}

impl Examination {
    const WEB: [f64; 10] = [0.81, 0.57, 0.47, 0.39, 0.30, 0.27, 0.25, 0.21, 0.22, 0.21];

    /// P(examined) at 1-based `position`.
    pub fn probability(&self, position: usize) -> f64 {
        let r = position.max(1) - 1;
        match self {
            Examination::Web => Self::WEB
                .get(r)
                .copied()
                .unwrap_or_else(|| 0.21 * 0.9f64.powi(r as i32 - 9)),
            Examination::Grid { per_row } => {
                let per_row = (*per_row).max(1);
                0.85 * 0.78f64.powi((r / per_row) as i32) * (1.0 - 0.06 * (r % per_row) as f64)
            }
        }
    }
}

/// How simulated shoppers behave. Defaults are plausible, not measured,
/// except the examination curve (see [`Examination::Web`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Behaviour {
    /// Examination model.
    pub examination: Examination,
    /// P(click | examined) for E, S, C, I.
    pub attractiveness: [f64; 4],
    /// P(purchase | click) for E, S, C, I at the category's median price.
    pub purchase_given_click: [f64; 4],
    /// Exponent of popularity in click and purchase propensity.
    pub popularity_effect: f64,
    /// Log-space spread of users' price sensitivity (median 1).
    pub price_sensitivity_sigma: f64,
    /// Mean number of queries in a session.
    pub queries_per_session: f64,
    /// P(add to cart, no purchase | click) relative to P(purchase | click).
    pub abandoned_cart_ratio: f64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            examination: Examination::Web,
            attractiveness: [0.15, 0.06, 0.025, 0.008],
            purchase_given_click: [0.045, 0.015, 0.01, 0.001],
            popularity_effect: 0.25,
            price_sensitivity_sigma: 0.5,
            queries_per_session: 1.5,
            abandoned_cart_ratio: 0.6,
        }
    }
}

impl Behaviour {
    pub(super) fn grade_index(l: EsciLabel) -> usize {
        match l {
            EsciLabel::Exact => 0,
            EsciLabel::Substitute => 1,
            EsciLabel::Complement => 2,
            EsciLabel::Irrelevant => 3,
        }
    }
}

/// A change in the world from a given day on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// First simulated day (0-based) it applies to.
    pub day: u32,
    /// Leaf category name (e.g. `Sofas`).
    pub category: String,
    /// Multiplier of that category's query traffic.
    pub demand: f64,
    /// Multiplier of that category's prices.
    pub price: f64,
}

impl Drift {
    /// Parses `day=20,category=Sofas,demand=2.0,price=1.2`.
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let mut d = Drift {
            day: 0,
            category: String::new(),
            demand: 1.0,
            price: 1.0,
        };
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not KEY=VALUE"))?;
            let num = |v: &str| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| format!("`{k}={v}` needs a positive number"))
            };
            match k.trim() {
                "day" => {
                    d.day = v
                        .trim()
                        .parse()
                        .map_err(|_| format!("`day={v}` needs a whole number"))?
                }
                "category" => d.category = v.trim().to_owned(),
                "demand" => d.demand = num(v)?,
                "price" => d.price = num(v)?,
                other => {
                    return Err(format!(
                        "unknown drift key `{other}` (day, category, demand, price)"
                    ))
                }
            }
        }
        if d.category.is_empty() {
            return Err("drift needs category=NAME".into());
        }
        Ok(d)
    }

    /// The index of the drifting leaf category in `world`.
    pub(crate) fn leaf(&self, world: &World) -> Result<u16> {
        world
            .leaves
            .iter()
            .position(|l| l.spec.name.eq_ignore_ascii_case(&self.category))
            .map(|i| i as u16)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("drift: unknown category `{}`", self.category))
            })
    }
}
