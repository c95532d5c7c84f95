//! The host's SIMD inference (AVX2 where the CPU has it) against the
//! portable kernel (`cpu::set_max_tier(Tier::Portable)`), whole models at
//! once: the same probabilities and the same generated text, bit for bit,
//! on widths with and without partial groups. (Where the CPU has no AVX2
//! both sides are portable and the test says so.) The kernel-level
//! comparison is in the runtime's own tests.

use host::{quantize_bits, Bits, Calibration};
use runtime::cpu::{self, Tier};
use runtime::format::{ModelKind, Pooling};
use runtime::{CharLm, CharLmState, Classifier, ClassifierState, Rng, Sampler};
use tests::{random_ids, random_model, Dims};

#[test]
fn simd_and_portable_inference_agree() {
    if cpu::Avx2::detect().is_none() {
        eprintln!("no AVX2 on this CPU: both sides are the portable kernel");
    }
    let mut rng = Rng::new(7);
    for (embed, hidden, layers, lstm) in [(20, 96, 1, 8u8), (13, 37, 2, 8), (16, 64, 2, 4), (24, 40, 1, 4)] {
        // A classifier over 300 ids.
        let d = Dims { vocab: 500, embed, hidden, layers };
        let float = random_model(ModelKind::Classifier, d, Pooling::MeanMax, 0, 3, 1.0);
        let cal = Calibration::run(&float, &[random_ids(&mut rng, 100, 1, 500)]);
        let bytes = quantize_bits(&float, &cal, Bits { embed: 8, lstm }).expect("quantizes");
        let clf = Classifier::<32, 128, 2>::from_bytes(&bytes).unwrap();
        let ids = random_ids(&mut rng, 300, 1, 500);
        let mut probability = [None; 2];
        for (k, tier) in [Tier::Avx512, Tier::Portable].into_iter().enumerate() {
            cpu::set_max_tier(tier);
            let mut st = ClassifierState::<128, 2, 0>::new();
            probability[k] = Some(clf.classify_ids(&mut st, &ids).unwrap().probability.0);
        }
        assert_eq!(probability[0], probability[1], "classifier E {embed} H {hidden} x{layers} int{lstm}");

        // A character model generating 300 characters.
        let d = Dims { vocab: 65, embed, hidden, layers };
        let float = random_model(ModelKind::CharLm, d, Pooling::Last, 0, 4, 1.0);
        let cal = Calibration::run(&float, &[random_ids(&mut rng, 100, 0, 65)]);
        let bytes = quantize_bits(&float, &cal, Bits { embed: 8, lstm }).expect("quantizes");
        let lm = CharLm::<32, 128, 2, 65>::from_bytes(&bytes).unwrap();
        let mut text = [Vec::new(), Vec::new()];
        for (k, tier) in [Tier::Avx512, Tier::Portable].into_iter().enumerate() {
            cpu::set_max_tier(tier);
            let mut st = CharLmState::new();
            lm.prime(&mut st, b"The ");
            lm.generate(&mut st, &mut Sampler::new(5, 256, 5), 300, |c| text[k].push(c));
        }
        assert_eq!(text[0], text[1], "char LM E {embed} H {hidden} x{layers} int{lstm}");
    }
    cpu::set_max_tier(Tier::Avx512);
}
