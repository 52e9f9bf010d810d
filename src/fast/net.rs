//! SPEC §3 and §6.2 on candle tensors: [`FastNet`], the two-hidden-layer network of every condition with a
//! hand-derived backward (no autograd), the I-Norm local loss back-propagated inside the forward pass, the
//! SGD groups with Dale clamp, the diagnostics of §8 and evaluation. It computes what
//! `reference::network` computes, in f32 (default) or f64, on the CPU or (feature `cuda`) a GPU.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};

use super::ops::{
    column, cosine, cross_entropy_host, gradnorm_backward, gram_cosine, ln_backward,
    local_loss_grad, positive_mask, row_sums64, sgd_update, RowStats,
};
use crate::error::{Error, Result};
use crate::model::{
    validate_params, BackendInfo, Batch, EvalReport, GradNorm, GradReport, HiddenKind, HostTensor,
    Hyper, LayerDiag, NetSpec, ParamInfo, ParamSet, StepReport, TrainedBy, Trainer, CLASSES,
    HIDDEN_LAYERS, INORM_EPS, LN_EPS,
};

/// The I-Norm denominator of one layer's forward pass.
#[derive(Clone, Debug)]
enum Denom {
    /// Frozen uniform `D_EI = c·11ᵀ`: a per-sample scalar `d_b` (B×1 tensor and host copy).
    Row(Tensor, Vec<f64>),
    /// General `D_EI`: `Dn = sqrt(Q D_EIᵀ + ε_d)` (B×n).
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
    /// Layer input (B×m).
    x: Tensor,
    /// Z as defined for the metrics (§8.2): raw pre-activation for E/EI, normalized output for I-Norm.
    z: Tensor,
    /// Row statistics of z (f64, two-pass).
    zs: RowStats,
    /// What goes into the ReLU: LN(Z) for LN layers, Z otherwise.
    out: Tensor,
    /// `1/σ` per row of the layer's LayerNorm (LN layers).
    ln_inv_sigma: Option<Vec<f64>>,
    /// I-Norm denominator.
    dn: Option<Denom>,
    /// EI layers: inhibitory activity `H_I = X W_IEᵀ` (B×k).
    h_i: Option<Tensor>,
    /// `ReLU(out)`.
    h: Tensor,
}

/// Local-loss value and gradients of one layer.
type Local = (f64, Vec<(String, Tensor)>);

/// Everything one forward and backward pass produces, still on the device.
struct Pass {
    loss: f64,
    correct: usize,
    local_loss: Vec<f64>,
    logits: Vec<f64>,
    hidden: Vec<Hidden>,
    grads: BTreeMap<String, Tensor>,
    local_grads: BTreeMap<String, Tensor>,
    diag: Vec<LayerDiag>,
}

/// The fast network: candle tensors in `dtype` (f32 or f64) on `device`, explicit backward.
///
/// ```
/// use inorm::fast::FastNet;
/// use inorm::init::init_params;
/// use inorm::model::{Batch, NetSpec, Preset, Trainer};
/// let mut spec = NetSpec::new(Preset::INorm, 8);
/// spec.input = 16;
/// let params = init_params(&spec, 1).unwrap();
/// let mut net = FastNet::new(spec, &params, candle_core::DType::F32, candle_core::Device::Cpu).unwrap();
/// let x = vec![0.5f32; 4 * 16];
/// let y = [0u8, 1, 2, 3];
/// let g = net.grads(Batch { x: &x, y: &y }).unwrap();
/// assert!(g.loss.is_finite());
/// ```
#[derive(Debug)]
pub struct FastNet {
    spec: NetSpec,
    infos: Vec<ParamInfo>,
    dtype: DType,
    device: Device,
    params: BTreeMap<String, Tensor>,
    velocity: BTreeMap<String, Tensor>,
    /// Per hidden layer: `Some(c)` when D_EI is frozen and equal to `c·11ᵀ` (the per-sample scalar path).
    uniform_d_ei: Vec<Option<f64>>,
}

fn hname(i: usize, s: &str) -> String {
    format!("hidden.{i}.{s}")
}

impl FastNet {
    /// A network of `spec` with parameters `params` (checked against the preset's names and shapes), in
    /// `dtype` (`F32` or `F64`) on `device`.
    pub fn new(spec: NetSpec, params: &ParamSet, dtype: DType, device: Device) -> Result<FastNet> {
        spec.validate()?;
        validate_params(&spec, params, "<parameters>")?;
        if !matches!(dtype, DType::F32 | DType::F64) {
            return Err(Error::invalid(
                "dtype",
                format!("{dtype:?} (the fast path runs in f32 or f64)"),
            ));
        }
        super::tune_allocator();
        let infos = spec.param_infos();
        let mut map = BTreeMap::new();
        for info in &infos {
            let host = &params[&info.name];
            let shape: Vec<usize> = match info.shape.as_slice() {
                [n] if info.name.ends_with("lateral") => vec![*n, 1],
                [n] => vec![1, *n],
                s => s.to_vec(),
            };
            let t = Tensor::from_slice(&host.data, shape, &device)?.to_dtype(dtype)?;
            map.insert(info.name.clone(), t);
        }
        let uniform_d_ei = (0..HIDDEN_LAYERS)
            .map(|i| {
                let host = params.get(&hname(i, "d_ei"))?;
                if spec.train_inhib_out {
                    return None;
                }
                let c = *host.data.first()?;
                host.data.iter().all(|&v| v == c).then_some(c)
            })
            .collect();
        Ok(FastNet {
            spec,
            infos,
            dtype,
            device,
            params: map,
            velocity: BTreeMap::new(),
            uniform_d_ei,
        })
    }

    /// The dtype the network computes in.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device the network lives on.
    pub fn device(&self) -> &Device {
        &self.device
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

    /// `x Wᵀ` for a post × pre weight.
    fn lin(x: &Tensor, w: &Tensor) -> Result<Tensor> {
        Ok(x.matmul(&w.t()?)?)
    }

    /// Hidden layer `i` forward; with `local`, the local loss and its gradients are computed here from the
    /// current parameters (SPEC §2.5: back-propagated inside the forward pass).
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
                let den = match self.uniform_d_ei[i] {
                    Some(c) => {
                        let d: Vec<f64> = row_sums64(&q)?
                            .into_iter()
                            .map(|s| (c * s + INORM_EPS).sqrt())
                            .collect();
                        Denom::Row(column(&d, self.dtype, &self.device)?, d)
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
            (zs.normalized(LN_EPS, self.dtype)?, Some(zs.inv_std(LN_EPS)))
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

    /// I-Norm local loss and gradients (SPEC §2.5) on `U` (= z in value).
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
        match den {
            Denom::Row(_, d) => {
                // Closed form for D_EI = c·11ᵀ: ∂L/∂R_bk = −R_bk·c·c_b/d_b², c_b = Σ_j G_bj U_bj
                // = (2λ/B)[m_b² + 2 v_b (v_b − 1)].
                let c = self.uniform_d_ei[i].unwrap_or(1.0 / us.n as f64);
                let bsz = us.mean.len() as f64;
                let f: Vec<f64> = us
                    .mean
                    .iter()
                    .zip(&us.var)
                    .zip(d)
                    .map(|((m, v), d)| {
                        let cb = 2.0 * lambda / bsz * (m * m + 2.0 * v * (v - 1.0));
                        -c * cb / (d * d)
                    })
                    .collect();
                let d_r = r.broadcast_mul(&column(&f, self.dtype, &self.device)?)?;
                out.push((hname(i, "d_ie"), d_r.t()?.matmul(x)?));
            }
            Denom::Full(dn) => {
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
        }
        Ok((loss, out))
    }

    /// Subtractive-only local loss (SPEC §2.6): `G_bj = 2λ m_b/(Bn)`, `∂W_IE = −(G W_EI)ᵀ X`,
    /// `∂W_EI = −Gᵀ H_S`.
    fn inorm_sub_local(&self, i: usize, x: &Tensor, u: &Tensor, h_s: &Tensor) -> Result<Local> {
        let (bsz, n) = u.dims2()?;
        let lambda = self.spec.lambda;
        let m: Vec<f64> = row_sums64(u)?.into_iter().map(|s| s / n as f64).collect();
        let coef = 2.0 * lambda / (bsz * n) as f64;
        let g_col: Vec<f64> = m.iter().map(|m| coef * m).collect();
        let g = column(&g_col, self.dtype, &self.device)?
            .broadcast_as((bsz, n))?
            .contiguous()?;
        let w_ei = self.p(&hname(i, "w_ei"))?;
        let d_h = g.matmul(w_ei)?.neg()?;
        let loss = lambda * m.iter().map(|m| m * m).sum::<f64>() / bsz as f64;
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

    /// Diagnostics of SPEC §8.2–8.3 for one hidden layer; the gradient alignment uses B×B Gram matrices.
    fn layer_diag(&self, i: usize, hd: &Hidden) -> Result<LayerDiag> {
        let variant = self.layer_grad_norm();
        let y = match (&hd.ln_inv_sigma, self.spec.preset.layer_norm()) {
            (Some(_), true) => hd.out.clone(),
            _ => hd.zs.normalized(LN_EPS, self.dtype)?,
        };
        let inv_sigma = hd.zs.inv_std(LN_EPS);
        let output_alignment = cosine(&y.relu()?, &hd.z.relu()?)?;
        let m_own = positive_mask(&hd.z)?;
        let mut e_ref = if variant == GradNorm::Lateral {
            let n = hd.zs.n as f64;
            let mean: Vec<f64> = row_sums64(&m_own)?.into_iter().map(|s| s / n).collect();
            m_own.broadcast_sub(&column(&mean, self.dtype, &self.device)?)?
        } else {
            ln_backward(&positive_mask(&y)?, &y, &inv_sigma)?
        };
        let lateral = self.params.get(&hname(i, "lateral"));
        let mut e_own =
            gradnorm_backward(variant, &m_own, &hd.z, &hd.zs, lateral, self.spec.eq2_exact)?;
        if let Some(d) = &hd.dn {
            e_ref = e_ref.broadcast_div(d.tensor())?;
            e_own = e_own.broadcast_div(d.tensor())?;
        }
        let gram = hd.x.matmul(&hd.x.t()?)?;
        let (mean, var) = hd.zs.moments();
        Ok(LayerDiag {
            output_alignment,
            gradient_alignment: gram_cosine(&e_ref, &e_own, &gram)?,
            mean,
            var,
        })
    }

    /// The batch as a B×m tensor in the network's dtype.
    fn input(&self, batch: &Batch<'_>) -> Result<Tensor> {
        batch.validate(self.spec.input)?;
        Ok(
            Tensor::from_slice(batch.x, (batch.rows(), self.spec.input), &self.device)?
                .to_dtype(self.dtype)?,
        )
    }

    /// Output EI layer forward: logits `H W_EEᵀ − (H W_IEᵀ) W_EIᵀ + 1bᵀ`; returns (logits, H_I).
    fn output_forward(&self, h: &Tensor) -> Result<(Tensor, Tensor)> {
        let h_i = Self::lin(h, self.p("out.w_ie")?)?;
        let logits = Self::lin(h, self.p("out.w_ee")?)?
            .sub(&Self::lin(&h_i, self.p("out.w_ei")?)?)?
            .broadcast_add(self.p("out.bias")?)?;
        Ok((logits, h_i))
    }

    fn to_host_vec(t: &Tensor) -> Result<Vec<f64>> {
        Ok(t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?)
    }

    /// One forward and backward pass (SPEC §6.2 steps 1–3) from the current parameters.
    fn forward_backward(&self, batch: &Batch<'_>, diag: bool) -> Result<Pass> {
        let x = self.input(batch)?;
        let bsz = batch.rows();
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
                None => local_loss.push(0.0),
            }
            h = hd.h.clone();
            hidden.push(hd);
        }
        let (logits_t, h_i) = self.output_forward(&h)?;
        let logits = Self::to_host_vec(&logits_t)?;
        let ce = cross_entropy_host(&logits, CLASSES, batch.y, self.spec.label_smoothing);
        let delta =
            Tensor::from_slice(&ce.grad, (bsz, CLASSES), &self.device)?.to_dtype(self.dtype)?;
        let ones = Tensor::ones((1, bsz), self.dtype, &self.device)?;
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
        let diag = if diag {
            (0..HIDDEN_LAYERS)
                .map(|i| self.layer_diag(i, &hidden[i]))
                .collect::<Result<_>>()?
        } else {
            vec![]
        };
        let loss = ce.per_sample.iter().sum::<f64>() / bsz as f64;
        Ok(Pass {
            loss,
            correct: ce.correct,
            local_loss,
            logits,
            hidden,
            grads,
            local_grads,
            diag,
        })
    }

    /// Applies one optimizer step (SPEC §6.1) with task and local gradients (disjoint names).
    fn apply(
        &mut self,
        grads: &BTreeMap<String, Tensor>,
        local: &BTreeMap<String, Tensor>,
        hyper: &Hyper,
    ) -> Result<()> {
        for info in &self.infos {
            let Some(g) = grads.get(&info.name).or_else(|| local.get(&info.name)) else {
                continue;
            };
            if info.trained_by == TrainedBy::Frozen {
                continue;
            }
            let g = g.reshape(self.params[&info.name].shape())?;
            let lr = info.group.lr(hyper);
            let mu = info.group.momentum(hyper);
            let step = if mu > 0.0 {
                let v = match self.velocity.get(&info.name) {
                    Some(v) => v.affine(mu, 0.0)?.add(&g)?,
                    None => g.clone(),
                };
                self.velocity.insert(info.name.clone(), v.clone());
                v
            } else {
                g
            };
            let p = &self.params[&info.name];
            let updated = sgd_update(
                p,
                &step,
                lr,
                info.group.weight_decay(hyper),
                info.group.clamped(),
            )?;
            self.params.insert(info.name.clone(), updated);
        }
        Ok(())
    }

    fn to_host(&self, m: &BTreeMap<String, Tensor>) -> Result<ParamSet> {
        m.iter()
            .map(|(k, t)| {
                let data = Self::to_host_vec(t)?;
                let shape = self
                    .infos
                    .iter()
                    .find(|i| &i.name == k)
                    .map(|i| i.shape.clone())
                    .unwrap_or_else(|| t.dims().to_vec());
                Ok((k.clone(), HostTensor::new(shape, data)?))
            })
            .collect()
    }
}

impl Trainer for FastNet {
    fn spec(&self) -> &NetSpec {
        &self.spec
    }

    fn backend(&self) -> BackendInfo {
        BackendInfo {
            backend: "fast".into(),
            dtype: match self.dtype {
                DType::F64 => "f64".into(),
                _ => "f32".into(),
            },
            device: super::device_name(&self.device),
        }
    }

    fn params(&self) -> Result<ParamSet> {
        self.to_host(&self.params)
    }

    fn grads(&mut self, batch: Batch<'_>) -> Result<GradReport> {
        let pass = self.forward_backward(&batch, true)?;
        let task: BTreeMap<String, Tensor> = pass
            .grads
            .into_iter()
            .filter(|(k, _)| {
                self.infos
                    .iter()
                    .any(|i| &i.name == k && i.trained_by == TrainedBy::Task)
            })
            .collect();
        Ok(GradReport {
            loss: pass.loss,
            local_loss: pass.local_loss,
            logits: HostTensor::new(vec![batch.rows(), CLASSES], pass.logits)?,
            z: pass
                .hidden
                .iter()
                .map(|h| HostTensor::new(h.z.dims().to_vec(), Self::to_host_vec(&h.z)?))
                .collect::<Result<_>>()?,
            y: pass
                .hidden
                .iter()
                .map(|h| HostTensor::new(h.out.dims().to_vec(), Self::to_host_vec(&h.out)?))
                .collect::<Result<_>>()?,
            grads: self.to_host(&task)?,
            local_grads: self.to_host(&pass.local_grads)?,
            diag: pass.diag,
        })
    }

    fn train_step(&mut self, batch: Batch<'_>, hyper: &Hyper, diag: bool) -> Result<StepReport> {
        let pass = self.forward_backward(&batch, diag)?;
        if !pass.loss.is_finite() {
            return Err(Error::Diverged(format!("task loss is {}", pass.loss)));
        }
        let local_loss: f64 = pass.local_loss.iter().sum();
        if !local_loss.is_finite() {
            return Err(Error::Diverged(format!("local loss is {local_loss}")));
        }
        drop(pass.hidden);
        self.apply(&pass.grads, &pass.local_grads, hyper)?;
        Ok(StepReport {
            loss: pass.loss,
            local_loss,
            correct: pass.correct,
            diag: pass.diag,
        })
    }

    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalReport> {
        let mut h = self.input(&batch)?;
        let mut moments = Vec::with_capacity(HIDDEN_LAYERS);
        for i in 0..HIDDEN_LAYERS {
            let (hd, _) = self.hidden_forward(i, h, false)?;
            moments.push(hd.zs.moments());
            h = hd.h;
        }
        let (logits, _) = self.output_forward(&h)?;
        let logits = Self::to_host_vec(&logits)?;
        let ce = cross_entropy_host(&logits, CLASSES, batch.y, self.spec.label_smoothing);
        Ok(EvalReport {
            loss_sum: ce.per_sample.iter().sum(),
            correct: ce.correct,
            moments,
        })
    }
}
