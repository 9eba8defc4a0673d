//! The field map: hyrank's product fields from a document's own (`--map FIELD=SOURCE`).

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, IoContext, Location, Result};

/// hyrank's product fields a mapping can fill.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `id`.
    Id,
    /// `title`.
    Title,
    /// `description`.
    Description,
    /// `brand`.
    Brand,
    /// `category` (a path).
    Category,
    /// `price`.
    Price,
    /// `attributes` (the whole map).
    Attributes,
    /// One attribute, `attributes.NAME`.
    Attribute(String),
    /// `rating`.
    Rating,
    /// `review_count`.
    ReviewCount,
}

impl Target {
    fn parse(s: &str) -> std::result::Result<Self, String> {
        Ok(match s.trim() {
            "id" => Target::Id,
            "title" => Target::Title,
            "description" => Target::Description,
            "brand" => Target::Brand,
            "category" => Target::Category,
            "price" => Target::Price,
            "attributes" => Target::Attributes,
            "rating" => Target::Rating,
            "review_count" => Target::ReviewCount,
            other => match other.strip_prefix("attributes.") {
                Some(name) if !name.is_empty() => Target::Attribute(name.to_owned()),
                _ => {
                    return Err(format!(
                        "unknown product field `{other}` (id, title, description, brand, category, price, attributes, attributes.NAME, rating, review_count)"
                    ))
                }
            },
        })
    }

    pub(super) fn name(&self) -> String {
        match self {
            Target::Id => "id".into(),
            Target::Title => "title".into(),
            Target::Description => "description".into(),
            Target::Brand => "brand".into(),
            Target::Category => "category".into(),
            Target::Price => "price".into(),
            Target::Attributes => "attributes".into(),
            Target::Attribute(n) => format!("attributes.{n}"),
            Target::Rating => "rating".into(),
            Target::ReviewCount => "review_count".into(),
        }
    }
}

/// Where a field comes from: alternatives (`a|b`, first present), each a
/// concatenation (`a+b`) of dotted paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Source {
    pub(super) alternatives: Vec<Vec<String>>,
}

impl Source {
    pub(super) fn parse(s: &str) -> std::result::Result<Self, String> {
        let alternatives: Vec<Vec<String>> = s
            .split('|')
            .map(|alt| {
                alt.split('+')
                    .map(|p| p.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        if alternatives.iter().flatten().any(|p| p.is_empty()) {
            return Err(format!("`{s}`: an empty source path"));
        }
        Ok(Self { alternatives })
    }

    pub(super) fn roots(&self) -> impl Iterator<Item = &str> {
        self.alternatives
            .iter()
            .flatten()
            .map(|p| p.split('.').next().unwrap_or(p.as_str()))
    }
}

/// hyrank's fields from the documents' own: `title=name`, ... (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    pub(super) entries: Vec<(Target, Source)>,
}

impl FieldMap {
    /// Adds `TARGET=SOURCE` (as `--map` gives it).
    pub fn add(&mut self, spec: &str) -> std::result::Result<(), String> {
        let (t, s) = spec
            .split_once('=')
            .ok_or_else(|| format!("`{spec}` is not FIELD=SOURCE (e.g. title=name)"))?;
        let target = Target::parse(t)?;
        let source = Source::parse(s.trim())?;
        self.entries.retain(|(x, _)| *x != target);
        self.entries.push((target, source));
        Ok(())
    }

    /// Reads a mapping file: a JSON object (`{"title": "name", ...}`) or
    /// lines of `FIELD=SOURCE` (`#` starts a comment).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).at(path)?;
        let text = text.trim_start_matches('\u{feff}');
        let mut map = FieldMap::default();
        if text.trim_start().starts_with('{') {
            let obj: Map<String, Value> = crate::formats::parse_json(text, Location::new(path, 1))?;
            for (k, v) in obj {
                let at = Location::new(path, 1).field(k.clone());
                let src = v
                    .as_str()
                    .ok_or_else(|| Error::parse(at.clone(), "the source must be a string path"))?;
                map.add(&format!("{k}={src}"))
                    .map_err(|why| Error::parse(at, why))?;
            }
        } else {
            for (n, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("").trim();
                if !line.is_empty() {
                    map.add(line).map_err(|why| {
                        Error::parse(Location::new(path, n as u64 + 1).column(1), why)
                    })?;
                }
            }
        }
        Ok(map)
    }

    pub(super) fn source(&self, t: &Target) -> Option<&Source> {
        self.entries.iter().find(|(x, _)| x == t).map(|(_, s)| s)
    }

    /// True when nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
