//! Rankers trained on a simulated log: rows are point-in-time, every model
//! learns something, the network is deterministic, bad logs are refused.

use hyrank_data::synth::{simulate, LoggingPolicy, SimConfig, World, WorldConfig};
use hyrank_data::{InteractionEvent, Timestamp};
use hyrank_index::{BuildOptions, SearchIndex};
use hyrank_ranker::features::{column, FeatureStore, ProductTable};
use hyrank_ranker::ModelArtefact;
use hyrank_training::logset::{build_rows, LogRows, Window};
use hyrank_training::logtrain::{train_from_log, LogModel, LogTrainParams};
use hyrank_training::mtl::MtlParams;

struct Fixture {
    _dir: tempfile::TempDir,
    events: Vec<InteractionEvent>,
    train: LogRows,
    valid: LogRows,
}

fn fixture(events: u64) -> Fixture {
    let world = World::build(&WorldConfig {
        products: 800,
        queries: 60,
        ..WorldConfig::default()
    })
    .unwrap();
    let mut products = Vec::new();
    world
        .render_catalog(|p| {
            products.push(p);
            Ok(())
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    SearchIndex::build(
        dir.path(),
        &products,
        None,
        BuildOptions::default(),
        &|_, _| {},
    )
    .unwrap();
    let index = SearchIndex::open(dir.path(), None).unwrap();
    let policy = LoggingPolicy::new(&world, 3);
    let mut log = Vec::new();
    let sim = SimConfig {
        events,
        days: 10,
        ..SimConfig::default()
    };
    simulate(&world, &sim, 3, &policy, |_, e| {
        log.extend(e);
        Ok(())
    })
    .unwrap();
    let table = ProductTable::new(&index.products().unwrap());
    let store = FeatureStore::from_events(&log);
    let split = Timestamp(sim.start.0 + 8 * 86_400_000);
    let train_w = Window {
        from: None,
        until: Some(split),
    };
    let valid_w = Window {
        from: Some(split),
        until: None,
    };
    let train = build_rows(&log, train_w, &index, &table, &store, &|_, _, _| {}).unwrap();
    let valid = build_rows(&log, valid_w, &index, &table, &store, &|_, _, _| {}).unwrap();
    Fixture {
        _dir: dir,
        events: log,
        train,
        valid,
    }
}

#[test]
fn rows_carry_the_log_labels_and_point_in_time_features() {
    let f = fixture(12_000);
    let clicks = f.events.iter().filter(|e| e.kind() == "click").count();
    let labelled = f
        .train
        .click
        .iter()
        .chain(&f.valid.click)
        .filter(|&&c| c)
        .count();
    // A click whose impression fell in no window would be lost; none is.
    assert!(labelled > 0 && labelled <= clicks, "{labelled} of {clicks}");
    assert!(
        labelled as f64 > 0.95 * clicks as f64,
        "{labelled} of {clicks} clicks labelled"
    );
    assert!(f.train.purchase.iter().any(|&p| p));
    assert!(
        f.train.times.windows(2).all(|w| w[0] <= w[1]),
        "impressions in time order"
    );
    assert!(f
        .valid
        .times
        .iter()
        .all(|t| t >= f.train.times.last().unwrap()));
    // The first impression of the log knows no history.
    let c = column("product_log_impressions_30d").unwrap();
    assert_eq!(f.train.x.get(0, c), 0.0);
    assert!(
        f.valid.x.get(0, c) > 0.0,
        "by the validation window products have history"
    );
    assert_eq!(f.train.groups.len(), f.train.impressions() + 1);
}

#[test]
fn every_model_learns_clicks_and_purchases_and_the_network_is_deterministic() {
    let f = fixture(12_000);
    let params = LogTrainParams {
        mtl: MtlParams {
            epochs: 8,
            expert_hidden: vec![16],
            tower_hidden: vec![8],
            experts: 2,
            ..MtlParams::default()
        },
        ..LogTrainParams::default()
    };
    for model in [LogModel::Lr, LogModel::LambdaMart, LogModel::Mtl] {
        let (ranker, report) =
            train_from_log(model, &f.train, &f.valid, &params, &mut |_| {}).unwrap();
        let auc = report.metrics["auc_click"];
        assert!(auc > 0.6, "{model:?}: click AUC {auc}");
        let auc = report.metrics["auc_purchase"];
        assert!(
            auc > 0.6,
            "{model:?}: purchase AUC {auc} {:?}",
            report.metrics
        );
        assert!(report.metrics["ndcg@10_purchase"] > 0.0);
        if model != LogModel::LambdaMart {
            assert!(
                report.metrics["ece_purchase"] < 0.05,
                "{model:?}: {:?}",
                report.metrics
            );
            assert!(report.metrics["logloss_click"].is_finite());
        }
        // Round trip through the checked model file.
        let artefact = ModelArtefact::Task(ranker);
        let back = ModelArtefact::from_bytes(&artefact.to_bytes(), "m".as_ref()).unwrap();
        assert_eq!(back, artefact);
        if model == LogModel::Mtl {
            let (again, _) =
                train_from_log(model, &f.train, &f.valid, &params, &mut |_| {}).unwrap();
            assert_eq!(
                ModelArtefact::Task(again),
                artefact,
                "same seed, same weights"
            );
        }
    }
}

fn refusal(model: LogModel, train: &LogRows, valid: &LogRows) -> String {
    let params = LogTrainParams::default();
    train_from_log(model, train, valid, &params, &mut |_| {})
        .unwrap_err()
        .to_string()
}

#[test]
fn logs_without_the_needed_events_are_refused_naming_the_head() {
    let f = fixture(3_000);
    let mut no_buys = f.train.clone();
    no_buys.purchase.iter_mut().for_each(|p| *p = false);
    let err = refusal(LogModel::Lr, &no_buys, &f.valid);
    assert!(
        err.contains("purchase head") && err.contains("no purchases"),
        "{err}"
    );
    let mut no_clicks = f.train.clone();
    no_clicks.click.iter_mut().for_each(|p| *p = false);
    let err = refusal(LogModel::Mtl, &no_clicks, &f.valid);
    assert!(err.contains("click head"), "{err}");
    let err = refusal(LogModel::LambdaMart, &LogRows::default(), &f.valid);
    assert!(
        err.contains("training window holds no impressions"),
        "{err}"
    );
    let err = refusal(LogModel::Lr, &f.train, &LogRows::default());
    assert!(
        err.contains("validation window holds no impressions"),
        "{err}"
    );
}

#[test]
fn the_network_variants_train_shared_bottom_position_tower_and_clicked_only() {
    let f = fixture(12_000);
    for mtl in [
        MtlParams {
            experts: 1,
            position_tower: true,
            epochs: 3,
            ..MtlParams::default()
        },
        MtlParams {
            entire_space: false,
            epochs: 3,
            ..MtlParams::default()
        },
    ] {
        let params = LogTrainParams {
            mtl: mtl.clone(),
            ..LogTrainParams::default()
        };
        let (ranker, report) =
            train_from_log(LogModel::Mtl, &f.train, &f.valid, &params, &mut |_| {}).unwrap();
        // Without its position tower (dropped at serving) the network ranks
        // worse on this small, position-biased log, but still above chance.
        let floor = if mtl.position_tower { 0.55 } else { 0.6 };
        let auc = report.metrics["auc_purchase"];
        assert!(auc > floor, "{mtl:?}: purchase AUC {auc}");
        let hyrank_ranker::task::Heads::Mtl { net } = &ranker.heads else {
            panic!("an mtl model")
        };
        assert_eq!(net.experts.len(), mtl.experts);
        assert_eq!(
            net.gates.is_empty(),
            mtl.experts == 1,
            "gates only with several experts"
        );
    }
    let bad = LogTrainParams {
        mtl: MtlParams {
            expert_hidden: vec![],
            ..MtlParams::default()
        },
        ..LogTrainParams::default()
    };
    let e = train_from_log(LogModel::Mtl, &f.train, &f.valid, &bad, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("mtl.expert_hidden"), "{e}");
}
