use hyrank_data::convert::{read_dataset, Format, ReadOptions};
use hyrank_data::formats::ndjson::{read_catalog_vec, NdjsonReader};
use hyrank_data::formats::{beir, letor, trec, wands};
use hyrank_data::{GradeMap, InteractionEvent};

use crate::fixture;

#[test]
fn good_fixtures_read_in_every_format() {
    let wands = read_dataset(Format::Wands, &fixture("wands"), &ReadOptions::default()).unwrap();
    let products = wands.products.unwrap();
    assert_eq!(products.len(), 3);
    assert_eq!(products[2].title, "favorite family sign");
    assert_eq!(
        products[2].rating, None,
        "empty WANDS cells are absent values"
    );
    assert_eq!(
        wands
            .qrels
            .unwrap()
            .iter()
            .map(|j| j.grade)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );

    let beir = read_dataset(Format::Beir, &fixture("beir"), &ReadOptions::default()).unwrap();
    assert_eq!(beir.products.unwrap()[1].id.as_str(), "MED-14");
    assert_eq!(
        beir.queries.unwrap()[0].text,
        "Do Cholesterol Statin Drugs Cause Breast Cancer?"
    );
    assert_eq!(beir.qrels.unwrap().len(), 3);

    let u = read_dataset(Format::Ubi, &fixture("ubi"), &ReadOptions::default()).unwrap();
    let events = u.events.unwrap();
    let kinds: Vec<&str> = events.iter().map(InteractionEvent::kind).collect();
    assert_eq!(
        kinds,
        vec!["impression", "click", "add_to_cart", "purchase"]
    );
    assert!(
        u.notes.iter().any(|n| n.contains("`hover`")),
        "unmapped actions are reported: {:?}",
        u.notes
    );

    let qrels = trec::read_qrels(fixture("trec/qrels.txt")).unwrap();
    assert_eq!(
        qrels[2].grade, 2,
        "tabs and spaces both separate TREC columns"
    );
    let run = trec::read_run(fixture("trec/run.txt")).unwrap();
    assert_eq!(run[0].score, 2.129133);
    assert_eq!(run[2].score, -0.5);

    let rows = letor::read_letor(fixture("letor/train.txt")).unwrap();
    assert_eq!(rows.len(), 3);
    let mut rows = letor::read_letor(fixture("letor/nogroup.txt")).unwrap();
    let sizes = letor::read_group_sizes(fixture("letor/nogroup.txt.query")).unwrap();
    letor::assign_groups(&mut rows, &sizes, &fixture("letor/nogroup.txt.query")).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r.qid.clone().unwrap())
            .collect::<Vec<_>>(),
        vec!["0", "1", "1"]
    );
}

fn err_text<T: std::fmt::Debug>(r: hyrank_data::Result<T>) -> String {
    let e = r.expect_err("broken input must be an error");
    e.to_string()
}

#[test]
fn broken_fixtures_name_file_line_and_field() {
    let cases: Vec<(String, &[&str])> = vec![
        (
            err_text(read_catalog_vec(fixture(
                "broken/catalog_wrong_type.ndjson",
            ))),
            &["catalog_wrong_type.ndjson:2", "field `price`"],
        ),
        (
            err_text(read_catalog_vec(fixture(
                "broken/catalog_missing_title.ndjson",
            ))),
            &["catalog_missing_title.ndjson:2", "title"],
        ),
        (
            err_text(read_catalog_vec(fixture("broken/catalog_truncated.ndjson"))),
            &["catalog_truncated.ndjson:2", "EOF"],
        ),
        (
            err_text(trec::read_qrels(fixture("broken/qrels_missing_column.txt"))),
            &["qrels_missing_column.txt:1", "expected 4"],
        ),
        (
            err_text(trec::read_run(fixture("broken/run_wrong_type.txt"))),
            &["run_wrong_type.txt:1", "field `score`"],
        ),
        (
            err_text(wands::read_products(fixture(
                "broken/wands_product_missing_column.csv",
            ))),
            &[
                "wands_product_missing_column.csv:1",
                "missing column `category hierarchy`",
            ],
        ),
        (
            err_text(letor::read_letor(fixture("broken/letor_wrong_type.txt"))),
            &["letor_wrong_type.txt:1", "2:zero"],
        ),
        (
            err_text(beir::read_qrels(fixture("broken/beir_qrels_truncated.tsv"))),
            &["beir_qrels_truncated.tsv:2", "columns"],
        ),
        (
            err_text(
                NdjsonReader::<InteractionEvent>::open(fixture(
                    "broken/event_zero_quantity.ndjson",
                ))
                .unwrap()
                .collect::<hyrank_data::Result<Vec<_>>>(),
            ),
            &["event_zero_quantity.ndjson:1", "field `quantity`"],
        ),
        (
            err_text(wands::read_labels(
                fixture("wands/nope.csv"),
                &GradeMap::default(),
            )),
            &["nope.csv", "No such file"],
        ),
    ];
    for (msg, needles) in cases {
        for n in needles {
            assert!(msg.contains(n), "`{msg}` should mention `{n}`");
        }
    }
}
