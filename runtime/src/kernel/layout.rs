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
