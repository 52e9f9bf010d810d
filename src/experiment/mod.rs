//! Sweeps over the paper's grid (SPEC §10, §12): condition × ε × configuration × seed, one result JSON
//! per run, sharded over a SLURM job array, resumable after a kill, run in parallel, merged, then judged
//! against the claims ([`claims`]), plotted ([`plots`]) and reported ([`report`]).
//!
//! Layout of a sweep folder:
//!
//! ```text
//! DIR/sweep.json            the sweep's settings (every shard writes the same one)
//! DIR/runs/<cell>.json      one RunResult per finished run, written atomically
//! DIR/models/<cell>.safetensors   final parameters (with --save-models)
//! DIR/merged.json           written by `inorm merge`: every result, plus missing and duplicate cells
//! DIR/report/               written by `inorm report`: report.md and the SVG figures
//! ```

pub mod claims;
pub mod plots;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::backend::Backend;
use crate::data::FashionMnist;
use crate::error::{Error, Result};
use crate::interop::{load_model, save_model, write_atomic, FileDtype};
use crate::model::{paper_config, GradNorm, NetSpec, Preset};
use crate::train::{train_run, Progress, RunResult, RunStatus, TrainConfig, TrainEval};

/// One run of a sweep: which condition, at which ε, with which paper configuration and seed.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cell {
    /// The condition.
    pub preset: Preset,
    /// Luminance-shift ε.
    pub eps: f64,
    /// Index into [`crate::model::PAPER_CONFIGS`].
    pub config: usize,
    /// Seed.
    pub seed: u64,
}

impl Cell {
    /// Stable, filename-safe identifier, e.g. `inorm-gn-full_eps0.75_c07_s0`.
    pub fn id(&self) -> String {
        format!(
            "{}_eps{}_c{:02}_s{}",
            self.preset.name(),
            self.eps,
            self.config,
            self.seed
        )
    }

    /// The cell a result belongs to.
    pub fn of(r: &RunResult) -> Cell {
        Cell {
            preset: r.config.spec.preset,
            eps: r.config.eps,
            config: r.config.config_index.unwrap_or(usize::MAX),
            seed: r.config.seed,
        }
    }
}

/// How the hidden width of a run is chosen from its paper configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WidthRule {
    /// The configuration's width (100…499).
    Paper,
    /// `min(configuration width, cap)`.
    Cap(usize),
    /// This width for every run.
    Fixed(usize),
}

impl WidthRule {
    /// The width for a configuration of width `paper`.
    pub fn width(self, paper: usize) -> usize {
        match self {
            WidthRule::Paper => paper,
            WidthRule::Cap(c) => paper.min(c),
            WidthRule::Fixed(w) => w,
        }
    }
}

/// Settings of a sweep (written to `DIR/sweep.json`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepSpec {
    /// Conditions.
    pub presets: Vec<Preset>,
    /// ε values.
    pub eps: Vec<f64>,
    /// Paper configuration indices.
    pub configs: Vec<usize>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Epochs per run.
    pub epochs: usize,
    /// Width rule.
    pub width: WidthRule,
    /// First `train_size` training images (all if `None`).
    pub train_size: Option<usize>,
    /// First `test_size` test images (all if `None`).
    pub test_size: Option<usize>,
    /// I-Norm λ.
    pub lambda: f64,
    /// Backend (by name).
    #[serde(with = "crate::train::backend_name")]
    pub backend: Backend,
    /// Alignment diagnostics at every step.
    pub diag: bool,
    /// Training-set metric.
    pub train_eval: TrainEval,
    /// Shuffle each epoch.
    pub shuffle: bool,
    /// Initial model for every run (`--model`); its preset and width must fit each cell.
    pub model: Option<PathBuf>,
    /// Save each run's final parameters under `DIR/models/`.
    pub save_models: bool,
}

impl SweepSpec {
    /// A sweep of `presets` with the faithful per-run settings (50 epochs, full data, paper widths).
    pub fn new(presets: Vec<Preset>) -> SweepSpec {
        SweepSpec {
            presets,
            eps: vec![0.0, 0.25, 0.5, 0.75],
            configs: (0..30).collect(),
            seeds: vec![0],
            epochs: 50,
            width: WidthRule::Paper,
            train_size: None,
            test_size: None,
            lambda: 0.01,
            backend: Backend::Fast { f64: false },
            diag: true,
            train_eval: TrainEval::Full,
            shuffle: false,
            model: None,
            save_models: false,
        }
    }

    /// Every cell, in a fixed order (preset, ε, config, seed). Errors for an unknown config index or a
    /// negative ε.
    pub fn grid(&self) -> Result<Vec<Cell>> {
        for &c in &self.configs {
            paper_config(c)?;
        }
        if let Some(e) = self.eps.iter().find(|e| !(e.is_finite() && **e >= 0.0)) {
            return Err(Error::invalid(
                "eps",
                format!("{e} (must be finite and ≥ 0)"),
            ));
        }
        let mut out = Vec::new();
        for &preset in &self.presets {
            for &eps in &self.eps {
                for &config in &self.configs {
                    for &seed in &self.seeds {
                        out.push(Cell {
                            preset,
                            eps,
                            config,
                            seed,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The training settings of one cell.
    pub fn train_config(&self, cell: &Cell) -> Result<TrainConfig> {
        let pc = paper_config(cell.config)?;
        let mut spec = NetSpec::new(cell.preset, self.width.width(pc.width));
        spec.lambda = self.lambda;
        let mut c = TrainConfig::new(spec, pc.hyper(), cell.eps);
        c.config_index = Some(cell.config);
        c.epochs = self.epochs;
        c.train_size = self.train_size;
        c.test_size = self.test_size;
        c.seed = cell.seed;
        c.shuffle = self.shuffle;
        c.backend = self.backend;
        c.diag = self.diag;
        c.train_eval = self.train_eval;
        if let Some(m) = &self.model {
            c.initial_params = Some(load_model(m, &c.spec)?);
            c.init_model = Some(m.display().to_string());
        }
        Ok(c)
    }
}

/// Shard `index` of `count` (0-based): the cells at positions `index, index + count, ...` of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index.
    pub index: usize,
    /// Number of shards (≥ 1).
    pub count: usize,
}

impl Shard {
    /// The whole grid.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// A shard, checked: `count ≥ 1` and `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 {
            return Err(Error::invalid(
                "shard",
                format!("{index}/0: the shard count must be at least 1"),
            ));
        }
        if index >= count {
            return Err(Error::invalid(
                "shard",
                format!("{index}/{count}: the index must be in 0..{count} (0-based)"),
            ));
        }
        Ok(Shard { index, count })
    }

    /// Parses `i/N` (0-based index i, N shards).
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || {
            Error::invalid(
                "shard",
                format!("'{s}' (expected i/N with 0 ≤ i < N, e.g. 3/100)"),
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i: usize = i.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }

    /// The shard from `--shard` if given, else from `SLURM_ARRAY_TASK_ID` / `SLURM_ARRAY_TASK_COUNT`
    /// (both must be set together, with `SLURM_ARRAY_TASK_MIN` subtracted when present, so
    /// `--array=1-100` works too), else the whole grid.
    pub fn from_arg_or_env(arg: Option<&str>) -> Result<Shard> {
        if let Some(a) = arg {
            return Shard::parse(a);
        }
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Shard::from_vars(
            get("SLURM_ARRAY_TASK_ID").as_deref(),
            get("SLURM_ARRAY_TASK_COUNT").as_deref(),
            get("SLURM_ARRAY_TASK_MIN").as_deref(),
        )
    }

    /// [`Shard::from_arg_or_env`]'s environment part with the values passed in (testable).
    pub fn from_vars(id: Option<&str>, count: Option<&str>, min: Option<&str>) -> Result<Shard> {
        let num = |k: &str, v: &str| -> Result<usize> {
            v.trim().parse().map_err(|_| {
                Error::invalid("shard", format!("{k}='{v}' is not a non-negative integer"))
            })
        };
        match (id, count) {
            (None, None) => Ok(Shard::ALL),
            (Some(i), Some(n)) => {
                let i = num("SLURM_ARRAY_TASK_ID", i)?;
                let n = num("SLURM_ARRAY_TASK_COUNT", n)?;
                let m = match min {
                    Some(m) => num("SLURM_ARRAY_TASK_MIN", m)?,
                    None => 0,
                };
                if i < m {
                    return Err(Error::invalid(
                        "shard",
                        format!("SLURM_ARRAY_TASK_ID={i} < SLURM_ARRAY_TASK_MIN={m}"),
                    ));
                }
                Shard::new(i - m, n)
            }
            (Some(_), None) => Err(Error::invalid(
                "shard",
                "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard i/N",
            )),
            (None, Some(_)) => Err(Error::invalid(
                "shard",
                "SLURM_ARRAY_TASK_COUNT is set but SLURM_ARRAY_TASK_ID is not; pass --shard i/N",
            )),
        }
    }

    /// The cells of this shard, in grid order.
    pub fn select<T: Clone>(&self, cells: &[T]) -> Vec<T> {
        cells
            .iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, c)| c.clone())
            .collect()
    }
}

/// `DIR/runs`.
pub fn runs_dir(dir: &Path) -> PathBuf {
    dir.join("runs")
}

/// `DIR/runs/<cell>.json`.
pub fn result_path(dir: &Path, cell: &Cell) -> PathBuf {
    runs_dir(dir).join(format!("{}.json", cell.id()))
}

/// `DIR/models/<cell>.safetensors`.
pub fn model_path(dir: &Path, cell: &Cell) -> PathBuf {
    dir.join("models")
        .join(format!("{}.safetensors", cell.id()))
}

/// Reads one result file.
pub fn read_result(path: &Path) -> Result<RunResult> {
    let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&s).map_err(|e| Error::Format {
        path: path.display().to_string(),
        reason: format!("not a run result: {e}"),
    })
}

/// Writes one result file atomically (pretty JSON).
pub fn write_result(path: &Path, r: &RunResult) -> Result<()> {
    let s = serde_json::to_string_pretty(r).map_err(|e| Error::Format {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    write_atomic(path, s.as_bytes())
}

/// What happened to a cell during [`run_sweep`].
#[derive(Clone, Debug)]
pub enum SweepEvent {
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
    /// Cells skipped because their result file already existed.
    pub skipped: usize,
    /// Cells run now.
    pub ran: usize,
    /// Of those, diverged.
    pub diverged: usize,
    /// Cells that failed with an error (id and message).
    pub failed: Vec<(String, String)>,
    /// Stale temporary files removed (from a killed earlier sweep).
    pub stale_removed: usize,
    /// Wall seconds.
    pub wall_s: f64,
    /// Mean training samples/s per run (over the runs of this call).
    pub mean_samples_per_s: f64,
}

/// Writes `DIR/sweep.json`, or checks that an existing one holds the same settings (so a resumed sweep or
/// another shard never mixes runs of different settings into one folder).
pub fn write_manifest(dir: &Path, spec: &SweepSpec) -> Result<()> {
    let path = dir.join("sweep.json");
    if path.exists() {
        let s = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let old: SweepSpec = serde_json::from_str(&s).map_err(|e| Error::Format {
            path: path.display().to_string(),
            reason: format!("not a sweep manifest: {e}"),
        })?;
        if &old != spec {
            return Err(Error::invalid(
                "out",
                format!(
                    "{} already holds a sweep with different settings ({}); use another --out folder \
                     or the same settings to resume",
                    dir.display(),
                    path.display()
                ),
            ));
        }
        return Ok(());
    }
    let s = serde_json::to_string_pretty(spec).map_err(|e| Error::Format {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    write_atomic(&path, s.as_bytes())
}

/// Reads `DIR/sweep.json`.
pub fn read_manifest(dir: &Path) -> Result<SweepSpec> {
    let path = dir.join("sweep.json");
    let s = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&s).map_err(|e| Error::Format {
        path: path.display().to_string(),
        reason: format!("not a sweep manifest: {e}"),
    })
}

/// Removes the temporary files (`.<cell>.json.<pid>.tmp`) of `cells` left in `DIR/runs` by a killed sweep;
/// returns how many. Only these cells' files: shards running at the same time in one folder (a SLURM
/// array) write other cells' temporary files, which must survive until they are renamed (found by
/// `scripts/slurm-check.sh`: a shard starting late deleted another's file before its rename).
pub fn remove_stale_temp(dir: &Path, cells: &[Cell]) -> usize {
    let Ok(rd) = std::fs::read_dir(runs_dir(dir)) else {
        return 0;
    };
    let prefixes: Vec<String> = cells.iter().map(|c| format!(".{}.json.", c.id())).collect();
    let mut n = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp")
            && prefixes.iter().any(|p| name.starts_with(p.as_str()))
            && std::fs::remove_file(e.path()).is_ok()
        {
            n += 1;
        }
    }
    n
}

/// Whether `cell` is finished in `dir`: its result file exists, parses and belongs to the cell.
pub fn is_done(dir: &Path, cell: &Cell) -> bool {
    read_result(&result_path(dir, cell))
        .map(|r| Cell::of(&r).id() == cell.id())
        .unwrap_or(false)
}

/// Runs this shard's unfinished cells of `spec` into `dir` on `jobs` worker threads (each run
/// single-threaded inside; call [`crate::fast::set_kernel_threads`] first). Finished cells (a valid
/// result file) are skipped, so a killed sweep restarts where it stopped. A cell that fails with an error
/// is reported in the summary and does not stop the others.
pub fn run_sweep(
    spec: &SweepSpec,
    dir: &Path,
    shard: Shard,
    jobs: usize,
    data: &FashionMnist,
    on_event: &(dyn Fn(SweepEvent) + Sync),
) -> Result<SweepSummary> {
    let t0 = std::time::Instant::now();
    let grid = spec.grid()?;
    // Check every cell's settings before any run starts (e.g. a --model that does not fit).
    for c in &grid {
        spec.train_config(c)?.validate()?;
    }
    std::fs::create_dir_all(runs_dir(dir)).map_err(|e| Error::io(runs_dir(dir), e))?;
    write_manifest(dir, spec)?;
    let mine = shard.select(&grid);
    let stale_removed = remove_stale_temp(dir, &mine);
    let todo: Vec<Cell> = mine.iter().filter(|c| !is_done(dir, c)).copied().collect();
    let summary = Mutex::new(SweepSummary {
        grid: grid.len(),
        shard: mine.len(),
        skipped: mine.len() - todo.len(),
        stale_removed,
        ..Default::default()
    });
    let sps = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let jobs = jobs.max(1).min(todo.len().max(1));
    std::thread::scope(|s| {
        for worker in 0..jobs {
            let (todo, next, summary, sps) = (&todo, &next, &summary, &sps);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(cell) = todo.get(i).copied() else {
                    break;
                };
                on_event(SweepEvent::Started { worker, cell });
                let r = run_cell(spec, dir, &cell, data, &mut |p| {
                    on_event(SweepEvent::Step {
                        worker,
                        progress: p,
                        epochs: spec.epochs,
                    })
                });
                let mut sm = summary.lock().unwrap_or_else(|e| e.into_inner());
                match r {
                    Ok(res) => {
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
                            cell,
                            test_acc: res.final_metrics.test_acc,
                            diverged,
                            samples_per_s: res.samples_per_s,
                        });
                    }
                    Err(e) => {
                        sm.failed.push((cell.id(), e.to_string()));
                        on_event(SweepEvent::Failed {
                            worker,
                            cell,
                            error: e.to_string(),
                        });
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

/// Runs one cell and writes its result (and model, with `save_models`).
pub fn run_cell(
    spec: &SweepSpec,
    dir: &Path,
    cell: &Cell,
    data: &FashionMnist,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunResult> {
    let cfg = spec.train_config(cell)?;
    let out = train_run(&cfg, &data.train, &data.test, progress)?;
    if spec.save_models {
        save_model(
            &model_path(dir, cell),
            &cfg.spec,
            &out.params,
            FileDtype::F32,
        )?;
    }
    write_result(&result_path(dir, cell), &out.result)?;
    Ok(out.result)
}

/// Files that are not readable results, with the reason.
pub type Unreadable = Vec<(PathBuf, String)>;

/// Every result under `DIR/runs` (recursively, so shard folders copied in as sub-folders count too),
/// with the file it came from. Unreadable files are returned separately.
pub fn load_results(dir: &Path) -> Result<(Vec<(PathBuf, RunResult)>, Unreadable)> {
    let root = runs_dir(dir);
    if !root.is_dir() {
        return Err(Error::invalid(
            "sweep folder",
            format!(
                "{} has no runs/ folder (is it the --out folder of a sweep?)",
                dir.display()
            ),
        ));
    }
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".json") && !name.starts_with('.') {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for f in files {
        match read_result(&f) {
            Ok(r) => ok.push((f, r)),
            Err(e) => bad.push((f, e.to_string())),
        }
    }
    Ok((ok, bad))
}

/// What `inorm merge` finds.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct MergeReport {
    /// Cells of the grid (from `sweep.json`; 0 if there is none).
    pub expected: usize,
    /// Distinct cells found.
    pub found: usize,
    /// Cells of the grid with no result.
    pub missing: Vec<String>,
    /// Cells with more than one result file, with the files.
    pub duplicates: Vec<(String, Vec<String>)>,
    /// Results whose cell is not in the grid.
    pub unexpected: Vec<String>,
    /// Files that are not readable results, with the reason.
    pub unreadable: Vec<(String, String)>,
    /// Diverged runs.
    pub diverged: Vec<String>,
}

impl MergeReport {
    /// True if nothing is missing, duplicated, unexpected or unreadable.
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
            && self.duplicates.is_empty()
            && self.unexpected.is_empty()
            && self.unreadable.is_empty()
    }
}

/// Merges a sweep folder: checks the results against the grid of `DIR/sweep.json` (if any), reports
/// missing, duplicate, unexpected and unreadable results, and returns one result per cell (the first file
/// in path order for duplicates).
pub fn merge(dir: &Path) -> Result<(MergeReport, Vec<RunResult>)> {
    let (found, bad) = load_results(dir)?;
    let grid = if dir.join("sweep.json").exists() {
        Some(read_manifest(dir)?.grid()?)
    } else {
        None
    };
    let mut by_cell: BTreeMap<String, Vec<(PathBuf, RunResult)>> = BTreeMap::new();
    for (p, r) in found {
        by_cell.entry(Cell::of(&r).id()).or_default().push((p, r));
    }
    let mut rep = MergeReport {
        expected: grid.as_ref().map_or(0, |g| g.len()),
        found: by_cell.len(),
        unreadable: bad
            .into_iter()
            .map(|(p, e)| (p.display().to_string(), e))
            .collect(),
        ..Default::default()
    };
    if let Some(g) = &grid {
        let ids: std::collections::BTreeSet<String> = g.iter().map(|c| c.id()).collect();
        rep.missing = g
            .iter()
            .map(|c| c.id())
            .filter(|id| !by_cell.contains_key(id))
            .collect();
        rep.unexpected = by_cell
            .keys()
            .filter(|id| !ids.contains(*id))
            .cloned()
            .collect();
    }
    let mut results = Vec::new();
    for (id, mut v) in by_cell {
        if v.len() > 1 {
            rep.duplicates.push((
                id.clone(),
                v.iter().map(|(p, _)| p.display().to_string()).collect(),
            ));
        }
        let (_, r) = v.swap_remove(0);
        if r.status == RunStatus::Diverged {
            rep.diverged.push(id);
        }
        results.push(r);
    }
    Ok((rep, results))
}

/// [`merge`] and write `DIR/merged.json` (`{"report": ..., "results": [...]}`).
pub fn merge_and_write(dir: &Path) -> Result<(MergeReport, Vec<RunResult>)> {
    let (rep, results) = merge(dir)?;
    let path = dir.join("merged.json");
    let v = serde_json::json!({ "report": rep, "results": results });
    let s = serde_json::to_string(&v).map_err(|e| Error::Format {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    write_atomic(&path, s.as_bytes())?;
    Ok((rep, results))
}

/// The quick grid (`inorm reproduce --scale quick`, and the CI claims gate of `tests/claims.rs`): the conditions C4–C16 need, ε ∈ {0, 0.75}, 10 configurations, width 100, a subset of
/// the training images, a few epochs, running-mean training metrics.
pub fn quick_spec() -> SweepSpec {
    let mut s = SweepSpec::new(vec![
        Preset::Ei,
        Preset::EiLn,
        Preset::ELn,
        Preset::INorm,
        Preset::INormGn(GradNorm::Full),
        Preset::INormGn(GradNorm::Center),
        Preset::INormGn(GradNorm::Scale),
        Preset::INormGn(GradNorm::Decorrelate),
        Preset::INormGn(GradNorm::Lateral),
    ]);
    s.eps = vec![0.0, 0.75];
    s.configs = (0..10).collect();
    s.epochs = QUICK_EPOCHS;
    s.width = WidthRule::Cap(100);
    s.train_size = Some(QUICK_TRAIN);
    s.test_size = Some(QUICK_TEST);
    s.train_eval = TrainEval::Running;
    s
}

/// Epochs of a quick run.
pub const QUICK_EPOCHS: usize = 6;
/// Training images of a quick run.
pub const QUICK_TRAIN: usize = 60_000;
/// Test images of a quick run.
pub const QUICK_TEST: usize = 10_000;
