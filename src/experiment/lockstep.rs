//! Sweeps in lockstep (`inorm sweep --lockstep K`): this shard's unfinished cells are grouped into sets of
//! at most K cells whose runs share a network spec (same condition and width: they differ in ε,
//! configuration and seed), and each group is trained by one [`train_lockstep`] call on one worker. Every
//! cell still gets its own result file, written when its group finishes, so a killed sweep resumes with
//! the cells that have no result (regrouped); results equal those of single runs (see
//! [`crate::train::lockstep`]).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{
    is_done, model_path, remove_stale_temp, result_path, runs_dir, write_manifest, write_result,
    Cell, Shard, SweepEvent, SweepSpec, SweepSummary,
};
use crate::backend::Backend;
use crate::data::FashionMnist;
use crate::error::{Error, Result};
use crate::interop::{save_model, FileDtype};
use crate::train::lockstep::train_lockstep;
use crate::train::{RunStatus, TrainConfig};

/// Groups `cells` (in order) into lockstep groups of at most `k` cells whose training settings can share a
/// network ([`crate::train::lockstep::check_group`]): a cell joins the first open group with the same
/// network spec, or opens a new one.
pub fn lockstep_groups(spec: &SweepSpec, cells: &[Cell], k: usize) -> Result<Vec<Vec<Cell>>> {
    let k = k.max(1);
    let mut groups: Vec<(TrainConfig, Vec<Cell>)> = Vec::new();
    for cell in cells {
        let cfg = spec.train_config(cell)?;
        match groups
            .iter_mut()
            .find(|(c, g)| g.len() < k && c.spec == cfg.spec)
        {
            Some((_, g)) => g.push(*cell),
            None => groups.push((cfg, vec![*cell])),
        }
    }
    Ok(groups.into_iter().map(|(_, g)| g).collect())
}

/// Trains one group and writes each cell's result (and model, with `save_models`).
fn run_group(
    spec: &SweepSpec,
    dir: &Path,
    group: &[Cell],
    data: &FashionMnist,
    progress: &mut dyn FnMut(usize, crate::train::Progress),
) -> Result<Vec<crate::train::RunResult>> {
    let cfgs = group
        .iter()
        .map(|c| spec.train_config(c))
        .collect::<Result<Vec<_>>>()?;
    let outs = train_lockstep(&cfgs, &data.train, &data.test, progress)?;
    let mut results = Vec::with_capacity(outs.len());
    for ((cell, cfg), out) in group.iter().zip(&cfgs).zip(outs) {
        if spec.save_models {
            save_model(
                &model_path(dir, cell),
                &cfg.spec,
                &out.params,
                FileDtype::F32,
            )?;
        }
        write_result(&result_path(dir, cell), &out.result)?;
        results.push(out.result);
    }
    Ok(results)
}

/// [`super::run_sweep`] with lockstep groups of at most `k` runs: `jobs` workers each train one group at a
/// time (one kernel thread each). Finished cells are skipped; a group that fails reports each of its
/// cells as failed and does not stop the others.
pub fn run_sweep_lockstep(
    spec: &SweepSpec,
    dir: &Path,
    shard: Shard,
    jobs: usize,
    k: usize,
    data: &FashionMnist,
    on_event: &(dyn Fn(SweepEvent) + Sync),
) -> Result<SweepSummary> {
    if spec.backend == Backend::Reference {
        return Err(Error::invalid(
            "lockstep",
            "the reference backend trains one network at a time (use --lockstep 1 or a fast backend)",
        ));
    }
    let t0 = std::time::Instant::now();
    let grid = spec.grid()?;
    for c in &grid {
        spec.train_config(c)?.validate()?;
    }
    std::fs::create_dir_all(runs_dir(dir)).map_err(|e| Error::io(runs_dir(dir), e))?;
    write_manifest(dir, spec)?;
    let stale_removed = remove_stale_temp(dir);
    let mine = shard.select(&grid);
    let todo: Vec<Cell> = mine.iter().filter(|c| !is_done(dir, c)).copied().collect();
    let groups = lockstep_groups(spec, &todo, k)?;
    let summary = Mutex::new(SweepSummary {
        grid: grid.len(),
        shard: mine.len(),
        skipped: mine.len() - todo.len(),
        stale_removed,
        ..Default::default()
    });
    let sps = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let jobs = jobs.max(1).min(groups.len().max(1));
    std::thread::scope(|s| {
        for worker in 0..jobs {
            let (groups, next, summary, sps) = (&groups, &next, &summary, &sps);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(group) = groups.get(i) else {
                    break;
                };
                on_event(SweepEvent::Started {
                    worker,
                    cell: group[0],
                });
                let r = run_group(spec, dir, group, data, &mut |member, p| {
                    if member == 0 {
                        on_event(SweepEvent::Step {
                            worker,
                            progress: p,
                            epochs: spec.epochs,
                        })
                    }
                });
                let mut sm = summary.lock().unwrap_or_else(|e| e.into_inner());
                match r {
                    Ok(results) => {
                        let mut s = sps.lock().unwrap_or_else(|e| e.into_inner());
                        for (cell, res) in group.iter().zip(&results) {
                            sm.ran += 1;
                            let diverged = res.status == RunStatus::Diverged;
                            if diverged {
                                sm.diverged += 1;
                            }
                            s.push(res.samples_per_s);
                            on_event(SweepEvent::Finished {
                                worker,
                                cell: *cell,
                                test_acc: res.final_metrics.test_acc,
                                diverged,
                                samples_per_s: res.samples_per_s,
                            });
                        }
                    }
                    Err(e) => {
                        for cell in group {
                            sm.failed.push((cell.id(), e.to_string()));
                            on_event(SweepEvent::Failed {
                                worker,
                                cell: *cell,
                                error: e.to_string(),
                            });
                        }
                    }
                }
            });
        }
    });
    let mut sm = summary.into_inner().unwrap_or_else(|e| e.into_inner());
    let sps = sps.into_inner().unwrap_or_else(|e| e.into_inner());
    // Per run: its samples over its group's training time (a group's throughput is the sum).
    sm.mean_samples_per_s = if sps.is_empty() {
        0.0
    } else {
        sps.iter().sum::<f64>() / sps.len() as f64
    };
    sm.wall_s = t0.elapsed().as_secs_f64();
    Ok(sm)
}
