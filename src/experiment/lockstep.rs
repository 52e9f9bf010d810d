//! Sweeps in lockstep (`inorm sweep --lockstep K`): this shard's unfinished cells are grouped into sets of
//! at most K cells whose runs share a network spec (same condition and width: they differ in ε,
//! configuration and seed), and each group is trained by one [`crate::train::lockstep::train_lockstep`] call on one worker. Every
//! cell still gets its own result file, written when its group finishes, so a killed sweep resumes with
//! the cells that have no result (regrouped); results equal those of single runs (see
//! [`crate::train::lockstep`]).

use std::path::Path;

use super::store::Manifest;
use super::{Cell, SweepSpec};
use crate::data::FashionMnist;
use crate::error::Result;
use crate::train::lockstep::train_lockstep_with_id;
use crate::train::{Progress, RunResult, TrainConfig};

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

/// Trains one group of cells of the sweep `m` in lockstep and writes each cell's result (and model, with
/// `save_models`) into `dir`. [`super::run_sweep_grouped`] is the checked entry point.
pub(crate) fn run_group_of(
    m: &Manifest,
    dir: &Path,
    group: &[Cell],
    data: &FashionMnist,
    progress: &mut dyn FnMut(usize, Progress),
) -> Result<Vec<RunResult>> {
    let cfgs = group
        .iter()
        .map(|c| m.spec.train_config(c))
        .collect::<Result<Vec<_>>>()?;
    let outs = train_lockstep_with_id(&cfgs, &data.train, &data.test, Some(&m.data), progress)?;
    group
        .iter()
        .zip(&cfgs)
        .zip(outs)
        .map(|((cell, cfg), out)| super::run::store_output(m, dir, cell, cfg, out))
        .collect()
}
