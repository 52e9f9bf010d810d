//! The random-direction dot-product test (JAX `check_grads` style): for a vector function `f` with Jacobian `J`
//! at `x` and a backward under test `vjp(v) = vᵀJ`, compare the directional derivative `vᵀ(J u)` obtained by
//! finite differences of `t ↦ vᵀ f(x + t u)` with `(vᵀJ)·u` from the backward. One scalar comparison checks
//! every entry of the backward against a random projection, so it scales to large layers where a full
//! Jacobian is too expensive.

use super::{axpy, dot, positive_step, same_len};
use crate::error::Result;

/// Outcome of a dot-product (or directional-derivative) test.
#[derive(Clone, Debug, PartialEq)]
pub struct DotReport {
    /// Directional derivative by the 4th-order central stencil in `t` (error `O(h⁴)`).
    pub fd: f64,
    /// The same quantity from the derivative under test.
    pub analytic: f64,
    /// `|fd − analytic| / max(|fd|, |analytic|, tiny)`.
    pub rel_err: f64,
}

impl DotReport {
    fn new(fd: f64, analytic: f64) -> Self {
        let scale = fd.abs().max(analytic.abs()).max(f64::MIN_POSITIVE);
        let rel_err = (fd - analytic).abs() / scale;
        DotReport {
            fd,
            analytic,
            rel_err: if rel_err.is_nan() {
                f64::INFINITY
            } else {
                rel_err
            },
        }
    }
}

/// 5-point central derivative of `g` at `t = 0`.
fn deriv4(g: impl Fn(f64) -> f64, h: f64) -> f64 {
    (-g(2.0 * h) + 8.0 * g(h) - 8.0 * g(-h) + g(-2.0 * h)) / (12.0 * h)
}

/// Dot-product test of a backward `vjp` (`v: m ↦ vᵀJ: n`) of `f: ℝⁿ → ℝᵐ` at `x: n`, in the input
/// direction `u: n` and output weighting `v: m`. Errors with `ShapeMismatch` on inconsistent lengths and
/// `Invalid` for a step `h ≤ 0`.
pub fn dot_product_test(
    f: impl Fn(&[f64]) -> Vec<f64>,
    vjp: impl Fn(&[f64]) -> Vec<f64>,
    x: &[f64],
    u: &[f64],
    v: &[f64],
    h: f64,
) -> Result<DotReport> {
    positive_step("dot_product_test: h", h)?;
    same_len("dot_product_test: direction u vs x", x.len(), u.len())?;
    let m = f(x).len();
    same_len("dot_product_test: output weighting v vs f(x)", m, v.len())?;
    let vt_j = vjp(v);
    same_len("dot_product_test: vjp(v) vs x", x.len(), vt_j.len())?;
    for t in [2.0 * h, h, -h, -2.0 * h] {
        same_len(
            "dot_product_test: f at a perturbed point",
            m,
            f(&axpy(x, t, u)).len(),
        )?;
    }
    let fd = deriv4(|t| dot(v, &f(&axpy(x, t, u))), h);
    Ok(DotReport::new(fd, dot(&vt_j, u)))
}

/// Directional-derivative test of a claimed gradient `grad: n` of a scalar `loss` at `x: n` in direction
/// `u: n`: finite differences of `t ↦ loss(x + t u)` against `gradᵀu`. Errors as [`dot_product_test`].
pub fn directional_test(
    loss: impl Fn(&[f64]) -> f64,
    grad: &[f64],
    x: &[f64],
    u: &[f64],
    h: f64,
) -> Result<DotReport> {
    positive_step("directional_test: h", h)?;
    same_len("directional_test: direction u vs x", x.len(), u.len())?;
    same_len("directional_test: gradient vs x", x.len(), grad.len())?;
    let fd = deriv4(|t| loss(&axpy(x, t, u)), h);
    Ok(DotReport::new(fd, dot(grad, u)))
}
