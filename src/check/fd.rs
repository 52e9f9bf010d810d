//! Central finite differences (2nd- and 4th-order) for gradients and Jacobians (compared with an analytic
//! derivative by [`super::compare()`]). Truncation error of the 2-point stencil is `h²·f'''/6`, of the
//! 5-point stencil `h⁴·f⁽⁵⁾/30`; roundoff is `≈ EPS64·|f|/h` for both, so `h ≈ 1e-5` (2nd order) and
//! `h ≈ 1e-3` (4th order) balance the two for O(1) functions in f64.

use nalgebra::DMatrix;

use super::same_len;
use crate::error::Result;

/// Gradient of a scalar function by central differences `(f(x+h eᵢ) − f(x−h eᵢ)) / 2h`, one entry per input.
/// `x: n`, returns `n` entries; 2n evaluations of `f`.
pub fn gradient_fd(f: impl Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            xp[i] = x[i] + h;
            let fp = f(&xp);
            xp[i] = x[i] - h;
            let fm = f(&xp);
            xp[i] = x[i];
            (fp - fm) / (2.0 * h)
        })
        .collect()
}

/// Gradient by the 4th-order (5-point) central stencil
/// `(−f(x+2h) + 8f(x+h) − 8f(x−h) + f(x−2h)) / 12h`, for checks that need truncation error `O(h⁴)`.
/// `x: n`, returns `n` entries; 4n evaluations of `f`.
pub fn gradient_fd4(f: impl Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            let mut at = |t: f64| {
                xp[i] = x[i] + t;
                let v = f(&xp);
                xp[i] = x[i];
                v
            };
            let (f2, f1, fm1, fm2) = (at(2.0 * h), at(h), at(-h), at(-2.0 * h));
            (-f2 + 8.0 * f1 - 8.0 * fm1 + fm2) / (12.0 * h)
        })
        .collect()
}

/// Jacobian of a vector function by central differences: `m×n` with rows = outputs (m = `f(x).len()`) and
/// columns = inputs (n = `x.len()`). Errors with `ShapeMismatch` if `f` changes its output length at a perturbed
/// point.
pub fn jacobian_fd(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], h: f64) -> Result<DMatrix<f64>> {
    let m = f(x).len();
    let mut jac = DMatrix::zeros(m, x.len());
    let mut xp = x.to_vec();
    for j in 0..x.len() {
        xp[j] = x[j] + h;
        let fp = f(&xp);
        xp[j] = x[j] - h;
        let fm = f(&xp);
        xp[j] = x[j];
        same_len("jacobian_fd: output of f at x + h·e_j", m, fp.len())?;
        same_len("jacobian_fd: output of f at x − h·e_j", m, fm.len())?;
        for i in 0..m {
            jac[(i, j)] = (fp[i] - fm[i]) / (2.0 * h);
        }
    }
    Ok(jac)
}
