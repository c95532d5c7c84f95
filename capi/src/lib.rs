//! The runtime from C: `liblstm.a` and `include/lstm.h`.
//!
//! Memory: no heap, no global state. Each network lives in storage the
//! caller owns (a `static` buffer, the stack), `LSTM_*_STORAGE_BYTES` long
//! and aligned to `LSTM_STORAGE_ALIGN` (`lstm_config.h`, written per build
//! with this build's capacities); the model file is read in place and must
//! outlive the storage. Every function checks its arguments and returns a
//! status: `LSTM_OK` (0), or a negative `LSTM_ERR_*`, never a crash for a
//! NULL, a short or misaligned storage, a corrupted model or calls in the
//! wrong order.
//!
//! The handles (`lstm_classifier *`, `lstm_charlm *`) point at the storage;
//! its first word says which network it holds once opened, so a handle to
//! anything else (an unopened buffer, the other network) is refused with
//! `LSTM_ERR_NOT_OPEN`. What cannot be checked is the caller's promise: a
//! handle points at storage this library opened (or at readable memory of
//! the storage's size), and the model bytes stay where they were.
#![no_std]
#![allow(non_camel_case_types)]

use core::ffi::c_void;
use core::fmt::Write as _;

use runtime::{CharLm, CharLmState, Classifier, ClassifierState, Error, Probability, Sampler};

mod capacity {
    //! This build's capacities and storage sizes, from `build.rs`.
    include!(concat!(env!("OUT_DIR"), "/capacity.rs"));
}

#[allow(dead_code)] // shared with build.rs, which reads the array sizes
mod storage {
    //! The storage types, shared with `build.rs`.
    include!("storage.rs");
}

use capacity::*;
use storage::{CharLmStorage, ClassifierStorage, CHARLM_MAGIC, CLASSIFIER_MAGIC};

type Storage = ClassifierStorage<CLF_E, CLF_H, CLF_L, CLF_C, CLF_N>;
type LmStorage = CharLmStorage<LM_E, LM_H, LM_L, LM_V>;

// The header's sizes hold this build's types (`build.rs` bounds them from
// the build machine's sizes, no smaller than any 32-bit device's).
const _: () = assert!(core::mem::size_of::<Storage>() <= CLASSIFIER_STORAGE_BYTES);
const _: () = assert!(core::mem::size_of::<LmStorage>() <= CHARLM_STORAGE_BYTES);
const _: () = assert!(core::mem::align_of::<Storage>() <= STORAGE_ALIGN);
const _: () = assert!(core::mem::align_of::<LmStorage>() <= STORAGE_ALIGN);
// The magic is the first word of both (`repr(C)`): a handle of either kind
// is read there.
const _: () = assert!(core::mem::offset_of!(Storage, magic) == 0 && core::mem::offset_of!(LmStorage, magic) == 0);

/// A status: `LSTM_OK` (0) or a negative `LSTM_ERR_*`.
pub type lstm_status = i32;

/// Success.
pub const LSTM_OK: lstm_status = 0;
/// The model file is shorter than its prefix and CRC.
pub const LSTM_ERR_TRUNCATED: lstm_status = -1;
/// The model file does not start with "LSTM".
pub const LSTM_ERR_BAD_MAGIC: lstm_status = -2;
/// The model file's format version is not one this library reads.
pub const LSTM_ERR_UNSUPPORTED_VERSION: lstm_status = -3;
/// The model file's CRC-32 does not match its contents.
pub const LSTM_ERR_CRC_MISMATCH: lstm_status = -4;
/// The model file's body is not a valid encoding.
pub const LSTM_ERR_MALFORMED: lstm_status = -5;
/// The model file has bytes after its body.
pub const LSTM_ERR_TRAILING_BYTES: lstm_status = -6;
/// An array of the model has the wrong length for its dimensions.
pub const LSTM_ERR_LENGTH_MISMATCH: lstm_status = -7;
/// A value of the model is out of the supported range.
pub const LSTM_ERR_OUT_OF_RANGE: lstm_status = -8;
/// Parts of the model contradict each other.
pub const LSTM_ERR_INCONSISTENT: lstm_status = -9;
/// The model is larger than this build's capacities (`lstm_config.h`).
pub const LSTM_ERR_DIMENSION_MISMATCH: lstm_status = -10;
/// The model is of the other kind (a classifier for a language model, or
/// the reverse).
pub const LSTM_ERR_WRONG_KIND: lstm_status = -11;
/// An output buffer is too small.
pub const LSTM_ERR_BUFFER_TOO_SMALL: lstm_status = -12;
/// A pointer argument is NULL.
pub const LSTM_ERR_NULL_ARGUMENT: lstm_status = -20;
/// The storage is shorter than `LSTM_*_STORAGE_BYTES`.
pub const LSTM_ERR_STORAGE_TOO_SMALL: lstm_status = -21;
/// The storage is not aligned to `LSTM_STORAGE_ALIGN`.
pub const LSTM_ERR_STORAGE_MISALIGNED: lstm_status = -22;
/// The handle is not an open network of this kind.
pub const LSTM_ERR_NOT_OPEN: lstm_status = -23;
/// No text has started (`lstm_classifier_start`), or it has finished.
pub const LSTM_ERR_NOT_STARTED: lstm_status = -24;
/// A runtime error this library has no code for.
pub const LSTM_ERR_UNKNOWN: lstm_status = -99;

/// The status of a runtime error.
fn status(e: Error) -> lstm_status {
    match e {
        Error::Truncated { .. } => LSTM_ERR_TRUNCATED,
        Error::BadMagic { .. } => LSTM_ERR_BAD_MAGIC,
        Error::UnsupportedVersion { .. } => LSTM_ERR_UNSUPPORTED_VERSION,
        Error::CrcMismatch { .. } => LSTM_ERR_CRC_MISMATCH,
        Error::Malformed => LSTM_ERR_MALFORMED,
        Error::TrailingBytes { .. } => LSTM_ERR_TRAILING_BYTES,
        Error::LengthMismatch { .. } => LSTM_ERR_LENGTH_MISMATCH,
        Error::OutOfRange { .. } => LSTM_ERR_OUT_OF_RANGE,
        Error::Inconsistent { .. } => LSTM_ERR_INCONSISTENT,
        Error::DimensionMismatch { .. } => LSTM_ERR_DIMENSION_MISMATCH,
        Error::WrongKind { .. } => LSTM_ERR_WRONG_KIND,
        Error::BufferTooSmall => LSTM_ERR_BUFFER_TOO_SMALL,
        _ => LSTM_ERR_UNKNOWN,
    }
}

/// A text for a status, static and NUL-terminated; never NULL (an unknown
/// status has a text that says so).
#[no_mangle]
pub extern "C" fn lstm_status_message(s: lstm_status) -> *const core::ffi::c_char {
    let text: &'static core::ffi::CStr = match s {
        LSTM_OK => c"ok",
        LSTM_ERR_TRUNCATED => c"the model file is truncated",
        LSTM_ERR_BAD_MAGIC => c"not a model file: it does not start with \"LSTM\"",
        LSTM_ERR_UNSUPPORTED_VERSION => c"the model file has a format version this library does not read",
        LSTM_ERR_CRC_MISMATCH => c"the model file is corrupt: its CRC-32 does not match",
        LSTM_ERR_MALFORMED => c"the model file's body is not a valid encoding",
        LSTM_ERR_TRAILING_BYTES => c"the model file has unexpected bytes after its body",
        LSTM_ERR_LENGTH_MISMATCH => c"an array of the model does not match its dimensions",
        LSTM_ERR_OUT_OF_RANGE => c"a value of the model is out of range",
        LSTM_ERR_INCONSISTENT => c"the model is inconsistent",
        LSTM_ERR_DIMENSION_MISMATCH => c"the model is larger than this library's capacities (lstm_config.h)",
        LSTM_ERR_WRONG_KIND => c"the model is of the other kind (classifier or language model)",
        LSTM_ERR_BUFFER_TOO_SMALL => c"the output buffer is too small",
        LSTM_ERR_NULL_ARGUMENT => c"a pointer argument is NULL",
        LSTM_ERR_STORAGE_TOO_SMALL => c"the storage is smaller than LSTM_*_STORAGE_BYTES",
        LSTM_ERR_STORAGE_MISALIGNED => c"the storage is not aligned to LSTM_STORAGE_ALIGN",
        LSTM_ERR_NOT_OPEN => c"the handle is not an open network of this kind",
        LSTM_ERR_NOT_STARTED => c"no text has started (lstm_classifier_start), or it has finished",
        LSTM_ERR_UNKNOWN => c"an error this library has no code for",
        _ => c"not a status of this library",
    };
    text.as_ptr()
}

/// An open classifier (opaque: it is the caller's storage).
pub struct lstm_classifier {
    _storage: [u8; 0],
}

/// An open character language model (opaque: it is the caller's storage).
pub struct lstm_charlm {
    _storage: [u8; 0],
}

/// The class a text is given.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct lstm_prediction {
    /// The class, in the model's class order.
    pub class_index: u16,
    /// Its probability in Q0.15 (`0..=32767`), as the runtime computes it.
    pub probability_q15: u16,
    /// The class name, in the model file (or static text for version 1
    /// and 2 files); not NUL-terminated.
    pub label: *const core::ffi::c_char,
    /// Bytes of `label`.
    pub label_len: usize,
}

/// The model bytes, or `LSTM_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `model` is NULL or points at `len` readable bytes that stay there as
/// long as any storage opened on them is used (the `'static` is that
/// promise).
unsafe fn model_bytes(model: *const u8, len: usize) -> Result<&'static [u8], lstm_status> {
    if model.is_null() {
        return Err(LSTM_ERR_NULL_ARGUMENT);
    }
    // SAFETY: non-NULL, and the caller's promise above.
    Ok(unsafe { core::slice::from_raw_parts(model, len) })
}

/// A text argument: `len` bytes at `text`, or none when `text` is NULL and
/// `len` 0; NULL with a length is `LSTM_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `text` is NULL or points at `len` readable bytes for the call.
unsafe fn text_bytes<'t>(text: *const u8, len: usize) -> Result<&'t [u8], lstm_status> {
    match (text.is_null(), len) {
        (true, 0) => Ok(&[]),
        (true, _) => Err(LSTM_ERR_NULL_ARGUMENT),
        // SAFETY: non-NULL, and the caller's promise above.
        (false, _) => Ok(unsafe { core::slice::from_raw_parts(text, len) }),
    }
}

/// Write `value` into the checked storage `p` and its handle into `out`.
///
/// # Safety
/// `p` is writable and aligned for a `T` (from [`check_storage`] with
/// `T`'s storage bytes, which the compile-time checks bound); `out` is
/// non-NULL and writable.
unsafe fn place<T, H>(p: *mut u8, value: T, out: *mut *mut H) {
    // SAFETY: the caller's promise above.
    unsafe {
        p.cast::<T>().write(value);
        out.write(p.cast());
    }
}

/// Check the caller's storage for a `T` of `bytes` bytes.
fn check_storage(storage: *mut c_void, storage_len: usize, bytes: usize) -> Result<*mut u8, lstm_status> {
    if storage.is_null() {
        return Err(LSTM_ERR_NULL_ARGUMENT);
    }
    if storage_len < bytes {
        return Err(LSTM_ERR_STORAGE_TOO_SMALL);
    }
    if !(storage as usize).is_multiple_of(STORAGE_ALIGN) {
        return Err(LSTM_ERR_STORAGE_MISALIGNED);
    }
    Ok(storage.cast())
}

/// The open network of `magic` behind a handle.
///
/// # Safety
/// `h` is NULL or points at readable and writable memory of at least the
/// storage bytes of its kind, aligned, not used through another reference
/// while the result lives (the header's contract for handles); `T` is the
/// storage type `magic` stands for.
unsafe fn opened<'s, T>(h: *mut u8, magic: u32) -> Result<&'s mut T, lstm_status> {
    if h.is_null() {
        return Err(LSTM_ERR_NULL_ARGUMENT);
    }
    if !(h as usize).is_multiple_of(STORAGE_ALIGN) {
        return Err(LSTM_ERR_NOT_OPEN);
    }
    // SAFETY: readable and aligned (the contract); the magic is the first
    // word of every storage (`repr(C)`), read before anything else of the
    // storage is trusted.
    if unsafe { h.cast::<u32>().read() } != magic {
        return Err(LSTM_ERR_NOT_OPEN);
    }
    // SAFETY: the magic says the open function of this kind wrote a `T`.
    Ok(unsafe { &mut *h.cast::<T>() })
}

/// The open classifier behind a handle.
///
/// # Safety
/// As [`opened`], with `LSTM_CLASSIFIER_STORAGE_BYTES`.
unsafe fn classifier<'s>(c: *mut lstm_classifier) -> Result<&'s mut Storage, lstm_status> {
    // SAFETY: the caller's contract.
    unsafe { opened(c.cast(), CLASSIFIER_MAGIC) }
}

/// The open language model behind a handle.
///
/// # Safety
/// As [`opened`], with `LSTM_CHARLM_STORAGE_BYTES`.
unsafe fn charlm<'s>(g: *mut lstm_charlm) -> Result<&'s mut LmStorage, lstm_status> {
    // SAFETY: the caller's contract.
    unsafe { opened(g.cast(), CHARLM_MAGIC) }
}

fn done(r: Result<(), lstm_status>) -> lstm_status {
    match r {
        Ok(()) => LSTM_OK,
        Err(s) => s,
    }
}

/// A classifier of this build's capacities over `model`, its window checked.
fn open_classifier(model: &'static [u8]) -> Result<Classifier<'static, CLF_E, CLF_H, CLF_L, CLF_C>, lstm_status> {
    let clf = Classifier::<CLF_E, CLF_H, CLF_L, CLF_C>::from_bytes(model).map_err(status)?;
    if clf.window() > CLF_N {
        return Err(status(Error::DimensionMismatch { what: "token window", compiled: CLF_N, model: clf.window() }));
    }
    Ok(clf)
}

/// Open a classifier over `model` (read in place; it must outlive the
/// storage) in `storage`; `*out` is its handle. A text starts with
/// `lstm_classifier_start`.
///
/// # Safety
/// `storage` is NULL or `storage_len` writable bytes; `model` is NULL or
/// `model_len` readable bytes that stay; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lstm_classifier_open(
    storage: *mut c_void,
    storage_len: usize,
    model: *const u8,
    model_len: usize,
    out: *mut *mut lstm_classifier,
) -> lstm_status {
    done((|| {
        if out.is_null() {
            return Err(LSTM_ERR_NULL_ARGUMENT);
        }
        let p = check_storage(storage, storage_len, CLASSIFIER_STORAGE_BYTES)?;
        // SAFETY: the contract on `model`.
        let clf = open_classifier(unsafe { model_bytes(model, model_len) }?)?;
        let value = Storage { magic: CLASSIFIER_MAGIC, clf, state: ClassifierState::new() };
        // SAFETY: `p` was checked for the classifier's storage bytes; `out`
        // is non-NULL and writable (the contract).
        unsafe { place(p, value, out) };
        Ok(())
    })())
}

/// Start a new text: resets the state. Needed after open, and before each
/// text.
///
/// # Safety
/// `c` is NULL or a handle from `lstm_classifier_open` (storage that stays readable and writable).
#[no_mangle]
pub unsafe extern "C" fn lstm_classifier_start(c: *mut lstm_classifier) -> lstm_status {
    // SAFETY: the contract on `c`.
    done(unsafe { classifier(c) }.and_then(|s| s.clf.start(&mut s.state).map(|_| ()).map_err(status)))
}

/// Feed the next `len` bytes of the text (any chunks give the same result).
///
/// # Safety
/// `c` as in `lstm_classifier_start`; `text` is NULL (with `len` 0) or
/// `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn lstm_classifier_feed(c: *mut lstm_classifier, text: *const u8, len: usize) -> lstm_status {
    done((|| {
        // SAFETY: the contract on `c`.
        let s = unsafe { classifier(c) }?;
        // SAFETY: the contract on `text`.
        let bytes = unsafe { text_bytes(text, len) }?;
        s.clf.resume(&mut s.state).ok_or(LSTM_ERR_NOT_STARTED)?.feed(bytes);
        Ok(())
    })())
}

/// End the text: `*out` is its class, probability and class name. The next
/// text needs `lstm_classifier_start` again.
///
/// # Safety
/// `c` as in `lstm_classifier_start`; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lstm_classifier_finish(c: *mut lstm_classifier, out: *mut lstm_prediction) -> lstm_status {
    done((|| {
        if out.is_null() {
            return Err(LSTM_ERR_NULL_ARGUMENT);
        }
        // SAFETY: the contract on `c`.
        let s = unsafe { classifier(c) }?;
        let p = s.clf.resume(&mut s.state).ok_or(LSTM_ERR_NOT_STARTED)?.finish();
        let prediction = lstm_prediction {
            class_index: p.class as u16,
            probability_q15: p.probability.0.max(0) as u16,
            label: p.label.as_ptr().cast(),
            label_len: p.label.len(),
        };
        // SAFETY: `out` is non-NULL and writable (the contract).
        unsafe { out.write(prediction) };
        Ok(())
    })())
}

/// Write the line the CLI prints for `p` (`0.9731 positive`) into `buf`,
/// NUL-terminated and cut to `buf_len - 1` bytes; returns the line's
/// length without the NUL (more than `buf_len - 1`: it was cut). `buf`
/// may be NULL when `buf_len` is 0, to ask the length; a NULL `p` is the
/// empty line.
///
/// # Safety
/// `p` is NULL or a prediction from `lstm_classifier_finish` whose model is
/// still there; `buf` is NULL or `buf_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn lstm_prediction_format(
    p: *const lstm_prediction,
    buf: *mut core::ffi::c_char,
    buf_len: usize,
) -> usize {
    let mut line = runtime::heapless::String::<96>::new();
    // SAFETY: the contract on `p`.
    if let Some(p) = unsafe { p.as_ref() } {
        let label: &[u8] = if p.label.is_null() {
            &[]
        } else {
            // SAFETY: the label of a prediction from `finish`: in the model.
            unsafe { core::slice::from_raw_parts(p.label.cast::<u8>(), p.label_len) }
        };
        let probability = Probability(p.probability_q15.min(32_767) as i16);
        // Class names are at most 64 bytes of UTF-8: the line fits.
        let _ = write!(line, "{probability} {}", core::str::from_utf8(label).unwrap_or("?"));
    }
    let len = line.len();
    if !buf.is_null() && buf_len > 0 {
        let n = len.min(buf_len - 1);
        // SAFETY: `buf` holds `buf_len > n` writable bytes (the contract).
        unsafe {
            core::ptr::copy_nonoverlapping(line.as_ptr(), buf.cast::<u8>(), n);
            buf.add(n).write(0);
        }
    }
    len
}

/// A language model of this build's capacities over `model`.
fn open_charlm(model: &'static [u8]) -> Result<CharLm<'static, LM_E, LM_H, LM_L, LM_V>, lstm_status> {
    CharLm::<LM_E, LM_H, LM_L, LM_V>::from_bytes(model).map_err(status)
}

/// Open a character language model over `model` (read in place; it must
/// outlive the storage) in `storage`, with the sampler's seed,
/// temperature (Q8.8: 256 = 1.0, 0 = the most likely) and top-k (0 = all);
/// `*out` is its handle, at the reset state.
///
/// # Safety
/// As `lstm_classifier_open`.
#[no_mangle]
pub unsafe extern "C" fn lstm_charlm_open(
    storage: *mut c_void,
    storage_len: usize,
    model: *const u8,
    model_len: usize,
    seed: u64,
    temperature_q8_8: u16,
    top_k: u16,
    out: *mut *mut lstm_charlm,
) -> lstm_status {
    done((|| {
        if out.is_null() {
            return Err(LSTM_ERR_NULL_ARGUMENT);
        }
        let p = check_storage(storage, storage_len, CHARLM_STORAGE_BYTES)?;
        // SAFETY: the contract on `model`.
        let lm = open_charlm(unsafe { model_bytes(model, model_len) }?)?;
        let value = LmStorage {
            magic: CHARLM_MAGIC,
            lm,
            state: CharLmState::new(),
            sampler: Sampler::new(seed, temperature_q8_8, top_k),
        };
        // SAFETY: `p` was checked for the language model's storage bytes;
        // `out` is non-NULL and writable (the contract).
        unsafe { place(p, value, out) };
        Ok(())
    })())
}

/// Feed a prime (bytes outside the model's charset are skipped).
///
/// # Safety
/// `g` is NULL or a handle from `lstm_charlm_open`; `text` is NULL (with
/// `len` 0) or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn lstm_charlm_prime(g: *mut lstm_charlm, text: *const u8, len: usize) -> lstm_status {
    done((|| {
        // SAFETY: the contract on `g`.
        let s = unsafe { charlm(g) }?;
        // SAFETY: the contract on `text`.
        let bytes = unsafe { text_bytes(text, len) }?;
        s.lm.prime(&mut s.state, bytes);
        Ok(())
    })())
}

/// Sample the next byte into `*out_byte` and feed it back (before any
/// prime, from the reset state).
///
/// # Safety
/// `g` as in `lstm_charlm_prime`; `out_byte` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lstm_charlm_next(g: *mut lstm_charlm, out_byte: *mut u8) -> lstm_status {
    done((|| {
        if out_byte.is_null() {
            return Err(LSTM_ERR_NULL_ARGUMENT);
        }
        // SAFETY: the contract on `g`.
        let s = unsafe { charlm(g) }?;
        let b = s.lm.next_byte(&mut s.state, &mut s.sampler);
        // SAFETY: `out_byte` is non-NULL and writable (the contract).
        unsafe { out_byte.write(b) };
        Ok(())
    })())
}

/// The storage a classifier over `model` needs with this build's
/// capacities (`LSTM_CLASSIFIER_STORAGE_BYTES`), in `*bytes`; or a negative
/// status if the model is not valid or exceeds them.
///
/// # Safety
/// `model` is NULL or `model_len` readable bytes; `bytes` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn lstm_classifier_storage_size(
    model: *const u8,
    model_len: usize,
    bytes: *mut usize,
) -> lstm_status {
    done((|| {
        if bytes.is_null() {
            return Err(LSTM_ERR_NULL_ARGUMENT);
        }
        // SAFETY: the contract on `model` (only read during this call).
        open_classifier(unsafe { model_bytes(model, model_len) }?)?;
        // SAFETY: `bytes` is non-NULL and writable (the contract).
        unsafe { bytes.write(CLASSIFIER_STORAGE_BYTES) };
        Ok(())
    })())
}

/// The storage a language model over `model` needs with this build's
/// capacities (`LSTM_CHARLM_STORAGE_BYTES`), in `*bytes`; or a negative
/// status if the model is not valid or exceeds them.
///
/// # Safety
/// As `lstm_classifier_storage_size`.
#[no_mangle]
pub unsafe extern "C" fn lstm_charlm_storage_size(
    model: *const u8,
    model_len: usize,
    bytes: *mut usize,
) -> lstm_status {
    done((|| {
        if bytes.is_null() {
            return Err(LSTM_ERR_NULL_ARGUMENT);
        }
        // SAFETY: the contract on `model` (only read during this call).
        open_charlm(unsafe { model_bytes(model, model_len) }?)?;
        // SAFETY: `bytes` is non-NULL and writable (the contract).
        unsafe { bytes.write(CHARLM_STORAGE_BYTES) };
        Ok(())
    })())
}

/// The unwinding personality that the host's precompiled `core` refers to
/// (it is built for unwinding; this library never unwinds: panics abort).
/// Made local with every other non-`lstm_*` symbol, so it cannot collide.
#[cfg(not(target_os = "none"))]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

extern "C" {
    /// The C library's `abort`.
    fn abort() -> !;
}

/// A panic (which the checks above leave no path to) aborts the C program;
/// the library is for C, so its handler is the only one.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: `abort` takes nothing and does not return.
    unsafe { abort() }
}
