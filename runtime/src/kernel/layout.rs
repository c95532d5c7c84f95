//! The vector layout the kernels read: [`PrepBuf`] lays a vector out once
//! per step, [`Prepared`] marks a vector so laid out.

/// Storage for one prepared vector of up to `N` values, word-aligned (the
/// DSP kernel loads two values a word, four a `LDRD`).
#[derive(Clone, Debug)]
#[repr(C, align(4))]
pub struct PrepBuf<const N: usize>([i16; N]);

/// A vector laid out for this target's kernel (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Prepared<'a>(pub(crate) &'a [i16]);

impl<const N: usize> PrepBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self([0; N])
    }

    /// Lay `x` out for the kernel. Panics if `x` is longer than `N` (the
    /// callers' sizes are checked when the network is built).
    pub fn prepare(&mut self, x: &[i16]) -> Prepared<'_> {
        let out = &mut self.0[..x.len()];
        out.copy_from_slice(x);
        if cfg!(lstm_dsp) {
            for g in out.chunks_exact_mut(4) {
                g.swap(1, 2);
            }
        }
        Prepared(out)
    }
}

impl<const N: usize> Default for PrepBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl Prepared<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty vector.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Storage for the input of a fused layer (format version 5): the layer's
/// input `x` (at most `max(E, H)` values: the embedding row, or the layer
/// below's new `h`), the layer's own `h` before the step (at most `H`) right
/// after it, then zeros up to the row's padded width; word-aligned. One
/// vector, so that a gate's row is one dot product.
///
/// Its four arrays are one run of `E + 2H + 8` values (`CatBuf::values`):
/// at least the `max(E, H) + H + 7` a padded row needs.
#[derive(Clone, Debug)]
#[repr(C, align(4))]
pub struct CatBuf<const E: usize, const H: usize> {
    x: [i16; E],
    h: [i16; H],
    more: [i16; H],
    pad: [i16; 8],
}

impl<const E: usize, const H: usize> CatBuf<E, H> {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self { x: [0; E], h: [0; H], more: [0; H], pad: [0; 8] }
    }

    /// All of the buffer's values, in order.
    #[allow(unsafe_code)]
    fn values(&mut self) -> &mut [i16] {
        let len = E + 2 * H + 8;
        // SAFETY: `CatBuf` is `repr(C)` and holds only `i16` arrays, whose
        // alignment (2) divides every field's offset and size: the fields
        // follow each other with no padding between them, so the struct's
        // first `len` i16 are exactly its four arrays, initialized, inside
        // the one object `self` borrows mutably for the slice's lifetime.
        unsafe { core::slice::from_raw_parts_mut((self as *mut Self).cast::<i16>(), len) }
    }

    /// Lay out `[x >> x_shift; h >> h_shift]` (each shift as
    /// [`crate::format::shift_value`] takes it: right with rounding, or
    /// left for a negative one), zeros up to `cols` values, for the
    /// kernel; returns it and, with `sum`, the sum of its values (else 0):
    /// what the offset 4-bit kernel subtracts. Panics if `x` and `h` do not
    /// fit in `cols`, or `cols` in the buffer; a left shift must keep the
    /// values in int16 (the callers' sizes are checked when the network is
    /// built, the shifts when the model is).
    pub fn prepare(
        &mut self,
        x: &[i16],
        x_shift: i8,
        h: &[i16],
        h_shift: i8,
        cols: usize,
        sum: bool,
    ) -> (Prepared<'_>, i32) {
        let out = self.values();
        out[..x.len()].copy_from_slice(x);
        prepare_cat(out, x.len(), x_shift, h, h_shift, cols, sum)
    }

    /// The buffer's first `n` values, where layer 0's input can be written
    /// in place (the token's embedding row) before
    /// [`CatBuf::prepare_written`].
    pub fn input_mut(&mut self, n: usize) -> &mut [i16] {
        &mut self.values()[..n]
    }

    /// [`CatBuf::prepare`] of an `x` of `nx` values already in the buffer
    /// ([`CatBuf::input_mut`]).
    pub fn prepare_written(
        &mut self,
        nx: usize,
        x_shift: i8,
        h: &[i16],
        h_shift: i8,
        cols: usize,
        sum: bool,
    ) -> (Prepared<'_>, i32) {
        prepare_cat(self.values(), nx, x_shift, h, h_shift, cols, sum)
    }
}

/// Shift `v` in place as [`crate::format::shift_value`] does, the
/// direction decided once for the slice.
fn shift_all(v: &mut [i16], s: i8) {
    if s > 0 {
        let (r, half) = (s as u32, 1i32 << (s - 1));
        v.iter_mut().for_each(|a| *a = ((i32::from(*a) + half) >> r) as i16);
    } else if s < 0 {
        let l = (-s) as u32;
        v.iter_mut().for_each(|a| *a = ((i32::from(*a)) << l) as i16);
    }
}

/// Lay out `buf[..cols]` for the kernel: its first `nx` values (the
/// input) shifted by `x_shift`, then `h` shifted by `h_shift`, then zeros
/// (one copy of the code for every `CatBuf` size: flash).
fn prepare_cat<'b>(
    buf: &'b mut [i16],
    nx: usize,
    x_shift: i8,
    h: &[i16],
    h_shift: i8,
    cols: usize,
    sum: bool,
) -> (Prepared<'b>, i32) {
    let nh = h.len();
    assert!(nx + nh <= cols);
    let out = &mut buf[..cols];
    shift_all(&mut out[..nx], x_shift);
    out[nx..nx + nh].copy_from_slice(h);
    shift_all(&mut out[nx..nx + nh], h_shift);
    out[nx + nh..].fill(0);
    let total = if sum { out.iter().map(|&v| i32::from(v)).sum() } else { 0 };
    if cfg!(lstm_dsp) {
        for g in out.chunks_exact_mut(4) {
            g.swap(1, 2);
        }
    }
    (Prepared(out), total)
}

impl<const E: usize, const H: usize> Default for CatBuf<E, H> {
    fn default() -> Self {
        Self::new()
    }
}
