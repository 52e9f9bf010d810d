//! The training loop, sweep grid, sharding, resume, merge and claims evaluation, on synthetic data.

use approx::relative_eq;
use inorm::backend::Backend;
use inorm::data::{synthetic, Dataset};
use inorm::model::{paper_config, Hyper, NetSpec, Preset};
use inorm::tolerance::{FAST_F32_TRAJECTORY, FAST_F64_TRAJECTORY};
use inorm::train::{train_run, RunStatus, TrainConfig, TrainEval, CHANCE_ACC};

fn data() -> (Dataset, Dataset) {
    (synthetic(96, 1), synthetic(64, 2))
}

fn cfg(preset: Preset, backend: Backend) -> TrainConfig {
    let mut c = TrainConfig::new(NetSpec::new(preset, 16), Hyper::sgd(0.01, 0.1, 0.001), 0.5);
    c.epochs = 2;
    c.backend = backend;
    c.seed = 3;
    c
}

fn curve(r: &inorm::train::RunResult) -> Vec<f64> {
    r.history
        .iter()
        .flat_map(|e| [e.train_loss, e.test_loss, e.test_acc, e.local_loss])
        .collect()
}

#[test]
fn train_run_is_deterministic_for_a_seed() {
    let (tr, te) = data();
    for preset in [Preset::EiLn, Preset::INormGn(inorm::model::GradNorm::Full)] {
        let c = cfg(preset, Backend::Fast { f64: false });
        let a = train_run(&c, &tr, &te, &mut |_| {}).unwrap();
        let b = train_run(&c, &tr, &te, &mut |_| {}).unwrap();
        assert_eq!(a.result.status, RunStatus::Ok);
        assert_eq!(a.result.history.len(), 2);
        assert_eq!(curve(&a.result), curve(&b.result), "{preset}");
        assert_eq!(a.params, b.params, "{preset}");
        let d = &a.result.history[1];
        assert_eq!(d.output_alignment.len(), 2);
        assert_eq!(d.test_mean.len(), 2);
        // 96 = 3 full batches; a different seed changes the run.
        assert_eq!(d.steps, 3);
        let mut c2 = c.clone();
        c2.seed = 4;
        let e = train_run(&c2, &tr, &te, &mut |_| {}).unwrap();
        assert_ne!(curve(&a.result), curve(&e.result));
    }
}

#[test]
fn train_run_keeps_the_last_partial_batch_and_round_trips_json() {
    let (tr, te) = data();
    let mut c = cfg(Preset::ELn, Backend::Fast { f64: false });
    c.train_size = Some(70); // 2 full batches + 6
    c.train_eval = TrainEval::Running;
    c.config_index = Some(0);
    let mut steps = 0;
    let out = train_run(&c, &tr, &te, &mut |p| {
        if let inorm::train::Progress::Step { .. } = p {
            steps += 1
        }
    })
    .unwrap();
    assert_eq!(steps, 6);
    assert_eq!(out.result.history[0].steps, 3);
    let js = serde_json::to_string(&out.result).unwrap();
    let back: inorm::train::RunResult = serde_json::from_str(&js).unwrap();
    assert_eq!(curve(&back), curve(&out.result));
    assert_eq!(back.config.backend, Backend::Fast { f64: false });
    assert_eq!(back.version, env!("CARGO_PKG_VERSION"));
    assert!(out.result.samples_per_s > 0.0);
}

#[test]
fn train_run_reports_divergence_with_an_absurd_learning_rate() {
    let (tr, te) = data();
    for preset in [Preset::Ei, Preset::INorm] {
        let mut c = cfg(preset, Backend::Fast { f64: false });
        c.hyper = Hyper::sgd(1e30, 1e30, 1e30);
        c.epochs = 3;
        let out = train_run(&c, &tr, &te, &mut |_| {}).unwrap();
        assert_eq!(out.result.status, RunStatus::Diverged, "{preset}");
        let d = out.result.divergence.as_ref().unwrap();
        assert!(d.reason.contains("loss"), "{}", d.reason);
        assert!(!out.result.history.is_empty());
        assert_eq!(out.result.final_metrics.test_acc, CHANCE_ACC);
        // NaNs become null in JSON and read back.
        let js = serde_json::to_string(&out.result).unwrap();
        let _: inorm::train::RunResult = serde_json::from_str(&js).unwrap();
    }
}

#[test]
fn train_run_reference_and_fast_agree_on_a_short_run() {
    let (tr, te) = data();
    for preset in [
        Preset::EiLn,
        Preset::INormGn(inorm::model::GradNorm::Center),
    ] {
        let mut c = cfg(preset, Backend::Reference);
        c.epochs = 1;
        c.train_size = Some(64);
        c.test_size = Some(32);
        let r = train_run(&c, &tr, &te, &mut |_| {}).unwrap();
        for (backend, tol) in [
            (Backend::Fast { f64: true }, FAST_F64_TRAJECTORY),
            (Backend::Fast { f64: false }, FAST_F32_TRAJECTORY),
        ] {
            c.backend = backend;
            let f = train_run(&c, &tr, &te, &mut |_| {}).unwrap();
            // Element by element, each value relative to its own magnitude (absolute below 1).
            let (got, want) = (curve(&f.result), curve(&r.result));
            assert!(
                relative_eq!(
                    got.as_slice(),
                    want.as_slice(),
                    epsilon = tol,
                    max_relative = tol
                ),
                "{preset} {}: curves {got:?} vs {want:?}",
                backend.name()
            );
            for (name, p) in &r.params {
                let got = &f.params[name].data;
                let worst = got
                    .iter()
                    .zip(&p.data)
                    .position(|(a, b)| !relative_eq!(a, b, epsilon = tol, max_relative = tol));
                assert!(
                    got.len() == p.data.len() && worst.is_none(),
                    "{preset} {} {name}: entry {worst:?} differs by more than {tol:e}",
                    backend.name()
                );
            }
        }
    }
}

#[test]
fn train_run_learns_the_synthetic_task() {
    let (tr, te) = (synthetic(640, 5), synthetic(200, 6));
    let pc = paper_config(13).unwrap();
    let mut c = TrainConfig::new(NetSpec::new(Preset::ELn, 32), pc.hyper(), 0.0);
    c.epochs = 3;
    c.train_eval = TrainEval::Running;
    let out = train_run(&c, &tr, &te, &mut |_| {}).unwrap();
    assert!(
        out.result.final_metrics.test_acc > 50.0,
        "{:?}",
        out.result.final_metrics
    );
}

#[test]
fn train_run_rejects_bad_settings() {
    let (tr, te) = data();
    let mut c = cfg(Preset::Ei, Backend::Fast { f64: false });
    c.eps = -1.0;
    assert!(train_run(&c, &tr, &te, &mut |_| {}).is_err());
    c.eps = 0.0;
    c.train_size = Some(0);
    assert!(train_run(&c, &tr, &te, &mut |_| {}).is_err());
}

// ---------------------------------------------------------------------------------------------------------
// Sweeps: grid, shards, resume, merge.

use inorm::data::FashionMnist;
use inorm::experiment::claims::{self, Thresholds};
use inorm::experiment::{
    merge, read_result, result_path, run_sweep, runs_dir, Cell, Shard, SweepSpec, WidthRule,
};
use inorm::model::GradNorm;
use inorm::train::{FinalMetrics, RunResult};
use std::path::PathBuf;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("inorm-exp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tiny_data() -> FashionMnist {
    FashionMnist {
        train: synthetic(64, 11),
        test: synthetic(32, 12),
        dir: PathBuf::from("<synthetic>"),
    }
}

fn tiny_sweep() -> SweepSpec {
    let mut s = SweepSpec::new(vec![Preset::Ei, Preset::INorm]);
    s.eps = vec![0.0, 0.5];
    s.configs = vec![0, 1];
    s.seeds = vec![0];
    s.epochs = 1;
    s.width = WidthRule::Fixed(12);
    s.train_eval = TrainEval::Running;
    s
}

#[test]
fn sweep_grid_ids_are_unique_and_filename_safe() {
    let mut s = SweepSpec::new(Preset::ALL.to_vec());
    s.seeds = vec![0, 1];
    let g = s.grid().unwrap();
    assert_eq!(g.len(), 10 * 4 * 30 * 2);
    let ids: std::collections::BTreeSet<String> = g.iter().map(|c| c.id()).collect();
    assert_eq!(ids.len(), g.len());
    for id in &ids {
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{id}"
        );
    }
    assert_eq!(
        Cell {
            preset: Preset::INormGn(GradNorm::Full),
            eps: 0.75,
            config: 7,
            seed: 0
        }
        .id(),
        "inorm-gn-full_eps0.75_c07_s0"
    );
    s.configs = vec![30];
    assert!(s.grid().unwrap_err().to_string().contains("0..=29"));
}

#[test]
fn sweep_shards_partition_the_grid_exactly() {
    let g = SweepSpec::new(Preset::ALL.to_vec()).grid().unwrap();
    for count in [1, 2, 3, 7, 100, 1200, 1500] {
        let mut seen = vec![0usize; g.len()];
        let mut sizes = Vec::new();
        for index in 0..count {
            let sh = Shard::new(index, count).unwrap();
            let cells = sh.select(&(0..g.len()).collect::<Vec<_>>());
            sizes.push(cells.len());
            for c in cells {
                seen[c] += 1;
            }
        }
        assert!(seen.iter().all(|&k| k == 1), "count {count}");
        let (mn, mx) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(mx - mn <= 1, "count {count}: {mn}..{mx}");
    }
    assert_eq!(Shard::parse("3/100").unwrap(), Shard::new(3, 100).unwrap());
    for bad in ["3/3", "5/3", "a/b", "1", "0/0", "-1/4", ""] {
        let e = Shard::parse(bad).unwrap_err().to_string();
        assert!(e.contains("shard"), "{bad}: {e}");
    }
    assert_eq!(Shard::from_vars(None, None, None).unwrap(), Shard::ALL);
    assert_eq!(
        Shard::from_vars(Some("7"), Some("100"), Some("0")).unwrap(),
        Shard::new(7, 100).unwrap()
    );
    assert_eq!(
        Shard::from_vars(Some("100"), Some("100"), Some("1")).unwrap(),
        Shard::new(99, 100).unwrap()
    );
    assert!(Shard::from_vars(Some("7"), None, None).is_err());
    assert!(Shard::from_vars(Some("x"), Some("4"), None).is_err());
    assert!(Shard::from_vars(Some("4"), Some("4"), None).is_err());
}

/// Regression (found by scripts/slurm-check.sh under a real SLURM): shards of one array share the folder, and
/// a shard starting late removed every `.tmp` file in `runs/`, including another shard's file between its
/// write and its rename, so that run failed with "No such file or directory". A shard removes only the
/// stale temporary files of its own cells.
#[test]
fn r1_stale_temp_cleanup_spares_other_shards_files() {
    let dir = tmpdir("shardtmp");
    let data = tiny_data();
    let spec = tiny_sweep();
    let grid = spec.grid().unwrap();
    let (mine, theirs) = (Shard::new(0, 2).unwrap(), Shard::new(1, 2).unwrap());
    std::fs::create_dir_all(runs_dir(&dir)).unwrap();
    let tmp =
        |c: &inorm::experiment::Cell| runs_dir(&dir).join(format!(".{}.json.4242.tmp", c.id()));
    let own = mine.select(&grid)[0];
    let other = theirs.select(&grid)[0];
    std::fs::write(tmp(&own), b"{\"trunc").unwrap();
    std::fs::write(tmp(&other), b"{\"in progress").unwrap();
    let s = run_sweep(&spec, &dir, mine, 2, &data, &|_| {}).unwrap();
    assert!(s.failed.is_empty(), "{:?}", s.failed);
    assert_eq!((s.ran, s.stale_removed), (grid.len() / 2, 1));
    assert!(!tmp(&own).exists(), "this shard's stale file must go");
    assert_eq!(
        std::fs::read(tmp(&other)).unwrap(),
        b"{\"in progress",
        "another shard's temporary file must survive"
    );
}

#[test]
fn sweep_resumes_after_a_kill_running_only_missing_cells() {
    let dir = tmpdir("resume");
    let data = tiny_data();
    let spec = tiny_sweep();
    let s1 = run_sweep(&spec, &dir, Shard::ALL, 2, &data, &|_| {}).unwrap();
    assert_eq!((s1.grid, s1.ran, s1.skipped), (8, 8, 0));
    assert!(s1.failed.is_empty(), "{:?}", s1.failed);
    let grid = spec.grid().unwrap();
    let before: Vec<(Vec<u8>, std::time::SystemTime)> = grid
        .iter()
        .map(|c| {
            let p = result_path(&dir, c);
            (
                std::fs::read(&p).unwrap(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    // Simulate a kill: two results never written, one half-written temp file left behind.
    std::fs::remove_file(result_path(&dir, &grid[1])).unwrap();
    std::fs::remove_file(result_path(&dir, &grid[6])).unwrap();
    let stale = runs_dir(&dir).join(format!(".{}.json.99999.tmp", grid[1].id()));
    std::fs::write(&stale, b"{\"trunc").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let started = std::sync::Mutex::new(Vec::new());
    let s2 = run_sweep(&spec, &dir, Shard::ALL, 2, &data, &|e| {
        if let inorm::experiment::SweepEvent::Started { cell, .. } = e {
            started.lock().unwrap().push(cell.id());
        }
    })
    .unwrap();
    assert_eq!((s2.ran, s2.skipped, s2.stale_removed), (2, 6, 1));
    let mut st = started.into_inner().unwrap();
    st.sort();
    assert_eq!(st, vec![grid[1].id(), grid[6].id()]);
    assert!(!stale.exists());
    for (i, c) in grid.iter().enumerate() {
        let p = result_path(&dir, c);
        if i != 1 && i != 6 {
            assert_eq!(std::fs::read(&p).unwrap(), before[i].0, "{}", c.id());
            assert_eq!(
                std::fs::metadata(&p).unwrap().modified().unwrap(),
                before[i].1
            );
        }
        assert_eq!(Cell::of(&read_result(&p).unwrap()).id(), c.id());
    }
    // A re-run on the same results gives the same numbers (deterministic per cell).
    let r1: RunResult = serde_json::from_slice(&before[1].0).unwrap();
    let r1b = read_result(&result_path(&dir, &grid[1])).unwrap();
    assert_eq!(curve(&r1), curve(&r1b));
    // Nothing left to do.
    let s3 = run_sweep(&spec, &dir, Shard::ALL, 1, &data, &|_| {}).unwrap();
    assert_eq!((s3.ran, s3.skipped), (0, 8));
    // Different settings in the same folder are refused.
    let mut other = spec.clone();
    other.epochs = 2;
    let e = run_sweep(&other, &dir, Shard::ALL, 1, &data, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("different settings"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sweep_shards_fill_one_folder_and_merge_reports_missing_and_duplicates() {
    let dir = tmpdir("merge");
    let data = tiny_data();
    let spec = tiny_sweep();
    for i in 0..3 {
        run_sweep(&spec, &dir, Shard::new(i, 3).unwrap(), 1, &data, &|_| {}).unwrap();
    }
    let (rep, results) = merge(&dir).unwrap();
    assert!(rep.complete(), "{rep:?}");
    assert_eq!((rep.expected, rep.found, results.len()), (8, 8, 8));
    let grid = spec.grid().unwrap();
    std::fs::remove_file(result_path(&dir, &grid[3])).unwrap();
    let sub = runs_dir(&dir).join("copied-shard");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::copy(result_path(&dir, &grid[5]), sub.join("dup.json")).unwrap();
    std::fs::write(runs_dir(&dir).join("garbage.json"), b"not json").unwrap();
    let (rep, results) = merge(&dir).unwrap();
    assert!(!rep.complete());
    assert_eq!(rep.missing, vec![grid[3].id()]);
    assert_eq!(rep.duplicates.len(), 1);
    assert_eq!(rep.duplicates[0].0, grid[5].id());
    assert_eq!(rep.duplicates[0].1.len(), 2);
    assert_eq!(rep.unreadable.len(), 1);
    assert_eq!(results.len(), 7);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------------------
// Claims on constructed results.

fn fake(preset: Preset, eps: f64, config: usize, acc: f64) -> RunResult {
    let mut c = TrainConfig::new(NetSpec::new(preset, 100), Hyper::sgd(0.01, 0.1, 0.001), eps);
    c.config_index = Some(config);
    RunResult {
        version: "test".into(),
        config: c,
        backend: "fast".into(),
        dtype: "f32".into(),
        device: "cpu".into(),
        status: RunStatus::Ok,
        divergence: None,
        history: Vec::new(),
        final_metrics: FinalMetrics {
            test_acc: acc,
            test_loss: 0.5,
            train_acc: acc,
            train_loss: 0.5,
            output_alignment: 0.9,
            gradient_alignment: 0.2,
            mean: 0.0,
            var: 1.0,
            best_test_acc: acc,
            best_epoch: 1,
        },
        wall_s: 1.0,
        train_s: 1.0,
        samples_per_s: 1.0,
        started_unix: 0,
    }
}

/// A per-config spread (the configs differ a lot; the conditions differ by a shift).
fn spread(config: usize) -> f64 {
    [0.0, 1.3, -0.7, 2.1, -1.9, 0.4, -0.2, 1.7, -1.1, 0.9][config % 10]
}

fn runs(preset: Preset, shift: &dyn Fn(f64, usize) -> f64) -> Vec<RunResult> {
    let mut v = Vec::new();
    for eps in [0.0, 0.75] {
        for c in 0..10 {
            let base = 88.0 - 4.0 * eps + spread(c);
            v.push(fake(preset, eps, c, base + shift(eps, c)));
        }
    }
    v
}

fn held(cs: &[claims::ClaimOutcome], id: &str) -> Option<bool> {
    cs.iter().find(|c| c.id == id).unwrap().held
}

#[test]
fn claims_hold_on_results_built_to_satisfy_them_and_fail_otherwise() {
    let t = Thresholds::SPEC;
    // C4: LN helps, more at ε = 0.75 (small per-config noise keeps pairs distinct).
    let noise = |c: usize| 0.05 * (c as f64 % 3.0);
    let mut r = runs(Preset::Ei, &|_, _| 0.0);
    r.extend(runs(Preset::EiLn, &|e, c| 0.3 + 3.0 * e + noise(c)));
    let c4 = claims::c4(&r, t.c4_min_gain, t.alpha);
    assert_eq!(c4.held, Some(true), "{c4:?}");
    assert_eq!(c4.n, (10, 10));
    assert!(
        c4.p_wilcoxon < 0.01 && (c4.effect - 2.55).abs() < 0.1,
        "{c4:?}"
    );
    // ... and does not hold when LN hurts.
    let mut r2 = runs(Preset::Ei, &|_, _| 0.0);
    r2.extend(runs(Preset::EiLn, &|e, c| -0.3 - 3.0 * e - noise(c)));
    assert_eq!(claims::c4(&r2, t.c4_min_gain, t.alpha).held, Some(false));

    // C5: E LN+ ≈ EI LN+ holds for a tiny alternating difference, fails for a consistent 2-point one.
    let mut r = runs(Preset::EiLn, &|_, _| 0.0);
    r.extend(runs(Preset::ELn, &|_, c| {
        if c % 2 == 0 {
            0.1
        } else {
            -0.1
        }
    }));
    assert_eq!(claims::c5(&r, t.same_max_diff, t.alpha).held, Some(true));
    let mut r = runs(Preset::EiLn, &|_, _| 0.0);
    r.extend(runs(Preset::ELn, &|_, c| 2.0 + noise(c)));
    assert_eq!(claims::c5(&r, t.same_max_diff, t.alpha).held, Some(false));

    // C6: accuracies fall with ε in `runs`; a condition that rises breaks it.
    let r = runs(Preset::ELn, &|_, _| 0.0);
    assert_eq!(claims::c6(&r, 0.0).held, Some(true));
    let r = runs(Preset::ELn, &|e, _| 8.0 * e);
    assert_eq!(claims::c6(&r, 0.0).held, Some(false));

    // C9 / C10 from the alignment fields.
    let mut r = runs(Preset::INorm, &|_, _| 0.0);
    assert_eq!(claims::c9(&r, 0.7, 0.4).held, Some(true));
    for x in &mut r {
        x.final_metrics.gradient_alignment = 0.6;
    }
    assert_eq!(claims::c9(&r, 0.7, 0.4).held, Some(false));
    let mut r = runs(Preset::INormGn(GradNorm::Full), &|_, _| 0.0);
    assert_eq!(claims::c10(&r, 0.99, 0.95).held, Some(false));
    for x in &mut r {
        x.final_metrics.gradient_alignment = 0.98;
        x.final_metrics.output_alignment = 0.999;
    }
    assert_eq!(claims::c10(&r, 0.99, 0.95).held, Some(true));

    // C7: I-Norm on target, EI LN− off target.
    let mut r = runs(Preset::INorm, &|_, _| 0.0);
    let mut ei = runs(Preset::Ei, &|_, _| 0.0);
    for x in &mut ei {
        x.final_metrics.mean = -0.5;
    }
    r.extend(ei.clone());
    assert_eq!(claims::c7(&r, 0.1).held, Some(true));
    for x in r.iter_mut() {
        x.final_metrics.mean = -0.5;
    }
    assert_eq!(claims::c7(&r, 0.1).held, Some(false));

    // C14: 3 of 10 GN-scale runs at chance at ε = 0.75.
    let mut r = runs(Preset::INormGn(GradNorm::Scale), &|_, _| 0.0);
    assert_eq!(claims::c14(&r, 0.1).held, Some(false));
    for x in r.iter_mut().filter(|x| x.config.eps == 0.75).take(3) {
        x.final_metrics.test_acc = 10.0;
    }
    let c14 = claims::c14(&r, 0.1);
    assert_eq!(c14.held, Some(true));
    assert!((c14.effect - 0.3).abs() < 1e-12);

    // Nothing to judge → None everywhere, no panic.
    assert!(claims::evaluate(&[]).iter().all(|c| c.held.is_none()));
    let all = claims::evaluate(&runs(Preset::ELn, &|_, _| 0.0));
    assert_eq!(all.len(), 13);
    assert_eq!(held(&all, "C6"), Some(true));
    assert_eq!(held(&all, "C4"), None);
}

#[test]
fn claims_report_writes_markdown_and_figures() {
    let dir = tmpdir("report");
    let mut r = runs(Preset::Ei, &|_, _| 0.0);
    r.extend(runs(Preset::EiLn, &|e, _| 3.0 * e));
    r.extend(runs(Preset::ELn, &|e, _| 3.0 * e));
    r.extend(runs(Preset::INorm, &|e, _| -3.0 * e));
    let imgs = synthetic(16, 1);
    let (claims, figs) =
        inorm::experiment::report::write_report(&r, None, Some(&imgs), &dir).unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| C4 |") && md.contains("C16"));
    assert_eq!(claims.len(), 13);
    for id in ["Fig 1b", "Fig 2a", "Fig 2b", "Fig 3b", "Fig 4a", "Fig 4b"] {
        let f = figs.iter().find(|f| f.id == id).unwrap();
        let file = f
            .file
            .as_ref()
            .unwrap_or_else(|| panic!("{id}: {}", f.note));
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(svg.starts_with("<svg") || svg.contains("<svg"), "{id}");
    }
    let f5 = figs.iter().find(|f| f.id == "Fig 5c").unwrap();
    assert!(f5.file.is_none() && f5.note.contains("skipped"));
    let _ = std::fs::remove_dir_all(&dir);
}
