//! Older model files keep running: the shipped models as format versions 3
//! and 4 wrote them (`tests/fixtures/split-rows/`: split rows, each with a
//! scale; the language model's 4-bit nibbles signed) give, on the host, what the
//! Cortex-M4 printed for them before version 5, with the SIMD kernels and
//! with the portable ones. (`tests/tests/qemu.rs` runs them on the device.)

use std::path::PathBuf;

use runtime::cpu::{self, Tier};
use runtime::format::Weights;
use runtime::{Model, Sampler};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("split-rows").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn version_3_and_4_files_load_with_split_rows() {
    for (name, version, bits) in [("sentiment.lstm", 3, 8), ("charlm.lstm", 4, 4)] {
        let bytes = fixture(name);
        assert_eq!(bytes[4..6], [version, 0], "{name}'s version");
        let model = Model::from_bytes(&bytes).expect("an older file loads");
        assert_eq!(model.version(), 4);
        for layer in model.layers.iter() {
            assert!(matches!(layer.weights, Weights::Split { .. }), "{name}");
            assert_eq!(layer.bits, bits, "{name}");
        }
    }
}

#[test]
fn version_3_and_4_files_give_what_they_gave() {
    let (clf, lm) = (fixture("sentiment.lstm"), fixture("charlm.lstm"));
    let want_clf = String::from_utf8(fixture("demo-sentiment.txt")).unwrap();
    let want_lm = fixture("demo-generate.txt");
    for tier in [Tier::Avx512, Tier::Portable] {
        cpu::set_max_tier(tier);
        let got = host::run::predict_lines(&clf, tools::demo::REVIEWS.as_bytes(), false).expect("classifies");
        assert_eq!(got, want_clf, "classifier, {tier:?}");
        let sampler = Sampler::new(tools::demo::SEED, tools::demo::TEMPERATURE_Q8, tools::demo::TOP_K);
        let got =
            host::run::generate_text(&lm, tools::demo::PRIME.as_bytes(), tools::demo::LEN, sampler).expect("generates");
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want_lm), "language model, {tier:?}");
    }
    cpu::set_max_tier(Tier::Avx512);
}
