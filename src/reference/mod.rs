//! The f64 oracle: one function per equation of paper/model.md, ordered like the paper, written for clarity.
//!
//! Everything is batch-major nalgebra `DMatrix<f64>`: `x: B×m`, `z: B×n`, weights post × pre. Per-sample
//! statistics are taken over units (a row). The fast path and every experiment are checked against this.
//!
//! | paper/model.md | equation | function |
//! |---|---|---|
//! | §2.1 | E-only dense layer | [`dense::dense_forward`], [`dense::dense_backward`] |
//! | §2.2 | EI layer | [`ei::ei_forward`], [`ei::ei_backward`] |
//! | §2.3 | LayerNorm, Jacobian, Eq. 2 | [`layernorm::ln_forward`], [`layernorm::ln_jacobian`], [`layernorm::ln_backward`] |
//! | §2.5 | I-Norm layer and local loss | [`inorm::inorm_forward`], [`inorm::inorm_task_backward`], [`inorm::local_loss_grads`] |
//! | §2.6 | subtractive-only I-Norm | [`inorm_sub::inorm_sub_forward`], [`inorm_sub::local_loss_sub_grads`] |
//! | §2.7 | GradNorm | [`gradnorm::gradnorm_backward`] |
//! | §4 | cross-entropy with label smoothing | [`loss::cross_entropy`] |
//! | §6 | SGD groups, Dale clamp, one step | [`optim::sgd_step`], [`network::ReferenceNet`] |
//! | §8 | alignment, moments | [`metrics`] |

pub mod autocast;
pub mod dense;
pub mod ei;
pub mod gradnorm;
pub mod inorm;
pub mod inorm_sub;
pub mod layernorm;
pub mod loss;
pub mod metrics;
pub mod network;
pub mod optim;

pub use network::ReferenceNet;

use nalgebra::{DMatrix, DVector};

/// Dense f64 matrix (batch-major activations, post × pre weights).
pub type Mat = DMatrix<f64>;
/// Dense f64 column vector.
pub type Vector = DVector<f64>;

/// Per-row mean over units: `mean(z_b)` (length B).
pub fn row_mean(z: &Mat) -> Vector {
    DVector::from_iterator(z.nrows(), z.row_iter().map(|r| r.sum() / r.len() as f64))
}

/// Per-row population variance over units, two-pass (divisor n, never n−1).
pub fn row_pvar(z: &Mat) -> Vector {
    DVector::from_iterator(
        z.nrows(),
        z.row_iter().map(|r| {
            let n = r.len() as f64;
            let m = r.sum() / n;
            r.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n
        }),
    )
}

/// Per-row dot product `⟨a_b, c_b⟩` (length B).
pub fn row_dot(a: &Mat, c: &Mat) -> Vector {
    DVector::from_iterator(
        a.nrows(),
        a.row_iter().zip(c.row_iter()).map(|(x, y)| x.dot(&y)),
    )
}

/// Adds the row vector `b` (given as a length-n column) to every row of `z`.
pub fn add_row(z: &mut Mat, b: &Vector) {
    for mut row in z.row_iter_mut() {
        row += b.transpose();
    }
}

/// Scales row r of `z` by `s[r]`.
pub fn scale_rows(z: &Mat, s: &Vector) -> Mat {
    let mut out = z.clone();
    for (mut row, &f) in out.row_iter_mut().zip(s.iter()) {
        row *= f;
    }
    out
}

/// Subtracts `s[r]` from every entry of row r.
pub fn sub_row_scalar(z: &Mat, s: &Vector) -> Mat {
    let mut out = z.clone();
    for (mut row, &f) in out.row_iter_mut().zip(s.iter()) {
        row.add_scalar_mut(-f);
    }
    out
}

/// Column sums as a column vector (`Δᵀ1`, the bias gradient).
pub fn col_sums(z: &Mat) -> Vector {
    z.row_sum().transpose()
}

/// `1[z > 0]` elementwise (ReLU derivative, 0 at exactly 0).
pub fn relu_mask(z: &Mat) -> Mat {
    z.map(|v| if v > 0.0 { 1.0 } else { 0.0 })
}

/// `max(z, 0)` elementwise.
pub fn relu(z: &Mat) -> Mat {
    z.map(|v| v.max(0.0))
}
