//! Both encoder backends (fused and candle's BertModel) against reference
//! embeddings made by an independent implementation
//! (scripts/make_parity_fixture.py: numpy BERT forward over the same weights). Runs when the real model is present (`hyrank model fetch`,
//! which `make test` runs first); skips with a message otherwise.

use std::path::PathBuf;

use hyrank_index::{model, Encoder, EncoderBackend, EncoderConfig, MatmulKernel};

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
    // The fused pass on both matrix-product kernels, and candle's model.
    for (backend, matmul) in [
        (EncoderBackend::Fused, MatmulKernel::Best),
        (EncoderBackend::Fused, MatmulKernel::Faer),
        (EncoderBackend::Candle, MatmulKernel::Best),
    ] {
        let enc = Encoder::load(
            &found.dir,
            EncoderConfig {
                batch_size: 7,
                max_tokens: 256,
                backend,
                matmul,
            },
        )
        .unwrap();
        let want_kernel = match (backend, matmul) {
            (EncoderBackend::Candle, _) => None,
            (_, MatmulKernel::Faer) => Some("faer"),
            (_, MatmulKernel::Best) if has_avx512f() => Some("avx512-panels"),
            _ => Some("faer"),
        };
        assert_eq!(enc.matmul_kernel(), want_kernel, "{backend:?} {matmul:?}");
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
                "{backend:?} {matmul:?}: sentence {i} {s:?}: cosine {cos}"
            );
        }
    }
}

fn has_avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
