//! The integer engine against the f32 reference on random networks and
//! inputs, with stated tolerances, plus the named edge cases.

use host::{quantize, Calibration};
use runtime::format::{ModelKind, Pooling, Weights};
use runtime::{CharLm, CharLmState, Classifier, ClassifierState, Lstm, LstmState, Rng};
use tests::{random_ids, random_model, snap_to_int8_grid, Dims};

const LM: Dims = Dims { vocab: 65, embed: 16, hidden: 32, layers: 2 };

fn max_abs_diff(a: impl Iterator<Item = f32>, b: impl Iterator<Item = f32>) -> f32 {
    a.zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Hidden states stay within 0.02 of the float reference (about 650 Q0.15
/// steps) over 300 steps; next-character logits within 0.05 nats. The
/// error sources: int8 weights (per-row scale, relative error up to 1/254),
/// the interpolated activation tables (< 4e-4) and the int16 cell state.
#[test]
fn hidden_state_and_logits_track_the_float_reference() {
    for seed in 0..6u64 {
        let float = random_model(ModelKind::CharLm, LM, Pooling::Last, 0, seed, 1.0);
        let mut rng = Rng::new(100 + seed);
        let calib: Vec<Vec<u32>> = (0..4).map(|_| random_ids(&mut rng, 200, 0, 65)).collect();
        let q = quantize(&float, &Calibration::run(&float, &calib), 8);
        let bytes = q.expect("quantizes");
        let lm = CharLm::<16, 32, 2, 65>::from_bytes(&bytes).expect("valid model");
        let mut s = CharLmState::new();
        let mut fs = float.zero_state();
        let ids = random_ids(&mut rng, 300, 0, 65);
        let (mut worst_h, mut worst_z) = (0.0f32, 0.0f32);
        for &id in &ids {
            lm.step_id(&mut s, id as u16).unwrap();
            float.step(&mut fs, id);
            for l in 0..2 {
                let hi = s.lstm().h[l].iter().map(|&v| v as f32 / 32768.0);
                worst_h = worst_h.max(max_abs_diff(hi, fs.h[l].iter().copied()));
            }
            let zf = float.dense(&fs.h[1]);
            let zi = s.logits().iter().map(|&v| v as f32 / 4096.0);
            worst_z = worst_z.max(max_abs_diff(zi, zf.into_iter()));
        }
        assert!(worst_h < 0.02, "seed {seed}: hidden state off by {worst_h}");
        assert!(worst_z < 0.05, "seed {seed}: logits off by {worst_z}");
    }
}

/// Sentiment probabilities within 0.01 of the float reference, both
/// poolings, on random reviews of 1 to 600 tokens (windows of 50 and 400).
#[test]
fn sentiment_probability_tracks_the_float_reference() {
    let d = Dims { vocab: 1001, embed: 16, hidden: 24, layers: 1 };
    let cases = [(1, Pooling::Last, 0), (2, Pooling::MeanMax, 400), (3, Pooling::Last, 50), (4, Pooling::MeanMax, 50)];
    for (seed, pooling, window) in cases {
        let float = random_model(ModelKind::Classifier, d, pooling, window, seed, 1.0);
        let mut rng = Rng::new(seed);
        let calib: Vec<Vec<u32>> = (0..4).map(|_| random_ids(&mut rng, 200, 1, 1001)).collect();
        let q = quantize(&float, &Calibration::run(&float, &calib), 8);
        let bytes = q.expect("quantizes");
        let clf = Classifier::<16, 24, 1>::from_bytes(&bytes).unwrap();
        let mut state = ClassifierState::<24, 1, 400>::new();
        let mut worst = 0.0f32;
        for n in [1usize, 7, 60, 600] {
            let ids = random_ids(&mut rng, n, 1, 1001);
            let pf = 1.0 / (1.0 + (-float.class_logits(&ids)[0]).exp());
            let pi = tests::p_class1(clf.classify_ids(&mut state, &ids).unwrap());
            worst = worst.max((pi - pf).abs());
        }
        assert!(worst < 0.01, "seed {seed} {pooling:?}: probability off by {worst}");
    }
}

/// A 5-class softmax head: every class's integer probability within 0.01
/// of the float softmax, and the same best class when the float margin is
/// clear, both poolings.
#[test]
fn class_probabilities_track_the_float_softmax() {
    let d = Dims { vocab: 1001, embed: 16, hidden: 24, layers: 1 };
    for (seed, pooling, window) in [(31, Pooling::MeanMax, 0), (32, Pooling::Last, 50)] {
        let float = tests::random_model_of(ModelKind::Classifier, d, 5, pooling, window, seed, 1.0);
        let mut rng = Rng::new(seed);
        let calib: Vec<Vec<u32>> = (0..4).map(|_| random_ids(&mut rng, 200, 1, 1001)).collect();
        let bytes = quantize(&float, &Calibration::run(&float, &calib), 8).expect("quantizes");
        let clf = Classifier::<16, 24, 1, 5>::from_bytes(&bytes).unwrap();
        let mut state = ClassifierState::<24, 1, 50>::new();
        let mut worst = 0.0f32;
        for n in [1usize, 7, 60, 600] {
            let ids = random_ids(&mut rng, n, 1, 1001);
            let z = float.class_logits(&ids);
            let m = z.iter().fold(f32::MIN, |a, &b| a.max(b));
            let total: f32 = z.iter().map(|v| (v - m).exp()).sum();
            let mut review = clf.start(&mut state).unwrap();
            for &id in &ids {
                review.push_id(id).unwrap();
            }
            let scores = review.finish_scores();
            assert_eq!(scores.probabilities().len(), 5);
            for (c, p) in scores.probabilities().iter().enumerate() {
                worst = worst.max((p.to_f32() - (z[c] - m).exp() / total).abs());
            }
            let best = scores.best();
            assert_eq!(best.label, format!("c{}", best.class));
            let pf_best = (z[best.class] - m).exp() / total;
            assert!(pf_best >= 1.0 / total - 0.02, "seed {seed}: the integer best class is not the float one");
        }
        assert!(worst < 0.01, "seed {seed} {pooling:?}: a class probability off by {worst}");
    }
}

/// T single steps equal one call over the whole sequence, bit for bit.
#[test]
fn streaming_steps_equal_one_call() {
    let float = random_model(ModelKind::CharLm, LM, Pooling::Last, 0, 9, 1.0);
    let q = quantize(&float, &Calibration::run(&float, &[vec![1, 2, 3]]), 8);
    let bytes = q.expect("quantizes");
    let lstm = Lstm::<16, 32, 2>::new(runtime::Model::from_bytes(&bytes).unwrap()).unwrap();
    let ids = random_ids(&mut Rng::new(5), 500, 0, 65);
    let mut whole = LstmState::new();
    lstm.run(&mut whole, &ids).unwrap();
    let mut stepped = LstmState::new();
    for &id in &ids {
        lstm.step(&mut stepped, id).unwrap();
    }
    assert_eq!(whole, stepped);
    // Split anywhere and continue: same state.
    let mut split = LstmState::new();
    lstm.run(&mut split, &ids[..123]).unwrap();
    lstm.run(&mut split, &ids[123..]).unwrap();
    assert_eq!(whole, split);
    assert_ne!(whole, LstmState::new());
}

/// All-zero input (an all-zero embedding row, zero weights): the state
/// follows the float reference and stays finite.
#[test]
fn all_zero_input() {
    let mut float = random_model(ModelKind::CharLm, LM, Pooling::Last, 0, 11, 1.0);
    float.embedding.iter_mut().for_each(|v| *v = 0.0);
    float.embedding[0] = 1e-3; // a nonzero scale for the table
    let q = quantize(&float, &Calibration::run(&float, &[vec![1; 100]]), 8);
    let bytes = q.expect("quantizes");
    let lm = CharLm::<16, 32, 2, 65>::from_bytes(&bytes).unwrap();
    let mut s = CharLmState::new();
    let mut fs = float.zero_state();
    for _ in 0..200 {
        lm.step_id(&mut s, 1).unwrap();
        float.step(&mut fs, 1);
    }
    let hi = s.lstm().h[1].iter().map(|&v| v as f32 / 32768.0);
    assert!(max_abs_diff(hi, fs.h[1].iter().copied()) < 0.02);
}

/// Saturated pre-activations: weights forty times too large drive the gates
/// far past the table range (Q3.12 saturates at ±8, where sigmoid and tanh
/// are flat to 3e-4). With the weights on the int8 grid (so that only the
/// arithmetic differs), the first steps match the float reference, whose
/// gates saturate the same way; later steps are chaotic in both (a rounding
/// flips a near-zero pre-activation whose slope is 40 times too steep), so
/// there the test checks only that values stay in range.
#[test]
fn saturated_preactivations() {
    let mut float = random_model(ModelKind::CharLm, LM, Pooling::Last, 0, 12, 40.0);
    snap_to_int8_grid(&mut float);
    let mut rng = Rng::new(3);
    let calib: Vec<Vec<u32>> = (0..2).map(|_| random_ids(&mut rng, 300, 0, 65)).collect();
    let q = quantize(&float, &Calibration::run(&float, &calib), 8);
    let bytes = q.expect("quantizes");
    let lm = CharLm::<16, 32, 2, 65>::from_bytes(&bytes).unwrap();
    let mut s = CharLmState::new();
    let mut fs = float.zero_state();
    let mut saturated = 0;
    for (t, id) in random_ids(&mut rng, 300, 0, 65).into_iter().enumerate() {
        // Layer-0 pre-activations of this step, in f32.
        let l0 = &float.layers[0];
        let x = &float.embedding[id as usize * 16..id as usize * 16 + 16];
        for r in 0..4 * 32 {
            let z: f32 = l0.bias[r]
                + l0.w_x[r * 16..r * 16 + 16].iter().zip(x).map(|(a, b)| a * b).sum::<f32>()
                + l0.w_h[r * 32..r * 32 + 32].iter().zip(&fs.h[0]).map(|(a, b)| a * b).sum::<f32>();
            saturated += usize::from(z.abs() > 8.0);
        }
        lm.step_id(&mut s, id as u16).unwrap();
        float.step(&mut fs, id);
        if t < 3 {
            let hi = s.lstm().h[0].iter().map(|&v| v as f32 / 32768.0);
            let d = max_abs_diff(hi, fs.h[0].iter().copied());
            assert!(d < 0.02, "step {t}: off by {d}");
        }
        assert!(s.lstm().h.iter().flatten().all(|&v| v != i16::MIN));
    }
    // Over half of the 300 x 128 pre-activations are past the table.
    assert!(saturated > 300 * 128 / 2, "the test must saturate: {saturated}");
}

/// 100,000 steps: the state stays bounded (|h| <= 1, the cell within its Q
/// format) and nothing wraps: the integer state still tracks the float one.
#[test]
fn hundred_thousand_steps_stay_bounded() {
    let float = random_model(ModelKind::CharLm, LM, Pooling::Last, 0, 13, 1.5);
    let mut rng = Rng::new(4);
    let calib: Vec<Vec<u32>> = (0..2).map(|_| random_ids(&mut rng, 500, 0, 65)).collect();
    let q = quantize(&float, &Calibration::run(&float, &calib), 8);
    let bytes = q.expect("quantizes");
    let lm = CharLm::<16, 32, 2, 65>::from_bytes(&bytes).unwrap();
    let mut s = CharLmState::new();
    let mut fs = float.zero_state();
    let mut worst = 0.0f32;
    for t in 0..100_000u32 {
        let id = rng.next_u32() % 65;
        lm.step_id(&mut s, id as u16).unwrap();
        float.step(&mut fs, id);
        if t % 1000 == 999 {
            let hi = s.lstm().h[1].iter().map(|&v| v as f32 / 32768.0);
            worst = worst.max(max_abs_diff(hi, fs.h[1].iter().copied()));
        }
    }
    assert!(s.lstm().h.iter().flatten().all(|&v| v != i16::MIN));
    assert!(worst < 0.05, "after 100k steps: off by {worst}");
}

/// 4-bit embeddings (two a byte, low nibble first): with the float
/// embedding on the 4-bit grid (one scale, max/7), the integer classifier
/// tracks the float reference as closely as with 8 bits.
#[test]
fn four_bit_embeddings() {
    let d = Dims { vocab: 1001, embed: 16, hidden: 24, layers: 1 };
    let mut float = random_model(ModelKind::Classifier, d, Pooling::MeanMax, 100, 21, 1.0);
    snap_to_int8_grid(&mut float);
    let s = float.embedding.iter().fold(0.0f32, |a, v| a.max(v.abs())) / 7.0;
    float.embedding.iter_mut().for_each(|v| *v = (*v / s).round() * s);
    let mut rng = Rng::new(21);
    let calib: Vec<Vec<u32>> = (0..4).map(|_| random_ids(&mut rng, 200, 1, 1001)).collect();
    let q = quantize(&float, &Calibration::run(&float, &calib), 4);
    let bytes = q.expect("quantizes");
    let clf = Classifier::<16, 24, 1>::from_bytes(&bytes).unwrap();
    assert_eq!(clf.model().embedding.bits, 4);
    assert_eq!(clf.model().embedding.table.len(), 1001 * 16 / 2);
    let mut state = ClassifierState::<24, 1, 100>::new();
    let mut worst = 0.0f32;
    for n in [1usize, 30, 300] {
        let ids = random_ids(&mut rng, n, 1, 1001);
        let pf = 1.0 / (1.0 + (-float.class_logits(&ids)[0]).exp());
        let pi = tests::p_class1(clf.classify_ids(&mut state, &ids).unwrap());
        worst = worst.max((pi - pf).abs());
    }
    assert!(worst < 0.01, "4-bit: probability off by {worst}");
}

/// 4-bit LSTM weights (per-row scales, groups of eight columns): with the
/// float LSTM weights on a 4-bit grid (each row's scale max/7, which the
/// quantizer's clipping search then finds exactly), the integer language
/// model tracks the float reference within the 8-bit tolerances, on widths
/// that leave partial groups (E 12, H 30) and on two layers.
#[test]
fn four_bit_lstm_weights_track_the_float_reference() {
    let d = Dims { vocab: 65, embed: 12, hidden: 30, layers: 2 };
    for seed in 0..3u64 {
        let mut float = random_model(ModelKind::CharLm, d, Pooling::Last, 0, 40 + seed, 1.0);
        snap_to_int8_grid(&mut float);
        // The LSTM weights on the exporter's 4-bit grid: one scale a fused
        // row over [x; h] (format version 5), as quantization-aware
        // training rounds them.
        let s_emb = host::quantize::embed_scale(&float.embedding, 8);
        for (layer, l) in float.layers.iter_mut().enumerate() {
            let from = host::quantize::FusedInput { layer, s_emb, embed_bits: 8 };
            host::quantize::fake_quantize_fused(&mut l.w_x, &mut l.w_h, l.input, l.hidden, from, 4);
        }
        let mut rng = Rng::new(200 + seed);
        let calib: Vec<Vec<u32>> = (0..4).map(|_| random_ids(&mut rng, 200, 0, 65)).collect();
        let cal = Calibration::run(&float, &calib);
        let bytes = host::quantize_bits(&float, &cal, host::Bits { embed: 8, lstm: 4 }).expect("quantizes");
        let eight = quantize(&float, &cal, 8).expect("quantizes");
        let lm = CharLm::<12, 30, 2, 65>::from_bytes(&bytes).expect("valid model");
        assert!(lm.model().layers.iter().all(|l| l.bits == 4));
        // Fused rows of 12 + 30 and 30 + 30 columns take 24 and 32 bytes
        // at 4 bits (48 and 64 columns, whole groups of eight), against 44
        // and 60 at 8 bits (whole words of four); the two files' padding
        // before the rows (0 to 3 bytes a layer) may differ.
        let pads = |b: &[u8]| -> i64 {
            let m = runtime::Model::from_bytes(b).expect("valid model");
            m.layers.iter().map(|l| if let Weights::Fused { pad, .. } = l.weights { pad.len() as i64 } else { 0 }).sum()
        };
        let rows = 120 * (44 - 24) + 120 * (60 - 32);
        assert_eq!(eight.len() as i64 - bytes.len() as i64, rows + pads(&eight) - pads(&bytes));
        let mut s = CharLmState::new();
        let mut fs = float.zero_state();
        let (mut worst_h, mut worst_z) = (0.0f32, 0.0f32);
        for &id in &random_ids(&mut rng, 300, 0, 65) {
            lm.step_id(&mut s, id as u16).unwrap();
            float.step(&mut fs, id);
            for l in 0..2 {
                let hi = s.lstm().h[l].iter().map(|&v| v as f32 / 32768.0);
                worst_h = worst_h.max(max_abs_diff(hi, fs.h[l].iter().copied()));
            }
            let zi = s.logits().iter().map(|&v| v as f32 / 4096.0);
            worst_z = worst_z.max(max_abs_diff(zi, float.dense(&fs.h[1]).into_iter()));
        }
        assert!(worst_h < 0.02, "seed {seed}: hidden state off by {worst_h}");
        assert!(worst_z < 0.05, "seed {seed}: logits off by {worst_z}");
    }
}
