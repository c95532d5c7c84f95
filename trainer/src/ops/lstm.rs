//! The LSTM layer as one tape operation.
//!
//! dfdx 0.13 has no LSTM layer. This operation runs its forward pass on
//! the host arrays of dfdx tensors and records ONE backward closure on the
//! tape (`Tape::add_backward_op`), exactly as dfdx's own ops do: the LSTM
//! over a whole sequence is one op whose backward is hand-written BPTT, with
//! the large products done once per sequence by `gemm`.
//!
//! Layouts: sequences are time-major, row `n = t * batch + b` of a
//! `(steps * batch, width)` matrix. Every weight is a row-major 2-D tensor.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::Rng;
use rayon::prelude::*;

use host::float::cell;

use crate::linalg::{matmul, matmul_packed, widest, Mat, PackedRhs};
use crate::ops::tensor::{add_rows, host, new_tensor, scatter_rows, Seq, T2};

/// The input of an LSTM layer.
pub enum LstmInput<T> {
    /// A `(steps * batch, width)` tensor.
    Dense(T2<T>),
    /// One-hot vectors given by their indices (one per row), with the tape
    /// to record on: the input product is a column gather of `w_x`.
    OneHot {
        /// One index per row, each `< w_x` columns.
        ids: Vec<usize>,
        /// The tape.
        tape: T,
    },
}

/// The weights of one LSTM layer, PyTorch layout: gates i, f, g, o stacked.
#[derive(Clone, Copy)]
pub struct LstmWeights<'a> {
    /// `(4H, I)`.
    pub w_x: &'a T2,
    /// `(4H, H)`.
    pub w_h: &'a T2,
    /// `(1, 4H)`: `b_ih + b_hh`.
    pub bias: &'a T2,
    /// Quantization-aware training: `w_x` and `w_h` are read rounded to the
    /// exporter's grid at these bits, for a layer whose input comes from
    /// there (a scale per fused row over `[x; h]`,
    /// [`host::quantize::fake_quantize_fused`]); the gradient passes
    /// straight through.
    pub fake: Option<(u8, host::quantize::FusedInput)>,
    /// DropConnect: `w_h` is read multiplied by this mask `(4H, H)` (zeros
    /// and `1 / (1 - p)`), one mask for every row and step of the batch;
    /// `w_h`'s gradient is masked the same way.
    pub drop_h: Option<&'a [f32]>,
}

/// A DropConnect mask of `n` weights: each 0 with probability `p`, else
/// `1 / (1 - p)`.
pub fn connect_mask(n: usize, p: f32, rng: &mut StdRng) -> Vec<f32> {
    let keep = 1.0 / (1.0 - p);
    (0..n).map(|_| if rng.gen::<f32>() < p { 0.0 } else { keep }).collect()
}

/// An LSTM layer's result.
pub struct LstmOutput<T> {
    /// Hidden states of every step, `(steps * batch, H)`.
    pub h: T2<T>,
    /// Final hidden state `(batch, H)` (detached).
    pub h_last: Vec<f32>,
    /// Final cell state `(batch, H)` (detached).
    pub c_last: Vec<f32>,
}

/// The batch rows each thread runs, `[lo, hi)`: `threads` blocks as equal
/// as can be (fewer when the batch is smaller).
fn batch_parts(bsz: usize, threads: usize) -> Vec<(usize, usize)> {
    let k = threads.clamp(1, bsz.max(1));
    (0..k).map(|i| (i * bsz / k, (i + 1) * bsz / k)).collect()
}

/// Splits a time-major `(steps * bsz, width)` matrix into, for each part,
/// its rows of every step: `out[part][t]` is rows `lo..hi` of step `t`.
fn split_steps<'a>(v: &'a mut [f32], bsz: usize, width: usize, parts: &[(usize, usize)]) -> Vec<Vec<&'a mut [f32]>> {
    let mut out: Vec<Vec<&mut [f32]>> = parts.iter().map(|_| Vec::new()).collect();
    if bsz * width == 0 {
        return out;
    }
    for step in v.chunks_exact_mut(bsz * width) {
        let mut rest = step;
        for (o, &(lo, hi)) in out.iter_mut().zip(parts) {
            let (mine, others) = rest.split_at_mut((hi - lo) * width);
            o.push(mine);
            rest = others;
        }
    }
    out
}

/// One part's blocks of the forward pass's outputs, one per step.
struct Blocks<'a> {
    g: Vec<&'a mut [f32]>,
    h: Vec<&'a mut [f32]>,
    c: Vec<&'a mut [f32]>,
    tc: Vec<&'a mut [f32]>,
}

/// The recurrence for batch rows `rows` over every step: adds `h_{t-1} W_h^T`
/// to the pre-activations (which hold `x W_x^T + b`), applies the gates and
/// writes h, c and tanh(c). `wh_t` is `W_h^T` `(H, 4H)`, packed.
#[inline(always)]
fn forward_rows(rows: std::ops::Range<usize>, seq: &Seq, wh_t: &PackedRhs, init: (&[f32], &[f32]), mut o: Blocks<'_>) {
    let hid = init.0.len() / seq.batch.max(1);
    let h4 = 4 * hid;
    let nb = rows.len();
    let h0 = &init.0[rows.start * hid..rows.end * hid];
    let c0 = &init.1[rows.start * hid..rows.end * hid];
    for t in 0..seq.steps {
        let (h_done, h_rest) = o.h.split_at_mut(t);
        let h_prev: &[f32] = if t == 0 { h0 } else { h_done[t - 1] };
        let g_t = &mut *o.g[t];
        matmul_packed(g_t, Mat::new(h_prev, nb, hid), wh_t, true);
        let (c_done, c_rest) = o.c.split_at_mut(t);
        let c_prev: &[f32] = if t == 0 { c0 } else { c_done[t - 1] };
        let (h_t, c_t, tc_t) = (&mut *h_rest[0], &mut *c_rest[0], &mut *o.tc[t]);
        for (k, b) in rows.clone().enumerate() {
            let g = &mut g_t[k * h4..(k + 1) * h4];
            if !seq.active(t, b) {
                g.fill(0.0);
                continue;
            }
            let unit = k * hid..(k + 1) * hid;
            cell(g, &c_prev[unit.clone()], &mut c_t[unit.clone()], &mut tc_t[unit.clone()], &mut h_t[unit]);
        }
    }
}

/// What the backward pass reads of the forward pass.
struct Saved<'a> {
    gates: &'a [f32],
    cs: &'a [f32],
    tcs: &'a [f32],
    c0: &'a [f32],
    dh_out: &'a [f32],
}

/// Backpropagation through time for batch rows `rows`: writes their
/// pre-activation gradients, one block per step in `da`. `wh` is `W_h`
/// `(4H, H)`, packed.
#[inline(always)]
fn backward_rows(rows: std::ops::Range<usize>, seq: &Seq, wh: &PackedRhs, s: &Saved<'_>, mut da: Vec<&mut [f32]>) {
    let bsz = seq.batch;
    let hid = s.c0.len() / bsz.max(1);
    let h4 = 4 * hid;
    let nb = rows.len();
    let mut dh_next = vec![0.0f32; nb * hid];
    let mut dc_next = vec![0.0f32; nb * hid];
    for t in (0..seq.steps).rev() {
        let d_t = &mut *da[t];
        for (k, b) in rows.clone().enumerate() {
            let r = t * bsz + b;
            let dn = &mut dh_next[k * hid..(k + 1) * hid];
            let dcn = &mut dc_next[k * hid..(k + 1) * hid];
            if !seq.active(t, b) {
                dn.fill(0.0);
                dcn.fill(0.0);
                continue;
            }
            let a = &s.gates[r * h4..(r + 1) * h4];
            let d = &mut d_t[k * h4..(k + 1) * h4];
            let tc = &s.tcs[r * hid..(r + 1) * hid];
            let cp: &[f32] =
                if t == 0 { &s.c0[b * hid..(b + 1) * hid] } else { &s.cs[(r - bsz) * hid..(r - bsz + 1) * hid] };
            let dh_o = &s.dh_out[r * hid..(r + 1) * hid];
            for j in 0..hid {
                let (i, f, g, o) = (a[j], a[hid + j], a[2 * hid + j], a[3 * hid + j]);
                let dh = dh_o[j] + dn[j];
                let do_ = dh * tc[j];
                let dc = dcn[j] + dh * o * (1.0 - tc[j] * tc[j]);
                dcn[j] = dc * f;
                d[j] = dc * g * i * (1.0 - i);
                d[hid + j] = dc * cp[j] * f * (1.0 - f);
                d[2 * hid + j] = dc * i * (1.0 - g * g);
                d[3 * hid + j] = do_ * o * (1.0 - o);
            }
        }
        matmul_packed(&mut dh_next, Mat::new(d_t, nb, h4), wh, false);
    }
}

/// Runs one LSTM layer over a whole sequence as one tape operation.
///
/// `init` is the initial `(h, c)`, each `(batch, H)`, treated as constants
/// (truncated BPTT); `None` starts from zeros. Padding rows (see [`Seq`])
/// keep a zero state and get no gradient.
///
/// With several threads (`linalg::set_threads`) the batch's rows are split
/// into one block per thread for the recurrence, forward and backward.
pub fn lstm<T: Tape<f32, Cpu>>(
    input: LstmInput<T>,
    w: LstmWeights<'_>,
    seq: &Seq,
    init: Option<(&[f32], &[f32])>,
) -> LstmOutput<T> {
    lstm_in_blocks(input, w, seq, init, crate::linalg::threads())
}

/// Runs `job` on each part: on this thread when there is one part, on
/// rayon's threads otherwise.
fn for_each_part<J: Send>(jobs: Vec<J>, job: impl Fn(J) + Send + Sync) {
    if jobs.len() > 1 {
        jobs.into_par_iter().for_each(job);
    } else {
        jobs.into_iter().for_each(job);
    }
}

/// The transpose of a row-major `(rows, cols)` matrix.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; rows * cols];
    for (r, row) in m.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
    t
}

/// The input's contribution to the pre-activations, `x W_x^T + b`
/// `(N, 4H)`, and what the backward pass needs of the input.
fn input_preactivations<T: Tape<f32, Cpu>>(
    input: LstmInput<T>,
    wx: &[f32],
    bias: &[f32],
    n: usize,
    inp: usize,
) -> (Vec<f32>, InputSaved, T) {
    let h4 = bias.len();
    match input {
        LstmInput::Dense(x) => {
            assert_eq!(*x.shape(), (n, inp), "lstm: input shape");
            let (x, tape) = x.split_tape();
            let xd = host(&x);
            let mut gates = vec![0.0f32; n * h4];
            matmul(&mut gates, Mat::new(&xd, n, inp), Mat::new(wx, h4, inp).t(), false);
            for row in gates.chunks_exact_mut(h4) {
                for (g, b) in row.iter_mut().zip(bias) {
                    *g += b;
                }
            }
            (gates, InputSaved::Dense(x, xd), tape)
        }
        LstmInput::OneHot { ids, tape } => {
            assert_eq!(ids.len(), n, "lstm: one id per row");
            // Row `id` of W_x's transpose (column `id` of W_x) plus the
            // bias, once for each id; then each row is one copy.
            let wxt = transpose(wx, h4, inp);
            let rows: Vec<f32> =
                wxt.chunks_exact(h4.max(1)).flat_map(|row| row.iter().zip(bias).map(|(w, b)| w + b)).collect();
            let mut gates = Vec::with_capacity(n * h4);
            for &id in &ids {
                assert!(id < inp, "lstm: one-hot index {id} >= {inp}");
                gates.extend_from_slice(&rows[id * h4..(id + 1) * h4]);
            }
            (gates, InputSaved::OneHot(ids), tape)
        }
    }
}

/// The input as the backward pass sees it.
enum InputSaved {
    /// The input tensor (its gradient is wanted) and its data.
    Dense(T2, Vec<f32>),
    /// One-hot indices: `W_x`'s gradient is a column scatter.
    OneHot(Vec<usize>),
}

/// The forward pass's arrays, kept for the backward pass.
struct Forward {
    /// Gate activations i, f, g, o `(N, 4H)`.
    gates: Vec<f32>,
    /// Hidden states `(N, H)`.
    hs: Vec<f32>,
    /// Cell states `(N, H)`.
    cs: Vec<f32>,
    /// `tanh(c)` `(N, H)`.
    tcs: Vec<f32>,
    /// Initial state, each `(B, H)`.
    h0: Vec<f32>,
    c0: Vec<f32>,
}

impl Forward {
    /// The recurrence over every step, one block of batch rows per part.
    fn run(mut gates: Vec<f32>, seq: &Seq, wh: &[f32], h0: Vec<f32>, c0: Vec<f32>, parts: &[(usize, usize)]) -> Self {
        let bsz = seq.batch;
        let hid = h0.len() / bsz.max(1);
        let n = seq.rows();
        let (mut hs, mut cs, mut tcs) = (vec![0.0f32; n * hid], vec![0.0f32; n * hid], vec![0.0f32; n * hid]);
        {
            // Rows of the batch are independent through time: each part
            // runs its own rows with no synchronisation until the end.
            let g_parts = split_steps(&mut gates, bsz, 4 * hid, parts);
            let h_parts = split_steps(&mut hs, bsz, hid, parts);
            let c_parts = split_steps(&mut cs, bsz, hid, parts);
            let tc_parts = split_steps(&mut tcs, bsz, hid, parts);
            let jobs: Vec<((usize, usize), Blocks<'_>)> = parts
                .iter()
                .zip(g_parts.into_iter().zip(h_parts).zip(c_parts.into_iter().zip(tc_parts)))
                .map(|(&p, ((g, h), (c, tc)))| (p, Blocks { g, h, c, tc }))
                .collect();
            let wh_t = PackedRhs::new(Mat::new(wh, 4 * hid, hid).t());
            for_each_part(jobs, |((lo, hi), blocks)| {
                widest(
                    #[inline(always)]
                    || forward_rows(lo..hi, seq, &wh_t, (&h0, &c0), blocks),
                )
            });
        }
        Self { gates, hs, cs, tcs, h0, c0 }
    }

    /// The last step's `(h, c)`, each `(B, H)` (the initial state when there
    /// are no steps).
    fn last_state(&self, seq: &Seq) -> (Vec<f32>, Vec<f32>) {
        let step = self.h0.len();
        if seq.steps == 0 {
            (self.h0.clone(), self.c0.clone())
        } else {
            let at = (seq.steps - 1) * step;
            (self.hs[at..].to_vec(), self.cs[at..].to_vec())
        }
    }

    /// Pre-activation gradients `(N, 4H)` from the gradients of the hidden
    /// states, one block of batch rows per part.
    fn backward(&self, dh_out: &[f32], seq: &Seq, wh: &[f32], parts: &[(usize, usize)]) -> Vec<f32> {
        let h4 = 4 * self.h0.len() / seq.batch.max(1);
        let mut da = vec![0.0f32; seq.rows() * h4];
        {
            let da_parts = split_steps(&mut da, seq.batch, h4, parts);
            let saved = Saved { gates: &self.gates, cs: &self.cs, tcs: &self.tcs, c0: &self.c0, dh_out };
            let jobs: Vec<_> = parts.iter().copied().zip(da_parts).collect();
            let wh = PackedRhs::new(Mat::new(wh, h4, h4 / 4));
            for_each_part(jobs, |((lo, hi), da)| {
                widest(
                    #[inline(always)]
                    || backward_rows(lo..hi, seq, &wh, &saved, da),
                )
            });
        }
        da
    }
}

/// [`lstm`] with the batch's recurrence split into `blocks` blocks of rows.
fn lstm_in_blocks<T: Tape<f32, Cpu>>(
    input: LstmInput<T>,
    w: LstmWeights<'_>,
    seq: &Seq,
    init: Option<(&[f32], &[f32])>,
    blocks: usize,
) -> LstmOutput<T> {
    let (h4, inp) = *w.w_x.shape();
    let hid = h4 / 4;
    assert_eq!(*w.w_h.shape(), (h4, hid), "lstm: w_h shape");
    assert_eq!(*w.bias.shape(), (1, h4), "lstm: bias shape");
    let (bsz, n) = (seq.batch, seq.rows());
    let (mut wx, mut wh) = (host(w.w_x), host(w.w_h));
    if let Some((bits, from)) = w.fake {
        host::quantize::fake_quantize_fused(&mut wx, &mut wh, inp, hid, from, bits);
    }
    let drop_h = w.drop_h.map(|m| {
        assert_eq!(m.len(), wh.len(), "lstm: DropConnect mask shape");
        wh.iter_mut().zip(m).for_each(|(a, b)| *a *= b);
        m.to_vec()
    });
    let (gates, input, mut tape) = input_preactivations(input, &wx, &host(w.bias), n, inp);
    let (h0, c0) = match init {
        Some((h, c)) => {
            assert_eq!(h.len(), bsz * hid, "lstm: initial h");
            assert_eq!(c.len(), bsz * hid, "lstm: initial c");
            (h.to_vec(), c.to_vec())
        }
        None => (vec![0.0; bsz * hid], vec![0.0; bsz * hid]),
    };
    let parts = batch_parts(bsz, blocks);
    let fwd = Forward::run(gates, seq, &wh, h0, c0, &parts);
    let (h_last, c_last) = fwd.last_state(seq);
    let out = new_tensor(w.w_x.device(), fwd.hs.clone(), n, hid);
    if T::OWNS_TAPE {
        let out_g = out.ghost();
        let (wx_g, wh_g, b_g) = (w.w_x.ghost(), w.w_h.ghost(), w.bias.ghost());
        let seq = seq.clone();
        let has_init = init.is_some();
        tape.add_backward_op(move |grads| {
            let da = fwd.backward(grads.get_or_alloc_mut(&out_g)?, &seq, &wh, &parts);
            // dW_h = sum_t dA_t^T h_{t-1} (of the masked weights, then
            // masked: DropConnect's chain rule).
            let mut masked = drop_h.as_ref().map(|_| vec![0.0f32; h4 * hid]);
            let gwh_all = grads.get_or_alloc_mut(&wh_g)?;
            let gwh: &mut [f32] = match masked.as_mut() {
                Some(buf) => buf,
                None => gwh_all,
            };
            if seq.steps > 1 {
                let m = n - bsz;
                matmul(gwh, Mat::new(&da[bsz * h4..], m, h4).t(), Mat::new(&fwd.hs[..m * hid], m, hid), true);
            }
            if has_init && seq.steps > 0 {
                matmul(gwh, Mat::new(&da[..bsz * h4], bsz, h4).t(), Mat::new(&fwd.h0, bsz, hid), true);
            }
            if let (Some(buf), Some(mask)) = (&masked, &drop_h) {
                let gwh_all = grads.get_or_alloc_mut(&wh_g)?;
                for ((g, d), m) in gwh_all.iter_mut().zip(buf).zip(mask) {
                    *g += d * m;
                }
            }
            add_rows(grads.get_or_alloc_mut(&b_g)?, &da);
            let gwx = grads.get_or_alloc_mut(&wx_g)?;
            match &input {
                InputSaved::Dense(x, xd) => {
                    matmul(gwx, Mat::new(&da, n, h4).t(), Mat::new(xd, n, inp), true);
                    let gx = grads.get_or_alloc_mut(&x.ghost())?;
                    matmul(gx, Mat::new(&da, n, h4), Mat::new(&wx, h4, inp), true);
                }
                InputSaved::OneHot(ids) => {
                    // The column scatter into W_x's gradient, done on its
                    // transpose (contiguous rows) and transposed back: each
                    // element sees the same additions in the same order.
                    let mut gt = transpose(gwx, h4, inp);
                    scatter_rows(&mut gt, h4, &da, ids);
                    gwx.copy_from_slice(&transpose(&gt, inp, h4));
                }
            }
            Ok(())
        });
    }
    LstmOutput { h: out.put_tape(tape), h_last, c_last }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recurrence split into blocks of rows gives the outputs and
    /// gradients of one block, on padded rows with a carried state.
    #[test]
    fn split_batch_gives_the_same_outputs_and_gradients() {
        let dev = Cpu::seed_from_u64(1);
        let (steps, bsz, inp, hid) = (4, 5, 3, 6);
        let seq = Seq { steps, batch: bsz, starts: vec![0, 1, 0, 3, 2] };
        let fill = |n: usize, seed: usize| -> Vec<f32> {
            (0..n).map(|i| ((i * 37 + seed * 11) % 17) as f32 / 17.0 - 0.5).collect()
        };
        let t2 = |v: Vec<f32>, r: usize, c: usize| -> T2 { dev.tensor_from_vec(v, (r, c)) };
        let (wx, wh, bias) = (
            t2(fill(4 * hid * inp, 1), 4 * hid, inp),
            t2(fill(4 * hid * hid, 2), 4 * hid, hid),
            t2(fill(4 * hid, 3), 1, 4 * hid),
        );
        let x = t2(fill(steps * bsz * inp, 4), steps * bsz, inp);
        let (h0, c0) = (fill(bsz * hid, 5), fill(bsz * hid, 6));
        let run = |blocks: usize| {
            let w = LstmWeights { w_x: &wx, w_h: &wh, bias: &bias, fake: None, drop_h: None };
            let input = LstmInput::Dense(x.clone().traced(Gradients::leaky()));
            let out = lstm_in_blocks(input, w, &seq, Some((&h0, &c0)), blocks);
            let h = out.h.as_vec();
            let grads = (out.h.square().sum() * 0.5).backward();
            let g: Vec<Vec<f32>> = [&wx, &wh, &bias, &x].iter().map(|t| grads.get(*t).as_vec()).collect();
            (h, out.h_last, out.c_last, g)
        };
        let one = run(1);
        for blocks in [2, 3, 4, 5] {
            let many = run(blocks);
            let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| (p - q).abs() <= 1e-5 * (1.0 + p.abs()));
            assert!(
                close(&one.0, &many.0) && close(&one.1, &many.1) && close(&one.2, &many.2),
                "outputs, {blocks} blocks"
            );
            for (k, (a, b)) in one.3.iter().zip(&many.3).enumerate() {
                assert!(a.iter().any(|v| *v != 0.0), "gradient {k} is zero");
                assert!(close(a, b), "gradient {k}, {blocks} blocks");
            }
        }
    }
}
