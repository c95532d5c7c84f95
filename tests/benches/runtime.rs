//! Host throughput of the integer runtime, in tokens per second and
//! microseconds a step, for a sentiment-sized and two char-LM-sized models
//! (random weights: speed does not depend on their values), each with the
//! x86-64 SIMD kernel and with the portable one, alternated run by run so
//! that their ratio holds on a noisy machine; and the RAM of their state
//! and scratch.
//!
//! `cargo bench -p tests --bench runtime` (prints medians of 15 runs each).

use std::time::Instant;

use host::{quantize, quantize_bits, Bits, Calibration};
use runtime::cpu::{self, Tier};
use runtime::format::{ModelKind, Pooling};
use runtime::{CharLm, CharLmState, Classifier, ClassifierState, LstmState, Rng, Sampler};
use tests::{random_ids, random_model, Dims};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const RUNS: usize = 15;

/// Runs `job` (which returns the steps it took) `RUNS` times with each
/// kernel, alternating; prints tokens/s and µs a step for both, and their
/// ratio.
fn compare(name: &str, macs: usize, mut job: impl FnMut(usize) -> usize) {
    let simd_available = cpu::Avx2::detect().is_some();
    let (mut simd, mut portable) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        for on in [true, false] {
            cpu::set_max_tier(if on { Tier::Avx512 } else { Tier::Portable });
            let t = Instant::now();
            let steps = job(run);
            let rate = steps as f64 / t.elapsed().as_secs_f64();
            if on {
                simd.push(rate)
            } else {
                portable.push(rate)
            }
        }
    }
    cpu::set_max_tier(Tier::Avx512);
    let (s, p) = (median(simd), median(portable));
    let kernel = if simd_available { "AVX2" } else { "no AVX2 here: portable" };
    println!(
        "{name}: {kernel} {s:.0} tokens/s ({:.2} us a step, {:.2} GMAC/s); portable {p:.0} tokens/s ({:.2} us); \
         ratio {:.2}",
        1e6 / s,
        s * macs as f64 / 1e9,
        1e6 / p,
        s / p
    );
}

fn main() {
    // Sentiment: 8k buckets, E 32, H 128, mean+max pooling over 400 tokens.
    let d = Dims { vocab: 8001, embed: 32, hidden: 128, layers: 1 };
    let float = random_model(ModelKind::Classifier, d, Pooling::MeanMax, 400, 1, 1.0);
    let mut rng = Rng::new(1);
    let cal = Calibration::run(&float, &[random_ids(&mut rng, 100, 1, 8001)]);
    let bytes = quantize(&float, &cal, 8).expect("quantizes");
    let clf = Classifier::<32, 128, 1>::from_bytes(&bytes).unwrap();
    let mut st = ClassifierState::<128, 1, 400>::new();
    let ids = random_ids(&mut rng, 400, 1, 8001);
    compare("sentiment (E 32, H 128, 1 layer, int8)", 4 * 128 * (32 + 128), |_| {
        std::hint::black_box(clf.classify_ids(&mut st, &ids).unwrap());
        ids.len()
    });

    // Char LMs: 65 chars, E 16, H 128, dense 65; one layer at 8 bits, and
    // the shipped shape, two layers at 4 bits.
    for (layers, lstm) in [(1usize, 8u8), (2, 4)] {
        let d = Dims { vocab: 65, embed: 16, hidden: 128, layers };
        let float = random_model(ModelKind::CharLm, d, Pooling::Last, 0, 2, 1.0);
        let cal = Calibration::run(&float, &[random_ids(&mut rng, 100, 0, 65)]);
        let bytes = quantize_bits(&float, &cal, Bits { embed: 8, lstm }).expect("quantizes");
        let macs = 4 * 128 * (16 + 128) + (layers - 1) * 4 * 128 * 256 + 65 * 128;
        let name = format!("char LM (E 16, H 128, {layers} layer(s), int{lstm}, 65 chars)");
        if layers == 1 {
            let lm = CharLm::<16, 128, 1, 65>::from_bytes(&bytes).unwrap();
            compare(&name, macs, |run| generate(&lm, run));
        } else {
            let lm = CharLm::<16, 128, 2, 65>::from_bytes(&bytes).unwrap();
            compare(&name, macs, |run| generate(&lm, run));
        }
    }

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

/// 2,000 characters from "The ", seeded by the run.
fn generate<const L: usize>(lm: &CharLm<'_, 16, 128, L, 65>, run: usize) -> usize {
    let mut s = CharLmState::new();
    lm.prime(&mut s, b"The ");
    let mut sampler = Sampler::new(run as u64, 256, 5);
    let mut n = 0usize;
    lm.generate(&mut s, &mut sampler, 2000, |_| n += 1);
    n
}
