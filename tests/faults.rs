//! Fault injection for the claims gate (paper/model.md §10.1): each test breaks one piece of the model
//! through `inorm::fault` (GradNorm centering, the LN backward's decorrelation term, the Dale clamp, label
//! smoothing, the I-Norm local loss, the luminance shift, the alignment surrogate's mask), trains the smallest
//! real-data grid that shows the break on the fast f32 path, and asserts that the named check of the claims
//! gate (`tests/claims.rs`) FAILS — and that the same check PASSES on the same grid without the fault, so no
//! test can pass vacuously. The unfaulted grid is trained once and shared (each cell on first use).
//!
//! Needs the real Fashion-MNIST, like the claims gate.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use inorm::data::{self, FashionMnist};
use inorm::experiment::{Cell, SweepSpec, WidthRule};
use inorm::fault::{with_fault, Fault};
use inorm::model::{GradNorm, Preset};
use inorm::train::{train_run, RunResult, TrainEval};

use super::claims::{gated_checks, report};

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
        s
    }
}

type Key = (String, u64, usize, u64, usize, usize, usize);

fn key(g: &Grid, c: &Cell) -> Key {
    (
        c.preset.name(),
        c.eps.to_bits(),
        c.config,
        c.seed,
        g.epochs,
        g.train,
        g.test,
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

/// Asserts that the gate check `id` passes on the clean grid and fails with `fault`; returns the
/// measured reports (clean, faulted) for the record.
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
/// choose the check that catches each fault). `cargo test --release -- --ignored faults::survey`.
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
