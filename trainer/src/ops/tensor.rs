//! The tensors the operations read and write: dfdx's 2-D f32 tensor, the
//! batch layout ([`Seq`]), and the copies and row sums every op shares.
//!
//! Layouts: sequences are time-major, row `n = t * batch + b` of a
//! `(steps * batch, width)` matrix. Every weight is a row-major 2-D tensor.

use dfdx::prelude::*;

use crate::linalg::widest;

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
pub(crate) fn host<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> Vec<f32> {
    let mut v = vec![0.0; t.shape().num_elements()];
    t.copy_into(&mut v);
    v
}

pub(crate) fn new_tensor(dev: &Cpu, data: Vec<f32>, rows: usize, cols: usize) -> T2 {
    dev.tensor_from_vec(data, (rows, cols))
}

/// Adds each `acc.len()`-wide row of `rows` to `acc`, in order (a bias's
/// gradient), in the widest vectors.
pub(crate) fn add_rows(acc: &mut [f32], rows: &[f32]) {
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
pub(crate) fn scatter_rows(table: &mut [f32], width: usize, rows: &[f32], ids: &[usize]) {
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
