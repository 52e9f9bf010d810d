//! Every tolerance used by a check or test, named, with the reason for its size. No bare `1e-4` in tests.
//!
//! Conventions: `EPS64 = 2.2e-16` and `EPS32 = 1.2e-7` are the unit roundoffs; a tolerance is roundoff ×
//! a conditioning factor (depth of the computation, size of reductions, division by small variances).

/// Unit roundoff of f64.
pub const EPS64: f64 = f64::EPSILON;

/// Smallest accepted Taylor-remainder rate for a right gradient: the true rate is 2 up to an `O(h)` correction
/// (the cubic term), which stays below 0.2 once `h·|L'''|/|L''| ≲ 0.3`; a wrong gradient gives ≈ 1.
pub const TAYLOR_MIN_RATE: f64 = 1.8;

/// Largest Taylor rate that still counts as "first order" (wrong gradient) in tests: rate 1 plus the same `O(h)`
/// margin as `TAYLOR_MIN_RATE`.
pub const TAYLOR_WRONG_MAX_RATE: f64 = 1.2;

/// Taylor steps whose remainder is below this × max|L| are skipped: roundoff of `L(x+hu) − L(x)` is a few
/// `EPS64·|L|` ≈ 1e-15·|L|, so at 1e-11·|L| it perturbs a rate by < 1e-3.
pub const TAYLOR_NOISE_FLOOR: f64 = 1e-11;

/// Relative error (to ‖numeric‖_∞) of a 2-point central difference with `h = 1e-5` on O(1) smooth functions:
/// truncation `h²·|f'''|/6 ≈ 2e-11` plus roundoff `EPS64·|f|/h ≈ 2e-11`, × 100 for conditioning of the test
/// functions (|f'''| and |f| up to ~ 50).
pub const FD_REL: f64 = 1e-8;

/// Relative error of the 5-point stencil with `h = 1e-3`: truncation `h⁴·|f⁽⁵⁾|/30 ≈ 3e-14` plus roundoff
/// `1.5·EPS64·|f|/h ≈ 3e-13`, × 100 for conditioning.
pub const FD4_REL: f64 = 1e-10;

/// Relative error accepted by the dot-product / directional test (5-point stencil in t, `h = 1e-3`): as
/// `FD4_REL`, with `|f|` replaced by `|vᵀf|` over a ≤ 100-dim reduction (× 10).
pub const DOT_REL: f64 = 1e-9;

/// Smallest relative error that a deliberately wrong derivative (one entry off by O(1), or scaled by 1.01)
/// must show in the dot test: a 1% scale error gives exactly 1e-2; an O(1) wrong entry is diluted by at most
/// ~n = 20 entries of the random projection, so ≥ 1e-3 leaves a factor 10 of slack.
pub const DOT_WRONG_MIN_REL: f64 = 1e-3;

/// Relative agreement with hard-coded SciPy p-values and statistics: both use the double-precision normal
/// tail (`erfc`), accurate to a few ULP; 1e-9 allows for different `erfc` implementations in the far tail.
pub const SCIPY_REL: f64 = 1e-9;

/// False-alarm rate of each two-sided z-bound in the Monte-Carlo tests of Theorem 1 (fixed seeds, so a test
/// either always passes or always fails; this sets how unlikely the chosen seed's failure would have been).
pub const MC_FALSE_ALARM: f64 = 1e-6;
