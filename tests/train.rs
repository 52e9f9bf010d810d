//! The training loop (`train_run`) on synthetic data: determinism, partial batches, divergence, reference against fast, learning, bad settings.

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

/// Every epoch's training loss, test loss, test accuracy and local loss, in order (what two runs must share to be the same run).
pub(crate) fn curve(r: &inorm::train::RunResult) -> Vec<f64> {
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
    let mut losses = vec![Vec::new(); 2];
    let out = train_run(&c, &tr, &te, &mut |p| {
        if let inorm::train::Progress::Step { epoch, loss, .. } = p {
            losses[epoch - 1].push(loss)
        }
    })
    .unwrap();
    assert_eq!(losses.iter().map(Vec::len).sum::<usize>(), 6);
    assert_eq!(out.result.history[0].steps, 3);
    // With the running training metrics, an epoch's training loss is its steps' losses weighted by their
    // samples (32, 32, 6), and its accuracy a whole number of the 70 samples.
    for (e, l) in out.result.history.iter().zip(&losses) {
        let want = (l[0] * 32.0 + l[1] * 32.0 + l[2] * 6.0) / 70.0;
        assert!(
            relative_eq!(e.train_loss, want, max_relative = 1e-12),
            "epoch {}: {} against {want}",
            e.epoch,
            e.train_loss
        );
        let correct = e.train_acc * 70.0 / 100.0;
        assert!((correct - correct.round()).abs() < 1e-9 && (0.0..=70.0).contains(&correct));
    }
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
