//! `inorm sweep`: a grid into a folder (sharded, resumable, parallel).

use std::path::PathBuf;
use std::process::ExitCode;

use inorm::error::Result;
use inorm::experiment::Shard;

use crate::args::{get_data, jobs, sweep_spec, DataArgs, ExecArgs, GridArgs};
use crate::progress::do_sweep;

#[derive(clap::Args)]
pub(crate) struct SweepArgs {
    /// Output folder.
    #[arg(long)]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) grid: GridArgs,
    #[command(flatten)]
    pub(crate) exec: ExecArgs,
    #[command(flatten)]
    pub(crate) data: DataArgs,
}

pub(crate) fn cmd_sweep(a: SweepArgs, show: bool) -> Result<ExitCode> {
    let spec = sweep_spec(&a.grid)?;
    let shard = Shard::from_arg_or_env(a.exec.shard.as_deref())?;
    spec.grid()?;
    let data = get_data(&a.data)?;
    let sm = do_sweep(
        &spec,
        &a.out,
        shard,
        jobs(&a.exec)?,
        a.exec.lockstep,
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
