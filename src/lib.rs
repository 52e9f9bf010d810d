//! # inorm
//!
//! Reference implementation and verification suite for *Inhibitory normalization of error signals improves
//! learning in neural circuits* (Eyono, Levenstein, Ghosh, Cornford, Richards).
//!
//! The paper trains Dale's-law excitatory–inhibitory MLPs on luminance-shifted Fashion-MNIST. Its claims:
//! - inhibition that normalizes activity (I-Norm) matches LayerNorm's activity statistics but not its
//!   learning;
//! - it does match LayerNorm once the back-propagated errors are normalized too (GradNorm);
//! - centering the errors is the part that matters;
//! - one inhibitory unit with fixed random weights can do that centering (Theorem 1).
//!
//! Which path to use:
//! - [`reference`](mod@reference): the nalgebra f64 oracle, one function per equation, ordered like the paper.
//!   It is proven against finite differences by `tests/reference`.
//! - [`fast`]: the candle path (f32 or f64, CPU or CUDA) that the experiments run on. It is cross-checked
//!   against the reference by `tests/fast`.
//!
//! Both implement [`model::Trainer`], and [`backend::make_trainer`] switches between them.
//!
//! Where each claim is proven:
//! - C1–C3: `tests/reference` and `tests/theorem`.
//! - C4–C16: [`experiment::claims`], gated in CI by `tests/claims.rs`.
//!
//! The paper's own runs: [`figures`] reads the authors' matplotlib SVG figures back into numbers, and
//! [`experiment::paper_runs`] holds the runs read from them (`paper/results/paper-runs/`), checks them
//! against the paper's printed statistics and puts them beside a sweep's in the report.
//!
//! `paper/claims.md` records, for each claim, the test that proves it and the measured effect, including the
//! claims that do not reproduce.
#![deny(missing_docs)]

pub mod backend;
pub mod bench;
pub mod check;
pub mod data;
pub mod devcheck;
pub mod error;
pub mod experiment;
pub mod fast;
pub mod fault;
pub mod figures;
pub mod init;
pub mod interop;
pub mod model;
pub mod reference;
pub mod rng;
pub mod stats;
/// proptest strategies for the hard cases of the reference proofs (constant rows, |mean| ≫ std, tiny widths,
/// Dale-constrained weights with exact zeros, small networks of every preset). Behind the `testing` feature
/// (`inorm = { version = "…", features = ["testing"] }`), so proptest is not in every user's build.
#[cfg(feature = "testing")]
pub mod testing;
pub mod theorem;
pub mod tolerance;
pub mod train;

pub use error::{Error, Result};
