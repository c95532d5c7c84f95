//! Safe wrappers around the `gemm` crate's single-precision matrix product
//! and the trainer's own kernels for the LSTM's per-step products: the only
//! `unsafe` code of the trainer.
//!
//! Matrices are strided views over slices; every view is bounds-checked
//! before the raw-pointer call, so a shape mistake panics instead of reading
//! out of bounds.

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
    let kernel = Kernel::detect();
    if own_kernel_runs(kernel, a, n) {
        let threads = match parallelism {
            gemm::Parallelism::Rayon(t) => t,
            _ => 1,
        };
        return own_product(&mut dst[..m * n], a, &PackedRhs::pack(b, kernel, false), accumulate, threads);
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
    kernel: Kernel,
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
    /// The fastest kernel this CPU runs.
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Kernel::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Kernel::Avx2;
            }
        }
        Kernel::Gemm
    }

    /// Whether this CPU runs `self`.
    pub fn available(self) -> bool {
        match self {
            Kernel::Gemm => true,
            Kernel::Avx512 => Kernel::detect() == Kernel::Avx512,
            Kernel::Avx2 => Kernel::detect() != Kernel::Gemm,
        }
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

impl PackedRhs {
    /// Packs `b` for this CPU's fastest kernel.
    pub fn new(b: Mat<'_>) -> Self {
        Self::with_kernel(b, Kernel::detect())
    }

    /// Packs `b` for `kernel` (which this CPU must run).
    pub fn with_kernel(b: Mat<'_>, kernel: Kernel) -> Self {
        Self::pack(b, kernel, true)
    }

    /// Packs `b`; keeps it unpacked too when `plain` (for the products an
    /// own kernel does not run: a product that has checked
    /// [`own_kernel_runs`] needs none).
    fn pack(b: Mat<'_>, kernel: Kernel, plain: bool) -> Self {
        assert!(kernel.available(), "the {kernel:?} kernel needs a CPU feature this one lacks");
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
        Self { k, n, kernel, data, plain, transposed }
    }

    /// The kernel it runs on.
    pub fn kernel(&self) -> Kernel {
        self.kernel
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
        own_kernel_runs(self.kernel, a, self.n)
    }
}

/// Runs `f` compiled for the widest vectors this CPU has (AVX-512F, else
/// AVX2), for the element-wise loops around the products: `f` and what it
/// inlines are vectorized 16 or 8 floats wide instead of SSE's 4. The
/// operations and their order are the same (Rust never contracts a
/// multiply and an add), so the results are the same bits.
#[inline(always)]
pub fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the features each wrapper enables were detected.
    unsafe {
        match Kernel::detect() {
            Kernel::Avx512 => return x86::run_avx512(f),
            Kernel::Avx2 => return x86::run_avx2(f),
            Kernel::Gemm => {}
        }
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
    let tile = if b.kernel == Kernel::Avx512 { 12 } else { 6 };
    let parts = threads.min(m / tile).max(1);
    let per = m.div_ceil(parts).div_ceil(tile) * tile;
    let job = |(p, dst): (usize, &mut [f32])| {
        let r0 = p * per;
        let rows = dst.len() / n;
        // SAFETY: rows `r0..r0 + rows` of `a` were bounds-checked with the
        // whole view; `dst` holds `rows n` floats; the panels hold
        // `ceil(n / NR) k NR`; the kernel's CPU features were detected when
        // `b` was packed.
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
            match (b.kernel, transposed) {
                (Kernel::Avx512, false) => x86::product_avx512::<false>(&args),
                (Kernel::Avx512, true) => x86::product_avx512::<true>(&args),
                (Kernel::Avx2, false) => x86::product_avx2::<false>(&args),
                (Kernel::Avx2, true) => x86::product_avx2::<true>(&args),
                (Kernel::Gemm, _) => unreachable!(),
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
mod x86 {
    use std::arch::x86_64::*;

    /// One product's operands (see [`super::own_product`]): element
    /// `(i, kk)` of `a` is at `a + i lda + kk` (or `a + i + kk lda` when
    /// transposed), `dst` is `m x n` row-major, and each output is summed
    /// in chains of `kc` depths, each added to `dst` as `gemm` does.
    pub struct Args {
        pub a: *const f32,
        pub lda: usize,
        pub m: usize,
        pub k: usize,
        pub kc: usize,
        pub n: usize,
        pub panels: *const f32,
        pub dst: *mut f32,
        pub accumulate: bool,
    }

    /// A SIMD register of `LANES` floats; a tile is `MR` rows of two.
    trait Lanes: Copy {
        const LANES: usize;
        const MR: usize;
        unsafe fn zero() -> Self;
        unsafe fn load(p: *const f32) -> Self;
        unsafe fn splat(p: *const f32) -> Self;
        unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
        unsafe fn add(a: Self, b: Self) -> Self;
        /// Loads the first `n` floats at `p` (the rest zero).
        unsafe fn load_first(p: *const f32, n: usize) -> Self;
        /// Stores the first `n` lanes at `p`.
        unsafe fn store_first(self, p: *mut f32, n: usize);
    }

    /// One `Lanes` impl: the register type, its widths, and the intrinsic
    /// (or expression) for each operation.
    macro_rules! lanes {
        ($t:ty, $lanes:literal, $mr:literal, $zero:ident, $load:ident, $fma:ident, $add:ident,
         splat: |$p:ident| $splat:expr, first: |$q:ident, $n:ident| $load_first:expr, |$v:ident| $store_first:expr) => {
            impl Lanes for $t {
                const LANES: usize = $lanes;
                const MR: usize = $mr;
                #[inline(always)]
                unsafe fn zero() -> Self {
                    $zero()
                }
                #[inline(always)]
                unsafe fn load(p: *const f32) -> Self {
                    $load(p)
                }
                #[inline(always)]
                unsafe fn splat($p: *const f32) -> Self {
                    $splat
                }
                #[inline(always)]
                unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
                    $fma(a, b, c)
                }
                #[inline(always)]
                unsafe fn add(a: Self, b: Self) -> Self {
                    $add(a, b)
                }
                #[inline(always)]
                unsafe fn load_first($q: *const f32, $n: usize) -> Self {
                    $load_first
                }
                #[inline(always)]
                unsafe fn store_first(self, $q: *mut f32, $n: usize) {
                    let $v = self;
                    $store_first
                }
            }
        };
    }

    lanes!(__m512, 16, 12, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_fmadd_ps, _mm512_add_ps,
        splat: |p| _mm512_set1_ps(*p),
        first: |p, n| _mm512_maskz_loadu_ps(mask16(n), p), |v| _mm512_mask_storeu_ps(p, mask16(n), v));

    lanes!(__m256, 8, 6, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_add_ps,
        splat: |p| _mm256_broadcast_ss(&*p),
        first: |p, n| _mm256_maskload_ps(p, mask8(n)), |v| _mm256_maskstore_ps(p, mask8(n), v));

    #[inline(always)]
    fn mask16(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    #[inline(always)]
    unsafe fn mask8(n: usize) -> __m256i {
        let n = n.min(8) as i32;
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    }

    /// One depth block: where it starts, how deep, and whether it adds to
    /// `dst` (every block but a first one that overwrites).
    #[derive(Clone, Copy)]
    struct Depth {
        k0: usize,
        len: usize,
        add: bool,
    }

    /// Rows `row..row + R` (their packed block at `ap`: `R` of each
    /// depth's `MR` floats), columns `col..` of one panel, over one depth
    /// block: `R x 2 LANES` accumulators, the FMA chain over the depths in
    /// order from zero, then one addition to `dst`.
    ///
    /// With `P` the rows are packed (element `(i, kk)` at `ap + kk MR +
    /// i`); without, `ap` is row `row` of a row-major `a` at depth `k0`.
    #[inline(always)]
    unsafe fn tile<V: Lanes, const P: bool, const R: usize>(
        g: &Args,
        row: usize,
        ap: *const f32,
        panel: *const f32,
        col: usize,
        d: Depth,
    ) {
        let nr = 2 * V::LANES;
        let (ks, is) = if P { (V::MR, 1) } else { (1, g.lda) };
        // The outputs are read (or first written) after the depth loop:
        // ask for their lines now, so that a miss overlaps the arithmetic
        // (a hint past the end of `dst` is harmless: nothing is dereferenced).
        for i in 0..R {
            let out = g.dst.wrapping_add((row + i) * g.n + col) as *const i8;
            _mm_prefetch::<_MM_HINT_T0>(out);
            _mm_prefetch::<_MM_HINT_T0>(out.wrapping_add(4 * nr - 4));
        }
        let mut acc = [[V::zero(); 2]; R];
        let panel = panel.add(d.k0 * nr);
        for kk in 0..d.len {
            let b0 = V::load(panel.add(kk * nr));
            let b1 = V::load(panel.add(kk * nr + V::LANES));
            for (i, acc) in acc.iter_mut().enumerate() {
                let ai = V::splat(ap.add(kk * ks + i * is));
                acc[0] = V::fma(ai, b0, acc[0]);
                acc[1] = V::fma(ai, b1, acc[1]);
            }
        }
        let cols = (g.n - col).min(nr);
        for (i, acc) in acc.iter().enumerate() {
            let out = g.dst.add((row + i) * g.n + col);
            for (h, &v) in acc.iter().enumerate() {
                let lo = h * V::LANES;
                if cols <= lo {
                    break;
                }
                let w = cols - lo;
                let v = if d.add { V::add(V::load_first(out.add(lo), w), v) } else { v };
                v.store_first(out.add(lo), w);
            }
        }
    }

    /// Rows per block: a block of `a` stays in L2 while every panel passes.
    const BLOCK_TILES: usize = 8;

    thread_local! {
        /// Each thread's packed block of `a`, reused from product to product.
        static PACKED_A: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
    }

    /// Copies rows `r0..r1`, depths `d` of a transposed `a` into `out`: for
    /// each tile of `mr` rows, each depth's `mr` floats in a row (depths
    /// `lda` apart would crowd a few L1 sets). Read depth by depth, each a
    /// contiguous run of the block's rows.
    #[inline(always)]
    unsafe fn pack_a(g: &Args, r0: usize, r1: usize, d: Depth, mr: usize, out: &mut [f32]) {
        let tiles = (r1 - r0).div_ceil(mr);
        for kk in 0..d.len {
            let src = g.a.add(r0 + (d.k0 + kk) * g.lda);
            for t in 0..tiles {
                let rows = (r1 - r0 - t * mr).min(mr);
                let dst = out.as_mut_ptr().add(t * mr * d.len + kk * mr);
                std::ptr::copy_nonoverlapping(src.add(t * mr), dst, rows);
            }
        }
    }

    /// Rows of a block: for a transposed `a`, as many as keep its packed
    /// block within about 1 MiB of L2 (each depth then one contiguous read,
    /// and `B`'s panels read once a depth block); otherwise `BLOCK_TILES`
    /// tiles.
    #[inline(always)]
    fn block_rows<const T: bool>(mr: usize, kc: usize) -> usize {
        if T {
            ((1 << 18) / kc.max(1)).max(mr) / mr * mr
        } else {
            BLOCK_TILES * mr
        }
    }

    /// Depth blocks in order; in each, blocks of rows (packed), every
    /// panel, whole tiles of `V::MR` rows then one tile of the rest.
    #[inline(always)]
    unsafe fn product<V: Lanes, const T: bool>(g: &Args) {
        let nr = 2 * V::LANES;
        // Not a closure: the kernel must inline into its target-feature caller.
        let mut buf = PACKED_A.take();
        let block = block_rows::<T>(V::MR, g.kc.min(g.k));
        let need = if T { block.min(g.m.div_ceil(V::MR) * V::MR) * g.kc.min(g.k) } else { 0 };
        if buf.len() < need {
            buf.resize(need, 0.0);
        }
        let mut k0 = 0;
        while k0 < g.k {
            let d = Depth { k0, len: g.kc.min(g.k - k0), add: g.accumulate || k0 > 0 };
            let mut r0 = 0;
            while r0 < g.m {
                let r1 = (r0 + block).min(g.m);
                // A transposed `a` is packed; a row-major one is read in place.
                if T {
                    pack_a(g, r0, r1, d, V::MR, &mut buf);
                }
                for p in 0..g.n.div_ceil(nr) {
                    let panel = g.panels.add(p * g.k * nr);
                    let mut row = r0;
                    while row < r1 {
                        let ap = if T { buf.as_ptr().add((row - r0) * d.len) } else { g.a.add(row * g.lda + d.k0) };
                        match r1 - row {
                            r if r >= V::MR => full::<V, T>(g, row, ap, panel, p * nr, d),
                            r => rest::<V, T>(g, row, r, ap, panel, p * nr, d),
                        }
                        row += V::MR;
                    }
                }
                r0 = r1;
            }
            k0 += d.len;
        }
        PACKED_A.set(buf);
    }

    #[inline(always)]
    unsafe fn full<V: Lanes, const P: bool>(
        g: &Args,
        row: usize,
        ap: *const f32,
        panel: *const f32,
        col: usize,
        d: Depth,
    ) {
        if V::MR == 12 {
            tile::<V, P, 12>(g, row, ap, panel, col, d)
        } else {
            tile::<V, P, 6>(g, row, ap, panel, col, d)
        }
    }

    #[inline(always)]
    unsafe fn rest<V: Lanes, const P: bool>(
        g: &Args,
        row: usize,
        rows: usize,
        ap: *const f32,
        panel: *const f32,
        col: usize,
        d: Depth,
    ) {
        macro_rules! rows {
            ($($r:literal)*) => {
                match rows {
                    $($r if $r < V::MR => tile::<V, P, $r>(g, row, ap, panel, col, d),)*
                    _ => {}
                }
            };
        }
        rows!(1 2 3 4 5 6 7 8 9 10 11);
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn run_avx512<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn product_avx512<const T: bool>(g: &Args) {
        product::<__m512, T>(g)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn product_avx2<const T: bool>(g: &Args) {
        product::<__m256, T>(g)
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
                    let packed = PackedRhs::with_kernel(bm, kernel);
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
