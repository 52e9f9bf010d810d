//! `inorm sweep`: a grid into a folder (sharded, resumable, parallel).

use std::path::PathBuf;
use std::process::ExitCode;

use inorm::error::Result;
use inorm::experiment::Shard;

use crate::args::{get_data, sweep_spec, DataArgs, ExecArgs, GridArgs};
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
    /// Extend the folder's sweep to this grid: when --out already holds a sweep with the same run settings
    /// and data whose grid this one contains (e.g. the paper-scale targeted set, grown to the full
    /// protocol), replace its sweep.json with this grid; its results stay, and `merge` counts the new cells
    /// as missing. Without it a larger grid is refused; a grid within the folder's always runs.
    #[arg(long)]
    pub(crate) grow: bool,
}

pub(crate) fn cmd_sweep(a: SweepArgs, show: bool) -> Result<ExitCode> {
    let mut spec = sweep_spec(&a.grid)?;
    spec.grow = a.grow;
    let shard = Shard::from_arg_or_env(a.exec.shard.as_deref())?;
    spec.grid()?;
    let data = get_data(&a.data)?;
    let sm = do_sweep(&spec, &a.out, shard, &a.exec, &data, show)?;
    if !sm.failed.is_empty() {
        for (id, e) in &sm.failed {
            eprintln!("error: run {id} failed: {e}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
