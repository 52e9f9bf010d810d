//! # inorm
//!
//! Reference implementation and verification suite for *Inhibitory normalization of error signals improves
//! learning in neural circuits* (Eyono, Levenstein, Ghosh, Cornford, Richards).
#![deny(missing_docs)]

pub mod data;
pub mod error;
pub mod init;
pub mod model;
pub mod rng;
pub mod tolerance;

pub use error::{Error, Result};
