//! The single integration-test binary: one module per area.

/// Gradient checkers (finite differences, dot-product test, Taylor rate) on functions with known derivatives.
mod check;
/// Rank statistics against SciPy reference values.
mod stats;
/// Theorem 1 (claim C3): unbiasedness, variance and rate of the fixed-random-inhibition mean estimator.
mod theorem;
