//! Sweeps under concurrency and faults: several shards of one grid started, killed (SIGKILL) and restarted
//! at the same time into one folder, as SLURM array tasks sharing a folder do. Nothing may be lost.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cli::{data_dir, s};
use crate::util::tmpdir;

const SHARDS: usize = 3;
/// Kills per shard before its run to completion.
const KILLS: usize = 4;
/// The test fails (rather than hangs) past this.
const DEADLINE: Duration = Duration::from_secs(150);

fn sweep(out: &Path, data: &Path, shard: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_inorm"))
        .args([
            "--quiet",
            "sweep",
            "--out",
            s(out),
            "--nets",
            "ei,e-ln,ei-ln,inorm",
            "--eps",
            "0,0.75",
            "--configs",
            "0..30",
            "--width",
            "8",
            "--epochs",
            "1",
            "--train-size",
            "64",
            "--test-size",
            "32",
            "--jobs",
            "1",
            "--no-diag",
            "--train-eval",
            "running",
            "--offline",
            "--data-dir",
            s(data),
            "--shard",
            &format!("{shard}/{SHARDS}"),
        ])
        .env("INORM_DATA", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start inorm sweep")
}

/// Whether a sweep's stderr reports a failed cell or an error.
fn failed(err: &str) -> bool {
    err.contains("] failed ") || err.contains("error")
}

/// Waits for `c` (killing it past the deadline) and returns whether it succeeded, with its stderr.
fn finish(mut c: Child, t0: Instant) -> (bool, String) {
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            let o = c.wait_with_output().unwrap();
            return (
                st.success(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            );
        }
        if t0.elapsed() > DEADLINE {
            let _ = c.kill();
            let o = c.wait_with_output().unwrap();
            return (
                false,
                format!(
                    "past the {DEADLINE:?} deadline; {}",
                    String::from_utf8_lossy(&o.stderr)
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Three shards of a 240-cell grid into one folder. Each shard is killed with SIGKILL KILLS times at
/// random moments (ChaCha, fixed seed) and restarted, then run to completion; a shard that is done keeps
/// restarting (each start checks the folder and cleans up stale temporary files) until every shard is
/// done, which is when a starting sweep used to delete the temporary files other shards were writing.
/// Every run not killed must succeed with no failed cell, and `merge --strict` must find every cell once.
#[test]
fn stress_concurrent_shards_with_kills_lose_nothing() {
    let t0 = Instant::now();
    let t = tmpdir("cli", "stress");
    let d = data_dir(&t);
    let out = t.join("sweep");
    let finished = AtomicUsize::new(0);
    let restarts = AtomicUsize::new(0);
    let problems = std::sync::Mutex::new(Vec::<String>::new());
    std::thread::scope(|sc| {
        for shard in 0..SHARDS {
            let (out, d, finished, restarts, problems) =
                (&out, &d, &finished, &restarts, &problems);
            sc.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(0x5eed + shard as u64);
                for _ in 0..KILLS {
                    let mut c = sweep(out, d, shard);
                    std::thread::sleep(Duration::from_millis(20 + rng.next_u64() % 150));
                    let _ = c.kill();
                    let _ = c.wait();
                }
                let (ok, err) = finish(sweep(out, d, shard), t0);
                if !ok || failed(&err) {
                    problems
                        .lock()
                        .unwrap()
                        .push(format!("shard {shard} final run: {err}"));
                }
                finished.fetch_add(1, Ordering::SeqCst);
                // Restart until every shard is done; stop at the first problem (a restart that errors at
                // once would otherwise spin, piling up the same error, until the deadline).
                while finished.load(Ordering::SeqCst) < SHARDS
                    && t0.elapsed() < DEADLINE
                    && problems.lock().unwrap().is_empty()
                {
                    restarts.fetch_add(1, Ordering::SeqCst);
                    let (ok, err) = finish(sweep(out, d, shard), t0);
                    if !ok || failed(&err) {
                        problems
                            .lock()
                            .unwrap()
                            .push(format!("shard {shard} restart: {err}"));
                    }
                }
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    assert!(
        problems.is_empty(),
        "{} run(s) lost results or failed:\n{}",
        problems.len(),
        problems.join("\n")
    );
    let o = Command::new(env!("CARGO_BIN_EXE_inorm"))
        .args(["merge", "--strict", s(&out)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("240 result(s) for 240 expected cell(s); 0 missing, 0 duplicated"),
        "{stdout}"
    );
    eprintln!(
        "stress: {SHARDS} shards × {KILLS} kills, {} restarts of finished shards, {:.1} s",
        restarts.load(Ordering::SeqCst),
        t0.elapsed().as_secs_f64()
    );
    assert!(t0.elapsed() < DEADLINE);
    let _ = std::fs::remove_dir_all(&t);
}
