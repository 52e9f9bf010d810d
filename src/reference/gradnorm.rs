//! paper/model.md §2.7: the GradNorm operator, identity in the forward pass, a replacement of the incoming error in the
//! backward pass. Not the gradient of any function, so it is checked against its formula and against the
//! LayerNorm Jacobian terms instead of finite differences.

use super::{row_dot, row_mean, row_pvar, scale_rows, sub_row_scalar, Mat, Vector};
use crate::error::{Error, Result};
use crate::model::{GradNorm, GN_EPS};

/// Forward: the identity (returns a copy of `z`, bit-identical).
pub fn gradnorm_forward(z: &Mat) -> Mat {
    z.clone()
}

/// `s_z = sqrt(pvar(z) + ε)` per row, from the forward input z itself.
pub fn gradnorm_scale(z: &Mat) -> Vector {
    row_pvar(z).map(|v| (v + GN_EPS).sqrt())
}

/// Backward `∂L/∂z` for upstream `γ` (B×n) and forward input `z` (B×n):
///
/// | variant | backward |
/// |---|---|
/// | off | `γ` |
/// | full | `(γ − mean(γ)1 − z⟨γ,z⟩/n)/s_z` (with `eq2_exact`: `(γ − mean(γ)1 − ŷ·mean(γ∘ŷ))/s_z`, `ŷ = (z − mean z)/s_z`) |
/// | center | `γ − mean(γ)1` |
/// | scale | `γ/s_z` |
/// | decorrelate | `γ − z⟨γ,z⟩/n` |
/// | lateral | `γ − ⟨ω,γ⟩1` |
///
/// `lateral` must be given (length n) for the lateral variant.
pub fn gradnorm_backward(
    variant: GradNorm,
    gamma: &Mat,
    z: &Mat,
    lateral: Option<&Vector>,
    eq2_exact: bool,
) -> Result<Mat> {
    if gamma.shape() != z.shape() {
        return Err(Error::ShapeMismatch {
            op: "gradnorm_backward".into(),
            expected: format!("γ with the shape of z {:?}", z.shape()),
            got: format!("{:?}", gamma.shape()),
        });
    }
    let n = z.ncols() as f64;
    Ok(match variant {
        GradNorm::Off => gamma.clone(),
        GradNorm::Center => sub_row_scalar(gamma, &row_mean(gamma)),
        GradNorm::Scale => scale_rows(gamma, &gradnorm_scale(z).map(|s| 1.0 / s)),
        GradNorm::Decorrelate => gamma - scale_rows(z, &(row_dot(gamma, z) / n)),
        GradNorm::Full => {
            let s = gradnorm_scale(z);
            let centered = sub_row_scalar(gamma, &row_mean(gamma));
            let decor = if eq2_exact {
                let y_hat = scale_rows(&sub_row_scalar(z, &row_mean(z)), &s.map(|v| 1.0 / v));
                scale_rows(&y_hat, &(row_dot(gamma, &y_hat) / n))
            } else {
                scale_rows(z, &(row_dot(gamma, z) / n))
            };
            scale_rows(&(centered - decor), &s.map(|v| 1.0 / v))
        }
        GradNorm::Lateral => {
            let w = lateral.ok_or_else(|| {
                Error::invalid(
                    "lateral weights",
                    "GradNorm lateral needs the fixed weights ω",
                )
            })?;
            if w.len() != z.ncols() {
                return Err(Error::ShapeMismatch {
                    op: "gradnorm_backward(lateral)".into(),
                    expected: format!("ω of length {}", z.ncols()),
                    got: format!("{}", w.len()),
                });
            }
            sub_row_scalar(gamma, &(gamma * w))
        }
    })
}
