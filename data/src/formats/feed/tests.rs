use super::*;

fn feed(text: &str, maps: &[&str], strict: bool) -> Result<(Vec<Product>, FeedReport)> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("catalog.ndjson");
    std::fs::write(&p, text).unwrap();
    let mut map = FieldMap::default();
    for m in maps {
        map.add(m).unwrap();
    }
    read_feed(&p, &FeedOptions { map, strict })
}

#[test]
fn valid_rows_are_kept_and_invalid_ones_reported_with_their_place() {
    let text = "\u{feff}{\"id\":\"1\",\"title\":\"Grey sofa\",\"price\":10}\n\
                {\"id\":\"2\",\"title\":\"\"}\n\
                {\"id\":\"3\",\"title\":\"Lamp\",\"price\":-4}\n\
                {\"id\":\"1\",\"title\":\"Again\"}\n\
                {\"id\":\"4\",\"title\":\"Kettle\"\n\
                {\"id\":\"5\",\"title\":\"Pan\",\"colour\":\"red\"}\n";
    let (products, report) = feed(text, &[], false).unwrap();
    assert_eq!(
        products.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["1", "5"]
    );
    assert!(report.notes[0].contains("byte-order mark"));
    let r: Vec<String> = report
        .rejects
        .iter()
        .map(|r| format!("{}: {}", r.at, r.reason))
        .collect();
    assert_eq!(r.len(), 4, "{r:#?}");
    assert!(
        r[0].contains("catalog.ndjson:2:") && r[0].contains("field `title`"),
        "{}",
        r[0]
    );
    assert!(
        r[1].contains("catalog.ndjson:3:26: field `price`: must be a finite number >= 0"),
        "{}",
        r[1]
    );
    assert!(
        r[2].contains("duplicate id `1`: first at line 1, again at line 4"),
        "{}",
        r[2]
    );
    assert!(r[3].contains("catalog.ndjson:5:"), "{}", r[3]);
    assert_eq!(report.unmapped_fields.get("colour"), Some(&1));
    assert!(report.rejects_ndjson().lines().count() == 4);
    let err = feed(text, &[], true).unwrap_err().to_string();
    assert!(
        err.contains("catalog.ndjson:2:") && err.contains("title"),
        "{err}"
    );
}

#[test]
fn catalogues_in_other_shapes_through_a_field_map() {
    // A bulk file in the shape of Chorus's ESCI products, and Best Buy's
    // (Algolia's sample): categories arrays, attrs objects, prices as text.
    let text = r#"{"index": {"_index": "ecommerce", "_id": "B07CVR21VN"}}
{"asin": "B07CVR21VN", "title": "Futon frame", "category": ["Home & Kitchen", "Furniture", "Futons"], "attrs": {"Brand": "DHP", "Color": "Black", "Size": {"Width": "54 in"}}, "bullets": ["Full size", "Metal"], "price": "$1,299.99"}
{"index": {"_index": "ecommerce", "_id": "X-2"}}
{"title": "No asin here", "category": "Home > Lamps", "price": "12,50 €"}
{"objectID": 1502983, "name": "TomTom GO 500", "categories": ["Car Electronics & GPS", "Portable GPS"], "salePrice": 249.99, "manufacturer": "TomTom", "customerReviewCount": 4, "shortDescription": "5-inch screen"}
{"index": {"_id": "gone"}}
"#;
    let maps = [
        "id=asin|objectID",
        "title=title|name",
        "description=description+bullets+shortDescription",
        "brand=attrs.Brand|manufacturer",
        "category=category|categories",
        "attributes=attrs",
        "price=price|salePrice",
        "review_count=customerReviewCount",
    ];
    let (products, report) = feed(text, &maps, false).unwrap();
    assert_eq!(products.len(), 3, "{:?}", report.rejects);
    let a = &products[0];
    assert_eq!(
        (a.id.as_str(), a.brand.as_deref(), a.price),
        ("B07CVR21VN", Some("DHP"), Some(1299.99))
    );
    assert_eq!(a.category, ["Home & Kitchen", "Furniture", "Futons"]);
    assert_eq!(
        a.attributes.get("Size.Width").map(String::as_str),
        Some("54 in")
    );
    assert_eq!(a.description, "Full size Metal");
    let b = &products[1];
    assert_eq!(
        (b.id.as_str(), b.price),
        ("X-2", Some(12.5)),
        "the bulk _id, a decimal comma"
    );
    assert_eq!(b.category, ["Home", "Lamps"]);
    let c = &products[2];
    assert_eq!(
        (c.id.as_str(), c.brand.as_deref(), c.review_count),
        ("1502983", Some("TomTom"), Some(4))
    );
    assert_eq!(c.category, ["Car Electronics & GPS", "Portable GPS"]);
    assert_eq!(report.bulk_action_lines, 3);
    assert_eq!(report.prices_from_text, 2);
    assert!(
        report.unmapped_fields.is_empty(),
        "{:?}",
        report.unmapped_fields
    );

    // Without the map: the other shapes' fields are listed with hints.
    let (products, report) = feed(text, &[], false).unwrap();
    assert_eq!(products.len(), 2, "ids from the bulk _id");
    assert!(products[0].attributes.is_empty());
    assert_eq!(report.unmapped_fields.get("attrs"), Some(&1));
    let hints = report.suggestions();
    assert!(
        hints.contains(&"--map attributes=attrs".to_owned()),
        "{hints:?}"
    );
    assert!(
        hints.contains(&"--map category=categories".to_owned()),
        "{hints:?}"
    );
    assert!(
        report
            .lines(5)
            .iter()
            .any(|l| l.contains("not indexed: asin (1 rows), attrs (1 rows)")),
        "{:?}",
        report.lines(5)
    );
    let err = FieldMap::default().add("colour=attrs.Color").unwrap_err();
    assert!(err.contains("unknown product field"), "{err}");
}
