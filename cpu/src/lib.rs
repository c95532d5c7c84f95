//! CPU features, detected once and handed on as values: the one dispatch
//! layer of the runtime's and the trainer's SIMD kernels. No heap, no
//! `std` unless asked for.
//!
//! # The contract
//!
//! - A *token* ([`Avx2`], [`Avx2Fma`], [`Avx512F`]) is a zero-sized `Copy`
//!   value whose existence proves that the CPU running the process has a
//!   set of instruction-set extensions. Only detection (`Token::detect`)
//!   makes one, or `unsafe fn new_unchecked`, whose caller promises the
//!   features.
//! - A token proves every feature its kernels' `#[target_feature(enable
//!   = ...)]` turns on, *including the ones rustc implies*: enabling
//!   `avx2` also enables `avx` and SSE3 to SSE4.2, `fma` enables `avx`, and
//!   `avx512f` enables `avx2`, `fma` and `f16c` as well (`rustc --print cfg
//!   -C target-feature=+avx512f`). So [`Avx512F`] is only detected where
//!   all of those are, and it can be turned into the lower tokens
//!   ([`Avx512F::avx2_fma`]).
//! - A kernel compiled with `#[target_feature]` takes its token as an
//!   argument (or is reached only through a function that does), so it
//!   cannot be called without its features. Code generic over the tier
//!   runs inside [`Avx2::vectorize`] (and its twins): compiled with the
//!   token's features, so that the kernels inline into it.
//! - Detection asks the CPU once (`std::is_x86_feature_detected!`, then
//!   cached in an atomic) and only with the `std` feature (and in this
//!   crate's own tests), on x86-64, and
//!   not under Miri. Elsewhere (Cortex-M and every `no_std` build, other
//!   architectures, Miri) no token is ever made: `detect` is a constant
//!   `None` and callers run their portable code, unchanged.
//! - Tiers order the tokens: [`Tier::Portable`] < [`Tier::Avx2`] ([`Avx2`],
//!   [`Avx2Fma`]) < [`Tier::Avx512`] ([`Avx512F`]). [`set_max_tier`] caps,
//!   process-wide and from then on, which tokens detection hands out, so
//!   that a test or a benchmark can run a lower tier in the same process.
//!   The cap never makes a token the CPU lacks; tokens already made stay
//!   valid (the CPU still has the features). Set it between pieces of
//!   work, not while other threads detect.
//!
//! ```
//! /// The kernel: compiled for AVX2 where it runs inside `vectorize`, so
//! /// the token is both its proof and its switch.
//! #[inline(always)]
//! fn sum(simd: Option<cpu::Avx2>, x: &[i32]) -> i32 {
//!     // (an AVX2 intrinsic here would take `simd`'s token)
//!     x.iter().sum()
//! }
//!
//! let x = [1, 2, 3];
//! let total = match cpu::Avx2::detect() {
//!     Some(t) => t.vectorize(#[inline(always)] || sum(Some(t), &x)),
//!     None => sum(None, &x),
//! };
//! assert_eq!(total, 6);
//! // The portable path in the same run, for a test or a benchmark:
//! let old = cpu::set_max_tier(cpu::Tier::Portable);
//! assert!(cpu::Avx2::detect().is_none());
//! cpu::set_max_tier(old);
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

#[cfg(feature = "std")]
extern crate std;

use core::sync::atomic::{AtomicU8, Ordering};

/// A level of kernels, lowest first: a cap for [`set_max_tier`] and what
/// [`Tier::detect`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Tier {
    /// No token: the portable code (on Cortex-M4/M7, its DSP kernels).
    Portable = 0,
    /// [`Avx2`] and, where the CPU has FMA too, [`Avx2Fma`].
    Avx2 = 1,
    /// [`Avx512F`] (and the tokens below it).
    Avx512 = 2,
}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 3] = [Tier::Portable, Tier::Avx2, Tier::Avx512];

    /// The highest tier this CPU has, whatever the cap: [`Tier::Avx512`]
    /// where [`Avx512F`]'s features are, [`Tier::Avx2`] where [`Avx2`]'s
    /// are, else [`Tier::Portable`].
    pub fn detect() -> Tier {
        let found = found();
        if found & AVX512F != 0 {
            Tier::Avx512
        } else if found & AVX2 != 0 {
            Tier::Avx2
        } else {
            Tier::Portable
        }
    }

    /// The highest tier detection hands out now: [`Tier::detect`] capped
    /// by [`max_tier`].
    pub fn current() -> Tier {
        Tier::detect().min(max_tier())
    }

    /// The tiers this CPU has, lowest first (to compare them in one run).
    pub fn available() -> impl Iterator<Item = Tier> {
        let top = Tier::detect();
        Tier::ALL.into_iter().filter(move |&t| t <= top)
    }

    fn from_u8(v: u8) -> Tier {
        match v {
            0 => Tier::Portable,
            1 => Tier::Avx2,
            _ => Tier::Avx512,
        }
    }

    /// The feature bits a cap at this tier lets through.
    const fn mask(self) -> u8 {
        match self {
            Tier::Portable => 0,
            Tier::Avx2 => AVX2 | FMA,
            Tier::Avx512 => AVX2 | FMA | AVX512F,
        }
    }
}

/// Caps the tokens detection hands out from now on at `tier` (process-wide;
/// [`Tier::Avx512`], the default, caps nothing) and returns the cap it
/// replaces. For tests and benchmarks that compare tiers in one run; the
/// results of the project's kernels are the same bits at every tier.
pub fn set_max_tier(tier: Tier) -> Tier {
    // A load and a store, not a swap: `thumbv6m` has no read-modify-write.
    let old = max_tier();
    MAX.store(tier as u8, Ordering::Relaxed);
    STATE.store(KNOWN | (found() & tier.mask()), Ordering::Relaxed);
    old
}

/// The cap [`set_max_tier`] set ([`Tier::Avx512`] if none).
pub fn max_tier() -> Tier {
    Tier::from_u8(MAX.load(Ordering::Relaxed))
}

// Feature bits: what the CPU has (`FOUND`) and what detection hands out
// under the cap (`STATE`); `KNOWN` marks a value as computed.
const AVX2: u8 = 1;
const FMA: u8 = 2;
const AVX512F: u8 = 4;
const KNOWN: u8 = 0x80;

/// `KNOWN` and the bits of the CPU's features, once asked.
#[cfg(all(any(feature = "std", test), target_arch = "x86_64", not(miri)))]
static FOUND: AtomicU8 = AtomicU8::new(0);
/// `KNOWN` and the bits of `FOUND` that the cap lets through.
static STATE: AtomicU8 = AtomicU8::new(0);
/// The cap, a `Tier`.
static MAX: AtomicU8 = AtomicU8::new(Tier::Avx512 as u8);

/// The feature bits of this CPU (asked once).
#[inline(always)]
fn found() -> u8 {
    #[cfg(all(any(feature = "std", test), target_arch = "x86_64", not(miri)))]
    {
        let f = FOUND.load(Ordering::Relaxed);
        if f & KNOWN != 0 {
            f
        } else {
            probe()
        }
    }
    #[cfg(not(all(any(feature = "std", test), target_arch = "x86_64", not(miri))))]
    {
        0
    }
}

/// The feature bits detection hands out now: one load once known.
#[inline(always)]
fn handed_out() -> u8 {
    #[cfg(all(any(feature = "std", test), target_arch = "x86_64", not(miri)))]
    {
        let s = STATE.load(Ordering::Relaxed);
        if s & KNOWN != 0 {
            return s;
        }
        let s = KNOWN | (found() & max_tier().mask());
        STATE.store(s, Ordering::Relaxed);
        s
    }
    #[cfg(not(all(any(feature = "std", test), target_arch = "x86_64", not(miri))))]
    {
        0
    }
}

/// Asks the CPU (and the OS, for the registers' state) which features it
/// has: each token's bit is set only where every feature it proves is
/// there.
#[cfg(all(any(feature = "std", test), target_arch = "x86_64", not(miri)))]
#[cold]
fn probe() -> u8 {
    use std::is_x86_feature_detected as has;
    let mut f = KNOWN;
    // What `avx2` enables (and implies): AVX, SSE3 to SSE4.2.
    let avx2 = has!("avx2") && has!("avx") && has!("sse4.2") && has!("sse4.1") && has!("ssse3") && has!("sse3");
    if avx2 {
        f |= AVX2;
        if has!("fma") {
            f |= FMA;
            // `avx512f` implies `avx2`, `fma` and `f16c` in rustc.
            if has!("avx512f") && has!("f16c") {
                f |= AVX512F;
            }
        }
    }
    FOUND.store(f, Ordering::Relaxed);
    f
}

/// One token type: the struct, its detection, its unchecked constructor
/// and its `vectorize`.
macro_rules! token {
    ($(#[$doc:meta])* $name:ident, $bits:expr, $tier:expr, $features:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(());

        impl $name {
            /// The tier this token belongs to (the cap that still hands it out).
            pub const TIER: Tier = $tier;

            #[doc = concat!("The token if this CPU has `", $features, "` (and what rustc implies with them) and [`max_tier`] is at least [`Self::TIER`]; always `None` without the `std` feature, off x86-64 and under Miri.")]
            #[inline(always)]
            pub fn detect() -> Option<Self> {
                if handed_out() & ($bits) == ($bits) {
                    Some(Self(()))
                } else {
                    None
                }
            }

            /// The token, without asking the CPU.
            ///
            /// # Safety
            #[doc = concat!("The CPU that runs every use of the token (and of the tokens it converts to) must have `", $features, "` and the features rustc implies with them (see the crate's contract).")]
            #[inline(always)]
            pub const unsafe fn new_unchecked() -> Self {
                Self(())
            }

            #[doc = concat!("Runs `f` in a function compiled with `#[target_feature(enable = \"", $features, "\")]`: mark the closure `#[inline(always)]` (and what it calls `#[inline(always)]` or `#[inline]`), so that its body is compiled with those features and the kernels inline into it. Off x86-64 (where no token can be made) it just calls `f`.")]
            #[inline(always)]
            pub fn vectorize<R>(self, f: impl FnOnce() -> R) -> R {
                #[cfg(target_arch = "x86_64")]
                {
                    #[target_feature(enable = $features)]
                    #[inline]
                    fn with_features<R>(f: impl FnOnce() -> R) -> R {
                        f()
                    }
                    // SAFETY: `self` proves the CPU has the features.
                    unsafe { with_features(f) }
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    f()
                }
            }
        }
    };
}

token!(
    /// Proof that the CPU has AVX2 (and AVX, SSE3 to SSE4.2, which rustc
    /// enables with it): the runtime's integer kernels. Tier
    /// [`Tier::Avx2`].
    Avx2,
    AVX2,
    Tier::Avx2,
    "avx2"
);

token!(
    /// Proof that the CPU has AVX2 and FMA (and what they imply): the
    /// trainer's 6 x 16 f32 kernels. Tier [`Tier::Avx2`].
    Avx2Fma,
    AVX2 | FMA,
    Tier::Avx2,
    "avx2,fma"
);

token!(
    /// Proof that the CPU has AVX-512F *and* what rustc enables with
    /// `avx512f`: AVX2, FMA and F16C (so code compiled for it may use
    /// them; detection checks them all): the trainer's 12 x 32 f32
    /// kernels. Tier [`Tier::Avx512`].
    Avx512F,
    AVX2 | FMA | AVX512F,
    Tier::Avx512,
    "avx512f"
);

impl Avx2Fma {
    /// The AVX2 token (the features are a subset).
    #[inline(always)]
    pub fn avx2(self) -> Avx2 {
        Avx2(())
    }
}

impl Avx512F {
    /// The AVX2 and FMA token (detection checked them too).
    #[inline(always)]
    pub fn avx2_fma(self) -> Avx2Fma {
        Avx2Fma(())
    }

    /// The AVX2 token.
    #[inline(always)]
    pub fn avx2(self) -> Avx2 {
        Avx2(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Detection agrees with std's, tokens imply their features, and the
    /// cap hides the tiers above it and gives them back (one test: the cap
    /// is process-wide).
    #[test]
    fn detection_and_the_cap() {
        let top = Tier::detect();
        assert_eq!(max_tier(), Tier::Avx512);
        assert_eq!(Tier::current(), top);
        #[cfg(all(any(feature = "std", test), target_arch = "x86_64", not(miri)))]
        {
            assert_eq!(Avx2::detect().is_some(), std::is_x86_feature_detected!("avx2"));
            if Avx2Fma::detect().is_some() {
                assert!(std::is_x86_feature_detected!("fma"));
            }
            if Avx512F::detect().is_some() {
                assert!(std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma"));
            }
        }
        #[cfg(not(all(any(feature = "std", test), target_arch = "x86_64", not(miri))))]
        assert_eq!(top, Tier::Portable);
        assert_eq!(Avx2::detect().is_some(), top >= Tier::Avx2);
        assert_eq!(Avx512F::detect().is_some(), top >= Tier::Avx512);
        assert_eq!(Tier::available().last(), Some(top));

        assert_eq!(set_max_tier(Tier::Portable), Tier::Avx512);
        assert_eq!(Tier::current(), Tier::Portable);
        assert_eq!(Tier::detect(), top, "the cap does not change what the CPU has");
        assert!(Avx2::detect().is_none() && Avx2Fma::detect().is_none() && Avx512F::detect().is_none());
        set_max_tier(Tier::Avx2);
        assert!(Avx512F::detect().is_none());
        assert_eq!(Avx2::detect().is_some(), top >= Tier::Avx2);
        assert_eq!(set_max_tier(Tier::Avx512), Tier::Avx2);
        assert_eq!(Avx512F::detect().is_some(), top >= Tier::Avx512);
    }

    /// `vectorize` runs the closure and returns its value; code compiled
    /// inside it may use the features.
    #[test]
    fn vectorize_runs_the_closure() {
        if let Some(t) = Avx2::detect() {
            let v = [1u32, 2, 3, 4, 5, 6, 7, 8, 9];
            assert_eq!(
                t.vectorize(
                    #[inline(always)]
                    || v.iter().sum::<u32>()
                ),
                45
            );
        }
        if let Some(t) = Avx512F::detect() {
            assert_eq!(t.avx2_fma().avx2().vectorize(|| 7), 7);
            assert_eq!(t.vectorize(|| 8), 8);
        }
    }
}
