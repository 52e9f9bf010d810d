//! paper/model.md §2.5: the I-Norm layer. Subtractive population `H_S = sg(X) W_IEᵀ`, `S = H_S W_EIᵀ`; divisive
//! population `R = sg(X) D_IEᵀ`, `Q = R∘R`, `V = Q D_EIᵀ`, `Dn = sqrt(V + ε_d)`; task output
//! `Z = (X W_EEᵀ + 1bᵀ − sg(S)) ⊘ sg(Dn)`; local loss on `U = (sg(A) − S) ⊘ Dn`.
//!
//! The detach map: the task loss reaches only W_EE, b and X (through W_EE alone); the local loss reaches only
//! the inhibitory parameters. The general (trainable) D_EI chain is implemented; with the frozen
//! `D_EI = 11ᵀ/n` every column of V is equal and Dn is a per-sample scalar.

use super::{row_mean, row_pvar, Mat, Vector};
use crate::model::INORM_EPS;

/// The parameters of one I-Norm layer.
#[derive(Clone, Copy, Debug)]
pub struct INormParams<'a> {
    /// W_EE (n×m).
    pub w_ee: &'a Mat,
    /// b (n).
    pub b: &'a Vector,
    /// W_IE (k×m).
    pub w_ie: &'a Mat,
    /// W_EI (n×k).
    pub w_ei: &'a Mat,
    /// D_IE (n×m).
    pub d_ie: &'a Mat,
    /// D_EI (n×n).
    pub d_ei: &'a Mat,
}

/// Everything the forward computes (B×· matrices).
#[derive(Clone, Debug, PartialEq)]
pub struct INormCache {
    /// Excitatory drive with bias `A = X W_EEᵀ + 1bᵀ`.
    pub a: Mat,
    /// Subtractive population activity `H_S` (B×k).
    pub h_s: Mat,
    /// Subtractive current `S` (B×n).
    pub s: Mat,
    /// Divisive drive `R` (B×n).
    pub r: Mat,
    /// Divisive activity `Q = R∘R`.
    pub q: Mat,
    /// Divisive current `V = Q D_EIᵀ`.
    pub v: Mat,
    /// Denominator `Dn = sqrt(V + ε_d)`.
    pub dn: Mat,
    /// Output `Z = (A − S) ⊘ Dn` (equal in value to U).
    pub z: Mat,
}

/// Forward of the I-Norm layer. `x: B×m` → cache with `z: B×n`.
pub fn inorm_forward(x: &Mat, p: INormParams<'_>) -> INormCache {
    let mut a = x * p.w_ee.transpose();
    super::add_row(&mut a, p.b);
    let h_s = x * p.w_ie.transpose();
    let s = &h_s * p.w_ei.transpose();
    let r = x * p.d_ie.transpose();
    let q = r.component_mul(&r);
    let v = &q * p.d_ei.transpose();
    let dn = v.map(|t| (t + INORM_EPS).sqrt());
    let z = (&a - &s).component_div(&dn);
    INormCache {
        a,
        h_s,
        s,
        r,
        q,
        v,
        dn,
        z,
    }
}

/// Task-pass gradients (S and Dn are constants).
#[derive(Clone, Debug, PartialEq)]
pub struct INormTaskGrads {
    /// `Δ_Aᵀ X`.
    pub w_ee: Mat,
    /// `Δ_Aᵀ 1`.
    pub b: Vector,
    /// `Δ_A W_EE` — only through W_EE (D14).
    pub x: Mat,
}

/// Task backward: `Δ_A = Δ_Z ⊘ Dn` with `Δ_Z` the error after GradNorm and `dn` the forward's denominator.
pub fn inorm_task_backward(x: &Mat, w_ee: &Mat, dn: &Mat, delta_z: &Mat) -> INormTaskGrads {
    let delta_a = delta_z.component_div(dn);
    INormTaskGrads {
        w_ee: delta_a.transpose() * x,
        b: super::col_sums(&delta_a),
        x: &delta_a * w_ee,
    }
}

/// Local loss `L_loc = λ·(1/B) Σ_b [m_b² + (v_b − 1)²]` on `u` (B×n), with m, v the per-sample mean and
/// population variance over units.
pub fn local_loss(u: &Mat, lambda: f64) -> f64 {
    let m = row_mean(u);
    let v = row_pvar(u);
    let bsz = u.nrows() as f64;
    lambda
        * m.iter()
            .zip(v.iter())
            .map(|(m, v)| m * m + (v - 1.0) * (v - 1.0))
            .sum::<f64>()
        / bsz
}

/// `G = ∂L_loc/∂U = (2λ/(Bn))·[m_b + 2(v_b − 1)(U_bj − m_b)]`.
pub fn local_loss_grad_u(u: &Mat, lambda: f64) -> Mat {
    let m = row_mean(u);
    let v = row_pvar(u);
    let c = 2.0 * lambda / (u.nrows() * u.ncols()) as f64;
    Mat::from_fn(u.nrows(), u.ncols(), |b, j| {
        c * (m[b] + 2.0 * (v[b] - 1.0) * (u[(b, j)] - m[b]))
    })
}

/// Local-loss gradients of the inhibitory parameters (and intermediate currents, for checks).
#[derive(Clone, Debug, PartialEq)]
pub struct LocalGrads {
    /// Value of the local loss.
    pub loss: f64,
    /// `∂L/∂W_IE = −W_EIᵀ (G⊘Dn)ᵀ X` (k×m).
    pub w_ie: Mat,
    /// `∂L/∂W_EI = −(G⊘Dn)ᵀ H_S` (n×k), used only when W_EI is trainable.
    pub w_ei: Mat,
    /// `∂L/∂D_IE = (∂L/∂R)ᵀ X` (n×m).
    pub d_ie: Mat,
    /// `∂L/∂D_EI = (∂L/∂V)ᵀ Q` (n×n), used only when D_EI is trainable.
    pub d_ei: Mat,
    /// `∂L/∂S = −G ⊘ Dn`.
    pub s: Mat,
    /// `∂L/∂R`, general chain.
    pub r: Mat,
}

/// Local loss and its gradients by the general chain of paper/model.md §2.5 (any D_EI):
/// `∂L/∂Dn = −G∘U⊘Dn`, `∂L/∂V = ∂L/∂Dn ⊘ (2Dn)`, `∂L/∂Q = (∂L/∂V) D_EI`, `∂L/∂R = 2R∘∂L/∂Q`.
pub fn local_loss_grads(
    x: &Mat,
    p: INormParams<'_>,
    cache: &INormCache,
    lambda: f64,
) -> LocalGrads {
    let u = &cache.z;
    let g = local_loss_grad_u(u, lambda);
    let g_over_d = g.component_div(&cache.dn);
    let d_s = -&g_over_d;
    let d_h = &d_s * p.w_ei;
    let d_dn = -(g.component_mul(u)).component_div(&cache.dn);
    let d_v = d_dn.component_div(&(&cache.dn * 2.0));
    let d_q = &d_v * p.d_ei;
    let d_r = (cache.r.component_mul(&d_q)) * 2.0;
    LocalGrads {
        loss: local_loss(u, lambda),
        w_ie: d_h.transpose() * x,
        w_ei: d_s.transpose() * &cache.h_s,
        d_ie: d_r.transpose() * x,
        d_ei: d_v.transpose() * &cache.q,
        s: d_s,
        r: d_r,
    }
}

/// Closed form of `∂L_loc/∂R` for the frozen uniform `D_EI = 11ᵀ/n`:
/// `∂L/∂R_bk = −R_bk c_b/(n d_b²)` with `c_b = Σ_j G_bj U_bj = (2λ/B)[m_b² + 2v_b(v_b − 1)]`.
pub fn local_loss_grad_r_uniform(cache: &INormCache, lambda: f64) -> Mat {
    let u = &cache.z;
    let (bsz, n) = (u.nrows() as f64, u.ncols() as f64);
    let m = row_mean(u);
    let v = row_pvar(u);
    Mat::from_fn(u.nrows(), u.ncols(), |b, k| {
        let c = 2.0 * lambda / bsz * (m[b] * m[b] + 2.0 * v[b] * (v[b] - 1.0));
        let d2 = cache.dn[(b, 0)] * cache.dn[(b, 0)];
        -cache.r[(b, k)] * c / (n * d2)
    })
}
