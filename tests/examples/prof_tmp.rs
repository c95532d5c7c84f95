use host::{quantize, Calibration};
use runtime::format::{ModelKind, Pooling};
use runtime::{Classifier, ClassifierState, Rng};
use tests::{random_ids, random_model, Dims};
fn main() {
    let d = Dims { vocab: 8001, embed: 32, hidden: 128, layers: 1 };
    let float = random_model(ModelKind::Classifier, d, Pooling::MeanMax, 400, 1, 1.0);
    let mut rng = Rng::new(1);
    let cal = Calibration::run(&float, &[random_ids(&mut rng, 100, 1, 8001)]);
    let bytes = quantize(&float, &cal, 8).expect("quantizes");
    let clf = Classifier::<32, 128, 1>::from_bytes(&bytes).unwrap();
    let mut st = ClassifierState::<128, 1, 400>::new();
    let ids = random_ids(&mut rng, 400, 1, 8001);
    let t = std::time::Instant::now();
    for _ in 0..2000 {
        std::hint::black_box(clf.classify_ids(&mut st, &ids).unwrap());
    }
    println!("{:.2} us/step", t.elapsed().as_secs_f64() * 1e6 / (2000.0 * 400.0));
}
