//! The x86-64 product kernels: 12 x 32 tiles in AVX-512F registers and
//! 6 x 16 in AVX2 ones with FMA, one generic body ([`Lanes`]) compiled
//! once for each. The public entries take the `cpu` token of the features
//! their code enables (`avx512f`, which rustc makes imply AVX2, FMA and
//! F16C, so [`cpu::Avx512F`] proves those too; `avx2,fma`:
//! [`cpu::Avx2Fma`]), so that no caller reaches them without.
//!
//! The contract of every `unsafe fn` here is two parts: the CPU has the
//! features of the register type `V` (the token in hand), and the
//! pointers of the [`Args`] and the row, column and depth ranges given
//! stay inside the matrices [`Args`] describes.

use std::arch::x86_64::*;

use cpu::{Avx2Fma, Avx512F};

/// One product's operands (see `super::own_product`): element `(i, kk)`
/// of `a` is at `a + i lda + kk` (or `a + i + kk lda` when transposed),
/// `dst` is `m x n` row-major, and each output is summed in chains of
/// `kc` depths, each added to `dst` as `gemm` does.
///
/// The contract of a product: `a` is readable at every `(i, kk)` of `0..m`
/// x `0..k`; `panels` holds `ceil(n / NR) k NR` readable floats (`NR` the
/// kernel's panel width, 32 or 16); `dst` is `m n` writable floats that
/// overlap neither; `kc >= 1`.
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
///
/// Every method is `unsafe` with one contract besides its own: the CPU has
/// the register type's features (`avx512f` for `__m512`; `avx2` and `fma`
/// for `__m256`).
trait Lanes: Copy {
    const LANES: usize;
    const MR: usize;
    /// All lanes zero.
    ///
    /// # Safety
    /// The CPU has the type's features.
    unsafe fn zero() -> Self;
    /// Loads `LANES` floats at `p`.
    ///
    /// # Safety
    /// The CPU has the type's features; `p` is readable for `LANES` floats.
    unsafe fn load(p: *const f32) -> Self;
    /// The float at `p` in every lane.
    ///
    /// # Safety
    /// The CPU has the type's features; `p` is readable for one float.
    unsafe fn splat(p: *const f32) -> Self;
    /// `a b + c`, fused, lane by lane.
    ///
    /// # Safety
    /// The CPU has the type's features.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
    /// `a + b`, lane by lane.
    ///
    /// # Safety
    /// The CPU has the type's features.
    unsafe fn add(a: Self, b: Self) -> Self;
    /// Loads the first `n` floats at `p` (the rest zero).
    ///
    /// # Safety
    /// The CPU has the type's features; `p` is readable for `min(n,
    /// LANES)` floats (the others are not touched).
    unsafe fn load_first(p: *const f32, n: usize) -> Self;
    /// Stores the first `n` lanes at `p`.
    ///
    /// # Safety
    /// The CPU has the type's features; `p` is writable for `min(n,
    /// LANES)` floats (the others are not touched).
    unsafe fn store_first(self, p: *mut f32, n: usize);
}

/// One `Lanes` impl: the register type, its widths, and the intrinsic
/// (or expression) for each operation. Each body's `unsafe` is the
/// method's own contract (the CPU's features, the pointers' extent).
macro_rules! lanes {
    ($t:ty, $lanes:literal, $mr:literal, $zero:ident, $load:ident, $fma:ident, $add:ident,
     splat: |$p:ident| $splat:expr, first: |$q:ident, $n:ident| $load_first:expr, |$v:ident| $store_first:expr) => {
        impl Lanes for $t {
            const LANES: usize = $lanes;
            const MR: usize = $mr;
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: the caller guarantees the features.
                unsafe { $zero() }
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> Self {
                // SAFETY: the caller guarantees the features and `LANES` readable floats.
                unsafe { $load(p) }
            }
            #[inline(always)]
            unsafe fn splat($p: *const f32) -> Self {
                // SAFETY: the caller guarantees the features and one readable float.
                unsafe { $splat }
            }
            #[inline(always)]
            unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
                // SAFETY: the caller guarantees the features.
                unsafe { $fma(a, b, c) }
            }
            #[inline(always)]
            unsafe fn add(a: Self, b: Self) -> Self {
                // SAFETY: the caller guarantees the features.
                unsafe { $add(a, b) }
            }
            #[inline(always)]
            unsafe fn load_first($q: *const f32, $n: usize) -> Self {
                // SAFETY: the caller guarantees the features and the
                // readable floats; the masked-off lanes are not read.
                unsafe { $load_first }
            }
            #[inline(always)]
            unsafe fn store_first(self, $q: *mut f32, $n: usize) {
                let $v = self;
                // SAFETY: the caller guarantees the features and the
                // writable floats; the masked-off lanes are not written.
                unsafe { $store_first }
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

/// The lanes `0..min(n, 8)` of a 256-bit mask.
///
/// # Safety
/// The CPU has AVX2.
#[inline(always)]
unsafe fn mask8(n: usize) -> __m256i {
    let n = n.min(8) as i32;
    // SAFETY: the caller guarantees AVX2.
    unsafe { _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) }
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
///
/// # Safety
/// The CPU has `V`'s features; `g` keeps [`Args`]'s contract; `row + R <=
/// g.m`, `col < g.n` is a panel's first column and `panel` that panel
/// (`g.k` depths of `2 LANES` floats); `d` lies in `0..g.k`; `ap` is
/// readable at every `(i, kk)` of `0..R` x `0..d.len` as laid out above.
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
        // SAFETY: SSE is part of x86-64; a prefetch reads nothing.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(out);
            _mm_prefetch::<_MM_HINT_T0>(out.wrapping_add(4 * nr - 4));
        }
    }
    // SAFETY: the CPU has `V`'s features (the caller); the panel's depths
    // `d.k0..d.k0 + d.len` are inside its `g.k`, and `ap`'s elements
    // `(i, kk)` are readable (the caller).
    let acc = unsafe {
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
        acc
    };
    let cols = (g.n - col).min(nr);
    for (i, acc) in acc.iter().enumerate() {
        // SAFETY: rows `row + i < g.m` and columns `col..col + cols <= g.n`
        // of `dst`, which is `g.m g.n` writable floats (the caller); the
        // CPU has `V`'s features.
        unsafe {
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
///
/// # Safety
/// `g.a` is a transposed `a` readable as [`Args`] says; `r0 <= r1 <=
/// g.m`; `d` lies in `0..g.k`; `out` holds at least `ceil((r1 - r0) / mr)
/// mr d.len` floats.
#[inline(always)]
unsafe fn pack_a(g: &Args, r0: usize, r1: usize, d: Depth, mr: usize, out: &mut [f32]) {
    let tiles = (r1 - r0).div_ceil(mr);
    for kk in 0..d.len {
        for t in 0..tiles {
            let rows = (r1 - r0 - t * mr).min(mr);
            // SAFETY: elements `(r0 + t mr + i, d.k0 + kk)`, `i < rows`, of
            // `a` (rows below `r1 <= g.m`, depths below `g.k`), contiguous
            // in a transposed `a`; into `out`'s tile `t`, depth `kk`,
            // inside its length (the caller). `out` is a distinct `&mut`.
            unsafe {
                let src = g.a.add(r0 + (d.k0 + kk) * g.lda);
                let dst = out.as_mut_ptr().add(t * mr * d.len + kk * mr);
                std::ptr::copy_nonoverlapping(src.add(t * mr), dst, rows);
            }
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
///
/// # Safety
/// The CPU has `V`'s features; `g` keeps [`Args`]'s contract for panels
/// of `2 V::LANES` columns, with `a` transposed if and only if `T`.
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
                // SAFETY: rows `r0..r1 <= g.m`, depths `d` inside `0..g.k`;
                // `buf` holds `need >= ceil((r1 - r0) / MR) MR d.len` floats
                // (`r1 - r0 <= block`, `d.len <= kc`).
                unsafe { pack_a(g, r0, r1, d, V::MR, &mut buf) };
            }
            for p in 0..g.n.div_ceil(nr) {
                // SAFETY: panel `p < ceil(n / nr)` of the `g.panels`
                // (contract); each tile's rows `row..min(row + MR, r1)` lie
                // in `0..g.m`, its first column `p nr < g.n`, and `ap` is
                // its rows' packed block in `buf` (filled above for these
                // rows and depths) or row `row` of a row-major `a` at depth
                // `d.k0`; the CPU has `V`'s features (the caller).
                unsafe {
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
            }
            r0 = r1;
        }
        k0 += d.len;
    }
    PACKED_A.set(buf);
}

/// A whole tile of `V::MR` rows.
///
/// # Safety
/// [`tile`]'s, with `R = V::MR`.
#[inline(always)]
unsafe fn full<V: Lanes, const P: bool>(g: &Args, row: usize, ap: *const f32, panel: *const f32, col: usize, d: Depth) {
    // SAFETY: the caller's contract, `R` being `V::MR` (12 or 6).
    unsafe {
        if V::MR == 12 {
            tile::<V, P, 12>(g, row, ap, panel, col, d)
        } else {
            tile::<V, P, 6>(g, row, ap, panel, col, d)
        }
    }
}

/// The last tile, of `rows < V::MR` rows.
///
/// # Safety
/// [`tile`]'s, with `R = rows`.
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
                // SAFETY: the caller's contract, `R` being `rows`.
                $($r if $r < V::MR => unsafe { tile::<V, P, $r>(g, row, ap, panel, col, d) },)*
                _ => {}
            }
        };
    }
    rows!(1 2 3 4 5 6 7 8 9 10 11);
}

/// The product on 12 x 32 tiles in AVX-512F registers.
///
/// # Safety
/// `g` keeps [`Args`]'s contract for panels of 32 columns, with `a`
/// transposed if and only if `T`. (The token proves the features.)
pub unsafe fn product_avx512<const T: bool>(_: Avx512F, g: &Args) {
    /// # Safety
    /// The CPU has AVX-512F (and what it implies); `g` as above.
    #[target_feature(enable = "avx512f")]
    unsafe fn run<const T: bool>(g: &Args) {
        // SAFETY: compiled for, and (the caller's token) running on, AVX-512F;
        // `g` keeps the contract (the caller).
        unsafe { product::<__m512, T>(g) }
    }
    // SAFETY: the token proves AVX-512F; the caller guarantees `g`.
    unsafe { run::<T>(g) }
}

/// The product on 6 x 16 tiles in AVX2 registers, with FMA.
///
/// # Safety
/// `g` keeps [`Args`]'s contract for panels of 16 columns, with `a`
/// transposed if and only if `T`. (The token proves the features.)
pub unsafe fn product_avx2<const T: bool>(_: Avx2Fma, g: &Args) {
    /// # Safety
    /// The CPU has AVX2 and FMA; `g` as above.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run<const T: bool>(g: &Args) {
        // SAFETY: compiled for, and (the caller's token) running on, AVX2
        // and FMA; `g` keeps the contract (the caller).
        unsafe { product::<__m256, T>(g) }
    }
    // SAFETY: the token proves AVX2 and FMA; the caller guarantees `g`.
    unsafe { run::<T>(g) }
}
