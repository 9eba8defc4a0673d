use std::path::Path;

use super::*;

/// Queries of 20 documents; grade = a noisy step of features 0 and 1,
/// feature 2 is noise.
fn synthetic(queries: usize, seed: u64) -> RankingData {
    let mut rng = SplitMix64(seed);
    let mut unit = move || (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    let mut x = FeatureMatrix::with_cols(3);
    let mut labels = Vec::new();
    let mut groups = vec![0];
    for _ in 0..queries {
        for _ in 0..20 {
            let (a, b, c) = (unit(), unit(), unit());
            let s = 2.0 * a + b + 0.3 * unit();
            labels.push(if s > 2.3 {
                2.0
            } else if s > 1.6 {
                1.0
            } else {
                0.0
            });
            x.push_row(&[a as f32, b as f32, c as f32]).unwrap();
        }
        groups.push(labels.len());
    }
    RankingData { x, labels, groups }
}

/// Mean nDCG@10 (exponential gain) of `scores` over the groups with a relevant row.
fn mean_ndcg10(data: &RankingData, scores: &[f64]) -> f64 {
    let mut total = 0.0;
    let mut n = 0;
    for q in 0..data.num_groups() {
        let rows = data.group(q);
        let mut order: Vec<usize> = rows.clone().collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut ideal: Vec<f32> = data.labels[rows].to_vec();
        ideal.sort_by(|a, b| b.total_cmp(a));
        let dcg = |g: &mut dyn Iterator<Item = f32>| -> f64 {
            g.take(10)
                .enumerate()
                .map(|(r, l)| (2f64.powf(f64::from(l)) - 1.0) / (r as f64 + 2.0).log2())
                .sum()
        };
        let best = dcg(&mut ideal.into_iter());
        if best > 0.0 {
            total += dcg(&mut order.iter().map(|&r| data.labels[r])) / best;
            n += 1;
        }
    }
    total / n as f64
}

#[test]
fn lambdamart_learns_to_rank_held_out_queries() {
    let train_set = synthetic(100, 1);
    let test_set = synthetic(50, 2);
    let model = train(&train_set, &GbdtParams::default(), |_| true).unwrap();
    assert_eq!(model.trees.len(), 100);
    let learnt = mean_ndcg10(&test_set, &model.predict(&test_set.x).unwrap());
    let noise: Vec<f64> = (0..test_set.x.rows())
        .map(|r| f64::from(test_set.x.get(r, 2)))
        .collect();
    let by_noise = mean_ndcg10(&test_set, &noise);
    assert!(
        learnt > by_noise + 0.2,
        "learnt {learnt:.3} vs noise {by_noise:.3}"
    );
    assert!(learnt > 0.85, "learnt {learnt:.3}");
    let imp = model.feature_importance();
    assert!(imp[0] > imp[1] && imp[1] > imp[2], "{imp:?}");
}

#[test]
fn the_same_seed_gives_the_same_bytes_on_any_thread_count() {
    let data = synthetic(40, 3);
    let params = GbdtParams {
        feature_fraction: 0.7,
        seed: 9,
        num_trees: 20,
        ..GbdtParams::default()
    };
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| train(&data, &params, |_| true).unwrap().to_bytes())
    };
    let one = on(1);
    assert_eq!(one, on(3));
    let other_seed = GbdtParams {
        seed: 10,
        ..params.clone()
    };
    assert_ne!(one, train(&data, &other_seed, |_| true).unwrap().to_bytes());
}

#[test]
fn the_callback_stops_training_and_sees_each_tree() {
    let data = synthetic(10, 4);
    let mut seen = 0;
    let model = train(&data, &GbdtParams::default(), |r| {
        seen += 1;
        assert!(!r.tree.leaves.is_empty());
        r.index < 4
    })
    .unwrap();
    assert_eq!((seen, model.trees.len()), (5, 5));
}

#[test]
fn binary_objective_predicts_log_odds() {
    let mut data = synthetic(30, 5);
    for l in &mut data.labels {
        *l = if *l >= 1.0 { 1.0 } else { 0.0 };
    }
    let params = GbdtParams {
        objective: Objective::Binary,
        ..GbdtParams::default()
    };
    let model = train(&data, &params, |_| true).unwrap();
    let base = data.labels.iter().map(|&l| f64::from(l)).sum::<f64>() / data.labels.len() as f64;
    assert!((objective::sigmoid(model.init_score) - base).abs() < 1e-9);
    let hi = objective::sigmoid(model.predict_row(&[0.95, 0.95, 0.5]));
    let lo = objective::sigmoid(model.predict_row(&[0.05, 0.05, 0.5]));
    assert!(hi > 0.8 && lo < 0.2, "{hi} {lo}");
}

#[test]
fn model_files_round_trip_and_damage_is_caught() {
    let data = synthetic(10, 6);
    let model = train(
        &data,
        &GbdtParams {
            num_trees: 5,
            ..GbdtParams::default()
        },
        |_| true,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    model.save(&path).unwrap();
    assert_eq!(GbdtModel::load(&path).unwrap(), model);

    let bytes = std::fs::read(&path).unwrap();
    let p = Path::new("m.json");
    let mut flipped = bytes.clone();
    let at = flipped.len() - 10;
    flipped[at] = if flipped[at] == b'1' { b'2' } else { b'1' };
    let e = GbdtModel::from_bytes(&flipped, p).unwrap_err().to_string();
    assert!(
        e.contains("checksum mismatch") && e.contains("m.json"),
        "{e}"
    );
    let e = GbdtModel::from_bytes(&bytes[..bytes.len() / 2], p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated"), "{e}");
    let e = GbdtModel::from_bytes(b"{\"format\":\"x\"}\n{}", p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 1"), "{e}");
    assert!(GbdtModel::from_bytes(b"", p)
        .unwrap_err()
        .to_string()
        .contains("header"));
}

#[test]
fn bad_parameters_and_data_name_the_problem() {
    let data = synthetic(2, 7);
    let e = train(
        &data,
        &GbdtParams {
            num_leaves: 1,
            ..GbdtParams::default()
        },
        |_| true,
    )
    .unwrap_err();
    assert!(e.to_string().contains("num_leaves"), "{e}");
    let mut bad = data.clone();
    bad.groups = vec![0, 5];
    assert!(train(&bad, &GbdtParams::default(), |_| true)
        .unwrap_err()
        .to_string()
        .contains("groups"));
    let mut bad = data.clone();
    bad.labels[3] = -1.0;
    assert!(train(&bad, &GbdtParams::default(), |_| true)
        .unwrap_err()
        .to_string()
        .contains("row 3"));
    let wrong_width = FeatureMatrix::new(2, vec![0.0; 4]).unwrap();
    let model = train(
        &data,
        &GbdtParams {
            num_trees: 1,
            ..GbdtParams::default()
        },
        |_| true,
    )
    .unwrap();
    assert!(model.predict(&wrong_width).is_err());
}
