//! K training runs in lockstep: [`train_lockstep`] trains runs that share a network spec (condition,
//! width, λ, options), epochs, data sizes, batch size, backend and diagnostics, but differ in ε,
//! hyperparameters and seed, with one [`LockstepNet`] (batched tensor ops, one step for all K), through the
//! epoch loop of [`super::train_run`]. Each run draws its own offsets, order and evaluation passes from its
//! own seed, so run k's [`RunResult`](super::RunResult) equals the single run's (tested: f64 to 1e-12, f32
//! within the fast tolerance). A diverging run is frozen at the step where it diverged and recorded as in a
//! single run; the others go on. Timing fields (`wall_s`, `train_s`, `samples_per_s`, `seconds`) are the
//! group's: `samples_per_s` is the run's own samples over the group's training time (the group's
//! throughput is K times that).

use candle_core::Device;

use super::config::{TrainConfig, EVAL_BATCH};
use super::epochs::{check_shared, train_networks, Networks, Progress, RunOutput};
use crate::backend::make_lockstep;
use crate::data::{DataId, Dataset};
use crate::error::{Error, Result};
use crate::fast::{backend_info, LockstepNet};
use crate::model::{
    BackendInfo, Batch, EvalReport, Hyper, NetSpec, NumericsReport, ParamSet, StepReport,
};

/// Checks that `cfgs` can share one [`LockstepNet`]: every field but ε, hyperparameters, seed, shuffle,
/// config index and initial parameters equal to run 0's, and a fast backend.
pub fn check_group(cfgs: &[TrainConfig]) -> Result<()> {
    if let Some(c) = cfgs.first().filter(|c| c.backend.is_reference()) {
        return Err(Error::invalid(
            "lockstep backend",
            format!(
                "{} (lockstep runs on fast, fast-f64, fast-cuda, fast-cuda-f64 or fast-f16-autocast)",
                c.backend.name()
            ),
        ));
    }
    check_shared(cfgs)
}

/// Rows per network of a lockstep evaluation batch: [`EVAL_BATCH`] on a GPU; on the CPU
/// `max(EVAL_BATCH / K, 32)`, so that the group's batch stays about [`EVAL_BATCH`] rows and its f64
/// statistics stay in cache (measured: 10 networks × 1000 rows evaluate at 0.5–0.6× the samples/s of one
/// network × 1000 rows). The chunking changes only the order of f64 sums (the offsets are drawn per sample
/// in the same order), not the results beyond rounding.
pub fn eval_rows(k: usize, device: &Device) -> usize {
    if device.is_cpu() {
        (EVAL_BATCH / k.max(1)).max(32)
    } else {
        EVAL_BATCH
    }
}

/// The inputs and the labels of K batches, as [`LockstepNet`] takes them.
type Stacked<'a> = (Vec<&'a [f32]>, Vec<&'a [u8]>);

/// The inputs and labels of every slot, a frozen slot (`None`) filled with the first given batch (its
/// report is dropped); `None` when no slot has a batch.
fn fill<'a>(batches: &[Option<Batch<'a>>]) -> Option<Stacked<'a>> {
    let lead = batches.iter().flatten().next()?;
    let pick = |b: &Option<Batch<'a>>| b.unwrap_or(*lead);
    Some((
        batches.iter().map(|b| pick(b).x).collect(),
        batches.iter().map(|b| pick(b).y).collect(),
    ))
}

/// Only the reports of the slots that had a batch.
fn given<T>(reports: Vec<T>, batches: &[Option<Batch<'_>>]) -> Vec<Option<T>> {
    reports
        .into_iter()
        .zip(batches)
        .map(|(r, b)| b.is_some().then_some(r))
        .collect()
}

/// The K networks of one batched [`LockstepNet`] (a frozen network's slot computes on a copy of another's
/// batch and is never updated).
impl Networks for LockstepNet {
    fn info(&self) -> Result<BackendInfo> {
        Ok(backend_info(self))
    }

    fn eval_rows(&self) -> usize {
        eval_rows(self.len(), self.device())
    }

    fn train_steps(
        &mut self,
        batches: &[Option<Batch<'_>>],
        hypers: &[Hyper],
        diag: bool,
    ) -> Result<Vec<Option<Result<StepReport>>>> {
        let Some((xs, ys)) = fill(batches) else {
            return Ok(batches.iter().map(|_| None).collect());
        };
        Ok(given(self.step(&xs, &ys, hypers, diag)?, batches))
    }

    fn evaluate_batches(
        &mut self,
        batches: &[Option<Batch<'_>>],
    ) -> Result<Vec<Option<EvalReport>>> {
        let Some((xs, ys)) = fill(batches) else {
            return Ok(vec![None; batches.len()]);
        };
        Ok(given(self.evaluate(&xs, &ys)?, batches))
    }

    fn params_of(&self, k: usize) -> Result<ParamSet> {
        self.params(k)
    }

    fn numerics_of(&self, k: usize) -> Option<NumericsReport> {
        self.numerics(k).cloned()
    }
}

/// Trains the runs `cfgs` (checked by [`check_group`]) in lockstep on `train` / `test`, calling
/// `progress(k, event)` for run k after every step and every epoch. Returns one [`RunOutput`] per run, in
/// order. Errors only for invalid settings or data; a run whose loss turns NaN gets status
/// [`RunStatus::Diverged`](super::RunStatus::Diverged) as in [`super::train_run`].
pub fn train_lockstep(
    cfgs: &[TrainConfig],
    train: &Dataset,
    test: &Dataset,
    progress: &mut dyn FnMut(usize, Progress),
) -> Result<Vec<RunOutput>> {
    train_lockstep_with_id(cfgs, train, test, None, progress)
}

/// [`train_lockstep`] with the [`DataId`] of `train` / `test` at the runs' sizes already computed (as
/// [`super::train_run_with_id`]); `None` computes it here.
pub fn train_lockstep_with_id(
    cfgs: &[TrainConfig],
    train: &Dataset,
    test: &Dataset,
    id: Option<&DataId>,
    progress: &mut dyn FnMut(usize, Progress),
) -> Result<Vec<RunOutput>> {
    check_group(cfgs)?;
    let build =
        |spec: &NetSpec, params: &[ParamSet]| make_lockstep(cfgs[0].backend, spec.clone(), params);
    train_networks(cfgs, train, test, id, build, progress)
}
