//! The building blocks of the fast path written with candle tensor ops and an explicit (hand-derived)
//! backward: per-sample row statistics accumulated in f64 (two-pass variance), LayerNorm forward and its
//! Eq. 2 backward (SPEC §2.3), the GradNorm variants (§2.7), the I-Norm local-loss error (§2.5), the
//! cross-entropy with label smoothing (§4, on the host in f64), the fused SGD + Dale-clamp update (§6.1)
//! and the cheap cosine of two weight gradients through B×B Gram matrices (§8.2). No autograd anywhere.

use candle_core::{CpuStorage, DType, Device, InplaceOp2, Layout, Tensor};

use crate::error::{Error, Result};
use crate::fault::{self, Fault};
use crate::model::{GradNorm, GN_EPS};

/// A column of per-sample scalars (B×1) on `device` in `dtype`, from host f64 values.
pub fn column(values: &[f64], dtype: DType, device: &Device) -> Result<Tensor> {
    Ok(Tensor::from_slice(values, (values.len(), 1), device)?.to_dtype(dtype)?)
}

/// Row sums of a B×n tensor accumulated in f64, returned on the host (length B).
pub fn row_sums64(t: &Tensor) -> Result<Vec<f64>> {
    let s = t.to_dtype(DType::F64)?.sum_keepdim(1)?;
    Ok(s.flatten_all()?.to_vec1::<f64>()?)
}

/// Per-sample (row) statistics of a B×n tensor over units, accumulated in f64, two-pass
/// (`pvar = mean((z − mean z)²)`, never `E[z²] − mean²`).
#[derive(Clone, Debug)]
pub struct RowStats {
    /// Number of units n.
    pub n: usize,
    /// Per-row mean (host, length B).
    pub mean: Vec<f64>,
    /// Per-row population variance (host, length B).
    pub var: Vec<f64>,
    /// `z − mean(z)` in f64 (B×n), kept for normalization without re-centering in low precision.
    pub centered: Tensor,
}

impl RowStats {
    /// Statistics of `z` (B×n, any float dtype).
    pub fn of(z: &Tensor) -> Result<RowStats> {
        let n = z.dim(1)?;
        let z64 = z.to_dtype(DType::F64)?;
        let mean_t = z64.sum_keepdim(1)?.affine(1.0 / n as f64, 0.0)?;
        let centered = z64.broadcast_sub(&mean_t)?;
        let var = centered
            .sqr()?
            .sum_keepdim(1)?
            .affine(1.0 / n as f64, 0.0)?;
        Ok(RowStats {
            n,
            mean: mean_t.flatten_all()?.to_vec1::<f64>()?,
            var: var.flatten_all()?.to_vec1::<f64>()?,
            centered,
        })
    }

    /// `1/sqrt(var + eps)` per row (host).
    pub fn inv_std(&self, eps: f64) -> Vec<f64> {
        self.var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect()
    }

    /// `(z − mean z)/sqrt(var + eps)` in `dtype` (B×n): LayerNorm forward without affine, or GradNorm's ŷ.
    pub fn normalized(&self, eps: f64, dtype: DType) -> Result<Tensor> {
        let inv = column(&self.inv_std(eps), DType::F64, self.centered.device())?;
        Ok(self.centered.broadcast_mul(&inv)?.to_dtype(dtype)?)
    }

    /// Batch means of the row means and row variances (SPEC §8.3 moments).
    pub fn moments(&self) -> (f64, f64) {
        let b = self.mean.len() as f64;
        (
            self.mean.iter().sum::<f64>() / b,
            self.var.iter().sum::<f64>() / b,
        )
    }
}

/// `1[t > 0]` in `t`'s dtype (the ReLU derivative, 0 at exactly 0).
pub fn positive_mask(t: &Tensor) -> Result<Tensor> {
    Ok(t.gt(0.0)?.to_dtype(t.dtype())?)
}

/// `t − c·1ᵀ` for per-row host scalars c.
fn sub_rows(t: &Tensor, c: &[f64]) -> Result<Tensor> {
    Ok(t.broadcast_sub(&column(c, t.dtype(), t.device())?)?)
}

/// `t ⊙ c` row-wise for per-row host scalars c.
fn scale_rows(t: &Tensor, c: &[f64]) -> Result<Tensor> {
    Ok(t.broadcast_mul(&column(c, t.dtype(), t.device())?)?)
}

/// `⟨a_b, c_b⟩/n` per row, products in the tensors' dtype, sums in f64.
fn row_dot_mean(a: &Tensor, c: &Tensor) -> Result<Vec<f64>> {
    let n = a.dim(1)? as f64;
    Ok(row_sums64(&a.mul(c)?)?.into_iter().map(|s| s / n).collect())
}

/// LayerNorm backward (Eq. 2): `δ̂ = (1/σ)(δ − mean(δ)1 − y·mean(δ∘y))` for upstream `δ = ∂L/∂y` (B×n),
/// normalized output `y` and per-row `inv_sigma = 1/σ` (host). Exact gradient of LN forward.
pub fn ln_backward(delta: &Tensor, y: &Tensor, inv_sigma: &[f64]) -> Result<Tensor> {
    let n = delta.dim(1)? as f64;
    let mean_d: Vec<f64> = row_sums64(delta)?.into_iter().map(|s| s / n).collect();
    let mean_dy = match fault::active(Fault::LnDecorrelationDropped) {
        true => vec![0.0; mean_d.len()],
        false => row_dot_mean(delta, y)?,
    };
    let centered = sub_rows(delta, &mean_d)?;
    let decor = scale_rows(y, &mean_dy)?;
    scale_rows(&centered.sub(&decor)?, inv_sigma)
}

/// GradNorm backward (SPEC §2.7) of upstream `γ` (B×n) for forward input `z` with row statistics `zs`.
/// `lateral` is ω as an n×1 column (lateral variant only). The forward is the identity.
pub fn gradnorm_backward(
    variant: GradNorm,
    gamma: &Tensor,
    z: &Tensor,
    zs: &RowStats,
    lateral: Option<&Tensor>,
    eq2_exact: bool,
) -> Result<Tensor> {
    let n = zs.n as f64;
    let mean_g = || -> Result<Vec<f64>> {
        let off = fault::active(Fault::GradNormCenteringOff);
        Ok(row_sums64(gamma)?
            .into_iter()
            .map(|s| if off { 0.0 } else { s / n })
            .collect())
    };
    Ok(match variant {
        GradNorm::Off => gamma.clone(),
        GradNorm::Center => sub_rows(gamma, &mean_g()?)?,
        GradNorm::Scale => scale_rows(gamma, &zs.inv_std(GN_EPS))?,
        GradNorm::Decorrelate => gamma.sub(&scale_rows(z, &row_dot_mean(gamma, z)?)?)?,
        GradNorm::Full => {
            let inv_s = zs.inv_std(GN_EPS);
            let centered = sub_rows(gamma, &mean_g()?)?;
            let decor = if eq2_exact {
                let y_hat = zs.normalized(GN_EPS, z.dtype())?;
                scale_rows(&y_hat, &row_dot_mean(gamma, &y_hat)?)?
            } else {
                scale_rows(z, &row_dot_mean(gamma, z)?)?
            };
            scale_rows(&centered.sub(&decor)?, &inv_s)?
        }
        GradNorm::Lateral => {
            let w = lateral.ok_or_else(|| {
                Error::invalid(
                    "lateral weights",
                    "GradNorm lateral needs the fixed weights ω",
                )
            })?;
            gamma.broadcast_sub(&gamma.matmul(w)?)?
        }
    })
}

/// `∂L_loc/∂U` of the I-Norm local loss (SPEC §2.5),
/// `G_bj = (2λ/(Bn))·[m_b + 2(v_b − 1)(U_bj − m_b)]`, built from the f64 centered U, cast to `dtype`;
/// returns (G, loss).
pub fn local_loss_grad(us: &RowStats, lambda: f64, dtype: DType) -> Result<(Tensor, f64)> {
    let bsz = us.mean.len();
    let coef = 2.0 * lambda / (bsz * us.n) as f64;
    let slope: Vec<f64> = us.var.iter().map(|v| coef * 2.0 * (v - 1.0)).collect();
    let offset: Vec<f64> = us.mean.iter().map(|m| coef * m).collect();
    let dev = us.centered.device();
    let g = us
        .centered
        .broadcast_mul(&column(&slope, DType::F64, dev)?)?
        .broadcast_add(&column(&offset, DType::F64, dev)?)?
        .to_dtype(dtype)?;
    let loss = lambda
        * us.mean
            .iter()
            .zip(&us.var)
            .map(|(m, v)| m * m + (v - 1.0) * (v - 1.0))
            .sum::<f64>()
        / bsz as f64;
    Ok((g, loss))
}

/// Cross-entropy with label smoothing (SPEC §4), on the host in f64 from the logits (B×C).
#[derive(Clone, Debug, PartialEq)]
pub struct HostCe {
    /// Per-sample losses.
    pub per_sample: Vec<f64>,
    /// `(p − t)/B`, row-major B×C.
    pub grad: Vec<f64>,
    /// Correct argmax predictions (first maximum on ties).
    pub correct: usize,
}

/// Cross-entropy of `logits` (B×C, row-major f64) against `y`, log-softmax as `o − logsumexp(o)`.
pub fn cross_entropy_host(logits: &[f64], classes: usize, y: &[u8], smoothing: f64) -> HostCe {
    let smoothing = if fault::active(Fault::LabelSmoothingOff) {
        0.0
    } else {
        smoothing
    };
    let bsz = y.len();
    let mut per_sample = Vec::with_capacity(bsz);
    let mut grad = vec![0.0; bsz * classes];
    let mut correct = 0;
    for (b, &label) in y.iter().enumerate() {
        let row = &logits[b * classes..(b + 1) * classes];
        let mx = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = row.iter().map(|v| (v - mx).exp()).sum::<f64>().ln() + mx;
        let mut loss = 0.0;
        let mut best = (0, f64::NEG_INFINITY);
        for (c, &o) in row.iter().enumerate() {
            let t = (1.0 - smoothing) * f64::from(u8::from(c == label as usize))
                + smoothing / classes as f64;
            let lp = o - lse;
            loss -= t * lp;
            grad[b * classes + c] = (lp.exp() - t) / bsz as f64;
            if o > best.1 {
                best = (c, o);
            }
        }
        if best.0 == label as usize {
            correct += 1;
        }
        per_sample.push(loss);
    }
    HostCe {
        per_sample,
        grad,
        correct,
    }
}

/// `Σ_ab A_ab C_ab` accumulated in f64.
fn frobenius64(a: &Tensor, c: &Tensor) -> Result<f64> {
    Ok(a.to_dtype(DType::F64)?
        .mul(&c.to_dtype(DType::F64)?)?
        .sum_all()?
        .to_scalar::<f64>()?)
}

/// `cos(vec(PᵀX), vec(QᵀX))` with the cosine of SPEC §8.2 (norms floored at 1e-8), without forming the n×m
/// products: `⟨PᵀX, QᵀX⟩_F = Σ (P Qᵀ)∘(X Xᵀ)` with the B×B Gram matrix `gram = X Xᵀ` (computed once per
/// layer). `p`, `q`: B×n.
pub fn gram_cosine(p: &Tensor, q: &Tensor, gram: &Tensor) -> Result<f64> {
    let pq = p.matmul(&q.t()?)?;
    let pp = p.matmul(&p.t()?)?;
    let qq = q.matmul(&q.t()?)?;
    let dot = frobenius64(&pq, gram)?;
    let np = frobenius64(&pp, gram)?.max(0.0).sqrt().max(1e-8);
    let nq = frobenius64(&qq, gram)?.max(0.0).sqrt().max(1e-8);
    Ok(dot / (np * nq))
}

/// Cosine of two equally shaped tensors over all elements (f64 sums), norms floored at 1e-8.
pub fn cosine(a: &Tensor, c: &Tensor) -> Result<f64> {
    let a = a.to_dtype(DType::F64)?;
    let c = c.to_dtype(DType::F64)?;
    let dot = a.mul(&c)?.sum_all()?.to_scalar::<f64>()?;
    let na = a.sqr()?.sum_all()?.to_scalar::<f64>()?.sqrt().max(1e-8);
    let nc = c.sqr()?.sum_all()?.to_scalar::<f64>()?.sqrt().max(1e-8);
    Ok(dot / (na * nc))
}

/// Fused in-place `p ← max(p − lr·g, 0)` (clamp) or `p ← p − lr·g` on the CPU (SPEC §6.1 steps 2 and 4).
struct SgdInplace {
    lr: f64,
    clamp: bool,
}

impl InplaceOp2 for SgdInplace {
    fn name(&self) -> &'static str {
        "inorm-sgd-clamp"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let (Some((a0, a1)), Some((b0, b1))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            candle_core::bail!("inorm-sgd-clamp needs contiguous tensors");
        };
        if a1 - a0 != b1 - b0 {
            candle_core::bail!("inorm-sgd-clamp: {} vs {} elements", a1 - a0, b1 - b0);
        }
        match (s1, s2) {
            (CpuStorage::F32(p), CpuStorage::F32(g)) => {
                let lr = self.lr as f32;
                for (p, g) in p[a0..a1].iter_mut().zip(&g[b0..b1]) {
                    let v = *p - lr * g;
                    *p = if self.clamp { v.max(0.0) } else { v };
                }
            }
            (CpuStorage::F64(p), CpuStorage::F64(g)) => {
                for (p, g) in p[a0..a1].iter_mut().zip(&g[b0..b1]) {
                    let v = *p - self.lr * g;
                    *p = if self.clamp { v.max(0.0) } else { v };
                }
            }
            _ => candle_core::bail!("inorm-sgd-clamp supports f32 and f64 of the same dtype"),
        }
        Ok(())
    }
}

/// One SGD update of `p` with step `g` (SPEC §6.1): `p − lr·g`, then decoupled weight decay
/// `p·(1 − lr·wd)` when `wd > 0`, then the Dale clamp when `clamp`. In place on the CPU without weight decay
/// (the figure setting); otherwise a new tensor. Returns the updated parameter.
pub fn sgd_update(p: &Tensor, g: &Tensor, lr: f64, wd: f64, clamp: bool) -> Result<Tensor> {
    let clamp = clamp && !fault::active(Fault::DaleClampOff);
    if p.device().is_cpu() && wd == 0.0 && p.is_contiguous() && g.is_contiguous() {
        p.inplace_op2(g, &SgdInplace { lr, clamp })?;
        return Ok(p.clone());
    }
    let mut out = p.sub(&g.affine(lr, 0.0)?)?;
    if wd > 0.0 {
        out = out.affine(1.0 - lr * wd, 0.0)?;
    }
    if clamp {
        out = out.relu()?;
    }
    Ok(out)
}
