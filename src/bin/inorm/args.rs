//! Arguments several subcommands share, and turning them into library settings.

use std::path::PathBuf;

use clap::ValueEnum;

use inorm::backend::{Backend, Precision};
use inorm::bench::BenchOpts;
use inorm::data::{self, FashionMnist};
use inorm::error::{Error, Result};
use inorm::experiment::{SweepSpec, WidthRule, MAX_GRID};
use inorm::interop::{self, FileDtype};
use inorm::model::{paper_config, Preset};
use inorm::train::{TrainConfig, TrainEval, DIAG_EVERY};

#[derive(clap::Args, Clone)]
pub(crate) struct DataArgs {
    /// Fashion-MNIST folder (else $INORM_DATA, else /usr/share/datasets/fashion-mnist, else download).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Never download; fail when the data is not found.
    #[arg(long)]
    pub(crate) offline: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum TrainEvalArg {
    /// A separate pass over the training subset each epoch (faithful).
    Full,
    /// Running mean over the epoch's steps (free).
    Running,
}

impl From<TrainEvalArg> for TrainEval {
    fn from(a: TrainEvalArg) -> TrainEval {
        match a {
            TrainEvalArg::Full => TrainEval::Full,
            TrainEvalArg::Running => TrainEval::Running,
        }
    }
}

/// How the networks compute: what every command that builds one shares (`train`, `sweep`, `reproduce`,
/// `bench` through [`RunArgs`], and `grads`). An option added here reaches all five.
#[derive(clap::Args, Clone)]
pub(crate) struct ComputeArgs {
    /// Implementation: reference (the f64 oracle; one network at a time, so not for `bench` or
    /// `--lockstep` above 1), fast or fast-cuda; the names fast-f64, fast-cuda-f64, fast-f16-autocast and
    /// reference-f16-autocast also fix the precision (see --precision).
    #[arg(long, default_value = "fast", value_parser = Backend::parse)]
    pub(crate) backend: Backend,
    /// Numerics: f32 (the fast path's default), f64, or f16-autocast, the authors' GPU numerics (CUDA
    /// float16 autocast without loss scaling, emulated on the CPU fast path; paper/model.md §14)
    /// [default: the backend's own].
    #[arg(long, value_parser = Precision::parse)]
    pub(crate) precision: Option<Precision>,
}

impl ComputeArgs {
    /// The backend of `--backend` with `--precision`; a precision the backend cannot honour is an error
    /// naming both options.
    pub(crate) fn backend(&self) -> Result<Backend> {
        Backend::with_precision(self.backend.name(), self.precision)
    }
}

/// How each run trains and what it records: the options `train`, `sweep`, `reproduce` and `bench` share,
/// checked when parsed, and written into the library's settings of each ([`RunArgs::apply_to_run`],
/// [`RunArgs::apply_to_sweep`], [`RunArgs::apply_to_bench`]). An option added here reaches all four.
#[derive(clap::Args, Clone)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) compute: ComputeArgs,
    /// Skip the alignment diagnostics.
    #[arg(long)]
    pub(crate) no_diag: bool,
    /// Compute the alignment diagnostics on every N-th step of an epoch and on its last step, the value
    /// the figures and claims use (1: every step, as results written before this option were, and as a
    /// folder of them needs to resume).
    #[arg(long, value_name = "N", default_value_t = DIAG_EVERY, value_parser = diag_every)]
    pub(crate) diag_every: usize,
    /// How training-set accuracy and loss are measured each epoch (`bench`: whether its projection
    /// includes the full pass) [default: full; `reproduce --scale quick`: running].
    #[arg(long, value_enum)]
    pub(crate) train_eval: Option<TrainEvalArg>,
}

impl RunArgs {
    /// `--train-eval`, else `default` (the command's or the scale's).
    fn train_eval_or(&self, default: TrainEval) -> TrainEval {
        self.train_eval.map_or(default, TrainEval::from)
    }

    /// Writes the settings into a run's.
    pub(crate) fn apply_to_run(&self, c: &mut TrainConfig) -> Result<()> {
        c.backend = self.compute.backend()?;
        c.diag = !self.no_diag;
        c.diag_every = self.diag_every;
        c.train_eval = self.train_eval_or(c.train_eval);
        Ok(())
    }

    /// Writes the settings into a sweep's (its runs').
    pub(crate) fn apply_to_sweep(&self, s: &mut SweepSpec) -> Result<()> {
        s.backend = self.compute.backend()?;
        s.diag = !self.no_diag;
        s.diag_every = self.diag_every;
        s.train_eval = self.train_eval_or(s.train_eval);
        Ok(())
    }

    /// Writes the settings into a benchmark's (the runs it times and projects).
    pub(crate) fn apply_to_bench(&self, o: &mut BenchOpts) -> Result<()> {
        o.backend = self.compute.backend()?;
        o.diag = !self.no_diag;
        o.diag_every = self.diag_every;
        o.train_eval_full = self.train_eval_or(TrainEval::Full) == TrainEval::Full;
        Ok(())
    }
}

/// A `--diag-every` value, checked (≥ 1).
fn diag_every(s: &str) -> Result<usize> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err(Error::invalid(
            "diag-every",
            "0 (must be ≥ 1; 1 computes the diagnostics on every step)",
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(Error::invalid(
            "diag-every",
            format!("'{s}' (must be a whole number ≥ 1)"),
        )),
    }
}

/// What a training run trains on, for how long and from where: the options `train` and `sweep` share.
#[derive(clap::Args, Clone)]
pub(crate) struct TrainingArgs {
    /// Epochs per run.
    #[arg(long, default_value_t = 50)]
    pub(crate) epochs: usize,
    /// Use the first N training images.
    #[arg(long, value_name = "N")]
    pub(crate) train_size: Option<usize>,
    /// Use the first N test images.
    #[arg(long, value_name = "N")]
    pub(crate) test_size: Option<usize>,
    /// I-Norm local-loss weight λ.
    #[arg(long, default_value_t = 0.01)]
    pub(crate) lambda: f64,
    /// Shuffle the training set each epoch.
    #[arg(long)]
    pub(crate) shuffle: bool,
    /// Initial model (safetensors) instead of initializing from the seed.
    #[arg(long)]
    pub(crate) model: Option<PathBuf>,
}

impl TrainingArgs {
    /// Writes the settings into a run's: λ into its network spec (then checked), the `--model` file
    /// loaded against it.
    pub(crate) fn apply_to_run(&self, c: &mut TrainConfig) -> Result<()> {
        c.spec.lambda = self.lambda;
        c.spec.validate()?;
        c.epochs = self.epochs;
        c.train_size = self.train_size;
        c.test_size = self.test_size;
        c.shuffle = self.shuffle;
        if let Some(m) = &self.model {
            c.initial_params = Some(interop::load_model(m, &c.spec)?);
            c.init_model = Some(m.display().to_string());
        }
        Ok(())
    }

    /// Writes the settings into a sweep's (its runs'; each cell loads the `--model` file).
    pub(crate) fn apply_to_sweep(&self, s: &mut SweepSpec) {
        s.epochs = self.epochs;
        s.train_size = self.train_size;
        s.test_size = self.test_size;
        s.lambda = self.lambda;
        s.shuffle = self.shuffle;
        s.model = self.model.clone();
    }
}

#[derive(clap::Args, Clone)]
pub(crate) struct GridArgs {
    /// Conditions, comma-separated (default: all ten).
    #[arg(long)]
    pub(crate) nets: Option<String>,
    /// ε values, comma-separated.
    #[arg(long, default_value = "0,0.25,0.5,0.75")]
    pub(crate) eps: String,
    /// Paper configurations: list `0,3,7`, range `0..10` (exclusive) or `0..=9` (inclusive).
    #[arg(long, default_value = "0..30")]
    pub(crate) configs: String,
    /// Seeds: list or range like --configs.
    #[arg(long, default_value = "0")]
    pub(crate) seeds: String,
    /// Give every configuration its own initialization (seed·30 + config), so a condition's runs are
    /// independent samples (paper/model.md §10.1); the quick grid always does.
    #[arg(long)]
    pub(crate) seed_per_config: bool,
    /// Cap every run's width at N (min(config width, N)).
    #[arg(long, conflicts_with = "width")]
    pub(crate) width_cap: Option<usize>,
    /// Use width N for every run.
    #[arg(long)]
    pub(crate) width: Option<usize>,
    #[command(flatten)]
    pub(crate) training: TrainingArgs,
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// Save every run's final parameters under DIR/models/.
    #[arg(long)]
    pub(crate) save_models: bool,
}

/// How a grid is run: parallel runs here, and which shard of it.
#[derive(clap::Args, Clone)]
pub(crate) struct ExecArgs {
    /// Parallel runs (default: available cores).
    #[arg(long)]
    pub(crate) jobs: Option<usize>,
    /// Run shard i of N (0-based), e.g. 3/100; default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT.
    #[arg(long)]
    pub(crate) shard: Option<String>,
    /// Train up to K runs of the same condition and width in lockstep in one worker (batched steps; same
    /// results as single runs); 1 = one run per worker.
    #[arg(long, default_value_t = 1)]
    pub(crate) lockstep: usize,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum DtypeArg {
    F32,
    F64,
}

impl From<DtypeArg> for FileDtype {
    fn from(d: DtypeArg) -> FileDtype {
        match d {
            DtypeArg::F32 => FileDtype::F32,
            DtypeArg::F64 => FileDtype::F64,
        }
    }
}

pub(crate) fn default_fetch_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(data::ENV_VAR).filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("inorm").join("fashion-mnist")
}

/// Finds the data (--data-dir, $INORM_DATA, the system folder, the download cache) and loads it;
/// downloads it when nothing is found and --offline is not given.
pub(crate) fn get_data(a: &DataArgs) -> Result<FashionMnist> {
    match data::locate(a.data_dir.as_deref()) {
        Ok(d) => data::load(&d),
        Err(e) => {
            let explicit = a.data_dir.is_some()
                || std::env::var_os(data::ENV_VAR).is_some_and(|v| !v.is_empty());
            if explicit {
                return Err(e);
            }
            let cache = default_fetch_dir();
            if data::missing_files(&cache).is_empty() {
                return data::load(&cache);
            }
            if a.offline {
                return Err(Error::DataNotFound(format!(
                    "{e} (--offline given, so nothing is downloaded; also looked in {})",
                    cache.display()
                )));
            }
            eprintln!(
                "Fashion-MNIST not found locally; downloading it to {} (use --offline to forbid)",
                cache.display()
            );
            data::fetch::fetch(data::fetch::DEFAULT_BASE_URL, &cache, true)?;
            data::load(&cache)
        }
    }
}

/// Parses `0,3,7`, `0..10` (exclusive) or `0..=9` (inclusive).
pub(crate) fn parse_list<T: std::str::FromStr + Copy + TryFrom<u64>>(
    what: &str,
    s: &str,
) -> Result<Vec<T>> {
    let bad = || {
        Error::invalid(
            what,
            format!("'{s}' (expected a list like 0,3,7 or a range like 0..10 or 0..=9)"),
        )
    };
    let num = |x: &str| -> Result<u64> { x.trim().parse::<u64>().map_err(|_| bad()) };
    let conv = |x: u64| T::try_from(x).map_err(|_| bad());
    if let Some((a, b)) = s.split_once("..") {
        let (incl, b) = match b.strip_prefix('=') {
            Some(b) => (true, b),
            None => (false, b),
        };
        let (a, b) = (num(a)?, num(b)?);
        let end = if incl {
            b.checked_add(1).ok_or_else(bad)?
        } else {
            b
        };
        if end <= a {
            return Err(bad());
        }
        if end - a > MAX_GRID as u64 {
            return Err(Error::invalid(
                what,
                format!(
                    "'{s}' has {} values, more than a grid may have ({MAX_GRID} cells); split the sweep",
                    end - a
                ),
            ));
        }
        return (a..end).map(conv).collect();
    }
    s.split(',').map(|x| conv(num(x)?)).collect()
}

pub(crate) fn parse_eps(s: &str) -> Result<Vec<f64>> {
    s.split(',')
        .map(|x| {
            let v: f64 = x.trim().parse().map_err(|_| {
                Error::invalid("eps", format!("'{x}' is not a number (e.g. --eps 0,0.75)"))
            })?;
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::invalid(
                    "eps",
                    format!("{v} (must be finite and ≥ 0)"),
                ));
            }
            Ok(v)
        })
        .collect()
}

pub(crate) fn sweep_spec(g: &GridArgs) -> Result<SweepSpec> {
    let presets = match &g.nets {
        None => Preset::ALL.to_vec(),
        Some(s) => s
            .split(',')
            .map(|x| Preset::parse(x.trim()))
            .collect::<Result<Vec<_>>>()?,
    };
    let mut s = SweepSpec::new(presets);
    s.eps = parse_eps(&g.eps)?;
    s.configs = parse_list("configs", &g.configs)?;
    for &c in &s.configs {
        paper_config(c)?;
    }
    s.seeds = parse_list("seeds", &g.seeds)?;
    s.seed_per_config = g.seed_per_config;
    s.width = match (g.width, g.width_cap) {
        (Some(w), _) => WidthRule::Fixed(w),
        (None, Some(c)) => WidthRule::Cap(c),
        _ => WidthRule::Paper,
    };
    g.training.apply_to_sweep(&mut s);
    g.run.apply_to_sweep(&mut s)?;
    s.save_models = g.save_models;
    let s = s.normalized();
    s.grid()?;
    Ok(s)
}

pub(crate) fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Cores available to this process (affinity and cgroup quotas included).
fn cores() -> usize {
    default_jobs()
}

/// `--jobs`: default the cores available; 0 and more than 4 × the cores are errors.
pub(crate) fn jobs(e: &ExecArgs) -> Result<usize> {
    let max = 4 * cores();
    match e.jobs {
        None => Ok(default_jobs()),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(Error::invalid(
            "jobs",
            format!(
                "{n} (must be in 1..={max}: at least one run, at most 4 × the {} cores available; \
                 more runs side by side only slow each other down)",
                cores()
            ),
        )),
    }
}

/// `--threads`: 1 up to the cores available (more kernel threads than cores never helps, and thousands
/// of them stall the run).
pub(crate) fn check_threads(n: usize) -> Result<()> {
    let max = cores();
    if (1..=max).contains(&n) {
        return Ok(());
    }
    Err(Error::invalid(
        "threads",
        format!("{n} (must be in 1..={max}, the cores available to this process)"),
    ))
}
