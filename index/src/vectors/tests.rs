//! Tests of the vector folder: build, open, search, apply, corruption.

use super::search::ROW_BLOCK;
use super::*;
use crate::kernels::dot::dot;

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn random_unit(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed;
    let mut rnd = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    (0..n)
        .map(|_| unit(&(0..dim).map(|_| rnd()).collect::<Vec<_>>()))
        .collect()
}

fn brute(vecs: &[Vec<f32>], q: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut all: Vec<(usize, f32)> = vecs
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(i, v)| (i, dot(v, q)))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.into_iter().take(k).map(|h| h.0).collect()
}

fn build(dir: &Path, vecs: &[Vec<f32>], config: VectorConfig) -> VectorIndex {
    VectorIndex::build(
        dir,
        vecs.iter()
            .enumerate()
            .map(|(i, v)| (DocId(format!("d{i}")), v.as_slice())),
        vecs[0].len(),
        config,
    )
    .unwrap()
}

fn rows(hits: &[(usize, f32)]) -> Vec<usize> {
    hits.iter().map(|h| h.0).collect()
}

/// recall@10 against brute force, and the largest |score − exact cosine|.
fn recall10(vecs: &[Vec<f32>], queries: &[Vec<f32>], got: &[Vec<(usize, f32)>]) -> (f64, f32) {
    let (mut agree, mut err) = (0, 0f32);
    for (q, hits) in queries.iter().zip(got) {
        let truth = brute(vecs, q, 10, |_| true);
        agree += rows(hits).iter().filter(|r| truth.contains(r)).count();
        for (r, s) in hits {
            err = err.max((s - dot(&vecs[*r], q)).abs());
        }
    }
    (agree as f64 / (10 * queries.len()) as f64, err)
}

#[test]
fn exact_scan_matches_brute_force_across_row_blocks_and_filters() {
    let vecs = random_unit(ROW_BLOCK + 300, 8, 1);
    let queries = random_unit(70, 8, 2);
    let dir = tempfile::tempdir().unwrap();
    let idx = build(&dir.path().join("v"), &vecs, VectorConfig::default());
    let got = idx
        .search_batch(&queries, 5, None, SearchOptions::default())
        .unwrap();
    for (q, hits) in queries.iter().zip(&got) {
        assert_eq!(rows(hits), brute(&vecs, q, 5, |_| true));
        assert!((hits[0].1 - dot(&vecs[hits[0].0], q)).abs() < 1e-5);
    }
    let mask: Vec<bool> = (0..vecs.len()).map(|i| i % 7 == 3).collect();
    let f = idx
        .search_batch(&queries[..3], 5, Some(&mask), SearchOptions::default())
        .unwrap();
    for (q, hits) in queries.iter().zip(&f) {
        assert_eq!(rows(hits), brute(&vecs, q, 5, |i| i % 7 == 3));
    }
    // errors name the problem
    assert!(idx
        .search_batch(&[vec![1.0]], 3, None, SearchOptions::default())
        .unwrap_err()
        .to_string()
        .contains("dimension 1"));
    // reopening maps the same matrix
    let again = VectorIndex::open(&dir.path().join("v")).unwrap();
    assert_eq!(again.vector(17), idx.vector(17));
    assert_eq!(again.row_of(&DocId::from("d17")), Some(17));
}

#[test]
fn quantized_storage_scans_and_walks_then_rescores_exactly() {
    // 40 dimensions: the SIMD kernels' 32-wide steps and their tails.
    let vecs = random_unit(3000, 40, 11);
    let queries = random_unit(40, 40, 12);
    let graph = HnswParams {
        m: 16,
        ef_construction: 100,
        ef_search: 64,
        upper_beam: 8,
    };
    for storage in [Storage::F16, Storage::Int8] {
        for hnsw in [None, Some(graph)] {
            let dir = tempfile::tempdir().unwrap();
            build(dir.path(), &vecs, VectorConfig { storage, hnsw });
            let idx = VectorIndex::open(dir.path()).unwrap();
            // Scan and walk read the compact copy; f32 stays in the file mapping.
            assert!(matches!(idx.matrix, Matrix::Mapped(_)), "{storage:?}");
            let got = idx
                .search_batch(&queries, 10, None, SearchOptions::default())
                .unwrap();
            let (recall, err) = recall10(&vecs, &queries, &got);
            let what = format!("{storage:?}, graph {}", hnsw.is_some());
            assert!(err < 1e-5, "{what}: re-scored exactly ({err})");
            let floor = if hnsw.is_some() { 0.9 } else { 0.99 };
            assert!(recall >= floor, "{what}: recall@10 {recall}");
            let mask: Vec<bool> = (0..vecs.len()).map(|i| i % 3 == 0).collect();
            let f = idx
                .search_batch(&queries, 10, Some(&mask), SearchOptions::default())
                .unwrap();
            assert!(f.iter().flatten().all(|(r, _)| r % 3 == 0), "{what}");
            assert!(f.iter().all(|h| h.len() == 10), "{what}");
        }
    }
}

#[test]
fn hnsw_is_persisted_filtered_and_close_to_exact() {
    let vecs = random_unit(3000, 16, 5);
    let queries = random_unit(40, 16, 6);
    let dir = tempfile::tempdir().unwrap();
    let cfg = VectorConfig {
        storage: Storage::F32,
        hnsw: Some(HnswParams {
            m: 16,
            ef_construction: 100,
            ef_search: 64,
            upper_beam: 8,
        }),
    };
    build(dir.path(), &vecs, cfg);
    let idx = VectorIndex::open(dir.path()).unwrap();
    assert!(dir.path().join("hnsw.bin").exists());
    let got = idx
        .search_batch(&queries, 10, None, SearchOptions::default())
        .unwrap();
    let (recall, err) = recall10(&vecs, &queries, &got);
    assert!(
        recall >= 0.9 && err < 1e-4,
        "recall {recall}, score error {err}"
    );
    let mask: Vec<bool> = (0..vecs.len()).map(|i| i % 5 == 0).collect();
    let f = idx
        .search_batch(&queries, 10, Some(&mask), SearchOptions::default())
        .unwrap();
    assert!(f.iter().flatten().all(|(r, _)| r % 5 == 0));
    assert!(f.iter().all(|h| h.len() == 10));
    // A filter keeping under 5 % of the rows is answered by the exact scan.
    let rare: Vec<bool> = (0..vecs.len()).map(|i| i % 100 == 7).collect();
    let f = idx
        .search_batch(&queries[..3], 10, Some(&rare), SearchOptions::default())
        .unwrap();
    for (q, h) in queries.iter().zip(&f) {
        assert_eq!(rows(h), brute(&vecs, q, 10, |i| i % 100 == 7));
    }
    let exact = idx
        .search_batch(
            &queries[..1],
            10,
            None,
            SearchOptions {
                exact: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(rows(&exact[0]), brute(&vecs, &queries[0], 10, |_| true));
    // hnswlib's greedy descent (a level-1 beam of 1) stays available.
    let greedy = idx
        .search_batch(
            &queries,
            10,
            None,
            SearchOptions {
                upper_beam: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    let (recall1, _) = recall10(&vecs, &queries, &greedy);
    assert!(recall1 >= 0.85, "recall with greedy descent {recall1}");
    // Concurrent searches with different ef_search each get their own.
    let with_ef = |ef: usize| {
        idx.search_batch(
            &queries,
            10,
            None,
            SearchOptions {
                ef_search: Some(ef),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let (low, high) = (with_ef(10), with_ef(300));
    std::thread::scope(|s| {
        for t in 0..4 {
            let (with_ef, low, high) = (&with_ef, &low, &high);
            s.spawn(move || {
                for _ in 0..5 {
                    if t % 2 == 0 {
                        assert_eq!(&with_ef(10), low);
                    } else {
                        assert_eq!(&with_ef(300), high);
                    }
                }
            });
        }
    });
    assert!(HnswParams {
        m: 1,
        ..Default::default()
    }
    .validate()
    .is_err());
    assert!(HnswParams {
        upper_beam: 0,
        ..Default::default()
    }
    .validate()
    .is_err());
    // Folders written before `upper_beam` existed read it as the default.
    let old: HnswParams =
        serde_json::from_str(r#"{"m": 16, "ef_construction": 200, "ef_search": 100}"#).unwrap();
    assert_eq!(old.upper_beam, DEFAULT_UPPER_BEAM);
}

#[test]
fn apply_appends_marks_deleted_and_compacts() {
    let vecs = random_unit(100, 8, 7);
    let root = tempfile::tempdir().unwrap();
    for cfg in [
        VectorConfig::default(),
        VectorConfig {
            storage: Storage::Int8,
            hnsw: Some(HnswParams::default()),
        },
    ] {
        let a = build(&root.path().join("a"), &vecs, cfg);
        let extra = random_unit(3, 8, 8);
        let upserts = vec![
            (DocId::from("d5"), extra[0].clone()),
            (DocId::from("new1"), extra[1].clone()),
        ];
        let rep = a
            .apply(&root.path().join("b"), &upserts, &[DocId::from("d9")])
            .unwrap();
        assert_eq!((rep.added, rep.deleted, rep.compacted), (2, 2, false));
        let b = VectorIndex::open(&root.path().join("b")).unwrap();
        assert_eq!((b.len(), b.rows()), (100, 102));
        assert_eq!(b.row_of(&DocId::from("d9")), None);
        assert_eq!(
            b.vector(b.row_of(&DocId::from("d5")).unwrap()),
            &extra[0][..]
        );
        let hit = b
            .search_batch(&[extra[1].clone()], 1, None, SearchOptions::default())
            .unwrap();
        assert_eq!(b.id(hit[0][0].0).as_str(), "new1");
        let hit = b
            .search_batch(&[vecs[9].clone()], 3, None, SearchOptions::default())
            .unwrap();
        assert!(hit[0].iter().all(|(r, _)| b.id(*r).as_str() != "d9"));
        // the old folder is untouched
        assert_eq!(
            VectorIndex::open(&root.path().join("a")).unwrap().rows(),
            100
        );
        // deleting most rows compacts
        let gone: Vec<DocId> = (0..60).map(|i| DocId(format!("d{i}"))).collect();
        let rep = b.apply(&root.path().join("c"), &[], &gone).unwrap();
        assert!(rep.compacted);
        let c = VectorIndex::open(&root.path().join("c")).unwrap();
        assert_eq!((c.len(), c.rows()), (41, 41));
        for d in ["a", "b", "c"] {
            std::fs::remove_dir_all(root.path().join(d)).unwrap();
        }
    }
}

#[test]
fn damaged_or_old_hnsw_graphs_are_named() {
    let vecs = random_unit(50, 4, 11);
    let dir = tempfile::tempdir().unwrap();
    let cfg = VectorConfig {
        storage: Storage::F32,
        hnsw: Some(HnswParams::default()),
    };
    build(dir.path(), &vecs, cfg);
    let graph = dir.path().join("hnsw.bin");
    std::fs::write(&graph, b"HYHNSW01 but not much else").unwrap();
    let e = VectorIndex::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("hnsw.bin"), "{e}");
    // A folder written by the usearch-based hyrank.
    std::fs::remove_file(&graph).unwrap();
    std::fs::write(dir.path().join("hnsw.usearch"), b"x").unwrap();
    let e = VectorIndex::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("--full"), "{e}");
}

#[test]
fn damaged_folders_are_named() {
    let vecs = random_unit(20, 4, 9);
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), &vecs, VectorConfig::default());
    std::fs::write(dir.path().join("ids.txt"), "d0\n").unwrap();
    let e = VectorIndex::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("1 ids for 20 vectors"), "{e}");
    std::fs::write(dir.path().join("vectors.bin"), b"garbage").unwrap();
    let e = VectorIndex::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("bad magic") && e.contains("vectors.bin"), "{e}");
    let dup = [vecs[0].as_slice(), vecs[1].as_slice()];
    let e = VectorIndex::build(
        &dir.path().join("x"),
        dup.iter().map(|v| (DocId::from("same"), *v)),
        4,
        VectorConfig::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("same appears twice"), "{e}");
}
