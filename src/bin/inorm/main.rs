//! The `inorm` command line: single training runs, sweeps over the paper's grid (sharded, resumable,
//! parallel), merge, report (claims table and figures), one-command reproduction, data download, and the
//! `init` / `grads` safetensors interop, and the paper's own runs read back from its figures. Every error is printed as `error: ...` with a non-zero exit.
//!
//! Layout (as cargo lays out its commands): this file parses and dispatches; `commands/<name>.rs` holds
//! each subcommand's arguments and handler; `args.rs` the arguments several share; `progress.rs` progress
//! bars and log lines.

mod args;
mod commands;
mod progress;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use inorm::error::Result;

use commands::{bench, data, grads, init, merge, paper_runs, report, reproduce, sweep, train};

#[derive(Parser)]
#[command(
    name = "inorm",
    version,
    about = "Inhibitory normalization of error signals: training runs, sweeps, claims and figures"
)]
struct Cli {
    /// No progress output. (When stderr is not a terminal, e.g. SLURM logs or CI, progress is one plain
    /// line per finished run or epoch instead of bars.)
    #[arg(long, global = true)]
    quiet: bool,
    /// Kernel threads per run (candle/rayon), 1 up to the cores available; batch-32 steps are fastest
    /// with 1, parallelism comes from running several runs side by side (--jobs).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// One training run: progress bar, result JSON, samples/s.
    Train(train::TrainArgs),
    /// A sweep over condition × ε × config × seed into a folder (one JSON per run; resumable; sharded).
    Sweep(sweep::SweepArgs),
    /// Check a sweep folder for missing and duplicate cells; write DIR/merged.json.
    Merge(merge::MergeArgs),
    /// Claims table (C4–C16) and figures of a sweep folder.
    Report(report::ReportArgs),
    /// Sweep + merge + report in one command, at `quick` (≤ 12 min on 2 cores) or `paper` scale.
    Reproduce(reproduce::ReproduceArgs),
    /// The paper's own runs read back from the authors' figure SVGs (paper/results/paper-runs/).
    PaperRuns {
        #[command(subcommand)]
        cmd: paper_runs::PaperRunsCmd,
    },
    /// Fashion-MNIST data.
    Data {
        #[command(subcommand)]
        cmd: data::DataCmd,
    },
    /// Write an initialized model (paper/model.md §5) as safetensors.
    Init(init::InitArgs),
    /// One forward/backward pass of a model file on a batch file; write loss, logits, hidden.{i}.z (pre-activation,
    /// before LayerNorm), hidden.{i}.y (the ReLU input: after LayerNorm / the I-Norm division) and gradients.
    Grads(grads::GradsArgs),
    /// Training throughput at the paper's shapes, projected wall time of the protocol, GEMM-peak floor.
    Bench(bench::BenchArgs),
    /// The case table of every condition on a backend (e.g. fast-cuda) against the f64 reference.
    BackendCheck(bench::CheckArgs),
}

fn main() -> ExitCode {
    // Output piped into a program that stops reading (`inorm … | head`) ends the process quietly, as a
    // command-line tool does, instead of panicking on the failed write.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: restores the default action of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Err(e) = args::check_threads(cli.threads) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    // Before any candle operation: the thread pools read these once.
    inorm::fast::set_kernel_threads(cli.threads);
    let tty = std::io::stderr().is_terminal();
    let show = !cli.quiet && tty;
    progress::set_lines(!cli.quiet && !tty);
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
        Cmd::Train(a) => train::cmd_train(a, show),
        Cmd::Sweep(a) => sweep::cmd_sweep(a, show),
        Cmd::Merge(a) => merge::cmd_merge(a),
        Cmd::Report(a) => report::cmd_report(a),
        Cmd::Reproduce(a) => reproduce::cmd_reproduce(a, show),
        Cmd::PaperRuns { cmd } => paper_runs::cmd_paper_runs(cmd),
        Cmd::Data { cmd } => data::cmd_data(cmd),
        Cmd::Init(a) => init::cmd_init(a),
        Cmd::Grads(a) => grads::cmd_grads(a),
        Cmd::Bench(a) => bench::cmd_bench(a),
        Cmd::BackendCheck(a) => bench::cmd_check(a),
    }
}
