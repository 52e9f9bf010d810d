//! Running a sweep: one shard's cells through the worker loop (single runs or lockstep groups), in
//! parallel, resumable, each result written atomically as it finishes; the events that report progress.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::grid::{Cell, Shard, SweepSpec};
use super::store::{
    cell_state, model_path, remove_stale_temp, result_path, runs_dir, write_manifest, write_result,
    CellState, Manifest,
};
use crate::data::{data_id, used_sizes, FashionMnist};
use crate::error::{Error, Result};
use crate::interop::{check_writable, save_model, FileDtype};
use crate::train::lockstep::train_lockstep_with_id;
use crate::train::{train_run_with_id, Progress, RunResult, RunStatus, TrainConfig};

/// What happened to a cell during [`run_sweep`].
#[derive(Clone, Debug)]
pub enum SweepEvent {
    /// Sent once before any run: how many cells of this shard run now and how many were already done.
    Planned {
        /// Cells to run in this call.
        todo: usize,
        /// Cells of the shard already done.
        skipped: usize,
    },
    /// A worker started a cell.
    Started {
        /// Worker index.
        worker: usize,
        /// The cell.
        cell: Cell,
    },
    /// Training progress of a worker's cell.
    Step {
        /// Worker index.
        worker: usize,
        /// The training event.
        progress: Progress,
        /// Epochs of the run.
        epochs: usize,
    },
    /// A cell finished (ok or diverged) and its result file was written.
    Finished {
        /// Worker index.
        worker: usize,
        /// The cell.
        cell: Cell,
        /// Final test accuracy (%).
        test_acc: f64,
        /// Whether it diverged.
        diverged: bool,
        /// Samples per second of its training steps.
        samples_per_s: f64,
        /// Wall seconds of the run.
        wall_s: f64,
    },
    /// A cell failed with an error (no result file; it will run again next time).
    Failed {
        /// Worker index.
        worker: usize,
        /// The cell.
        cell: Cell,
        /// The error message.
        error: String,
    },
}

/// Counts of a [`run_sweep`] call.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SweepSummary {
    /// Cells in the whole grid.
    pub grid: usize,
    /// Cells of this shard.
    pub shard: usize,
    /// Cells skipped because a result of this sweep already existed.
    pub skipped: usize,
    /// Cells whose unreadable result file is being replaced (counted in `ran` or `failed` too).
    pub replaced_unreadable: usize,
    /// Cells run now.
    pub ran: usize,
    /// Of those, diverged.
    pub diverged: usize,
    /// Cells that failed with an error (id and message).
    pub failed: Vec<(String, String)>,
    /// Stale temporary files removed (older than [`STALE_TEMP_AGE`](super::store::STALE_TEMP_AGE), from a killed earlier sweep).
    pub stale_removed: usize,
    /// Wall seconds.
    pub wall_s: f64,
    /// Mean training samples/s per run (over the runs of this call).
    pub mean_samples_per_s: f64,
}

/// The [`Manifest`] of `spec` run on `data`: checks the grid and every cell's settings (a `--model` that does
/// not fit a cell, a `train_size` larger than the data), and computes the data's and the model's checksums.
pub fn manifest_for(spec: &SweepSpec, data: &FashionMnist) -> Result<Manifest> {
    let spec = spec.normalized();
    let grid = spec.grid()?;
    for c in &grid {
        spec.train_config(c)?.validate()?;
    }
    let (n_train, n_test) = used_sizes(spec.train_size, spec.test_size, &data.train, &data.test)?;
    let model_md5 = match &spec.model {
        Some(m) => Some(crate::data::fetch::md5_file(m)?),
        None => None,
    };
    Ok(Manifest {
        data: data_id(&data.train, &data.test, n_train, n_test),
        model_md5,
        inorm_version: env!("CARGO_PKG_VERSION").to_string(),
        data_dir: data.dir.display().to_string(),
        spec,
    })
}

/// Runs this shard's unfinished cells of `spec` into `dir` on `jobs` worker threads (each run
/// single-threaded inside; call [`crate::fast::set_kernel_threads`] first).
///
/// Before any run: every cell's settings are checked, `DIR/sweep.json` is written or checked against the
/// same identity ([`write_manifest`]), the folders are checked to be writable, and temporary files older
/// than [`STALE_TEMP_AGE`](super::store::STALE_TEMP_AGE) are removed (younger ones may belong to another shard writing now). Cells with a
/// result of this sweep are skipped, so a killed sweep restarts where it stopped; a result file of other
/// settings or data in this shard's cells is an error naming the file and the setting (it is never
/// overwritten); an unreadable one is replaced. A cell that fails with an error is reported in the summary
/// and does not stop the others.
pub fn run_sweep(
    spec: &SweepSpec,
    dir: &Path,
    shard: Shard,
    jobs: usize,
    data: &FashionMnist,
    on_event: &(dyn Fn(SweepEvent) + Sync),
) -> Result<SweepSummary> {
    run_sweep_grouped(spec, dir, shard, jobs, 1, data, on_event)
}

/// Most networks one worker may step in lockstep (`--lockstep K`).
pub const MAX_LOCKSTEP: usize = 1024;

/// [`run_sweep`] with up to `lockstep` cells of the same network spec (condition and width) trained in
/// lockstep by one worker ([`lockstep_groups`]; results equal those of single runs). Each cell
/// still gets its own result file, written when its group finishes; a killed sweep resumes with the cells
/// that have no result, regrouped. `lockstep = 1` is [`run_sweep`].
pub fn run_sweep_grouped(
    spec: &SweepSpec,
    dir: &Path,
    shard: Shard,
    jobs: usize,
    lockstep: usize,
    data: &FashionMnist,
    on_event: &(dyn Fn(SweepEvent) + Sync),
) -> Result<SweepSummary> {
    if !(1..=MAX_LOCKSTEP).contains(&lockstep) {
        return Err(Error::invalid(
            "lockstep",
            format!("must be 1..={MAX_LOCKSTEP} networks per worker, got {lockstep}"),
        ));
    }
    if lockstep > 1 && spec.backend.is_reference() {
        return Err(Error::invalid(
            "lockstep",
            "the reference backend trains one network at a time (use --lockstep 1 or a fast backend)",
        ));
    }
    let t0 = std::time::Instant::now();
    let manifest = manifest_for(spec, data)?;
    let spec = &manifest.spec;
    let grid = spec.grid()?;
    check_writable(&runs_dir(dir).join("x.json"), "out")?;
    if spec.save_models {
        check_writable(&dir.join("models").join("x.safetensors"), "out")?;
    }
    write_manifest(dir, &manifest, spec.grow)?;
    let stale_removed = remove_stale_temp(dir);
    let mine = shard.select(&grid);
    let mut todo = Vec::new();
    let mut foreign = Vec::new();
    let mut replaced_unreadable = 0;
    for c in &mine {
        match cell_state(dir, &manifest, c) {
            CellState::Done => {}
            CellState::Todo => todo.push(*c),
            CellState::Unreadable(_) => {
                replaced_unreadable += 1;
                todo.push(*c);
            }
            CellState::Foreign(why) => {
                foreign.push(format!("{}: {why}", result_path(dir, c).display()))
            }
        }
    }
    if !foreign.is_empty() {
        let n = foreign.len();
        foreign.truncate(3);
        return Err(Error::invalid(
            "out",
            format!(
                "{n} result file(s) in {} belong to a sweep with other settings or data, e.g. {}; move them \
                 out of the folder (or use another --out) and start again",
                runs_dir(dir).display(),
                foreign.join(" | ")
            ),
        ));
    }
    on_event(SweepEvent::Planned {
        todo: todo.len(),
        skipped: mine.len() - todo.len(),
    });
    let summary = Mutex::new(SweepSummary {
        grid: grid.len(),
        shard: mine.len(),
        skipped: mine.len() - todo.len(),
        replaced_unreadable,
        stale_removed,
        ..Default::default()
    });
    let groups = lockstep_groups(spec, &todo, lockstep)?;
    let sps = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let jobs = jobs.max(1).min(groups.len().max(1));
    let manifest = &manifest;
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
                let mut step = |member: usize, p: Progress| {
                    if member == 0 {
                        on_event(SweepEvent::Step {
                            worker,
                            progress: p,
                            epochs: manifest.spec.epochs,
                        })
                    }
                };
                let r = run_group_of(manifest, dir, group, data, &mut step);
                let mut sm = summary.lock().unwrap_or_else(|e| e.into_inner());
                match r {
                    Ok(results) => {
                        for (cell, res) in group.iter().zip(&results) {
                            sm.ran += 1;
                            let diverged = res.status == RunStatus::Diverged;
                            if diverged {
                                sm.diverged += 1;
                            }
                            sps.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(res.samples_per_s);
                            on_event(SweepEvent::Finished {
                                worker,
                                cell: *cell,
                                test_acc: res.final_metrics.test_acc,
                                diverged,
                                samples_per_s: res.samples_per_s,
                                wall_s: res.wall_s,
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
    sm.mean_samples_per_s = if sps.is_empty() {
        0.0
    } else {
        sps.iter().sum::<f64>() / sps.len() as f64
    };
    sm.wall_s = t0.elapsed().as_secs_f64();
    Ok(sm)
}

/// Runs one cell of `spec` on `data` and writes its result (and model, with `save_models`) into `dir`.
/// Checks nothing about the folder: [`run_sweep`] is the checked entry point.
pub fn run_cell(
    spec: &SweepSpec,
    dir: &Path,
    cell: &Cell,
    data: &FashionMnist,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunResult> {
    let m = manifest_for(spec, data)?;
    let mut one = run_group_of(&m, dir, std::slice::from_ref(cell), data, &mut |_, p| {
        progress(p)
    })?;
    one.pop()
        .ok_or_else(|| Error::invalid("sweep cell", format!("{} left no result", cell.id())))
}

/// Trains one group of cells of the sweep `m` (one cell: a single run on any backend; more: in lockstep on
/// a fast backend) and writes each cell's result (and model, with `save_models`) into `dir`, calling
/// `progress(k, event)` for cell k.
fn run_group_of(
    m: &Manifest,
    dir: &Path,
    group: &[Cell],
    data: &FashionMnist,
    progress: &mut dyn FnMut(usize, Progress),
) -> Result<Vec<RunResult>> {
    let cfgs = group
        .iter()
        .map(|c| m.spec.train_config(c))
        .collect::<Result<Vec<TrainConfig>>>()?;
    let outs = match cfgs.as_slice() {
        [cfg] => vec![train_run_with_id(
            cfg,
            &data.train,
            &data.test,
            Some(&m.data),
            &mut |p| progress(0, p),
        )?],
        _ => train_lockstep_with_id(&cfgs, &data.train, &data.test, Some(&m.data), progress)?,
    };
    group
        .iter()
        .zip(&cfgs)
        .zip(outs)
        .map(|((cell, cfg), out)| {
            if m.spec.save_models {
                save_model(
                    &model_path(dir, cell),
                    &cfg.spec,
                    &out.params,
                    FileDtype::F32,
                )?;
            }
            write_result(&result_path(dir, cell), &out.result)?;
            Ok(out.result)
        })
        .collect()
}

/// Which cells of a sweep train together (`inorm sweep --lockstep K`): this shard's unfinished cells are
/// grouped into sets of at most K cells whose runs share a network spec (same condition and width: they
/// differ in ε, configuration and seed); each group trains with one
/// [`crate::train::lockstep::train_lockstep`] call on one worker. Every cell still gets its own result file,
/// written when its group finishes, so a killed sweep resumes with the cells that have no result
/// (regrouped); results equal those of single runs (see [`crate::train::lockstep`]).
///
/// `cells` (in order) go into groups of at most `k` cells whose training settings can share a
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
