//! Safe wrappers around the `gemm` crate's single-precision matrix product
//! and the trainer's own kernels for the LSTM's per-step products (in
//! `x86.rs`): the only `unsafe` code of the trainer.
//!
//! Matrices are strided views over slices; every view is bounds-checked
//! before the raw-pointer call, so a shape mistake panics instead of reading
//! out of bounds. The own kernels are chosen by the `cpu` crate's
//! detection and reached only with its token of the features they are
//! compiled for ([`Kernel`]; [`PackedRhs::with_kernel`] gives `None`
//! where they are absent).
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

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
    let (m, n) = (a.rows, b.cols);
    assert!(dst.len() >= m * n, "destination too small");
    a.check();
    b.check();
    let isa = Isa::detect();
    if own_kernel_runs(isa.kernel(), a, n) {
        let threads = match parallelism {
            gemm::Parallelism::Rayon(t) => t,
            _ => 1,
        };
        return own_product(&mut dst[..m * n], a, &PackedRhs::pack(b, isa, false), accumulate, threads);
    }
    gemm_product(dst, a, b, accumulate, parallelism);
}

/// [`matmul`] on `gemm` itself on the calling thread, whatever the CPU: the
/// reference the own kernels are measured and tested against.
pub fn gemm_reference(dst: &mut [f32], a: Mat<'_>, b: Mat<'_>, accumulate: bool) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    assert!(dst.len() >= a.rows * b.cols, "destination too small");
    a.check();
    b.check();
    gemm_product(dst, a, b, accumulate, gemm::Parallelism::None);
}

/// The product on `gemm`.
fn gemm_product(dst: &mut [f32], a: Mat<'_>, b: Mat<'_>, accumulate: bool, parallelism: gemm::Parallelism) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
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

/// A right-hand matrix `B` (`k x n`) packed once for many products
/// `dst (+)= A B` with the same `B`: the LSTM's recurrent weights, used
/// once per time step forward and backward.
///
/// On x86-64 CPUs with AVX-512F (or AVX2 and FMA) the products run on this
/// module's own kernels: `B` is stored as panels of `NR` columns (32 or 16),
/// each `k` rows of `NR` contiguous floats, zero-padded past `n`, so no
/// step packs `B` again. Every output is the fused multiply-add chain over
/// `k` in order from zero, then added to `dst` once: the same operations in
/// the same order as `gemm`'s FMA kernels, so the results are the same bits
/// as [`matmul`]'s (tested) and seeded training runs keep their results.
/// Elsewhere `B` is kept row-major and the products go to `gemm`.
pub struct PackedRhs {
    k: usize,
    n: usize,
    /// The kernel, with the proof of its CPU features.
    isa: Isa,
    /// The panels (none for [`Kernel::Gemm`]).
    data: Vec<f32>,
    /// `B` unpacked, in its own orientation (column-major when its view was
    /// transposed), for the products `gemm` runs: the same layout gives
    /// the same `gemm` path, and so the same bits, as before packing.
    plain: Vec<f32>,
    transposed: bool,
}

/// Which kernel a [`PackedRhs`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// `gemm` on the row-major matrix.
    Gemm,
    /// 12 x 32 tiles in AVX-512F registers.
    Avx512,
    /// 6 x 16 tiles in AVX2 registers, with FMA.
    Avx2,
}

impl Kernel {
    /// The fastest kernel this CPU runs: [`Kernel::Avx512`] where
    /// `cpu::Avx512F::detect` finds AVX-512F (with the AVX2, FMA and F16C
    /// that rustc enables with it), [`Kernel::Avx2`] where
    /// `cpu::Avx2Fma::detect` finds AVX2 and FMA, else [`Kernel::Gemm`];
    /// under the cap of `cpu::set_max_tier`.
    pub fn detect() -> Kernel {
        Isa::detect().kernel()
    }

    /// Whether this CPU runs `self` (and the cap lets it).
    pub fn available(self) -> bool {
        Isa::of(self).is_some()
    }

    /// Columns per panel.
    fn width(self, n: usize) -> usize {
        match self {
            Kernel::Gemm => n.max(1),
            Kernel::Avx512 => 32,
            Kernel::Avx2 => 16,
        }
    }
}

/// A [`Kernel`] with the `cpu` token of the features its code enables:
/// what [`own_product`] matches on, so that no kernel runs without them.
#[derive(Clone, Copy, Debug)]
enum Isa {
    Gemm,
    Avx512(cpu::Avx512F),
    Avx2(cpu::Avx2Fma),
}

impl Isa {
    /// [`Kernel::detect`]'s kernel, with its token.
    fn detect() -> Isa {
        if let Some(t) = cpu::Avx512F::detect() {
            Isa::Avx512(t)
        } else if let Some(t) = cpu::Avx2Fma::detect() {
            Isa::Avx2(t)
        } else {
            Isa::Gemm
        }
    }

    /// `kernel` with its token, if this CPU runs it (under the cap).
    fn of(kernel: Kernel) -> Option<Isa> {
        match kernel {
            Kernel::Gemm => Some(Isa::Gemm),
            Kernel::Avx512 => cpu::Avx512F::detect().map(Isa::Avx512),
            Kernel::Avx2 => cpu::Avx2Fma::detect().map(Isa::Avx2),
        }
    }

    fn kernel(self) -> Kernel {
        match self {
            Isa::Gemm => Kernel::Gemm,
            Isa::Avx512(_) => Kernel::Avx512,
            Isa::Avx2(_) => Kernel::Avx2,
        }
    }
}

impl PackedRhs {
    /// Packs `b` for this CPU's fastest kernel.
    pub fn new(b: Mat<'_>) -> Self {
        Self::pack(b, Isa::detect(), true)
    }

    /// Packs `b` for `kernel`, or `None` where this CPU lacks the features
    /// its code is compiled for (or `cpu::set_max_tier` hides them): to
    /// compare the kernels in one run.
    pub fn with_kernel(b: Mat<'_>, kernel: Kernel) -> Option<Self> {
        Isa::of(kernel).map(|isa| Self::pack(b, isa, true))
    }

    /// Packs `b`; keeps it unpacked too when `plain` (for the products an
    /// own kernel does not run: a product that has checked
    /// [`own_kernel_runs`] needs none).
    fn pack(b: Mat<'_>, isa: Isa, plain: bool) -> Self {
        let kernel = isa.kernel();
        b.check();
        let (k, n) = (b.rows, b.cols);
        let transposed = b.cs != 1;
        let plain: Vec<f32> = if !(plain || kernel == Kernel::Gemm) {
            Vec::new()
        } else if transposed {
            (0..n).flat_map(|c| (0..k).map(move |r| (r, c))).map(|(r, c)| b.data[r * b.rs + c * b.cs]).collect()
        } else {
            (0..k).flat_map(|r| b.data[r * b.rs..r * b.rs + n].iter().copied()).collect()
        };
        let nr = kernel.width(n);
        let panels = if kernel == Kernel::Gemm { 0 } else { n.div_ceil(nr) };
        let mut data = Vec::with_capacity(panels * k * nr);
        for p in 0..panels {
            let cols = (n - p * nr).min(nr);
            for r in 0..k {
                let at = r * b.rs + p * nr * b.cs;
                if b.cs == 1 {
                    data.extend_from_slice(&b.data[at..at + cols]);
                } else {
                    data.extend((0..cols).map(|c| b.data[at + c * b.cs]));
                }
                data.resize(data.len() + nr - cols, 0.0);
            }
        }
        Self { k, n, isa, data, plain, transposed }
    }

    /// The kernel it runs on.
    pub fn kernel(&self) -> Kernel {
        self.isa.kernel()
    }
}

/// `dst = a * b` (or `dst += a * b` when `accumulate`) on the calling
/// thread, with `dst` row-major `a.rows x n`.
pub fn matmul_packed(dst: &mut [f32], a: Mat<'_>, b: &PackedRhs, accumulate: bool) {
    assert_eq!(a.cols, b.k, "inner dimensions differ");
    let (m, n, k) = (a.rows, b.n, b.k);
    assert!(dst.len() >= m * n, "destination too small");
    a.check();
    if !b.runs(a) {
        return matmul_serial(
            dst,
            a,
            if b.transposed { Mat::new(&b.plain, n, k).t() } else { Mat::new(&b.plain, k, n) },
            accumulate,
        );
    }
    own_product(&mut dst[..m * n], a, b, accumulate, 1);
}

impl PackedRhs {
    /// Whether the packed kernel computes `a * self` ([`own_kernel_runs`]).
    fn runs(&self, a: Mat<'_>) -> bool {
        own_kernel_runs(self.kernel(), a, self.n)
    }
}

/// Runs `f` compiled for the widest vectors this CPU has (AVX-512F, else
/// AVX2: `cpu`'s tokens and their `vectorize`), for the element-wise loops
/// around the products: `f` and what it inlines are vectorized 16 or 8
/// floats wide instead of SSE's 4. The operations and their order are the
/// same (Rust never contracts a multiply and an add), so the results are
/// the same bits.
#[inline(always)]
pub fn widest<R>(f: impl FnOnce() -> R) -> R {
    if let Some(t) = cpu::Avx512F::detect() {
        return t.vectorize(f);
    }
    if let Some(t) = cpu::Avx2::detect() {
        return t.vectorize(f);
    }
    f()
}

/// Whether an own kernel computes `a * B` (`B` `n` columns wide) with
/// `gemm`'s bits: `gemm` takes other paths (other orders) for one row, one
/// column or a depth of two, and `a` must be row- or column-major.
fn own_kernel_runs(kernel: Kernel, a: Mat<'_>, n: usize) -> bool {
    kernel != Kernel::Gemm && a.rows >= 2 && n >= 2 && a.cols >= 3 && (a.cs == 1 || a.rs == 1)
}

/// The depth block `gemm` 0.15 sums in one chain (then adds to `dst`): its
/// `kc`, which depends on the L1 cache and on `k`, for its f32 FMA kernel's
/// 24 x 4 tiles.
fn gemm_depth_block(m: usize, n: usize, k: usize) -> usize {
    if m <= 64 && n <= 64 {
        k.min(512)
    } else {
        gemm_common::cache::kernel_params(m, n, k, 24, 4, std::mem::size_of::<f32>()).kc.max(1)
    }
}

/// The packed product on `threads` threads, each a block of `dst`'s rows.
fn own_product(dst: &mut [f32], a: Mat<'_>, b: &PackedRhs, accumulate: bool, threads: usize) {
    let (m, n, k) = (a.rows, b.n, b.k);
    let kc = gemm_depth_block(m, n, k);
    let tile = if b.kernel() == Kernel::Avx512 { 12 } else { 6 };
    let parts = threads.min(m / tile).max(1);
    let per = m.div_ceil(parts).div_ceil(tile) * tile;
    let job = |(p, dst): (usize, &mut [f32])| {
        let r0 = p * per;
        let rows = dst.len() / n;
        // SAFETY: rows `r0..r0 + rows` of `a` were bounds-checked with the
        // whole view; `dst` holds `rows n` floats; the panels hold
        // `ceil(n / NR) k NR`, packed for this kernel; the kernel's CPU
        // features are proven by the token `b` holds.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            let transposed = a.cs != 1;
            let lda = if transposed { a.cs } else { a.rs };
            let args = x86::Args {
                a: a.data.as_ptr().add(r0 * if transposed { 1 } else { lda }),
                lda,
                m: rows,
                k,
                kc,
                n,
                panels: b.data.as_ptr(),
                dst: dst.as_mut_ptr(),
                accumulate,
            };
            match (b.isa, transposed) {
                (Isa::Avx512(t), false) => x86::product_avx512::<false>(t, &args),
                (Isa::Avx512(t), true) => x86::product_avx512::<true>(t, &args),
                (Isa::Avx2(t), false) => x86::product_avx2::<false>(t, &args),
                (Isa::Avx2(t), true) => x86::product_avx2::<true>(t, &args),
                (Isa::Gemm, _) => unreachable!(),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (r0, rows, kc, accumulate);
    };
    if parts > 1 {
        dst.par_chunks_mut(per * n).enumerate().for_each(job);
    } else {
        job((0, dst));
    }
}

#[cfg(target_arch = "x86_64")]
mod x86;

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

    /// The own kernels give `gemm`'s bits (its FMA kernels: the same
    /// chain over each depth block, then one addition), on every shape of
    /// tile and panel remainder, with a strided or transposed left matrix,
    /// depths of several blocks, one and two threads, on each kernel this
    /// CPU runs.
    #[test]
    fn own_products_are_gemms_bits() {
        let kernels: Vec<Kernel> =
            [Kernel::Avx512, Kernel::Avx2, Kernel::Gemm].into_iter().filter(|k| k.available()).collect();
        let mut checked = 0;
        for &kernel in &kernels {
            let shapes = [
                (1, 5, 7),
                (2, 3, 33),
                (13, 17, 40),
                (25, 128, 96),
                (7, 64, 16),
                (30, 9, 31),
                (70, 1300, 66),
                (40, 700, 20),
                (600, 1100, 20),
            ];
            for (m, k, n) in shapes {
                let lda = k + 3;
                let a: Vec<f32> = (0..m * lda).map(|i| ((i * 7919) % 113) as f32 / 37.0 - 1.5).collect();
                let at: Vec<f32> = (0..k * (m + 2)).map(|i| ((i * 7919) % 113) as f32 / 37.0 - 1.5).collect();
                let b: Vec<f32> = (0..n * k).map(|i| ((i * 104_729) % 97) as f32 / 41.0 - 1.1).collect();
                let lefts = [
                    Mat { data: &a, rows: m, cols: k, rs: lda, cs: 1 },
                    Mat { data: &at, rows: m, cols: k, rs: 1, cs: m + 2 },
                ];
                for (am, bm) in
                    lefts.into_iter().flat_map(|am| [(am, Mat::new(&b, k, n)), (am, Mat::new(&b, n, k).t())])
                {
                    let packed = PackedRhs::with_kernel(bm, kernel).expect("an available kernel");
                    assert_eq!(packed.kernel(), kernel);
                    for accumulate in [false, true] {
                        let start: Vec<f32> = (0..m * n).map(|i| (i % 11) as f32 * 0.3 - 1.0).collect();
                        let mut want = start.clone();
                        gemm_product(&mut want, am, bm, accumulate, gemm::Parallelism::None);
                        let mut got = vec![start.clone(), start.clone(), start];
                        matmul_packed(&mut got[0], am, &packed, accumulate);
                        if packed.runs(am) {
                            own_product(&mut got[1], am, &packed, accumulate, 2);
                        } else {
                            got[1].clone_from(&want);
                        }
                        matmul_serial(&mut got[2], am, bm, accumulate);
                        for got in &got {
                            // One row goes to `gemm` itself, with `B` in its own orientation.
                            let same = want.iter().zip(got).all(|(w, g)| w.to_bits() == g.to_bits());
                            assert!(same, "{kernel:?} {m}x{k}x{n} accumulate {accumulate}");
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 64);
    }
}
