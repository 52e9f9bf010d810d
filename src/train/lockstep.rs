//! K training runs in lockstep: [`train_lockstep`] trains runs that share a network spec (condition,
//! width, λ, options), epochs, data sizes, batch size, backend and diagnostics, but differ in ε,
//! hyperparameters and seed, with one [`LockstepNet`] (batched tensor ops, one step for all K). Each run
//! draws its own offsets, order and evaluation passes from its own seed exactly as [`super::train_run`] does, so
//! run k's [`RunResult`] equals the single run's (tested: f64 to 1e-12, f32 within the fast tolerance).
//! A diverging run is frozen at the step where it diverged and recorded as in a single run; the others go
//! on. Timing fields (`wall_s`, `train_s`, `samples_per_s`, `seconds`) are the group's: `samples_per_s`
//! is the run's own samples over the group's training time (the group's throughput is K times that).

use std::time::Instant;

use candle_core::Device;

use super::{
    data_in_use, diag_step, final_metrics, Divergence, EpochRecord, EpochTally, Progress,
    RunOutput, RunResult, RunStatus, SetEval, TrainConfig, TrainEval, EVAL_BATCH,
};
use crate::backend::{make_lockstep, Backend};
use crate::data::shift::{epoch_order, shift_rng, shifted_batch};
use crate::data::{DataId, Dataset};
use crate::error::{Error, Result};
use crate::fast::LockstepNet;
use crate::init::init_params;
use crate::model::{Hyper, HIDDEN_LAYERS};

/// Checks that `cfgs` can share one [`LockstepNet`]: every field but ε, hyperparameters, seed, shuffle,
/// config index and initial parameters equal to run 0's, and a fast backend.
pub fn check_group(cfgs: &[TrainConfig]) -> Result<()> {
    let Some(c0) = cfgs.first() else {
        return Err(Error::invalid(
            "lockstep group",
            "empty (need at least one run)",
        ));
    };
    if c0.backend == Backend::Reference {
        return Err(Error::invalid(
            "lockstep backend",
            "reference (lockstep runs on fast, fast-f64, fast-cuda or fast-cuda-f64)",
        ));
    }
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

/// Per-run state of a lockstep group.
struct Member {
    history: Vec<EpochRecord>,
    divergence: Option<Divergence>,
    last_diag: Vec<(f64, f64)>,
    samples: usize,
    x: Vec<f32>,
    y: Vec<u8>,
}

/// Accuracy (%), mean loss and per-layer (μ̄, v̄) of every run in `active` on the first `n` samples of
/// `ds`, run k with fresh offsets from `shift_rng(seeds[k], false, sub)` — what
/// [`super::evaluate_set`] computes for each run alone. Inactive runs get `None` (their slot evaluates a
/// copy of an active run's batch).
fn evaluate_sets(
    net: &mut LockstepNet,
    ds: &Dataset,
    n: usize,
    cfgs: &[TrainConfig],
    active: &[bool],
    sub: u64,
) -> Result<Vec<Option<SetEval>>> {
    let Some(first) = active.iter().position(|&a| a) else {
        return Ok(vec![None; cfgs.len()]);
    };
    let mut rngs: Vec<_> = cfgs.iter().map(|c| shift_rng(c.seed, false, sub)).collect();
    let mut bufs = vec![(Vec::new(), Vec::new()); cfgs.len()];
    let mut acc = vec![(0usize, 0.0f64, vec![(0.0, 0.0); HIDDEN_LAYERS]); cfgs.len()];
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(eval_rows(cfgs.len(), net.device())) {
        for (k, c) in cfgs.iter().enumerate() {
            if active[k] {
                let (x, y) = &mut bufs[k];
                shifted_batch(ds, chunk, c.eps, &mut rngs[k], x, y);
            }
        }
        let xs: Vec<&[f32]> = (0..cfgs.len())
            .map(|k| bufs[if active[k] { k } else { first }].0.as_slice())
            .collect();
        let ys: Vec<&[u8]> = (0..cfgs.len())
            .map(|k| bufs[if active[k] { k } else { first }].1.as_slice())
            .collect();
        let reports = net.evaluate(&xs, &ys)?;
        let w = chunk.len() as f64 / n as f64;
        for ((a, r), _) in acc.iter_mut().zip(&reports).zip(active).filter(|x| *x.1) {
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

/// Trains the runs `cfgs` (checked by [`check_group`]) in lockstep on `train` / `test`, calling
/// `progress(k, event)` for run k after every step and every epoch. Returns one [`RunOutput`] per run, in
/// order. Errors only for invalid settings or data; a run whose loss turns NaN gets status
/// [`RunStatus::Diverged`] as in [`super::train_run`].
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
    for c in cfgs {
        c.validate()?;
    }
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
    let mut net = make_lockstep(c0.backend, c0.spec.clone(), &params)?;
    let info = crate::fast::backend_info(&net);
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
        let running: Vec<bool> = members.iter().map(|m| m.divergence.is_none()).collect();
        if !running.iter().any(|&a| a) {
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
            let live: Vec<bool> = members.iter().map(|m| m.divergence.is_none()).collect();
            let Some(lead) = live.iter().position(|&a| a) else {
                break;
            };
            let lo = s * c0.batch_size;
            let hi = (lo + c0.batch_size).min(n_train);
            for (k, m) in members.iter_mut().enumerate() {
                if live[k] {
                    shifted_batch(
                        train,
                        &orders[k][lo..hi],
                        cfgs[k].eps,
                        &mut rngs[k],
                        &mut m.x,
                        &mut m.y,
                    );
                }
            }
            let pick = |k: usize| if live[k] { k } else { lead };
            let xs: Vec<&[f32]> = (0..kk).map(|k| members[pick(k)].x.as_slice()).collect();
            let ys: Vec<&[u8]> = (0..kk).map(|k| members[pick(k)].y.as_slice()).collect();
            let ts = Instant::now();
            let diag = c0.diag && diag_step(s, steps_per_epoch, c0.diag_every);
            let reports = net.step(&xs, &ys, &hypers, diag)?;
            train_s += ts.elapsed().as_secs_f64();
            for (k, r) in reports.into_iter().enumerate() {
                if !live[k] {
                    continue;
                }
                let m = &mut members[k];
                match r {
                    Ok(r) => {
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
                    Err(Error::Diverged(reason)) => {
                        m.divergence = Some(Divergence {
                            epoch,
                            step: s,
                            reason,
                        });
                        if let Some(n) = net.numerics(k) {
                            tallies[k].add_numerics(n, hi - lo);
                        }
                        m.history.push(tallies[k].record(epoch, te));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let active: Vec<bool> = members.iter().map(|m| m.divergence.is_none()).collect();
        let tests = evaluate_sets(&mut net, test, n_test, cfgs, &active, epoch as u64)?;
        let trains = if c0.train_eval == TrainEval::Full {
            evaluate_sets(
                &mut net,
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
                params: net.params(k)?,
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
