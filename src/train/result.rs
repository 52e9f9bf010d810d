//! What a run leaves behind (the result JSON of docs/results.md): how it ended, the per-epoch
//! record, the final metrics and the run's identity, with the serde helpers that write NaN as `null`;
//! and the functions that build the records from the training loop's sums.

use std::time::Instant;

use super::config::{TrainConfig, CHANCE_ACC};
use crate::data::DataId;
use crate::model::{NumericsReport, StepReport};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// All epochs ran.
    Ok,
    /// A NaN or infinite loss stopped it.
    Diverged,
}

/// Serde for f64 fields that may be NaN or infinite: written as `null` (JSON has no NaN), read back as NaN.
pub mod nullable {
    use serde::{Deserialize, Deserializer, Serializer};
    /// Writes a finite value as a number, anything else as `null`.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }
    /// Reads a number, or `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// [`nullable`] for `Vec<f64>`.
pub mod nullable_vec {
    use serde::{Deserialize, Deserializer, Serializer};
    /// Writes each value as a number or `null`.
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.is_finite().then_some(*x)))
    }
    /// Reads numbers, `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }
}

/// The metrics of one epoch (possibly partial, when the run diverged inside it).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Training steps taken in this epoch.
    pub steps: usize,
    /// Training-set accuracy (%) ([`TrainEval`](super::TrainEval) says how it was measured).
    #[serde(with = "nullable")]
    pub train_acc: f64,
    /// Training-set mean loss.
    #[serde(with = "nullable")]
    pub train_loss: f64,
    /// Test accuracy (%) with fresh offsets at the same ε.
    #[serde(with = "nullable")]
    pub test_acc: f64,
    /// Test mean loss.
    #[serde(with = "nullable")]
    pub test_loss: f64,
    /// Mean over the epoch's steps of the summed I-Norm local loss (0 for other presets).
    #[serde(with = "nullable")]
    pub local_loss: f64,
    /// Per hidden layer: output alignment averaged over the epoch's steps (empty without diagnostics).
    #[serde(with = "nullable_vec")]
    pub output_alignment: Vec<f64>,
    /// Per hidden layer: gradient alignment averaged over the epoch's steps.
    #[serde(with = "nullable_vec")]
    pub gradient_alignment: Vec<f64>,
    /// Per hidden layer: output alignment of the epoch's last step (what the figures use, paper/model.md §8.2).
    #[serde(with = "nullable_vec")]
    pub last_output_alignment: Vec<f64>,
    /// Per hidden layer: gradient alignment of the epoch's last step.
    #[serde(with = "nullable_vec")]
    pub last_gradient_alignment: Vec<f64>,
    /// Per hidden layer: test-set activity mean μ̄ (paper/model.md §8.3), averaged over evaluation batches.
    #[serde(with = "nullable_vec")]
    pub test_mean: Vec<f64>,
    /// Per hidden layer: test-set activity variance v̄.
    #[serde(with = "nullable_vec")]
    pub test_var: Vec<f64>,
    /// Wall seconds of the epoch (training and evaluation).
    pub seconds: f64,
    /// f16-autocast mode (paper/model.md §14.5): what the epoch's training steps saw; absent in f32 and f64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerics: Option<EpochNumerics>,
}

/// What one epoch's training steps saw in the f16-autocast mode (paper/model.md §14.5).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochNumerics {
    /// Per hidden I-Norm layer, the largest |R| = |D_IE x| of the epoch (`|B_ix x|`; f16 overflows `r(R²)`
    /// from about 256 on); empty for networks without a divisive population; null when not finite.
    #[serde(with = "nullable_vec")]
    pub max_drive: Vec<f64>,
    /// Fraction of the epoch's training samples whose denominator overflowed in some hidden layer.
    pub zd_overflow: f64,
    /// Fraction of the epoch's training samples with an infinite or NaN per-sample error in a backward pass.
    pub grad_overflow: f64,
    /// The epoch's first step (from 0) with a non-finite value, and the first such tensor of that step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_nonfinite: Option<(usize, String)>,
}

impl EpochRecord {
    /// Per-layer test moments as (μ̄, v̄) pairs.
    pub fn test_moments(&self) -> Vec<(f64, f64)> {
        self.test_mean
            .iter()
            .zip(&self.test_var)
            .map(|(&m, &v)| (m, v))
            .collect()
    }
}

/// Final values of a run, each averaged over the two hidden layers where it is per layer (paper/model.md §8).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FinalMetrics {
    /// Final-epoch test accuracy (%) — the figures' metric; [`CHANCE_ACC`] for a diverged run.
    #[serde(with = "nullable")]
    pub test_acc: f64,
    /// Final-epoch test loss.
    #[serde(with = "nullable")]
    pub test_loss: f64,
    /// Final-epoch training accuracy (%).
    #[serde(with = "nullable")]
    pub train_acc: f64,
    /// Final-epoch training loss.
    #[serde(with = "nullable")]
    pub train_loss: f64,
    /// Output alignment of the last training step, mean over fc0, fc1.
    #[serde(with = "nullable")]
    pub output_alignment: f64,
    /// Gradient alignment of the last training step, mean over fc0, fc1.
    #[serde(with = "nullable")]
    pub gradient_alignment: f64,
    /// Test-set μ̄ after the last epoch, mean over fc0, fc1.
    #[serde(with = "nullable")]
    pub mean: f64,
    /// Test-set v̄ after the last epoch, mean over fc0, fc1.
    #[serde(with = "nullable")]
    pub var: f64,
    /// Best test accuracy over epochs (logged only, D10).
    #[serde(with = "nullable")]
    pub best_test_acc: f64,
    /// Epoch of the best test accuracy (0 if none).
    pub best_epoch: usize,
}

/// Where and why a run diverged.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Divergence {
    /// Epoch (from 1).
    pub epoch: usize,
    /// Step within the epoch (from 0).
    pub step: usize,
    /// The error's message.
    pub reason: String,
}

/// The record of one run: written as JSON, one file per run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunResult {
    /// inorm's crate version.
    pub version: String,
    /// The run's settings (with the seed, the config index and the backend).
    pub config: TrainConfig,
    /// Backend name (`fast`, `reference`, ...).
    pub backend: String,
    /// `f32` or `f64`.
    pub dtype: String,
    /// `cpu`, `cuda:0`, ...
    pub device: String,
    /// Ok or diverged.
    pub status: RunStatus,
    /// Set when diverged.
    pub divergence: Option<Divergence>,
    /// Per-epoch history (the last entry is partial for a diverged run).
    pub history: Vec<EpochRecord>,
    /// Final values.
    pub final_metrics: FinalMetrics,
    /// Wall seconds of the whole run (initialization, training, evaluation).
    pub wall_s: f64,
    /// Seconds spent in training steps only.
    pub train_s: f64,
    /// Training samples per second (training steps only).
    pub samples_per_s: f64,
    /// Unix time (s) when the run started.
    pub started_unix: u64,
    /// The training and test samples actually used (count and content checksums); `None` only in results
    /// written before inorm recorded it.
    #[serde(default)]
    pub data: Option<DataId>,
}

impl RunResult {
    /// Final-epoch test accuracy (%).
    pub fn test_acc(&self) -> f64 {
        self.final_metrics.test_acc
    }
}

/// Mean of `xs`; NaN for an empty slice.
fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        f64::NAN
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// The final values of a run from its history and the last step's diagnostics (per layer: output and
/// gradient alignment).
pub(crate) fn final_metrics(
    status: RunStatus,
    history: &[EpochRecord],
    last_diag: &[(f64, f64)],
) -> FinalMetrics {
    let complete: Vec<&EpochRecord> = history.iter().filter(|r| r.test_acc.is_finite()).collect();
    let (best_epoch, best_test_acc) =
        complete
            .iter()
            .map(|r| (r.epoch, r.test_acc))
            .fold(
                (0, f64::NAN),
                |b, c| if b.1.is_nan() || c.1 > b.1 { c } else { b },
            );
    let last = complete.last();
    let pick = |f: &dyn Fn(&EpochRecord) -> f64| last.map(|r| f(r)).unwrap_or(f64::NAN);
    FinalMetrics {
        test_acc: if status == RunStatus::Diverged {
            CHANCE_ACC
        } else {
            pick(&|r| r.test_acc)
        },
        test_loss: if status == RunStatus::Diverged {
            f64::NAN
        } else {
            pick(&|r| r.test_loss)
        },
        train_acc: pick(&|r| r.train_acc),
        train_loss: pick(&|r| r.train_loss),
        output_alignment: mean(&last_diag.iter().map(|d| d.0).collect::<Vec<_>>()),
        gradient_alignment: mean(&last_diag.iter().map(|d| d.1).collect::<Vec<_>>()),
        mean: pick(&|r| mean(&r.test_mean)),
        var: pick(&|r| mean(&r.test_var)),
        best_test_acc,
        best_epoch,
    }
}

/// One epoch's training steps summed up, before its evaluation passes: what [`EpochTally::record`] turns
/// into the epoch's [`EpochRecord`] (the single and the lockstep training loops keep one per run).
pub(crate) struct EpochTally {
    steps: usize,
    seen: usize,
    correct: usize,
    loss_sum: f64,
    local_sum: f64,
    /// Output and gradient alignment per hidden layer, one entry per diagnosed step.
    oa: Vec<Vec<f64>>,
    ga: Vec<Vec<f64>>,
    /// f16-autocast mode: the numerics of the steps so far.
    numerics: Option<NumericsTally>,
}

/// The sums behind an [`EpochNumerics`].
struct NumericsTally {
    max_drive: Vec<f64>,
    samples: usize,
    zd: usize,
    grad: usize,
    first: Option<(usize, String)>,
}

impl EpochTally {
    /// An empty tally for a network with `layers` hidden layers.
    pub(crate) fn new(layers: usize) -> Self {
        Self {
            steps: 0,
            seen: 0,
            correct: 0,
            loss_sum: 0.0,
            local_sum: 0.0,
            oa: vec![Vec::new(); layers],
            ga: vec![Vec::new(); layers],
            numerics: None,
        }
    }

    /// Adds what an f16-autocast step of `n` samples saw (also the step that diverged, which
    /// [`EpochTally::add`] never sees); the step is the next one of the epoch.
    pub(crate) fn add_numerics(&mut self, r: &NumericsReport, n: usize) {
        let step = self.steps;
        let t = self.numerics.get_or_insert_with(|| NumericsTally {
            max_drive: vec![0.0; r.max_drive.len()],
            samples: 0,
            zd: 0,
            grad: 0,
            first: None,
        });
        for (m, d) in t.max_drive.iter_mut().zip(&r.max_drive) {
            // A non-finite drive wins (f64::max would drop a NaN).
            *m = if d.is_finite() { m.max(*d) } else { *d };
        }
        t.samples += n;
        t.zd += r.zd_overflow;
        t.grad += r.grad_overflow;
        if t.first.is_none() {
            t.first = r.first_nonfinite.clone().map(|name| (step, name));
        }
    }

    /// Adds a step of `n` samples that reported `r`. When the step computed the diagnostics, `last_diag`
    /// becomes its (output, gradient) alignment per hidden layer (the run's final metrics read the last).
    pub(crate) fn add(&mut self, r: &StepReport, n: usize, last_diag: &mut Vec<(f64, f64)>) {
        if let Some(num) = &r.numerics {
            self.add_numerics(num, n);
        }
        self.steps += 1;
        self.seen += n;
        self.loss_sum += r.loss * n as f64;
        self.local_sum += r.local_loss;
        self.correct += r.correct;
        if !r.diag.is_empty() {
            last_diag.clear();
            for (l, d) in r.diag.iter().enumerate().take(self.oa.len()) {
                self.oa[l].push(d.output_alignment);
                self.ga[l].push(d.gradient_alignment);
                last_diag.push((d.output_alignment, d.gradient_alignment));
            }
        }
    }

    /// The epoch's record from the steps so far (test fields NaN / empty until the evaluation fills them);
    /// `te` is when the epoch started.
    pub(crate) fn record(&self, epoch: usize, te: Instant) -> EpochRecord {
        let per_layer = |v: &[Vec<f64>]| -> Vec<f64> {
            if v.iter().all(|l| l.is_empty()) {
                Vec::new()
            } else {
                v.iter().map(|l| mean(l)).collect()
            }
        };
        let last = |v: &[Vec<f64>]| -> Vec<f64> {
            if v.iter().all(|l| l.is_empty()) {
                Vec::new()
            } else {
                v.iter()
                    .map(|l| l.last().copied().unwrap_or(f64::NAN))
                    .collect()
            }
        };
        let seen = self.seen;
        let frac = |a: f64| if seen > 0 { a / seen as f64 } else { f64::NAN };
        EpochRecord {
            epoch,
            steps: self.steps,
            train_acc: frac(100.0 * self.correct as f64),
            train_loss: frac(self.loss_sum),
            test_acc: f64::NAN,
            test_loss: f64::NAN,
            local_loss: if self.steps > 0 {
                self.local_sum / self.steps as f64
            } else {
                f64::NAN
            },
            output_alignment: per_layer(&self.oa),
            gradient_alignment: per_layer(&self.ga),
            last_output_alignment: last(&self.oa),
            last_gradient_alignment: last(&self.ga),
            test_mean: Vec::new(),
            test_var: Vec::new(),
            seconds: te.elapsed().as_secs_f64(),
            numerics: self.numerics.as_ref().map(|t| {
                let frac = |c: usize| c as f64 / t.samples.max(1) as f64;
                EpochNumerics {
                    max_drive: t.max_drive.clone(),
                    zd_overflow: frac(t.zd),
                    grad_overflow: frac(t.grad),
                    first_nonfinite: t.first.clone(),
                }
            }),
        }
    }
}
