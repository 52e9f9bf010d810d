//! paper/model.md §2.1: the plain dense (E-only) layer `Z = X W_EEᵀ + 1bᵀ` and its backward.

use super::{add_row, col_sums, Mat, Vector};

/// Forward `Z = X Wᵀ + 1bᵀ`. Shapes: `x: B×m`, `w: n×m`, `b: n` → `B×n`.
pub fn dense_forward(x: &Mat, w: &Mat, b: &Vector) -> Mat {
    let mut z = x * w.transpose();
    add_row(&mut z, b);
    z
}

/// Gradients of a dense layer.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseGrads {
    /// `∂L/∂W = Δᵀ X` (n×m).
    pub w: Mat,
    /// `∂L/∂b = Δᵀ 1` (n).
    pub b: Vector,
    /// `∂L/∂X = Δ W` (B×m).
    pub x: Mat,
}

/// Backward with `Δ = ∂L/∂Z` (B×n).
pub fn dense_backward(x: &Mat, w: &Mat, delta: &Mat) -> DenseGrads {
    DenseGrads {
        w: delta.transpose() * x,
        b: col_sums(delta),
        x: delta * w,
    }
}
