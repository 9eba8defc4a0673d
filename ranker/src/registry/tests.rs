use super::*;
use crate::gbdt::{train, FeatureMatrix, GbdtParams, RankingData};

fn model(trees: usize) -> ModelArtefact {
    let x = FeatureMatrix::new(
        2,
        vec![0.1, 5.0, 1.2, 3.0, 2.1, 4.0, 0.0, 1.0, 2.2, 2.0, 0.9, 3.0],
    )
    .unwrap();
    let data = RankingData {
        x,
        labels: vec![0.0, 1.0, 2.0, 0.0, 2.0, 1.0],
        groups: vec![0, 3, 6],
    };
    let params = GbdtParams {
        num_trees: trees,
        min_data_in_leaf: 1,
        min_data_in_bin: 1,
        ..GbdtParams::default()
    };
    ModelArtefact::Gbdt(train(&data, &params, |_| true).unwrap())
}

fn version(id: Option<&str>, trees: usize) -> NewVersion {
    NewVersion {
        id: id.map(str::to_owned),
        model: model(trees),
        features: FeatureSchema {
            source: "letor".into(),
            version: 0,
            count: 2,
            names: Vec::new(),
            stats: Vec::new(),
        },
        training: serde_json::json!({"rows": 6}),
        metrics: BTreeMap::from([("valid_ndcg@10".to_owned(), 0.5)]),
    }
}

#[test]
fn versions_get_ids_and_promote_and_rollback_move_the_champion() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path()).unwrap();
    let a = reg.register(version(None, 2), "first").unwrap();
    let b = reg.register(version(None, 3), "second").unwrap();
    let c = reg.register(version(Some("exp-1.b"), 4), "named").unwrap();
    assert_eq!(
        (a.id.as_str(), b.id.as_str(), c.id.as_str()),
        ("v0001", "v0002", "exp-1.b")
    );
    assert_eq!(reg.list().unwrap().len(), 3);
    assert_eq!(reg.show("v0002").unwrap().kind, "lambdamart");
    assert!(reg.resolve("champion").is_err(), "no champion yet");

    reg.promote("v0001", "baseline").unwrap();
    let p = reg.promote("exp-1.b", "better").unwrap();
    assert_eq!(
        (p.champion.as_deref(), p.history.clone()),
        (Some("exp-1.b"), vec!["v0001".to_owned()])
    );
    let ModelArtefact::Gbdt(champion) = reg.load("champion").unwrap().1 else {
        panic!("a gbdt model")
    };
    assert_eq!(champion.trees.len(), 4);
    assert!(matches!(
        reg.promote("exp-1.b", "again"),
        Err(Error::Conflict(_))
    ));

    reg.record_decision("hold", "v0002", "gate: no evidence")
        .unwrap();
    assert!(reg.record_decision("promote", "v0002", "x").is_err());
    assert!(reg.record_decision("reject", "v9999", "x").is_err());
    assert_eq!(reg.pointer().unwrap().champion.as_deref(), Some("exp-1.b"));

    let p = reg.rollback("regression").unwrap();
    assert_eq!(p.champion.as_deref(), Some("v0001"));
    assert!(p.history.is_empty());
    let e = reg.rollback("more").unwrap_err();
    assert!(e.to_string().contains("no earlier champion"), "{e}");

    let actions: Vec<String> = reg.audit().unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        ["register", "register", "register", "promote", "promote", "hold", "rollback"]
    );
    let last = reg.audit().unwrap().pop().unwrap();
    assert_eq!(
        (
            last.from.as_deref(),
            last.to.as_deref(),
            last.reason.as_str()
        ),
        (Some("exp-1.b"), Some("v0001"), "regression")
    );
}

#[test]
fn ids_are_validated_and_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path()).unwrap();
    for bad in [
        "",
        "../x",
        "a/b",
        ".hidden",
        "tab\there",
        "bell\u{7}",
        &"x".repeat(65),
        "é",
    ] {
        assert!(validate_id(bad).is_err(), "{bad:?}");
        assert!(reg.register(version(Some(bad), 1), "").is_err(), "{bad:?}");
        assert!(
            matches!(reg.show(bad), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    assert!(reg.register(version(Some("champion"), 1), "").is_err());
    reg.register(version(Some("m1"), 1), "").unwrap();
    assert!(matches!(
        reg.register(version(Some("m1"), 1), ""),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(reg.show("m2"), Err(Error::NotFound(_))));
    // A staging folder left by a killed writer is not a version.
    fs::create_dir(dir.path().join("versions/.staging-m3-999")).unwrap();
    assert_eq!(reg.list().unwrap().len(), 1);
}

#[test]
fn a_damaged_artefact_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path()).unwrap();
    reg.register(version(None, 2), "").unwrap();
    let art = dir.path().join("versions/v0001").join(ARTEFACT);
    let mut bytes = fs::read(&art).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 1;
    fs::write(&art, bytes).unwrap();
    let e = reg.promote("v0001", "").unwrap_err().to_string();
    assert!(e.contains("damaged") && e.contains("model.json"), "{e}");
    assert!(
        reg.pointer().unwrap().champion.is_none(),
        "nothing promoted"
    );
}

#[test]
fn an_interrupted_swap_is_recorded_as_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path()).unwrap();
    reg.register(version(None, 2), "").unwrap();
    reg.register(version(None, 2), "").unwrap();
    reg.promote("v0001", "").unwrap();
    // A promote whose audit line was written but whose pointer swap never happened.
    reg.append_audit(&AuditEntry {
        time: Timestamp::now(),
        action: "promote".into(),
        version: "v0002".into(),
        from: Some("v0001".into()),
        to: Some("v0002".into()),
        actor: "test".into(),
        reason: "killed".into(),
    })
    .unwrap();
    assert_eq!(reg.pointer().unwrap().champion.as_deref(), Some("v0001"));
    reg.promote("v0002", "retry").unwrap();
    let actions: Vec<String> = reg.audit().unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(&actions[3..], ["promote", "aborted", "promote"]);
}

#[test]
fn the_best_version_by_a_metric_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path()).unwrap();
    for (id, v) in [("a", 0.5), ("b", 0.7), ("c", 0.6)] {
        let mut nv = version(Some(id), 1);
        nv.metrics = BTreeMap::from([("valid_ndcg@10".to_owned(), v)]);
        reg.register(nv, "").unwrap();
    }
    assert_eq!(reg.best_by("valid_ndcg@10").unwrap().id, "b");
    assert!(matches!(reg.best_by("auc"), Err(Error::NotFound(_))));
}
