//! The `inorm` command line: single training runs, sweeps over the paper's grid (sharded, resumable,
//! parallel), merge, report (claims table and figures), one-command reproduction, data download, and the
//! `init` / `grads` safetensors interop. Every error is printed as `error: ...` with a non-zero exit.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use inorm::backend::{make_trainer, Backend};
use inorm::data::{self, FashionMnist};
use inorm::error::{Error, Result};
use inorm::experiment::{
    self, merge_and_write, report, run_sweep, Shard, SweepEvent, SweepSpec, WidthRule,
};
use inorm::init::init_params;
use inorm::interop::{self, FileDtype};
use inorm::model::{paper_config, Batch, Hyper, NetSpec, Preset};
use inorm::train::{train_run, Progress, RunStatus, TrainConfig, TrainEval};

#[derive(Parser)]
#[command(
    name = "inorm",
    version,
    about = "Inhibitory normalization of error signals: training runs, sweeps, claims and figures"
)]
struct Cli {
    /// No progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, global = true)]
    quiet: bool,
    /// Kernel threads per run (candle/rayon); batch-32 steps are fastest with 1, parallelism comes from
    /// running several runs side by side (--jobs).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// One training run: progress bar, result JSON, samples/s.
    Train(TrainArgs),
    /// A sweep over condition × ε × config × seed into a folder (one JSON per run; resumable; sharded).
    Sweep(SweepArgs),
    /// Check a sweep folder for missing and duplicate cells; write DIR/merged.json.
    Merge {
        /// The sweep folder.
        dir: PathBuf,
        /// Exit non-zero when cells are missing, duplicated or unreadable.
        #[arg(long)]
        strict: bool,
    },
    /// Claims table (C4–C16) and figures of a sweep folder.
    Report {
        /// The sweep folder.
        dir: PathBuf,
        /// Output folder (default DIR/report).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Fashion-MNIST folder for Fig 1b (optional; never downloads).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Sweep + merge + report in one command, at `quick` (≤ 12 min on 2 cores) or `paper` scale.
    Reproduce(ReproduceArgs),
    /// Fashion-MNIST data.
    Data {
        #[command(subcommand)]
        cmd: DataCmd,
    },
    /// Write an initialized model (SPEC §5) as safetensors.
    Init(InitArgs),
    /// One forward/backward pass of a model file on a batch file; write loss, logits, hidden.{i}.z (pre-activation,
    /// before LayerNorm), hidden.{i}.y (the ReLU input: after LayerNorm / the I-Norm division) and gradients.
    Grads(GradsArgs),
}

#[derive(Subcommand)]
enum DataCmd {
    /// Download the four Fashion-MNIST files (MD5-checked).
    Fetch {
        /// Base URL.
        #[arg(long, default_value = data::fetch::DEFAULT_BASE_URL)]
        url: String,
        /// Target folder (default: $INORM_DATA, else ~/.cache/inorm/fashion-mnist).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(clap::Args, Clone)]
struct DataArgs {
    /// Fashion-MNIST folder (else $INORM_DATA, else /usr/share/datasets/fashion-mnist, else download).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Never download; fail when the data is not found.
    #[arg(long)]
    offline: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum TrainEvalArg {
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

#[derive(clap::Args)]
struct TrainArgs {
    /// Condition: ei, ei-ln, e-ln, inorm, inorm-sub, inorm-gn-{full,center,scale,decorrelate,lateral}.
    #[arg(long)]
    net: String,
    /// Luminance-shift ε.
    #[arg(long, default_value_t = 0.75)]
    eps: f64,
    /// Paper configuration 0..=29 (learning rates and width); default 0 unless --lr-* are given.
    #[arg(long)]
    config: Option<usize>,
    /// Hidden width (overrides the configuration's).
    #[arg(long)]
    width: Option<usize>,
    /// η_E (W_EE, biases).
    #[arg(long)]
    lr_e: Option<f64>,
    /// η_IE (W_IE, D_IE).
    #[arg(long)]
    lr_ie: Option<f64>,
    /// η_EI (W_EI).
    #[arg(long)]
    lr_ei: Option<f64>,
    /// Epochs.
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    /// Use the first N training images.
    #[arg(long)]
    train_size: Option<usize>,
    /// Use the first N test images.
    #[arg(long)]
    test_size: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    run: RunOpts,
    #[command(flatten)]
    data: DataArgs,
    /// Result JSON.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the final parameters here (safetensors, f32).
    #[arg(long)]
    save_model: Option<PathBuf>,
}

/// The per-run options `train` and `sweep` share.
#[derive(clap::Args, Clone)]
struct RunOpts {
    /// reference, fast, fast-f64, fast-cuda, fast-cuda-f64.
    #[arg(long, default_value = "fast")]
    backend: String,
    /// I-Norm local-loss weight λ.
    #[arg(long, default_value_t = 0.01)]
    lambda: f64,
    /// Skip the per-step alignment diagnostics.
    #[arg(long)]
    no_diag: bool,
    /// How training-set accuracy/loss are measured.
    #[arg(long, value_enum, default_value = "full")]
    train_eval: TrainEvalArg,
    /// Shuffle the training set each epoch.
    #[arg(long)]
    shuffle: bool,
    /// Initial model (safetensors) instead of initializing from the seed.
    #[arg(long)]
    model: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
struct GridArgs {
    /// Conditions, comma-separated (default: all ten).
    #[arg(long)]
    nets: Option<String>,
    /// ε values, comma-separated.
    #[arg(long, default_value = "0,0.25,0.5,0.75")]
    eps: String,
    /// Paper configurations: list `0,3,7`, range `0..10` (exclusive) or `0..=9` (inclusive).
    #[arg(long, default_value = "0..30")]
    configs: String,
    /// Seeds: list or range like --configs.
    #[arg(long, default_value = "0")]
    seeds: String,
    /// Epochs per run.
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    /// Cap every run's width at N (min(config width, N)).
    #[arg(long, conflicts_with = "width")]
    width_cap: Option<usize>,
    /// Use width N for every run.
    #[arg(long)]
    width: Option<usize>,
    /// Use the first N training images.
    #[arg(long)]
    train_size: Option<usize>,
    /// Use the first N test images.
    #[arg(long)]
    test_size: Option<usize>,
    #[command(flatten)]
    run: RunOpts,
    /// Save every run's final parameters under DIR/models/.
    #[arg(long)]
    save_models: bool,
}

#[derive(clap::Args)]
struct SweepArgs {
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    grid: GridArgs,
    #[command(flatten)]
    exec: ExecArgs,
    #[command(flatten)]
    data: DataArgs,
}

/// How a grid is run: parallel runs here, and which shard of it.
#[derive(clap::Args, Clone)]
struct ExecArgs {
    /// Parallel runs (default: available cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run shard i of N (0-based), e.g. 3/100; default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT.
    #[arg(long)]
    shard: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Scale {
    /// Reduced grid for C4–C16 in ≤ 12 minutes on 2 cores.
    Quick,
    /// The full protocol: 30 configs × 4 ε × every condition × 50 epochs.
    Paper,
}

#[derive(clap::Args)]
struct ReproduceArgs {
    /// quick or paper.
    #[arg(long, value_enum)]
    scale: Scale,
    /// Output folder (default results/quick or results/paper).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    exec: ExecArgs,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum DtypeArg {
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

#[derive(clap::Args)]
struct InitArgs {
    /// Condition.
    #[arg(long)]
    net: String,
    /// Hidden width.
    #[arg(long)]
    width: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// I-Norm λ (recorded only; λ does not change the initialization).
    #[arg(long, default_value_t = 0.01)]
    lambda: f64,
    /// File dtype.
    #[arg(long, value_enum, default_value = "f32")]
    dtype: DtypeArg,
    /// Output safetensors file.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct GradsArgs {
    /// Model file (safetensors; names of `inorm init`).
    #[arg(long)]
    model: PathBuf,
    /// Batch file (safetensors: x B×784 float, y B integer).
    #[arg(long)]
    batch: PathBuf,
    /// Condition the model belongs to.
    #[arg(long)]
    net: String,
    /// I-Norm λ.
    #[arg(long, default_value_t = 0.01)]
    lambda: f64,
    /// Label smoothing of the cross-entropy.
    #[arg(long, default_value_t = 0.1)]
    label_smoothing: f64,
    /// reference, fast, fast-f64.
    #[arg(long, default_value = "reference")]
    backend: String,
    /// Output dtype.
    #[arg(long, value_enum, default_value = "f64")]
    dtype: DtypeArg,
    /// Output safetensors file.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any candle operation: the thread pools read these once.
    inorm::fast::set_kernel_threads(cli.threads);
    let show = !cli.quiet && std::io::stderr().is_terminal();
    match run(cli.cmd, show) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd, show: bool) -> Result<ExitCode> {
    match cmd {
        Cmd::Train(a) => cmd_train(a, show),
        Cmd::Sweep(a) => cmd_sweep(a, show),
        Cmd::Merge { dir, strict } => cmd_merge(&dir, strict),
        Cmd::Report { dir, out, data_dir } => cmd_report(&dir, out, data_dir.as_deref()),
        Cmd::Reproduce(a) => cmd_reproduce(a, show),
        Cmd::Data {
            cmd: DataCmd::Fetch { url, dir },
        } => {
            let dir = dir.unwrap_or_else(default_fetch_dir);
            data::fetch::fetch(&url, &dir, true)?;
            eprintln!("Fashion-MNIST is in {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Init(a) => cmd_init(a),
        Cmd::Grads(a) => cmd_grads(a),
    }
}

fn default_fetch_dir() -> PathBuf {
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
fn get_data(a: &DataArgs) -> Result<FashionMnist> {
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

fn bar(show: bool, len: u64, tmpl: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    if !show {
        b.set_draw_target(ProgressDrawTarget::hidden());
    }
    b.set_style(
        ProgressStyle::with_template(tmpl)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b
}

fn cmd_train(a: TrainArgs, show: bool) -> Result<ExitCode> {
    let preset = Preset::parse(&a.net)?;
    let backend = Backend::parse(&a.run.backend)?;
    let any_lr = a.lr_e.is_some() || a.lr_ie.is_some() || a.lr_ei.is_some();
    let (hyper, width, config_index) = if any_lr && a.config.is_none() {
        let (Some(e), Some(ie), Some(ei)) = (a.lr_e, a.lr_ie, a.lr_ei) else {
            return Err(Error::invalid(
                "learning rates",
                "give all three of --lr-e, --lr-ie, --lr-ei (or --config I)",
            ));
        };
        let w = a.width.ok_or_else(|| {
            Error::invalid("width", "--width N is needed with explicit learning rates")
        })?;
        (Hyper::sgd(e, ie, ei), w, None)
    } else {
        let i = a.config.unwrap_or(0);
        let pc = paper_config(i)?;
        let mut h = pc.hyper();
        if let Some(v) = a.lr_e {
            h.lr_e = v;
        }
        if let Some(v) = a.lr_ie {
            h.lr_ie = v;
        }
        if let Some(v) = a.lr_ei {
            h.lr_ei = v;
        }
        (h, a.width.unwrap_or(pc.width), Some(i))
    };
    let mut spec = NetSpec::new(preset, width);
    spec.lambda = a.run.lambda;
    spec.validate()?;
    let mut cfg = TrainConfig::new(spec, hyper, a.eps);
    cfg.config_index = config_index;
    cfg.epochs = a.epochs;
    cfg.train_size = a.train_size;
    cfg.test_size = a.test_size;
    cfg.seed = a.seed;
    cfg.shuffle = a.run.shuffle;
    cfg.backend = backend;
    cfg.diag = !a.run.no_diag;
    cfg.train_eval = a.run.train_eval.into();
    if let Some(m) = &a.run.model {
        cfg.initial_params = Some(interop::load_model(m, &cfg.spec)?);
        cfg.init_model = Some(m.display().to_string());
    }
    cfg.validate()?;
    let ds = get_data(&a.data)?;
    let n_train = cfg.train_size.unwrap_or(ds.train.len()).min(ds.train.len());
    let steps = n_train.div_ceil(cfg.batch_size) as u64;
    let pb = bar(
        show,
        steps * cfg.epochs as u64,
        "{spinner} {msg} [{bar:30}] {pos}/{len} steps {per_sec} ETA {eta}",
    );
    pb.set_message(format!("{preset} ε={} epoch 1/{}", cfg.eps, cfg.epochs));
    let epochs = cfg.epochs;
    let out = train_run(&cfg, &ds.train, &ds.test, &mut |p| match p {
        Progress::Step { epoch, loss, .. } => {
            pb.inc(1);
            if pb.position() % 50 == 0 {
                pb.set_message(format!("{preset} epoch {epoch}/{epochs} loss {loss:.3}"));
            }
        }
        Progress::Epoch { epoch, test_acc } => {
            pb.println(format!(
                "epoch {epoch}/{epochs}: test accuracy {test_acc:.2} %"
            ));
        }
    })?;
    pb.finish_and_clear();
    let r = &out.result;
    if let Some(path) = &a.out {
        experiment::write_result(path, r)?;
    }
    if let Some(path) = &a.save_model {
        interop::save_model(path, &cfg.spec, &out.params, FileDtype::F32)?;
    }
    let fm = &r.final_metrics;
    println!(
        "{} ε={} width {} config {} seed {} on {} ({}, {}): status {:?}",
        preset,
        cfg.eps,
        cfg.spec.width,
        config_index.map_or("custom".into(), |i| i.to_string()),
        cfg.seed,
        r.backend,
        r.dtype,
        r.device,
        r.status
    );
    if let Some(d) = &r.divergence {
        println!(
            "diverged at epoch {} step {}: {}",
            d.epoch, d.step, d.reason
        );
    }
    println!(
        "final test accuracy {:.2} % (best {:.2} % at epoch {}), test loss {:.4}, train accuracy {:.2} %",
        fm.test_acc, fm.best_test_acc, fm.best_epoch, fm.test_loss, fm.train_acc
    );
    println!(
        "alignment (last step, mean fc0/fc1): output {:.4}, gradient {:.4}; test moments μ̄ {:.4}, v̄ {:.4}",
        fm.output_alignment, fm.gradient_alignment, fm.mean, fm.var
    );
    println!(
        "{:.0} samples/s (training steps), wall {:.1} s{}",
        r.samples_per_s,
        r.wall_s,
        a.out
            .as_ref()
            .map_or(String::new(), |p| format!(", result in {}", p.display()))
    );
    Ok(if r.status == RunStatus::Ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// Parses `0,3,7`, `0..10` (exclusive) or `0..=9` (inclusive).
fn parse_list<T: std::str::FromStr + Copy + TryFrom<u64>>(what: &str, s: &str) -> Result<Vec<T>> {
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
        let end = if incl { b + 1 } else { b };
        if end <= a {
            return Err(bad());
        }
        return (a..end).map(conv).collect();
    }
    s.split(',').map(|x| conv(num(x)?)).collect()
}

fn parse_eps(s: &str) -> Result<Vec<f64>> {
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

fn sweep_spec(g: &GridArgs) -> Result<SweepSpec> {
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
    s.epochs = g.epochs;
    s.width = match (g.width, g.width_cap) {
        (Some(w), _) => WidthRule::Fixed(w),
        (None, Some(c)) => WidthRule::Cap(c),
        _ => WidthRule::Paper,
    };
    s.train_size = g.train_size;
    s.test_size = g.test_size;
    s.lambda = g.run.lambda;
    s.backend = Backend::parse(&g.run.backend)?;
    s.diag = !g.run.no_diag;
    s.train_eval = g.run.train_eval.into();
    s.shuffle = g.run.shuffle;
    s.model = g.run.model.clone();
    s.save_models = g.save_models;
    Ok(s)
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn do_sweep(
    spec: &SweepSpec,
    out: &Path,
    shard: Shard,
    jobs: usize,
    data: &FashionMnist,
    show: bool,
) -> Result<experiment::SweepSummary> {
    let grid = spec.grid()?;
    let mine = shard.select(&grid).len();
    let mp = MultiProgress::new();
    if !show {
        mp.set_draw_target(ProgressDrawTarget::hidden());
    }
    let total = mp.add(bar(
        show,
        mine as u64,
        "{msg} [{bar:30}] {pos}/{len} runs, elapsed {elapsed}, ETA {eta}",
    ));
    total.set_message("sweep");
    let workers: Vec<ProgressBar> = (0..jobs)
        .map(|_| mp.add(bar(show, 1, "  {msg} [{bar:20}] {percent}%")))
        .collect();
    let done_lines = Mutex::new(());
    let on_event = |ev: SweepEvent| match ev {
        SweepEvent::Started { worker, cell } => {
            if let Some(b) = workers.get(worker) {
                b.set_position(0);
                b.set_message(cell.id());
            }
        }
        SweepEvent::Step {
            worker,
            progress:
                Progress::Step {
                    epoch,
                    step,
                    steps_per_epoch,
                    ..
                },
            epochs,
        } => {
            if let Some(b) = workers.get(worker) {
                let len = (steps_per_epoch * epochs) as u64;
                if b.length() != Some(len) {
                    b.set_length(len);
                }
                b.set_position(((epoch - 1) * steps_per_epoch + step) as u64);
            }
        }
        SweepEvent::Step { .. } => {}
        SweepEvent::Finished {
            cell,
            test_acc,
            diverged,
            samples_per_s,
            ..
        } => {
            total.inc(1);
            let _g = done_lines.lock();
            let line = format!(
                "done {}: test accuracy {test_acc:.2} %{} ({samples_per_s:.0} samples/s)",
                cell.id(),
                if diverged { " (diverged)" } else { "" }
            );
            if show {
                total.println(line);
            }
        }
        SweepEvent::Failed { cell, error, .. } => {
            total.inc(1);
            total.println(format!("failed {}: {error}", cell.id()));
            if !show {
                eprintln!("failed {}: {error}", cell.id());
            }
        }
    };
    let skipped_before = grid.len();
    let _ = skipped_before;
    let sm = run_sweep(spec, out, shard, jobs, data, &on_event)?;
    for b in &workers {
        b.finish_and_clear();
    }
    total.finish_and_clear();
    eprintln!(
        "sweep: {} cells in grid, {} in shard {}/{}, {} already done, {} run ({} diverged), {} failed, {:.1} s, {:.0} samples/s per run",
        sm.grid,
        sm.shard,
        shard.index,
        shard.count,
        sm.skipped,
        sm.ran,
        sm.diverged,
        sm.failed.len(),
        sm.wall_s,
        sm.mean_samples_per_s
    );
    if sm.stale_removed > 0 {
        eprintln!("removed {} stale temporary file(s)", sm.stale_removed);
    }
    Ok(sm)
}

fn cmd_sweep(a: SweepArgs, show: bool) -> Result<ExitCode> {
    let spec = sweep_spec(&a.grid)?;
    let shard = Shard::from_arg_or_env(a.exec.shard.as_deref())?;
    spec.grid()?;
    let data = get_data(&a.data)?;
    let sm = do_sweep(
        &spec,
        &a.out,
        shard,
        a.exec.jobs.unwrap_or_else(default_jobs),
        &data,
        show,
    )?;
    if !sm.failed.is_empty() {
        for (id, e) in &sm.failed {
            eprintln!("error: run {id} failed: {e}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_merge(rep: &experiment::MergeReport) {
    println!(
        "{} result(s) for {} expected cell(s); {} missing, {} duplicated, {} unexpected, {} unreadable, {} diverged",
        rep.found,
        rep.expected,
        rep.missing.len(),
        rep.duplicates.len(),
        rep.unexpected.len(),
        rep.unreadable.len(),
        rep.diverged.len()
    );
    for m in &rep.missing {
        println!("missing: {m}");
    }
    for (id, files) in &rep.duplicates {
        println!("duplicate: {id} in {}", files.join(", "));
    }
    for u in &rep.unexpected {
        println!("unexpected: {u}");
    }
    for (f, e) in &rep.unreadable {
        println!("unreadable: {f}: {e}");
    }
}

fn cmd_merge(dir: &Path, strict: bool) -> Result<ExitCode> {
    let (rep, _) = merge_and_write(dir)?;
    print_merge(&rep);
    println!("wrote {}", dir.join("merged.json").display());
    if strict && !rep.complete() {
        eprintln!("error: the sweep in {} is incomplete", dir.display());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_report(dir: &Path, out: Option<PathBuf>, data_dir: Option<&Path>) -> Result<ExitCode> {
    let (rep, results) = merge_and_write(dir)?;
    let out = out.unwrap_or_else(|| dir.join("report"));
    let images = data::locate(data_dir)
        .ok()
        .and_then(|d| data::load(&d).ok())
        .map(|d| d.train.take(16));
    let (claims, figs) = report::write_report(&results, Some(&rep), images.as_ref(), &out)?;
    print_merge(&rep);
    print!("{}", report::claims_text(&claims));
    let written = figs.iter().filter(|f| f.file.is_some()).count();
    println!(
        "report: {} ({} figures written, {} skipped)",
        out.join("report.md").display(),
        written,
        figs.len() - written
    );
    Ok(ExitCode::SUCCESS)
}

fn cmd_reproduce(a: ReproduceArgs, show: bool) -> Result<ExitCode> {
    let t0 = Instant::now();
    let (spec, default_out) = match a.scale {
        Scale::Quick => (experiment::quick_spec(), "results/quick"),
        Scale::Paper => (SweepSpec::new(Preset::ALL.to_vec()), "results/paper"),
    };
    let out = a.out.unwrap_or_else(|| PathBuf::from(default_out));
    let shard = Shard::from_arg_or_env(a.exec.shard.as_deref())?;
    let data = get_data(&a.data)?;
    let sm = do_sweep(
        &spec,
        &out,
        shard,
        a.exec.jobs.unwrap_or_else(default_jobs),
        &data,
        show,
    )?;
    let (rep, results) = merge_and_write(&out)?;
    let rdir = out.join("report");
    let images = data.train.take(16);
    let (claims, figs) = report::write_report(&results, Some(&rep), Some(&images), &rdir)?;
    print_merge(&rep);
    print!("{}", report::claims_text(&claims));
    let written = figs.iter().filter(|f| f.file.is_some()).count();
    println!(
        "report: {} ({written} figures); {} runs this call, mean {:.0} samples/s per run; total wall time {:.1} s",
        rdir.join("report.md").display(),
        sm.ran,
        sm.mean_samples_per_s,
        t0.elapsed().as_secs_f64()
    );
    Ok(if sm.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cmd_init(a: InitArgs) -> Result<ExitCode> {
    let preset = Preset::parse(&a.net)?;
    let mut spec = NetSpec::new(preset, a.width);
    spec.lambda = a.lambda;
    let params = init_params(&spec, a.seed)?;
    interop::save_model(&a.out, &spec, &params, a.dtype.into())?;
    println!(
        "wrote {} ({preset}, width {}, seed {}, {} tensors)",
        a.out.display(),
        a.width,
        a.seed,
        params.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn cmd_grads(a: GradsArgs) -> Result<ExitCode> {
    let preset = Preset::parse(&a.net)?;
    let backend = Backend::parse(&a.backend)?;
    let raw = interop::load_tensors(&a.model)?;
    let w = raw.get("hidden.0.w_ee").ok_or_else(|| Error::BadTensor {
        name: "hidden.0.w_ee".into(),
        file: a.model.display().to_string(),
        preset: preset.name(),
        reason: "missing (needed to infer the width: expected shape [n, 784])".into(),
    })?;
    if w.shape.len() != 2 {
        return Err(Error::BadTensor {
            name: "hidden.0.w_ee".into(),
            file: a.model.display().to_string(),
            preset: preset.name(),
            reason: format!("expected shape [n, input], got {:?}", w.shape),
        });
    }
    let mut spec = NetSpec::new(preset, w.shape[0]);
    spec.input = w.shape[1];
    spec.lambda = a.lambda;
    spec.label_smoothing = a.label_smoothing;
    spec.validate()?;
    let params = interop::load_model(&a.model, &spec)?;
    let b = interop::load_batch(&a.batch, spec.input)?;
    let mut t = make_trainer(backend, spec, &params)?;
    let g = t.grads(Batch { x: &b.x, y: &b.y })?;
    let tensors = interop::grad_tensors(&g);
    interop::save_tensors(&a.out, &tensors, a.dtype.into(), None)?;
    println!(
        "wrote {} ({} tensors; loss {:.6}, batch {}, {preset} width {} on {})",
        a.out.display(),
        tensors.len(),
        g.loss,
        b.y.len(),
        w.shape[0],
        backend.name()
    );
    Ok(ExitCode::SUCCESS)
}
