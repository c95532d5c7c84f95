//! The trainer's own operations on dfdx's gradient tape.
//!
//! dfdx 0.13 has no LSTM layer. Each operation here runs its forward pass on
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

use host::float::{cell, Pooler};
use runtime::format::Pooling;

use crate::linalg::{matmul, matmul_packed, widest, Mat, PackedRhs};

/// A 2-D f32 tensor on the CPU.
pub type T2<T = NoneTape> = Tensor<(usize, usize), f32, Cpu, T>;

/// Which rows of a time-major batch are real tokens. Sequences are aligned
/// to the right: row `b` is padding for steps `t < starts[b]`, where its
/// state stays zero, as if the sequence began at `starts[b]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Seq {
    /// Time steps T.
    pub steps: usize,
    /// Batch rows B.
    pub batch: usize,
    /// First real step of each row; empty means every step is real.
    pub starts: Vec<usize>,
}

impl Seq {
    /// A batch with no padding.
    pub fn dense(steps: usize, batch: usize) -> Self {
        Self { steps, batch, starts: Vec::new() }
    }

    /// Whether row `b` is real at step `t`.
    #[inline]
    pub fn active(&self, t: usize, b: usize) -> bool {
        self.starts.is_empty() || t >= self.starts[b]
    }

    /// Number of real steps of row `b`.
    pub fn len_of(&self, b: usize) -> usize {
        if self.starts.is_empty() {
            self.steps
        } else {
            self.steps - self.starts[b].min(self.steps)
        }
    }

    /// Total rows `steps * batch`.
    pub fn rows(&self) -> usize {
        self.steps * self.batch
    }
}

/// A copy of a tensor's data (one `memcpy`; dfdx's `as_vec` walks an
/// element iterator). Every tensor here is contiguous.
fn host<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> Vec<f32> {
    let mut v = vec![0.0; t.shape().num_elements()];
    t.copy_into(&mut v);
    v
}

fn new_tensor(dev: &Cpu, data: Vec<f32>, rows: usize, cols: usize) -> T2 {
    dev.tensor_from_vec(data, (rows, cols))
}

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

/// Adds each `acc.len()`-wide row of `rows` to `acc`, in order (a bias's
/// gradient), in the widest vectors.
fn add_rows(acc: &mut [f32], rows: &[f32]) {
    let width = acc.len().max(1);
    widest(
        #[inline(always)]
        || {
            for row in rows.chunks_exact(width) {
                for (g, r) in acc.iter_mut().zip(row) {
                    *g += r;
                }
            }
        },
    )
}

/// Adds row `k` of `rows` to row `ids[k]` of `table` (`width` wide), in
/// order (a lookup's gradient), in the widest vectors.
fn scatter_rows(table: &mut [f32], width: usize, rows: &[f32], ids: &[usize]) {
    widest(
        #[inline(always)]
        || {
            for (row, &id) in rows.chunks_exact(width.max(1)).zip(ids) {
                for (g, r) in table[id * width..(id + 1) * width].iter_mut().zip(row) {
                    *g += r;
                }
            }
        },
    )
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
    /// exporter's grid at these bits (a scale per row,
    /// [`host::quantize::row_scale`]); the gradient passes straight through.
    pub fake_bits: Option<u8>,
    /// DropConnect: `w_h` is read multiplied by this mask `(4H, H)` (zeros
    /// and `1 / (1 - p)`), one mask for every row and step of the batch;
    /// `w_h`'s gradient is masked the same way.
    pub drop_h: Option<&'a [f32]>,
}

/// Round each row of `w` (`cols` wide) to the exporter's grid at `bits`.
pub fn fake_quantize_rows(w: &mut [f32], cols: usize, bits: u8) {
    let q = host::quantize::levels(bits);
    for row in w.chunks_mut(cols.max(1)) {
        let s = host::quantize::row_scale(row, bits).max(1e-12);
        row.iter_mut().for_each(|v| *v = (host::quantize::level(*v, s, q) * s) as f32);
    }
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
    if let Some(bits) = w.fake_bits {
        fake_quantize_rows(&mut wx, inp, bits);
        fake_quantize_rows(&mut wh, hid, bits);
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

/// Softmax cross-entropy of `logits` `(N, V)` against target
/// probabilities `targets` (`N V`, row-major): dfdx's
/// `cross_entropy_with_logits_loss`, `-mean(targets * log_softmax(logits))
/// * V`, as one tape operation instead of ten. Every value and gradient is
/// computed with the operations dfdx's chain performs, in its order (the
/// row maximum off the tape, `exp`, the row sum from zero, `ln`, the
/// sequential sum of all products, each backward step added to a zeroed
/// gradient in the tape's reverse order), so loss and gradients are its
/// bits (tested); the rows run on the threads set by `linalg::set_threads`.
pub fn cross_entropy<T: Tape<f32, Cpu>>(logits: T2<T>, targets: Vec<f32>) -> Tensor<Rank0, f32, Cpu, T> {
    cross_entropy_on(logits, targets, crate::linalg::threads() > 1)
}

/// One row of the cross-entropy's forward: logits (then `exp`), products,
/// the row's sum, targets.
type CeForwardRow<'a> = ((&'a mut [f32], &'a mut [f32]), (&'a mut f32, &'a [f32]));
/// One row of its backward: the logits' gradient, `exp`, the sum, targets.
type CeBackwardRow<'a> = ((&'a mut [f32], &'a [f32]), (&'a f32, &'a [f32]));

/// [`cross_entropy`], its rows on rayon's threads when `parallel`.
fn cross_entropy_on<T: Tape<f32, Cpu>>(logits: T2<T>, targets: Vec<f32>, parallel: bool) -> Tensor<Rank0, f32, Cpu, T> {
    let (x, mut tape) = logits.split_tape();
    let (n, v) = *x.shape();
    assert_eq!(targets.len(), n * v, "cross_entropy: one target per logit");
    // Forward, per row: tm = x - max, e = exp(tm), s = sum e, P = tm - ln s;
    // q = P * y. `e` and `s` are what the backward needs.
    let mut e = host(&x);
    let mut q = vec![0.0f32; n * v];
    let mut sums = vec![0.0f32; n];
    let row = |((e, q), (s, y)): CeForwardRow<'_>| {
        let m = e.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for (t, q) in e.iter_mut().zip(q.iter_mut()) {
            *q = *t - m;
            *t = q.exp();
            sum += *t;
        }
        let lse = sum.ln();
        for (q, y) in q.iter_mut().zip(y) {
            *q = (*q - lse) * y;
        }
        *s = sum;
    };
    let w = v.max(1);
    if parallel {
        e.par_chunks_mut(w)
            .zip(q.par_chunks_mut(w))
            .zip(sums.par_iter_mut().zip(targets.par_chunks(w)))
            .with_min_len(64)
            .for_each(row);
    } else {
        e.chunks_mut(w).zip(q.chunks_mut(w)).zip(sums.iter_mut().zip(targets.chunks(w))).for_each(row);
    }
    // The sum of all products in order, from zero (adding -0 changes nothing).
    let total = q.iter().filter(|q| q.to_bits() != 0x8000_0000).fold(0.0f32, |acc, q| acc + q);
    let inv_n = (1.0 / (n * v) as f64) as f32;
    let inv_v = (1.0 / v as f64) as f32;
    let loss = -(total * inv_n) / inv_v;
    let out = x.device().tensor(loss);
    if T::OWNS_TAPE {
        let (x_g, out_g) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gl = grads.get_or_alloc_mut(&out_g)?[0];
            // Division by 1/V, negation, the mean's scale, the sum: one
            // gradient for every product.
            let g_neg = 0.0 + (1.0 / inv_v) * gl;
            let g_mean = 0.0 + -g_neg;
            let g_sum = 0.0 + inv_n * g_mean;
            let gq = 0.0 + g_sum;
            let gx = grads.get_or_alloc_mut(&x_g)?;
            let row = |((gx, e), (s, y)): CeBackwardRow<'_>| {
                let mut g_lse = 0.0f32;
                for (g, y) in gx.iter_mut().zip(y) {
                    let g_p = 0.0 + y * gq;
                    *g += g_p;
                    g_lse += -g_p;
                }
                let g_s = 0.0 + s.recip() * g_lse;
                let g_e = 0.0 + g_s;
                for (g, e) in gx.iter_mut().zip(e) {
                    *g += e * g_e;
                }
            };
            if parallel {
                gx.par_chunks_mut(w)
                    .zip(e.par_chunks(w))
                    .zip(sums.par_iter().zip(targets.par_chunks(w)))
                    .with_min_len(64)
                    .for_each(row);
            } else {
                gx.chunks_mut(w).zip(e.chunks(w)).zip(sums.iter().zip(targets.chunks(w))).for_each(row);
            }
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

    /// The recurrence split into blocks of rows gives the outputs and
    /// gradients of one block, on padded rows with a carried state.
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

    /// The fused cross-entropy gives dfdx's loss and gradient bit for bit:
    /// one-hot and soft targets, a row whose softmax saturates, the rows on
    /// one thread and on rayon's.
    #[test]
    fn cross_entropy_is_dfdxs_bits() {
        use dfdx::losses::cross_entropy_with_logits_loss;
        let dev = Cpu::seed_from_u64(1);
        for (n, v, soft) in [(7, 5, false), (300, 65, false), (33, 11, true), (1, 3, false)] {
            let mut x: Vec<f32> = (0..n * v).map(|i| ((i * 7919) % 113) as f32 / 9.0 - 6.0).collect();
            x[0] = 95.0; // row 0 saturates: log-probabilities of exactly 0 and far below
            let y: Vec<f32> = (0..n * v)
                .map(
                    |i| if soft { ((i * 31) % 7) as f32 / 21.0 } else { f32::from(u8::from(i % v == (i / v * 3) % v)) },
                )
                .collect();
            let xt: T2 = dev.tensor_from_vec(x, (n, v));
            let yt: T2 = dev.tensor_from_vec(y.clone(), (n, v));
            let want = cross_entropy_with_logits_loss(xt.clone().traced(Gradients::leaky()), yt);
            let want_loss = want.array();
            let want_g = want.backward().get(&xt).as_vec();
            for parallel in [false, true] {
                let got = cross_entropy_on(xt.clone().traced(Gradients::leaky()), y.clone(), parallel);
                let got_loss = got.array();
                let got_g = got.backward().get(&xt).as_vec();
                assert_eq!(got_loss.to_bits(), want_loss.to_bits(), "loss {n}x{v}: {got_loss} vs {want_loss}");
                assert!(got_g.iter().any(|g| *g != 0.0));
                for (i, (g, w)) in got_g.iter().zip(&want_g).enumerate() {
                    assert_eq!(g.to_bits(), w.to_bits(), "gradient {i} of {n}x{v}, parallel {parallel}: {g} vs {w}");
                }
            }
        }
    }

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
            let w = LstmWeights { w_x: &wx, w_h: &wh, bias: &bias, fake_bits: None, drop_h: None };
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
