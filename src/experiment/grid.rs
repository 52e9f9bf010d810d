//! The grid of a sweep (paper/model.md §10, §12): its cells (condition × ε × configuration × seed), the
//! width rule, the sweep's settings ([`SweepSpec`]) and each cell's training settings, the seeds of
//! `--seed-per-config`, shards of a SLURM job array, and the quick grid.

use std::path::PathBuf;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::interop::load_model;
use crate::model::{paper_config, GradNorm, NetSpec, Preset};
use crate::train::{RunResult, TrainConfig, TrainEval};

/// Most cells a grid may have (the paper's grid has 1,200 per seed; a bound so a typo such as
/// `--seeds 0..100000000` is an error, not an out-of-memory abort).
pub const MAX_GRID: usize = 1_000_000;

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
    /// Seeds (replicates).
    pub seeds: Vec<u64>,
    /// Give every configuration its own initialization: the run of replicate seed `s` and configuration `c`
    /// uses seed `s·30 + c` ([`config_seed`]), so the runs of one condition are independent samples instead of
    /// sharing one initialization (all quick-grid configurations have width 100). Runs of different conditions
    /// with the same configuration still share the seed, so they pair up. Off by default (every run uses `s`).
    #[serde(default)]
    pub seed_per_config: bool,
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
    /// Alignment diagnostics on.
    pub diag: bool,
    /// Diagnose every `diag_every`-th step of an epoch and its last ([`TrainConfig::diag_every`]; 1 in
    /// `sweep.json` files written before the setting existed).
    #[serde(default = "crate::train::every_step")]
    pub diag_every: usize,
    /// Training-set metric.
    pub train_eval: TrainEval,
    /// Shuffle each epoch.
    pub shuffle: bool,
    /// Initial model for every run (`--model`); its preset and width must fit each cell.
    pub model: Option<PathBuf>,
    /// Save each run's final parameters under `DIR/models/`.
    pub save_models: bool,
    /// Let this sweep extend the grid of the folder's `sweep.json` (`--grow`): when the folder holds a
    /// sweep with the same run settings and data whose grid this one contains, `sweep.json` is replaced by
    /// this grid (the results stay; `merge` then counts the new cells as missing). Not part of the
    /// manifest.
    #[serde(skip)]
    pub grow: bool,
}

impl SweepSpec {
    /// A sweep of `presets` with the faithful per-run settings (50 epochs, full data, paper widths).
    pub fn new(presets: Vec<Preset>) -> SweepSpec {
        SweepSpec {
            presets,
            eps: vec![0.0, 0.25, 0.5, 0.75],
            configs: (0..30).collect(),
            seeds: vec![0],
            seed_per_config: false,
            epochs: 50,
            width: WidthRule::Paper,
            train_size: None,
            test_size: None,
            lambda: 0.01,
            backend: Backend::Fast { f64: false },
            diag: true,
            diag_every: crate::train::DIAG_EVERY,
            train_eval: TrainEval::Full,
            shuffle: false,
            model: None,
            save_models: false,
            grow: false,
        }
    }

    /// Every cell, in a fixed order (preset, ε, config, seed), each once: repeated values (`--eps 0,0.0`,
    /// `--seeds 1,1`) count once, and −0 is 0. Errors for an unknown config index, a negative or
    /// non-finite ε, an empty list, or more than [`MAX_GRID`] cells.
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
        let presets = dedup(&self.presets);
        let eps = dedup_eps(&self.eps);
        let configs = dedup(&self.configs);
        let seeds = dedup(&self.seeds);
        for (what, n) in [
            ("nets", presets.len()),
            ("eps", eps.len()),
            ("configs", configs.len()),
            ("seeds", seeds.len()),
        ] {
            if n == 0 {
                return Err(Error::invalid(what, "empty list (give at least one value)"));
            }
        }
        let size = [presets.len(), eps.len(), configs.len(), seeds.len()]
            .iter()
            .try_fold(1usize, |a, &n| a.checked_mul(n))
            .filter(|&n| n <= MAX_GRID);
        let Some(size) = size else {
            return Err(Error::invalid(
                "grid",
                format!(
                    "{} nets × {} ε × {} configs × {} seeds is more than {MAX_GRID} cells; split it into \
                     several sweeps",
                    presets.len(),
                    eps.len(),
                    configs.len(),
                    seeds.len()
                ),
            ));
        };
        let mut out = Vec::with_capacity(size);
        for &preset in &presets {
            for &eps in &eps {
                for &config in &configs {
                    for &seed in &seeds {
                        let seed = if self.seed_per_config {
                            config_seed(seed, config)?
                        } else {
                            seed
                        };
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

    /// The spec with every list deduplicated (first occurrence kept, −0 as 0), as written to
    /// `sweep.json`.
    pub fn normalized(&self) -> SweepSpec {
        let mut s = self.clone();
        s.presets = dedup(&s.presets);
        s.eps = dedup_eps(&s.eps);
        s.configs = dedup(&s.configs);
        s.seeds = dedup(&s.seeds);
        s
    }

    /// The run settings of one cell, without loading the `--model` file (its path is recorded, its
    /// checksum is not).
    pub fn run_config(&self, cell: &Cell) -> Result<TrainConfig> {
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
        c.diag_every = self.diag_every;
        c.train_eval = self.train_eval;
        c.init_model = self.model.as_ref().map(|m| m.display().to_string());
        Ok(c)
    }

    /// The training settings of one cell: [`SweepSpec::run_config`] with the `--model` file loaded
    /// (checked against the cell's preset and width) and its MD5.
    pub fn train_config(&self, cell: &Cell) -> Result<TrainConfig> {
        let mut c = self.run_config(cell)?;
        if let Some(m) = &self.model {
            c.initial_params = Some(load_model(m, &c.spec)?);
            c.init_model_md5 = Some(crate::data::fetch::md5_file(m)?);
        }
        Ok(c)
    }
}

/// `v` without repeated values (compared by `key`), first occurrences in order.
fn dedup_by<T: Copy, K: std::hash::Hash + Eq>(v: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    v.iter().filter(|x| seen.insert(key(x))).copied().collect()
}

/// `v` without repeated values, first occurrences in order.
fn dedup<T: Copy + std::hash::Hash + Eq>(v: &[T]) -> Vec<T> {
    dedup_by(v, |x| *x)
}

/// ε values without repeats, −0 as 0, first occurrences in order.
fn dedup_eps(v: &[f64]) -> Vec<f64> {
    let v: Vec<f64> = v.iter().map(|&e| e + 0.0).collect();
    dedup_by(&v, |e| e.to_bits())
}

/// The seed of replicate `seed` for paper configuration `config` under [`SweepSpec::seed_per_config`]:
/// `seed·30 + config` (30 = the number of paper configurations), distinct for every (seed, config) pair and
/// readable in cell ids (replicate 0 of configuration 7 uses seed 7). Errors when it overflows `u64`.
pub fn config_seed(seed: u64, config: usize) -> Result<u64> {
    seed.checked_mul(crate::model::PAPER_CONFIGS.len() as u64)
        .and_then(|s| s.checked_add(config as u64))
        .ok_or_else(|| {
            Error::invalid(
                "seeds",
                format!(
                    "{seed} is too large for --seed-per-config (seed·30 + config overflows u64)"
                ),
            )
        })
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
    s.seed_per_config = true;
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
