//! The per-layer math of [`LockstepNet`] (paper/model.md §2–§3, §6.2 and §8): each hidden layer's forward
//! with the I-Norm local loss back-propagated inside it, its hand-derived backward, the output layer, the
//! whole forward/backward pass and the alignment and moment diagnostics, all batched over the K networks.

use std::collections::BTreeMap;

use candle_core::{DType, Tensor, D};

use super::{hname, LockstepNet};
use crate::error::{Error, Result};
use crate::fast::ops::{
    cosines, cross_entropy, gradnorm_backward, gram_cosines, ln_backward, local_loss_grad,
    positive_mask, row_means64, row_sums64, sub_rows, Ce, RowStats,
};
use crate::fault::{self, Fault};
use crate::model::{GradNorm, HiddenKind, HIDDEN_LAYERS, INORM_EPS, LN_EPS};

/// The I-Norm denominator of one layer's forward pass.
#[derive(Clone, Debug)]
pub(super) enum Denom {
    /// Frozen uniform `D_EI = c·11ᵀ`: a per-sample scalar `d_b` (`K×B×1` in the network's dtype, and f64).
    Row(Tensor, Tensor),
    /// General `D_EI`: `Dn = sqrt(Q D_EIᵀ + ε_d)` (`K×B×n`).
    Full(Tensor),
}

impl Denom {
    pub(super) fn tensor(&self) -> &Tensor {
        match self {
            Denom::Row(t, _) | Denom::Full(t) => t,
        }
    }
}

/// What a hidden layer's forward keeps for its backward and diagnostics.
pub(super) struct Hidden {
    /// Layer input (`K×B×m`).
    pub(super) x: Tensor,
    /// Z as defined for the metrics (§8.2): raw pre-activation for E/EI, normalized output for I-Norm.
    pub(super) z: Tensor,
    /// Row statistics of z (f64, two-pass).
    pub(super) zs: RowStats,
    /// What goes into the ReLU: LN(Z) for LN layers, Z otherwise.
    pub(super) out: Tensor,
    /// `1/σ` per row of the layer's LayerNorm (LN layers; f64 column).
    pub(super) ln_inv_sigma: Option<Tensor>,
    /// I-Norm denominator.
    pub(super) dn: Option<Denom>,
    /// EI layers: inhibitory activity `H_I = X W_IEᵀ` (`K×B×k`).
    pub(super) h_i: Option<Tensor>,
    /// `ReLU(out)`.
    pub(super) h: Tensor,
    /// f16-autocast mode (paper/model.md §14): the layer input rounded to f16.
    pub(super) x16: Option<Tensor>,
    /// f16-autocast mode: the f16 matrix the task path multiplies by (`r(W_EE)`, or the effective EI matrix).
    pub(super) w16: Option<Tensor>,
}

/// Local-loss value (`K×1×1`, f64) and gradients of one layer.
pub(super) type Local = (Tensor, Vec<(String, Tensor)>);

/// What [`LockstepNet::hidden_layers`] returns: the layers, each one's local loss (`K×1×1`, f64) and the
/// local-loss gradients by parameter name.
pub(super) type HiddenPass = (Vec<Hidden>, Vec<Tensor>, BTreeMap<String, Tensor>);

/// Everything one forward and backward pass produces, still on the device.
pub(super) struct Pass {
    /// Per network: mean task loss, correct count, local loss of each hidden layer and, with diagnostics,
    /// (output alignment, gradient alignment, μ̄, v̄) of each hidden layer (`K×1×S`, f64).
    pub(super) summary: Tensor,
    pub(super) logits: Tensor,
    pub(super) hidden: Vec<Hidden>,
    pub(super) grads: BTreeMap<String, Tensor>,
    pub(super) local_grads: BTreeMap<String, Tensor>,
}

impl LockstepNet {
    /// GradNorm variant applied by hidden layers (sub layers use `sub_grad_norm`).
    pub(super) fn layer_grad_norm(&self) -> GradNorm {
        match self.spec.preset.hidden_kind() {
            HiddenKind::INorm => self.spec.preset.grad_norm(),
            HiddenKind::INormSub => self.spec.sub_grad_norm,
            _ => GradNorm::Off,
        }
    }

    /// `x Wᵀ` for a post × pre weight (batched over networks).
    pub(super) fn lin(x: &Tensor, w: &Tensor) -> Result<Tensor> {
        Ok(x.matmul(&w.t()?)?)
    }

    /// Hidden layer `i` forward; with `local`, the local loss and its gradients are computed here from the
    /// current parameters (paper/model.md §2.5: back-propagated inside the forward pass).
    pub(super) fn hidden_forward(
        &self,
        i: usize,
        x: Tensor,
        local: bool,
    ) -> Result<(Hidden, Option<Local>)> {
        let spec = &self.spec;
        let w_ee = self.p(&hname(i, "w_ee"))?;
        let bias = self.p(&hname(i, "bias"))?;
        let a = Self::lin(&x, w_ee)?.broadcast_add(bias)?;
        let mut h_i = None;
        let mut dn = None;
        let mut loc = None;
        let mut inorm_parts = None;
        let z = match spec.preset.hidden_kind() {
            HiddenKind::E => a,
            HiddenKind::Ei => {
                let hi = Self::lin(&x, self.p(&hname(i, "w_ie"))?)?;
                let z = a.sub(&Self::lin(&hi, self.p(&hname(i, "w_ei"))?)?)?;
                h_i = Some(hi);
                z
            }
            HiddenKind::INorm => {
                let w_ei = self.p(&hname(i, "w_ei"))?;
                let d_ei = self.p(&hname(i, "d_ei"))?;
                let h_s = Self::lin(&x, self.p(&hname(i, "w_ie"))?)?;
                let s = Self::lin(&h_s, w_ei)?;
                let r = Self::lin(&x, self.p(&hname(i, "d_ie"))?)?;
                let q = r.sqr()?;
                let den = match &self.uniform_d_ei[i] {
                    Some(c) => {
                        let d = row_sums64(&q)?
                            .broadcast_mul(c)?
                            .affine(1.0, INORM_EPS)?
                            .sqrt()?;
                        Denom::Row(d.to_dtype(self.dtype)?, d)
                    }
                    None => Denom::Full(Self::lin(&q, d_ei)?.affine(1.0, INORM_EPS)?.sqrt()?),
                };
                let z = a.sub(&s)?.broadcast_div(den.tensor())?;
                inorm_parts = Some((h_s, r, q));
                dn = Some(den);
                z
            }
            HiddenKind::INormSub => {
                let w_ei = self.p(&hname(i, "w_ei"))?;
                let h_s = Self::lin(&x, self.p(&hname(i, "w_ie"))?)?;
                let z = a.sub(&Self::lin(&h_s, w_ei)?)?;
                if local {
                    loc = Some(self.inorm_sub_local(i, &x, &z, &h_s)?);
                }
                z
            }
        };
        let zs = RowStats::of(&z)?;
        if let (true, Some((h_s, r, q)), Some(den)) = (local, &inorm_parts, &dn) {
            loc = Some(self.inorm_local(i, &x, &z, &zs, h_s, r, q, den)?);
        }
        Ok((self.hidden_of(x, z, zs, dn, h_i, None)?, loc))
    }

    /// A hidden layer's pass from its input `x`, its output `z` with row statistics `zs`, and what its kind
    /// keeps: LayerNorm (LN networks) and the ReLU; `f16` holds the f16-autocast mode's operands (layer
    /// input and multiplied matrix, both f16).
    pub(super) fn hidden_of(
        &self,
        x: Tensor,
        z: Tensor,
        zs: RowStats,
        dn: Option<Denom>,
        h_i: Option<Tensor>,
        f16: Option<(Tensor, Tensor)>,
    ) -> Result<Hidden> {
        let (out, ln_inv_sigma) = if self.spec.preset.layer_norm() {
            (
                zs.normalized(LN_EPS, self.dtype)?,
                Some(zs.inv_std(LN_EPS)?),
            )
        } else {
            (z.clone(), None)
        };
        let h = out.relu()?;
        let (x16, w16) = f16.unzip();
        Ok(Hidden {
            x,
            z,
            zs,
            out,
            ln_inv_sigma,
            dn,
            h_i,
            h,
            x16,
            w16,
        })
    }

    /// I-Norm local loss and gradients (paper/model.md §2.5) on `U` (= z in value).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn inorm_local(
        &self,
        i: usize,
        x: &Tensor,
        u: &Tensor,
        us: &RowStats,
        h_s: &Tensor,
        r: &Tensor,
        q: &Tensor,
        den: &Denom,
    ) -> Result<Local> {
        let lambda = self.spec.lambda;
        let (g, loss) = local_loss_grad(us, lambda, self.dtype)?;
        let w_ei = self.p(&hname(i, "w_ei"))?;
        let g_over_d = g.broadcast_div(den.tensor())?;
        // ∂L/∂S = −G⊘Dn; ∂L/∂H_S = (∂L/∂S) W_EI; ∂L/∂W_IE = (∂L/∂H_S)ᵀ X.
        let d_h = g_over_d.matmul(w_ei)?.neg()?;
        let mut out = vec![(hname(i, "w_ie"), d_h.t()?.matmul(x)?)];
        match (den, &self.uniform_d_ei[i]) {
            (Denom::Row(_, d), Some(c)) => {
                // Closed form for D_EI = c·11ᵀ: ∂L/∂R_bk = −R_bk·c·c_b/d_b², c_b = Σ_j G_bj U_bj
                // = (2λ/B)[m_b² + 2 v_b (v_b − 1)].
                let bsz = us.mean.dim(D::Minus2)? as f64;
                let cb = us
                    .mean
                    .sqr()?
                    .add(&us.var.mul(&us.var.affine(1.0, -1.0)?)?.affine(2.0, 0.0)?)?
                    .affine(2.0 * lambda / bsz, 0.0)?;
                let f = cb.broadcast_mul(c)?.div(&d.sqr()?)?.neg()?;
                let d_r = r.broadcast_mul(&f.to_dtype(self.dtype)?)?;
                out.push((hname(i, "d_ie"), d_r.t()?.matmul(x)?));
            }
            (Denom::Full(dn), _) => {
                // General chain: ∂L/∂Dn = −G∘U⊘Dn, ∂L/∂V = ∂L/∂Dn ⊘ (2Dn), ∂L/∂Q = (∂L/∂V) D_EI,
                // ∂L/∂R = 2R∘∂L/∂Q.
                let d_ei = self.p(&hname(i, "d_ei"))?;
                let d_v = g_over_d.mul(u)?.div(dn)?.affine(-0.5, 0.0)?;
                let d_r = r.mul(&d_v.matmul(d_ei)?)?.affine(2.0, 0.0)?;
                out.push((hname(i, "d_ie"), d_r.t()?.matmul(x)?));
                if self.spec.train_inhib_out {
                    out.push((hname(i, "w_ei"), g_over_d.t()?.matmul(h_s)?.neg()?));
                    out.push((hname(i, "d_ei"), d_v.t()?.matmul(q)?));
                }
            }
            (Denom::Row(..), None) => {
                return Err(Error::invalid(
                    "I-Norm denominator",
                    "per-sample path without a uniform D_EI",
                ))
            }
        }
        Ok((loss, out))
    }

    /// Subtractive-only local loss (paper/model.md §2.6): `G_bj = 2λ m_b/(Bn)`, `∂W_IE = −(G W_EI)ᵀ X`,
    /// `∂W_EI = −Gᵀ H_S`.
    pub(super) fn inorm_sub_local(
        &self,
        i: usize,
        x: &Tensor,
        u: &Tensor,
        h_s: &Tensor,
    ) -> Result<Local> {
        let (bsz, n) = (u.dim(D::Minus2)?, u.dim(D::Minus1)?);
        let lambda = self.spec.lambda;
        let m = row_means64(u)?;
        let coef = 2.0 * lambda / (bsz * n) as f64;
        let g = m
            .affine(coef, 0.0)?
            .to_dtype(self.dtype)?
            .broadcast_as(u.shape())?
            .contiguous()?;
        let w_ei = self.p(&hname(i, "w_ei"))?;
        let d_h = g.matmul(w_ei)?.neg()?;
        let loss = m
            .sqr()?
            .sum_keepdim(D::Minus2)?
            .affine(lambda / bsz as f64, 0.0)?;
        Ok((
            loss,
            vec![
                (hname(i, "w_ie"), d_h.t()?.matmul(x)?),
                (hname(i, "w_ei"), g.t()?.matmul(h_s)?.neg()?),
            ],
        ))
    }

    /// Hidden layer `i` backward from `gamma = ∂L/∂ReLU(out)`; inserts task gradients; returns `∂L/∂x` when
    /// `need_dx` (not for the first layer, whose input is data).
    pub(super) fn hidden_backward(
        &self,
        i: usize,
        hd: &Hidden,
        gamma: &Tensor,
        ones: &Tensor,
        need_dx: bool,
        grads: &mut BTreeMap<String, Tensor>,
    ) -> Result<Option<Tensor>> {
        let delta_out = gamma.mul(&positive_mask(&hd.h)?)?;
        let w_ee = self.p(&hname(i, "w_ee"))?;
        let kind = self.spec.preset.hidden_kind();
        let delta = match kind {
            HiddenKind::E | HiddenKind::Ei => match (&hd.ln_inv_sigma, self.spec.ln_backward) {
                (Some(inv), true) => ln_backward(&delta_out, &hd.out, inv)?,
                _ => delta_out,
            },
            HiddenKind::INorm | HiddenKind::INormSub => {
                let lateral = self.params.get(&hname(i, "lateral"));
                let dz = gradnorm_backward(
                    self.layer_grad_norm(),
                    &delta_out,
                    &hd.z,
                    &hd.zs,
                    lateral,
                    self.spec.eq2_exact,
                )?;
                match &hd.dn {
                    Some(d) => dz.broadcast_div(d.tensor())?,
                    None => dz,
                }
            }
        };
        grads.insert(hname(i, "w_ee"), delta.t()?.matmul(&hd.x)?);
        grads.insert(hname(i, "bias"), ones.matmul(&delta)?);
        let mut dx = if need_dx {
            Some(delta.matmul(w_ee)?)
        } else {
            None
        };
        if kind == HiddenKind::Ei {
            let (w_ie, w_ei) = (self.p(&hname(i, "w_ie"))?, self.p(&hname(i, "w_ei"))?);
            let h_i = hd
                .h_i
                .as_ref()
                .ok_or_else(|| Error::invalid("EI cache", "missing inhibitory activity"))?;
            let d_hi = delta.matmul(w_ei)?;
            grads.insert(hname(i, "w_ie"), d_hi.t()?.matmul(&hd.x)?.neg()?);
            grads.insert(hname(i, "w_ei"), delta.t()?.matmul(h_i)?.neg()?);
            if let Some(d) = dx.take() {
                dx = Some(d.sub(&d_hi.matmul(w_ie)?)?);
            }
        }
        Ok(dx)
    }

    /// Diagnostics of paper/model.md §8.2–8.3 for one hidden layer, `K×1×4` (output alignment, gradient
    /// alignment, μ̄, v̄) in f64; the gradient alignment uses B×B Gram matrices.
    pub(super) fn layer_diag(&self, i: usize, hd: &Hidden) -> Result<Tensor> {
        let variant = self.layer_grad_norm();
        let y = match (&hd.ln_inv_sigma, self.spec.preset.layer_norm()) {
            (Some(_), true) => hd.out.clone(),
            _ => hd.zs.normalized(LN_EPS, self.dtype)?,
        };
        let inv_sigma = hd.zs.inv_std(LN_EPS)?;
        let output_alignment = cosines(&y.relu()?, &hd.z.relu()?)?;
        let m_own = positive_mask(&hd.z)?;
        let mut e_ref = if variant == GradNorm::Lateral {
            sub_rows(&m_own, &row_means64(&m_own)?)?
        } else {
            let mask_of = if fault::active(Fault::SurrogateOwnMask) {
                &hd.z
            } else {
                &y
            };
            ln_backward(&positive_mask(mask_of)?, &y, &inv_sigma)?
        };
        let lateral = self.params.get(&hname(i, "lateral"));
        let mut e_own =
            gradnorm_backward(variant, &m_own, &hd.z, &hd.zs, lateral, self.spec.eq2_exact)?;
        if let Some(d) = &hd.dn {
            e_ref = e_ref.broadcast_div(d.tensor())?;
            e_own = e_own.broadcast_div(d.tensor())?;
        }
        let gram = hd.x.matmul(&hd.x.t()?)?;
        Ok(Tensor::cat(
            &[
                output_alignment,
                gram_cosines(&e_ref, &e_own, &gram)?,
                hd.zs.moments()?,
            ],
            D::Minus1,
        )?)
    }

    /// Output EI layer forward: logits `H W_EEᵀ − (H W_IEᵀ) W_EIᵀ + 1bᵀ`; returns (logits, H_I).
    pub(super) fn output_forward(&self, h: &Tensor) -> Result<(Tensor, Tensor)> {
        let h_i = Self::lin(h, self.p("out.w_ie")?)?;
        let logits = Self::lin(h, self.p("out.w_ee")?)?
            .sub(&Self::lin(&h_i, self.p("out.w_ei")?)?)?
            .broadcast_add(self.p("out.bias")?)?;
        Ok((logits, h_i))
    }

    /// One forward and backward pass (paper/model.md §6.2 steps 1–3) from the current parameters.
    pub(super) fn forward_backward(
        &self,
        x: Tensor,
        targets: &Tensor,
        labels: &Tensor,
        diag: bool,
    ) -> Result<Pass> {
        let bsz = x.dim(1)?;
        let (hidden, local_loss, local_grads) =
            self.hidden_layers(x, &mut |i, h| self.hidden_forward(i, h, true))?;
        let h = hidden[HIDDEN_LAYERS - 1].h.clone();
        let (logits, h_i) = self.output_forward(&h)?;
        let ce = cross_entropy(&logits, targets, labels)?;
        let delta = ce.grad.clone();
        let ones = Tensor::ones((self.k, 1, bsz), self.dtype, &self.device)?;
        let mut grads = BTreeMap::new();
        let (w_ee, w_ie, w_ei) = (
            self.p("out.w_ee")?,
            self.p("out.w_ie")?,
            self.p("out.w_ei")?,
        );
        grads.insert("out.w_ee".to_string(), delta.t()?.matmul(&h)?);
        grads.insert("out.bias".to_string(), ones.matmul(&delta)?);
        let d_hi = delta.matmul(w_ei)?;
        grads.insert("out.w_ie".to_string(), d_hi.t()?.matmul(&h)?.neg()?);
        grads.insert("out.w_ei".to_string(), delta.t()?.matmul(&h_i)?.neg()?);
        let mut gamma = delta.matmul(w_ee)?.sub(&d_hi.matmul(w_ie)?)?;
        for i in (0..HIDDEN_LAYERS).rev() {
            let dx = self.hidden_backward(i, &hidden[i], &gamma, &ones, i > 0, &mut grads)?;
            if let Some(d) = dx {
                gamma = d;
            }
        }
        Ok(Pass {
            summary: self.summary(&ce, bsz, local_loss, &hidden, diag, Vec::new())?,
            logits,
            hidden,
            grads,
            local_grads,
        })
    }

    /// The hidden layers of one training pass, layer `i` computed by `layer(i, input)` (its forward with
    /// the local loss back-propagated inside it): the layers, each one's local loss (`K×1×1`, f64; 0 for
    /// layers without one) and the local-loss gradients.
    pub(super) fn hidden_layers(
        &self,
        x: Tensor,
        layer: &mut dyn FnMut(usize, Tensor) -> Result<(Hidden, Option<Local>)>,
    ) -> Result<HiddenPass> {
        let mut hidden: Vec<Hidden> = Vec::with_capacity(HIDDEN_LAYERS);
        let mut local_loss = Vec::with_capacity(HIDDEN_LAYERS);
        let mut local_grads = BTreeMap::new();
        let mut h = x;
        for i in 0..HIDDEN_LAYERS {
            let (hd, loc) = layer(i, h)?;
            match loc {
                Some((loss, gs)) => {
                    local_loss.push(loss);
                    local_grads.extend(gs);
                }
                None => local_loss.push(Tensor::zeros((self.k, 1, 1), DType::F64, &self.device)?),
            }
            h = hd.h.clone();
            hidden.push(hd);
        }
        Ok((hidden, local_loss, local_grads))
    }

    /// The table a step reads back (`K×1×S`, f64): mean task loss, correct count, each hidden layer's local
    /// loss, with `diag` each hidden layer's diagnostics, then the `extra` columns.
    pub(super) fn summary(
        &self,
        ce: &Ce,
        bsz: usize,
        local_loss: Vec<Tensor>,
        hidden: &[Hidden],
        diag: bool,
        extra: Vec<Tensor>,
    ) -> Result<Tensor> {
        let mut cols = vec![
            ce.loss_sum.affine(1.0 / bsz as f64, 0.0)?,
            ce.correct.clone(),
        ];
        cols.extend(local_loss);
        if diag {
            for (i, hd) in hidden.iter().enumerate() {
                cols.push(self.layer_diag(i, hd)?);
            }
        }
        cols.extend(extra);
        Ok(Tensor::cat(&cols, D::Minus1)?)
    }
}
