//! Command-line arguments shared by `trainer charlm generate` and `cargo
//! xtask qemu generate` (feature `cli`): one definition, so the host and
//! the device are asked for a sample in the same words.

use runtime::Sampler;

/// What to generate, and how to sample it.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct SampleArgs {
    /// Text to start from.
    #[arg(long, default_value = "The ")]
    pub prime: String,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    pub len: usize,
    /// Sampling seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sampling temperature, 0 to 255 (0 = greedy); the device takes it in
    /// Q8.8, rounded to 1/256.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Sample among the k most likely characters (0 = all).
    #[arg(long, default_value_t = 5)]
    pub top_k: u16,
}

impl SampleArgs {
    /// The temperature in Q8.8 (256 = 1.0), or why it is out of range.
    pub fn temperature_q8(&self) -> Result<u16, String> {
        let t = self.temperature;
        if !(0.0..=255.0).contains(&t) {
            return Err(format!("--temperature must be in 0..=255, not {t}"));
        }
        Ok((t * 256.0).round() as u16)
    }

    /// The runtime's integer sampler for these arguments.
    pub fn sampler(&self) -> Result<Sampler, String> {
        Ok(Sampler::new(self.seed, self.temperature_q8()?, self.top_k))
    }
}
