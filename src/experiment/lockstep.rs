//! Which cells of a sweep train together (`inorm sweep --lockstep K`): this shard's unfinished cells are
//! grouped into sets of at most K cells whose runs share a network spec (same condition and width: they
//! differ in ε, configuration and seed); the run module trains each group with one
//! [`crate::train::lockstep::train_lockstep`] call on one worker. Every cell still gets its own result file,
//! written when its group finishes, so a killed sweep resumes with the cells that have no result
//! (regrouped); results equal those of single runs (see [`crate::train::lockstep`]).

use super::grid::{Cell, SweepSpec};
use crate::error::Result;
use crate::train::TrainConfig;

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
