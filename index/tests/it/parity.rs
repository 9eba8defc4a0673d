//! Both encoder backends (fused and candle's BertModel) against reference
//! embeddings made by an independent implementation
//! (scripts/make_parity_fixture.py: numpy BERT forward over the same weights). Runs when the real model is present (`hyrank model fetch`,
//! which `make test` runs first); skips with a message otherwise.

use std::path::PathBuf;

use hyrank_index::{model, Encoder, EncoderBackend, EncoderConfig};

#[test]
fn both_encoders_match_reference_embeddings() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let found = match model::find(None, &root) {
        Ok(m) => m,
        Err(tried) => {
            let msg = format!("the real model is absent ({})", tried.join("; "));
            assert!(
                !hyrank_data::reference::in_ci(),
                "CI=true and {msg}: `make test` fetches it first"
            );
            eprintln!("skipped: {msg}");
            return;
        }
    };
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("index/tests/fixtures/minilm_parity.json")).unwrap(),
    )
    .unwrap();
    for backend in [EncoderBackend::Fused, EncoderBackend::Candle] {
        let enc = Encoder::load(
            &found.dir,
            EncoderConfig {
                batch_size: 7,
                max_tokens: 256,
                backend,
            },
        )
        .unwrap();
        assert_eq!(
            enc.model_id(),
            fixture["model_sha256"].as_str().unwrap(),
            "fixture made from other weights"
        );
        let sentences: Vec<&str> = fixture["sentences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let got = enc.encode(&sentences).unwrap();
        for (i, (s, want)) in sentences
            .iter()
            .zip(fixture["embeddings"].as_array().unwrap())
            .enumerate()
        {
            let want: Vec<f32> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            let cos: f32 = got[i].iter().zip(&want).map(|(a, b)| a * b).sum();
            assert!(
                cos >= 0.999,
                "{backend:?}: sentence {i} {s:?}: cosine {cos}"
            );
        }
    }
}
