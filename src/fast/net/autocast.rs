//! The f16-autocast mode of [`LockstepNet`] (paper/model.md §14): every layer as CUDA float16 autocast
//! computes the authors' networks, op by op in their order, on f32 tensors rounded to f16 at exactly the
//! points of §14.2 ([`round16`]). Where the f32 path factors a layer differently (an EI layer through both
//! pathways, the I-Norm denominator as a row sum), this mode follows PyTorch's order instead: the EI layer
//! multiplies by the effective `W_EE − r(W_EI W_IE)`, the denominator goes through `r(Q) r(D_EI)ᵀ`. The twin
//! of every function here is in [`crate::reference::autocast`].
//!
//! It also watches the numerics (§14.5): the largest divisive drive |R| per layer, the samples whose
//! denominator or whose backward errors overflowed, and the first tensor of a step holding a non-finite
//! value. These go into extra columns of the step's read-back table.

use std::collections::BTreeMap;

use candle_core::{DType, Tensor, D};

use super::layers::{Denom, Hidden, Local, Pass};
use super::{hname, LockstepNet};
use crate::error::Result;
use crate::fast::ops::{
    cross_entropy, gradnorm_backward, ln_backward, local_loss_grad, positive_mask, round16,
    round16_owned, row_sums64, RowStats,
};
use crate::model::{HiddenKind, HIDDEN_LAYERS, INORM_EPS};

/// What one autocast pass watches (paper/model.md §14.5), kept on the device until the step's one read.
#[derive(Default)]
pub(super) struct Watch {
    /// Names of the watched tensors, in the order the pass computed them.
    pub(super) names: Vec<String>,
    /// Per watched tensor, its f32 sum per network (`K×1×1`): not finite exactly when the tensor holds an
    /// infinite or NaN value (an f16-valued tensor of a million elements sums to at most 7e10).
    sums: Vec<Tensor>,
    /// Per hidden layer with a divisive population, the largest |R| per network (`K×1×1`).
    drives: Vec<Tensor>,
    /// Sum over layers of the row sums of each denominator (`K×B×1`): a non-finite row is a sample whose
    /// denominator overflowed.
    dn_rows: Option<Tensor>,
    /// The same over the per-sample errors of the backward passes.
    grad_rows: Option<Tensor>,
}

fn add_rows(acc: &mut Option<Tensor>, t: &Tensor) -> Result<()> {
    let r = t.sum_keepdim(D::Minus1)?;
    *acc = Some(match acc.take() {
        Some(a) => a.add(&r)?,
        None => r,
    });
    Ok(())
}

/// Per network, how many rows of a `K×B×1` tensor are not finite (`K×1×1`, f64).
fn bad_rows(t: &Option<Tensor>, k: usize, dev: &candle_core::Device) -> Result<Tensor> {
    match t {
        None => Ok(Tensor::zeros((k, 1, 1), DType::F64, dev)?),
        Some(t) => {
            let z = t.to_dtype(DType::F64)?.affine(0.0, 0.0)?;
            Ok(z.ne(&z)?.to_dtype(DType::F64)?.sum_keepdim(D::Minus2)?)
        }
    }
}

impl Watch {
    /// Watches `t` (any shape `K×…×…`).
    fn tensor(&mut self, name: String, t: &Tensor) -> Result<()> {
        self.sums
            .push(t.sum_keepdim(D::Minus1)?.sum_keepdim(D::Minus2)?);
        self.names.push(name);
        Ok(())
    }

    /// Watches a per-sample error of a backward pass (`K×B×·`).
    fn error(&mut self, name: String, t: &Tensor) -> Result<()> {
        add_rows(&mut self.grad_rows, t)?;
        self.tensor(name, t)
    }

    /// The columns this watch adds to the step's table: per hidden layer the largest |R| (0 without a
    /// divisive population), the samples with an overflowed denominator, the samples with an overflowed
    /// error, then one sum per watched tensor (all `K×1×·`, f64).
    pub(super) fn columns(&self, k: usize, dev: &candle_core::Device) -> Result<Vec<Tensor>> {
        let mut cols = Vec::with_capacity(HIDDEN_LAYERS + 2 + self.sums.len());
        for i in 0..HIDDEN_LAYERS {
            cols.push(match self.drives.get(i) {
                Some(d) => d.to_dtype(DType::F64)?,
                None => Tensor::zeros((k, 1, 1), DType::F64, dev)?,
            });
        }
        cols.push(bad_rows(&self.dn_rows, k, dev)?);
        cols.push(bad_rows(&self.grad_rows, k, dev)?);
        for s in &self.sums {
            cols.push(s.to_dtype(DType::F64)?);
        }
        Ok(cols)
    }
}

/// `r(a·b)` for operands that already hold f16 values (paper/model.md §14.1).
fn mm16(a16: &Tensor, b16: &Tensor) -> Result<Tensor> {
    round16_owned(a16.matmul(b16)?)
}

/// `r(c)` of the per-network scalar `c` of a uniform D_EI (`K×1×1`, f64), as f64.
fn r16_f64(c: &Tensor) -> Result<Tensor> {
    Ok(round16(&c.to_dtype(DType::F32)?)?.to_dtype(DType::F64)?)
}

impl LockstepNet {
    /// `r(p)` of a parameter: the f16 copy an autocast matmul multiplies by.
    fn p16(&self, name: &str) -> Result<Tensor> {
        round16(self.p(name)?)
    }

    /// The matrix a layer's autocast forward multiplies by, already f16 (paper/model.md §14.2), for the
    /// layer whose parameter names start with `prefix`: `r(W_EE)` for an E layer, `r(W_EE − r(r(W_EI)
    /// r(W_IE)))` for an EI layer.
    fn effective16(&self, prefix: &str, ei: bool) -> Result<Tensor> {
        let w_ee = self.p(&format!("{prefix}w_ee"))?;
        if !ei {
            return round16(w_ee);
        }
        let prod = mm16(
            &self.p16(&format!("{prefix}w_ei"))?,
            &self.p16(&format!("{prefix}w_ie"))?,
        )?;
        round16(&w_ee.sub(&prod)?)
    }

    /// Hidden layer `i` forward under autocast; with `local`, the local loss and its gradients as the
    /// authors' layer back-propagates them inside its forward (paper/model.md §14.2).
    pub(super) fn hidden_forward16(
        &self,
        i: usize,
        x: Tensor,
        local: bool,
        watch: &mut Watch,
    ) -> Result<(Hidden, Option<Local>)> {
        let kind = self.spec.preset.hidden_kind();
        let x16 = round16(&x)?;
        let bias = self.p(&hname(i, "bias"))?;
        let w16 = self.effective16(&format!("hidden.{i}."), kind == HiddenKind::Ei)?;
        let hex = mm16(&x16, &w16.t()?)?;
        watch.tensor(hname(i, "h_ex"), &hex)?;
        let a = hex.broadcast_add(bias)?;
        let mut dn = None;
        let mut loc = None;
        let z = match kind {
            HiddenKind::E | HiddenKind::Ei => a,
            HiddenKind::INorm | HiddenKind::INormSub => {
                let w_ei16 = self.p16(&hname(i, "w_ei"))?;
                let h_s = mm16(&x16, &self.p16(&hname(i, "w_ie"))?.t()?)?;
                let s = mm16(&h_s, &w_ei16.t()?)?;
                watch.tensor(hname(i, "s"), &s)?;
                let z0 = a.sub(&s)?;
                if kind == HiddenKind::INormSub {
                    if local {
                        loc = Some(self.sub_local16(i, &x16, &z0, &h_s, &w_ei16, watch)?);
                    }
                    z0
                } else {
                    let r = mm16(&x16, &self.p16(&hname(i, "d_ie"))?.t()?)?;
                    watch
                        .drives
                        .push(r.abs()?.max_keepdim(D::Minus1)?.max_keepdim(D::Minus2)?);
                    watch.tensor(hname(i, "r"), &r)?;
                    let q = r.sqr()?;
                    let q16 = round16_owned(q)?;
                    let v = match &self.uniform_d_ei[i] {
                        // V = r(r(Q) r(D_EI)ᵀ) with every entry of D_EI equal to c: one column per sample.
                        Some(c) => round16_owned(
                            row_sums64(&q16)?
                                .broadcast_mul(&r16_f64(c)?)?
                                .to_dtype(DType::F32)?,
                        )?,
                        None => mm16(&q16, &self.p16(&hname(i, "d_ei"))?.t()?)?,
                    };
                    let d = round16(&round16(&v.affine(1.0, INORM_EPS)?)?.sqrt()?)?;
                    add_rows(&mut watch.dn_rows, &d)?;
                    watch.tensor(hname(i, "dn"), &d)?;
                    let z = z0.broadcast_div(&d)?;
                    let den = match &self.uniform_d_ei[i] {
                        Some(_) => Denom::Row(d.clone(), d.to_dtype(DType::F64)?),
                        None => Denom::Full(d.clone()),
                    };
                    dn = Some(den);
                    if local {
                        loc = Some(self.inorm_local16(i, &x16, &z, &h_s, &r, &q16, &d, watch)?);
                    }
                    z
                }
            }
        };
        watch.tensor(hname(i, "z"), &z)?;
        let zs = RowStats::of(&z)?;
        Ok((self.hidden_of(x, z, zs, dn, None, Some((x16, w16)))?, loc))
    }

    /// I-Norm local loss and its gradients under autocast (paper/model.md §14.2; twin of
    /// [`crate::reference::autocast::local16_grads`]). `d` is the f16 denominator (`K×B×1` or `K×B×n`).
    #[allow(clippy::too_many_arguments)]
    fn inorm_local16(
        &self,
        i: usize,
        x16: &Tensor,
        u: &Tensor,
        h_s: &Tensor,
        r: &Tensor,
        q16: &Tensor,
        d: &Tensor,
        watch: &mut Watch,
    ) -> Result<Local> {
        let us = RowStats::of(u)?;
        let (g, loss) = local_loss_grad(&us, self.spec.lambda, self.dtype)?;
        let d_dn = round16(&g.mul(u)?.broadcast_div(d)?.neg()?)?;
        watch.error(hname(i, "grad.dn"), &d_dn)?;
        let d_s = round16(&g.broadcast_div(d)?.neg()?)?;
        watch.error(hname(i, "grad.s"), &d_s)?;
        let w_ei16 = self.p16(&hname(i, "w_ei"))?;
        let d_h = mm16(&d_s, &w_ei16)?;
        let two_d = round16(&d.affine(2.0, 0.0)?)?;
        let d_v = round16(&d_dn.broadcast_div(&two_d)?)?;
        watch.error(hname(i, "grad.v"), &d_v)?;
        let d_q = match &self.uniform_d_ei[i] {
            Some(c) => round16_owned(
                row_sums64(&d_v)?
                    .broadcast_mul(&r16_f64(c)?)?
                    .to_dtype(DType::F32)?,
            )?,
            None => mm16(&d_v, &self.p16(&hname(i, "d_ei"))?)?,
        };
        let d_r = round16(&r.broadcast_mul(&d_q)?.affine(2.0, 0.0)?)?;
        watch.error(hname(i, "grad.r"), &d_r)?;
        let g_ie = mm16(&d_h.t()?, x16)?;
        let g_de = mm16(&d_r.t()?, x16)?;
        watch.tensor(hname(i, "grad.w_ie"), &g_ie)?;
        watch.tensor(hname(i, "grad.d_ie"), &g_de)?;
        let mut out = vec![(hname(i, "w_ie"), g_ie), (hname(i, "d_ie"), g_de)];
        if self.spec.train_inhib_out {
            out.push((hname(i, "w_ei"), mm16(&d_s.t()?, h_s)?));
            out.push((hname(i, "d_ei"), mm16(&d_v.t()?, q16)?));
        }
        Ok((loss, out))
    }

    /// Subtractive-only local loss under autocast: `G_bj = 2λ m_b/(Bn)`, `∂S = r(−G)`, `∂W_EI = r(∂Sᵀ H_S)`,
    /// `∂W_IE = r(r(∂S r(W_EI))ᵀ r(X))`.
    fn sub_local16(
        &self,
        i: usize,
        x16: &Tensor,
        u: &Tensor,
        h_s: &Tensor,
        w_ei16: &Tensor,
        watch: &mut Watch,
    ) -> Result<Local> {
        let (bsz, n) = (u.dim(D::Minus2)?, u.dim(D::Minus1)?);
        let lambda = self.spec.lambda;
        let m = crate::fast::ops::row_means64(u)?;
        let d_s = round16(
            &m.affine(-2.0 * lambda / (bsz * n) as f64, 0.0)?
                .to_dtype(self.dtype)?
                .broadcast_as(u.shape())?
                .contiguous()?,
        )?;
        watch.error(hname(i, "grad.s"), &d_s)?;
        let d_h = mm16(&d_s, w_ei16)?;
        let loss = m
            .sqr()?
            .sum_keepdim(D::Minus2)?
            .affine(lambda / bsz as f64, 0.0)?;
        Ok((
            loss,
            vec![
                (hname(i, "w_ie"), mm16(&d_h.t()?, x16)?),
                (hname(i, "w_ei"), mm16(&d_s.t()?, h_s)?),
            ],
        ))
    }

    /// Gradients through `f32(r(X16 W16ᵀ)) + 1bᵀ` of the layer whose names start with `prefix`, from the
    /// f32 error `delta` (paper/model.md §14.2): `∂b = Δᵀ1`, `Δ_H = r(Δ)`, `∂W = r(Δ_Hᵀ X16)`; for an EI layer
    /// `∂W_EE = ∂W`, `∂W_EI = r(−∂W r(W_IE)ᵀ)`, `∂W_IE = r(r(W_EI)ᵀ (−∂W))`; `∂X = r(Δ_H W16)` when `need_dx`.
    #[allow(clippy::too_many_arguments)]
    fn linear16_backward(
        &self,
        prefix: &str,
        ei: bool,
        x16: &Tensor,
        w16: &Tensor,
        delta: &Tensor,
        ones: &Tensor,
        need_dx: bool,
        grads: &mut BTreeMap<String, Tensor>,
        watch: &mut Watch,
    ) -> Result<Option<Tensor>> {
        let d_h = round16(delta)?;
        watch.error(format!("{prefix}grad.h"), &d_h)?;
        grads.insert(format!("{prefix}bias"), ones.matmul(delta)?);
        let g = mm16(&d_h.t()?, x16)?;
        watch.tensor(format!("{prefix}grad.w_ee"), &g)?;
        if ei {
            let d_p = g.neg()?;
            grads.insert(
                format!("{prefix}w_ei"),
                mm16(&d_p, &self.p16(&format!("{prefix}w_ie"))?.t()?)?,
            );
            grads.insert(
                format!("{prefix}w_ie"),
                mm16(&self.p16(&format!("{prefix}w_ei"))?.t()?, &d_p)?,
            );
        }
        grads.insert(format!("{prefix}w_ee"), g);
        if !need_dx {
            return Ok(None);
        }
        let dx = mm16(&d_h, w16)?;
        watch.error(format!("{prefix}grad.x"), &dx)?;
        Ok(Some(dx))
    }

    /// Hidden layer `i` backward under autocast from `gamma = ∂L/∂ReLU(out)` (f32).
    #[allow(clippy::too_many_arguments)]
    fn hidden_backward16(
        &self,
        i: usize,
        hd: &Hidden,
        gamma: &Tensor,
        ones: &Tensor,
        need_dx: bool,
        grads: &mut BTreeMap<String, Tensor>,
        watch: &mut Watch,
    ) -> Result<Option<Tensor>> {
        let delta_out = gamma.mul(&positive_mask(&hd.h)?)?;
        let kind = self.spec.preset.hidden_kind();
        let delta = match kind {
            HiddenKind::E | HiddenKind::Ei => match (&hd.ln_inv_sigma, self.spec.ln_backward) {
                (Some(inv), true) => ln_backward(&delta_out, &hd.out, inv)?,
                _ => delta_out,
            },
            HiddenKind::INorm | HiddenKind::INormSub => {
                let dz = gradnorm_backward(
                    self.layer_grad_norm(),
                    &delta_out,
                    &hd.z,
                    &hd.zs,
                    self.params.get(&hname(i, "lateral")),
                    self.spec.eq2_exact,
                )?;
                match &hd.dn {
                    Some(d) => dz.broadcast_div(d.tensor())?,
                    None => dz,
                }
            }
        };
        let (x16, w16) = match (&hd.x16, &hd.w16) {
            (Some(x), Some(w)) => (x, w),
            _ => {
                return Err(crate::error::Error::invalid(
                    "f16-autocast cache",
                    "a hidden layer kept no f16 operands",
                ))
            }
        };
        self.linear16_backward(
            &format!("hidden.{i}."),
            kind == HiddenKind::Ei,
            x16,
            w16,
            &delta,
            ones,
            need_dx,
            grads,
            watch,
        )
    }

    /// Output EI layer forward under autocast: logits `f32(r(r(H) W16ᵀ)) + 1bᵀ`; returns (logits, r(H), W16).
    pub(super) fn output_forward16(
        &self,
        h: &Tensor,
        watch: &mut Watch,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let h16 = round16(h)?;
        let w16 = self.effective16("out.", true)?;
        let logits = mm16(&h16, &w16.t()?)?.broadcast_add(self.p("out.bias")?)?;
        watch.tensor("out.logits".into(), &logits)?;
        Ok((logits, h16, w16))
    }

    /// One forward and backward pass under autocast (paper/model.md §14.2) from the current parameters; the
    /// summary gains the [`Watch`] columns after the diagnostics.
    pub(super) fn forward_backward16(
        &self,
        x: Tensor,
        targets: &Tensor,
        labels: &Tensor,
        diag: bool,
    ) -> Result<(Pass, Vec<String>)> {
        let bsz = x.dim(1)?;
        let mut watch = Watch::default();
        let (hidden, local_loss, local_grads) =
            self.hidden_layers(x, &mut |i, h| self.hidden_forward16(i, h, true, &mut watch))?;
        let h = hidden[HIDDEN_LAYERS - 1].h.clone();
        let (logits, h16, w16) = self.output_forward16(&h, &mut watch)?;
        let ce = cross_entropy(&logits, targets, labels)?;
        let ones = Tensor::ones((self.k, 1, bsz), self.dtype, &self.device)?;
        let mut grads = BTreeMap::new();
        let mut gamma = self
            .linear16_backward(
                "out.", true, &h16, &w16, &ce.grad, &ones, true, &mut grads, &mut watch,
            )?
            .ok_or_else(|| crate::error::Error::invalid("output backward", "no ∂X"))?;
        for i in (0..HIDDEN_LAYERS).rev() {
            let dx = self.hidden_backward16(
                i,
                &hidden[i],
                &gamma,
                &ones,
                i > 0,
                &mut grads,
                &mut watch,
            )?;
            if let Some(d) = dx {
                gamma = d;
            }
        }
        let extra = watch.columns(self.k, &self.device)?;
        Ok((
            Pass {
                summary: self.summary(&ce, bsz, local_loss, &hidden, diag, extra)?,
                logits,
                hidden,
                grads,
                local_grads,
            },
            watch.names,
        ))
    }
}
