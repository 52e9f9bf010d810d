//! paper/model.md §8.2–8.3: output and gradient alignment against LayerNorm, and the activity moments of a hidden
//! layer's pre-ReLU output. Diagnostics only: they never change training.

use super::gradnorm::gradnorm_backward;
use super::layernorm::{ln_backward, ln_forward};
use super::{relu, relu_mask, row_mean, row_pvar, sub_row_scalar, Mat, Vector};
use crate::error::Result;
use crate::model::{GradNorm, LN_EPS};

/// `⟨a,b⟩ / (max(‖a‖,1e-8)·max(‖b‖,1e-8))` over flattened values.
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-8);
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-8);
    dot / (na * nb)
}

/// `(μ̄, v̄)`: batch means of the per-sample unit mean and population variance of `z` (B×n).
pub fn moments(z: &Mat) -> (f64, f64) {
    let b = z.nrows() as f64;
    (row_mean(z).sum() / b, row_pvar(z).sum() / b)
}

/// Output alignment `cos(vec ReLU(LN(Z)), vec ReLU(Z))`.
pub fn output_alignment(z: &Mat) -> f64 {
    let y = ln_forward(z, LN_EPS).y;
    cosine(relu(&y).as_slice(), relu(z).as_slice())
}

/// The two surrogate gradients of W_EE compared by the gradient alignment (reference, own):
/// `((LN-backward(M_ref)) ⊘ d)ᵀ X` and `((GN-backward(M_own)) ⊘ d)ᵀ X`, `M_ref = 1[LN(Z)>0]`,
/// `M_own = 1[Z>0]`. For the lateral variant the reference error is the exactly centered `M_own`.
/// `dn` is the layer's denominator (I-Norm) or `None` (= 1).
pub fn alignment_gradients(
    x: &Mat,
    z: &Mat,
    dn: Option<&Mat>,
    variant: GradNorm,
    lateral: Option<&Vector>,
    eq2_exact: bool,
) -> Result<(Mat, Mat)> {
    let cache = ln_forward(z, LN_EPS);
    let m_own = relu_mask(z);
    let mut e_ref = if variant == GradNorm::Lateral {
        sub_row_scalar(&m_own, &row_mean(&m_own))
    } else {
        ln_backward(&relu_mask(&cache.y), &cache)
    };
    let mut e_own = gradnorm_backward(variant, &m_own, z, lateral, eq2_exact)?;
    if let Some(d) = dn {
        e_ref = e_ref.component_div(d);
        e_own = e_own.component_div(d);
    }
    Ok((e_ref.transpose() * x, e_own.transpose() * x))
}

/// Gradient alignment: the cosine of the two gradients of [`alignment_gradients`].
pub fn gradient_alignment(
    x: &Mat,
    z: &Mat,
    dn: Option<&Mat>,
    variant: GradNorm,
    lateral: Option<&Vector>,
    eq2_exact: bool,
) -> Result<f64> {
    let (g_ref, g_own) = alignment_gradients(x, z, dn, variant, lateral, eq2_exact)?;
    Ok(cosine(g_ref.as_slice(), g_own.as_slice()))
}
