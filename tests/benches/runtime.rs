//! Host throughput of the integer runtime, in tokens per second, for a
//! sentiment-sized and a char-LM-sized model (random weights: speed does not
//! depend on their values), and the RAM of their state and scratch.
//!
//! `cargo bench -p tests --bench runtime` (prints medians of 15 runs).

use std::time::Instant;

use host::{quantize, Calibration};
use runtime::format::{ModelKind, Pooling};
use runtime::{CharLm, CharLmState, Classifier, ClassifierState, LstmState, Rng, Sampler};
use tests::{random_ids, random_model, Dims};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    const RUNS: usize = 15;
    // Sentiment: 8k buckets, E 32, H 128, mean+max pooling over 400 tokens.
    let d = Dims { vocab: 8001, embed: 32, hidden: 128, layers: 1 };
    let float = random_model(ModelKind::Classifier, d, Pooling::MeanMax, 400, 1, 1.0);
    let mut rng = Rng::new(1);
    let cal = Calibration::run(&float, &[random_ids(&mut rng, 100, 1, 8001)]);
    let bytes = quantize(&float, &cal, 8).expect("quantizes");
    let clf = Classifier::<32, 128, 1>::from_bytes(&bytes).unwrap();
    let mut st = ClassifierState::<128, 1, 400>::new();
    let ids = random_ids(&mut rng, 400, 1, 8001);
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let p = clf.classify_ids(&mut st, &ids).unwrap();
        std::hint::black_box(p);
        rates.push(ids.len() as f64 / t.elapsed().as_secs_f64());
    }
    let macs = 4 * 128 * (32 + 128);
    let r = median(rates);
    println!("sentiment (E 32, H 128, 1 layer): {r:.0} tokens/s, {:.2} GMAC/s", r * macs as f64 / 1e9);

    // Char LM: 65 chars, E 16, H 128, dense 65.
    let d = Dims { vocab: 65, embed: 16, hidden: 128, layers: 1 };
    let float = random_model(ModelKind::CharLm, d, Pooling::Last, 0, 2, 1.0);
    let cal = Calibration::run(&float, &[random_ids(&mut rng, 100, 0, 65)]);
    let bytes = quantize(&float, &cal, 8).expect("quantizes");
    let lm = CharLm::<16, 128, 1, 65>::from_bytes(&bytes).unwrap();
    let mut rates = Vec::new();
    for seed in 0..RUNS as u64 {
        let mut s = CharLmState::new();
        lm.prime(&mut s, b"The ");
        let mut sampler = Sampler::new(seed, 256, 5);
        let t = Instant::now();
        let mut n = 0usize;
        lm.generate(&mut s, &mut sampler, 2000, |_| n += 1);
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    let macs = 4 * 128 * (16 + 128) + 65 * 128;
    let r = median(rates);
    println!("char LM (E 16, H 128, 1 layer, 65 chars): {r:.0} tokens/s, {:.2} GMAC/s", r * macs as f64 / 1e9);

    // RAM of state and scratch for H = 128, one layer.
    let lstm_state = std::mem::size_of::<LstmState<128, 1>>();
    let scratch = runtime::Lstm::<32, 128, 1>::STEP_SCRATCH_BYTES;
    let sent = std::mem::size_of::<ClassifierState<128, 1, 0>>();
    let window = std::mem::size_of::<ClassifierState<128, 1, 400>>() - sent;
    println!(
        "RAM, H 128, 1 layer: LstmState {lstm_state} B + step scratch {scratch} B; \
         ClassifierState without window {sent} B, + {window} B for a 400-token window; \
         CharLmState {} B",
        std::mem::size_of::<CharLmState<128, 1, 65>>()
    );
}
