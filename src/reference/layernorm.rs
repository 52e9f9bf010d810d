//! paper/model.md §2.3: LayerNorm without gain or bias, its exact Jacobian, and the backward in the form of the paper's
//! Eq. 2 with its three terms (scaling, centering, decorrelation) available separately.

use super::{row_dot, row_mean, row_pvar, scale_rows, sub_row_scalar, Mat, Vector};

/// Forward values kept for the backward.
#[derive(Clone, Debug, PartialEq)]
pub struct LnCache {
    /// `y = (z − μ)/σ` (B×n).
    pub y: Mat,
    /// Per-sample mean μ (B).
    pub mu: Vector,
    /// Per-sample population variance v (B).
    pub var: Vector,
    /// Per-sample `σ = sqrt(v + ε)` (B).
    pub sigma: Vector,
}

/// Row-wise LayerNorm `y = (z − mean z)/sqrt(pvar z + ε)`; variance two-pass.
pub fn ln_forward(z: &Mat, eps: f64) -> LnCache {
    let mu = row_mean(z);
    let var = row_pvar(z);
    let sigma = var.map(|v| (v + eps).sqrt());
    let y = scale_rows(&sub_row_scalar(z, &mu), &sigma.map(|s| 1.0 / s));
    LnCache { y, mu, var, sigma }
}

/// Exact Jacobian of one row, ε included: `J = (1/σ)(I − 11ᵀ/n − y yᵀ/n)` (n×n, symmetric).
pub fn ln_jacobian(y: &[f64], sigma: f64) -> Mat {
    let n = y.len();
    let nf = n as f64;
    Mat::from_fn(n, n, |i, j| {
        let kron = if i == j { 1.0 } else { 0.0 };
        (kron - 1.0 / nf - y[i] * y[j] / nf) / sigma
    })
}

/// The three terms of Eq. 2 before the common factor `1/σ`.
#[derive(Clone, Debug, PartialEq)]
pub struct LnTerms {
    /// The upstream error δ itself.
    pub delta: Mat,
    /// Centering: `−mean(δ)·1` per row.
    pub centering: Mat,
    /// Decorrelation: `−y·mean(δ∘y)` per row.
    pub decorrelation: Mat,
    /// Scaling: `1/σ` per row.
    pub inv_sigma: Vector,
}

impl LnTerms {
    /// `δ̂ = (1/σ)(δ + centering + decorrelation)`.
    pub fn combine(&self) -> Mat {
        scale_rows(
            &(&self.delta + &self.centering + &self.decorrelation),
            &self.inv_sigma,
        )
    }
}

/// The terms of Eq. 2 for upstream error `δ = ∂L/∂y` (B×n).
pub fn ln_backward_terms(delta: &Mat, cache: &LnCache) -> LnTerms {
    let n = delta.ncols() as f64;
    let mean_d = row_mean(delta);
    let mean_dy = row_dot(delta, &cache.y) / n;
    let centering = Mat::from_fn(delta.nrows(), delta.ncols(), |b, _| -mean_d[b]);
    let decorrelation = Mat::from_fn(delta.nrows(), delta.ncols(), |b, j| {
        -cache.y[(b, j)] * mean_dy[b]
    });
    LnTerms {
        delta: delta.clone(),
        centering,
        decorrelation,
        inv_sigma: cache.sigma.map(|s| 1.0 / s),
    }
}

/// Eq. 2: `δ̂ = ∂L/∂z = (1/σ)(δ − mean(δ)1 − y·mean(δ∘y))` (B×n).
pub fn ln_backward(delta: &Mat, cache: &LnCache) -> Mat {
    ln_backward_terms(delta, cache).combine()
}

/// The exact ŷ-component of the backward, `Σ_i δ̂_i y_i = (1/σ)·mean(δ∘y)·n·(1 − v/(v+ε))`, per row:
/// zero only when ε = 0 (paper/model.md §2.3 property).
pub fn ln_backward_y_component(delta: &Mat, cache: &LnCache, eps: f64) -> Vector {
    let n = delta.ncols() as f64;
    let mean_dy = row_dot(delta, &cache.y) / n;
    Vector::from_fn(delta.nrows(), |b, _| {
        let v = cache.var[b];
        mean_dy[b] * n * (1.0 - v / (v + eps)) / cache.sigma[b]
    })
}
