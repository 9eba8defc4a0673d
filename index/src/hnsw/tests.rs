//! Tests of the HNSW graph: recall, filters, extension, the file, levels.

use super::build::{level_of, mix};
use super::*;

fn unit_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut v = Vec::with_capacity(n * dim);
    for r in 0..n {
        let row: Vec<f32> = (0..dim)
            .map(|d| (mix(seed ^ (r * dim + d) as u64) >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
            .collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.extend(row.iter().map(|x| x / norm));
    }
    v
}

fn exact(space: Space<'_>, q: &[f32], k: usize, allowed: impl Fn(u32) -> bool) -> Vec<usize> {
    let mut all: Vec<Cand> = (0..space.rows() as u32)
        .filter(|&r| allowed(r))
        .map(|r| Cand {
            s: dot(q, space.row(r)),
            r,
        })
        .collect();
    all.sort_unstable_by(|a, b| b.cmp(a));
    all.into_iter().take(k).map(|c| c.r as usize).collect()
}

fn recall(
    g: &Graph,
    space: Space<'_>,
    queries: &[f32],
    ef: usize,
    upper_beam: usize,
    allowed: impl Fn(u32) -> bool + Copy,
) -> f64 {
    let mut hit = 0usize;
    let mut total = 0usize;
    for q in queries.chunks_exact(space.dim) {
        let truth = exact(space, q, 10, allowed);
        let got = g.search(space, q, 10, ef, upper_beam, allowed);
        assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "not best first");
        assert!(
            got.iter().all(|(r, _)| allowed(*r as u32)),
            "a row outside the filter"
        );
        hit += got.iter().filter(|(r, _)| truth.contains(r)).count();
        total += truth.len();
    }
    hit as f64 / total as f64
}

#[test]
fn visited_tags_survive_the_epoch_wrapping() {
    let mut s = Scratch::default();
    for i in 0..70_000u32 {
        s.reset(10);
        let r = i % 10;
        assert!(s.visit(r), "search {i}: row {r} seen before it was visited");
        assert!(!s.visit(r));
    }
}

#[test]
fn recall_is_high_and_grows_with_ef() {
    let (n, dim) = (3000, 32);
    let data = unit_rows(n, dim, 1);
    let queries = unit_rows(100, dim, 2);
    let space = Space { data: &data, dim };
    let rows: Vec<usize> = (0..n).collect();
    let g = Graph::build(space, &rows, 12, 100);
    assert_eq!(g.nodes(), n);
    g.check().unwrap();
    let low = recall(&g, space, &queries, 10, 1, |_| true);
    let high = recall(&g, space, &queries, 200, 1, |_| true);
    assert!(high >= 0.97, "recall@10 at ef 200: {high}");
    assert!(high >= low, "ef 200 {high} < ef 10 {low}");
}

/// Rows in tight clusters (near-duplicate titles in a catalogue) and
/// queries between two clusters: a greedy descent reaches level 0 near
/// one of them; a level-1 beam enters from both.
#[test]
fn upper_beam_finds_more_between_clusters() {
    let (clusters, per, dim) = (60, 50, 32);
    let centres = unit_rows(clusters, dim, 7);
    let noise = unit_rows(clusters * per, dim, 8);
    let mut data = Vec::with_capacity(clusters * per * dim);
    for r in 0..clusters * per {
        let c = &centres[(r % clusters) * dim..][..dim];
        let row: Vec<f32> = (0..dim).map(|d| c[d] + 0.15 * noise[r * dim + d]).collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        data.extend(row.iter().map(|x| x / norm));
    }
    let mut queries = Vec::new();
    for i in 0..100 {
        let (a, b) = (i % clusters, (i * 7 + 3) % clusters);
        queries.extend((0..dim).map(|d| centres[a * dim + d] + centres[b * dim + d]));
    }
    let space = Space { data: &data, dim };
    let g = Graph::build(space, &(0..data.len() / dim).collect::<Vec<_>>(), 8, 64);
    let greedy = recall(&g, space, &queries, 10, 1, |_| true);
    let beam = recall(&g, space, &queries, 10, 16, |_| true);
    eprintln!("recall@10 at ef 10: greedy descent {greedy}, upper beam 16 {beam}");
    assert!(beam > greedy + 0.05, "upper beam {beam}, greedy {greedy}");
}

#[test]
fn filtered_and_deleted_rows_never_come_back() {
    let (n, dim) = (2000, 16);
    let data = unit_rows(n, dim, 3);
    let queries = unit_rows(50, dim, 4);
    let space = Space { data: &data, dim };
    let g = Graph::build(space, &(0..n).collect::<Vec<_>>(), 8, 64);
    let r = recall(&g, space, &queries, 100, 16, |r| r % 3 == 0);
    assert!(r >= 0.9, "filtered recall {r}");
}

#[test]
fn extend_inserts_new_rows_and_keeps_the_old_graph() {
    let (n, dim) = (2000, 16);
    let data = unit_rows(n, dim, 5);
    let queries = unit_rows(50, dim, 6);
    let half = Space {
        data: &data[..n / 2 * dim],
        dim,
    };
    let g = Graph::build(half, &(0..n / 2).collect::<Vec<_>>(), 8, 64);
    let full = Space { data: &data, dim };
    let g2 = g.extend(full, &(n / 2..n).collect::<Vec<_>>());
    assert_eq!(g.nodes(), n / 2);
    assert_eq!(g2.nodes(), n);
    g2.check().unwrap();
    let r = recall(&g2, full, &queries, 100, 16, |_| true);
    assert!(r >= 0.95, "recall after extend {r}");
}

#[test]
fn save_load_roundtrip_and_corruption_is_named() {
    let (n, dim) = (500, 8);
    let data = unit_rows(n, dim, 7);
    let space = Space { data: &data, dim };
    // Leave some rows out of the graph.
    let rows: Vec<usize> = (0..n).filter(|r| r % 10 != 0).collect();
    let g = Graph::build(space, &rows, 6, 40);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hnsw.bin");
    g.save(&path).unwrap();
    let h = Graph::load(&path, n).unwrap();
    assert_eq!(h.base[..], g.base[..]);
    assert_eq!(h.upper, g.upper);
    assert_eq!(h.levels, g.levels);
    assert_eq!((h.entry, h.top, h.ef_construction), (g.entry, g.top, 40));
    let q = space.row(3).to_vec();
    assert_eq!(
        h.search(space, &q, 5, 50, 1, |_| true),
        g.search(space, &q, 5, 50, 1, |_| true)
    );

    let err = Graph::load(&path, n + 1).unwrap_err().to_string();
    assert!(err.contains("500 rows"), "{err}");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let err = Graph::load(&path, n).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    // A link to a row outside the graph (row 1's first link; row 1 has links).
    let mut bad = bytes.clone();
    assert!(!g.list(1, 0).is_empty());
    let first_link = 36 + n + (g.m0 + 1) * 4 + 4;
    bad[first_link..first_link + 4].copy_from_slice(&(n as u32 + 7).to_le_bytes());
    std::fs::write(&path, &bad).unwrap();
    let err = Graph::load(&path, n).unwrap_err().to_string();
    assert!(err.contains("link to row"), "{err}");
}

#[test]
fn empty_and_single_row_graphs() {
    let dim = 4;
    let data = unit_rows(1, dim, 9);
    let space = Space { data: &data, dim };
    let g = Graph::build(space, &[], 4, 10);
    assert!(g.search(space, &data, 3, 10, 8, |_| true).is_empty());
    let g = Graph::build(space, &[0], 4, 10);
    let hits = g.search(space, &data, 3, 10, 8, |_| true);
    assert_eq!(hits.len(), 1);
    assert!((hits[0].1 - 1.0).abs() < 1e-5);
}

#[test]
fn levels_are_deterministic_and_geometric() {
    let m = 16;
    let levels: Vec<u8> = (0..100_000).map(|r| level_of(r, m)).collect();
    assert_eq!(
        levels,
        (0..100_000).map(|r| level_of(r, m)).collect::<Vec<_>>()
    );
    let above0 = levels.iter().filter(|&&l| l > 0).count() as f64 / 1e5;
    // P(level ≥ 1) = 1/M.
    assert!((above0 - 1.0 / 16.0).abs() < 0.01, "{above0}");
}
