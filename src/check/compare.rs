//! The one norm-wise comparison of two arrays used by the gradient checkers, the tests and the benches:
//! `max_i |a_i − b_i| / max(‖b‖_∞, floor)`, the error relative to the scale of the reference `b`, so that
//! entries that are exactly 0 (or tiny next to the largest one) do not blow up the ratio. Element-wise
//! comparisons (each value against its own magnitude) use the `approx` crate in the tests instead.

use super::same_len;
use crate::error::Result;

/// Result of comparing `got` with a reference, entry by entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// `max_i |got_i − want_i|` (infinite if any difference is NaN).
    pub max_abs: f64,
    /// `max_abs / max(‖want‖_∞, floor)`: the error relative to the scale of the reference.
    pub max_rel: f64,
    /// Index of the first entry with the largest absolute difference (0 for empty inputs).
    pub worst_index: usize,
}

/// Compares `analytic` with `numeric` (same length, else `ShapeMismatch`), relative to `‖numeric‖_∞`
/// (floor: the smallest positive f64). A NaN difference counts as an infinite one, so a comparison
/// containing NaN always fails a tolerance check.
pub fn compare(analytic: &[f64], numeric: &[f64]) -> Result<Comparison> {
    compare_with_floor(analytic, numeric, f64::MIN_POSITIVE)
}

/// [`compare()`] with the scale `max(‖want‖_∞, floor)`: `floor` = 1 compares a scalar loss absolutely when it
/// is below 1, `floor` = a second tensor's max-abs compares against a common scale. Lengths must match
/// (else `ShapeMismatch`); NaN differences count as infinite.
pub fn compare_with_floor(got: &[f64], want: &[f64], floor: f64) -> Result<Comparison> {
    same_len("compare: got vs reference", want.len(), got.len())?;
    let mut max_abs = 0.0_f64;
    let mut worst_index = 0;
    let mut scale = 0.0_f64;
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let d = (a - b).abs();
        let d = if d.is_nan() { f64::INFINITY } else { d };
        if d > max_abs {
            max_abs = d;
            worst_index = i;
        }
        scale = scale.max(b.abs());
    }
    let max_rel = max_abs / scale.max(floor);
    Ok(Comparison {
        max_abs,
        max_rel,
        worst_index,
    })
}
