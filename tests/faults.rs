//! Fault injection for the claims gate (paper/model.md §10.1): each test breaks one piece of the model
//! through `inorm::fault` (GradNorm centering, the LN backward's decorrelation term, the Dale clamp, label
//! smoothing, the I-Norm local loss, the luminance shift, the alignment surrogate's mask), trains the smallest
//! real-data grid that shows the break on the fast f32 path, and asserts that the named check of the claims
//! gate (`tests/claims.rs`) FAILS — and that the same check PASSES on the same grid without the fault, so no
//! test can pass vacuously. The unfaulted grid is trained once and shared (each cell on first use). Three
//! faults (Dale clamp, label smoothing, the surrogate's mask) change no claim at a small scale (the survey
//! below); their tests assert instead that the model invariant or the agreement with the f64 oracle fails.
//!
//! Needs the real Fashion-MNIST, like the claims gate.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use inorm::data::{self, FashionMnist};
use inorm::experiment::{Cell, SweepSpec, WidthRule};
use inorm::fault::{with_fault, Fault};
use inorm::model::{GradNorm, Preset};
use inorm::tolerance::{FAST_F64_GRAM_COS, FAST_F64_REL};
use inorm::train::{train_run, RunResult, TrainEval};

use super::claims::{gated_checks, report};

/// The first 32 real training images at ε = 0.75 (seeded shift), as inputs and labels of one batch.
fn shifted_real_batch() -> (Vec<f32>, Vec<u8>) {
    let ds = fmnist().train.take(32);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut rng = data::shift::shift_rng(3, true, 0);
    let idx: Vec<usize> = (0..ds.len()).collect();
    data::shift::shifted_batch(&ds, &idx, 0.75, &mut rng, &mut x, &mut y);
    (x, y)
}

fn fmnist() -> &'static FashionMnist {
    static DATA: OnceLock<FashionMnist> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = data::locate(None).expect(
            "the fault-injection tests need the real Fashion-MNIST (apt-get install dataset-fashion-mnist, \
             or INORM_DATA=DIR)",
        );
        data::load(&dir).expect("load Fashion-MNIST")
    })
}

/// A small grid: conditions × ε × configurations, each configuration with its own seed, width ≤ 100.
#[derive(Clone, Debug)]
struct Grid {
    presets: Vec<Preset>,
    eps: Vec<f64>,
    configs: Vec<usize>,
    epochs: usize,
    train: usize,
    test: usize,
    /// Alignment diagnostics at every step (only the alignment checks need them).
    diag: bool,
}

impl Grid {
    fn spec(&self) -> SweepSpec {
        let mut s = SweepSpec::new(self.presets.clone());
        s.eps = self.eps.clone();
        s.configs = self.configs.clone();
        s.seed_per_config = true;
        s.epochs = self.epochs;
        s.width = WidthRule::Cap(100);
        s.train_size = Some(self.train);
        s.test_size = Some(self.test);
        s.train_eval = TrainEval::Running;
        s.diag = self.diag;
        s
    }
}

type Key = (String, u64, usize, u64, usize, usize, usize, bool);

fn key(g: &Grid, c: &Cell) -> Key {
    (
        c.preset.name(),
        c.eps.to_bits(),
        c.config,
        c.seed,
        g.epochs,
        g.train,
        g.test,
        g.diag,
    )
}

/// Trains `cells` of `g` on two threads, each with `fault` switched on (thread-local) when given.
fn train_cells(g: &Grid, cells: &[Cell], fault: Option<Fault>) -> Vec<RunResult> {
    let spec = g.spec();
    let fm = fmnist();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let work = || loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(cell) = cells.get(i) else { break };
                    let cfg = spec.train_config(cell).expect("cell config");
                    let r = train_run(&cfg, &fm.train, &fm.test, &mut |_| {})
                        .expect("train a cell")
                        .result;
                    out.lock().unwrap().push(r);
                };
                match fault {
                    Some(f) => with_fault(f, work),
                    None => work(),
                }
            });
        }
    });
    out.into_inner().unwrap()
}

/// The unfaulted runs of `g`, each cell trained once per test process and shared between tests.
fn clean(g: &Grid) -> Vec<RunResult> {
    static CACHE: OnceLock<Mutex<HashMap<Key, RunResult>>> = OnceLock::new();
    // One trainer of clean cells at a time, so two tests never train the same cell twice.
    static TRAINING: Mutex<()> = Mutex::new(());
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let cells = g.spec().grid().expect("grid");
    let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let todo: Vec<Cell> = {
        let c = cache.lock().unwrap();
        cells
            .iter()
            .filter(|x| !c.contains_key(&key(g, x)))
            .copied()
            .collect()
    };
    let fresh = train_cells(g, &todo, None);
    let mut c = cache.lock().unwrap();
    for r in fresh {
        c.insert(key(g, &Cell::of(&r)), r);
    }
    cells.iter().map(|x| c[&key(g, x)].clone()).collect()
}

fn faulted(g: &Grid, fault: Fault) -> Vec<RunResult> {
    train_cells(g, &g.spec().grid().expect("grid"), Some(fault))
}

/// Asserts that the gate check `id` passes on the clean grid and fails with `fault`, and prints both
/// reports for the record.
fn caught_by(g: &Grid, fault: Fault, id: &str) {
    let t0 = Instant::now();
    let ok = clean(g);
    let t1 = Instant::now();
    let bad = faulted(g, fault);
    let find = |r: &[RunResult]| {
        gated_checks(r)
            .into_iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no gate check {id}"))
    };
    let (c_ok, c_bad) = (find(&ok), find(&bad));
    eprintln!(
        "fault {fault:?} → {id} ({} cells; clean {:.0} s, faulted {:.0} s)\n  clean:   {}  faulted: {}",
        bad.len(),
        (t1 - t0).as_secs_f64(),
        t1.elapsed().as_secs_f64(),
        report([&c_ok]),
        report([&c_bad])
    );
    assert!(
        c_ok.pass,
        "without the fault the gate check {id} must pass on this grid (else the test proves nothing):\n{}",
        report([&c_ok])
    );
    assert!(
        !c_bad.pass,
        "fault {fault:?} was NOT caught by the gate check {id}:\n{}",
        report([&c_bad])
    );
}

/// Prints every gate check and the per-condition medians, clean vs each fault, on a broad small grid (to
/// choose the check that catches each fault). With 4 configurations only the threshold checks (C9, C10,
/// C13) can pass; the statistical ones need ≥ 8 pairs. `cargo test --release -- --ignored faults::survey`
/// (28 min on 2 cores).
#[ignore = "a survey for choosing the checks (minutes); the fault tests below are what CI runs"]
#[test]
fn survey_every_fault_on_a_small_grid() {
    let g = Grid {
        presets: Preset::ALL.to_vec(),
        eps: vec![0.0, 0.75],
        configs: (0..4).collect(),
        epochs: 1,
        train: 10_000,
        test: 2_000,
        diag: true,
    };
    let summary = |r: &[RunResult]| {
        let mut s = String::new();
        for p in Preset::ALL {
            for e in [0.0, 0.75] {
                let rs: Vec<&RunResult> = r
                    .iter()
                    .filter(|x| x.config.spec.preset == p && x.config.eps == e)
                    .collect();
                if rs.is_empty() {
                    continue;
                }
                let med = |f: &dyn Fn(&RunResult) -> f64| {
                    inorm::stats::median(&rs.iter().map(|x| f(x)).collect::<Vec<_>>())
                };
                s.push_str(&format!(
                    "  {:<22} ε={e:<4} acc {:6.2} out {:.3} grad {:.3} mean {:+.3} var {:.3}\n",
                    p.label(),
                    med(&|x| x.final_metrics.test_acc),
                    med(&|x| x.final_metrics.output_alignment),
                    med(&|x| x.final_metrics.gradient_alignment),
                    med(&|x| x.final_metrics.mean),
                    med(&|x| x.final_metrics.var),
                ));
            }
        }
        s
    };
    let ok = clean(&g);
    eprintln!("CLEAN\n{}", summary(&ok));
    for f in Fault::ALL {
        let bad = faulted(&g, f);
        let failed: Vec<&str> = gated_checks(&bad)
            .iter()
            .filter(|c| !c.pass)
            .map(|c| c.id)
            .collect();
        eprintln!("FAULT {f:?}: failing checks {failed:?}\n{}", summary(&bad));
    }
    let failed: Vec<&str> = gated_checks(&ok)
        .iter()
        .filter(|c| !c.pass)
        .map(|c| c.id)
        .collect();
    eprintln!("CLEAN failing checks (small grid) {failed:?}");
}

/// GN full at ε = 0.75, 3 configurations, 1 epoch of 10,000 images: the alignment checks need no
/// significance test, so three runs suffice.
fn gn_full_grid() -> Grid {
    Grid {
        presets: vec![Preset::INormGn(GradNorm::Full)],
        eps: vec![0.75],
        configs: (0..3).collect(),
        epochs: 1,
        train: 10_000,
        test: 2_000,
        diag: true,
    }
}

/// GradNorm without its centering no longer aligns the I-Norm updates with LN's: C10's gradient
/// alignment (> 0.95) fails. (Accuracy alone, C11, did not catch this at 6 epochs; paper/claims.md.)
#[test]
fn fault_gradnorm_centering_off_is_caught_by_c10() {
    caught_by(&gn_full_grid(), Fault::GradNormCenteringOff, "C10");
}

/// Dropping the decorrelation term from the LN backward changes the reference error of the alignment
/// diagnostic, and GN full's exact Eq. 2 updates no longer align with it: C10 fails.
#[test]
fn fault_ln_decorrelation_dropped_is_caught_by_c10() {
    caught_by(&gn_full_grid(), Fault::LnDecorrelationDropped, "C10");
}

/// Without the luminance shift, ε = 0.75 trains and tests on the same images as ε = 0, so accuracy no
/// longer falls with ε: C6 (exact paired Wilcoxon over 10 configurations, p < 0.01) fails.
#[test]
fn fault_luminance_shift_off_is_caught_by_c6() {
    let g = Grid {
        presets: vec![Preset::ELn],
        eps: vec![0.0, 0.75],
        configs: (0..10).collect(),
        epochs: 1,
        train: 10_000,
        test: 2_000,
        diag: false,
    };
    caught_by(&g, Fault::LuminanceShiftOff, "C6");
}

/// Without the local loss the inhibitory weights stay at their initialization while W_EE learns, so the
/// I-Norm layer's moments drift off the LN targets: C7 (|μ̄| and |v̄ − 1| < 0.1 at ε = 0) fails. The clean
/// I-Norm needs a few thousand steps to settle on the targets (1.15 after 312 steps), hence 2 epochs of
/// all 60,000 images here, without diagnostics.
#[test]
fn fault_local_loss_off_is_caught_by_c7() {
    let g = Grid {
        presets: vec![Preset::INorm, Preset::Ei],
        eps: vec![0.0],
        configs: (0..3).collect(),
        epochs: 2,
        train: 60_000,
        test: 2_000,
        diag: false,
    };
    caught_by(&g, Fault::LocalLossOff, "C7");
}

/// The most negative value of any sign-constrained (Dale-clamped) parameter of a trained network.
fn most_negative_constrained(spec: &inorm::model::NetSpec, params: &inorm::model::ParamSet) -> f64 {
    spec.param_infos()
        .iter()
        .filter(|i| i.group.clamped())
        .flat_map(|i| params[&i.name].data.iter().copied())
        .fold(f64::INFINITY, f64::min)
}

/// Dale's law (§6.1). No claim of the paper reacts to it at a small scale: with the clamp off, 1 epoch of
/// 10,000 images on all conditions × ε ∈ {0, 0.75} × 4 configurations left every gate check that passes on
/// that grid passing (C9, C10, C13), moved no alignment of an I-Norm condition by more than 0.01 and no accuracy median by more
/// than 1.6 points (survey, paper/claims.md). So the claims gate cannot catch this fault, and this test
/// checks the invariant itself on the trained EI network: every sign-constrained weight ≥ 0 without the
/// fault, some < 0 with it.
#[test]
fn fault_dale_clamp_off_is_caught_by_the_sign_check_not_by_a_claim() {
    let g = Grid {
        presets: vec![Preset::Ei],
        eps: vec![0.0],
        configs: vec![0],
        epochs: 1,
        train: 10_000,
        test: 2_000,
        diag: false,
    };
    let spec = g.spec();
    let cfg = spec.train_config(&spec.grid().unwrap()[0]).unwrap();
    let fm = fmnist();
    let run = || train_run(&cfg, &fm.train, &fm.test, &mut |_| {}).expect("train");
    let clean = most_negative_constrained(&cfg.spec, &run().params);
    let broken = with_fault(Fault::DaleClampOff, || {
        most_negative_constrained(&cfg.spec, &run().params)
    });
    eprintln!(
        "fault DaleClampOff: most negative constrained weight {clean} clean, {broken} faulted"
    );
    assert!(
        clean >= 0.0,
        "the clamp must keep every constrained weight ≥ 0: {clean}"
    );
    assert!(
        broken < 0.0,
        "fault DaleClampOff was not caught: min constrained weight {broken}"
    );
}

/// ‖g_fast − g_ref‖ / ‖g_ref‖ over all parameters: the fast f64 path against the f64 oracle on one batch.
fn fast_vs_oracle(spec: &inorm::model::NetSpec, batch: inorm::model::Batch<'_>) -> f64 {
    use inorm::backend::{make_trainer, Backend};
    let params = inorm::init::init_params(spec, 0).expect("init");
    let grads = |be| {
        make_trainer(be, spec.clone(), &params)
            .expect("trainer")
            .grads(batch)
            .expect("grads")
            .grads
    };
    let (fast, oracle) = (
        grads(Backend::Fast { f64: true }),
        grads(Backend::Reference),
    );
    let (mut diff, mut norm) = (0.0, 0.0);
    for (k, r) in &oracle {
        for (a, b) in fast[k].data.iter().zip(&r.data) {
            diff += (a - b) * (a - b);
            norm += b * b;
        }
    }
    (diff / norm).sqrt()
}

/// Label smoothing (§4). No claim reacts to it at a small scale: without it, 1 epoch of 10,000 images on
/// all conditions × ε ∈ {0, 0.75} × 4 configurations left every gate check that passes on that grid passing
/// (C9, C10, C13) and moved no accuracy median by more than 2.9 points (survey, paper/claims.md), so the
/// claims gate cannot catch this fault. The fast path's agreement with the f64 oracle does: on one
/// real ε = 0.75 batch its weight gradients leave the oracle's by far more than `FAST_F64_REL`.
#[test]
fn fault_label_smoothing_off_is_caught_by_the_oracle_check_not_by_a_claim() {
    use inorm::model::{Batch, NetSpec};
    let (x, y) = shifted_real_batch();
    let batch = Batch { x: &x, y: &y };
    let spec = NetSpec::new(Preset::ELn, 100);
    let clean = fast_vs_oracle(&spec, batch);
    let broken = with_fault(Fault::LabelSmoothingOff, || fast_vs_oracle(&spec, batch));
    eprintln!("fault LabelSmoothingOff: fast f64 vs oracle gradient rel. error {clean:.2e} clean, {broken:.2e} faulted");
    assert!(
        clean < FAST_F64_REL,
        "the fast f64 path must match the oracle: {clean:e}"
    );
    assert!(
        broken > 1e3 * FAST_F64_REL,
        "fault LabelSmoothingOff was not caught: {broken:e}"
    );
}

/// Gradient alignment of hidden layer 0 after one diagnostic training step, fast f64 path and f64 oracle,
/// from the initialization with hidden layer 0's bias set to −0.5: at initialization EI pre-activations are
/// exactly centered (claim C1), which hides the mask; −0.5 is the size of the trained EI LN−'s μ̄ (−0.29 at
/// ε = 0 and −0.64 at ε = 0.75 after one epoch in the survey).
fn alignment_fast_and_oracle(
    spec: &inorm::model::NetSpec,
    batch: inorm::model::Batch<'_>,
) -> (f64, f64) {
    use inorm::backend::{make_trainer, Backend};
    let mut params = inorm::init::init_params(spec, 0).expect("init");
    for b in &mut params.get_mut("hidden.0.bias").expect("EI bias").data {
        *b = -0.5;
    }
    let hyper = inorm::model::paper_config(0).expect("config 0").hyper();
    let align = |be| {
        make_trainer(be, spec.clone(), &params)
            .expect("trainer")
            .train_step(batch, &hyper, true)
            .expect("step")
            .diag[0]
            .gradient_alignment
    };
    (
        align(Backend::Fast { f64: true }),
        align(Backend::Reference),
    )
}

/// The alignment surrogate's mask (§8.2). In every I-Norm condition the layer's output is already centered
/// (μ̄ ≈ 0), so the masks 1[z > 0] and 1[LN(z) > 0] nearly coincide: with the wrong mask, 1 epoch of 10,000
/// images on all conditions × ε ∈ {0, 0.75} × 4 configurations moved the alignments the claims use by at
/// most 0.023 and left every gate check that passes on that grid passing (C9, C10, C13; survey,
/// paper/claims.md). The claims gate cannot catch this fault; the
/// fast path's agreement with the oracle's diagnostics can, on the EI network, whose pre-activations are
/// far from centered (the trained EI LN−'s alignment moved from 0.10 to 0.33 in the survey).
#[test]
fn fault_surrogate_own_mask_is_caught_by_the_oracle_check_not_by_a_claim() {
    use inorm::model::{Batch, NetSpec};
    let (x, y) = shifted_real_batch();
    let batch = Batch { x: &x, y: &y };
    let spec = NetSpec::new(Preset::Ei, 100);
    let (fast, oracle) = alignment_fast_and_oracle(&spec, batch);
    let (bad, oracle2) = with_fault(Fault::SurrogateOwnMask, || {
        alignment_fast_and_oracle(&spec, batch)
    });
    eprintln!(
        "fault SurrogateOwnMask: EI gradient alignment fast {fast:.6} vs oracle {oracle:.6} clean; \
         fast {bad:.6} vs oracle {oracle2:.6} faulted"
    );
    assert!(
        (fast - oracle).abs() < FAST_F64_GRAM_COS,
        "clean: {fast} vs {oracle}"
    );
    assert!(
        (bad - oracle2).abs() > 0.01,
        "fault SurrogateOwnMask was not caught: {bad} vs {oracle2}"
    );
}
