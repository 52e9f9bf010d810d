//! The building blocks of the fast path written with candle tensor ops and an explicit (hand-derived)
//! backward: per-sample row statistics accumulated in f64 (two-pass variance), LayerNorm forward and its
//! Eq. 2 backward (paper/model.md §2.3), the GradNorm variants (§2.7), the I-Norm local-loss error (§2.5), the
//! cross-entropy with label smoothing (§4, in f64), the fused SGD + Dale-clamp update (§6.1) and the cheap
//! cosine of two weight gradients through B×B Gram matrices (§8.2). No autograd anywhere.
//!
//! **Shapes.** Every op works on a stack of K networks (lockstep, [`super::LockstepNet`]): activations are
//! `K×B×n`, weights `K×post×pre`, per-sample scalars `K×B×1` and per-network scalars `K×1×1`; a rank-2
//! `B×n` tensor works as well. Rows are the last dimension; nothing reduces across networks, so a diverging
//! network cannot disturb the others. **No host round trip**: per-sample statistics stay on the device as
//! f64 columns; only [`host_f64`] reads values back (see [`host_reads`]).

use std::cell::Cell;

use candle_core::{CpuStorage, DType, InplaceOp2, Layout, Tensor, D};

use crate::error::{Error, Result};
use crate::fault::{self, Fault};
use crate::model::{GradNorm, GN_EPS};

thread_local! {
    static HOST_READS: Cell<usize> = const { Cell::new(0) };
}

/// The number of device-to-host reads the fast path has made on this thread ([`host_f64`] is the only
/// place that reads values back). Tests count the reads of one training step with it.
pub fn host_reads() -> usize {
    HOST_READS.with(Cell::get)
}

/// Reads `t` back to the host as f64, row-major (the only device-to-host read of the fast path).
pub fn host_f64(t: &Tensor) -> Result<Vec<f64>> {
    HOST_READS.with(|c| c.set(c.get() + 1));
    Ok(t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?)
}

/// Row sums over the last dimension, accumulated in f64 (`…×1`, f64).
pub fn row_sums64(t: &Tensor) -> Result<Tensor> {
    Ok(t.to_dtype(DType::F64)?.sum_keepdim(D::Minus1)?)
}

/// Row means over the last dimension, accumulated in f64 (`…×1`, f64).
pub fn row_means64(t: &Tensor) -> Result<Tensor> {
    let n = t.dim(D::Minus1)? as f64;
    Ok(row_sums64(t)?.affine(1.0 / n, 0.0)?)
}

/// Per-sample (row) statistics of a `…×B×n` tensor over units, accumulated in f64, two-pass
/// (`pvar = mean((z − mean z)²)`, never `E[z²] − mean²`), kept on the device.
#[derive(Clone, Debug)]
pub struct RowStats {
    /// Number of units n.
    pub n: usize,
    /// Per-row mean (`…×B×1`, f64).
    pub mean: Tensor,
    /// Per-row population variance (`…×B×1`, f64).
    pub var: Tensor,
    /// `z − mean(z)` in f64 (`…×B×n`), kept for normalization without re-centering in low precision.
    pub centered: Tensor,
}

impl RowStats {
    /// Statistics of `z` (any float dtype).
    pub fn of(z: &Tensor) -> Result<RowStats> {
        let n = z.dim(D::Minus1)?;
        let z64 = z.to_dtype(DType::F64)?;
        let mean = z64.sum_keepdim(D::Minus1)?.affine(1.0 / n as f64, 0.0)?;
        let centered = z64.broadcast_sub(&mean)?;
        let var = centered
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .affine(1.0 / n as f64, 0.0)?;
        Ok(RowStats {
            n,
            mean,
            var,
            centered,
        })
    }

    /// `1/sqrt(var + eps)` per row (`…×B×1`, f64).
    pub fn inv_std(&self, eps: f64) -> Result<Tensor> {
        Ok(self.var.affine(1.0, eps)?.sqrt()?.recip()?)
    }

    /// `(z − mean z)/sqrt(var + eps)` in `dtype`: LayerNorm forward without affine, or GradNorm's ŷ.
    pub fn normalized(&self, eps: f64, dtype: DType) -> Result<Tensor> {
        Ok(self
            .centered
            .broadcast_mul(&self.inv_std(eps)?)?
            .to_dtype(dtype)?)
    }

    /// Batch means of the row means and row variances (paper/model.md §8.3 moments): `…×1×2` (μ̄, v̄), f64.
    pub fn moments(&self) -> Result<Tensor> {
        let b = self.mean.dim(D::Minus2)? as f64;
        let m = self.mean.sum_keepdim(D::Minus2)?.affine(1.0 / b, 0.0)?;
        let v = self.var.sum_keepdim(D::Minus2)?.affine(1.0 / b, 0.0)?;
        Ok(Tensor::cat(&[m, v], D::Minus1)?)
    }
}

/// One f16 rounding of every element of an f32 tensor (paper/model.md §14.1): round to nearest even, ±∞
/// from 65520 up, gradual underflow below 2⁻¹⁴, 0 below 2⁻²⁵; the result is f32 again, holding f16 values.
/// On the CPU one vectorized pass ([`round16_f32`]); elsewhere through candle's f16 dtype.
pub fn round16(t: &Tensor) -> Result<Tensor> {
    if t.device().is_cpu() && t.dtype() == DType::F32 {
        return Ok(t.contiguous()?.apply_op1_no_bwd(&Round16)?);
    }
    Ok(t.to_dtype(DType::F16)?.to_dtype(t.dtype())?)
}

/// [`round16`] of a tensor nobody else holds (a fresh matmul result), in place on the CPU.
pub fn round16_owned(t: Tensor) -> Result<Tensor> {
    if t.device().is_cpu() && t.dtype() == DType::F32 && t.is_contiguous() {
        t.inplace_op1(&Round16)?;
        return Ok(t);
    }
    round16(&t)
}

/// `dst[i] = round16_f32(src[i])`, with the widest vector instructions the CPU has (chosen at run time).
fn round16_into(src: &[f32], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { round16_into_avx512(src, dst) };
            return;
        }
    }
    dst.iter_mut()
        .zip(src)
        .for_each(|(d, s)| *d = round16_f32(*s));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn round16_into_avx512(src: &[f32], dst: &mut [f32]) {
    dst.iter_mut()
        .zip(src)
        .for_each(|(d, s)| *d = round16_f32(*s));
}

/// [`round16_f32`] over a slice, with the widest vector instructions the CPU has (chosen at run time).
pub fn round16_slice(v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { round16_slice_avx512(v) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { round16_slice_avx2(v) };
            return;
        }
    }
    v.iter_mut().for_each(|x| *x = round16_f32(*x));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn round16_slice_avx512(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = round16_f32(*x));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn round16_slice_avx2(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = round16_f32(*x));
}

/// The f16 value nearest to `x` (ties to even), as an f32: what `f16::from_f32(x).to_f32()` gives, written
/// with integer operations and selects only, so that a loop over a slice vectorizes.
#[inline]
pub fn round16_f32(x: f32) -> f32 {
    const MIN_NORMAL: u32 = 0x3880_0000; // 2^-14, the smallest normal f16
    const OVERFLOW: u32 = 0x477f_f000; // 65520: from here on the nearest f16 is ∞
    const INF: u32 = 0x7f80_0000;
    let bits = x.to_bits();
    let abs = bits & 0x7fff_ffff;
    let sign = bits & 0x8000_0000;
    // Normal f16 range: keep 10 of the 23 mantissa bits, round to nearest even (a carry may bump the
    // exponent, which is right).
    let normal = bits.wrapping_add(0x0fff + ((bits >> 13) & 1)) & !0x1fff;
    // Subnormal f16 range: multiples of 2^-24; adding ±0.5 puts x where an f32 step is 2^-24, so the f32
    // addition itself rounds to nearest even.
    let half = f32::from_bits(sign | 0x3f00_0000);
    // (The sign is put back: a negative value that flushes to zero is −0, as in IEEE conversion.)
    let sub = (((x + half) - half).to_bits() & 0x7fff_ffff) | sign;
    let r = if abs < MIN_NORMAL { sub } else { normal };
    let r = if abs >= OVERFLOW { sign | INF } else { r };
    f32::from_bits(if abs > INF { bits } else { r })
}

/// [`round16`] on the CPU.
struct Round16;

impl candle_core::CustomOp1 for Round16 {
    fn name(&self) -> &'static str {
        "inorm-round16"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, candle_core::Shape)> {
        let (CpuStorage::F32(v), Some((a, b))) = (storage, layout.contiguous_offsets()) else {
            candle_core::bail!("inorm-round16 needs a contiguous f32 tensor");
        };
        let mut out = vec![0f32; b - a];
        round16_into(&v[a..b], &mut out);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

impl candle_core::InplaceOp1 for Round16 {
    fn name(&self) -> &'static str {
        "inorm-round16-inplace"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let (CpuStorage::F32(v), Some((a, b))) = (storage, layout.contiguous_offsets()) else {
            candle_core::bail!("inorm-round16 needs a contiguous f32 tensor");
        };
        round16_slice(&mut v[a..b]);
        Ok(())
    }
}

/// `1[t > 0]` in `t`'s dtype (the ReLU derivative, 0 at exactly 0).
pub fn positive_mask(t: &Tensor) -> Result<Tensor> {
    Ok(t.gt(0.0)?.to_dtype(t.dtype())?)
}

/// `t − c·1ᵀ` for a column `c` (`…×1`, any float dtype; cast to `t`'s).
pub fn sub_rows(t: &Tensor, c: &Tensor) -> Result<Tensor> {
    Ok(t.broadcast_sub(&c.to_dtype(t.dtype())?)?)
}

/// `t ⊙ c` row-wise for a column `c` (`…×1`; cast to `t`'s dtype).
pub fn scale_rows(t: &Tensor, c: &Tensor) -> Result<Tensor> {
    Ok(t.broadcast_mul(&c.to_dtype(t.dtype())?)?)
}

/// `⟨a_b, c_b⟩/n` per row, products in the tensors' dtype, sums in f64 (`…×1`, f64).
fn row_dot_mean(a: &Tensor, c: &Tensor) -> Result<Tensor> {
    row_means64(&a.mul(c)?)
}

/// LayerNorm backward (Eq. 2): `δ̂ = (1/σ)(δ − mean(δ)1 − y·mean(δ∘y))` for upstream `δ = ∂L/∂y`,
/// normalized output `y` and the column `inv_sigma = 1/σ` (f64). Exact gradient of LN forward.
pub fn ln_backward(delta: &Tensor, y: &Tensor, inv_sigma: &Tensor) -> Result<Tensor> {
    let centered = sub_rows(delta, &row_means64(delta)?)?;
    let mut mean_dy = row_dot_mean(delta, y)?;
    if fault::active(Fault::LnDecorrelationDropped) {
        mean_dy = mean_dy.zeros_like()?;
    }
    let decor = scale_rows(y, &mean_dy)?;
    scale_rows(&centered.sub(&decor)?, inv_sigma)
}

/// GradNorm backward (paper/model.md §2.7) of upstream `γ` for forward input `z` with row statistics `zs`.
/// `lateral` is ω as an `n×1` column (`K×n×1` in lockstep; lateral variant only). The forward is the
/// identity.
pub fn gradnorm_backward(
    variant: GradNorm,
    gamma: &Tensor,
    z: &Tensor,
    zs: &RowStats,
    lateral: Option<&Tensor>,
    eq2_exact: bool,
) -> Result<Tensor> {
    let mean_g = || -> Result<Tensor> {
        let m = row_means64(gamma)?;
        match fault::active(Fault::GradNormCenteringOff) {
            true => Ok(m.zeros_like()?),
            false => Ok(m),
        }
    };
    Ok(match variant {
        GradNorm::Off => gamma.clone(),
        GradNorm::Center => sub_rows(gamma, &mean_g()?)?,
        GradNorm::Scale => scale_rows(gamma, &zs.inv_std(GN_EPS)?)?,
        GradNorm::Decorrelate => gamma.sub(&scale_rows(z, &row_dot_mean(gamma, z)?)?)?,
        GradNorm::Full => {
            let inv_s = zs.inv_std(GN_EPS)?;
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

/// `∂L_loc/∂U` of the I-Norm local loss (paper/model.md §2.5),
/// `G_bj = (2λ/(Bn))·[m_b + 2(v_b − 1)(U_bj − m_b)]`, built from the f64 centered U, cast to `dtype`;
/// returns (G, loss per network `…×1×1` f64, `λ·mean_b[m_b² + (v_b − 1)²]`).
pub fn local_loss_grad(us: &RowStats, lambda: f64, dtype: DType) -> Result<(Tensor, Tensor)> {
    let bsz = us.mean.dim(D::Minus2)?;
    let coef = 2.0 * lambda / (bsz * us.n) as f64;
    let slope = us.var.affine(2.0 * coef, -2.0 * coef)?;
    let offset = us.mean.affine(coef, 0.0)?;
    let g = us
        .centered
        .broadcast_mul(&slope)?
        .broadcast_add(&offset)?
        .to_dtype(dtype)?;
    let loss = us
        .mean
        .sqr()?
        .add(&us.var.affine(1.0, -1.0)?.sqr()?)?
        .sum_keepdim(D::Minus2)?
        .affine(lambda / bsz as f64, 0.0)?;
    Ok((g, loss))
}

/// Cross-entropy with label smoothing (paper/model.md §4) of a stack of batches, on the device in f64.
#[derive(Clone, Debug)]
pub struct Ce {
    /// `(p − t)/B` in the logits' dtype (`…×B×C`).
    pub grad: Tensor,
    /// Sum over the batch of the per-sample losses (`…×1×1`, f64).
    pub loss_sum: Tensor,
    /// Correct argmax predictions, first maximum on ties (`…×1×1`, f64).
    pub correct: Tensor,
}

/// Cross-entropy of `logits` (`…×B×C`) against the smoothed one-hot `targets` (same shape, f64) and the
/// `labels` (`…×B×1`, u32); log-softmax as `o − logsumexp(o)`, in f64.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor, labels: &Tensor) -> Result<Ce> {
    let bsz = logits.dim(D::Minus2)? as f64;
    let o = logits.to_dtype(DType::F64)?;
    let mx = o.max_keepdim(D::Minus1)?;
    let shifted = o.broadcast_sub(&mx)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let lp = shifted.broadcast_sub(&lse)?;
    let grad = lp
        .exp()?
        .sub(targets)?
        .affine(1.0 / bsz, 0.0)?
        .to_dtype(logits.dtype())?;
    let loss_sum = targets
        .mul(&lp)?
        .sum_keepdim(D::Minus1)?
        .sum_keepdim(D::Minus2)?
        .neg()?;
    let correct = o
        .argmax_keepdim(D::Minus1)?
        .eq(labels)?
        .to_dtype(DType::F64)?
        .sum_keepdim(D::Minus2)?;
    Ok(Ce {
        grad,
        loss_sum,
        correct,
    })
}

/// `Σ_ab A_ab C_ab` per network, accumulated in f64 (`K×1×1` for `K×B×B` inputs).
fn frobenius64(a: &Tensor, c: &Tensor) -> Result<Tensor> {
    Ok(a.to_dtype(DType::F64)?
        .mul(&c.to_dtype(DType::F64)?)?
        .sum_keepdim(D::Minus1)?
        .sum_keepdim(D::Minus2)?)
}

/// `⟨a, c⟩ / (max(|a|, 1e-8)·max(|c|, 1e-8))` from the three f64 sums.
fn cosine_of(dot: &Tensor, aa: &Tensor, cc: &Tensor) -> Result<Tensor> {
    let na = aa
        .clamp(0.0, f64::INFINITY)?
        .sqrt()?
        .clamp(1e-8, f64::INFINITY)?;
    let nc = cc
        .clamp(0.0, f64::INFINITY)?
        .sqrt()?
        .clamp(1e-8, f64::INFINITY)?;
    Ok(dot.div(&na.mul(&nc)?)?)
}

/// `cos(vec(PᵀX), vec(QᵀX))` per network with the cosine of paper/model.md §8.2 (norms floored at 1e-8),
/// without forming the n×m products: `⟨PᵀX, QᵀX⟩_F = Σ (P Qᵀ)∘(X Xᵀ)` with the B×B Gram matrix
/// `gram = X Xᵀ` (computed once per layer). `p`, `q`: `K×B×n`; result `K×1×1`, f64, on the device.
pub fn gram_cosines(p: &Tensor, q: &Tensor, gram: &Tensor) -> Result<Tensor> {
    let pq = p.matmul(&q.t()?)?;
    let pp = p.matmul(&p.t()?)?;
    let qq = q.matmul(&q.t()?)?;
    cosine_of(
        &frobenius64(&pq, gram)?,
        &frobenius64(&pp, gram)?,
        &frobenius64(&qq, gram)?,
    )
}

/// [`gram_cosines`] of one network (`p`, `q`: B×n, `gram`: B×B), read back to the host.
pub fn gram_cosine(p: &Tensor, q: &Tensor, gram: &Tensor) -> Result<f64> {
    let c = gram_cosines(&p.unsqueeze(0)?, &q.unsqueeze(0)?, &gram.unsqueeze(0)?)?;
    Ok(host_f64(&c)?[0])
}

/// [`cosines`] of two equally shaped rank-2 tensors, read back to the host.
pub fn cosine(a: &Tensor, c: &Tensor) -> Result<f64> {
    Ok(host_f64(&cosines(&a.unsqueeze(0)?, &c.unsqueeze(0)?)?)?[0])
}

/// Cosine per network of two equally shaped `K×B×n` tensors over all their elements (f64 sums), norms
/// floored at 1e-8; `K×1×1` on the device.
pub fn cosines(a: &Tensor, c: &Tensor) -> Result<Tensor> {
    let a = a.to_dtype(DType::F64)?;
    let c = c.to_dtype(DType::F64)?;
    let sum =
        |t: Tensor| -> Result<Tensor> { Ok(t.sum_keepdim(D::Minus1)?.sum_keepdim(D::Minus2)?) };
    cosine_of(&sum(a.mul(&c)?)?, &sum(a.sqr()?)?, &sum(c.sqr()?)?)
}

/// Fused in-place `p_k ← max(p_k − lr_k·g_k, 0)` (clamp) or `p_k ← p_k − lr_k·g_k` on the CPU for each
/// network k of a stack (paper/model.md §6.1 steps 2 and 4); networks with `lr_k = None` are left as they
/// are (diverged).
struct SgdInplace<'a> {
    lr: &'a [Option<f64>],
    clamp: bool,
    /// The clamp keeps NaN, as PyTorch's `clamp_(min=0)` does (the f16-autocast mode, paper/model.md §14.3).
    keep_nan: bool,
}

impl InplaceOp2 for SgdInplace<'_> {
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
        let k = self.lr.len();
        if a1 - a0 != b1 - b0 || k == 0 || (a1 - a0) % k != 0 {
            candle_core::bail!(
                "inorm-sgd-clamp: {} vs {} elements for {k} networks",
                a1 - a0,
                b1 - b0
            );
        }
        let per = (a1 - a0) / k;
        fn run<T: Copy + PartialOrd + std::ops::Sub<Output = T> + std::ops::Mul<Output = T>>(
            p: &mut [T],
            g: &[T],
            per: usize,
            lr: &[Option<T>],
            clamp: bool,
            zero: T,
        ) {
            for ((p, g), lr) in p.chunks_mut(per).zip(g.chunks(per)).zip(lr) {
                let Some(lr) = *lr else { continue };
                for (p, g) in p.iter_mut().zip(g) {
                    let v = *p - lr * *g;
                    // max(v, 0) with NaN → 0, as f32::max does; a select, so the loop vectorizes.
                    *p = if !clamp || v > zero { v } else { zero };
                }
            }
        }
        /// PyTorch's `p.add_(g, alpha=-lr)` then `clamp_(min=0)`: NaN stays NaN.
        #[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(v <= 0)` is the point: true for NaN
        fn run_keep_nan(p: &mut [f32], g: &[f32], per: usize, lr: &[Option<f32>], clamp: bool) {
            for ((p, g), lr) in p.chunks_mut(per).zip(g.chunks(per)).zip(lr) {
                let Some(lr) = *lr else { continue };
                for (p, g) in p.iter_mut().zip(g) {
                    let v = *p - lr * *g;
                    // `!(v <= 0)` holds for v > 0 and for NaN: a select, so the loop vectorizes.
                    *p = if !clamp || !(v <= 0.0) { v } else { 0.0 };
                }
            }
        }
        match (s1, s2) {
            (CpuStorage::F32(p), CpuStorage::F32(g)) => {
                let lr: Vec<Option<f32>> = self.lr.iter().map(|l| l.map(|l| l as f32)).collect();
                match self.keep_nan {
                    true => run_keep_nan(&mut p[a0..a1], &g[b0..b1], per, &lr, self.clamp),
                    false => run(&mut p[a0..a1], &g[b0..b1], per, &lr, self.clamp, 0.0),
                }
            }
            (CpuStorage::F64(p), CpuStorage::F64(g)) if !self.keep_nan => {
                run(&mut p[a0..a1], &g[b0..b1], per, self.lr, self.clamp, 0.0);
            }
            _ => candle_core::bail!("inorm-sgd-clamp supports f32 and f64 of the same dtype"),
        }
        Ok(())
    }
}

/// One SGD update of a stack of K parameters `p` (`K×…`) with step `g` (paper/model.md §6.1): per network
/// k, `p − lr_k·g`, then decoupled weight decay `p·(1 − lr_k·wd_k)` when `wd_k > 0`, then the Dale clamp
/// when `clamp`. `lr[k] = None` leaves network k unchanged (it diverged). In place on the CPU without
/// weight decay (the figure setting); otherwise new tensors, with `lr` and the mask uploaded as `K×1…`
/// columns. Returns the updated parameter.
pub fn sgd_update(
    p: &Tensor,
    g: &Tensor,
    lr: &[Option<f64>],
    wd: &[f64],
    clamp: bool,
) -> Result<Tensor> {
    sgd_update_with(p, g, lr, wd, clamp, false)
}

/// [`sgd_update`] as the authors' optimizer applies what the no-op gradient scaler hands it (paper/model.md
/// §14.3): infinite and NaN steps are applied as they are, and the clamp keeps NaN (PyTorch's
/// `clamp_(min=0)`; −∞ becomes 0, +∞ stays). f32 on the CPU, without weight decay (the figure setting).
pub fn sgd_update_autocast(
    p: &Tensor,
    g: &Tensor,
    lr: &[Option<f64>],
    wd: &[f64],
    clamp: bool,
) -> Result<Tensor> {
    if !(p.device().is_cpu() && p.dtype() == DType::F32 && wd.iter().all(|&w| w == 0.0)) {
        return Err(Error::invalid(
            "f16-autocast SGD step",
            "needs f32 parameters on the CPU and no weight decay",
        ));
    }
    sgd_update_with(p, &g.contiguous()?, lr, wd, clamp, true)
}

fn sgd_update_with(
    p: &Tensor,
    g: &Tensor,
    lr: &[Option<f64>],
    wd: &[f64],
    clamp: bool,
    keep_nan: bool,
) -> Result<Tensor> {
    let clamp = clamp && !fault::active(Fault::DaleClampOff);
    let no_wd = wd.iter().all(|&w| w == 0.0);
    if p.device().is_cpu() && no_wd && p.is_contiguous() && g.is_contiguous() {
        p.inplace_op2(
            g,
            &SgdInplace {
                lr,
                clamp,
                keep_nan,
            },
        )?;
        return Ok(p.clone());
    }
    let k = lr.len();
    let mut shape = vec![k];
    shape.resize(p.rank(), 1);
    let col = |v: Vec<f64>| -> Result<Tensor> {
        Ok(Tensor::from_vec(v, shape.as_slice(), p.device())?.to_dtype(p.dtype())?)
    };
    let lr_t = col(lr.iter().map(|l| l.unwrap_or(0.0)).collect())?;
    let mut out = p.sub(&g.broadcast_mul(&lr_t)?)?;
    if !no_wd {
        let decay = lr
            .iter()
            .zip(wd)
            .map(|(l, w)| 1.0 - l.unwrap_or(0.0) * w)
            .collect();
        out = out.broadcast_mul(&col(decay)?)?;
    }
    if clamp {
        out = out.relu()?;
    }
    if lr.iter().any(Option::is_none) {
        let live = Tensor::from_vec(
            lr.iter().map(|l| u8::from(l.is_some())).collect::<Vec<_>>(),
            shape.as_slice(),
            p.device(),
        )?
        .broadcast_as(p.shape())?;
        out = live.where_cond(&out, p)?;
    }
    Ok(out)
}
