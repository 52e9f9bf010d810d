//! What defines a run (paper/model.md §6.2, §7): [`TrainConfig`] with its faithful defaults and checks, and
//! the constants of the training loop (batch sizes, diagnosed steps, the chance accuracy of a diverged run).

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::model::{Hyper, NetSpec, ParamSet, CLASSES};

/// The paper's minibatch size (paper/model.md §6.2).
pub const BATCH: usize = 32;
/// Minibatch size of evaluation passes (no gradients, so a larger batch only changes speed; the moments are
/// averaged over all evaluation batches weighted by their size).
pub const EVAL_BATCH: usize = 1000;
/// Test accuracy (%) assigned to a diverged run: chance level for 10 classes.
pub const CHANCE_ACC: f64 = 100.0 / CLASSES as f64;

/// Default of [`TrainConfig::diag_every`]: the alignment diagnostics on every 10th step of an epoch and on
/// its last. The figures and claims read only the last step of a run (paper/model.md §8.2), which is always
/// diagnosed, so they come out bit for bit as with diagnostics on every step; the diagnostics cost 23 % of
/// the training speed at the paper's shapes when computed on every step (README, "`inorm bench`").
pub const DIAG_EVERY: usize = 10;

/// [`TrainConfig::diag_every`] of results written before the option existed: every step.
pub(crate) fn every_step() -> usize {
    1
}

/// Whether step `s` (from 0) of an epoch of `steps` steps computes the alignment diagnostics: every
/// `every`-th step (`s + 1` a multiple of `every`) and always the epoch's last step.
pub fn diag_step(s: usize, steps: usize, every: usize) -> bool {
    (s + 1) % every.max(1) == 0 || s + 1 == steps
}

/// Most epochs a run may ask for (the paper uses 50; a bound so a typo cannot start a run that never ends).
pub const MAX_EPOCHS: usize = 10_000;

/// How the per-epoch training-set accuracy and loss are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainEval {
    /// A separate evaluation pass over the whole training subset with fresh offsets (paper/model.md §6.2, faithful).
    Full,
    /// The running mean over the epoch's training steps (before each update; free).
    Running,
}

/// Everything that defines one run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Network (preset, width, λ, label smoothing, options).
    pub spec: NetSpec,
    /// Index into the paper's 30 configurations, if the hyperparameters came from one.
    pub config_index: Option<usize>,
    /// Learning rates, momentum, weight decay.
    pub hyper: Hyper,
    /// Luminance-shift ε (paper/model.md §7).
    pub eps: f64,
    /// Number of epochs (50 in the paper).
    pub epochs: usize,
    /// Use the first `train_size` training images (all if `None`).
    pub train_size: Option<usize>,
    /// Use the first `test_size` test images (all if `None`).
    pub test_size: Option<usize>,
    /// Minibatch size (32 in the paper).
    pub batch_size: usize,
    /// Seed of initialization, offsets and shuffles.
    pub seed: u64,
    /// Shuffle the training set every epoch (off = faithful, D9).
    pub shuffle: bool,
    /// Implementation (written as its name, e.g. `"fast"`).
    #[serde(with = "backend_name")]
    pub backend: Backend,
    /// Compute the alignment diagnostics (on the steps [`diag_step`] picks with `diag_every`).
    pub diag: bool,
    /// Diagnose every `diag_every`-th step of an epoch and its last step (1: every step, as results written
    /// before this setting existed did; default [`DIAG_EVERY`]). The epoch means of the alignments in
    /// [`EpochRecord`](super::EpochRecord) are then means over the diagnosed steps; the last-step values
    /// are unchanged.
    #[serde(default = "every_step")]
    pub diag_every: usize,
    /// How the training-set metrics are measured.
    pub train_eval: TrainEval,
    /// Where the initial parameters came from (`--model`), for the record; `None` = [`init_params`](crate::init::init_params) from
    /// `seed`.
    pub init_model: Option<String>,
    /// MD5 (hex) of the `--model` file's bytes: what identifies the initial parameters (the path does not).
    #[serde(default)]
    pub init_model_md5: Option<String>,
    /// Initial parameters (overrides initialization from the seed); not serialized.
    #[serde(skip)]
    pub initial_params: Option<ParamSet>,
}

impl TrainConfig {
    /// The faithful defaults (50 epochs, batch 32, full data, no shuffle, fast f32 backend, diagnostics on
    /// every [`DIAG_EVERY`]-th and each epoch's last step, full training-set evaluation) for `spec` with `hyper` at `eps`.
    pub fn new(spec: NetSpec, hyper: Hyper, eps: f64) -> TrainConfig {
        TrainConfig {
            spec,
            config_index: None,
            hyper,
            eps,
            epochs: 50,
            train_size: None,
            test_size: None,
            batch_size: BATCH,
            seed: 0,
            shuffle: false,
            backend: Backend::Fast { f64: false },
            diag: true,
            diag_every: DIAG_EVERY,
            train_eval: TrainEval::Full,
            init_model: None,
            init_model_md5: None,
            initial_params: None,
        }
    }

    /// Checks the run settings (the network spec is checked when the network is built).
    pub fn validate(&self) -> Result<()> {
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(Error::invalid(
                "eps",
                format!("{} (must be finite and ≥ 0)", self.eps),
            ));
        }
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return Err(Error::invalid(
                "epochs",
                format!(
                    "{} (must be in 1..={MAX_EPOCHS}; the paper uses 50)",
                    self.epochs
                ),
            ));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch-size", "0 (must be ≥ 1)"));
        }
        if self.diag_every == 0 {
            return Err(Error::invalid(
                "diag-every",
                "0 (must be ≥ 1; 1 diagnoses every step)",
            ));
        }
        for (what, v) in [
            ("lr-e", self.hyper.lr_e),
            ("lr-ie", self.hyper.lr_ie),
            ("lr-ei", self.hyper.lr_ei),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::invalid(
                    what,
                    format!("{v} (must be finite and ≥ 0)"),
                ));
            }
        }
        if self.train_size == Some(0) || self.test_size == Some(0) {
            return Err(Error::invalid(
                "train-size/test-size",
                "0 (need at least one sample)",
            ));
        }
        self.spec.validate()
    }
}

/// Serde of a [`Backend`](crate::backend::Backend) as its name (`fast`, `fast-f64`, `reference`, ...).
pub mod backend_name {
    use crate::backend::Backend;
    use serde::{Deserialize, Deserializer, Serializer};
    /// Writes the name.
    pub fn serialize<S: Serializer>(b: &Backend, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(b.name())
    }
    /// Parses the name.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Backend, D::Error> {
        let s = String::deserialize(d)?;
        Backend::parse(&s).map_err(serde::de::Error::custom)
    }
}
