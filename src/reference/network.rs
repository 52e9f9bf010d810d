//! paper/model.md §3 and §6.2: the two-hidden-layer network of every condition, one forward and backward pass, and one
//! training step, on the f64 oracle. Parameters live in a name → matrix map (biases and ω as n×1 columns),
//! with the names of [`NetSpec::param_infos`].

use std::collections::BTreeMap;

use super::autocast::{
    ei16_backward, ei16_effective, inorm16_forward, inorm16_task_backward, inorm_sub16_forward,
    layer16_forward, linear16_backward, local16_grads, local_sub16_grads,
};
use super::dense::{dense_backward, dense_forward};
use super::ei::{ei_backward, ei_forward};
use super::gradnorm::gradnorm_backward;
use super::inorm::{inorm_forward, inorm_task_backward, local_loss_grads, INormParams};
use super::inorm_sub::{inorm_sub_forward, local_loss_sub_grads};
use super::layernorm::{ln_backward, ln_forward, LnCache};
use super::loss::cross_entropy;
use super::metrics::{gradient_alignment, moments, output_alignment};
use super::optim::{sgd_step, sgd_step_autocast, SgdState};
use super::{relu, relu_mask, Mat, Vector};
use crate::error::{Error, Result};
use crate::init::init_params;
use crate::model::{
    validate_params, BackendInfo, Batch, EvalReport, GradNorm, GradReport, HiddenKind, HostTensor,
    Hyper, LayerDiag, NetSpec, ParamSet, StepReport, Trainer, HIDDEN_LAYERS, LN_EPS,
};

/// What a hidden layer's forward keeps for its backward and diagnostics.
struct HiddenPass {
    /// Layer input (B×m).
    x: Mat,
    /// Pre-ReLU output Z as defined for the metrics (§8.2): raw pre-activation for E/EI (before LN),
    /// the normalized output for I-Norm.
    z: Mat,
    /// What goes into the ReLU: LN(Z) for LN layers, Z otherwise.
    out: Mat,
    /// LayerNorm cache (LN layers).
    ln: Option<LnCache>,
    /// I-Norm denominator Dn (B×n).
    dn: Option<Mat>,
}

/// The result of one forward and backward pass.
pub struct Pass {
    /// Mean task loss.
    pub loss: f64,
    /// Correct predictions.
    pub correct: usize,
    /// Local loss per hidden layer (0 for non-I-Norm layers).
    pub local_loss: Vec<f64>,
    /// Logits (B×10).
    pub logits: Mat,
    /// Pre-activation Z per hidden layer (before LayerNorm in LN networks; see [`GradReport::z`]).
    pub z: Vec<Mat>,
    /// ReLU input per hidden layer: LN(Z) in LN networks, Z otherwise (see [`GradReport::y`]).
    pub y: Vec<Mat>,
    /// Task gradients of task-trained parameters.
    pub grads: BTreeMap<String, Mat>,
    /// Local-loss gradients of locally trained parameters.
    pub local_grads: BTreeMap<String, Mat>,
    /// Diagnostics per hidden layer (empty unless asked for).
    pub diag: Vec<LayerDiag>,
    /// Per hidden layer, the error reaching its ReLU input, `∂L/∂ReLU(y) ∘ 1[y > 0]` (B×n): what the layer's
    /// normalizing backward (LayerNorm's, or GradNorm's) receives. The tests measure that backward's
    /// cancellation with it.
    pub errors: Vec<Mat>,
}

/// The reference network: f64, nalgebra, clarity over speed. With `autocast` it is the oracle of the
/// f16-autocast mode (paper/model.md §14): every layer through [`super::autocast`].
#[derive(Clone, Debug)]
pub struct ReferenceNet {
    spec: NetSpec,
    params: BTreeMap<String, Mat>,
    sgd: SgdState,
    autocast: bool,
}

impl ReferenceNet {
    /// A network with the given parameters (checked against the preset's names and shapes).
    pub fn new(spec: NetSpec, params: &ParamSet) -> Result<ReferenceNet> {
        spec.validate()?;
        validate_params(&spec, params, "<parameters>")?;
        let params = params
            .iter()
            .map(|(k, v)| (k.clone(), v.to_matrix()))
            .collect();
        Ok(ReferenceNet {
            spec,
            params,
            sgd: SgdState::default(),
            autocast: false,
        })
    }

    /// The oracle of the f16-autocast mode (paper/model.md §14) with the given parameters: f64 between the
    /// f16 rounding points of §14.2, the SGD step as the no-op scaler applies it (§14.3).
    pub fn autocast(spec: NetSpec, params: &ParamSet) -> Result<ReferenceNet> {
        let mut net = ReferenceNet::new(spec, params)?;
        net.autocast = true;
        Ok(net)
    }

    /// A network initialized as paper/model.md §5 from `seed`.
    pub fn init(spec: NetSpec, seed: u64) -> Result<ReferenceNet> {
        let p = init_params(&spec, seed)?;
        ReferenceNet::new(spec, &p)
    }

    fn p(&self, name: &str) -> &Mat {
        &self.params[name]
    }

    fn v(&self, name: &str) -> Vector {
        self.params[name].column(0).into_owned()
    }

    fn lateral(&self, i: usize) -> Option<Vector> {
        self.params
            .get(&format!("hidden.{i}.lateral"))
            .map(|m| m.column(0).into_owned())
    }

    /// Hidden layer `i` forward on input `x`; local-loss gradients are computed here, "inside the forward
    /// pass", from the current parameters (paper/model.md §2.5), when `local` is given.
    fn hidden_forward(
        &self,
        i: usize,
        x: Mat,
        local: Option<&mut (Vec<f64>, BTreeMap<String, Mat>)>,
    ) -> HiddenPass {
        let name = |s: &str| format!("hidden.{i}.{s}");
        let b = self.v(&name("bias"));
        let spec = &self.spec;
        match spec.preset.hidden_kind() {
            HiddenKind::E | HiddenKind::Ei => {
                let z = if self.autocast {
                    layer16_forward(&x, &self.effective(&name("")), &b)
                } else if spec.preset.hidden_kind() == HiddenKind::E {
                    dense_forward(&x, self.p(&name("w_ee")), &b)
                } else {
                    ei_forward(
                        &x,
                        self.p(&name("w_ee")),
                        self.p(&name("w_ie")),
                        self.p(&name("w_ei")),
                        &b,
                    )
                };
                let (out, ln) = if spec.preset.layer_norm() {
                    let c = ln_forward(&z, LN_EPS);
                    (c.y.clone(), Some(c))
                } else {
                    (z.clone(), None)
                };
                if let Some(acc) = local {
                    acc.0.push(0.0);
                }
                HiddenPass {
                    x,
                    z,
                    out,
                    ln,
                    dn: None,
                }
            }
            HiddenKind::INorm => {
                let p = INormParams {
                    w_ee: self.p(&name("w_ee")),
                    b: &b,
                    w_ie: self.p(&name("w_ie")),
                    w_ei: self.p(&name("w_ei")),
                    d_ie: self.p(&name("d_ie")),
                    d_ei: self.p(&name("d_ei")),
                };
                let c = match self.autocast {
                    true => inorm16_forward(&x, p),
                    false => inorm_forward(&x, p),
                };
                if let Some(acc) = local {
                    let g = match self.autocast {
                        true => local16_grads(&x, p, &c, spec.lambda),
                        false => local_loss_grads(&x, p, &c, spec.lambda),
                    };
                    acc.0.push(g.loss);
                    acc.1.insert(name("w_ie"), g.w_ie);
                    acc.1.insert(name("d_ie"), g.d_ie);
                    if spec.train_inhib_out {
                        acc.1.insert(name("w_ei"), g.w_ei);
                        acc.1.insert(name("d_ei"), g.d_ei);
                    }
                }
                HiddenPass {
                    x,
                    out: c.z.clone(),
                    z: c.z,
                    ln: None,
                    dn: Some(c.dn),
                }
            }
            HiddenKind::INormSub => {
                let w_ei = self.p(&name("w_ei"));
                let (w_ee, w_ie) = (self.p(&name("w_ee")), self.p(&name("w_ie")));
                let c = match self.autocast {
                    true => inorm_sub16_forward(&x, w_ee, &b, w_ie, w_ei),
                    false => inorm_sub_forward(&x, w_ee, &b, w_ie, w_ei),
                };
                if let Some(acc) = local {
                    let (loss, g_ie, g_ei) = match self.autocast {
                        true => local_sub16_grads(&x, w_ei, &c, spec.lambda),
                        false => local_loss_sub_grads(&x, w_ei, &c, spec.lambda),
                    };
                    acc.0.push(loss);
                    acc.1.insert(name("w_ie"), g_ie);
                    acc.1.insert(name("w_ei"), g_ei);
                }
                HiddenPass {
                    x,
                    out: c.z.clone(),
                    z: c.z,
                    ln: None,
                    dn: None,
                }
            }
        }
    }

    /// The matrix a layer's autocast forward multiplies by (paper/model.md §14.2), for the layer whose
    /// parameter names start with `prefix` (`hidden.0.`, `out.`): W_EE for an E layer, the effective
    /// `W_EE − r(W_EI W_IE)` for an EI layer.
    fn effective(&self, prefix: &str) -> Mat {
        let w_ee = self.p(&format!("{prefix}w_ee"));
        match self.params.get(&format!("{prefix}w_ie")) {
            Some(w_ie) => ei16_effective(w_ee, w_ie, self.p(&format!("{prefix}w_ei"))),
            None => w_ee.clone(),
        }
    }

    /// The output EI layer's logits (paper/model.md §3; under autocast §14.2).
    fn output_forward(&self, h: &Mat) -> Mat {
        match self.autocast {
            true => layer16_forward(h, &self.effective("out."), &self.v("out.bias")),
            false => ei_forward(
                h,
                self.p("out.w_ee"),
                self.p("out.w_ie"),
                self.p("out.w_ei"),
                &self.v("out.bias"),
            ),
        }
    }

    /// GradNorm variant applied by hidden layers (sub layers use `sub_grad_norm`).
    fn layer_grad_norm(&self) -> GradNorm {
        match self.spec.preset.hidden_kind() {
            HiddenKind::INorm => self.spec.preset.grad_norm(),
            HiddenKind::INormSub => self.spec.sub_grad_norm,
            _ => GradNorm::Off,
        }
    }

    /// Hidden layer `i` backward: `gamma = ∂L/∂ReLU(out)`; returns `∂L/∂x` and inserts parameter gradients.
    fn hidden_backward(
        &self,
        i: usize,
        pass: &HiddenPass,
        gamma: &Mat,
        grads: &mut BTreeMap<String, Mat>,
    ) -> Result<Mat> {
        let name = |s: &str| format!("hidden.{i}.{s}");
        let delta_out = gamma.component_mul(&relu_mask(&pass.out));
        let w_ee = self.p(&name("w_ee"));
        let dx = match self.spec.preset.hidden_kind() {
            HiddenKind::E | HiddenKind::Ei => {
                let delta_z = match (&pass.ln, self.spec.ln_backward) {
                    (Some(c), true) => ln_backward(&delta_out, c),
                    _ => delta_out,
                };
                if self.spec.preset.hidden_kind() == HiddenKind::E {
                    let g = match self.autocast {
                        true => {
                            let (w, x) = linear16_backward(&pass.x, w_ee, &delta_z);
                            super::dense::DenseGrads {
                                w,
                                b: super::col_sums(&delta_z),
                                x,
                            }
                        }
                        false => dense_backward(&pass.x, w_ee, &delta_z),
                    };
                    grads.insert(name("w_ee"), g.w);
                    grads.insert(
                        name("bias"),
                        Mat::from_column_slice(g.b.len(), 1, g.b.as_slice()),
                    );
                    g.x
                } else {
                    let (w_ie, w_ei) = (self.p(&name("w_ie")), self.p(&name("w_ei")));
                    let g = match self.autocast {
                        true => {
                            ei16_backward(&pass.x, &self.effective(&name("")), w_ie, w_ei, &delta_z)
                        }
                        false => ei_backward(&pass.x, w_ee, w_ie, w_ei, &delta_z),
                    };
                    grads.insert(name("w_ee"), g.w_ee);
                    grads.insert(name("w_ie"), g.w_ie);
                    grads.insert(name("w_ei"), g.w_ei);
                    grads.insert(
                        name("bias"),
                        Mat::from_column_slice(g.b.len(), 1, g.b.as_slice()),
                    );
                    g.x
                }
            }
            HiddenKind::INorm | HiddenKind::INormSub => {
                let lateral = self.lateral(i);
                let delta_z = gradnorm_backward(
                    self.layer_grad_norm(),
                    &delta_out,
                    &pass.z,
                    lateral.as_ref(),
                    self.spec.eq2_exact,
                )?;
                let (gw, gb, gx) = match (&pass.dn, self.autocast) {
                    (Some(dn), false) => {
                        let g = inorm_task_backward(&pass.x, w_ee, dn, &delta_z);
                        (g.w_ee, g.b, g.x)
                    }
                    (Some(dn), true) => {
                        let g = inorm16_task_backward(&pass.x, w_ee, dn, &delta_z);
                        (g.w_ee, g.b, g.x)
                    }
                    (None, false) => {
                        let g = dense_backward(&pass.x, w_ee, &delta_z);
                        (g.w, g.b, g.x)
                    }
                    (None, true) => {
                        let (w, x) = linear16_backward(&pass.x, w_ee, &delta_z);
                        (w, super::col_sums(&delta_z), x)
                    }
                };
                grads.insert(name("w_ee"), gw);
                grads.insert(
                    name("bias"),
                    Mat::from_column_slice(gb.len(), 1, gb.as_slice()),
                );
                gx
            }
        };
        Ok(dx)
    }

    fn layer_diag(&self, i: usize, pass: &HiddenPass) -> Result<LayerDiag> {
        let (mean, var) = moments(&pass.z);
        Ok(LayerDiag {
            output_alignment: output_alignment(&pass.z),
            gradient_alignment: gradient_alignment(
                &pass.x,
                &pass.z,
                pass.dn.as_ref(),
                self.layer_grad_norm(),
                self.lateral(i).as_ref(),
                self.spec.eq2_exact,
            )?,
            mean,
            var,
        })
    }

    /// One forward and backward pass (paper/model.md §6.2 steps 1–3) from the current parameters.
    pub fn forward_backward(&self, x: &Mat, y: &[u8], diag: bool) -> Result<Pass> {
        let mut local = (Vec::new(), BTreeMap::new());
        let mut passes = Vec::with_capacity(HIDDEN_LAYERS);
        let mut h = x.clone();
        for i in 0..HIDDEN_LAYERS {
            let pass = self.hidden_forward(i, h, Some(&mut local));
            h = relu(&pass.out);
            passes.push(pass);
        }
        let (w_ee, w_ie, w_ei) = (self.p("out.w_ee"), self.p("out.w_ie"), self.p("out.w_ei"));
        let logits = self.output_forward(&h);
        let ce = cross_entropy(&logits, y, self.spec.label_smoothing);
        let mut grads = BTreeMap::new();
        let g = match self.autocast {
            true => ei16_backward(&h, &self.effective("out."), w_ie, w_ei, &ce.grad),
            false => ei_backward(&h, w_ee, w_ie, w_ei, &ce.grad),
        };
        grads.insert("out.w_ee".to_string(), g.w_ee);
        grads.insert("out.w_ie".to_string(), g.w_ie);
        grads.insert("out.w_ei".to_string(), g.w_ei);
        grads.insert(
            "out.bias".to_string(),
            Mat::from_column_slice(g.b.len(), 1, g.b.as_slice()),
        );
        let mut gamma = g.x;
        let mut errors = vec![Mat::zeros(0, 0); HIDDEN_LAYERS];
        for i in (0..HIDDEN_LAYERS).rev() {
            errors[i] = gamma.component_mul(&relu_mask(&passes[i].out));
            gamma = self.hidden_backward(i, &passes[i], &gamma, &mut grads)?;
        }
        let diag = if diag {
            (0..HIDDEN_LAYERS)
                .map(|i| self.layer_diag(i, &passes[i]))
                .collect::<Result<_>>()?
        } else {
            vec![]
        };
        Ok(Pass {
            loss: ce.loss,
            correct: ce.correct,
            local_loss: local.0,
            logits,
            y: passes.iter().map(|p| p.out.clone()).collect(),
            z: passes.into_iter().map(|p| p.z).collect(),
            grads,
            local_grads: local.1,
            diag,
            errors,
        })
    }

    /// Evaluation forward (no local loss, GradNorm identity): per-sample losses, correct count, moments.
    pub fn eval_forward(&self, x: &Mat, y: &[u8]) -> (Vec<f64>, usize, Vec<(f64, f64)>) {
        let mut h = x.clone();
        let mut mom = Vec::new();
        for i in 0..HIDDEN_LAYERS {
            let pass = self.hidden_forward(i, h, None);
            mom.push(moments(&pass.z));
            h = relu(&pass.out);
        }
        let logits = self.output_forward(&h);
        let ce = cross_entropy(&logits, y, self.spec.label_smoothing);
        (ce.per_sample, ce.correct, mom)
    }

    /// Applies one optimizer step with the given gradients (task and local maps, disjoint names).
    pub fn apply(&mut self, grads: &BTreeMap<String, Mat>, hyper: &Hyper) -> Result<()> {
        let infos = self.spec.param_infos();
        match self.autocast {
            true => sgd_step_autocast(&mut self.params, grads, &infos, hyper, &mut self.sgd),
            false => sgd_step(&mut self.params, grads, &infos, hyper, &mut self.sgd),
        }
        if let Some((name, _)) = self
            .params
            .iter()
            .find(|(_, m)| m.iter().any(|v| !v.is_finite()))
        {
            return Err(Error::Diverged(format!(
                "parameter {name} became non-finite"
            )));
        }
        Ok(())
    }

    fn to_host(&self, m: &BTreeMap<String, Mat>) -> ParamSet {
        let infos = self.spec.param_infos();
        m.iter()
            .map(|(k, v)| {
                let shape = infos
                    .iter()
                    .find(|i| &i.name == k)
                    .map(|i| i.shape.clone())
                    .unwrap_or_else(|| vec![v.nrows(), v.ncols()]);
                (
                    k.clone(),
                    HostTensor {
                        shape,
                        data: HostTensor::from_matrix(v).data,
                    },
                )
            })
            .collect()
    }
}

/// Converts a batch's f32 inputs to a B×dim f64 matrix.
pub fn batch_matrix(batch: &Batch<'_>, dim: usize) -> Result<Mat> {
    batch.validate(dim)?;
    Ok(Mat::from_row_iterator(
        batch.rows(),
        dim,
        batch.x.iter().map(|&v| v as f64),
    ))
}

impl Trainer for ReferenceNet {
    fn spec(&self) -> &NetSpec {
        &self.spec
    }

    fn backend(&self) -> BackendInfo {
        BackendInfo {
            backend: "reference".into(),
            dtype: match self.autocast {
                true => "f16-autocast".into(),
                false => "f64".into(),
            },
            device: "cpu".into(),
        }
    }

    fn params(&self) -> Result<ParamSet> {
        Ok(self.to_host(&self.params))
    }

    fn grads(&mut self, batch: Batch<'_>) -> Result<GradReport> {
        let x = batch_matrix(&batch, self.spec.input)?;
        let pass = self.forward_backward(&x, batch.y, true)?;
        // `pass.grads` holds exactly the parameters the task trains (the detach map, paper/model.md §6.2;
        // tested in reference::network), so it is reported as it is.
        Ok(GradReport {
            loss: pass.loss,
            local_loss: pass.local_loss,
            logits: HostTensor::from_matrix(&pass.logits),
            z: pass.z.iter().map(HostTensor::from_matrix).collect(),
            y: pass.y.iter().map(HostTensor::from_matrix).collect(),
            grads: self.to_host(&pass.grads),
            local_grads: self.to_host(&pass.local_grads),
            diag: pass.diag,
        })
    }

    fn train_step(&mut self, batch: Batch<'_>, hyper: &Hyper, diag: bool) -> Result<StepReport> {
        let x = batch_matrix(&batch, self.spec.input)?;
        let pass = self.forward_backward(&x, batch.y, diag)?;
        if !pass.loss.is_finite() {
            return Err(Error::Diverged(format!("task loss is {}", pass.loss)));
        }
        // Task gradients of parameters the task does not train (I-Norm inhibitory ones) are never
        // produced; local and task maps touch disjoint parameters (paper/model.md §6.2).
        let mut all = pass.grads;
        all.extend(pass.local_grads);
        self.apply(&all, hyper)?;
        Ok(StepReport {
            loss: pass.loss,
            local_loss: pass.local_loss.iter().sum(),
            correct: pass.correct,
            diag: pass.diag,
            numerics: None,
        })
    }

    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalReport> {
        let x = batch_matrix(&batch, self.spec.input)?;
        let (losses, correct, moments) = self.eval_forward(&x, batch.y);
        Ok(EvalReport {
            loss_sum: losses.iter().sum(),
            correct,
            moments,
        })
    }
}
