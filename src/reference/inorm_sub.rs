//! paper/model.md §2.6: the subtractive-only I-Norm layer (Fig 3b): `Z = A − sg(S)`; local loss on the mean only,
//! `L = λ·(1/B) Σ_b m_b²` with `U = sg(A) − S`; W_IE and W_EI both trained by it.

use super::{add_row, row_mean, Mat, Vector};

/// Forward values.
#[derive(Clone, Debug, PartialEq)]
pub struct INormSubCache {
    /// `A = X W_EEᵀ + 1bᵀ`.
    pub a: Mat,
    /// `H_S = X W_IEᵀ` (B×k).
    pub h_s: Mat,
    /// `S = H_S W_EIᵀ`.
    pub s: Mat,
    /// `Z = A − S`.
    pub z: Mat,
}

/// Forward. `x: B×m`, `w_ee: n×m`, `w_ie: k×m`, `w_ei: n×k`.
pub fn inorm_sub_forward(x: &Mat, w_ee: &Mat, b: &Vector, w_ie: &Mat, w_ei: &Mat) -> INormSubCache {
    let mut a = x * w_ee.transpose();
    add_row(&mut a, b);
    let h_s = x * w_ie.transpose();
    let s = &h_s * w_ei.transpose();
    let z = &a - &s;
    INormSubCache { a, h_s, s, z }
}

/// Local loss value `λ·(1/B) Σ_b mean(U_b)²`.
pub fn local_loss_sub(u: &Mat, lambda: f64) -> f64 {
    lambda * row_mean(u).iter().map(|m| m * m).sum::<f64>() / u.nrows() as f64
}

/// Local-loss gradients of W_IE and W_EI: with `G_bj = 2λ m_b/(Bn)` and `∂L/∂S = −G`:
/// `∂/∂W_IE = −W_EIᵀ Gᵀ X`, `∂/∂W_EI = −Gᵀ H_S`. Returns (loss, ∂W_IE, ∂W_EI).
pub fn local_loss_sub_grads(
    x: &Mat,
    w_ei: &Mat,
    cache: &INormSubCache,
    lambda: f64,
) -> (f64, Mat, Mat) {
    let u = &cache.z;
    let m = row_mean(u);
    let c = 2.0 * lambda / (u.nrows() * u.ncols()) as f64;
    let g = Mat::from_fn(u.nrows(), u.ncols(), |b, _| c * m[b]);
    let w_ie = -(w_ei.transpose() * g.transpose() * x);
    let w_ei_grad = -(g.transpose() * &cache.h_s);
    (local_loss_sub(u, lambda), w_ie, w_ei_grad)
}
