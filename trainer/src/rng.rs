//! Seeds: every random stream of a run (initialisation, shuffles, dropout,
//! carves) is derived from the run's seed, a stream tag and an index, so a
//! resumed run draws what an uninterrupted one would.

use runtime::charlm::{Rng, GOLDEN_GAMMA};

/// Mixes a seed with a stream tag and an index: SplitMix64's output
/// function (the runtime sampler's, [`Rng::mix`]) over the three.
pub fn mix(seed: u64, tag: u64, index: u64) -> u64 {
    Rng::mix(seed ^ tag.wrapping_mul(GOLDEN_GAMMA) ^ index.wrapping_mul(0xbf58_476d_1ce4_e5b9))
}

#[cfg(test)]
mod tests {
    /// The values the trainer drew before the mix was shared with the
    /// runtime (SplitMix64's finalizer over `seed ^ tag * gamma ^ index *
    /// c1`, computed independently in Python): seeded runs keep their
    /// results.
    #[test]
    fn the_mix_is_the_one_seeded_runs_were_made_with() {
        assert_eq!(super::mix(0, 0, 0), 0x0000000000000000);
        assert_eq!(super::mix(1, 2, 3), 0x1f8a9604d093bf0a);
        assert_eq!(super::mix(u64::MAX, 7, 1 << 40), 0x810dbf3086040fc4);
        assert_eq!(super::mix(42, 5, 9), 0x518bdddb60ac3599);
    }
}
