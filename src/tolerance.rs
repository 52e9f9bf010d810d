//! Every tolerance used by a check or test, named, with the reason for its size. No bare `1e-4` in tests.
//!
//! Conventions: `EPS64 = 2.2e-16` and `EPS32 = 1.2e-7` are the unit roundoffs; a tolerance is roundoff ×
//! a conditioning factor (depth of the computation, size of reductions, division by small variances).

/// z-score bound for Monte Carlo checks of a sample statistic against its exact expectation (tolerance =
/// `MC_Z` × the statistic's standard error): a correct implementation fails a given check with probability
/// below 6e-7, while a wrong distribution (e.g. a wrong range or variance) is many standard errors off.
pub const MC_Z: f64 = 5.0;

/// Largest rounding error when a value in [0, 1] computed in f64 is stored as f32: half an f32 ulp at 1,
/// 2⁻²⁵ ≈ 3.0e-8 (used when recovering luminance offsets from f32 pixels).
pub const F32_UNIT_STORE: f64 = 3.0e-8;
