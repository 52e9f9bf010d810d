//! `--diag-every`: the alignment diagnostics on every k-th step of an epoch and on its last. What the
//! figures and claims read (the last step's alignments, paper/model.md §8.2) and the training itself must
//! come out bit for bit as with diagnostics on every step; only the epoch means of the alignments become
//! means over the diagnosed steps.

use crate::util::{run_numbers, tmpdir};
use inorm::backend::Backend;
use inorm::data::{synthetic, Dataset, FashionMnist};
use inorm::experiment::{run_sweep, Shard, SweepSpec, WidthRule};
use inorm::model::{GradNorm, Hyper, NetSpec, Preset};
use inorm::train::lockstep::train_lockstep;
use inorm::train::{diag_step, train_run, RunOutput, TrainConfig, TrainEval, DIAG_EVERY};

/// 200 training images at batch 32: 7 steps per epoch (6 full batches and one of 8).
const TRAIN: usize = 200;
const STEPS: usize = 7;

fn data() -> (Dataset, Dataset) {
    (synthetic(TRAIN, 31), synthetic(40, 32))
}

fn config(preset: Preset, every: usize, backend: Backend) -> TrainConfig {
    let mut c = TrainConfig::new(NetSpec::new(preset, 12), Hyper::sgd(0.02, 0.1, 1e-3), 0.5);
    c.epochs = 2;
    c.seed = 7;
    c.backend = backend;
    c.train_size = Some(TRAIN);
    c.diag_every = every;
    c
}

fn run(c: &TrainConfig) -> RunOutput {
    let (tr, te) = data();
    train_run(c, &tr, &te, &mut |_| {}).unwrap()
}

/// Every number of a run but the epoch means of the alignments (and wall times), then its parameters.
fn figure_numbers(o: &RunOutput) -> Vec<f64> {
    let mut v = run_numbers(&o.result, false);
    for t in o.params.values() {
        v.extend(t.data.iter().copied());
    }
    v
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn diagnosed_steps_are_every_kth_and_each_epochs_last() {
    let picked = |every: usize| -> Vec<usize> {
        (0..STEPS).filter(|&s| diag_step(s, STEPS, every)).collect()
    };
    assert_eq!(picked(1), (0..STEPS).collect::<Vec<_>>());
    assert_eq!(picked(3), vec![2, 5, 6]);
    assert_eq!(picked(7), vec![6]);
    assert_eq!(picked(100), vec![6]);
    // The protocol's epoch: 1875 steps at batch 32, 188 of them diagnosed at the default.
    assert_eq!(DIAG_EVERY, 10);
    assert_eq!((0..1875).filter(|&s| diag_step(s, 1875, 10)).count(), 188);
}

#[test]
fn every_kth_step_leaves_training_and_the_figures_numbers_bit_for_bit() {
    for preset in [
        Preset::INormGn(GradNorm::Full),
        Preset::INormGn(GradNorm::Scale),
        Preset::INorm,
        Preset::ELn,
    ] {
        let f32 = Backend::Fast { f64: false };
        let all = run(&config(preset, 1, f32));
        let want = bits(&figure_numbers(&all));
        for every in [3, STEPS] {
            let some = run(&config(preset, every, f32));
            assert_eq!(
                bits(&figure_numbers(&some)),
                want,
                "{preset}, every {every}"
            );
            assert_eq!(some.result.config.diag_every, every);
        }
        // Only the last step diagnosed: each epoch's mean is that step's value, where the mean over all
        // seven steps is not.
        let last = run(&config(preset, STEPS, f32));
        for (e, a) in last.result.history.iter().zip(&all.result.history) {
            assert_eq!(
                bits(&e.gradient_alignment),
                bits(&e.last_gradient_alignment)
            );
            assert_eq!(bits(&e.output_alignment), bits(&e.last_output_alignment));
            assert_ne!(
                bits(&a.gradient_alignment),
                bits(&a.last_gradient_alignment),
                "{preset}: every step diagnosed, the mean is not the last value"
            );
        }
    }
}

#[test]
fn lockstep_groups_diagnose_the_same_steps_as_single_runs() {
    let f64 = Backend::Fast { f64: true };
    let cfgs: Vec<TrainConfig> = [(0.0, 3), (0.75, 4)]
        .into_iter()
        .map(|(eps, seed)| {
            let mut c = config(Preset::INormGn(GradNorm::Center), 3, f64);
            c.eps = eps;
            c.seed = seed;
            c
        })
        .collect();
    let (tr, te) = data();
    let lock = train_lockstep(&cfgs, &tr, &te, &mut |_, _| {}).unwrap();
    for (c, l) in cfgs.iter().zip(&lock) {
        let s = run(c);
        for (a, b) in l.result.history.iter().zip(&s.result.history) {
            for (x, y) in [
                (&a.gradient_alignment, &b.gradient_alignment),
                (&a.output_alignment, &b.output_alignment),
                (&a.last_gradient_alignment, &b.last_gradient_alignment),
            ] {
                for (p, q) in x.iter().zip(y) {
                    assert!((p - q).abs() <= 1e-12 * q.abs().max(1.0), "{p} vs {q}");
                }
            }
        }
        // A group of runs that diagnose different steps is refused.
        let mut mixed = cfgs.clone();
        mixed[1].diag_every = 1;
        let e = train_lockstep(&mixed, &tr, &te, &mut |_, _| {})
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("run 1") && e.contains("diagnosed steps"), "{e}");
    }
}

#[test]
fn a_folder_from_before_the_option_reads_as_every_step_and_resumes_only_so() {
    let dir = tmpdir("diag", "resume");
    let (tr, te) = data();
    let mut spec = SweepSpec::new(vec![Preset::ELn]);
    spec.eps = vec![0.0];
    spec.configs = vec![0];
    spec.epochs = 1;
    spec.width = WidthRule::Fixed(8);
    spec.train_size = Some(64);
    spec.test_size = Some(32);
    spec.train_eval = TrainEval::Running;
    spec.diag_every = 1;
    let data = FashionMnist {
        train: tr,
        test: te,
        dir: "<synthetic>".into(),
    };
    run_sweep(&spec, &dir, Shard::ALL, 1, &data, &|_| {}).unwrap();
    // Drop the key from sweep.json and the result, as files written before the option have it.
    let strip = |p: &std::path::Path| {
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        let o = v.as_object_mut().unwrap();
        let o = match o.get_mut("config") {
            Some(c) => c.as_object_mut().unwrap(),
            None => o,
        };
        assert!(o.remove("diag_every").is_some(), "{}", p.display());
        std::fs::write(p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    };
    strip(&dir.join("sweep.json"));
    let results: Vec<_> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(results.len(), 1);
    strip(&results[0]);
    let r = inorm::experiment::read_result(&results[0]).unwrap();
    assert_eq!(r.config.diag_every, 1);
    // Resuming with the default (every 10th step) is refused with the setting named; with 1 it resumes.
    spec.diag_every = DIAG_EVERY;
    let e = run_sweep(&spec, &dir, Shard::ALL, 1, &data, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("different settings") && e.contains("diag_every: 1 vs 10"),
        "{e}"
    );
    spec.diag_every = 1;
    let s = run_sweep(&spec, &dir, Shard::ALL, 1, &data, &|_| {}).unwrap();
    assert_eq!((s.ran, s.skipped), (0, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn train_bench_and_reproduce_refuse_diag_every_zero() {
    for args in [
        &["train", "--net", "e-ln", "--diag-every", "0", "--offline"][..],
        &["bench", "--quick", "--diag-every", "0"][..],
        &[
            "reproduce",
            "--scale",
            "quick",
            "--diag-every",
            "0",
            "--offline",
        ][..],
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_inorm"))
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}");
        assert!(err.contains("diag-every") && err.contains("≥ 1"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
