//! Theorem 1 (paper/model.md §9): fixed random inhibition estimates the mean. With i.i.d. positive weights `w` and
//! normalized weights `w̃ = w/Σw`, the pooled signal `P_n = ⟨w̃, δ⟩` converges a.s. to `δ̄_n`; the error
//! `e_n = P_n − δ̄_n` is exactly unbiased, has the exact variance `(n²/(n−1))·Var(w̃₁)·s_δ²` and the asymptotic
//! variance `(CV² s_δ²/n)(1 + (3CV² − 2γ₁CV)/n)`. This module holds the estimator, the closed forms and a
//! seeded Monte-Carlo helper; `tests/theorem.rs` checks claim C3 with it, and `paper/derivations/theorem1.md`
//! derives the formulas.

use crate::error::{Error, Result};
use crate::rng::{SeedRng, Stream};

fn check_lengths(op: &str, w: &[f64], delta: &[f64]) -> Result<()> {
    if w.len() != delta.len() {
        return Err(Error::ShapeMismatch {
            op: op.to_string(),
            expected: format!("w of length {} (= delta)", delta.len()),
            got: format!("length {}", w.len()),
        });
    }
    if w.is_empty() {
        return Err(Error::invalid(op, "need at least one weight"));
    }
    Ok(())
}

/// Pooled inhibitory signal `P_n = ⟨w̃, δ⟩` with `w̃ = w/Σw` (paper/model.md §9). `w`, `delta`: n each, n ≥ 1;
/// `Σw` must be finite and > 0 (else `Invalid`).
pub fn pooled(w: &[f64], delta: &[f64]) -> Result<f64> {
    check_lengths("pooled", w, delta)?;
    let s: f64 = w.iter().sum();
    if !(s.is_finite() && s > 0.0) {
        return Err(Error::invalid(
            "pooled: w",
            format!("sum of weights must be finite and > 0, got {s}"),
        ));
    }
    Ok(w.iter().zip(delta).map(|(a, d)| a * d).sum::<f64>() / s)
}

/// Estimator error `e_n = P_n − mean(δ)`. Errors as [`pooled`].
pub fn estimator_error(w: &[f64], delta: &[f64]) -> Result<f64> {
    let p = pooled(w, delta)?;
    Ok(p - delta.iter().sum::<f64>() / delta.len() as f64)
}

/// Population variance `s_δ² = (1/n)Σ(δᵢ − δ̄)²` (two-pass).
pub fn pvar(delta: &[f64]) -> f64 {
    if delta.is_empty() {
        return f64::NAN;
    }
    let n = delta.len() as f64;
    let m = delta.iter().sum::<f64>() / n;
    delta.iter().map(|d| (d - m) * (d - m)).sum::<f64>() / n
}

/// Exact error variance `Var e_n = (n²/(n−1))·Var(w̃₁)·s_δ²` (paper/model.md §9, from `Σw̃ᵢ = 1` and exchangeability).
/// Needs n ≥ 2 (else `Invalid`).
pub fn exact_error_variance(var_w_tilde_1: f64, n: usize, s_delta_sq: f64) -> Result<f64> {
    if n < 2 {
        return Err(Error::invalid(
            "exact_error_variance: n",
            format!("need n ≥ 2, got {n}"),
        ));
    }
    let nf = n as f64;
    Ok(nf * nf / (nf - 1.0) * var_w_tilde_1 * s_delta_sq)
}

/// Exact error variance `s_δ²/(n+1)` for Exp weights (`w̃ ~ Dirichlet(1,…,1)`, `Var w̃₁ = (n−1)/(n²(n+1))`).
pub fn dirichlet_error_variance(n: usize, s_delta_sq: f64) -> f64 {
    s_delta_sq / (n as f64 + 1.0)
}

/// Second-order asymptotic error variance `(CV² s_δ²/n)(1 + (3CV² − 2γ₁CV)/n)` (delta method, paper/model.md §9);
/// `cv2` = squared coefficient of variation of w, `skew` = its skewness γ₁. Needs n ≥ 1 (else `Invalid`).
pub fn asymptotic_error_variance(cv2: f64, skew: f64, n: usize, s_delta_sq: f64) -> Result<f64> {
    if n < 1 {
        return Err(Error::invalid("asymptotic_error_variance: n", "need n ≥ 1"));
    }
    let nf = n as f64;
    Ok(cv2 * s_delta_sq / nf * (1.0 + (3.0 * cv2 - 2.0 * skew * cv2.sqrt()) / nf))
}

/// Distribution of the fixed positive pooling weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightDist {
    /// Uniform on [0, 1) (the implementation's lateral weights): CV² = 1/3, γ₁ = 0.
    Uniform,
    /// Exp(1): CV² = 1, γ₁ = 2; normalized weights are Dirichlet(1, …, 1).
    Exponential,
    /// Lognormal `exp(s·ξ)`, ξ ~ N(0,1): CV² = e^{s²} − 1, γ₁ = (e^{s²} + 2)·sqrt(e^{s²} − 1).
    Lognormal {
        /// Standard deviation of the underlying normal.
        s: f64,
    },
}

impl WeightDist {
    /// One draw.
    pub fn draw(&self, rng: &mut SeedRng) -> f64 {
        match *self {
            WeightDist::Uniform => rng.uniform(),
            WeightDist::Exponential => rng.exponential(1.0),
            WeightDist::Lognormal { s } => rng.lognormal(0.0, s),
        }
    }

    /// Squared coefficient of variation `Var w / (E w)²`.
    pub fn cv2(&self) -> f64 {
        match *self {
            WeightDist::Uniform => 1.0 / 3.0,
            WeightDist::Exponential => 1.0,
            WeightDist::Lognormal { s } => (s * s).exp_m1(),
        }
    }

    /// Skewness γ₁ = E(w − μ)³ / σ³.
    pub fn skewness(&self) -> f64 {
        match *self {
            WeightDist::Uniform => 0.0,
            WeightDist::Exponential => 2.0,
            WeightDist::Lognormal { s } => ((s * s).exp() + 2.0) * (s * s).exp_m1().sqrt(),
        }
    }
}

/// Monte-Carlo estimates of the error distribution for fixed δ, over independent weight vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct McResult {
    /// Sample mean of `e_n`.
    pub mean_error: f64,
    /// Unbiased sample variance of `e_n`.
    pub var_error: f64,
    /// Estimate of `Var(w̃₁)`: the mean over draws and coordinates of `(w̃ᵢ − 1/n)²`, unbiased because
    /// `E w̃ᵢ = 1/n` exactly and all coordinates are exchangeable.
    pub var_w_tilde_1: f64,
    /// The errors `e_n`, one per draw.
    pub errors: Vec<f64>,
    /// Per draw, `(1/n)Σᵢ(w̃ᵢ − 1/n)²` (its mean is `var_w_tilde_1`).
    pub w_tilde_dev_sq: Vec<f64>,
}

/// `draws` independent weight vectors of length n = `delta.len()` from `dist`, drawn from
/// `SeedRng::new(seed, Stream::Test, 0)`; returns the error statistics. Needs n ≥ 1 and draws ≥ 2.
pub fn monte_carlo(dist: WeightDist, delta: &[f64], draws: usize, seed: u64) -> Result<McResult> {
    let n = delta.len();
    if n == 0 {
        return Err(Error::invalid(
            "monte_carlo: delta",
            "need at least one entry",
        ));
    }
    if draws < 2 {
        return Err(Error::invalid(
            "monte_carlo: draws",
            format!("need at least 2 draws, got {draws}"),
        ));
    }
    let nf = n as f64;
    let mean_delta = delta.iter().sum::<f64>() / nf;
    let mut rng = SeedRng::new(seed, Stream::Test, 0);
    let mut w = vec![0.0; n];
    let mut errors = Vec::with_capacity(draws);
    let mut w_tilde_dev_sq = Vec::with_capacity(draws);
    for _ in 0..draws {
        let mut s = 0.0;
        for wi in w.iter_mut() {
            *wi = dist.draw(&mut rng);
            s += *wi;
        }
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::invalid(
                "monte_carlo: weights",
                format!("drew a weight vector with sum {s}"),
            ));
        }
        // e_n = Σ (w̃ᵢ − 1/n) δᵢ, and (w̃ᵢ − 1/n)² for the Var(w̃₁) estimate, in one pass.
        let (mut num, mut dev) = (0.0, 0.0);
        for (wi, d) in w.iter().zip(delta) {
            let t = wi / s - 1.0 / nf;
            num += t * (d - mean_delta);
            dev += t * t;
        }
        errors.push(num);
        w_tilde_dev_sq.push(dev / nf);
    }
    let df = draws as f64;
    let mean_error = errors.iter().sum::<f64>() / df;
    let var_error = errors
        .iter()
        .map(|e| (e - mean_error) * (e - mean_error))
        .sum::<f64>()
        / (df - 1.0);
    let var_w_tilde_1 = w_tilde_dev_sq.iter().sum::<f64>() / df;
    Ok(McResult {
        mean_error,
        var_error,
        var_w_tilde_1,
        errors,
        w_tilde_dev_sq,
    })
}
