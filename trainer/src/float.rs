//! From a checkpoint to the f32 network ([`host::FloatModel`]) that the
//! quantizer takes, and that network's validation figures on the same data
//! as the integer model's.

use host::{FloatHead, FloatLstmLayer, FloatModel, FloatRunner, FloatTokenizer};
use runtime::format::{ModelKind, Pooling};

use crate::data::Example;
use crate::metrics::{Classes, Nats};
use crate::net::{Checkpoint, Readout, Role, Task};

/// Turns a trained checkpoint into the f32 network the exporter takes.
///
/// One-hot input (embedding width 0) becomes an identity embedding
/// `vocab x vocab`. The dense weights are transposed to `[outputs][features]`.
pub fn to_float_model(ckpt: &Checkpoint) -> FloatModel {
    let cfg = &ckpt.meta.net;
    // The checkpoint's tensors are its configuration's (checked on load).
    let tensor = |role: Role| -> &Vec<f32> {
        let i = cfg.tensors().iter().position(|t| t.role == role).expect("a tensor of the configuration");
        &ckpt.params[i]
    };
    let (embedding, embed_dim) = if cfg.embed_dim > 0 {
        (tensor(Role::Embedding).clone(), cfg.embed_dim)
    } else {
        let v = cfg.vocab;
        let mut e = vec![0.0; v * v];
        for i in 0..v {
            e[i * v + i] = 1.0;
        }
        (e, v)
    };
    let layers = (0..cfg.layers)
        .map(|l| FloatLstmLayer {
            input: if l == 0 { embed_dim } else { cfg.hidden },
            hidden: cfg.hidden,
            w_x: tensor(Role::InputWeights(l)).clone(),
            w_h: tensor(Role::RecurrentWeights(l)).clone(),
            bias: tensor(Role::Bias(l)).clone(),
        })
        .collect();
    let (w, b) = (tensor(Role::HeadWeights), tensor(Role::HeadBias).clone());
    let (f, o) = (cfg.features(), cfg.outputs);
    let mut wt = vec![0.0; f * o];
    for i in 0..f {
        for j in 0..o {
            wt[j * f + i] = w[i * o + j];
        }
    }
    let (kind, tokenizer, max_tokens, classes) = match &ckpt.meta.task {
        Task::Classifier { words, max_tokens, classes } => {
            (ModelKind::Classifier, FloatTokenizer::Words(words.clone()), *max_tokens as u32, classes.clone())
        }
        Task::CharLm { charset } => (ModelKind::CharLm, FloatTokenizer::Chars(charset.clone()), 0, Vec::new()),
    };
    let pooling = match cfg.readout {
        Readout::Pooled(p) => p,
        Readout::EveryStep => Pooling::Last,
    };
    let head = FloatHead { pooling, max_tokens, w: wt, b };
    FloatModel { kind, tokenizer, embedding, embed_dim, layers, head, classes }
}

/// Validation figures of a float classifier: (mean cross-entropy,
/// accuracy). `examples` must be tokenized with the model's words and
/// window.
pub fn float_classifier_metrics(model: &FloatModel, examples: &[Example]) -> (f64, f64) {
    let mut m = Classes::default();
    for ex in examples {
        let logits: Vec<f64> = model.class_logits(&ex.ids).into_iter().map(f64::from).collect();
        m.push(&logits, ex.class);
    }
    m.figures()
}

/// Mean cross-entropy in nats/char of a float language model predicting
/// `ids[1..]` from `ids[..n-1]` (one stream from the zero state).
pub fn float_charlm_loss(model: &FloatModel, ids: &[u16]) -> f64 {
    let mut r = FloatRunner::new(model);
    let mut nats = Nats::default();
    for w in ids.windows(2) {
        r.step(u32::from(w[0]));
        let l: Vec<f64> = r.logits().iter().map(|&z| f64::from(z)).collect();
        nats.push(&l, usize::from(w[1]));
    }
    nats.mean()
}
