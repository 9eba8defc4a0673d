//! Model files: one header line (format, version, sha256 and length of the
//! body), then the model as JSON. Written under a temporary name and renamed;
//! read back only when the checksum matches and the model's own checks pass.
//! [`ModelArtefact`] is any model this crate can serve, read by its header.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::gbdt::{FeatureMatrix, GbdtModel};
use crate::linear::LogisticModel;
use crate::model::Ranker;
use crate::task::TaskRanker;

const VERSION: u32 = 1;
/// Header format of gradient-boosted trees.
pub const GBDT_FORMAT: &str = "hyrank-gbdt";
/// Header format of logistic regression.
pub const LOGISTIC_FORMAT: &str = "hyrank-logistic";
/// Header format of a ranker trained on the log ([`TaskRanker`]).
pub const TASK_FORMAT: &str = "hyrank-task-ranker";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    sha256: String,
    bytes: usize,
}

pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Header line + JSON body + newline.
fn encode<T: Serialize>(format: &str, model: &T) -> Vec<u8> {
    let body = serde_json::to_vec(model).expect("a model serialises");
    let header = Header {
        format: format.into(),
        version: VERSION,
        sha256: hex_sha256(&body),
        bytes: body.len(),
    };
    let mut out = serde_json::to_vec(&header).expect("a header serialises");
    out.push(b'\n');
    out.extend_from_slice(&body);
    out.push(b'\n');
    out
}

/// The header's format and the checked body.
fn split<'a>(bytes: &'a [u8], path: &Path) -> Result<(String, &'a [u8])> {
    let fail = |message: String| Error::Model {
        path: path.to_path_buf(),
        message,
    };
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| fail("line 1: no header line (not a hyrank model file?)".into()))?;
    let header: Header = serde_json::from_slice(&bytes[..nl]).map_err(|e| {
        fail(format!(
            "line 1, column {}: not a hyrank model header ({e})",
            e.column()
        ))
    })?;
    if header.version != VERSION {
        return Err(fail(format!(
            "line 1: version {} (this build reads version {VERSION})",
            header.version
        )));
    }
    let rest = &bytes[nl + 1..];
    let body = rest.strip_suffix(b"\n").unwrap_or(rest);
    if body.len() != header.bytes {
        return Err(fail(format!(
            "the body has {} bytes, the header says {}: the file is truncated or damaged",
            body.len(),
            header.bytes
        )));
    }
    let found = hex_sha256(body);
    if found != header.sha256 {
        return Err(fail(format!(
            "checksum mismatch (header {}, body {found}): the file is damaged",
            header.sha256
        )));
    }
    Ok((header.format, body))
}

fn parse<T: DeserializeOwned>(body: &[u8], path: &Path) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        message: format!("line {}, column {}: {e}", e.line() + 1, e.column()),
    })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    Ok(std::fs::read(path).map_err(|e| hyrank_data::Error::io(path, e))?)
}

impl GbdtModel {
    /// The file's bytes: header line + JSON body.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(GBDT_FORMAT, self)
    }

    /// Writes the model to `path` crash-safely.
    pub fn save(&self, path: &Path) -> Result<()> {
        hyrank_data::fsio::write_atomic(path, &self.to_bytes())?;
        Ok(())
    }

    /// Reads a model written by [`save`](Self::save); `path` only names the
    /// file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        match ModelArtefact::from_bytes(bytes, path)? {
            ModelArtefact::Gbdt(m) => Ok(m),
            other => Err(Error::Model {
                path: path.to_path_buf(),
                message: format!(
                    "line 1: a {} model, not gradient-boosted trees",
                    other.name()
                ),
            }),
        }
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_bytes(&read(path)?, path)
    }
}

/// Any model this crate can serve.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelArtefact {
    /// Gradient-boosted trees (LambdaMART or binary).
    Gbdt(GbdtModel),
    /// Logistic regression.
    Logistic(LogisticModel),
    /// A ranker trained on the log (click and purchase heads, or LambdaMART).
    Task(TaskRanker),
}

impl ModelArtefact {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            ModelArtefact::Gbdt(m) => encode(GBDT_FORMAT, m),
            ModelArtefact::Logistic(m) => encode(LOGISTIC_FORMAT, m),
            ModelArtefact::Task(m) => encode(TASK_FORMAT, m),
        }
    }

    /// Writes the model to `path` crash-safely.
    pub fn save(&self, path: &Path) -> Result<()> {
        hyrank_data::fsio::write_atomic(path, &self.to_bytes())?;
        Ok(())
    }

    /// Reads any model file (its header says which model); checks the
    /// checksum, then the model's own structure.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let (format, body) = split(bytes, path)?;
        let fail = |message: String| Error::Model {
            path: path.to_path_buf(),
            message,
        };
        let model = match format.as_str() {
            GBDT_FORMAT => ModelArtefact::Gbdt(parse(body, path)?),
            LOGISTIC_FORMAT => ModelArtefact::Logistic(parse(body, path)?),
            TASK_FORMAT => ModelArtefact::Task(parse(body, path)?),
            other => {
                return Err(fail(format!(
                    "line 1: format `{other}`, expected `{GBDT_FORMAT}`, `{LOGISTIC_FORMAT}` or `{TASK_FORMAT}`"
                )))
            }
        };
        match &model {
            ModelArtefact::Gbdt(m) => m.validate(),
            ModelArtefact::Logistic(m) => m.validate(),
            ModelArtefact::Task(m) => m.validate(),
        }
        .map_err(fail)?;
        Ok(model)
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_bytes(&read(path)?, path)
    }
}

impl Ranker for ModelArtefact {
    fn name(&self) -> &str {
        match self {
            ModelArtefact::Gbdt(m) => m.name(),
            ModelArtefact::Logistic(m) => m.name(),
            ModelArtefact::Task(m) => &m.kind,
        }
    }

    fn num_features(&self) -> usize {
        match self {
            ModelArtefact::Gbdt(m) => m.num_features,
            ModelArtefact::Logistic(m) => m.num_features,
            ModelArtefact::Task(m) => m.num_features(),
        }
    }

    fn score(&self, x: &FeatureMatrix) -> Result<Vec<f64>> {
        match self {
            ModelArtefact::Gbdt(m) => m.predict(x),
            ModelArtefact::Logistic(m) => m.predict(x),
            ModelArtefact::Task(m) => Ok(m.predict(x)?.into_iter().map(|s| s.score).collect()),
        }
    }
}
