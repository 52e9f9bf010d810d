//! Portable, explicitly seeded randomness.
//!
//! Every random draw in inorm comes from a [`SeedRng`]: ChaCha8 keyed by a `u64` seed and a named stream, so
//! that weights, lateral pooling weights, luminance offsets and shuffles draw from independent streams and a
//! change in one never shifts another. The distributions are the ecosystem's: `rand`'s uniform floats,
//! integers and shuffle, `rand_distr`'s ziggurat normal and exponential and its lognormal. ChaCha and these
//! algorithms are portable (the same values on every platform); `rand`/`rand_distr` may change values in a
//! new minor version (0.9 → 0.10), so the first draws of each distribution are pinned by the test
//! `rng::first_draws_are_pinned`: a dependency bump that changes any value fails loudly instead of
//! silently changing every initialization and shift.
//!
//! candle-core depends on an older `rand`: no RNG type crosses that boundary, only `Vec<f32/f64>`.

use rand::distr::{Distribution, Uniform};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rand_distr::{Exp1, StandardNormal};

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

/// A ChaCha8 generator with the distributions inorm needs. It is also a [`RngCore`], so any `rand` or
/// `rand_distr` distribution can sample from it.
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

    /// Uniform on [0, 1) with 53 random bits (`rand`'s `StandardUniform`: the top 53 bits of one `u64`).
    pub fn uniform(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// Uniform on [lo, hi) (`rand`'s `Uniform<f64>`), one `u64` per draw. A degenerate range (`lo = hi`,
    /// e.g. ε = 0) returns `lo`, still consuming one draw so that stream positions do not depend on the
    /// bounds; bounds `rand` rejects (infinite, `lo > hi`) give `lo + (hi − lo)·u`. Never panics.
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        match Uniform::new(lo, hi) {
            Ok(d) => d.sample(&mut self.0),
            Err(_) => {
                let u = self.uniform();
                if lo == hi {
                    lo
                } else {
                    lo + (hi - lo) * u
                }
            }
        }
    }

    /// Standard normal (`rand_distr`'s ziggurat `StandardNormal`).
    pub fn normal(&mut self) -> f64 {
        self.0.sample(StandardNormal)
    }

    /// Exponential with the given scale (mean = std = `scale`): `scale · Exp1` (`rand_distr`'s ziggurat).
    pub fn exponential(&mut self, scale: f64) -> f64 {
        scale * self.0.sample::<f64, _>(Exp1)
    }

    /// Lognormal `exp(mu + s·ξ)`, ξ = [`SeedRng::normal`]: the same values as `rand_distr::LogNormal::new(mu,
    /// s)` (tested), written out so that parameters it rejects (s < 0) never panic.
    pub fn lognormal(&mut self, mu: f64, s: f64) -> f64 {
        (mu + s * self.normal()).exp()
    }

    /// Uniform integer in `0..n` (n > 0), exactly uniform (`rand`'s `Uniform<u64>`, by rejection).
    pub fn below(&mut self, n: u64) -> u64 {
        Uniform::new(0, n)
            .expect("below(0): the range 0..0 is empty")
            .sample(&mut self.0)
    }

    /// Uniform random permutation in place (`rand`'s Fisher–Yates `SliceRandom::shuffle`).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        v.shuffle(&mut self.0);
    }
}

impl RngCore for SeedRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst)
    }
}
