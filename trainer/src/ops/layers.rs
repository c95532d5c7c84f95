//! The layers around the LSTM as tape operations: the embedding lookup,
//! dropout, the dense layer and the pooling over time.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::Rng;

use host::float::Pooler;
use runtime::format::Pooling;

use crate::linalg::{matmul, Mat};
use crate::ops::tensor::{add_rows, host, new_tensor, scatter_rows, Seq, T2};

/// Embedding lookup: row `n` of the output is row `ids[n]` of `table`.
/// Backward adds each output row's gradient to its table row.
///
/// With `fake_quant = Some((scale, qmax))` the rows read are rounded to the
/// grid the exporter will use (`scale * round(v / scale)`, clamped to
/// `±qmax` steps), and the gradient passes straight through to the f32
/// table (quantization-aware training).
pub fn embed<T: Tape<f32, Cpu>>(table: &T2, ids: &[usize], mut tape: T, fake_quant: Option<(f32, f32)>) -> T2<T> {
    let (vocab, width) = *table.shape();
    let data = host(table);
    let mut out = vec![0.0; ids.len() * width];
    for (row, &id) in out.chunks_exact_mut(width).zip(ids) {
        assert!(id < vocab, "token id {id} outside the vocabulary {vocab}");
        row.copy_from_slice(&data[id * width..(id + 1) * width]);
        if let Some((s, q)) = fake_quant {
            row.iter_mut().for_each(|v| *v = (*v / s).round().clamp(-q, q) * s);
        }
    }
    let out = new_tensor(table.device(), out, ids.len(), width);
    if T::OWNS_TAPE {
        let table_g = table.ghost();
        let out_g = out.ghost();
        let ids = ids.to_vec();
        tape.add_backward_op(move |grads| {
            let g_out = grads.get_or_alloc_mut(&out_g)?.to_vec();
            let g_tab = grads.get_or_alloc_mut(&table_g)?;
            scatter_rows(g_tab, width, &g_out, &ids);
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// The integer form of `rng.gen::<f32>() < p`: rand draws that float as
/// `(next_u32() >> 8) * 2^-24`, exactly, so it is below `p` exactly when
/// the 24-bit integer is below `ceil(p * 2^24)`. The same mask from the
/// same draws, without the conversion.
fn drop_below(p: f32) -> u32 {
    (f64::from(p) * f64::from(1u32 << 24)).ceil().clamp(0.0, f64::from(1u32 << 24)) as u32
}

/// Inverted dropout: each element is zeroed with probability `p`, the others
/// scaled by `1 / (1 - p)`. The mask comes from `rng`, so a seeded run is
/// reproducible.
pub fn dropout<T: Tape<f32, Cpu>>(x: T2<T>, p: f32, rng: &mut StdRng) -> T2<T> {
    if p <= 0.0 {
        return x;
    }
    let (x, mut tape) = x.split_tape();
    let (rows, cols) = *x.shape();
    let scale = 1.0 / (1.0 - p);
    let drop = drop_below(p);
    // One bulk fill: ChaCha's words in the order `next_u32` gives them.
    let mut draws = vec![0u32; rows * cols];
    rng.fill(&mut draws[..]);
    let mask: Vec<f32> = draws.iter().map(|&u| if u >> 8 < drop { 0.0 } else { scale }).collect();
    let mut data = host(&x);
    for (d, m) in data.iter_mut().zip(&mask) {
        *d *= m;
    }
    let out = new_tensor(x.device(), data, rows, cols);
    if T::OWNS_TAPE {
        let x_g = x.ghost();
        let out_g = out.ghost();
        tape.add_backward_op(move |grads| {
            let g_out = grads.get_or_alloc_mut(&out_g)?.to_vec();
            let g_x = grads.get_or_alloc_mut(&x_g)?;
            for ((g, o), m) in g_x.iter_mut().zip(&g_out).zip(&mask) {
                *g += o * m;
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// Dense layer `y = x w + b` with `w: (in, out)` and `b: (1, out)`.
pub fn linear<T: Tape<f32, Cpu>>(x: T2<T>, w: &T2, b: &T2) -> T2<T> {
    let (x, mut tape) = x.split_tape();
    let (rows, inp) = *x.shape();
    let (w_in, outp) = *w.shape();
    assert_eq!(inp, w_in, "linear: input width");
    assert_eq!(*b.shape(), (1, outp), "linear: bias shape");
    let xd = host(&x);
    let wd = host(w);
    let bd = host(b);
    let mut y = vec![0.0; rows * outp];
    for row in y.chunks_exact_mut(outp) {
        row.copy_from_slice(&bd);
    }
    matmul(&mut y, Mat::new(&xd, rows, inp), Mat::new(&wd, inp, outp), true);
    let out = new_tensor(x.device(), y, rows, outp);
    if T::OWNS_TAPE {
        let (x_g, w_g, b_g, out_g) = (x.ghost(), w.ghost(), b.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gy = grads.get_or_alloc_mut(&out_g)?.to_vec();
            let gw = grads.get_or_alloc_mut(&w_g)?;
            matmul(gw, Mat::new(&xd, rows, inp).t(), Mat::new(&gy, rows, outp), true);
            add_rows(grads.get_or_alloc_mut(&b_g)?, &gy);
            let gx = grads.get_or_alloc_mut(&x_g)?;
            matmul(gx, Mat::new(&gy, rows, outp), Mat::new(&wd, inp, outp).t(), true);
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// Pools `(steps * batch, H)` hidden states over time with the shared
/// [`Pooler`]: `(batch, H)` for [`Pooling::Last`], `(batch, 2H)` for
/// [`Pooling::MeanMax`]. Only a row's real steps are pooled (a row with none
/// gives zeros).
pub fn pool<T: Tape<f32, Cpu>>(h: T2<T>, seq: &Seq, pooling: Pooling) -> T2<T> {
    let (h, mut tape) = h.split_tape();
    let (n, hid) = *h.shape();
    assert_eq!(n, seq.rows(), "pool: rows");
    let (bsz, steps) = (seq.batch, seq.steps);
    let hd = host(&h);
    let feats = pooling.features(hid);
    let mut out = Vec::with_capacity(bsz * feats);
    // Mean and max: the step of each row's maximum, (batch, H).
    let mut argmax = vec![0usize; bsz * hid];
    for b in 0..bsz {
        let first = steps - seq.len_of(b);
        let mut p = Pooler::new(pooling, hid);
        for t in first..steps {
            p.push(&hd[(t * bsz + b) * hid..(t * bsz + b + 1) * hid]);
        }
        for (a, &k) in argmax[b * hid..(b + 1) * hid].iter_mut().zip(p.argmax()) {
            *a = first + k;
        }
        out.extend(p.features());
    }
    let out = new_tensor(h.device(), out, bsz, feats);
    if T::OWNS_TAPE {
        let (h_g, out_g) = (h.ghost(), out.ghost());
        let seq = seq.clone();
        tape.add_backward_op(move |grads| {
            let go = grads.get_or_alloc_mut(&out_g)?.to_vec();
            let gh = grads.get_or_alloc_mut(&h_g)?;
            for b in 0..bsz {
                let len = seq.len_of(b);
                if steps == 0 || len == 0 {
                    continue;
                }
                let g = &go[b * feats..(b + 1) * feats];
                match pooling {
                    Pooling::Last => {
                        let r = (steps - 1) * bsz + b;
                        for (d, s) in gh[r * hid..(r + 1) * hid].iter_mut().zip(g) {
                            *d += s;
                        }
                    }
                    Pooling::MeanMax => {
                        let n = len as f32;
                        for t in steps - len..steps {
                            let r = t * bsz + b;
                            for (d, s) in gh[r * hid..(r + 1) * hid].iter_mut().zip(&g[..hid]) {
                                *d += s / n;
                            }
                        }
                        for j in 0..hid {
                            let t = argmax[b * hid + j];
                            gh[(t * bsz + b) * hid + j] += g[hid + j];
                        }
                    }
                }
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_integer_dropout_draw_is_rands_float_draw() {
        use rand::{Rng, RngCore, SeedableRng};
        for p in [0.0f32, 0.1, 0.2, 0.25, 1.0 / 3.0, 0.5, 0.9, 1.0] {
            let (mut a, mut b) = (StdRng::seed_from_u64(3), StdRng::seed_from_u64(3));
            let t = super::drop_below(p);
            let mut dropped = 0;
            for _ in 0..200_000 {
                let float = a.gen::<f32>() < p;
                assert_eq!(b.next_u32() >> 8 < t, float, "p {p}");
                dropped += usize::from(float);
            }
            assert!((dropped as f32 / 200_000.0 - p).abs() < 0.01, "p {p}: {dropped}");
        }
        // The bulk fill the mask is drawn with gives `next_u32`'s words, in
        // order, for any length and after any number of words drawn.
        for (skip, len) in [(0, 1), (3, 17), (5, 64), (1, 1000)] {
            let (mut a, mut b) = (StdRng::seed_from_u64(9), StdRng::seed_from_u64(9));
            for _ in 0..skip {
                let _ = (a.next_u32(), b.next_u32());
            }
            let mut bulk = vec![0u32; len];
            a.fill(&mut bulk[..]);
            let one_by_one: Vec<u32> = (0..len).map(|_| b.next_u32()).collect();
            assert_eq!(bulk, one_by_one, "skip {skip} len {len}");
            assert_eq!(a.next_u32(), b.next_u32());
        }
    }
}
