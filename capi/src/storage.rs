// What the C API writes into the caller's storage, for given capacities:
// shared by the library and its build script (`include!`), which measures
// these types to size the storage macros of `lstm_config.h`.

/// `lstm_classifier_open`'s storage: the network (reading the model in
/// place) and one text's streaming state. `repr(C)`: the magic is the
/// storage's first word, which any handle can be read at.
#[repr(C)]
pub struct ClassifierStorage<const E: usize, const H: usize, const L: usize, const C: usize, const N: usize> {
    /// [`CLASSIFIER_MAGIC`] once opened: a handle to anything else is refused.
    pub magic: u32,
    /// The network; the model it borrows outlives the storage (the caller's
    /// promise, in the header).
    pub clf: runtime::Classifier<'static, E, H, L, C>,
    /// The text being read.
    pub state: runtime::ClassifierState<H, L, N>,
}

/// `lstm_charlm_open`'s storage: the network, its state and the sampler
/// (`repr(C)`, the magic first, as for [`ClassifierStorage`]).
#[repr(C)]
pub struct CharLmStorage<const E: usize, const H: usize, const L: usize, const V: usize> {
    /// [`CHARLM_MAGIC`] once opened.
    pub magic: u32,
    /// The network; the model it borrows outlives the storage.
    pub lm: runtime::CharLm<'static, E, H, L, V>,
    /// The LSTM state and the next character's logits.
    pub state: runtime::CharLmState<H, L, V>,
    /// The sampler (seed, temperature, top-k).
    pub sampler: runtime::Sampler,
}

/// The first word of an open classifier's storage ("LSTC").
pub const CLASSIFIER_MAGIC: u32 = 0x4354_534c;
/// The first word of an open language model's storage ("LSTG").
pub const CHARLM_MAGIC: u32 = 0x4754_534c;

/// Bytes of the capacity-dependent arrays of a classifier's storage:
/// `h` and `c` (`[[i16; H]; L]` each), the pooling sum (`[i64; H]`) and max
/// (`[i16; H]`), and the window's ring (`[u32; N]`).
pub const fn classifier_arrays(h: usize, l: usize, n: usize) -> usize {
    4 * h * l + 10 * h + 4 * n
}

/// Bytes of the capacity-dependent arrays of a language model's storage:
/// `h` and `c` (`[[i16; H]; L]` each) and the logits (`[i32; V]`).
pub const fn charlm_arrays(h: usize, l: usize, v: usize) -> usize {
    4 * h * l + 4 * v
}

/// The storage bytes the header promises: the fixed part measured on the
/// build machine (64-bit, so no smaller than on any 32-bit device), the
/// arrays, 8 bytes for padding, rounded up to 8. The library checks at
/// compile time that its storage types fit.
pub const fn storage_bound(fixed: usize, arrays: usize) -> usize {
    (fixed + arrays + 8).div_ceil(8) * 8
}
