//! Every tolerance used by a check or test, named, with the reason for its size. No bare `1e-4` in tests.
//!
//! Conventions: `EPS64 = 2.2e-16` and `EPS32 = 1.2e-7` are the unit roundoffs; a tolerance is roundoff ×
//! a conditioning factor (depth of the computation, size of reductions, division by small variances).
