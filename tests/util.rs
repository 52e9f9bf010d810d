//! Helpers that every test module shares.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty folder `inorm-<area>-<tag>-<pid>` under the system temp dir. `area` (the test module)
/// keeps equal tags of different modules apart, since all modules run in one process. The folder is left
/// in place after the test, for inspection when it fails.
pub fn tmpdir(area: &str, tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("inorm-{area}-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A fresh folder under the system temp dir, unique within the process however often `tag` repeats,
/// removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "inorm-test-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every number a figure or claim reads from a run, flattened: per epoch the metrics, the last-step
/// alignments and the test moments (and, with `epoch_means`, the alignments averaged over the epoch's
/// diagnosed steps), then the final metrics.
pub fn run_numbers(r: &inorm::train::RunResult, epoch_means: bool) -> Vec<f64> {
    let mut v = Vec::new();
    for e in &r.history {
        v.extend([
            e.train_acc,
            e.train_loss,
            e.test_acc,
            e.test_loss,
            e.local_loss,
            e.steps as f64,
        ]);
        if epoch_means {
            v.extend(
                e.output_alignment
                    .iter()
                    .chain(&e.gradient_alignment)
                    .copied(),
            );
        }
        for l in [
            &e.last_output_alignment,
            &e.last_gradient_alignment,
            &e.test_mean,
            &e.test_var,
        ] {
            v.extend(l.iter().copied());
        }
    }
    let f = &r.final_metrics;
    v.extend([
        f.test_acc,
        f.train_acc,
        f.output_alignment,
        f.gradient_alignment,
        f.mean,
        f.var,
    ]);
    v
}
