//! A language model's windows: the text cut into parallel streams, read
//! in windows of truncated BPTT; the loss of a whole text.

use dfdx::prelude::*;

use crate::metrics::Nats;
use crate::net::{Network, State};
use crate::ops::Seq;

/// Mean cross-entropy (nats/char) of a language model predicting
/// `ids[1..]` from `ids[..n-1]`, one stream from a zero state, run in
/// chunks of `chunk` steps with the state carried over.
pub fn evaluate_charlm(net: &Network, ids: &[u16], chunk: usize) -> f64 {
    if ids.len() < 2 {
        return f64::NAN;
    }
    let v = net.cfg.outputs;
    let mut state: Option<State> = None;
    let mut nats = Nats::default();
    let mut row64 = vec![0.0f64; v];
    let inputs = &ids[..ids.len() - 1];
    let targets = &ids[1..];
    for (xs, ys) in inputs.chunks(chunk.max(1)).zip(targets.chunks(chunk.max(1))) {
        let x: Vec<usize> = xs.iter().map(|&i| i as usize).collect();
        let seq = Seq::dense(x.len(), 1);
        let (logits, s) = net.forward(&x, &seq, NoneTape, None, state.as_ref());
        state = Some(s);
        for (row, &y) in logits.as_vec().chunks_exact(v).zip(ys) {
            row64.iter_mut().zip(row).for_each(|(d, &z)| *d = f64::from(z));
            nats.push(&row64, usize::from(y));
        }
    }
    nats.mean()
}

/// The training windows of one epoch: the text is cut into `streams`
/// contiguous parts read in parallel; window `w` holds steps
/// `w*window..` of every part. Returns `(inputs, targets)` per window,
/// time-major.
pub fn charlm_windows(ids: &[u16], streams: usize, window: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    let per = (ids.len().saturating_sub(1)) / streams.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < per {
        let len = window.min(per - start);
        let mut x = vec![0usize; len * streams];
        let mut y = vec![0usize; len * streams];
        for t in 0..len {
            for s in 0..streams {
                let k = s * per + start + t;
                x[t * streams + s] = ids[k] as usize;
                y[t * streams + s] = ids[k + 1] as usize;
            }
        }
        out.push((x, y));
        start += len;
    }
    out
}
