//! The f32 reference (`host::FloatModel`, one token at a time, as the
//! device runs it) against the training op's forward pass (`Network`,
//! whole batches on dfdx's tape), on random weights and no data set: both
//! share `host::float::cell` and `host::float::Pooler`, and this test ties
//! the rest (layouts, the embedding, padding, the window, the head).

use dfdx::prelude::*;
use runtime::format::Pooling;
use runtime::tokenizer::WordHashing;
use trainer::float::to_float_model;
use trainer::net::{Checkpoint, NetConfig, Network, Progress, Readout, Task};
use trainer::ops::Seq;
use trainer::tasks::classify::classifier_batch;

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 2e-5 * (1.0 + a.abs())
}

#[test]
fn sentiment_reference_equals_the_training_forward_pass() {
    let dev = Cpu::seed_from_u64(0);
    for (pooling, layers, classes) in
        [(Pooling::MeanMax, 2, 2), (Pooling::Last, 1, 2), (Pooling::MeanMax, 1, 2), (Pooling::MeanMax, 1, 4)]
    {
        let outputs = trainer::tasks::classify::class_outputs(classes);
        let cfg = NetConfig {
            vocab: 41,
            embed_dim: 6,
            hidden: 7,
            layers,
            dropout: 0.3,
            outputs,
            readout: Readout::Pooled(pooling),
        };
        let net = Network::new(&dev, cfg, 5).unwrap();
        let max_tokens = 9;
        let words = host::Words::Hashed(WordHashing { buckets: 40, seed: 0 });
        let task = Task::Classifier { words, max_tokens, classes: (0..classes).map(|c| format!("c{c}")).collect() };
        let float = to_float_model(&Checkpoint::new(task, &net, None, serde_json::json!({}), Progress::default()));
        // Reviews of 0 to 15 tokens, cut to the window as training data is.
        let reviews: Vec<Vec<u32>> = (0..16).map(|n| (0..n).map(|k| 1 + (k * 7 + n * 3) % 40).collect()).collect();
        let examples: Vec<trainer::data::Example> = reviews
            .iter()
            .map(|r| trainer::data::Example { ids: runtime::classifier::window(r, max_tokens).to_vec(), class: 0 })
            .collect();
        let batch: Vec<&trainer::data::Example> = examples.iter().collect();
        let (ids, seq, _) = classifier_batch(&batch);
        let (logits, _) = net.forward(&ids, &seq, NoneTape, None, None);
        let trained = logits.as_vec();
        for (k, review) in reviews.iter().enumerate() {
            // The reference reads the whole review: its window is the head's.
            let reference = float.class_logits(review);
            assert_eq!(reference.len(), outputs);
            for (o, &r) in reference.iter().enumerate() {
                let t = trained[k * outputs + o];
                assert!(close(t, r), "{pooling:?}, {classes} classes, review {k}, output {o}: op {t} vs reference {r}");
            }
        }
    }
}

#[test]
fn language_model_reference_equals_the_training_forward_pass() {
    let dev = Cpu::seed_from_u64(1);
    for embed_dim in [0, 5] {
        let v = 13;
        let cfg = NetConfig {
            vocab: v,
            embed_dim,
            hidden: 8,
            layers: 2,
            dropout: 0.5,
            outputs: v,
            readout: Readout::EveryStep,
        };
        let net = Network::new(&dev, cfg, 9).unwrap();
        let task = Task::CharLm { charset: (b'a'..b'a' + v as u8).collect() };
        let float = to_float_model(&Checkpoint::new(task, &net, None, serde_json::json!({}), Progress::default()));
        let (steps, streams) = (11, 3);
        let ids: Vec<usize> = (0..steps * streams).map(|n| (n * 5 + n / 3) % v).collect();
        let (logits, _) = net.forward(&ids, &Seq::dense(steps, streams), NoneTape, None, None);
        let trained = logits.as_vec();
        for s in 0..streams {
            let mut r = host::FloatRunner::new(&float);
            for t in 0..steps {
                r.step(ids[t * streams + s] as u32);
                let row = &trained[(t * streams + s) * v..(t * streams + s + 1) * v];
                for (a, b) in row.iter().zip(r.logits()) {
                    assert!(close(*a, b), "embed {embed_dim}, stream {s}, step {t}: op {a} vs reference {b}");
                }
            }
        }
    }
}
