//! Progress on a terminal (bars) and the sweep's event handler.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use inorm::data::FashionMnist;
use inorm::error::Result;
use inorm::experiment::{self, run_sweep_grouped, Shard, SweepEvent, SweepSpec};
use inorm::train::Progress;

use crate::args::{jobs, ExecArgs};

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

/// Whether to print one plain line per finished run or epoch (stderr is not a terminal and `--quiet` is
/// not given: SLURM logs, CI).
static LINES: AtomicBool = AtomicBool::new(false);

/// Sets [`lines`] (once, from `main`).
pub(crate) fn set_lines(on: bool) {
    LINES.store(on, Ordering::Relaxed);
}

/// Whether plain progress lines are printed (see [`set_lines`]).
pub(crate) fn lines() -> bool {
    LINES.load(Ordering::Relaxed)
}

/// `h:mm:ss`.
fn hms(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Counts for the plain log lines of a sweep.
#[derive(Default)]
struct Tally {
    todo: usize,
    skipped: usize,
    done: usize,
    start: Option<Instant>,
}

impl Tally {
    /// `[done/total]` over the shard, and the ETA of this call's remaining runs.
    fn line(&mut self, what: &str) -> String {
        self.done += 1;
        let el = self.start.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let left = self.todo.saturating_sub(self.done);
        let eta = el / self.done as f64 * left as f64;
        format!(
            "[{}/{}] {what}; ETA {}",
            self.skipped + self.done,
            self.skipped + self.todo,
            hms(eta)
        )
    }
}

/// Runs shard `shard` of `spec` into `out` with the workers and lockstep groups of `exec`, showing bars
/// (`show`) or log lines.
pub(crate) fn do_sweep(
    spec: &SweepSpec,
    out: &Path,
    shard: Shard,
    exec: &ExecArgs,
    data: &FashionMnist,
    show: bool,
) -> Result<experiment::SweepSummary> {
    let jobs = jobs(exec)?;
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
    let tally = Mutex::new(Tally::default());
    let log = lines();
    // When every worker has at most one cell to run (one cell per process from a queue, a SLURM task per
    // cell), finished-run lines alone would say nothing for the whole run: log its epochs too.
    let epoch_lines = AtomicBool::new(false);
    let on_event = |ev: SweepEvent| match ev {
        SweepEvent::Planned { todo, skipped } => {
            let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
            (t.todo, t.skipped, t.start) = (todo, skipped, Some(Instant::now()));
            epoch_lines.store(log && todo <= jobs, Ordering::Relaxed);
            if log {
                eprintln!(
                    "sweep {}: {} of {} cells of shard {}/{} to run ({skipped} already done)",
                    out.display(),
                    todo,
                    todo + skipped,
                    shard.index,
                    shard.count
                );
            }
        }
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
        SweepEvent::Step {
            worker,
            progress: Progress::Epoch { epoch, test_acc },
            epochs,
        } => {
            // A worker's bar holds the id of the cell it runs (hidden bars too).
            if let (true, Some(b)) = (epoch_lines.load(Ordering::Relaxed), workers.get(worker)) {
                eprintln!(
                    "  {}: epoch {epoch}/{epochs}, test accuracy {test_acc:.2} %",
                    b.message()
                );
            }
        }
        SweepEvent::Finished {
            cell,
            test_acc,
            diverged,
            samples_per_s,
            wall_s,
            ..
        } => {
            total.inc(1);
            let status = if diverged { "diverged" } else { "ok" };
            let line = tally.lock().unwrap_or_else(|e| e.into_inner()).line(&format!(
                "done {}: {status}, test accuracy {test_acc:.2} %, {wall_s:.1} s ({samples_per_s:.0} samples/s)",
                cell.id()
            ));
            if show {
                total.println(line);
            } else if log {
                eprintln!("{line}");
            }
        }
        SweepEvent::Failed { cell, error, .. } => {
            total.inc(1);
            let line = tally
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .line(&format!("failed {}: {error}", cell.id()));
            if show {
                total.println(line);
            } else {
                eprintln!("{line}");
            }
        }
    };
    let sm = run_sweep_grouped(spec, out, shard, jobs, exec.lockstep, data, &on_event)?;
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
