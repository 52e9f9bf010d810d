//! paper/model.md §2.2: the EI layer with linear subtractive feed-forward inhibition,
//! `H_I = X W_IEᵀ`, `Z = X W_EEᵀ − H_I W_EIᵀ + 1bᵀ = X Wᵀ + 1bᵀ` with `W = W_EE − W_EI W_IE`.

use super::{add_row, col_sums, Mat, Vector};

/// Effective matrix `W = W_EE − W_EI W_IE` (n×m).
pub fn ei_effective(w_ee: &Mat, w_ie: &Mat, w_ei: &Mat) -> Mat {
    w_ee - w_ei * w_ie
}

/// Forward through both pathways (not through the effective matrix, so the inhibitory current is explicit).
/// Shapes: `x: B×m`, `w_ee: n×m`, `w_ie: k×m`, `w_ei: n×k`, `b: n` → `B×n`.
pub fn ei_forward(x: &Mat, w_ee: &Mat, w_ie: &Mat, w_ei: &Mat, b: &Vector) -> Mat {
    let h_i = x * w_ie.transpose();
    let mut z = x * w_ee.transpose() - h_i * w_ei.transpose();
    add_row(&mut z, b);
    z
}

/// Gradients of an EI layer.
#[derive(Clone, Debug, PartialEq)]
pub struct EiGrads {
    /// `G = Δᵀ X`.
    pub w_ee: Mat,
    /// `−W_EIᵀ G` (k×m).
    pub w_ie: Mat,
    /// `−G W_IEᵀ` (n×k).
    pub w_ei: Mat,
    /// `Δᵀ 1`.
    pub b: Vector,
    /// `Δ W` through the effective matrix, inhibition included (B×m).
    pub x: Mat,
}

/// Backward with `Δ = ∂L/∂Z`.
pub fn ei_backward(x: &Mat, w_ee: &Mat, w_ie: &Mat, w_ei: &Mat, delta: &Mat) -> EiGrads {
    let g = delta.transpose() * x;
    EiGrads {
        w_ie: -(w_ei.transpose() * &g),
        w_ei: -(&g * w_ie.transpose()),
        b: col_sums(delta),
        x: delta * ei_effective(w_ee, w_ie, w_ei),
        w_ee: g,
    }
}
