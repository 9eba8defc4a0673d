//! Core identifiers and schemas shared by every crate.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

string_id!(
    /// A product (document) id: the catalogue's own id, stable across index builds.
    DocId
);
string_id!(
    /// A query id, as in qrels and run files.
    QueryId
);
string_id!(
    /// A user (client) id.
    UserId
);
string_id!(
    /// A search session id.
    SessionId
);
string_id!(
    /// The id of one served result page; clicks and purchases point back to it.
    RequestId
);
string_id!(
    /// The unique id of one interaction event (deduplication key).
    EventId
);

/// A retrieval or ranking score. `f32` is enough for every retriever and ranker.
pub type Score = f32;

/// A catalogue entry.
///
/// In NDJSON only `id` and `title` are required; `category` may be an array
/// of path elements or one string with ` > ` between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Stable id.
    pub id: DocId,
    /// Title shown in results.
    pub title: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Brand or manufacturer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Category path from the root, e.g. `["Furniture", "Living Room", "Sofas"]`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "category_path::deserialize"
    )]
    pub category: Vec<String>,
    /// Price in the shop's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Attributes such as colour, material, size.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Average rating (e.g. 1-5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<f32>,
    /// Number of reviews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_count: Option<u32>,
}

impl Product {
    /// A product with only the required fields.
    pub fn new(id: impl Into<DocId>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            description: String::new(),
            brand: None,
            category: Vec::new(),
            price: None,
            attributes: BTreeMap::new(),
            rating: None,
            review_count: None,
        }
    }

    /// Checks the invariants serde cannot express; returns the offending field and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.id.0.trim().is_empty() {
            return Err(("id", "must not be empty".into()));
        }
        if self
            .id
            .0
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err((
                "id",
                format!(
                    "must not contain spaces, tabs, newlines or control characters (ids go into TREC runs and line-based index files), got {:?}",
                    self.id.0
                ),
            ));
        }
        if self.title.trim().is_empty() {
            return Err(("title", "must not be empty".into()));
        }
        if let Some(p) = self.price {
            if !p.is_finite() || p < 0.0 {
                return Err(("price", format!("must be a finite number >= 0, got {p}")));
            }
        }
        if let Some(r) = self.rating {
            if !r.is_finite() || r < 0.0 {
                return Err(("rating", format!("must be a finite number >= 0, got {r}")));
            }
        }
        Ok(())
    }

    /// The category path joined with ` > `.
    pub fn category_string(&self) -> String {
        self.category.join(" > ")
    }
}

mod category_path {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Path {
        One(String),
        Many(Vec<String>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Option::<Path>::deserialize(d)? {
            None => Vec::new(),
            Some(Path::Many(v)) => v,
            Some(Path::One(s)) => s
                .split('>')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        })
    }
}

/// A search query with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// Id used by qrels and runs.
    pub id: QueryId,
    /// The text the user typed.
    pub text: String,
}

/// A graded relevance judgment, as one line of a qrels file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgment {
    /// The query.
    pub query: QueryId,
    /// The judged document.
    pub doc: DocId,
    /// Graded label; higher is more relevant, `<= 0` is not relevant.
    pub grade: i32,
}

/// Amazon ESCI labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EsciLabel {
    /// E: the product is what was asked for.
    Exact,
    /// S: somewhat relevant, could stand in for it.
    Substitute,
    /// C: does not fulfil the query but goes with it.
    Complement,
    /// I: irrelevant.
    Irrelevant,
}

impl EsciLabel {
    /// Parses `E`/`S`/`C`/`I` or the full English word, case-insensitive.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "e" | "exact" => Some(Self::Exact),
            "s" | "substitute" => Some(Self::Substitute),
            "c" | "complement" => Some(Self::Complement),
            "i" | "irrelevant" => Some(Self::Irrelevant),
            _ => None,
        }
    }

    /// The one-letter code ESCI uses.
    pub fn code(self) -> &'static str {
        match self {
            Self::Exact => "E",
            Self::Substitute => "S",
            Self::Complement => "C",
            Self::Irrelevant => "I",
        }
    }
}

/// Wayfair WANDS labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WandsLabel {
    /// Exact match.
    Exact,
    /// Partial match.
    Partial,
    /// Irrelevant.
    Irrelevant,
}

impl WandsLabel {
    /// Parses `Exact`/`Partial`/`Irrelevant`, case-insensitive.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "exact" => Some(Self::Exact),
            "partial" => Some(Self::Partial),
            "irrelevant" => Some(Self::Irrelevant),
            _ => None,
        }
    }
}

/// How categorical labels become integer grades. Explicit, because every
/// paper and toolkit picks differently; the choice is printed in reports.
///
/// Defaults: ESCI E/S/C/I → 3/2/1/0 (integer grades for trec_eval-style
/// linear-gain NDCG; ESCI's own 1.0/0.1/0.01/0 gains are a gain map in the
/// evaluator, not grades), WANDS Exact/Partial/Irrelevant → 2/1/0 (as the
/// WANDS paper).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeMap {
    /// Grade for ESCI Exact.
    pub esci_exact: i32,
    /// Grade for ESCI Substitute.
    pub esci_substitute: i32,
    /// Grade for ESCI Complement.
    pub esci_complement: i32,
    /// Grade for ESCI Irrelevant.
    pub esci_irrelevant: i32,
    /// Grade for WANDS Exact.
    pub wands_exact: i32,
    /// Grade for WANDS Partial.
    pub wands_partial: i32,
    /// Grade for WANDS Irrelevant.
    pub wands_irrelevant: i32,
}

impl Default for GradeMap {
    fn default() -> Self {
        Self {
            esci_exact: 3,
            esci_substitute: 2,
            esci_complement: 1,
            esci_irrelevant: 0,
            wands_exact: 2,
            wands_partial: 1,
            wands_irrelevant: 0,
        }
    }
}

impl GradeMap {
    /// The grade of an ESCI label.
    pub fn esci(&self, label: EsciLabel) -> i32 {
        match label {
            EsciLabel::Exact => self.esci_exact,
            EsciLabel::Substitute => self.esci_substitute,
            EsciLabel::Complement => self.esci_complement,
            EsciLabel::Irrelevant => self.esci_irrelevant,
        }
    }

    /// The grade of a WANDS label.
    pub fn wands(&self, label: WandsLabel) -> i32 {
        match label {
            WandsLabel::Exact => self.wands_exact,
            WandsLabel::Partial => self.wands_partial,
            WandsLabel::Irrelevant => self.wands_irrelevant,
        }
    }

    /// Parses `E=3,S=2,C=1,I=0` (any subset; WANDS keys are `Exact`, `Partial`, `Irrelevant`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut map = Self::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not KEY=GRADE"))?;
            let v: i32 = v
                .trim()
                .parse()
                .map_err(|_| format!("grade `{v}` of `{k}` is not an integer"))?;
            match k.trim() {
                "E" => map.esci_exact = v,
                "S" => map.esci_substitute = v,
                "C" => map.esci_complement = v,
                "I" => map.esci_irrelevant = v,
                "Exact" => map.wands_exact = v,
                "Partial" => map.wands_partial = v,
                "Irrelevant" => map.wands_irrelevant = v,
                other => {
                    return Err(format!(
                        "unknown label `{other}` (E, S, C, I, Exact, Partial, Irrelevant)"
                    ))
                }
            }
        }
        Ok(map)
    }
}

/// One document of an impression: what was shown, where, and with which
/// logging propensity (for off-policy estimators), if randomised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpressedDoc {
    /// The product shown.
    pub doc: DocId,
    /// 1-based display position.
    pub position: u32,
    /// Probability that the logging policy put this document at this position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propensity: Option<f64>,
    /// On an interleaved page (`ranker` = `interleave:<method>:<a>,<b>,...`):
    /// the 0-based index, in that list, of the ranker that contributed this
    /// document; the search API returns it with each hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<u32>,
}

/// A result page shown to a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impression {
    /// Unique event id.
    pub event_id: EventId,
    /// When the page was served.
    pub timestamp: Timestamp,
    /// The page id; clicks and purchases carry it.
    pub request_id: RequestId,
    /// The query id, when the query is a known one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_id: Option<QueryId>,
    /// The query text.
    pub query: String,
    /// Who searched.
    pub user_id: UserId,
    /// In which session.
    pub session_id: SessionId,
    /// The ranked list, in display order.
    pub results: Vec<ImpressedDoc>,
    /// Id of the ranker (model version) that produced the list.
    pub ranker: String,
    /// Experiment arm, if the request was in an experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
    /// True when `results` holds only what later events revealed (an
    /// imported log that recorded clicks but not the page): documents shown
    /// but never acted on are missing, so the list says nothing about what
    /// was skipped. Click models and CTR statistics leave such pages out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// The index generation that answered, when an index did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
}

/// A click on a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Click {
    /// Unique event id.
    pub event_id: EventId,
    /// When.
    pub timestamp: Timestamp,
    /// The page the click happened on.
    pub request_id: RequestId,
    /// Who.
    pub user_id: UserId,
    /// Session.
    pub session_id: SessionId,
    /// The product clicked.
    pub doc: DocId,
    /// 1-based position of the product on the page.
    pub position: u32,
}

/// A product added to the basket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddToCart {
    /// Unique event id.
    pub event_id: EventId,
    /// When.
    pub timestamp: Timestamp,
    /// The page it came from, when attributable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
    /// Who.
    pub user_id: UserId,
    /// Session.
    pub session_id: SessionId,
    /// The product.
    pub doc: DocId,
    /// Units (>= 1).
    pub quantity: u32,
}

/// A purchase of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Purchase {
    /// Unique event id.
    pub event_id: EventId,
    /// When.
    pub timestamp: Timestamp,
    /// The page it came from, when attributable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
    /// Who.
    pub user_id: UserId,
    /// Session.
    pub session_id: SessionId,
    /// The product.
    pub doc: DocId,
    /// Units (>= 1).
    pub quantity: u32,
    /// Price paid per unit (>= 0).
    pub unit_price: f64,
}

/// The hint for a position 0 in a hyrank event.
const ZERO_BASED_HINT: &str = "hint: 0-based positions from another tool? hyrank's start at 1; `data convert --from ubi` converts UBI ordinals of either base";

/// Everything the interaction log holds. NDJSON form: one object per line
/// with `"type": "impression" | "click" | "add_to_cart" | "purchase"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InteractionEvent {
    /// A served page.
    Impression(Impression),
    /// A click.
    Click(Click),
    /// An add-to-cart.
    AddToCart(AddToCart),
    /// A purchase.
    Purchase(Purchase),
}

impl InteractionEvent {
    /// The event id.
    pub fn event_id(&self) -> &EventId {
        match self {
            Self::Impression(e) => &e.event_id,
            Self::Click(e) => &e.event_id,
            Self::AddToCart(e) => &e.event_id,
            Self::Purchase(e) => &e.event_id,
        }
    }

    /// When it happened.
    pub fn timestamp(&self) -> Timestamp {
        match self {
            Self::Impression(e) => e.timestamp,
            Self::Click(e) => e.timestamp,
            Self::AddToCart(e) => e.timestamp,
            Self::Purchase(e) => e.timestamp,
        }
    }

    /// `impression`, `click`, `add_to_cart` or `purchase`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Impression(_) => "impression",
            Self::Click(_) => "click",
            Self::AddToCart(_) => "add_to_cart",
            Self::Purchase(_) => "purchase",
        }
    }

    /// The session.
    pub fn session_id(&self) -> &SessionId {
        match self {
            Self::Impression(e) => &e.session_id,
            Self::Click(e) => &e.session_id,
            Self::AddToCart(e) => &e.session_id,
            Self::Purchase(e) => &e.session_id,
        }
    }

    /// The user.
    pub fn user_id(&self) -> &UserId {
        match self {
            Self::Impression(e) => &e.user_id,
            Self::Click(e) => &e.user_id,
            Self::AddToCart(e) => &e.user_id,
            Self::Purchase(e) => &e.user_id,
        }
    }

    /// The page the event belongs to, when known.
    pub fn request_id(&self) -> Option<&RequestId> {
        match self {
            Self::Impression(e) => Some(&e.request_id),
            Self::Click(e) => Some(&e.request_id),
            Self::AddToCart(e) => e.request_id.as_ref(),
            Self::Purchase(e) => e.request_id.as_ref(),
        }
    }

    /// The product, for events about one product.
    pub fn doc(&self) -> Option<&DocId> {
        match self {
            Self::Impression(_) => None,
            Self::Click(e) => Some(&e.doc),
            Self::AddToCart(e) => Some(&e.doc),
            Self::Purchase(e) => Some(&e.doc),
        }
    }

    /// Parses one NDJSON line of the log. Unlike serde's internally tagged
    /// form, an error names the field path inside the event (`results[3].position`)
    /// and one position on the line.
    pub fn parse_line(line: &str, at: crate::Location) -> crate::Result<Self> {
        use crate::formats::parse_json;
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let tag: Tag = parse_json(line, at.clone())?;
        let Some(kind) = tag.kind else {
            let mut why =
                "missing: every event has `\"type\"`: impression, click, add_to_cart or purchase"
                    .to_owned();
            if let Some(hint) = crate::formats::bulk_hint(line) {
                why = format!("{why} (hint: {hint})");
            }
            return Err(crate::Error::parse(at.column(1).field("type"), why));
        };
        Ok(match kind.as_str() {
            "impression" => Self::Impression(parse_json(line, at)?),
            "click" => Self::Click(parse_json(line, at)?),
            "add_to_cart" => Self::AddToCart(parse_json(line, at)?),
            "purchase" => Self::Purchase(parse_json(line, at)?),
            other => {
                let at = match crate::formats::key_column(line, "type") {
                    Some(c) => at.column(c),
                    None => at,
                };
                return Err(crate::Error::parse(
                    at.field("type"),
                    format!(
                        "unknown event type `{other}` (impression, click, add_to_cart, purchase)"
                    ),
                ));
            }
        })
    }

    /// Checks invariants serde cannot express; returns the offending field and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.event_id().0.is_empty() {
            return Err(("event_id", "must not be empty".into()));
        }
        match self {
            Self::Impression(e) => {
                for (i, r) in e.results.iter().enumerate() {
                    if r.position == 0 {
                        return Err((
                            "results",
                            format!("entry {i}: position is 1-based, got 0 ({ZERO_BASED_HINT})"),
                        ));
                    }
                    if let Some(p) = r.propensity {
                        if !(p > 0.0 && p <= 1.0) {
                            return Err((
                                "results",
                                format!("entry {i}: propensity must be in (0, 1], got {p}"),
                            ));
                        }
                    }
                    if r.team.is_some() != e.results[0].team.is_some() {
                        return Err((
                            "results",
                            format!(
                                "entry {i}: a team on some entries and not on others (an interleaved page gives every entry its team)"
                            ),
                        ));
                    }
                }
            }
            Self::Click(e) => {
                if e.position == 0 {
                    return Err(("position", format!("is 1-based, got 0 ({ZERO_BASED_HINT})")));
                }
            }
            Self::AddToCart(e) => {
                if e.quantity == 0 {
                    return Err(("quantity", "must be >= 1".into()));
                }
            }
            Self::Purchase(e) => {
                if e.quantity == 0 {
                    return Err(("quantity", "must be >= 1".into()));
                }
                if !e.unit_price.is_finite() || e.unit_price < 0.0 {
                    return Err((
                        "unit_price",
                        format!("must be a finite number >= 0, got {}", e.unit_price),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_accepts_string_or_array() {
        let a: Product =
            serde_json::from_str(r#"{"id":"1","title":"t","category":"A > B"}"#).unwrap();
        let b: Product =
            serde_json::from_str(r#"{"id":"1","title":"t","category":["A","B"]}"#).unwrap();
        assert_eq!(a.category, vec!["A", "B"]);
        assert_eq!(a, b);
    }

    #[test]
    fn grade_map_parses_and_rejects() {
        let m = GradeMap::parse("E=100, S=10,C=1,I=0").unwrap();
        assert_eq!(m.esci(EsciLabel::Exact), 100);
        assert_eq!(m.esci(EsciLabel::Substitute), 10);
        assert!(GradeMap::parse("X=1").is_err());
        assert!(GradeMap::parse("E=high").is_err());
    }

    #[test]
    fn event_round_trips_with_type_tag() {
        let e = InteractionEvent::Purchase(Purchase {
            event_id: "e1".into(),
            timestamp: Timestamp(1_700_000_000_000),
            request_id: Some("r1".into()),
            user_id: "u1".into(),
            session_id: "s1".into(),
            doc: "d1".into(),
            quantity: 2,
            unit_price: 9.5,
        });
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.starts_with(r#"{"type":"purchase""#), "{s}");
        let back: InteractionEvent = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn a_zero_position_gets_the_hint() {
        let e = InteractionEvent::Click(Click {
            event_id: "e".into(),
            timestamp: Timestamp(0),
            request_id: "r".into(),
            user_id: "u".into(),
            session_id: "s".into(),
            doc: "d".into(),
            position: 0,
        });
        let (field, why) = e.validate().unwrap_err();
        assert_eq!(field, "position");
        assert!(
            why.contains("0-based") && why.contains("--from ubi"),
            "{why}"
        );
    }

    #[test]
    fn validate_names_the_field() {
        let mut p = Product::new("1", "x");
        p.price = Some(-1.0);
        assert_eq!(p.validate().unwrap_err().0, "price");
        let e = Product::new("a\tb", "x").validate().unwrap_err();
        assert_eq!(e.0, "id");
        assert!(e.1.contains("\"a\\tb\""), "{}", e.1);
    }
}
