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
//! A training run (paper/model.md §6) of an I-Norm network with GradNorm on a small synthetic set shaped
//! like Fashion-MNIST ([`data::load`] reads the real one):
//!
//! ```
//! use inorm::data::synthetic;
//! use inorm::model::{GradNorm, Hyper, NetSpec, Preset};
//! use inorm::train::{train_run, RunStatus, TrainConfig};
//!
//! let (train, test) = (synthetic(64, 1), synthetic(32, 2));
//! let spec = NetSpec::new(Preset::INormGn(GradNorm::Full), 16);
//! // Learning rates η_E, η_IE, η_EI; luminance shift ε = 0.5.
//! let mut cfg = TrainConfig::new(spec, Hyper::sgd(0.05, 0.01, 0.001), 0.5);
//! cfg.epochs = 2;
//! let out = train_run(&cfg, &train, &test, &mut |_| {})?;
//! assert_eq!(out.result.status, RunStatus::Ok);
//! assert_eq!(out.result.history.len(), 2);
//! println!("test accuracy {:.1} %", out.result.final_metrics.test_acc);
//! # Ok::<(), inorm::Error>(())
//! ```
//!
//! The CLI's benchmark (`bench`), its backend case table (`devcheck`) and the test suite's fault switches
//! (`fault`) are public for the binary and the tests, and hidden from these docs.
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
#[doc(hidden)]
pub mod bench;
pub mod check;
pub mod data;
#[doc(hidden)]
pub mod devcheck;
pub mod error;
pub mod experiment;
pub mod fast;
#[doc(hidden)]
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
