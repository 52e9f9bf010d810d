//! The training loop of paper/model.md §6 on luminance-shifted data (§7), with the per-epoch metrics of §8: one run
//! = one network, one ε, one hyperparameter configuration, one seed → one [`RunResult`].
//!
//! | paper/model.md | what | where |
//! |---|---|---|
//! | §6.2 | batch-32 SGD steps, no shuffle by default | [`train_run`] |
//! | §7 | fresh per-image offsets on every pass, same transform on the test set | [`crate::data::shift`] |
//! | §8.1 | final-epoch test accuracy (best also logged, D10) | [`RunResult::final_metrics`] |
//! | §8.2 | output / gradient alignment per hidden layer | [`EpochRecord`] |
//! | §8.3 | activity moments of the hidden pre-ReLU outputs | [`EpochRecord::test_moments`] |
//!
//! **Last partial batch.** When the training-set size is not a multiple of the batch size, the last
//! (smaller) batch is *kept*, as PyTorch's `DataLoader` does by default (`drop_last=False`); the full set
//! (60,000 = 1875 × 32) has none.
//!
//! **Divergence.** A NaN or infinite loss ends the run with [`RunStatus::Diverged`]: the history so far is
//! kept, the partial epoch is recorded, and the final test accuracy is set to chance (10 %), which is what
//! an argmax over NaN logits scores and what the paper's collapsed GradNorm-scale runs show. It never panics.

pub mod lockstep;
mod result;

use std::time::Instant;

use crate::backend::{make_trainer, Backend};
use crate::data::shift::{epoch_order, shift_rng, shifted_batch};
use crate::data::{data_id, used_sizes, DataId, Dataset};
use crate::error::{Error, Result};
use crate::fault::{self, Fault};
use crate::init::init_params;
use crate::model::{Batch, Hyper, NetSpec, ParamSet, Trainer, CLASSES, HIDDEN_LAYERS};

pub use result::{
    backend_name, nullable, nullable_vec, Divergence, EpochNumerics, EpochRecord, FinalMetrics,
    RunResult, RunStatus,
};
pub(crate) use result::{final_metrics, EpochTally};

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
/// the training speed at the paper's shapes when computed on every step (docs/performance.md).
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
    /// [`EpochRecord`] are then means over the diagnosed steps; the last-step values are unchanged.
    #[serde(default = "every_step")]
    pub diag_every: usize,
    /// How the training-set metrics are measured.
    pub train_eval: TrainEval,
    /// Where the initial parameters came from (`--model`), for the record; `None` = [`init_params`] from
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

/// Progress events passed to the callback of [`train_run`].
#[derive(Clone, Copy, Debug)]
pub enum Progress {
    /// A training step finished.
    Step {
        /// Epoch (from 1).
        epoch: usize,
        /// Steps done in this epoch.
        step: usize,
        /// Steps per epoch.
        steps_per_epoch: usize,
        /// The step's loss.
        loss: f64,
    },
    /// An epoch's evaluation finished.
    Epoch {
        /// Epoch (from 1).
        epoch: usize,
        /// Test accuracy (%).
        test_acc: f64,
    },
}

/// What [`train_run`] returns: the record and the final parameters (for `--save-model`).
pub struct RunOutput {
    /// The record.
    pub result: RunResult,
    /// Parameters after the last step (before the diverging step for a diverged run).
    pub params: ParamSet,
}

/// Accuracy (%), mean loss and per-layer (μ̄, v̄) of an evaluation pass.
pub type SetEval = (f64, f64, Vec<(f64, f64)>);

/// Accuracy (%), mean loss and per-layer (μ̄, v̄) of `trainer` on the first `n` samples of `ds` with fresh
/// offsets from `shift_rng(seed, train_set, epoch)` (training-set passes and test passes draw from different
/// sub-streams: the training-set pass uses epoch `1_000_000 + epoch`, so it never repeats training offsets).
pub fn evaluate_set(
    trainer: &mut dyn Trainer,
    ds: &Dataset,
    n: usize,
    eps: f64,
    seed: u64,
    sub: u64,
) -> Result<SetEval> {
    let mut rng = shift_rng(seed, false, sub);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut correct = 0usize;
    let mut loss = 0.0;
    let mut mom = vec![(0.0, 0.0); HIDDEN_LAYERS];
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(EVAL_BATCH) {
        shifted_batch(ds, chunk, eps, &mut rng, &mut x, &mut y);
        let r = trainer.evaluate(Batch { x: &x, y: &y })?;
        correct += r.correct;
        loss += r.loss_sum;
        let w = chunk.len() as f64 / n as f64;
        for (acc, m) in mom.iter_mut().zip(&r.moments) {
            acc.0 += w * m.0;
            acc.1 += w * m.1;
        }
    }
    Ok((100.0 * correct as f64 / n as f64, loss / n as f64, mom))
}

/// Checks `train` / `test` against `cfg`'s network input and returns the sample counts a run uses and their
/// [`DataId`] (`id` when the caller already computed it for these sets and sizes). Shared by single and
/// lockstep runs.
pub(crate) fn data_in_use(
    cfg: &TrainConfig,
    train: &Dataset,
    test: &Dataset,
    id: Option<&DataId>,
) -> Result<(usize, usize, DataId)> {
    for (what, ds) in [("training set", train), ("test set", test)] {
        if ds.dim != cfg.spec.input {
            return Err(Error::ShapeMismatch {
                op: what.into(),
                expected: format!("{} pixels per image (network input)", cfg.spec.input),
                got: format!("{}", ds.dim),
            });
        }
        if ds.is_empty() {
            return Err(Error::invalid(what, "is empty"));
        }
    }
    let (n_train, n_test) = used_sizes(cfg.train_size, cfg.test_size, train, test)?;
    let data = match id {
        Some(id) => id.clone(),
        None => data_id(train, test, n_train, n_test),
    };
    Ok((n_train, n_test, data))
}

/// Runs one training run (paper/model.md §6) of `cfg` on `train` / `test`, calling `progress` after every step and
/// every epoch. Errors only for invalid settings or data (a `train_size` / `test_size` larger than the set
/// included); a NaN loss gives a result with status [`RunStatus::Diverged`]. The result records the
/// [`DataId`] of the samples used.
pub fn train_run(
    cfg: &TrainConfig,
    train: &Dataset,
    test: &Dataset,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunOutput> {
    train_run_with_id(cfg, train, test, None, progress)
}

/// [`train_run`] with the [`DataId`] of `train` / `test` at the run's sizes already computed (a sweep
/// computes it once for all its runs); `None` computes it here. The caller vouches that `id` belongs to
/// these sets and sizes.
pub fn train_run_with_id(
    cfg: &TrainConfig,
    train: &Dataset,
    test: &Dataset,
    id: Option<&DataId>,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunOutput> {
    cfg.validate()?;
    let t0 = Instant::now();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (n_train, n_test, data) = data_in_use(cfg, train, test, id)?;
    let params = match &cfg.initial_params {
        Some(p) => p.clone(),
        None => init_params(&cfg.spec, cfg.seed)?,
    };
    let mut spec = cfg.spec.clone();
    if fault::active(Fault::LocalLossOff) {
        spec.lambda = 0.0;
    }
    let mut trainer = make_trainer(cfg.backend, spec, &params)?;
    let info = trainer.backend();
    let steps_per_epoch = n_train.div_ceil(cfg.batch_size);

    let mut history = Vec::with_capacity(cfg.epochs);
    let mut divergence = None;
    let mut train_s = 0.0;
    let mut samples = 0usize;
    let mut last_diag: Vec<(f64, f64)> = Vec::new();
    let (mut x, mut y) = (Vec::new(), Vec::new());

    'epochs: for epoch in 1..=cfg.epochs {
        let te = Instant::now();
        let order = epoch_order(n_train, cfg.shuffle, cfg.seed, epoch as u64);
        let mut rng = shift_rng(cfg.seed, true, epoch as u64);
        let mut tally = EpochTally::new(HIDDEN_LAYERS);
        for (s, chunk) in order.chunks(cfg.batch_size).enumerate() {
            shifted_batch(train, chunk, cfg.eps, &mut rng, &mut x, &mut y);
            let ts = Instant::now();
            let diag = cfg.diag && diag_step(s, steps_per_epoch, cfg.diag_every);
            let r = trainer.train_step(Batch { x: &x, y: &y }, &cfg.hyper, diag);
            train_s += ts.elapsed().as_secs_f64();
            match r {
                Ok(r) => {
                    samples += chunk.len();
                    tally.add(&r, chunk.len(), &mut last_diag);
                    progress(Progress::Step {
                        epoch,
                        step: s + 1,
                        steps_per_epoch,
                        loss: r.loss,
                    });
                }
                Err(Error::Diverged(reason)) => {
                    divergence = Some(Divergence {
                        epoch,
                        step: s,
                        reason,
                    });
                    if let Some(n) = trainer.numerics() {
                        tally.add_numerics(&n, chunk.len());
                    }
                    history.push(tally.record(epoch, te));
                    break 'epochs;
                }
                Err(e) => return Err(e),
            }
        }
        let mut rec = tally.record(epoch, te);
        let (acc, loss, mom) = evaluate_set(
            trainer.as_mut(),
            test,
            n_test,
            cfg.eps,
            cfg.seed,
            epoch as u64,
        )?;
        rec.test_acc = acc;
        rec.test_loss = loss;
        rec.test_mean = mom.iter().map(|m| m.0).collect();
        rec.test_var = mom.iter().map(|m| m.1).collect();
        if cfg.train_eval == TrainEval::Full {
            let (acc, loss, _) = evaluate_set(
                trainer.as_mut(),
                train,
                n_train,
                cfg.eps,
                cfg.seed,
                1_000_000 + epoch as u64,
            )?;
            rec.train_acc = acc;
            rec.train_loss = loss;
        }
        rec.seconds = te.elapsed().as_secs_f64();
        progress(Progress::Epoch {
            epoch,
            test_acc: acc,
        });
        history.push(rec);
    }

    let status = if divergence.is_some() {
        RunStatus::Diverged
    } else {
        RunStatus::Ok
    };
    let final_metrics = final_metrics(status, &history, &last_diag);
    let params = trainer.params()?;
    let result = RunResult {
        version: env!("CARGO_PKG_VERSION").to_string(),
        config: cfg.clone(),
        backend: info.backend.clone(),
        dtype: info.dtype,
        device: info.device,
        status,
        divergence,
        history,
        final_metrics,
        wall_s: t0.elapsed().as_secs_f64(),
        train_s,
        samples_per_s: if train_s > 0.0 {
            samples as f64 / train_s
        } else {
            0.0
        },
        started_unix,
        data: Some(data),
    };
    Ok(RunOutput { result, params })
}
