//! paper/model.md §3 and §6.2 on candle tensors: [`LockstepNet`], K networks of one condition and width
//! (each with its own parameters, data, learning rates and seed) stepped together with batched tensor ops:
//! the two-hidden-layer network of every condition with a hand-derived backward (no autograd), the I-Norm
//! local loss back-propagated inside the forward pass, the SGD groups with Dale clamp, the diagnostics of §8
//! and evaluation. It computes what `reference::network` computes, in f32 (default) or f64, on the CPU or
//! (feature `cuda`) a GPU. K = 1 is the single network ([`super::FastNet`] wraps it).
//!
//! Every tensor carries the network index as its first dimension (`K×B×n` activations, `K×post×pre`
//! weights); matmuls are batched over it and no op reduces across it, so networks never mix. A network whose
//! loss turns NaN or infinite is reported as diverged and frozen (its parameters are never updated again),
//! while the others go on. One training step reads back one `K×S` table (losses, correct counts,
//! diagnostics) and nothing else (counted by [`super::ops::host_reads`]).

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor, D};

use super::ops::{
    cosines, cross_entropy, gradnorm_backward, gram_cosines, host_f64, ln_backward,
    local_loss_grad, positive_mask, row_means64, row_sums64, sgd_update, sub_rows, RowStats,
};
use crate::error::{Error, Result};
use crate::fault::{self, Fault};
use crate::model::{
    validate_params, Batch, EvalReport, GradNorm, GradReport, HiddenKind, HostTensor, Hyper,
    LayerDiag, NetSpec, ParamInfo, ParamSet, StepReport, TrainedBy, CLASSES, HIDDEN_LAYERS,
    INORM_EPS, LN_EPS,
};

/// The I-Norm denominator of one layer's forward pass.
#[derive(Clone, Debug)]
enum Denom {
    /// Frozen uniform `D_EI = c·11ᵀ`: a per-sample scalar `d_b` (`K×B×1` in the network's dtype, and f64).
    Row(Tensor, Tensor),
    /// General `D_EI`: `Dn = sqrt(Q D_EIᵀ + ε_d)` (`K×B×n`).
    Full(Tensor),
}

impl Denom {
    fn tensor(&self) -> &Tensor {
        match self {
            Denom::Row(t, _) | Denom::Full(t) => t,
        }
    }
}

/// What a hidden layer's forward keeps for its backward and diagnostics.
struct Hidden {
    /// Layer input (`K×B×m`).
    x: Tensor,
    /// Z as defined for the metrics (§8.2): raw pre-activation for E/EI, normalized output for I-Norm.
    z: Tensor,
    /// Row statistics of z (f64, two-pass).
    zs: RowStats,
    /// What goes into the ReLU: LN(Z) for LN layers, Z otherwise.
    out: Tensor,
    /// `1/σ` per row of the layer's LayerNorm (LN layers; f64 column).
    ln_inv_sigma: Option<Tensor>,
    /// I-Norm denominator.
    dn: Option<Denom>,
    /// EI layers: inhibitory activity `H_I = X W_IEᵀ` (`K×B×k`).
    h_i: Option<Tensor>,
    /// `ReLU(out)`.
    h: Tensor,
}

/// Local-loss value (`K×1×1`, f64) and gradients of one layer.
type Local = (Tensor, Vec<(String, Tensor)>);

/// Everything one forward and backward pass produces, still on the device.
struct Pass {
    /// Per network: mean task loss, correct count, local loss of each hidden layer and, with diagnostics,
    /// (output alignment, gradient alignment, μ̄, v̄) of each hidden layer (`K×1×S`, f64).
    summary: Tensor,
    logits: Tensor,
    hidden: Vec<Hidden>,
    grads: BTreeMap<String, Tensor>,
    local_grads: BTreeMap<String, Tensor>,
}

/// Columns of the step summary before the diagnostics: loss, correct, one local loss per hidden layer.
const SUMMARY_HEAD: usize = 2 + HIDDEN_LAYERS;
/// Diagnostic columns per hidden layer.
const DIAG_COLS: usize = 4;

/// K networks of one [`NetSpec`] stepped together, candle tensors in `dtype` (f32 or f64) on `device`,
/// explicit backward.
///
/// ```
/// use inorm::fast::LockstepNet;
/// use inorm::init::init_params;
/// use inorm::model::{Hyper, NetSpec, Preset};
/// let mut spec = NetSpec::new(Preset::INorm, 8);
/// spec.input = 16;
/// let params = [init_params(&spec, 1).unwrap(), init_params(&spec, 2).unwrap()];
/// let mut net =
///     LockstepNet::new(spec, &params, candle_core::DType::F32, candle_core::Device::Cpu).unwrap();
/// let x = vec![0.5f32; 4 * 16];
/// let y = [0u8, 1, 2, 3];
/// let hyper = [Hyper::sgd(1e-3, 1e-3, 1e-4); 2];
/// let r = net.step(&[&x, &x], &[&y, &y], &hyper, true).unwrap();
/// assert!(r.iter().all(|r| r.as_ref().unwrap().loss.is_finite()));
/// ```
#[derive(Debug)]
pub struct LockstepNet {
    spec: NetSpec,
    infos: Vec<ParamInfo>,
    dtype: DType,
    device: Device,
    k: usize,
    params: BTreeMap<String, Tensor>,
    velocity: BTreeMap<String, Tensor>,
    /// Per hidden layer: `Some(c)` (`K×1×1`, f64) when every network's D_EI is frozen and equal to `c·11ᵀ`
    /// (the per-sample scalar path).
    uniform_d_ei: Vec<Option<Tensor>>,
    /// Networks still training (false after divergence).
    live: Vec<bool>,
}

fn hname(i: usize, s: &str) -> String {
    format!("hidden.{i}.{s}")
}

/// The device shape of a parameter of host shape `shape` (vectors as a row, ω as a column).
fn device_shape(name: &str, shape: &[usize]) -> Vec<usize> {
    match shape {
        [n] if name.ends_with("lateral") => vec![*n, 1],
        [n] => vec![1, *n],
        s => s.to_vec(),
    }
}

impl LockstepNet {
    /// K = `params.len()` networks of `spec`, network k starting from `params[k]` (each checked against
    /// the preset's names and shapes), in `dtype` (`F32` or `F64`) on `device`.
    pub fn new(
        spec: NetSpec,
        params: &[ParamSet],
        dtype: DType,
        device: Device,
    ) -> Result<LockstepNet> {
        spec.validate()?;
        if params.is_empty() {
            return Err(Error::invalid(
                "lockstep networks",
                "none given (need at least one parameter set)",
            ));
        }
        for (k, p) in params.iter().enumerate() {
            validate_params(&spec, p, &format!("<parameters of network {k}>"))?;
        }
        if !matches!(dtype, DType::F32 | DType::F64) {
            return Err(Error::invalid(
                "dtype",
                format!("{dtype:?} (the fast path runs in f32 or f64)"),
            ));
        }
        super::tune_allocator();
        let k = params.len();
        let infos = spec.param_infos();
        let mut map = BTreeMap::new();
        for info in &infos {
            let mut data = Vec::with_capacity(k * info.shape.iter().product::<usize>());
            for p in params {
                data.extend_from_slice(&p[&info.name].data);
            }
            let mut shape = vec![k];
            shape.extend(device_shape(&info.name, &info.shape));
            let t = Tensor::from_vec(data, shape, &device)?.to_dtype(dtype)?;
            map.insert(info.name.clone(), t);
        }
        let uniform_d_ei = (0..HIDDEN_LAYERS)
            .map(|i| -> Result<Option<Tensor>> {
                if spec.train_inhib_out {
                    return Ok(None);
                }
                let mut cs = Vec::with_capacity(k);
                for p in params {
                    let Some(host) = p.get(&hname(i, "d_ei")) else {
                        return Ok(None);
                    };
                    let Some(&c) = host.data.first() else {
                        return Ok(None);
                    };
                    if !host.data.iter().all(|&v| v == c) {
                        return Ok(None);
                    }
                    cs.push(c);
                }
                Ok(Some(Tensor::from_vec(cs, (k, 1, 1), &device)?))
            })
            .collect::<Result<_>>()?;
        Ok(LockstepNet {
            spec,
            infos,
            dtype,
            device,
            k,
            params: map,
            velocity: BTreeMap::new(),
            uniform_d_ei,
            live: vec![true; k],
        })
    }

    /// The number of networks K.
    pub fn len(&self) -> usize {
        self.k
    }

    /// Always false (a lockstep group has at least one network).
    pub fn is_empty(&self) -> bool {
        self.k == 0
    }

    /// The networks' specification.
    pub fn spec(&self) -> &NetSpec {
        &self.spec
    }

    /// The dtype the networks compute in.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device the networks live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Which networks are still training (false once diverged).
    pub fn live(&self) -> &[bool] {
        &self.live
    }

    fn p(&self, name: &str) -> Result<&Tensor> {
        self.params
            .get(name)
            .ok_or_else(|| Error::invalid("parameter", format!("{name} is not in this network")))
    }

    /// GradNorm variant applied by hidden layers (sub layers use `sub_grad_norm`).
    fn layer_grad_norm(&self) -> GradNorm {
        match self.spec.preset.hidden_kind() {
            HiddenKind::INorm => self.spec.preset.grad_norm(),
            HiddenKind::INormSub => self.spec.sub_grad_norm,
            _ => GradNorm::Off,
        }
    }

    /// `x Wᵀ` for a post × pre weight (batched over networks).
    fn lin(x: &Tensor, w: &Tensor) -> Result<Tensor> {
        Ok(x.matmul(&w.t()?)?)
    }

    /// Hidden layer `i` forward; with `local`, the local loss and its gradients are computed here from the
    /// current parameters (paper/model.md §2.5: back-propagated inside the forward pass).
    fn hidden_forward(&self, i: usize, x: Tensor, local: bool) -> Result<(Hidden, Option<Local>)> {
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
        let (out, ln_inv_sigma) = if spec.preset.layer_norm() {
            (
                zs.normalized(LN_EPS, self.dtype)?,
                Some(zs.inv_std(LN_EPS)?),
            )
        } else {
            (z.clone(), None)
        };
        let h = out.relu()?;
        Ok((
            Hidden {
                x,
                z,
                zs,
                out,
                ln_inv_sigma,
                dn,
                h_i,
                h,
            },
            loc,
        ))
    }

    /// I-Norm local loss and gradients (paper/model.md §2.5) on `U` (= z in value).
    #[allow(clippy::too_many_arguments)]
    fn inorm_local(
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
    fn inorm_sub_local(&self, i: usize, x: &Tensor, u: &Tensor, h_s: &Tensor) -> Result<Local> {
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
    fn hidden_backward(
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
    fn layer_diag(&self, i: usize, hd: &Hidden) -> Result<Tensor> {
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

    /// Checks K batches of equal size and stacks them: (`K×B×m` input in the networks' dtype, `K×B×C`
    /// smoothed targets in f64, `K×B×1` labels).
    fn inputs(&self, xs: &[&[f32]], ys: &[&[u8]]) -> Result<(Tensor, Tensor, Tensor)> {
        if xs.len() != self.k || ys.len() != self.k {
            return Err(Error::ShapeMismatch {
                op: "lockstep batches".into(),
                expected: format!("{} batches (one per network)", self.k),
                got: format!("{} inputs and {} label sets", xs.len(), ys.len()),
            });
        }
        let m = self.spec.input;
        let rows = ys[0].len();
        let mut x = Vec::with_capacity(self.k * rows * m);
        let mut t = Vec::with_capacity(self.k * rows * CLASSES);
        let mut l = Vec::with_capacity(self.k * rows);
        let s = match fault::active(Fault::LabelSmoothingOff) {
            true => 0.0,
            false => self.spec.label_smoothing,
        };
        for (k, (xk, yk)) in xs.iter().zip(ys).enumerate() {
            let b = Batch { x: xk, y: yk };
            b.validate(m)?;
            if b.rows() != rows {
                return Err(Error::ShapeMismatch {
                    op: format!("lockstep batch of network {k}"),
                    expected: format!("{rows} samples (as network 0)"),
                    got: format!("{}", b.rows()),
                });
            }
            x.extend_from_slice(xk);
            for &label in *yk {
                for c in 0..CLASSES {
                    t.push(
                        (1.0 - s) * f64::from(u8::from(c == label as usize)) + s / CLASSES as f64,
                    );
                }
                l.push(u32::from(label));
            }
        }
        let x = Tensor::from_vec(x, (self.k, rows, m), &self.device)?.to_dtype(self.dtype)?;
        let t = Tensor::from_vec(t, (self.k, rows, CLASSES), &self.device)?;
        let l = Tensor::from_vec(l, (self.k, rows, 1), &self.device)?;
        Ok((x, t, l))
    }

    /// Output EI layer forward: logits `H W_EEᵀ − (H W_IEᵀ) W_EIᵀ + 1bᵀ`; returns (logits, H_I).
    fn output_forward(&self, h: &Tensor) -> Result<(Tensor, Tensor)> {
        let h_i = Self::lin(h, self.p("out.w_ie")?)?;
        let logits = Self::lin(h, self.p("out.w_ee")?)?
            .sub(&Self::lin(&h_i, self.p("out.w_ei")?)?)?
            .broadcast_add(self.p("out.bias")?)?;
        Ok((logits, h_i))
    }

    /// One forward and backward pass (paper/model.md §6.2 steps 1–3) from the current parameters.
    fn forward_backward(
        &self,
        x: Tensor,
        targets: &Tensor,
        labels: &Tensor,
        diag: bool,
    ) -> Result<Pass> {
        let bsz = x.dim(1)?;
        let mut hidden: Vec<Hidden> = Vec::with_capacity(HIDDEN_LAYERS);
        let mut local_loss = Vec::with_capacity(HIDDEN_LAYERS);
        let mut local_grads = BTreeMap::new();
        let mut h = x;
        for i in 0..HIDDEN_LAYERS {
            let (hd, loc) = self.hidden_forward(i, h, true)?;
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
        let (logits, h_i) = self.output_forward(&h)?;
        let ce = cross_entropy(&logits, targets, labels)?;
        let delta = ce.grad;
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
        let mut cols = vec![ce.loss_sum.affine(1.0 / bsz as f64, 0.0)?, ce.correct];
        cols.extend(local_loss);
        if diag {
            for (i, hd) in hidden.iter().enumerate() {
                cols.push(self.layer_diag(i, hd)?);
            }
        }
        Ok(Pass {
            summary: Tensor::cat(&cols, D::Minus1)?,
            logits,
            hidden,
            grads,
            local_grads,
        })
    }

    /// Applies one optimizer step (paper/model.md §6.1) with task and local gradients (disjoint names) to
    /// the live networks, each with its own hyperparameters.
    fn apply(
        &mut self,
        grads: &BTreeMap<String, Tensor>,
        local: &BTreeMap<String, Tensor>,
        hypers: &[Hyper],
    ) -> Result<()> {
        for info in &self.infos {
            let Some(g) = grads.get(&info.name).or_else(|| local.get(&info.name)) else {
                continue;
            };
            if info.trained_by == TrainedBy::Frozen {
                continue;
            }
            let g = g.reshape(self.params[&info.name].shape())?;
            let lr: Vec<Option<f64>> = hypers
                .iter()
                .zip(&self.live)
                .map(|(h, &live)| live.then(|| info.group.lr(h)))
                .collect();
            let mu: Vec<f64> = hypers.iter().map(|h| info.group.momentum(h)).collect();
            let wd: Vec<f64> = hypers.iter().map(|h| info.group.weight_decay(h)).collect();
            let step = if mu.iter().any(|&m| m > 0.0) {
                let v = match self.velocity.get(&info.name) {
                    Some(v) => {
                        let mu_t = Tensor::from_vec(mu, (self.k, 1, 1), &self.device)?
                            .to_dtype(self.dtype)?;
                        v.broadcast_mul(&mu_t)?.add(&g)?
                    }
                    None => g.clone(),
                };
                self.velocity.insert(info.name.clone(), v.clone());
                v
            } else {
                g
            };
            let p = &self.params[&info.name];
            let updated = sgd_update(p, &step, &lr, &wd, info.group.clamped())?;
            self.params.insert(info.name.clone(), updated);
        }
        Ok(())
    }

    /// One SGD step of every network (paper/model.md §6.1–6.2): network k on batch (`xs[k]`, `ys[k]`) with
    /// `hypers[k]`; every batch has the same size. Returns per network its report, or
    /// [`Error::Diverged`] when its task or local loss is NaN or infinite (its parameters are then left as
    /// before the step and never updated again; the others go on). Diagnostics when `diag`. Errors (for
    /// every network) only for bad input.
    pub fn step(
        &mut self,
        xs: &[&[f32]],
        ys: &[&[u8]],
        hypers: &[Hyper],
        diag: bool,
    ) -> Result<Vec<Result<StepReport>>> {
        if hypers.len() != self.k {
            return Err(Error::ShapeMismatch {
                op: "lockstep hyperparameters".into(),
                expected: format!("{} (one per network)", self.k),
                got: format!("{}", hypers.len()),
            });
        }
        let (x, targets, labels) = self.inputs(xs, ys)?;
        let pass = self.forward_backward(x, &targets, &labels, diag)?;
        let table = host_f64(&pass.summary)?;
        let cols = table.len() / self.k;
        let mut out = Vec::with_capacity(self.k);
        for (k, row) in table.chunks(cols).enumerate() {
            if !self.live[k] {
                out.push(Err(Error::Diverged(
                    "diverged at an earlier step (frozen)".into(),
                )));
                continue;
            }
            let loss = row[0];
            let local_loss: f64 = row[2..SUMMARY_HEAD].iter().sum();
            if !loss.is_finite() {
                self.live[k] = false;
                out.push(Err(Error::Diverged(format!("task loss is {loss}"))));
                continue;
            }
            if !local_loss.is_finite() {
                self.live[k] = false;
                out.push(Err(Error::Diverged(format!("local loss is {local_loss}"))));
                continue;
            }
            let diag = row[SUMMARY_HEAD..]
                .chunks(DIAG_COLS)
                .map(|d| LayerDiag {
                    output_alignment: d[0],
                    gradient_alignment: d[1],
                    mean: d[2],
                    var: d[3],
                })
                .collect();
            out.push(Ok(StepReport {
                loss,
                local_loss,
                correct: row[1] as usize,
                diag,
            }));
        }
        let Pass {
            hidden,
            grads,
            local_grads,
            ..
        } = pass;
        drop(hidden);
        if self.live.iter().any(|&l| l) {
            self.apply(&grads, &local_grads, hypers)?;
        }
        Ok(out)
    }

    /// Evaluation of network k on batch (`xs[k]`, `ys[k]`) without gradients (GradNorm is the identity, no
    /// local loss); one host read for all networks.
    pub fn evaluate(&mut self, xs: &[&[f32]], ys: &[&[u8]]) -> Result<Vec<EvalReport>> {
        let (mut h, targets, labels) = self.inputs(xs, ys)?;
        let mut moments = Vec::with_capacity(HIDDEN_LAYERS);
        for i in 0..HIDDEN_LAYERS {
            let (hd, _) = self.hidden_forward(i, h, false)?;
            moments.push(hd.zs.moments()?);
            h = hd.h;
        }
        let (logits, _) = self.output_forward(&h)?;
        let ce = cross_entropy(&logits, &targets, &labels)?;
        let mut cols = vec![ce.loss_sum, ce.correct];
        cols.extend(moments);
        let table = host_f64(&Tensor::cat(&cols, D::Minus1)?)?;
        let width = table.len() / self.k;
        Ok(table
            .chunks(width)
            .map(|row| EvalReport {
                loss_sum: row[0],
                correct: row[1] as usize,
                moments: row[2..].chunks(2).map(|m| (m[0], m[1])).collect(),
            })
            .collect())
    }

    /// Forward and backward of every network on its batch, no update: the full report of each (test and
    /// interop path; reads everything back).
    pub fn grads(&mut self, xs: &[&[f32]], ys: &[&[u8]]) -> Result<Vec<GradReport>> {
        let (x, targets, labels) = self.inputs(xs, ys)?;
        let rows = ys[0].len();
        let pass = self.forward_backward(x, &targets, &labels, true)?;
        let table = host_f64(&pass.summary)?;
        let cols = table.len() / self.k;
        // The backward inserts task gradients only, one per task-trained parameter (hidden_backward and the
        // output layer); local-loss gradients live in `pass.local_grads`.
        let task = pass.grads;
        let mut out = Vec::with_capacity(self.k);
        for (k, row) in table.chunks(cols).enumerate() {
            out.push(GradReport {
                loss: row[0],
                local_loss: row[2..SUMMARY_HEAD].to_vec(),
                logits: HostTensor::new(vec![rows, CLASSES], host_f64(&pass.logits.get(k)?)?)?,
                z: pass
                    .hidden
                    .iter()
                    .map(|h| {
                        let z = h.z.get(k)?;
                        HostTensor::new(z.dims().to_vec(), host_f64(&z)?)
                    })
                    .collect::<Result<_>>()?,
                y: pass
                    .hidden
                    .iter()
                    .map(|h| {
                        let y = h.out.get(k)?;
                        HostTensor::new(y.dims().to_vec(), host_f64(&y)?)
                    })
                    .collect::<Result<_>>()?,
                grads: self.member_host(&task, k)?,
                local_grads: self.member_host(&pass.local_grads, k)?,
                diag: row[SUMMARY_HEAD..]
                    .chunks(DIAG_COLS)
                    .map(|d| LayerDiag {
                        output_alignment: d[0],
                        gradient_alignment: d[1],
                        mean: d[2],
                        var: d[3],
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Network k's slice of every tensor of `m`, on the host with the parameters' shapes.
    fn member_host(&self, m: &BTreeMap<String, Tensor>, k: usize) -> Result<ParamSet> {
        m.iter()
            .map(|(name, t)| {
                let t = t.get(k)?;
                let data = host_f64(&t)?;
                let shape = self
                    .infos
                    .iter()
                    .find(|i| &i.name == name)
                    .map(|i| i.shape.clone())
                    .unwrap_or_else(|| t.dims().to_vec());
                Ok((name.clone(), HostTensor::new(shape, data)?))
            })
            .collect()
    }

    /// Current parameters of network k (the names of [`NetSpec::param_infos`]).
    pub fn params(&self, k: usize) -> Result<ParamSet> {
        if k >= self.k {
            return Err(Error::invalid(
                "network index",
                format!("{k} (the group has {} networks)", self.k),
            ));
        }
        self.member_host(&self.params, k)
    }
}
