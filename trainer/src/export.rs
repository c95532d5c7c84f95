//! From a checkpoint to [`runtime::host::FloatModel`], and the float
//! model's own forward pass and validation figures, so that the float and
//! the integer engines can be compared on the same data.

use runtime::format::{ModelKind, Pooling};
use runtime::host::{FloatHead, FloatLstmLayer, FloatModel, FloatState, FloatTokenizer};

use crate::checkpoint::{Checkpoint, Task};
use crate::data::Example;
use crate::model::Readout;

/// Turns a trained checkpoint into the f32 network the exporter takes.
///
/// One-hot input (embedding width 0) becomes an identity embedding
/// `vocab x vocab`. The dense weights are transposed to `[outputs][features]`.
pub fn to_float_model(ckpt: &Checkpoint) -> FloatModel {
    let cfg = &ckpt.meta.net;
    let mut params = ckpt.params.iter();
    let (embedding, embed_dim) = if cfg.embed_dim > 0 {
        (params.next().expect("embedding").clone(), cfg.embed_dim)
    } else {
        let v = cfg.vocab;
        let mut e = vec![0.0; v * v];
        for i in 0..v {
            e[i * v + i] = 1.0;
        }
        (e, v)
    };
    let mut layers = Vec::new();
    for l in 0..cfg.layers {
        let input = if l == 0 { embed_dim } else { cfg.hidden };
        layers.push(FloatLstmLayer {
            input,
            hidden: cfg.hidden,
            w_x: params.next().expect("w_x").clone(),
            w_h: params.next().expect("w_h").clone(),
            bias: params.next().expect("bias").clone(),
        });
    }
    let w = params.next().expect("head.w");
    let b = params.next().expect("head.b").clone();
    let (f, o) = (cfg.features(), cfg.outputs);
    let mut wt = vec![0.0; f * o];
    for i in 0..f {
        for j in 0..o {
            wt[j * f + i] = w[i * o + j];
        }
    }
    let (kind, tokenizer, max_tokens) = match &ckpt.meta.task {
        Task::Sentiment { hashing, max_tokens } => {
            (ModelKind::Sentiment, FloatTokenizer::Words(*hashing), *max_tokens as u32)
        }
        Task::CharLm { charset } => (ModelKind::CharLm, FloatTokenizer::Chars(charset.clone()), 0),
    };
    let pooling = match cfg.readout {
        Readout::MeanMax => Pooling::MeanMax,
        Readout::Last | Readout::EveryStep => Pooling::Last,
    };
    FloatModel { kind, tokenizer, embedding, embed_dim, layers, head: FloatHead { pooling, max_tokens, w: wt, b } }
}

/// Streaming f32 inference state of a [`FloatModel`]: one token at a time,
/// as the device runs it. The LSTM step is the runtime's f32 reference
/// ([`FloatModel::step`]); this adds the pooling sums.
pub struct FloatRunner<'a> {
    model: &'a FloatModel,
    state: FloatState,
    sum: Vec<f32>,
    max: Vec<f32>,
    steps: usize,
}

impl<'a> FloatRunner<'a> {
    /// A runner at the zero state.
    pub fn new(model: &'a FloatModel) -> Self {
        let hid = model.layers.last().map_or(0, |l| l.hidden);
        Self { model, state: model.zero_state(), sum: vec![0.0; hid], max: vec![f32::NEG_INFINITY; hid], steps: 0 }
    }

    /// Feeds one token id through every layer.
    pub fn step(&mut self, id: usize) {
        self.model.step(&mut self.state, id as u32);
        let top = self.state.h.last().expect("a model has layers");
        for (j, &v) in top.iter().enumerate() {
            self.sum[j] += v;
            self.max[j] = self.max[j].max(v);
        }
        self.steps += 1;
    }

    /// The head's outputs (logits) for the tokens fed so far.
    pub fn logits(&self) -> Vec<f32> {
        let last = self.state.h.last().cloned().unwrap_or_default();
        let feats: Vec<f32> = match self.model.head.pooling {
            Pooling::Last => last,
            Pooling::MeanMax if self.steps == 0 => vec![0.0; 2 * last.len()],
            Pooling::MeanMax => {
                let n = self.steps as f32;
                self.sum.iter().map(|s| s / n).chain(self.max.iter().cloned()).collect()
            }
        };
        self.model.dense(&feats)
    }
}

/// Validation figures of a float sentiment model: (mean BCE, accuracy).
/// `examples` must be tokenized with the model's hashing and truncation.
pub fn float_sentiment_metrics(model: &FloatModel, examples: &[Example]) -> (f64, f64) {
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for ex in examples {
        let mut r = FloatRunner::new(model);
        for &id in &ex.ids {
            r.step(id as usize);
        }
        let z = r.logits()[0] as f64;
        let y = ex.label as f64;
        loss += z.max(0.0) - z * y + (-z.abs()).exp().ln_1p();
        if (z > 0.0) == (y > 0.5) {
            correct += 1;
        }
    }
    let n = examples.len().max(1) as f64;
    (loss / n, correct as f64 / n)
}

/// Mean cross-entropy in nats/char of a float language model predicting
/// `ids[1..]` from `ids[..n-1]` (one stream from the zero state).
pub fn float_charlm_loss(model: &FloatModel, ids: &[u16]) -> f64 {
    let mut r = FloatRunner::new(model);
    let mut total = 0.0f64;
    for w in ids.windows(2) {
        r.step(w[0] as usize);
        let l = r.logits();
        let m = l.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let lse = m as f64 + l.iter().map(|&z| ((z - m) as f64).exp()).sum::<f64>().ln();
        total += lse - l[w[1] as usize] as f64;
    }
    total / (ids.len().saturating_sub(1)).max(1) as f64
}

/// Samples `n` characters from a float language model: the `prime` is fed
/// first (bytes outside the charset are skipped), then each next character
/// is drawn from the `top_k` most likely ones (probabilities renormalised),
/// with a seeded generator. Returns the prime followed by the sample.
pub fn sample_chars(model: &FloatModel, prime: &str, n: usize, top_k: usize, seed: u64) -> String {
    use rand::{Rng, SeedableRng};
    let FloatTokenizer::Chars(charset) = &model.tokenizer else {
        return prime.to_owned();
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut r = FloatRunner::new(model);
    let mut out: Vec<u8> = prime.as_bytes().to_vec();
    let mut fed = false;
    for b in prime.bytes() {
        if let Some(id) = charset.iter().position(|&c| c == b) {
            r.step(id);
            fed = true;
        }
    }
    if !fed {
        return prime.to_owned();
    }
    for _ in 0..n {
        let logits = r.logits();
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        order.truncate(top_k.max(1));
        let m = logits[order[0]];
        let weights: Vec<f32> = order.iter().map(|&i| (logits[i] - m).exp()).collect();
        let total: f32 = weights.iter().sum();
        let mut pick = rng.gen::<f32>() * total;
        let mut id = order[0];
        for (&i, &w) in order.iter().zip(&weights) {
            if pick < w {
                id = i;
                break;
            }
            pick -= w;
        }
        out.push(charset[id]);
        r.step(id);
    }
    String::from_utf8_lossy(&out).into_owned()
}
