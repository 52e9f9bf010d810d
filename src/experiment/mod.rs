//! Sweeps over the paper's grid (paper/model.md §10, §12): condition × ε × configuration × seed, one result JSON
//! per run, sharded over a SLURM job array, resumable after a kill, run in parallel, merged, then judged
//! against the claims ([`claims`]), plotted ([`plots`]) and reported ([`report`]).
//!
//! Layout of a sweep folder:
//!
//! ```text
//! DIR/sweep.json            the sweep's settings and identity (the first shard writes it, the others check it)
//! DIR/runs/<cell>.json      one RunResult per finished run, written atomically
//! DIR/runs/.<cell>.json.<random>.tmp   a result being written right now (removed only by its writer,
//!                           or after a day by a starting sweep: see store::STALE_TEMP_AGE)
//! DIR/models/<cell>.safetensors   final parameters (with --save-models)
//! DIR/merged.json           written by `inorm merge`: every result used, plus missing, duplicate,
//!                           unexpected, foreign and unreadable files
//! DIR/merged.csv            written by `inorm merge`: one row per result used
//! DIR/report/               written by `inorm report`: report.md and the SVG figures
//! ```
//!
//! | file | what | imports (within `experiment`) |
//! |---|---|---|
//! | `grid.rs` | cells, width rule, [`SweepSpec`], seeds, [`Shard`]s, the quick grid | — |
//! | [`store`] | what makes a result belong to a sweep; result and manifest files | `grid` |
//! | `run.rs` | running a shard's cells, single or in lockstep groups ([`run_sweep_grouped`], [`lockstep_groups`]) | `grid`, `store` |
//! | [`gather`] | merging a sweep folder | `grid`, `store` |
//! | [`common`] | number formatting, ε levels, chance level | — |
//! | [`compare`] | one comparison of two conditions on one metric | `common` |
//! | [`claims`] | the claims C4–C16 | `common`, `compare` |
//! | [`paper`] | the paper's printed statistics beside a sweep's | `common` |
//! | [`plots`] | the figures | `common`, `paper_runs` |
//! | [`numerics`] | the f16-autocast numerics of a sweep's runs, and what each collapse looked like | `common` |
//! | [`precision`] | a sweep against the same cells in another precision | `common` |
//! | [`paper_runs`] | the authors' own runs, read back from their figures, beside a sweep's | `common`, `paper` |
//! | [`report`] | `report.md`: claims table, statistics, figures | `claims`, `common`, `gather`, `numerics`, `paper`, `paper_runs`, `plots`, `precision` |
//!
//! No two files of this folder import each other, and this file only lists them (tested by
//! `tests/layers.rs`).

pub mod claims;
pub mod common;
pub mod compare;
pub mod gather;
mod grid;
pub mod numerics;
pub mod paper;
pub mod paper_runs;
pub mod plots;
pub mod precision;
pub mod report;
mod run;
pub mod store;

pub use gather::{load_results, merge, merge_and_write, results_csv, MergeReport, Unreadable};
pub use grid::{
    config_seed, quick_spec, Cell, Shard, SweepSpec, WidthRule, MAX_GRID, QUICK_EPOCHS, QUICK_TEST,
    QUICK_TRAIN,
};
pub use run::{
    lockstep_groups, manifest_for, run_cell, run_sweep, run_sweep_grouped, SweepEvent,
    SweepSummary, MAX_LOCKSTEP,
};
pub use store::{
    cell_state, foreign_reason, grid_fit, manifest_path, model_path, read_manifest, read_result,
    remove_stale_temp, remove_stale_temp_older, result_path, runs_dir, write_manifest,
    write_result, CellState, GridFit, Manifest, STALE_TEMP_AGE,
};
