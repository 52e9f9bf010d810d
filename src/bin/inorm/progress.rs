//! Progress on a terminal (bars) and the sweep's event handler.

use std::path::Path;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use inorm::data::FashionMnist;
use inorm::error::Result;
use inorm::experiment::{self, run_sweep, Shard, SweepEvent, SweepSpec};
use inorm::train::Progress;

pub(crate) fn bar(show: bool, len: u64, tmpl: &str) -> ProgressBar {
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

pub(crate) fn do_sweep(
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
