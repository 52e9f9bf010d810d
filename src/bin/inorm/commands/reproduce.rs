//! `inorm reproduce`: sweep, merge and report in one command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::ValueEnum;

use inorm::error::Result;
use inorm::experiment::{self, merge_and_write, report, Shard, SweepSpec};
use inorm::model::Preset;

use super::merge::print_merge;
use crate::args::{get_data, DataArgs, ExecArgs, RunArgs};
use crate::progress::do_sweep;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Scale {
    /// Reduced grid for C4–C16 in ≤ 12 minutes on 2 cores.
    Quick,
    /// The full protocol: 30 configs × 4 ε × every condition × 50 epochs.
    Paper,
}

#[derive(clap::Args)]
pub(crate) struct ReproduceArgs {
    /// quick or paper.
    #[arg(long, value_enum)]
    pub(crate) scale: Scale,
    /// Output folder (default results/quick or results/paper).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
    #[command(flatten)]
    pub(crate) exec: ExecArgs,
    #[command(flatten)]
    pub(crate) data: DataArgs,
}

pub(crate) fn cmd_reproduce(a: ReproduceArgs, show: bool) -> Result<ExitCode> {
    let t0 = Instant::now();
    let (mut spec, default_out) = match a.scale {
        Scale::Quick => (experiment::quick_spec(), "results/quick"),
        Scale::Paper => (SweepSpec::new(Preset::ALL.to_vec()), "results/paper"),
    };
    a.run.apply_to_sweep(&mut spec)?;
    let out = a.out.unwrap_or_else(|| PathBuf::from(default_out));
    let shard = Shard::from_arg_or_env(a.exec.shard.as_deref())?;
    let data = get_data(&a.data)?;
    let sm = do_sweep(&spec, &out, shard, &a.exec, &data, show)?;
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
