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
    /// runtime (computed by its own copy of SplitMix64's finalizer).
    #[test]
    fn the_mix_is_splitmix64s() {
        let old = |seed: u64, tag: u64, index: u64| {
            let mut z = seed ^ tag.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ index.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        for (s, t, i) in [(0, 0, 0), (1, 2, 3), (u64::MAX, 7, 1 << 40), (42, 5, 9)] {
            assert_eq!(super::mix(s, t, i), old(s, t, i));
        }
    }
}
