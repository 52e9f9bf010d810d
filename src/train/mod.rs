//! The training loop of paper/model.md §6 on luminance-shifted data (§7), with the per-epoch metrics of §8: one run
//! = one network, one ε, one hyperparameter configuration, one seed → one [`RunResult`]; K runs that share a
//! network spec can be trained in lockstep ([`lockstep`]), through the same epoch loop.
//!
//! | paper/model.md | what | where |
//! |---|---|---|
//! | §6.2 | what defines a run | [`TrainConfig`] |
//! | §6.2 | batch-32 SGD steps, no shuffle by default; one epoch loop for K ≥ 1 runs | [`train_run`], [`lockstep::train_lockstep`] |
//! | §7 | fresh per-image offsets on every pass, same transform on the test set | [`crate::data::shift`] |
//! | §8.1 | final-epoch test accuracy (best also logged, D10) | [`RunResult::final_metrics`] |
//! | §8.2 | output / gradient alignment per hidden layer | [`EpochRecord`] |
//! | §8.3 | activity moments of the hidden pre-ReLU outputs | [`EpochRecord::test_moments`] |
//!
//! **Last partial batch.** When the training-set size is not a multiple of the batch size, the last
//! (smaller) batch is *kept*, as PyTorch's `DataLoader` does by default (`drop_last=False`); the full set
//! (60,000 = 1875 × 32) has none.
//!
//! **Divergence.** A NaN or infinite loss ends the run with [`RunStatus::Diverged`]: the history so far is
//! kept, the partial epoch is recorded, and the final test accuracy is set to chance (10 %), which is what
//! an argmax over NaN logits scores and what the paper's collapsed GradNorm-scale runs show. It never panics.

mod config;
mod epochs;
pub mod lockstep;
mod result;

pub(crate) use config::every_step;
pub use config::{
    backend_name, diag_step, TrainConfig, TrainEval, BATCH, CHANCE_ACC, DIAG_EVERY, EVAL_BATCH,
    MAX_EPOCHS,
};
pub use epochs::{train_run, train_run_with_id, Progress, RunOutput};
pub use result::{
    nullable, nullable_vec, Divergence, EpochNumerics, EpochRecord, FinalMetrics, RunResult,
    RunStatus,
};
