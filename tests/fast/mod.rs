//! The fast (candle) path against the f64 reference: one case table for every backend, property tests,
//! 50-step trajectories, Gram-matrix alignment, errors and insta snapshots.

mod cases;
pub(crate) mod common;
mod props;
mod snapshots;
mod trajectory;
mod units;
