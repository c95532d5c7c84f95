//! Safe wrappers around the `gemm` crate's single-precision matrix product,
//! the only `unsafe` code of the trainer.
//!
//! Matrices are strided views over slices; every view is bounds-checked
//! before the raw-pointer call, so a shape mistake panics instead of reading
//! out of bounds.

use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Sets the number of threads the trainer's matrix products (and dfdx's,
/// through rayon's global pool) may use. Call once, before any training.
pub fn set_threads(threads: usize) {
    let threads = threads.max(1);
    THREADS.store(threads, Ordering::Relaxed);
    // The global pool can only be built once; later calls keep the first size.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
}

/// The thread count set by [`set_threads`].
pub fn threads() -> usize {
    THREADS.load(Ordering::Relaxed).max(1)
}

fn parallelism() -> gemm::Parallelism {
    match THREADS.load(Ordering::Relaxed) {
        0 | 1 => gemm::Parallelism::None,
        n => gemm::Parallelism::Rayon(n),
    }
}

/// A read-only strided matrix view: element `(r, c)` is
/// `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `rows x cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self { data, rows, cols, rs: cols, cs: 1 }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        Self { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }

    fn check(&self) {
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1) * self.rs + (self.cols - 1) * self.cs;
            assert!(last < self.data.len(), "matrix view out of bounds");
        }
    }
}

/// `dst = a * b` (or `dst += a * b` when `accumulate`), with `dst` row-major
/// `a.rows x b.cols`, on the threads set by [`set_threads`].
pub fn matmul(dst: &mut [f32], a: Mat<'_>, b: Mat<'_>, accumulate: bool) {
    matmul_on(dst, a, b, accumulate, parallelism());
}

/// [`matmul`] on the calling thread only: for products inside work that is
/// already split across threads.
pub fn matmul_serial(dst: &mut [f32], a: Mat<'_>, b: Mat<'_>, accumulate: bool) {
    matmul_on(dst, a, b, accumulate, gemm::Parallelism::None);
}

fn matmul_on(dst: &mut [f32], a: Mat<'_>, b: Mat<'_>, accumulate: bool, parallelism: gemm::Parallelism) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert!(dst.len() >= m * n, "destination too small");
    a.check();
    b.check();
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    // SAFETY: all three views were bounds-checked above against their
    // slices; `dst` is a distinct `&mut` borrow, so it cannot alias `a` or
    // `b`; the strides fit in `isize` because they index existing slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: Mat<'_>, b: Mat<'_>) -> Vec<f32> {
        let mut out = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                for k in 0..a.cols {
                    out[i * b.cols + j] += a.data[i * a.rs + k * a.cs] * b.data[k * b.rs + j * b.cs];
                }
            }
        }
        out
    }

    #[test]
    fn matches_naive_with_transposes() {
        let a: Vec<f32> = (0..15).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..20).map(|i| (i as f32).sin()).collect();
        let am = Mat::new(&a, 3, 5);
        let bm = Mat::new(&b, 4, 5).t();
        let mut out = vec![1.0; 12];
        matmul(&mut out, am, bm, false);
        let want = naive(am, bm);
        for (o, w) in out.iter().zip(&want) {
            assert!((o - w).abs() < 1e-4);
        }
        matmul(&mut out, am, bm, true);
        for (o, w) in out.iter().zip(&want) {
            assert!((o - 2.0 * w).abs() < 1e-4);
        }
    }
}
