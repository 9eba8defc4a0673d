//! The model file: one header line (format, version, sha256 and length of the
//! body), then the model as JSON. Written under a temporary name and renamed;
//! read back only when the checksum matches and every tree is well formed.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::GbdtModel;
use crate::error::{Error, Result};

const FORMAT: &str = "hyrank-gbdt";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    sha256: String,
    bytes: usize,
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl GbdtModel {
    /// The file's bytes: header line + JSON body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = serde_json::to_vec(self).expect("a model serialises");
        let header = Header {
            format: FORMAT.into(),
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

    /// Writes the model to `path` crash-safely.
    pub fn save(&self, path: &Path) -> Result<()> {
        hyrank_data::fsio::write_atomic(path, &self.to_bytes())?;
        Ok(())
    }

    /// Reads a model written by [`save`](Self::save); `path` only names the
    /// file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
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
        if header.format != FORMAT {
            return Err(fail(format!(
                "line 1: format `{}`, expected `{FORMAT}`",
                header.format
            )));
        }
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
        let model: GbdtModel = serde_json::from_slice(body)
            .map_err(|e| fail(format!("line {}, column {}: {e}", e.line() + 1, e.column())))?;
        model.validate().map_err(fail)?;
        Ok(model)
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| hyrank_data::Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }
}
