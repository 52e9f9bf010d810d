//! The [`Trainer`] interface that the reference and the fast path both implement, and what its calls
//! report (per-step diagnostics, gradients, evaluation, backend identity).

use super::{Batch, HostTensor, Hyper, NetSpec, ParamSet};
use crate::error::Result;

/// Per-hidden-layer diagnostics of one training step (paper/model.md §8.2–8.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerDiag {
    /// cos(ReLU(LN(Z)), ReLU(Z)).
    pub output_alignment: f64,
    /// cos(∂L_ref/∂W_EE, ∂L_own/∂W_EE).
    pub gradient_alignment: f64,
    /// μ̄ = batch mean of the per-sample unit means of Z.
    pub mean: f64,
    /// v̄ = batch mean of the per-sample population variances of Z.
    pub var: f64,
}

/// What one training step reports.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct StepReport {
    /// Mean task loss of the batch (before the update).
    pub loss: f64,
    /// Sum over hidden layers of the local loss (I-Norm presets; 0 otherwise).
    pub local_loss: f64,
    /// Number of correctly classified samples (before the update).
    pub correct: usize,
    /// Diagnostics per hidden layer (empty when not asked for).
    pub diag: Vec<LayerDiag>,
    /// What the f16-autocast mode saw (paper/model.md §14.5); `None` in f32 and f64.
    pub numerics: Option<NumericsReport>,
}

/// The f16 health of one training step in the f16-autocast mode (paper/model.md §14.5).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct NumericsReport {
    /// Per hidden I-Norm layer, the largest `|R| = |D_IE x|` of the batch (`|B_ix x|` in the authors' code):
    /// from about 256 on, `r(R²)` is infinite (f16's largest finite value is 65504). Empty for networks
    /// without a divisive population.
    pub max_drive: Vec<f64>,
    /// Samples of the batch whose denominator `Dn` overflowed in some hidden layer (infinite or NaN).
    pub zd_overflow: usize,
    /// Samples of the batch with an infinite or NaN value in some per-sample error of the backward passes
    /// (task and local).
    pub grad_overflow: usize,
    /// The first tensor of the step, in the order the pass computes them, that holds a non-finite value
    /// (`hidden.0.dn`, `hidden.1.grad.d_ie`, `out.logits`, …).
    pub first_nonfinite: Option<String>,
}

/// One forward and backward pass without update (paper/model.md §6.2 steps 1–3).
#[derive(Clone, Debug, PartialEq)]
pub struct GradReport {
    /// Mean task loss.
    pub loss: f64,
    /// Local loss per hidden layer.
    pub local_loss: Vec<f64>,
    /// Logits, B×10.
    pub logits: HostTensor,
    /// Each hidden layer's pre-activation `Z` (`hidden.{i}.z`), B×n, as the metrics of paper/model.md §8.2
    /// define it: `X W_EEᵀ + b` (E layers), `X W_EEᵀ + b − H_I W_EIᵀ` (EI layers), both **before** LayerNorm
    /// in LN networks; the divided output `(A − S) ⊘ Dn` (I-Norm layers); `A − S` (subtractive-only I-Norm).
    pub z: Vec<HostTensor>,
    /// Each hidden layer's ReLU input (`hidden.{i}.y`), B×n: `LN(Z)` in LN networks (`ei-ln`, `e-ln`), `Z`
    /// itself otherwise (for I-Norm layers that is the output after the division). The layer's output is
    /// `ReLU(y)`.
    pub y: Vec<HostTensor>,
    /// Task-loss gradient of every parameter trained by the task (`hidden.0.w_ee`, ...).
    pub grads: ParamSet,
    /// Local-loss gradient of every parameter trained by the local loss.
    pub local_grads: ParamSet,
    /// Diagnostics per hidden layer.
    pub diag: Vec<LayerDiag>,
}

/// Evaluation of a batch without gradients.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct EvalReport {
    /// Sum (not mean) of per-sample task losses.
    pub loss_sum: f64,
    /// Number of correct argmax predictions.
    pub correct: usize,
    /// Moments (μ̄, v̄) of each hidden layer's pre-ReLU output on this batch.
    pub moments: Vec<(f64, f64)>,
}

/// Which implementation runs a network.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackendInfo {
    /// `reference` or `fast`.
    pub backend: String,
    /// `f64` or `f32`.
    pub dtype: String,
    /// `cpu`, `cuda:0`, ...
    pub device: String,
}

/// The interface both paths implement, so tests, benches and the CLI switch backend with a flag.
pub trait Trainer {
    /// The network's specification.
    fn spec(&self) -> &NetSpec;
    /// Backend, dtype and device.
    fn backend(&self) -> BackendInfo;
    /// Current parameters (the names of [`NetSpec::param_infos`]).
    fn params(&self) -> Result<ParamSet>;
    /// Forward and backward on a batch, no update.
    fn grads(&mut self, batch: Batch<'_>) -> Result<GradReport>;
    /// One SGD step (paper/model.md §6.1–6.2); diagnostics computed when `diag` is true.
    fn train_step(&mut self, batch: Batch<'_>, hyper: &Hyper, diag: bool) -> Result<StepReport>;
    /// Evaluation without gradients (GradNorm is the identity, no local loss).
    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalReport>;
    /// f16-autocast mode: what the last training step saw (paper/model.md §14.5), also when it diverged;
    /// `None` in f32 and f64.
    fn numerics(&self) -> Option<NumericsReport> {
        None
    }
}
