//! The one epoch loop (paper/model.md §6.2) for K ≥ 1 runs trained together: each run draws its own order,
//! offsets and evaluation passes from its own seed, so run k's result does not depend on the others. A
//! single run ([`train_run`]) is the case K = 1 on a [`Trainer`] of any backend; a lockstep group
//! ([`super::lockstep::train_lockstep`]) is K networks in one [`crate::fast::LockstepNet`]. Both are
//! [`Networks`] and go through [`train_networks`].
//!
//! A run whose loss turns NaN or infinite is frozen at the step where it diverged: its partial epoch is
//! recorded, it gets no further batches and no evaluation, and the others go on.

use std::time::Instant;

use super::config::{diag_step, TrainConfig, TrainEval, EVAL_BATCH};
use super::result::{final_metrics, Divergence, EpochRecord, EpochTally, RunResult, RunStatus};
use crate::backend::make_trainer;
use crate::data::shift::{epoch_order, shift_rng, shifted_batch};
use crate::data::{data_id, used_sizes, DataId, Dataset};
use crate::error::{Error, Result};
use crate::fault::{self, Fault};
use crate::init::init_params;
use crate::model::{
    BackendInfo, Batch, EvalReport, Hyper, NetSpec, NumericsReport, ParamSet, StepReport, Trainer,
    HIDDEN_LAYERS,
};

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

/// K networks of one spec trained together, network k on its own batches with its own hyperparameters.
/// A slot whose batch is `None` belongs to a frozen (diverged) network: it is neither stepped nor
/// evaluated, and its report is `None`.
pub(crate) trait Networks {
    /// Backend, dtype and device of the networks.
    fn info(&self) -> Result<BackendInfo>;
    /// Rows per network of an evaluation batch.
    fn eval_rows(&self) -> usize;
    /// One SGD step of every network with a batch (all batches of one size): its report, or
    /// [`Error::Diverged`] when its loss is NaN or infinite (the network is then frozen).
    fn train_steps(
        &mut self,
        batches: &[Option<Batch<'_>>],
        hypers: &[Hyper],
        diag: bool,
    ) -> Result<Vec<Option<Result<StepReport>>>>;
    /// Evaluation of every network with a batch, without gradients.
    fn evaluate_batches(
        &mut self,
        batches: &[Option<Batch<'_>>],
    ) -> Result<Vec<Option<EvalReport>>>;
    /// Network k's current parameters.
    fn params_of(&self, k: usize) -> Result<ParamSet>;
    /// f16-autocast mode: what network k's last step saw (paper/model.md §14.5), also the step that
    /// diverged; `None` in f32 and f64.
    fn numerics_of(&self, k: usize) -> Option<NumericsReport>;
}

/// One [`Trainer`] per run, stepped one after the other (any backend; a single run is K = 1).
impl Networks for Vec<Box<dyn Trainer + Send>> {
    fn info(&self) -> Result<BackendInfo> {
        self.first()
            .map(|t| t.backend())
            .ok_or_else(|| Error::invalid("networks", "none (need at least one run)"))
    }

    fn eval_rows(&self) -> usize {
        EVAL_BATCH
    }

    fn train_steps(
        &mut self,
        batches: &[Option<Batch<'_>>],
        hypers: &[Hyper],
        diag: bool,
    ) -> Result<Vec<Option<Result<StepReport>>>> {
        Ok(self
            .iter_mut()
            .zip(batches)
            .zip(hypers)
            .map(|((t, b), h)| b.map(|b| t.train_step(b, h, diag)))
            .collect())
    }

    fn evaluate_batches(
        &mut self,
        batches: &[Option<Batch<'_>>],
    ) -> Result<Vec<Option<EvalReport>>> {
        self.iter_mut()
            .zip(batches)
            .map(|(t, b)| b.map(|b| t.evaluate(b)).transpose())
            .collect()
    }

    fn params_of(&self, k: usize) -> Result<ParamSet> {
        self.get(k)
            .ok_or_else(|| Error::invalid("network", format!("{k} is not in this group")))?
            .params()
    }

    fn numerics_of(&self, k: usize) -> Option<NumericsReport> {
        self.get(k)?.numerics()
    }
}

/// Accuracy (%), mean loss and per-layer (μ̄, v̄) of an evaluation pass.
type SetEval = (f64, f64, Vec<(f64, f64)>);

/// Checks `train` / `test` against `cfg`'s network input and returns the sample counts a run uses and their
/// [`DataId`] (`id` when the caller already computed it for these sets and sizes).
fn data_in_use(
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

/// Checks that `cfgs` can be trained together by [`train_networks`]: each valid, and every field but ε,
/// hyperparameters, seed, shuffle, config index and initial parameters equal to run 0's.
pub(crate) fn check_shared(cfgs: &[TrainConfig]) -> Result<()> {
    let Some(c0) = cfgs.first() else {
        return Err(Error::invalid(
            "lockstep group",
            "empty (need at least one run)",
        ));
    };
    for (k, c) in cfgs.iter().enumerate() {
        c.validate()?;
        let differs = [
            ("network spec", c.spec != c0.spec),
            ("epochs", c.epochs != c0.epochs),
            ("train size", c.train_size != c0.train_size),
            ("test size", c.test_size != c0.test_size),
            ("batch size", c.batch_size != c0.batch_size),
            ("backend", c.backend != c0.backend),
            ("diagnostics", c.diag != c0.diag),
            ("diagnosed steps", c.diag_every != c0.diag_every),
            ("train-eval", c.train_eval != c0.train_eval),
        ];
        if let Some((what, _)) = differs.iter().find(|d| d.1) {
            return Err(Error::invalid(
                "lockstep group",
                format!(
                    "run {k} differs from run 0 in its {what} (lockstep runs share everything but ε, \
                     learning rates, seed and shuffle)"
                ),
            ));
        }
    }
    Ok(())
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
    let build = |spec: &NetSpec, params: &[ParamSet]| {
        params
            .iter()
            .map(|p| make_trainer(cfg.backend, spec.clone(), p))
            .collect::<Result<Vec<_>>>()
    };
    train_networks(
        std::slice::from_ref(cfg),
        train,
        test,
        id,
        build,
        &mut |_, p| progress(p),
    )?
    .pop()
    .ok_or_else(|| Error::invalid("training run", "no result"))
}

/// Per-run state of the loop.
struct Member {
    history: Vec<EpochRecord>,
    divergence: Option<Divergence>,
    last_diag: Vec<(f64, f64)>,
    samples: usize,
    x: Vec<f32>,
    y: Vec<u8>,
}

impl Member {
    fn live(&self) -> bool {
        self.divergence.is_none()
    }
}

/// Trains the runs `cfgs` together (checked by [`check_shared`]) on `train` / `test` with the networks
/// `build(spec, initial parameters)` returns (one per run, in order), calling `progress(k, event)` for run
/// k after every step and every epoch. Returns one [`RunOutput`] per run, in order. Errors only for invalid
/// settings or data; a run whose loss turns NaN gets status [`RunStatus::Diverged`]. Timing fields
/// (`wall_s`, `train_s`, `seconds`) are the group's; `samples_per_s` is the run's own samples over the
/// group's training time.
pub(crate) fn train_networks<N: Networks>(
    cfgs: &[TrainConfig],
    train: &Dataset,
    test: &Dataset,
    id: Option<&DataId>,
    build: impl FnOnce(&NetSpec, &[ParamSet]) -> Result<N>,
    progress: &mut dyn FnMut(usize, Progress),
) -> Result<Vec<RunOutput>> {
    check_shared(cfgs)?;
    let c0 = &cfgs[0];
    let t0 = Instant::now();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (n_train, n_test, data) = data_in_use(c0, train, test, id)?;
    let params = cfgs
        .iter()
        .map(|c| match &c.initial_params {
            Some(p) => Ok(p.clone()),
            None => init_params(&c.spec, c.seed),
        })
        .collect::<Result<Vec<_>>>()?;
    let mut spec = c0.spec.clone();
    if fault::active(Fault::LocalLossOff) {
        spec.lambda = 0.0;
    }
    let mut nets = build(&spec, &params)?;
    let info = nets.info()?;
    let hypers: Vec<Hyper> = cfgs.iter().map(|c| c.hyper).collect();
    let steps_per_epoch = n_train.div_ceil(c0.batch_size);
    let kk = cfgs.len();
    let mut members: Vec<Member> = (0..kk)
        .map(|_| Member {
            history: Vec::with_capacity(c0.epochs),
            divergence: None,
            last_diag: Vec::new(),
            samples: 0,
            x: Vec::new(),
            y: Vec::new(),
        })
        .collect();
    let mut train_s = 0.0;

    for epoch in 1..=c0.epochs {
        if !members.iter().any(Member::live) {
            break;
        }
        let te = Instant::now();
        let orders: Vec<Vec<usize>> = cfgs
            .iter()
            .map(|c| epoch_order(n_train, c.shuffle, c.seed, epoch as u64))
            .collect();
        let mut rngs: Vec<_> = cfgs
            .iter()
            .map(|c| shift_rng(c.seed, true, epoch as u64))
            .collect();
        let mut tallies: Vec<EpochTally> =
            (0..kk).map(|_| EpochTally::new(HIDDEN_LAYERS)).collect();
        for s in 0..steps_per_epoch {
            if !members.iter().any(Member::live) {
                break;
            }
            let lo = s * c0.batch_size;
            let hi = (lo + c0.batch_size).min(n_train);
            for (k, m) in members.iter_mut().enumerate().filter(|(_, m)| m.live()) {
                let order = &orders[k][lo..hi];
                shifted_batch(train, order, cfgs[k].eps, &mut rngs[k], &mut m.x, &mut m.y);
            }
            let batches: Vec<Option<Batch>> = members
                .iter()
                .map(|m| m.live().then_some(Batch { x: &m.x, y: &m.y }))
                .collect();
            let ts = Instant::now();
            let diag = c0.diag && diag_step(s, steps_per_epoch, c0.diag_every);
            let reports = nets.train_steps(&batches, &hypers, diag)?;
            train_s += ts.elapsed().as_secs_f64();
            for (k, r) in reports.into_iter().enumerate() {
                let m = &mut members[k];
                match r {
                    None => {}
                    Some(Ok(r)) => {
                        m.samples += hi - lo;
                        tallies[k].add(&r, hi - lo, &mut m.last_diag);
                        progress(
                            k,
                            Progress::Step {
                                epoch,
                                step: s + 1,
                                steps_per_epoch,
                                loss: r.loss,
                            },
                        );
                    }
                    Some(Err(Error::Diverged(reason))) => {
                        m.divergence = Some(Divergence {
                            epoch,
                            step: s,
                            reason,
                        });
                        if let Some(n) = nets.numerics_of(k) {
                            tallies[k].add_numerics(&n, hi - lo);
                        }
                        m.history.push(tallies[k].record(epoch, te));
                    }
                    Some(Err(e)) => return Err(e),
                }
            }
        }
        let active: Vec<bool> = members.iter().map(Member::live).collect();
        let tests = evaluate_sets(&mut nets, test, n_test, cfgs, &active, epoch as u64)?;
        let trains = if c0.train_eval == TrainEval::Full {
            evaluate_sets(
                &mut nets,
                train,
                n_train,
                cfgs,
                &active,
                1_000_000 + epoch as u64,
            )?
        } else {
            vec![None; kk]
        };
        for k in (0..kk).filter(|&k| active[k]) {
            let mut rec = tallies[k].record(epoch, te);
            if let Some((acc, loss, mom)) = &tests[k] {
                rec.test_acc = *acc;
                rec.test_loss = *loss;
                rec.test_mean = mom.iter().map(|m| m.0).collect();
                rec.test_var = mom.iter().map(|m| m.1).collect();
            }
            if let Some((acc, loss, _)) = &trains[k] {
                rec.train_acc = *acc;
                rec.train_loss = *loss;
            }
            rec.seconds = te.elapsed().as_secs_f64();
            progress(
                k,
                Progress::Epoch {
                    epoch,
                    test_acc: rec.test_acc,
                },
            );
            members[k].history.push(rec);
        }
    }

    let wall_s = t0.elapsed().as_secs_f64();
    members
        .into_iter()
        .enumerate()
        .map(|(k, m)| {
            let status = if m.divergence.is_some() {
                RunStatus::Diverged
            } else {
                RunStatus::Ok
            };
            let final_metrics = final_metrics(status, &m.history, &m.last_diag);
            Ok(RunOutput {
                params: nets.params_of(k)?,
                result: RunResult {
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    config: cfgs[k].clone(),
                    backend: info.backend.clone(),
                    dtype: info.dtype.clone(),
                    device: info.device.clone(),
                    status,
                    divergence: m.divergence,
                    history: m.history,
                    final_metrics,
                    wall_s,
                    train_s,
                    samples_per_s: if train_s > 0.0 {
                        m.samples as f64 / train_s
                    } else {
                        0.0
                    },
                    started_unix,
                    data: Some(data.clone()),
                },
            })
        })
        .collect()
}

/// Accuracy (%), mean loss and per-layer (μ̄, v̄) of every run in `active` on the first `n` samples of
/// `ds`, run k with fresh offsets from `shift_rng(seeds[k], false, sub)` (training-set passes and test passes
/// draw from different sub-streams: the training-set pass uses epoch `1_000_000 + epoch`, so it never
/// repeats training offsets). Inactive runs get `None`. The moments are averaged over the evaluation
/// batches weighted by their size.
fn evaluate_sets<N: Networks>(
    nets: &mut N,
    ds: &Dataset,
    n: usize,
    cfgs: &[TrainConfig],
    active: &[bool],
    sub: u64,
) -> Result<Vec<Option<SetEval>>> {
    if !active.iter().any(|&a| a) {
        return Ok(vec![None; cfgs.len()]);
    }
    let mut rngs: Vec<_> = cfgs.iter().map(|c| shift_rng(c.seed, false, sub)).collect();
    let mut bufs = vec![(Vec::new(), Vec::new()); cfgs.len()];
    let mut acc = vec![(0usize, 0.0f64, vec![(0.0, 0.0); HIDDEN_LAYERS]); cfgs.len()];
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(nets.eval_rows()) {
        for (k, c) in cfgs.iter().enumerate().filter(|(k, _)| active[*k]) {
            let (x, y) = &mut bufs[k];
            shifted_batch(ds, chunk, c.eps, &mut rngs[k], x, y);
        }
        let batches: Vec<Option<Batch>> = bufs
            .iter()
            .zip(active)
            .map(|((x, y), &a)| a.then_some(Batch { x, y }))
            .collect();
        let reports = nets.evaluate_batches(&batches)?;
        let w = chunk.len() as f64 / n as f64;
        for (a, r) in acc
            .iter_mut()
            .zip(reports)
            .filter_map(|(a, r)| Some((a, r?)))
        {
            a.0 += r.correct;
            a.1 += r.loss_sum;
            for (m, rm) in a.2.iter_mut().zip(&r.moments) {
                m.0 += w * rm.0;
                m.1 += w * rm.1;
            }
        }
    }
    Ok(acc
        .into_iter()
        .zip(active)
        .map(|((correct, loss, mom), &a)| {
            a.then(|| (100.0 * correct as f64 / n as f64, loss / n as f64, mom))
        })
        .collect())
}
