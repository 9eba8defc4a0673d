//! LambdaMART on LightGBM's LETOR sample (`shared/data/letor_sample`).

use hyrank_data::formats::letor::read_letor_set;
use hyrank_data::reference::shared_data;
use hyrank_ranker::gbdt::GbdtParams;
use hyrank_training::letor::{mean_ndcg, to_ranking_data};
use hyrank_training::{predict_letor, train_letor, LetorTrainOptions};

fn sample(name: &str) -> Option<std::path::PathBuf> {
    shared_data(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        &format!("letor_sample/{name}"),
    )
}

#[test]
fn lambdamart_beats_the_best_single_feature_on_held_out_queries() {
    let (Some(train), Some(test)) = (sample("rank.train"), sample("rank.test")) else {
        return;
    };
    let report = train_letor(&train, &LetorTrainOptions::default(), |_| {}).unwrap();
    assert_eq!((report.rows, report.queries), (3005, 201));
    assert_eq!(report.model.trees.len(), 100);

    let tr = read_letor_set(&train, None).unwrap();
    let te = read_letor_set(&test, None).unwrap();
    let (tr, _) = to_ranking_data(&tr, report.features).unwrap();
    let (te, _) = to_ranking_data(&te, report.features).unwrap();
    // The baseline: the one feature that ranks the training queries best.
    let column = |d: &hyrank_ranker::gbdt::RankingData, f: usize| -> Vec<f64> {
        (0..d.x.rows()).map(|r| f64::from(d.x.get(r, f))).collect()
    };
    let best = (0..report.features)
        .max_by(|&a, &b| {
            mean_ndcg(&tr, &column(&tr, a), 10).total_cmp(&mean_ndcg(&tr, &column(&tr, b), 10))
        })
        .unwrap();
    let single = mean_ndcg(&te, &column(&te, best), 10);
    let (scores, ignored) = predict_letor(&report.model, &test).unwrap();
    let learnt = mean_ndcg(&te, &scores, 10);
    assert!(
        learnt > single + 0.02,
        "lambdamart {learnt:.4} vs feature {best} {single:.4}"
    );
    assert_eq!(ignored, 0);
}

#[test]
fn early_stopping_keeps_the_best_round() {
    let (Some(train), Some(test)) = (sample("rank.train"), sample("rank.test")) else {
        return;
    };
    let opts = LetorTrainOptions {
        params: GbdtParams {
            num_trees: 300,
            learning_rate: 0.3,
            ..GbdtParams::default()
        },
        valid: Some(test.clone()),
        early_stopping_rounds: Some(10),
        eval_at: 10,
    };
    let mut rounds = 0;
    let report = train_letor(&train, &opts, |r| rounds = r.round).unwrap();
    let best = report.best_round.unwrap();
    assert!(
        rounds < 300 && rounds == best + 10,
        "stopped at {rounds}, best {best}"
    );
    assert_eq!(report.model.trees.len(), best);
    let top = report.valid_ndcg.iter().copied().fold(f64::MIN, f64::max);
    assert_eq!(report.valid_ndcg[best - 1], top);

    let e = train_letor(
        &train,
        &LetorTrainOptions {
            valid: None,
            ..opts
        },
        |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("validation"), "{e}");
}

#[test]
fn bad_feature_files_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.txt");
    std::fs::write(&f, "1 qid:1 1:0.5\n2 qid:1 1:x\n").unwrap();
    let e = train_letor(&f, &LetorTrainOptions::default(), |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.txt:2"), "{e}");
    std::fs::write(&f, "1 qid:1 1:0.5\n2 qid:1 5000000:1\n").unwrap();
    let e = train_letor(&f, &LetorTrainOptions::default(), |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.txt:2") && e.contains("5000000"), "{e}");
    std::fs::write(&f, "").unwrap();
    let e = train_letor(&f, &LetorTrainOptions::default(), |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("no rows"), "{e}");
    std::fs::write(&f, "7 qid:1 1:0.5\n0.5 qid:1 1:0.7\n").unwrap();
    let e = train_letor(&f, &LetorTrainOptions::default(), |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.txt:2:1") && e.contains("grade"), "{e}");
}

#[test]
fn logistic_regression_is_a_baseline_between_no_model_and_lambdamart() {
    let (Some(train), Some(test)) = (sample("rank.train"), sample("rank.test")) else {
        return;
    };
    let params = hyrank_ranker::linear::LogisticParams::default();
    let lr = hyrank_training::train_letor_logistic(&train, Some(&test), &params, 1.0, 10).unwrap();
    assert!(lr.converged, "{} steps", lr.iterations);
    assert_eq!(lr.positives, 2360, "labels >= 1");
    let lr_ndcg = lr.valid_ndcg.unwrap();
    let gbdt = train_letor(
        &train,
        &LetorTrainOptions {
            valid: Some(test.clone()),
            ..LetorTrainOptions::default()
        },
        |_| {},
    )
    .unwrap();
    let lambdamart = *gbdt.valid_ndcg.last().unwrap();
    // No model at all: the file order.
    let te = read_letor_set(&test, None).unwrap();
    let (te, _) = to_ranking_data(&te, lr.features).unwrap();
    let file_order: Vec<f64> = (0..te.x.rows()).map(|r| -(r as f64)).collect();
    let unranked = mean_ndcg(&te, &file_order, 10);
    assert!(
        lr_ndcg < lambdamart,
        "lr {lr_ndcg:.4} vs lambdamart {lambdamart:.4}"
    );
    assert!(
        lr_ndcg > unranked + 0.05,
        "lr {lr_ndcg:.4} vs file order {unranked:.4}"
    );
}
