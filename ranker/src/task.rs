//! Rankers trained on the interaction log: a click head and a purchase head
//! (logistic regression per task, or the multi-task network), or LambdaMART
//! on graded outcomes, with the final score they rank by.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gbdt::{FeatureMatrix, GbdtModel};
use crate::linear::LogisticModel;
use crate::mtl::MtlNet;

/// What the final score is.
///
/// - `p_click`: rank by pCTR; for engagement, or while purchases are too few
///   to learn from.
/// - `p_purchase`: rank by P(click ∧ purchase) (pCTCVR); the default, for a
///   shop that is paid per order.
/// - `expected_revenue`: pCTCVR × price; for gross merchandise value, at the
///   risk of pushing expensive products a user will not buy.
/// - `blend`: `click · pCTR + purchase · pCTCVR`; to trade engagement
///   against orders with weights chosen on an experiment.
///
/// LambdaMART learns one ranking score and ignores the choice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum FinalScore {
    /// pCTR.
    PClick,
    /// pCTCVR.
    PPurchase,
    /// pCTCVR × price.
    ExpectedRevenue,
    /// A weighted sum of pCTR and pCTCVR.
    Blend {
        /// Weight of pCTR.
        click: f64,
        /// Weight of pCTCVR.
        purchase: f64,
    },
}

impl FinalScore {
    /// Parses `p_click`, `p_purchase`, `expected_revenue` or `blend:W1,W2`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "p_click" => Ok(Self::PClick),
            "p_purchase" => Ok(Self::PPurchase),
            "expected_revenue" => Ok(Self::ExpectedRevenue),
            _ => {
                let bad = || {
                    Error::InvalidArgument(format!(
                        "final score `{s}`: use p_click, p_purchase, expected_revenue or blend:W_CLICK,W_PURCHASE"
                    ))
                };
                let (a, b) = s
                    .strip_prefix("blend:")
                    .and_then(|w| w.split_once(','))
                    .ok_or_else(bad)?;
                let click: f64 = a.trim().parse().map_err(|_| bad())?;
                let purchase: f64 = b.trim().parse().map_err(|_| bad())?;
                if !(click.is_finite() && purchase.is_finite()) {
                    return Err(bad());
                }
                Ok(Self::Blend { click, purchase })
            }
        }
    }
}

/// The models behind a [`TaskRanker`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Heads {
    /// One logistic regression per task: clicks, and purchases over all
    /// impressions (so its probability is pCTCVR).
    Logistic {
        /// P(click).
        click: LogisticModel,
        /// P(click ∧ purchase).
        purchase: LogisticModel,
    },
    /// LambdaMART on the grades purchase 3, add-to-cart 2, click 1, 0.
    LambdaMart {
        /// The trees.
        model: GbdtModel,
    },
    /// The multi-task network (ESMM; shared-bottom or MMoE).
    Mtl {
        /// The network.
        net: MtlNet,
    },
}

/// One candidate's predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TaskScores {
    /// P(click), where the model predicts it.
    pub p_click: Option<f64>,
    /// P(click ∧ purchase), where the model predicts it.
    pub p_purchase: Option<f64>,
    /// The score it ranks by.
    pub score: f64,
}

/// A ranker trained on the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRanker {
    /// `lr`, `lambdamart` or `mtl`.
    pub kind: String,
    /// Column names, in order (the feature schema's names).
    pub feature_names: Vec<String>,
    /// The models.
    pub heads: Heads,
    /// What it ranks by.
    pub final_score: FinalScore,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl TaskRanker {
    /// Columns a row must have.
    pub fn num_features(&self) -> usize {
        match &self.heads {
            Heads::Logistic { click, .. } => click.num_features,
            Heads::LambdaMart { model } => model.num_features,
            Heads::Mtl { net } => net.num_features,
        }
    }

    /// Both tasks' predictions and the final score of every row.
    pub fn predict(&self, x: &FeatureMatrix) -> Result<Vec<TaskScores>> {
        let price_col = self.feature_names.iter().position(|n| n == "price");
        let probs: Vec<(f64, f64)> = match &self.heads {
            Heads::LambdaMart { model } => {
                return Ok(model
                    .predict(x)?
                    .into_iter()
                    .map(|score| TaskScores {
                        p_click: None,
                        p_purchase: None,
                        score,
                    })
                    .collect())
            }
            Heads::Logistic { click, purchase } => click
                .predict(x)?
                .into_iter()
                .zip(purchase.predict(x)?)
                .map(|(c, p)| (sigmoid(c), sigmoid(p)))
                .collect(),
            Heads::Mtl { net } => net
                .predict(x)?
                .into_iter()
                .map(|p| (p.ctr, p.ctr * p.cvr))
                .collect(),
        };
        if matches!(self.final_score, FinalScore::ExpectedRevenue) && price_col.is_none() {
            return Err(Error::InvalidArgument(
                "expected revenue needs the `price` feature, which this model does not read".into(),
            ));
        }
        Ok(probs
            .into_iter()
            .enumerate()
            .map(|(r, (c, p))| TaskScores {
                p_click: Some(c),
                p_purchase: Some(p),
                score: match self.final_score {
                    FinalScore::PClick => c,
                    FinalScore::PPurchase => p,
                    FinalScore::ExpectedRevenue => {
                        p * f64::from(x.get(r, price_col.expect("checked above")))
                    }
                    FinalScore::Blend { click, purchase } => click * c + purchase * p,
                },
            })
            .collect())
    }

    /// The hyper-parameters worth showing (the registry's `params`).
    pub fn params(&self) -> serde_json::Value {
        let heads = match &self.heads {
            Heads::Logistic { click, .. } => serde_json::to_value(click.params),
            Heads::LambdaMart { model } => serde_json::to_value(&model.params),
            Heads::Mtl { net } => Ok(serde_json::json!({
                "experts": net.experts.len(),
                "expert_layers": net.experts[0].iter().map(|l| l.outputs).collect::<Vec<_>>(),
                "tower_layers": net.towers[0].iter().map(|l| l.outputs).collect::<Vec<_>>(),
            })),
        }
        .unwrap_or_default();
        serde_json::json!({"kind": self.kind, "final_score": self.final_score, "heads": heads})
    }

    /// The model's own checks.
    pub fn validate(&self) -> std::result::Result<(), String> {
        match &self.heads {
            Heads::Logistic { click, purchase } => {
                click.validate()?;
                purchase.validate()?;
                if click.num_features != purchase.num_features {
                    return Err("the click and purchase heads read different widths".into());
                }
            }
            Heads::LambdaMart { model } => model.validate()?,
            Heads::Mtl { net } => net.validate()?,
        }
        if self.feature_names.len() != self.num_features() {
            return Err(format!(
                "{} feature names for a model of {} features",
                self.feature_names.len(),
                self.num_features()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_scores_parse() {
        assert_eq!(FinalScore::parse("p_click").unwrap(), FinalScore::PClick);
        assert_eq!(
            FinalScore::parse("blend:1,0.5").unwrap(),
            FinalScore::Blend {
                click: 1.0,
                purchase: 0.5
            }
        );
        for bad in ["", "ctr", "blend:1", "blend:x,1", "blend:inf,1"] {
            assert!(
                FinalScore::parse(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("p_purchase"),
                "{bad}"
            );
        }
    }
}
