//! The synthetic world: a seeded, deterministic product catalogue, queries
//! with graded judgments, and a user simulator that logs impressions,
//! clicks, add-to-carts and purchases.
//!
//! It is generated, and says so: it models a category tree, brands,
//! attributes, Zipf-like popularity, per-category prices, wording variation
//! (synonyms, misspellings, unit spellings), near-duplicate listings,
//! position-biased examination and price-sensitive purchases. It does not
//! model real language variety, seasonality or real user heterogeneity.
//!
//! Same seed and knobs → byte-identical files. Each stage draws from its own
//! RNG stream, so asking for more events does not change the catalogue.
//!
//! ```
//! use hyrank_data::synth::{World, WorldConfig};
//! let world = World::build(&WorldConfig { products: 500, queries: 40, ..WorldConfig::default() }).unwrap();
//! assert_eq!(world.products.len(), 500);
//! assert!(world.queries.len() <= 40);
//! ```

pub mod catalog;
pub mod queries;
pub mod sample;
pub mod simulator;
mod users;
pub mod vocab;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;
use serde::Serialize;

use crate::error::{Error, IoContext, Result};
use crate::formats::ndjson::{write_queries_tsv, NdjsonWriter};
use crate::formats::trec::write_qrels;
use crate::fsio::{write_atomic, AtomicFile, StagedDir};
use crate::log::{EventLog, LogConfig, SyncPolicy};
use crate::types::{EsciLabel, GradeMap, Judgment, Query, QueryId};
use catalog::{Brand, Leaf, ProductTruth};
use queries::{PoolSizes, QueryMix, SimQuery};
use sample::WorldRng;
pub use simulator::{
    simulate, simulate_with, Behaviour, Drift, Examination, LoggingPolicy, Randomization,
    RankRequest, RankingPolicy, Shown, SimConfig, SimReport, UserModel, WorldUsers,
};

/// Everything that shapes the world. Defaults are the demo world's.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct WorldConfig {
    /// Master seed.
    pub seed: u64,
    /// Products.
    pub products: usize,
    /// Distinct queries.
    pub queries: usize,
    /// Brands per department.
    pub brands_per_department: usize,
    /// Share of near-duplicate listings.
    pub duplicate_rate: f64,
    /// Zipf exponent of product popularity.
    pub popularity_zipf: f64,
    /// Query mix.
    pub query_mix: QueryMix,
    /// Judged pool sizes.
    pub pool: PoolSizes,
    /// ESCI label → grade for `qrels.trec`.
    pub grades: GradeMap,
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            products: 10_000,
            queries: 500,
            brands_per_department: 15,
            duplicate_rate: 0.02,
            popularity_zipf: 0.8,
            query_mix: QueryMix::default(),
            pool: PoolSizes::default(),
            grades: GradeMap::default(),
        }
    }
}

/// The generator's ground truth, in memory (about 40 bytes a product).
#[derive(Debug, Clone)]
pub struct World {
    /// The knobs.
    pub config: WorldConfig,
    /// Leaf categories.
    pub leaves: Vec<Leaf>,
    /// Brands.
    pub brands: Vec<Brand>,
    /// Product truths, indexed by product number.
    pub products: Vec<ProductTruth>,
    /// Product numbers per leaf.
    pub by_leaf: Vec<Vec<u32>>,
    /// Queries.
    pub queries: Vec<SimQuery>,
    /// Judged pool of each query.
    pub pools: Vec<Vec<(u32, EsciLabel)>>,
}

fn stream(seed: u64, stage: u64) -> WorldRng {
    WorldRng::seed_from_u64(seed ^ stage.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl World {
    /// The index of a query of a world from its id (`Q00001` is 0), by
    /// the ids' form; [`World::query`] checks it against the world.
    pub fn query_index(id: &QueryId) -> Option<usize> {
        id.0.strip_prefix('Q')?
            .parse::<usize>()
            .ok()?
            .checked_sub(1)
    }

    /// The query with this id.
    pub fn query(&self, id: &QueryId) -> Option<&SimQuery> {
        Self::query_index(id)
            .and_then(|i| self.queries.get(i))
            .filter(|q| q.id == *id)
    }

    /// Draws the truth (nothing is written).
    pub fn build(config: &WorldConfig) -> Result<Self> {
        if config.products == 0 {
            return Err(Error::InvalidArgument(
                "a world needs at least one product".into(),
            ));
        }
        if !(0.0..1.0).contains(&config.duplicate_rate) {
            return Err(Error::InvalidArgument(format!(
                "duplicate rate must be in [0, 1), got {}",
                config.duplicate_rate
            )));
        }
        let m = &config.query_mix;
        for (name, v) in [
            ("head", m.head),
            ("torso", m.torso),
            ("synonym rate", m.synonym_rate),
            ("misspelling rate", m.misspelling_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::InvalidArgument(format!(
                    "{name} must be in [0, 1], got {v}"
                )));
            }
        }
        if m.head + m.torso > 1.0 {
            return Err(Error::InvalidArgument(
                "head + torso shares exceed 1".into(),
            ));
        }
        let leaves = catalog::build_leaves();
        let mut rng = stream(config.seed, 1);
        let brands = catalog::build_brands(&mut rng, config.brands_per_department.max(1));
        let (leaf_cdf, brand_tables) = catalog::leaf_and_brand_tables(&mut rng, &leaves, &brands);
        let mut rng = stream(config.seed, 2);
        let mut products = Vec::with_capacity(config.products);
        let mut drawer = catalog::TruthDrawer {
            leaves: &leaves,
            leaf_cdf: &leaf_cdf,
            brands_by_dept: &brand_tables,
            brands: &brands,
            duplicate_rate: config.duplicate_rate,
            next_model: BTreeMap::new(),
            n_products: config.products,
            popularity_zipf: config.popularity_zipf,
        };
        for _ in 0..config.products {
            let t = drawer.draw(&mut rng, &products);
            products.push(t);
        }
        let mut by_leaf = vec![Vec::new(); leaves.len()];
        for (i, p) in products.iter().enumerate() {
            by_leaf[p.leaf as usize].push(i as u32);
        }
        let mut rng = stream(config.seed, 3);
        let queries = queries::draw_queries(
            &mut rng,
            config.queries,
            &config.query_mix,
            &leaves,
            &brands,
            &products,
            &by_leaf,
        );
        let mut rng = stream(config.seed, 4);
        let pools = queries
            .iter()
            .map(|q| queries::judged_pool(&mut rng, q, &config.pool, &leaves, &products, &by_leaf))
            .collect();
        Ok(Self {
            config: config.clone(),
            leaves,
            brands,
            products,
            by_leaf,
            queries,
            pools,
        })
    }

    /// Streams the catalogue entries to `write`, in product order.
    pub fn render_catalog(
        &self,
        mut write: impl FnMut(crate::types::Product) -> Result<()>,
    ) -> Result<()> {
        let mut rng = stream(self.config.seed, 5);
        for (i, t) in self.products.iter().enumerate() {
            write(catalog::render_product(
                &mut rng,
                i as u32,
                t,
                &self.leaves,
                &self.brands,
            ))?;
        }
        Ok(())
    }

    /// The judgments, graded with the configured [`GradeMap`].
    pub fn qrels(&self) -> Vec<Judgment> {
        let mut out = Vec::new();
        for (q, pool) in self.queries.iter().zip(&self.pools) {
            for (i, l) in pool {
                out.push(Judgment {
                    query: q.id.clone(),
                    doc: catalog::doc_id(*i),
                    grade: self.config.grades.esci(*l),
                });
            }
        }
        out
    }

    /// The true grade of `doc` for query `query` (the configured
    /// [`GradeMap`] of its ESCI label from the generator's truth), for any
    /// product, judged or not; `None` when either is not of this world.
    pub fn grade(&self, query: &QueryId, doc: &crate::types::DocId) -> Option<i32> {
        let q = self.query(query)?;
        let p = catalog::doc_index(doc).and_then(|i| self.products.get(i as usize))?;
        Some(
            self.config
                .grades
                .esci(queries::label(&q.intent, p, &self.leaves)),
        )
    }

    /// Queries as `(id, text)`.
    pub fn query_list(&self) -> Vec<Query> {
        self.queries
            .iter()
            .map(|q| Query {
                id: q.id.clone(),
                text: q.text.clone(),
            })
            .collect()
    }
}

/// The knobs a `hyrank data generate` folder was made from, read from its
/// `world.json`: the world's and the simulated users' behaviour (the
/// default behaviour when the file predates it). [`World::build`] of the
/// first rebuilds the same truth.
pub fn read_world_json(dir: &Path) -> Result<(WorldConfig, Behaviour)> {
    let path = dir.join("world.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::InvalidArgument(format!(
            "{}: {e} (a synthetic world's truth needs a folder written by `hyrank data generate`)",
            path.display()
        ))
    })?;
    let loc = || crate::Location::new(&path, 1);
    let meta: serde_json::Value = crate::formats::parse_json(&text, loc())?;
    let Some(world) = meta.get("world") else {
        return Err(Error::parse(
            loc().field("world"),
            "missing: this is not a synthetic world's world.json",
        ));
    };
    let world: WorldConfig = crate::formats::parse_json(&world.to_string(), loc().field("world"))?;
    let behaviour: Behaviour = match meta.get("simulation").and_then(|s| s.get("behaviour")) {
        Some(b) => crate::formats::parse_json(&b.to_string(), loc().field("simulation.behaviour"))?,
        None => Behaviour::default(),
    };
    Ok((world, behaviour))
}

/// Progress callback: `(stage, done, total)`.
pub type Progress<'a> = &'a dyn Fn(&str, u64, u64);

/// What [`generate`] wrote and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct GenerateReport {
    /// Products written.
    pub products: u64,
    /// Queries written.
    pub queries: u64,
    /// Judgments written.
    pub judgments: u64,
    /// Near-duplicate listings.
    pub duplicates: u64,
    /// Simulation counts.
    pub simulation: SimReport,
    /// Seconds spent.
    pub seconds: f64,
}

/// Generates a world into `out`: `catalog.ndjson`, `queries.tsv`,
/// `qrels.trec`, `query_intents.jsonl`, `duplicates.tsv`, `world.json` and
/// the interaction log in `events/`. Every file is written atomically; the
/// log is built in `events.partial/` and renamed into place at the end.
pub fn generate(
    world_config: &WorldConfig,
    sim: &SimConfig,
    out: &Path,
    progress: Progress<'_>,
) -> Result<GenerateReport> {
    let started = Instant::now();
    let world = World::build(world_config)?;
    // Every file is written into a staging folder and the set is committed at
    // the end: a killed run leaves the previous world or the new one.
    let stage = StagedDir::begin(out)?;
    let n = world.products.len() as u64;

    let mut cat = NdjsonWriter::create(stage.path("catalog.ndjson"))?;
    world.render_catalog(|p| {
        cat.write(&p)?;
        if cat.count() % 10_000 == 0 {
            progress("catalogue", cat.count(), n);
        }
        Ok(())
    })?;
    let products = cat.finish()?;
    progress("catalogue", products, n);

    write_queries_tsv(stage.path("queries.tsv"), &world.query_list())?;
    let qrels = world.qrels();
    write_qrels(stage.path("qrels.trec"), &qrels)?;
    let mut intents = NdjsonWriter::create(stage.path("query_intents.jsonl"))?;
    for q in &world.queries {
        intents.write(&serde_json::json!({
            "id": q.id, "text": q.text, "kind": q.kind, "leaf": world.leaves[q.intent.leaf as usize].spec.name,
            "lexical_gap": q.lexical_gap, "misspelt": q.misspelt, "weight": q.weight,
        }))?;
    }
    intents.finish()?;
    let path = stage.path("duplicates.tsv");
    let mut dups = AtomicFile::create(&path)?;
    let mut n_dups = 0;
    for (i, t) in world.products.iter().enumerate() {
        if let Some(orig) = t.duplicate_of {
            writeln!(
                dups,
                "{}\t{}",
                catalog::doc_id(i as u32),
                catalog::doc_id(orig)
            )
            .at(&path)?;
            n_dups += 1;
        }
    }
    dups.commit()?;

    let mut log = EventLog::open(
        stage.path("events"),
        LogConfig::default().sync(SyncPolicy::Manual),
    )?;
    let policy = LoggingPolicy::new(&world, world_config.seed);
    let mut written = 0u64;
    let simulation = simulate(&world, sim, world_config.seed, &policy, |_, events| {
        for e in &events {
            log.append(e)?;
        }
        log.commit()?;
        written += events.len() as u64;
        progress("events", written.min(sim.events), sim.events);
        Ok(())
    })?;
    log.close()?;

    let meta = serde_json::json!({
        "generator": "hyrank synthetic world",
        "synthetic": true,
        "world": world_config,
        "simulation": sim,
        "counts": { "products": products, "queries": world.queries.len(), "judgments": qrels.len(), "duplicates": n_dups, "simulation": simulation },
    });
    write_atomic(
        stage.path("world.json"),
        serde_json::to_string_pretty(&meta)
            .map_err(|e| Error::io(out, std::io::Error::other(e)))?
            .as_bytes(),
    )?;
    stage.commit()?;
    Ok(GenerateReport {
        products,
        queries: world.queries.len() as u64,
        judgments: qrels.len() as u64,
        duplicates: n_dups,
        simulation,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests;
