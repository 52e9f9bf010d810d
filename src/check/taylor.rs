//! The Taylor-remainder test (pyadjoint's `taylor_test`): for a scalar loss `L` with claimed gradient `g` at `x`
//! and a direction `u`, the first-order remainder `r(h) = |L(x + h u) − L(x) − h gᵀu|` is `O(h²)` if and only
//! if `gᵀu` is the true directional derivative, so its observed convergence rate `log2(r(h)/r(h/2))` is ≈ 2 for
//! a right gradient and ≈ 1 for a wrong one. The rate needs no tolerance on the gradient's magnitude; only the
//! steps whose remainder is drowned by roundoff are skipped. The zeroth-order remainder `|L(x+hu) − L(x)|`
//! (rate 1) is reported alongside for comparison.

use super::{axpy, dot, positive_step, same_len};
use crate::error::{Error, Result};
use crate::tolerance::{TAYLOR_MIN_RATE, TAYLOR_NOISE_FLOOR};

/// Outcome of a Taylor-remainder test.
#[derive(Clone, Debug, PartialEq)]
pub struct TaylorReport {
    /// Step sizes `h0, h0/2, h0/4, …` (`steps` entries).
    pub hs: Vec<f64>,
    /// First-order remainders `|L(x+hu) − L(x) − h gᵀu|`, one per step.
    pub remainders: Vec<f64>,
    /// Observed rates `log2(r(hᵢ)/r(hᵢ₊₁))` (`steps − 1` entries); ≈ 2 for a right gradient.
    pub rates: Vec<f64>,
    /// Zeroth-order remainders `|L(x+hu) − L(x)|`, one per step.
    pub zeroth_remainders: Vec<f64>,
    /// Observed rates of the zeroth-order remainders; ≈ 1 whenever `gᵀu ≠ 0`.
    pub zeroth_rates: Vec<f64>,
    /// Which rates are usable: both remainders above the noise floor
    /// `TAYLOR_NOISE_FLOOR × max |L|` over the evaluated points.
    pub usable: Vec<bool>,
    /// Smallest usable first-order rate (NaN if no rate is usable).
    pub min_rate: f64,
}

impl TaylorReport {
    /// True when at least 2 rates are usable and every usable rate is ≥ `TAYLOR_MIN_RATE`.
    /// A loss that is linear along `u` has remainders at roundoff only, hence no usable step, and does not
    /// pass: test such a function with [`super::directional_test`] instead.
    pub fn passes(&self) -> bool {
        self.usable.iter().filter(|&&b| b).count() >= 2 && self.min_rate >= TAYLOR_MIN_RATE
    }

    /// Number of usable rates.
    pub fn usable_steps(&self) -> usize {
        self.usable.iter().filter(|&&b| b).count()
    }
}

fn rates(r: &[f64]) -> Vec<f64> {
    r.windows(2).map(|w| (w[0] / w[1]).log2()).collect()
}

/// Taylor test of a claimed gradient `grad_at_x: n` of `loss` at `x: n` in direction `u: n`, with steps
/// `h0·2^{-k}`, `k = 0..steps`. Errors with `ShapeMismatch` on inconsistent lengths and `Invalid` for
/// `h0 ≤ 0` or `steps < 3` (two rates need three steps).
pub fn taylor_test(
    loss: impl Fn(&[f64]) -> f64,
    grad_at_x: &[f64],
    x: &[f64],
    u: &[f64],
    h0: f64,
    steps: usize,
) -> Result<TaylorReport> {
    positive_step("taylor_test: h0", h0)?;
    same_len("taylor_test: direction u vs x", x.len(), u.len())?;
    same_len("taylor_test: gradient vs x", x.len(), grad_at_x.len())?;
    if steps < 3 {
        return Err(Error::invalid(
            "taylor_test: steps",
            format!("need at least 3 steps for 2 rates, got {steps}"),
        ));
    }
    let l0 = loss(x);
    let slope = dot(grad_at_x, u);
    let mut scale = l0.abs();
    let (mut hs, mut remainders, mut zeroth_remainders) = (vec![], vec![], vec![]);
    for k in 0..steps {
        let h = h0 * 0.5_f64.powi(k as i32);
        let lh = loss(&axpy(x, h, u));
        scale = scale.max(lh.abs());
        hs.push(h);
        remainders.push((lh - l0 - h * slope).abs());
        zeroth_remainders.push((lh - l0).abs());
    }
    let floor = TAYLOR_NOISE_FLOOR * scale;
    let rates_1 = rates(&remainders);
    let usable: Vec<bool> = remainders
        .windows(2)
        .map(|w| w[0] > floor && w[1] > floor)
        .collect();
    let min_rate = rates_1
        .iter()
        .zip(&usable)
        .filter(|(_, &ok)| ok)
        .map(|(r, _)| *r)
        .fold(f64::NAN, |a, r| {
            // A NaN rate (0/0) among usable steps cannot happen (both remainders > floor ≥ 0).
            if a.is_nan() || r < a {
                r
            } else {
                a
            }
        });
    Ok(TaylorReport {
        hs,
        zeroth_rates: rates(&zeroth_remainders),
        remainders,
        rates: rates_1,
        zeroth_remainders,
        usable,
        min_rate,
    })
}

/// Taylor test of a backward `vjp` (`v: m ↦ vᵀJ: n`) of a vector function `f: ℝⁿ → ℝᵐ`: the scalar loss
/// `L(x) = vᵀ f(x)` with a (random) output weighting `v: m` has gradient `vjp(v)`, which is then tested as in
/// [`taylor_test`]. Errors as [`taylor_test`].
pub fn taylor_test_vector(
    f: impl Fn(&[f64]) -> Vec<f64>,
    vjp: impl Fn(&[f64]) -> Vec<f64>,
    x: &[f64],
    u: &[f64],
    v: &[f64],
    h0: f64,
    steps: usize,
) -> Result<TaylorReport> {
    let m = f(x).len();
    same_len("taylor_test_vector: output weighting v vs f(x)", m, v.len())?;
    let grad = vjp(v);
    // A length change of f at a perturbed point is reported as an infinite loss, which fails the test.
    let loss = |y: &[f64]| {
        let fy = f(y);
        if fy.len() == m {
            dot(v, &fy)
        } else {
            f64::INFINITY
        }
    };
    taylor_test(loss, &grad, x, u, h0, steps)
}
