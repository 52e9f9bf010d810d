//! paper/model.md §14: the authors' GPU numerics — every layer as CUDA float16 autocast computes it, with no
//! loss scaling — on the f64 oracle, with the f16 roundings written out at exactly the points §14.2 lists.
//!
//! Between the rounding points everything is exact (f64), where PyTorch computes in f32: the oracle and the
//! fast path's f16 mode ([`crate::fast`]) therefore agree except where an f32-versus-f64 difference moves a
//! value across an f16 rounding boundary (§14.4).
//!
//! | paper/model.md | what | function |
//! |---|---|---|
//! | §14.1 | one f16 rounding; an autocast matmul | [`r16`], [`round16`], [`mm16`] |
//! | §14.2 | E / EI layer (and the output layer) | [`ei16_effective`], [`linear16_forward`], [`linear16_backward`], [`ei16_backward`] |
//! | §14.2 | I-Norm layer, its local loss and task backward | [`inorm16_forward`], [`local16_grads`], [`inorm16_task_backward`] |
//! | §14.2 | subtractive-only I-Norm | [`inorm_sub16_forward`], [`local_sub16_grads`] |
//! | §14.3 | the SGD step as the no-op scaler applies it | [`super::optim::sgd_step_autocast`] |

use half::f16;

use super::inorm::{local_loss, local_loss_grad_u, INormCache, INormParams, LocalGrads};
use super::inorm_sub::{local_loss_sub, INormSubCache};
use super::{add_row, col_sums, row_mean, Mat, Vector};
use crate::model::INORM_EPS;

/// One f16 rounding (paper/model.md §14.1): round to nearest even; ±∞ from 65520 up (the largest finite f16 is
/// 65504); gradual underflow below 2⁻¹⁴ ≈ 6.1e-5 in steps of 2⁻²⁴ ≈ 6e-8; 0 below 2⁻²⁵; NaN stays NaN.
pub fn r16(v: f64) -> f64 {
    f16::from_f64(v).to_f64()
}

/// [`r16`] of every element.
pub fn round16(m: &Mat) -> Mat {
    m.map(r16)
}

/// An autocast matmul `A·B` (paper/model.md §14.1): f16-rounded operands, exact accumulation, an f16-rounded
/// result.
pub fn mm16(a: &Mat, b: &Mat) -> Mat {
    round16(&(round16(a) * round16(b)))
}

/// `H = X Wᵀ` as `torch.matmul(x, W.T)` under autocast: f16 (B×n).
pub fn linear16_forward(x: &Mat, w: &Mat) -> Mat {
    mm16(x, &w.transpose())
}

/// Gradients through `H = X Wᵀ` under autocast from the f32 error `Δ = ∂L/∂(f32(H) + …)`: the error is cast
/// to H's f16 (`Δ_H = r(Δ)`), then `∂W = r(Δ_Hᵀ r(X))` and `∂X = r(Δ_H r(W))`, each cast back to f32 exactly.
/// Returns (`∂W`, `∂X`).
pub fn linear16_backward(x: &Mat, w: &Mat, delta: &Mat) -> (Mat, Mat) {
    let d_h = round16(delta);
    (mm16(&d_h.transpose(), x), mm16(&d_h, w))
}

/// The EI layer's effective matrix as the authors' `W` property computes it under autocast:
/// `W = W_EE − f32(r(r(W_EI) r(W_IE)))` (f32, n×m).
pub fn ei16_effective(w_ee: &Mat, w_ie: &Mat, w_ei: &Mat) -> Mat {
    w_ee - mm16(w_ei, w_ie)
}

/// `Z = f32(X Wᵀ in f16) + 1bᵀ` (f32): the forward of an E layer (W = W_EE) and, with `W` from
/// [`ei16_effective`], of an EI layer.
pub fn layer16_forward(x: &Mat, w: &Mat, b: &Vector) -> Mat {
    let mut z = linear16_forward(x, w);
    add_row(&mut z, b);
    z
}

/// Gradients of an EI layer under autocast from `Δ = ∂L/∂Z` (f32): `∂b = Δᵀ1` (f32, never rounded);
/// `∂W = r(r(Δ)ᵀ r(X))` = `∂W_EE`; the f16 product P = W_EI W_IE gets `∂P = r(−∂W)`, hence
/// `∂W_EI = r(∂P r(W_IE)ᵀ)` and `∂W_IE = r(r(W_EI)ᵀ ∂P)`; `∂X = r(r(Δ) r(W))` through the effective matrix.
pub fn ei16_backward(
    x: &Mat,
    w_eff: &Mat,
    w_ie: &Mat,
    w_ei: &Mat,
    delta: &Mat,
) -> super::ei::EiGrads {
    let (g, dx) = linear16_backward(x, w_eff, delta);
    let d_p = round16(&-&g);
    super::ei::EiGrads {
        w_ie: mm16(&w_ei.transpose(), &d_p),
        w_ei: mm16(&d_p, &w_ie.transpose()),
        b: col_sums(delta),
        x: dx,
        w_ee: g,
    }
}

/// I-Norm forward under autocast (paper/model.md §14.2): `A = f32(r(X W_EEᵀ)) + 1bᵀ`; `H_S = r(X W_IEᵀ)`,
/// `S = r(H_S W_EIᵀ)`; `R = r(X D_IEᵀ)`, `Q = f32(R)²` (pow runs in f32); `V = r(r(Q) r(D_EI)ᵀ)` (an |R| above
/// ≈ 256 makes r(Q) infinite); `Dn = r(sqrt(r(V + ε_d)))`; `Z = (A − f32(S)) ⊘ f32(Dn)` (f32). The cache holds
/// those values under the names of [`INormCache`].
pub fn inorm16_forward(x: &Mat, p: INormParams<'_>) -> INormCache {
    let a = layer16_forward(x, p.w_ee, p.b);
    let h_s = linear16_forward(x, p.w_ie);
    let s = linear16_forward(&h_s, p.w_ei);
    let r = linear16_forward(x, p.d_ie);
    let q = r.component_mul(&r);
    let v = linear16_forward(&q, p.d_ei);
    let dn = v.map(|t| r16(r16(t + INORM_EPS).sqrt()));
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

/// Local-loss gradients under autocast (paper/model.md §14.2), the autograd chain of the authors' layer with
/// its casts: `G = ∂L/∂U` (f32); `∂Dn = r(−G∘U⊘Dn)`, `∂S = r(−G⊘Dn)`; `∂H_S = r(∂S r(W_EI))`,
/// `∂W_IE = r(∂H_Sᵀ r(X))`; `∂V = r(∂Dn ⊘ r(2Dn))` (sqrt's backward in f16); `∂r(Q) = r(∂V r(D_EI))`;
/// `∂R = r(2R∘∂r(Q))` (pow's backward in f32, then the cast to R's f16); `∂D_IE = r(∂Rᵀ r(X))`. With
/// `train_inhib_out`: `∂W_EI = r(∂Sᵀ H_S)`, `∂D_EI = r(∂Vᵀ r(Q))`. `LocalGrads::s` and `::r` hold ∂S and ∂R.
pub fn local16_grads(x: &Mat, p: INormParams<'_>, c: &INormCache, lambda: f64) -> LocalGrads {
    let u = &c.z;
    let g = local_loss_grad_u(u, lambda);
    let d_dn = round16(&-(g.component_mul(u)).component_div(&c.dn));
    let d_s = round16(&-g.component_div(&c.dn));
    let d_h = mm16(&d_s, p.w_ei);
    let two_dn = round16(&(&c.dn * 2.0));
    let d_v = round16(&d_dn.component_div(&two_dn));
    let d_q = mm16(&d_v, p.d_ei);
    let d_r = round16(&(c.r.component_mul(&d_q) * 2.0));
    LocalGrads {
        loss: local_loss(u, lambda),
        w_ie: mm16(&d_h.transpose(), x),
        w_ei: mm16(&d_s.transpose(), &c.h_s),
        d_ie: mm16(&d_r.transpose(), x),
        d_ei: mm16(&d_v.transpose(), &c.q),
        s: d_s,
        r: d_r,
    }
}

/// Task backward of an I-Norm layer under autocast from `Δ_Z` (after GradNorm, f32): `Δ_A = Δ_Z ⊘ f32(Dn)`
/// (f32), `∂b = Δ_Aᵀ1`, then [`linear16_backward`] of `X W_EEᵀ` (the error cast to f16 first).
pub fn inorm16_task_backward(
    x: &Mat,
    w_ee: &Mat,
    dn: &Mat,
    delta_z: &Mat,
) -> super::inorm::INormTaskGrads {
    let delta_a = delta_z.component_div(dn);
    let (w, dx) = linear16_backward(x, w_ee, &delta_a);
    super::inorm::INormTaskGrads {
        w_ee: w,
        b: col_sums(&delta_a),
        x: dx,
    }
}

/// Subtractive-only I-Norm forward under autocast: `A = f32(r(X W_EEᵀ)) + 1bᵀ`, `H_S = r(X W_IEᵀ)`,
/// `S = r(H_S W_EIᵀ)`, `Z = A − f32(S)` (f32).
pub fn inorm_sub16_forward(
    x: &Mat,
    w_ee: &Mat,
    b: &Vector,
    w_ie: &Mat,
    w_ei: &Mat,
) -> INormSubCache {
    let a = layer16_forward(x, w_ee, b);
    let h_s = linear16_forward(x, w_ie);
    let s = linear16_forward(&h_s, w_ei);
    let z = &a - &s;
    INormSubCache { a, h_s, s, z }
}

/// Subtractive-only local-loss gradients under autocast: `G_bj = 2λ m_b/(Bn)` (f32), `∂S = r(−G)`,
/// `∂W_EI = r(∂Sᵀ r(H_S))`, `∂H_S = r(∂S r(W_EI))`, `∂W_IE = r(∂H_Sᵀ r(X))`. Returns (loss, ∂W_IE, ∂W_EI).
pub fn local_sub16_grads(x: &Mat, w_ei: &Mat, c: &INormSubCache, lambda: f64) -> (f64, Mat, Mat) {
    let u = &c.z;
    let m = row_mean(u);
    let k = 2.0 * lambda / (u.nrows() * u.ncols()) as f64;
    let d_s = Mat::from_fn(u.nrows(), u.ncols(), |b, _| r16(-k * m[b]));
    let d_h = mm16(&d_s, w_ei);
    (
        local_loss_sub(u, lambda),
        mm16(&d_h.transpose(), x),
        mm16(&d_s.transpose(), &c.h_s),
    )
}
