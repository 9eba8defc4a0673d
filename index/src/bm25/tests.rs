use super::*;

fn product(id: &str, title: &str, cat: &[&str], brand: &str, price: f64) -> Product {
    let mut p = Product::new(id, title);
    p.category = cat.iter().map(|s| s.to_string()).collect();
    p.brand = Some(brand.into());
    p.price = Some(price);
    p
}

fn catalogue() -> Vec<Product> {
    vec![
        product(
            "1",
            "Grey velvet sofa",
            &["Furniture", "Living Room", "Sofas"],
            "Kalo",
            499.0,
        ),
        product(
            "2",
            "Blue linen sofas for small rooms",
            &["Furniture", "Living Room", "Sofas"],
            "Mira",
            899.0,
        ),
        product(
            "3",
            "Stainless steel electric kettle KA-1240",
            &["Kitchen", "Small Appliances", "Kettles"],
            "Kalo",
            39.0,
        ),
        product(
            "4",
            "Floor lamp, brass",
            &["Lighting", "Lamps", "Floor Lamps"],
            "Lumo",
            120.0,
        ),
    ]
}

/// The ids of the top 10 for `q`, unfiltered.
fn ids(idx: &Bm25Index, q: &str) -> Vec<String> {
    idx.search(q, 10, &Filter::default())
        .unwrap()
        .into_iter()
        .map(|h| h.0 .0)
        .collect()
}

#[test]
fn stems_boosts_filters_and_updates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bm25");
    let mut idx = Bm25Index::build(&path, catalogue(), FieldBoosts::default()).unwrap();
    assert_eq!(idx.len(), 4);
    let hits = idx.search("sofa", 10, &Filter::default()).unwrap();
    assert_eq!(hits.len(), 2, "stemming matches `sofas` too: {hits:?}");
    assert_eq!(
        idx.search("ka-1240", 5, &Filter::default()).unwrap()[0]
            .0
            .as_str(),
        "3"
    );
    // Bad price bounds are named errors, for searches and filtered listings.
    let inverted = Filter {
        min_price: Some(10.0),
        max_price: Some(5.0),
        ..Filter::default()
    };
    let e = idx.search("sofa", 10, &inverted).unwrap_err().to_string();
    assert!(e.contains("min_price 10 is above max_price 5"), "{e}");
    let nan = Filter {
        max_price: Some(f64::NAN),
        ..Filter::default()
    };
    let e = idx.filtered_ids(&nan).unwrap_err().to_string();
    assert!(e.contains("max_price must be a finite number"), "{e}");
    let f = Filter {
        max_price: Some(600.0),
        ..Filter::default()
    };
    assert_eq!(
        idx.search("sofa", 10, &f)
            .unwrap()
            .iter()
            .map(|h| h.0.as_str())
            .collect::<Vec<_>>(),
        vec!["1"]
    );
    let f = Filter {
        category: Some("kettles".into()),
        ..Filter::default()
    };
    assert!(idx.search("sofa", 10, &f).unwrap().is_empty());
    let f = Filter {
        brand: Some("KALO".into()),
        category: Some("Furniture > Living Room".into()),
        ..Filter::default()
    };
    assert_eq!(idx.filtered_ids(&f).unwrap().len(), 1);
    // A query of parser syntax does not fail.
    assert!(idx
        .search("\"unbalanced AND ( :", 5, &Filter::default())
        .is_ok());

    idx.update(
        &[product(
            "4",
            "Brass floor lamp with linen shade, sofa side",
            &["Lighting"],
            "Lumo",
            99.0,
        )],
        &[DocId("2".into())],
    )
    .unwrap();
    assert_eq!(idx.len(), 3);
    let hits = ids(&idx, "sofa");
    assert_eq!(hits.len(), 2);
    assert!(hits.contains(&"4".to_owned()) && !hits.contains(&"2".to_owned()));

    // Rebuilding replaces the index only when complete; opening garbage is an error.
    let idx2 = Bm25Index::build(
        &path,
        catalogue().into_iter().take(1),
        FieldBoosts::default(),
    )
    .unwrap();
    assert_eq!(idx2.len(), 1);
    assert!(Bm25Index::open(dir.path(), FieldBoosts::default())
        .unwrap_err()
        .to_string()
        .contains("meta.json"));
}

/// The in-memory id table follows every commit: each hit's id is the id
/// stored with its title, segments a commit left alone keep their table,
/// and a reopened index reads the same ids.
#[test]
fn ids_follow_segments_through_updates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bm25");
    let mut idx = Bm25Index::build(&path, catalogue(), FieldBoosts::default()).unwrap();
    // Each added product has a word of its own: searching it must give
    // back exactly that product's id, whichever segment holds it.
    let check = |idx: &Bm25Index, live: &[usize]| {
        for &n in live {
            let hits = idx
                .search(&format!("tag{n}"), 10, &Filter::default())
                .unwrap();
            let found: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
            assert_eq!(found, vec![n.to_string()], "tag{n}");
        }
        let kettle = idx.search("ka-1240", 1, &Filter::default()).unwrap();
        assert_eq!(kettle[0].0.as_str(), "3");
    };
    for n in 5..9 {
        let p = product(
            &n.to_string(),
            &format!("Sofa lamp tag{n}"),
            &["Furniture"],
            "Mira",
            10.0,
        );
        let before: Vec<_> = idx.snapshot.ids.iter().map(Arc::clone).collect();
        idx.update(&[p], &[]).unwrap();
        // Every earlier segment kept its table (a commit adds one segment;
        // the merge policy does not merge segments this small this soon).
        let kept = before
            .iter()
            .filter(|b| idx.snapshot.ids.iter().any(|a| Arc::ptr_eq(a, b)))
            .count();
        assert_eq!(kept, before.len(), "commit {n}");
        check(&idx, &(5..=n).collect::<Vec<_>>());
    }
    assert!(idx.snapshot.ids.len() >= 2);
    let hits = idx.search("sofa lamp", 10, &Filter::default()).unwrap();
    let found: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
    for n in ["5", "6", "7", "8"] {
        assert!(found.contains(&n), "{n} missing from {found:?}");
    }
    let reopened = Bm25Index::open(&path, FieldBoosts::default()).unwrap();
    assert_eq!(
        reopened
            .search("sofa lamp", 10, &Filter::default())
            .unwrap(),
        hits
    );
    // Deleting replaces nothing in the tables but the hit is gone.
    idx.update(&[], &[DocId("6".into())]).unwrap();
    let left = ids(&idx, "sofa lamp");
    assert!(!left.contains(&"6".to_owned()) && left.contains(&"7".to_owned()));
    check(&idx, &[5, 7, 8]);
    check(&reopened, &[5, 6, 7, 8]);
}
