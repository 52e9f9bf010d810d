//! Portable, explicitly seeded randomness.
//!
//! Every random draw in inorm comes from a [`SeedRng`]: ChaCha8 keyed by a `u64` seed and a named stream, so
//! that weights, lateral pooling weights, luminance offsets and shuffles draw from independent streams and a
//! change in one never shifts another. The distributions are written out here (not taken from `rand_distr`),
//! so a result file's seed reproduces the same numbers on every platform and every version of our
//! dependencies.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Named random streams. A stream id is mixed into the ChaCha stream, so draws never overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// Weight initialization (§5).
    Init = 1,
    /// Fixed lateral-inhibition pooling weights ω (§2.7).
    Lateral = 2,
    /// Per-image luminance offsets of the training set (§7).
    TrainShift = 3,
    /// Per-image luminance offsets of evaluation passes (§7).
    EvalShift = 4,
    /// Epoch shuffles (only with `--shuffle`).
    Shuffle = 5,
    /// Test-only draws (property tests, Monte Carlo checks).
    Test = 6,
}

/// A ChaCha8 generator with the distributions inorm needs.
#[derive(Clone, Debug)]
pub struct SeedRng(ChaCha8Rng);

impl SeedRng {
    /// Generator for `seed` on stream `stream`; `sub` separates several draws of the same kind
    /// (layer index, epoch, ...).
    pub fn new(seed: u64, stream: Stream, sub: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream((stream as u64) << 32 | (sub & 0xffff_ffff));
        SeedRng(rng)
    }

    /// Next raw 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform on [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on [lo, hi).
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal by the Box–Muller transform (one value per call; the second is discarded so that the
    /// stream position depends only on the number of calls).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Exponential with the given scale (mean = std = `scale`).
    pub fn exponential(&mut self, scale: f64) -> f64 {
        -scale * (1.0 - self.uniform()).ln()
    }

    /// Lognormal `exp(mu + s·ξ)`, ξ standard normal.
    pub fn lognormal(&mut self, mu: f64, s: f64) -> f64 {
        (mu + s * self.normal()).exp()
    }

    /// Uniform integer in `0..n` (n > 0), by rejection so it is exactly uniform.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.0.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}
