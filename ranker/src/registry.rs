//! The model registry: a folder of immutable versions and a movable
//! `champion` pointer, every change recorded (MLflow's registry shape, on a
//! file system).
//!
//! ```text
//! REGISTRY/
//!   versions/<id>/model.json      the artefact (sha256 in the manifest and in its own header)
//!   versions/<id>/manifest.json   kind, feature schema, training data and window, parameters, metrics
//!   champion.json                 {"champion": id, "history": [earlier champions, oldest first]}
//!   audit.ndjson                  one line per register / promote / rollback, appended and fsynced
//! ```
//!
//! A version is written in a staging folder and renamed into `versions/`:
//! it exists whole or not at all, and an id is never reused. The pointer is
//! replaced with an atomic rename. The audit line is written (and fsynced)
//! before the pointer moves; a change whose pointer swap did not happen (a
//! crash in between) is found at the next change and recorded as aborted, so
//! the log and the pointer never disagree silently. Writers hold the
//! folder's lock.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyrank_data::fsio::{sync_dir, write_atomic, DirLock};
use hyrank_data::Timestamp;
use serde::{Deserialize, Serialize};

use crate::artefact::{hex_sha256, ModelArtefact};
use crate::error::{Error, Result};
use crate::model::Ranker;

/// The artefact's file name inside a version.
pub const ARTEFACT: &str = "model.json";
/// The manifest's file name inside a version.
pub const MANIFEST: &str = "manifest.json";
const POINTER: &str = "champion.json";
const AUDIT: &str = "audit.ndjson";
const VERSIONS: &str = "versions";

/// Checks a version id: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with
/// `.` (no path traversal, no hidden names, no control bytes).
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "model id {:?}: use 1 to 64 letters, digits, `.`, `_` or `-`, not starting with `.`",
            id
        )))
    }
}

/// What the model reads: the features, in column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSchema {
    /// Where the features come from: `letor` (columns of a feature file) or
    /// the name and version of a feature set hyrank computes.
    pub source: String,
    /// Version of that feature set (0 for `letor`).
    pub version: u32,
    /// Columns a row has.
    pub count: usize,
    /// Column names, when known.
    #[serde(default)]
    pub names: Vec<String>,
    /// Each column's training distribution (normalisation statistics and
    /// the reference deciles of later drift checks), when computed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stats: Vec<crate::features::FeatureStats>,
}

/// Everything known about one version besides its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The version id.
    pub id: String,
    /// The model family (`lambdamart`, `gbdt-binary`, ...).
    pub kind: String,
    /// When it was registered.
    pub created: Timestamp,
    /// sha256 of `model.json`.
    pub artefact_sha256: String,
    /// The features it reads.
    pub features: FeatureSchema,
    /// The training data: files (with their sha256), rows, window.
    pub training: serde_json::Value,
    /// The hyper-parameters.
    pub params: serde_json::Value,
    /// Metrics measured at training time (name → value).
    pub metrics: BTreeMap<String, f64>,
    /// The hyrank version that trained it.
    pub code_version: String,
}

/// What a new version is made of; the registry adds id, time and checksum.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The id to use; `None` for the next `vNNNN`.
    pub id: Option<String>,
    /// The model.
    pub model: ModelArtefact,
    /// The features it reads.
    pub features: FeatureSchema,
    /// The training data.
    pub training: serde_json::Value,
    /// Metrics measured at training time.
    pub metrics: BTreeMap<String, f64>,
}

/// The champion pointer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointer {
    /// The version that serves.
    pub champion: Option<String>,
    /// Earlier champions, oldest first (what rollback returns to).
    pub history: Vec<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// When.
    pub time: Timestamp,
    /// `register`, `promote`, `rollback`, `aborted`, or a promotion
    /// gate's `hold` / `reject` (which leave the champion as it was).
    pub action: String,
    /// The version concerned.
    pub version: String,
    /// The champion before the change.
    pub from: Option<String>,
    /// The champion after it (`None` for `register`).
    pub to: Option<String>,
    /// Who (`$USER`, else `hyrank`).
    pub actor: String,
    /// Why, as given.
    pub reason: String,
}

/// A registry folder.
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
}

fn actor() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "hyrank".into())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|e| hyrank_data::Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        message: format!("line {}, column {}: {e}", e.line(), e.column()),
    })
}

impl Registry {
    /// Opens (creating if absent) a registry folder.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root.join(VERSIONS)).map_err(|e| hyrank_data::Error::io(root, e))?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn version_dir(&self, id: &str) -> PathBuf {
        self.root.join(VERSIONS).join(id)
    }

    fn lock(&self) -> Result<DirLock> {
        Ok(DirLock::acquire(&self.root, Duration::from_secs(10))?)
    }

    /// Every version's manifest, oldest first.
    pub fn list(&self) -> Result<Vec<Manifest>> {
        let dir = self.root.join(VERSIONS);
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| hyrank_data::Error::io(&dir, e))? {
            let entry = entry.map_err(|e| hyrank_data::Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue; // a staging folder of a killed writer
            }
            out.push(read_json::<Manifest>(&entry.path().join(MANIFEST))?);
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Resolves `champion` to the champion's id; checks any other id.
    pub fn resolve(&self, id: &str) -> Result<String> {
        if id == "champion" {
            return self.pointer()?.champion.ok_or_else(|| {
                Error::NotFound(format!("{}: no champion yet", self.root.display()))
            });
        }
        validate_id(id)?;
        if !self.version_dir(id).join(MANIFEST).exists() {
            return Err(Error::NotFound(format!(
                "model {id} is not in the registry {}",
                self.root.display()
            )));
        }
        Ok(id.to_owned())
    }

    /// One version's manifest (`champion` allowed).
    pub fn show(&self, id: &str) -> Result<Manifest> {
        let id = self.resolve(id)?;
        read_json(&self.version_dir(&id).join(MANIFEST))
    }

    /// Loads a version's model, checking the artefact against the manifest's
    /// checksum (and its own header), and its width against the schema.
    pub fn load(&self, id: &str) -> Result<(Manifest, ModelArtefact)> {
        let manifest = self.show(id)?;
        let path = self.version_dir(&manifest.id).join(ARTEFACT);
        let bytes = fs::read(&path).map_err(|e| hyrank_data::Error::io(&path, e))?;
        let found = hex_sha256(&bytes);
        if found != manifest.artefact_sha256 {
            return Err(Error::Model {
                path,
                message: format!(
                    "sha256 {found}, the manifest says {}: the artefact is damaged",
                    manifest.artefact_sha256
                ),
            });
        }
        let model = ModelArtefact::from_bytes(&bytes, &path)?;
        if model.num_features() != manifest.features.count {
            return Err(Error::Model {
                path,
                message: format!(
                    "the model reads {} features, its manifest's schema {}",
                    model.num_features(),
                    manifest.features.count
                ),
            });
        }
        Ok((manifest, model))
    }

    /// The champion pointer (empty when nothing was promoted).
    pub fn pointer(&self) -> Result<Pointer> {
        let p = self.root.join(POINTER);
        if !p.exists() {
            return Ok(Pointer::default());
        }
        read_json(&p)
    }

    /// The audit log, oldest first.
    pub fn audit(&self) -> Result<Vec<AuditEntry>> {
        let p = self.root.join(AUDIT);
        if !p.exists() {
            return Ok(Vec::new());
        }
        let text = fs::read_to_string(&p).map_err(|e| hyrank_data::Error::io(&p, e))?;
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            out.push(serde_json::from_str(line).map_err(|e| Error::Model {
                path: p.clone(),
                message: format!("line {}, column {}: {e}", i + 1, e.column()),
            })?);
        }
        Ok(out)
    }

    fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        let p = self.root.join(AUDIT);
        let mut line = serde_json::to_string(entry).expect("an audit entry serialises");
        line.push('\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .map_err(|e| hyrank_data::Error::io(&p, e))?;
        f.write_all(line.as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(|e| hyrank_data::Error::io(&p, e))?;
        Ok(())
    }

    /// Under the lock: when the last pointer change in the log did not take
    /// effect (a crash between the audit line and the swap), records it as
    /// aborted.
    fn reconcile(&self) -> Result<Pointer> {
        let pointer = self.pointer()?;
        let last = self
            .audit()?
            .into_iter()
            .rev()
            .find(|e| e.action != "register");
        if let Some(e) = last {
            if e.action != "aborted" && e.to != pointer.champion {
                self.append_audit(&AuditEntry {
                    time: Timestamp::now(),
                    action: "aborted".into(),
                    version: e.version,
                    from: e.to,
                    to: pointer.champion.clone(),
                    actor: actor(),
                    reason: format!(
                        "the {} logged at {} never moved the pointer (interrupted)",
                        e.action, e.time
                    ),
                })?;
            }
        }
        Ok(pointer)
    }

    /// Writes a new version; returns its manifest.
    pub fn register(&self, v: NewVersion, reason: &str) -> Result<Manifest> {
        let _lock = self.lock()?;
        let existing: Vec<String> = self.list()?.into_iter().map(|m| m.id).collect();
        let id = match v.id {
            Some(id) => {
                validate_id(&id)?;
                if id == "champion" {
                    return Err(Error::InvalidArgument(
                        "`champion` names the pointer, not a version".into(),
                    ));
                }
                if self.version_dir(&id).exists() {
                    return Err(Error::Conflict(format!(
                        "model {id} is already in the registry"
                    )));
                }
                id
            }
            None => {
                let next = existing
                    .iter()
                    .filter_map(|i| i.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()))
                    .max()
                    .map_or(1, |n| n + 1);
                format!("v{next:04}")
            }
        };
        let bytes = v.model.to_bytes();
        let manifest = Manifest {
            id: id.clone(),
            kind: v.model.name().to_owned(),
            created: Timestamp::now(),
            artefact_sha256: hex_sha256(&bytes),
            features: v.features,
            training: v.training,
            params: match &v.model {
                ModelArtefact::Gbdt(m) => serde_json::to_value(&m.params),
                ModelArtefact::Logistic(m) => serde_json::to_value(m.params),
                ModelArtefact::Task(m) => Ok(m.params()),
            }
            .expect("params serialise"),
            metrics: v.metrics,
            code_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let versions = self.root.join(VERSIONS);
        let staging = versions.join(format!(".staging-{id}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir(&staging).map_err(|e| hyrank_data::Error::io(&staging, e))?;
        write_atomic(staging.join(ARTEFACT), &bytes)?;
        write_atomic(
            staging.join(MANIFEST),
            serde_json::to_string_pretty(&manifest)
                .expect("a manifest serialises")
                .as_bytes(),
        )?;
        sync_dir(&staging)?;
        let target = self.version_dir(&id);
        fs::rename(&staging, &target).map_err(|e| hyrank_data::Error::io(&target, e))?;
        sync_dir(&versions)?;
        self.append_audit(&AuditEntry {
            time: manifest.created,
            action: "register".into(),
            version: id,
            from: None,
            to: None,
            actor: actor(),
            reason: reason.to_owned(),
        })?;
        Ok(manifest)
    }

    fn swap(
        &self,
        action: &str,
        version: &str,
        from: Pointer,
        to: Pointer,
        reason: &str,
    ) -> Result<Pointer> {
        self.append_audit(&AuditEntry {
            time: Timestamp::now(),
            action: action.into(),
            version: version.into(),
            from: from.champion,
            to: to.champion.clone(),
            actor: actor(),
            reason: reason.to_owned(),
        })?;
        write_atomic(
            self.root.join(POINTER),
            serde_json::to_string_pretty(&to)
                .expect("a pointer serialises")
                .as_bytes(),
        )?;
        Ok(to)
    }

    /// Makes `id` the champion (after checking that it loads); the previous
    /// champion goes on the history for [`rollback`](Self::rollback).
    pub fn promote(&self, id: &str, reason: &str) -> Result<Pointer> {
        let _lock = self.lock()?;
        let pointer = self.reconcile()?;
        let id = self.resolve(id)?;
        self.load(&id)?;
        if pointer.champion.as_deref() == Some(id.as_str()) {
            return Err(Error::Conflict(format!(
                "model {id} is already the champion"
            )));
        }
        let mut history = pointer.history.clone();
        history.extend(pointer.champion.clone());
        let to = Pointer {
            champion: Some(id.clone()),
            history,
        };
        self.swap("promote", &id, pointer, to, reason)
    }

    /// Records a decision that leaves the champion as it is (a promotion
    /// gate's `hold` or `reject` of candidate `id`) in the audit log.
    pub fn record_decision(&self, action: &str, id: &str, reason: &str) -> Result<()> {
        if !matches!(action, "hold" | "reject") {
            return Err(Error::Conflict(format!(
                "`{action}` is not a decision that keeps the champion (hold or reject)"
            )));
        }
        let _lock = self.lock()?;
        let pointer = self.reconcile()?;
        let id = self.resolve(id)?;
        self.append_audit(&AuditEntry {
            time: Timestamp::now(),
            action: action.into(),
            version: id,
            from: pointer.champion.clone(),
            to: pointer.champion,
            actor: actor(),
            reason: reason.to_owned(),
        })
    }

    /// The versions that have a finite value of `metric` in their manifest,
    /// highest first (ties: the later version first); an error naming the
    /// metric when no version has it.
    pub fn ranked_by(&self, metric: &str) -> Result<Vec<Manifest>> {
        let mut ms: Vec<Manifest> = self
            .list()?
            .into_iter()
            .filter(|m| m.metrics.get(metric).is_some_and(|v| v.is_finite()))
            .collect();
        if ms.is_empty() {
            return Err(Error::NotFound(format!(
                "no version in {} has the metric `{metric}`",
                self.root.display()
            )));
        }
        ms.reverse();
        ms.sort_by(|a, b| b.metrics[metric].total_cmp(&a.metrics[metric]));
        Ok(ms)
    }

    /// The version with the highest value of `metric` in its manifest
    /// (ties: the later one); an error naming the metric when no version
    /// has it.
    pub fn best_by(&self, metric: &str) -> Result<Manifest> {
        Ok(self.ranked_by(metric)?.swap_remove(0))
    }

    /// Restores the previous champion.
    pub fn rollback(&self, reason: &str) -> Result<Pointer> {
        let _lock = self.lock()?;
        let pointer = self.reconcile()?;
        let mut history = pointer.history.clone();
        let Some(previous) = history.pop() else {
            return Err(Error::NotFound(format!(
                "{}: no earlier champion to roll back to",
                self.root.display()
            )));
        };
        self.load(&previous)?;
        let to = Pointer {
            champion: Some(previous.clone()),
            history,
        };
        self.swap("rollback", &previous, pointer, to, reason)
    }
}

#[cfg(test)]
mod tests;
