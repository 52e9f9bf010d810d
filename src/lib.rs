//! # inorm
//!
//! Reference implementation and verification suite for *Inhibitory normalization of error signals improves
//! learning in neural circuits* (Eyono, Levenstein, Ghosh, Cornford, Richards).
#![deny(missing_docs)]

pub mod backend;
pub mod check;
pub mod data;
pub mod error;
pub mod experiment;
pub mod fast;
pub mod init;
pub mod interop;
pub mod model;
pub mod reference;
pub mod rng;
pub mod stats;
/// proptest strategies for the hard cases of the reference proofs (constant rows, |mean| ≫ std, tiny widths,
/// Dale-constrained weights with exact zeros, small networks of every preset).
pub mod testing;
pub mod theorem;
pub mod tolerance;
pub mod train;

pub use error::{Error, Result};
