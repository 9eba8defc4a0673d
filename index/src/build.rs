//! Building an index generation, in named steps: check the catalogue, plan
//! the difference to the live generation, encode what changed, write BM25
//! and the vectors into a temporary generation, publish it (rename, then
//! swap the manifest) and remove what it replaced.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use hyrank_data::{DocId, Product};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bm25::{Bm25Index, FieldBoosts};
use crate::embedding_cache::{embedding_text, text_key, EmbedText, EmbeddingCache};
use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::generation::{gen_dir, read_manifest, Manifest, SearchIndex, INDEX_FORMAT};
use crate::vectors::{VectorConfig, VectorIndex};

/// How to build an index.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BuildOptions {
    /// What is embedded.
    pub embed_text: EmbedText,
    /// Vector storage and HNSW.
    pub vectors: VectorConfig,
    /// Rebuild everything even when the previous generation could be updated.
    pub full: bool,
    /// BM25's default field boosts, stored with the index (query-time only:
    /// changing them re-indexes nothing).
    pub fields: FieldBoosts,
}

/// What a build did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildReport {
    /// Products indexed.
    pub products: u64,
    /// Whether the previous generation was updated rather than rebuilt.
    pub incremental: bool,
    /// The generation written.
    pub generation: u64,
    /// Products new since the previous generation.
    pub added: u64,
    /// Products whose fields changed.
    pub updated: u64,
    /// Products gone from the catalogue.
    pub deleted: u64,
    /// Products left as they were.
    pub unchanged: u64,
    /// Distinct texts encoded now (new or changed products sharing a text
    /// share one encoding, so `encoded + cached` can be below `added + updated`).
    pub encoded: u64,
    /// New or changed products whose text was already in the cache.
    pub cached: u64,
    /// Seconds spent on BM25.
    pub bm25_seconds: f64,
    /// Seconds spent on embeddings and vector indexes.
    pub dense_seconds: f64,
}

impl SearchIndex {
    /// Builds (or brings up to date) the index at `dir` for `products`;
    /// vectors too when `encoder` is given. `progress(done, total)` reports
    /// encoding.
    ///
    /// When `dir` holds a compatible generation (same model, embedded text,
    /// vector configuration) and `opts.full` is false, only the difference is
    /// applied: new and changed products are encoded (unless cached) and
    /// indexed, gone ones deleted, unchanged ones left alone. Either way the
    /// result is a new generation, published atomically.
    pub fn build(
        dir: &Path,
        products: &[Product],
        encoder: Option<&Encoder>,
        opts: BuildOptions,
        progress: &dyn Fn(u64, u64),
    ) -> Result<BuildReport> {
        let ids = check_catalogue(products, &opts)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        remove_killed_builds(dir)?;
        let model_id = encoder.map(|e| e.model_id().to_owned());
        let plan = Plan::new(dir, products, &ids, model_id.as_deref(), &opts)?;
        let tmp = dir.join(format!(
            "gen-{:06}.tmp-{}",
            plan.generation,
            std::process::id()
        ));
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;

        let t = Instant::now();
        let encoded = match encoder {
            Some(enc) => encode_changed(dir, products, enc, opts.embed_text, &plan, progress)?,
            None => Encoded::default(),
        };
        let encode_seconds = t.elapsed().as_secs_f64();
        let t = Instant::now();
        write_bm25(&tmp, products, &plan)?;
        let bm25_seconds = t.elapsed().as_secs_f64();
        let t = Instant::now();
        if let Some(enc) = encoder {
            write_vectors(&tmp, products, enc.dim(), opts.vectors, &plan, &encoded)?;
        }
        let dense_seconds = encode_seconds + t.elapsed().as_secs_f64();

        let manifest = Manifest {
            format: INDEX_FORMAT,
            generation: plan.generation,
            products: products.len() as u64,
            model_id,
            dim: encoder.map(|e| e.dim()),
            embed_text: opts.embed_text,
            vectors: opts.vectors,
            fields: opts.fields,
        };
        let live = publish(dir, &tmp, products, &plan, &manifest)?;
        remove_replaced(dir, &live)?;
        Ok(BuildReport {
            products: products.len() as u64,
            incremental: plan.prev_gen.is_some(),
            generation: plan.generation,
            added: plan.added,
            updated: plan.updated,
            deleted: plan.deletes.len() as u64,
            unchanged: products.len() as u64 - plan.added - plan.updated,
            encoded: encoded.encoded,
            cached: encoded.cached,
            bm25_seconds,
            dense_seconds,
        })
    }
}

/// Step 1: every product valid, no id twice. Returns the ids.
fn check_catalogue<'a>(products: &'a [Product], opts: &BuildOptions) -> Result<HashSet<&'a DocId>> {
    if let Some(p) = &opts.vectors.hnsw {
        p.validate()?;
    }
    let mut seen = HashSet::with_capacity(products.len());
    for p in products {
        if let Err((field, why)) = p.validate() {
            return Err(Error::InvalidArgument(format!(
                "product {:?}: field `{field}`: {why}",
                p.id.as_str()
            )));
        }
        if !seen.insert(&p.id) {
            return Err(Error::InvalidArgument(format!(
                "product id {} appears twice in the catalogue",
                p.id
            )));
        }
    }
    Ok(seen)
}

/// Step 2: the temporary generations of builds that were killed.
fn remove_killed_builds(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
    {
        if entry.file_name().to_string_lossy().contains(".tmp-") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// Step 3: the difference to the live generation, when it can be updated.
struct Plan {
    /// The generation to write.
    generation: u64,
    /// The live generation's folder, when it is updated rather than rebuilt.
    prev_gen: Option<PathBuf>,
    /// Each product's content digest.
    digests: Vec<String>,
    /// Products (indexes into the catalogue) new or changed.
    changed: Vec<usize>,
    /// Products of the live generation gone from the catalogue.
    deletes: Vec<DocId>,
    added: u64,
    updated: u64,
}

impl Plan {
    fn new(
        dir: &Path,
        products: &[Product],
        ids: &HashSet<&DocId>,
        model_id: Option<&str>,
        opts: &BuildOptions,
    ) -> Result<Self> {
        let prev = read_manifest(dir).ok().filter(|m| m.format == INDEX_FORMAT);
        let compatible = prev.as_ref().filter(|m| {
            !opts.full
                && m.model_id.as_deref() == model_id
                && m.embed_text == opts.embed_text
                && m.vectors == opts.vectors
                && gen_dir(dir, m.generation).join("products.tsv").exists()
        });
        let generation = prev.as_ref().map_or(1, |m| m.generation + 1);
        let digests: Vec<String> = products.iter().map(product_digest).collect();
        let (old_digests, prev_gen) = match compatible {
            Some(m) => {
                let g = gen_dir(dir, m.generation);
                (Some(read_digests(&g.join("products.tsv"))?), Some(g))
            }
            None => (None, None),
        };
        let mut changed: Vec<usize> = Vec::new();
        let (mut added, mut updated) = (0u64, 0u64);
        for (i, p) in products.iter().enumerate() {
            match old_digests.as_ref().map(|o| o.get(&p.id)) {
                Some(Some(d)) if *d == digests[i] => {}
                Some(Some(_)) => {
                    updated += 1;
                    changed.push(i);
                }
                _ => {
                    added += 1;
                    changed.push(i);
                }
            }
        }
        let deletes: Vec<DocId> = old_digests
            .as_ref()
            .map(|o| o.keys().filter(|id| !ids.contains(id)).cloned().collect())
            .unwrap_or_default();
        Ok(Self {
            generation,
            prev_gen,
            digests,
            changed,
            deletes,
            added,
            updated,
        })
    }
}

/// The embeddings of the changed products.
#[derive(Default)]
struct Encoded {
    vectors_for: HashMap<usize, Vec<f32>>,
    encoded: u64,
    cached: u64,
}

/// Step 4: embeddings of new and changed products (the slow part), through
/// the cache. The cache is saved even if a later step fails, so that a retry
/// encodes nothing twice. A build that adds or changes nothing neither reads
/// nor rewrites the cache (entries of deleted products are pruned by the next
/// build that encodes).
fn encode_changed(
    dir: &Path,
    products: &[Product],
    enc: &Encoder,
    embed_text: EmbedText,
    plan: &Plan,
    progress: &dyn Fn(u64, u64),
) -> Result<Encoded> {
    let mut out = Encoded::default();
    if plan.changed.is_empty() {
        return Ok(out);
    }
    let cache_path = dir.join("embeddings.cache");
    let mut cache = EmbeddingCache::load(&cache_path, enc.dim());
    let texts: Vec<String> = products
        .iter()
        .map(|p| embedding_text(p, embed_text))
        .collect();
    let keys: Vec<[u8; 32]> = texts.iter().map(|t| text_key(enc.model_id(), t)).collect();
    let mut missing: Vec<usize> = plan
        .changed
        .iter()
        .copied()
        .filter(|&i| !cache.map.contains_key(&keys[i]))
        .collect();
    out.cached = (plan.changed.len() - missing.len()) as u64;
    // Products sharing a text share one encoding.
    missing.sort_by_key(|&i| keys[i]);
    missing.dedup_by_key(|i| keys[*i]);
    for chunk in missing.chunks(256) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
        let vecs = enc.encode(&batch)?;
        let entries = chunk.iter().map(|&i| keys[i]).zip(vecs).collect();
        cache.insert_and_append(&cache_path, entries)?;
        out.encoded += chunk.len() as u64;
        progress(out.encoded, missing.len() as u64);
    }
    cache.save(&cache_path, &keys)?;
    for &i in &plan.changed {
        let v = cache
            .map
            .get(&keys[i])
            .ok_or_else(|| Error::InvalidArgument("embedding missing after encoding".into()))?;
        out.vectors_for.insert(i, v.clone());
    }
    Ok(out)
}

/// Step 5: BM25, updated from a hard-linked copy of the live generation's
/// segments or built anew.
fn write_bm25(tmp: &Path, products: &[Product], plan: &Plan) -> Result<()> {
    let to = tmp.join("bm25");
    match &plan.prev_gen {
        Some(g) => {
            link_tree(&g.join("bm25"), &to)?;
            let mut b = Bm25Index::open(&to, FieldBoosts::default())?;
            let ups: Vec<Product> = plan.changed.iter().map(|&i| products[i].clone()).collect();
            b.update(&ups, &plan.deletes)?;
        }
        None => {
            Bm25Index::build(&to, products.iter().cloned(), FieldBoosts::default())?;
        }
    }
    Ok(())
}

/// Step 6: the vector folder, applied to the live generation's or built anew.
fn write_vectors(
    tmp: &Path,
    products: &[Product],
    dim: usize,
    config: VectorConfig,
    plan: &Plan,
    encoded: &Encoded,
) -> Result<()> {
    let vdir = tmp.join("vectors");
    let vector = |i: usize| {
        encoded
            .vectors_for
            .get(&i)
            .ok_or_else(|| Error::InvalidArgument(format!("no embedding for row {i}")))
    };
    match &plan.prev_gen {
        Some(g) => {
            let old = VectorIndex::open(&g.join("vectors"))?;
            let ups = plan
                .changed
                .iter()
                .map(|&i| Ok((products[i].id.clone(), vector(i)?.clone())))
                .collect::<Result<Vec<_>>>()?;
            old.apply(&vdir, &ups, &plan.deletes)?;
        }
        None => {
            let rows = products
                .iter()
                .enumerate()
                .map(|(i, p)| Ok((p.id.clone(), vector(i)?.as_slice())))
                .collect::<Result<Vec<_>>>()?;
            VectorIndex::build(&vdir, rows, dim, config)?;
        }
    }
    Ok(())
}

/// Step 7: `products.tsv`, then publish: rename the generation into place,
/// swap the manifest. Returns the published generation's folder.
fn publish(
    dir: &Path,
    tmp: &Path,
    products: &[Product],
    plan: &Plan,
    manifest: &Manifest,
) -> Result<PathBuf> {
    let tsv: String = products
        .iter()
        .zip(&plan.digests)
        .map(|(p, d)| format!("{}\t{d}\n", p.id))
        .collect();
    hyrank_data::fsio::write_atomic(tmp.join("products.tsv"), tsv.as_bytes())?;
    // The products' fields, for the ranker's features (price, brand, ...).
    let mut catalog = hyrank_data::formats::ndjson::NdjsonWriter::create(tmp.join(CATALOG_FILE))?;
    for p in products {
        catalog.write(p)?;
    }
    catalog.finish()?;
    hyrank_data::fsio::sync_dir(tmp)?;
    let final_dir = gen_dir(dir, plan.generation);
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    std::fs::rename(tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    hyrank_data::fsio::sync_dir(dir)?;
    let json = serde_json::to_vec_pretty(manifest)
        .map_err(|e| Error::io(dir, std::io::Error::other(e)))?;
    hyrank_data::fsio::write_atomic(dir.join("manifest.json"), &json)?;
    Ok(final_dir)
}

/// The copy of the catalogue each generation keeps (NDJSON, one product a line).
pub const CATALOG_FILE: &str = "catalog.ndjson";

/// Step 8: older generations and the format-1 layout are garbage now
/// (readers that opened them keep their open files).
fn remove_replaced(dir: &Path, live: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let old_gen = name.starts_with("gen-") && entry.path() != live;
        if old_gen || name == "bm25" || name == "vectors" {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// A product's content digest (what decides "changed" between builds).
fn product_digest(p: &Product) -> String {
    let json = serde_json::to_vec(p).unwrap_or_default();
    let d: [u8; 32] = Sha256::digest(&json).into();
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Hard-links (or copies) the regular files of `from` into a new `to`.
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".lock") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let ft = entry.file_type().map_err(|e| Error::io(&src, e))?;
        if ft.is_dir() {
            link_tree(&src, &dst)?;
        } else if ft.is_file() && std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(|e| Error::io(&src, e))?;
        }
    }
    Ok(())
}

/// `products.tsv` of a generation: id → digest.
fn read_digests(path: &Path) -> Result<HashMap<DocId, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let (id, d) = line.split_once('\t').ok_or_else(|| Error::Corrupt {
            path: path.to_path_buf(),
            message: format!("line {}: expected id<TAB>digest", i + 1),
        })?;
        out.insert(DocId(id.to_owned()), d.to_owned());
    }
    Ok(out)
}
