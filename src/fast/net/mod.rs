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
//!
//! This file holds the group (construction, batches, the optimizer step, what is read back); the per-layer
//! forward, backward and diagnostics are in `layers.rs`.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor, D};

use super::ops::{cross_entropy, host_f64, sgd_update, sgd_update_autocast};
use crate::error::{Error, Result};
use crate::fault::{self, Fault};
use crate::model::{
    validate_params, Batch, EvalReport, GradReport, HostTensor, Hyper, LayerDiag, NetSpec,
    NumericsReport, ParamInfo, ParamSet, StepReport, TrainedBy, CLASSES, HIDDEN_LAYERS,
};

mod autocast;
mod layers;
use layers::Pass;

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
    /// The f16-autocast mode (paper/model.md §14): f32 tensors rounded to f16 where CUDA autocast rounds.
    autocast: bool,
    /// f16-autocast mode: per network, what its last step saw (also for the step that diverged).
    last_numerics: Vec<Option<NumericsReport>>,
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

/// The diagnostics of each hidden layer in one network's row of the read-back table (empty when the pass
/// computed none).
fn layer_diags(row: &[f64], diag: bool) -> Vec<LayerDiag> {
    let end = SUMMARY_HEAD + if diag { DIAG_COLS * HIDDEN_LAYERS } else { 0 };
    row[SUMMARY_HEAD..end.min(row.len())]
        .chunks(DIAG_COLS)
        .map(|d| LayerDiag {
            output_alignment: d[0],
            gradient_alignment: d[1],
            mean: d[2],
            var: d[3],
        })
        .collect()
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
            autocast: false,
            last_numerics: vec![None; k],
        })
    }

    /// The same networks in the f16-autocast mode (paper/model.md §14): the authors' GPU numerics, float16
    /// autocast without loss scaling, emulated op by op on f32 tensors. Needs f32 on the CPU.
    pub fn into_autocast(mut self) -> Result<LockstepNet> {
        if self.dtype != DType::F32 || !self.device.is_cpu() {
            return Err(Error::invalid(
                "precision",
                format!(
                    "f16-autocast on {:?} {} (it emulates float16 autocast with f32 tensors on the CPU: \
                     use the fast CPU backend in f32)",
                    self.dtype,
                    super::device_name(&self.device)
                ),
            ));
        }
        self.autocast = true;
        Ok(self)
    }

    /// Whether the networks run in the f16-autocast mode.
    pub fn is_autocast(&self) -> bool {
        self.autocast
    }

    /// f16-autocast mode: what network k's last step saw (paper/model.md §14.5), also when that step
    /// diverged; `None` in f32 and f64 or before the first step.
    pub fn numerics(&self, k: usize) -> Option<&NumericsReport> {
        self.last_numerics.get(k).and_then(Option::as_ref)
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
            let updated = match self.autocast {
                true => sgd_update_autocast(p, &step, &lr, &wd, info.group.clamped())?,
                false => sgd_update(p, &step, &lr, &wd, info.group.clamped())?,
            };
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
        let (pass, watched) = self.pass(x, &targets, &labels, diag)?;
        let table = host_f64(&pass.summary)?;
        let cols = table.len() / self.k;
        let mut out = Vec::with_capacity(self.k);
        for (k, row) in table.chunks(cols).enumerate() {
            if self.autocast && self.live[k] {
                self.last_numerics[k] = Some(self.numerics_of(row, diag, &watched));
            }
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
            out.push(Ok(StepReport {
                loss,
                local_loss,
                correct: row[1] as usize,
                diag: layer_diags(row, diag),
                numerics: self.last_numerics[k].clone().filter(|_| self.autocast),
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

    /// The forward and backward pass of the networks' mode, and the names of the tensors the f16-autocast
    /// mode watched (empty otherwise).
    fn pass(
        &self,
        x: Tensor,
        targets: &Tensor,
        labels: &Tensor,
        diag: bool,
    ) -> Result<(Pass, Vec<String>)> {
        match self.autocast {
            true => self.forward_backward16(x, targets, labels, diag),
            false => Ok((self.forward_backward(x, targets, labels, diag)?, Vec::new())),
        }
    }

    /// The [`NumericsReport`] of one network's row of an f16-autocast step's table (the [`autocast::Watch`]
    /// columns follow the diagnostics).
    fn numerics_of(&self, row: &[f64], diag: bool, watched: &[String]) -> NumericsReport {
        let start = SUMMARY_HEAD + if diag { DIAG_COLS * HIDDEN_LAYERS } else { 0 };
        let w = &row[start..];
        let inorm = self.spec.preset.hidden_kind() == crate::model::HiddenKind::INorm;
        NumericsReport {
            max_drive: match inorm {
                true => w[..HIDDEN_LAYERS].to_vec(),
                false => Vec::new(),
            },
            zd_overflow: w[HIDDEN_LAYERS] as usize,
            grad_overflow: w[HIDDEN_LAYERS + 1] as usize,
            first_nonfinite: w[HIDDEN_LAYERS + 2..]
                .iter()
                .zip(watched)
                .find(|(v, _)| !v.is_finite())
                .map(|(_, name)| name.clone()),
        }
    }

    /// Evaluation of network k on batch (`xs[k]`, `ys[k]`) without gradients (GradNorm is the identity, no
    /// local loss); one host read for all networks.
    pub fn evaluate(&mut self, xs: &[&[f32]], ys: &[&[u8]]) -> Result<Vec<EvalReport>> {
        let (mut h, targets, labels) = self.inputs(xs, ys)?;
        let mut moments = Vec::with_capacity(HIDDEN_LAYERS);
        let mut watch = autocast::Watch::default();
        for i in 0..HIDDEN_LAYERS {
            let (hd, _) = match self.autocast {
                true => self.hidden_forward16(i, h, false, &mut watch)?,
                false => self.hidden_forward(i, h, false)?,
            };
            moments.push(hd.zs.moments()?);
            h = hd.h;
        }
        let logits = match self.autocast {
            true => self.output_forward16(&h, &mut watch)?.0,
            false => self.output_forward(&h)?.0,
        };
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
        let (pass, _) = self.pass(x, &targets, &labels, true)?;
        let table = host_f64(&pass.summary)?;
        let cols = table.len() / self.k;
        // The backward inserts task gradients only, one per task-trained parameter (hidden_backward and the
        // output layer); local-loss gradients live in `pass.local_grads`.
        let task = pass.grads;
        let mut out = Vec::with_capacity(self.k);
        for (k, row) in table.chunks(cols).enumerate() {
            let member = |t: &Tensor| -> Result<HostTensor> {
                let t = t.get(k)?;
                HostTensor::new(t.dims().to_vec(), host_f64(&t)?)
            };
            out.push(GradReport {
                loss: row[0],
                local_loss: row[2..SUMMARY_HEAD].to_vec(),
                logits: HostTensor::new(vec![rows, CLASSES], host_f64(&pass.logits.get(k)?)?)?,
                z: pass
                    .hidden
                    .iter()
                    .map(|h| member(&h.z))
                    .collect::<Result<_>>()?,
                y: pass
                    .hidden
                    .iter()
                    .map(|h| member(&h.out))
                    .collect::<Result<_>>()?,
                grads: self.member_host(&task, k)?,
                local_grads: self.member_host(&pass.local_grads, k)?,
                diag: layer_diags(row, true),
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
