//! Lockstep training (K networks in one batched step) against K single runs, a diverging member, the
//! lockstep sweep (grouping, resume), the one-host-read-per-step guarantee and the bench's projection.

use crate::util::{run_numbers, tmpdir};
use inorm::backend::Backend;
use inorm::bench::{project, CellResult};
use inorm::data::{synthetic, Dataset, FashionMnist};
use inorm::experiment::lockstep_groups;
use inorm::experiment::run_sweep_grouped;
use inorm::experiment::{read_result, result_path, run_sweep, Shard, SweepSpec, WidthRule};
use inorm::fast::{host_reads, LockstepNet};
use inorm::init::init_params;
use inorm::model::{paper_config, GradNorm, Hyper, NetSpec, ParamSet, Preset};
use inorm::tolerance::FAST_F32_TRAJECTORY;
use inorm::train::lockstep::{check_group, train_lockstep};
use inorm::train::{train_run, RunStatus, TrainConfig, TrainEval};
use std::path::PathBuf;

/// Lockstep and single runs of the f64 fast path execute the same kernels on the same numbers; what is
/// left is summation order inside batched kernels.
const LOCKSTEP_F64_REL: f64 = 1e-12;

/// A learning rate that makes a member diverge on any CPU: one step turns every gradient entry above
/// 1e-10 into a weight beyond 1e298, and two layers of such weights overflow f64 whatever the summation
/// order. (1e200 did not: on an AMD EPYC with AVX2 the EI member's loss stayed finite at 3.7e199 and the
/// run ended "ok", where an Intel Xeon overflowed.)
const ABSURD_LR: f64 = f64::MAX;

fn data() -> (Dataset, Dataset) {
    (synthetic(80, 21), synthetic(48, 22))
}

/// Three runs of `preset` that differ in ε, learning rates and seed.
fn group(preset: Preset, backend: Backend) -> Vec<TrainConfig> {
    [(0.0, 0.01, 3), (0.5, 0.02, 4), (0.75, 0.005, 5)]
        .into_iter()
        .map(|(eps, lr, seed)| {
            let mut c = TrainConfig::new(NetSpec::new(preset, 12), Hyper::sgd(lr, 0.1, 1e-3), eps);
            c.epochs = 2;
            c.backend = backend;
            c.seed = seed;
            c.train_size = Some(70); // 2 full batches and a partial one
            c
        })
        .collect()
}

/// Largest |a − b| / max(|b|, 1); NaN equal to NaN; a length mismatch is infinite.
fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            // Equal values differ by 0, equal infinities (a diverged member's weights) included.
            if (x.is_nan() && y.is_nan()) || x == y {
                0.0
            } else {
                (x - y).abs() / y.abs().max(1.0)
            }
        })
        .fold(
            0.0,
            |m, e| if e.is_nan() { f64::INFINITY } else { m.max(e) },
        )
}

fn param_rel(a: &inorm::model::ParamSet, b: &inorm::model::ParamSet) -> f64 {
    if a.keys().ne(b.keys()) {
        return f64::INFINITY;
    }
    a.iter()
        .map(|(k, t)| max_rel(&t.data, &b[k].data))
        .fold(0.0, f64::max)
}

/// Like [`param_rel`], but each tensor's differences are divided by that tensor's largest magnitude, not
/// by max(|b|, 1), which compares gradients far below 1 absolutely; a NaN difference is infinite.
fn param_rel_scaled(a: &inorm::model::ParamSet, b: &inorm::model::ParamSet) -> f64 {
    if a.keys().ne(b.keys()) {
        return f64::INFINITY;
    }
    a.iter()
        .flat_map(|(k, t)| {
            let scale = t.data.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
            t.data
                .iter()
                .zip(&b[k].data)
                .map(move |(x, y)| (x - y).abs() / scale)
        })
        .fold(
            0.0,
            |m, e| if e.is_nan() { f64::INFINITY } else { m.max(e) },
        )
}

/// (worst result difference, worst parameter difference) of lockstep against single runs of `cfgs`.
fn lockstep_vs_single(cfgs: &[TrainConfig]) -> (f64, f64) {
    let (tr, te) = data();
    let lock = train_lockstep(cfgs, &tr, &te, &mut |_, _| {}).unwrap();
    let mut worst = (0.0f64, 0.0f64);
    for (c, l) in cfgs.iter().zip(&lock) {
        let s = train_run(c, &tr, &te, &mut |_| {}).unwrap();
        assert_eq!(l.result.status, s.result.status, "{}", c.spec.preset);
        assert_eq!(
            l.result.divergence, s.result.divergence,
            "{}",
            c.spec.preset
        );
        worst.0 = worst.0.max(max_rel(
            &run_numbers(&l.result, true),
            &run_numbers(&s.result, true),
        ));
        worst.1 = worst.1.max(param_rel(&l.params, &s.params));
    }
    worst
}

#[test]
fn lockstep_runs_equal_single_runs_in_f64_for_every_condition() {
    for preset in Preset::ALL {
        let (r, p) = lockstep_vs_single(&group(preset, Backend::Fast { f64: true }));
        assert!(
            r <= LOCKSTEP_F64_REL && p <= LOCKSTEP_F64_REL,
            "{preset}: {r:e} {p:e}"
        );
    }
}

#[test]
fn lockstep_runs_equal_single_runs_in_f32() {
    for preset in [
        Preset::EiLn,
        Preset::INormGn(GradNorm::Full),
        Preset::INormSub,
    ] {
        let (r, p) = lockstep_vs_single(&group(preset, Backend::Fast { f64: false }));
        assert!(
            r <= FAST_F32_TRAJECTORY && p <= FAST_F32_TRAJECTORY,
            "{preset}: {r:e} {p:e}"
        );
    }
}

#[test]
fn a_diverging_member_does_not_disturb_the_others() {
    for preset in [Preset::Ei, Preset::INorm] {
        let mut cfgs = group(preset, Backend::Fast { f64: true });
        cfgs[1].hyper = Hyper::sgd(ABSURD_LR, ABSURD_LR, ABSURD_LR);
        let (tr, te) = data();
        let lock = train_lockstep(&cfgs, &tr, &te, &mut |_, _| {}).unwrap();
        assert_eq!(lock[1].result.status, RunStatus::Diverged, "{preset}");
        assert_eq!(lock[0].result.status, RunStatus::Ok, "{preset}");
        assert_eq!(lock[2].result.status, RunStatus::Ok, "{preset}");
        assert_eq!(lock[1].result.history.len(), 1);
        let (r, p) = lockstep_vs_single(&cfgs);
        assert!(
            r <= LOCKSTEP_F64_REL && p <= LOCKSTEP_F64_REL,
            "{preset}: {r:e} {p:e}"
        );
    }
}

#[test]
fn a_lockstep_member_reports_what_a_group_of_one_reports() {
    // K = 2 networks on different batches in f64: member k's forward/backward report equals that of a group
    // holding network k alone; len, is_empty and live describe the group; a batch count that does not match K
    // is an error; a member that diverges is marked not live and the other stays live.
    let spec = NetSpec::new(Preset::INormGn(GradNorm::Full), 12);
    let params: Vec<ParamSet> = (1..3).map(|s| init_params(&spec, s).unwrap()).collect();
    let group = |p: &[ParamSet]| {
        LockstepNet::new(
            spec.clone(),
            p,
            candle_core::DType::F64,
            candle_core::Device::Cpu,
        )
        .unwrap()
    };
    let mut net = group(&params);
    assert_eq!(net.len(), 2);
    assert!(!net.is_empty());
    assert_eq!(net.live(), &[true, true]);
    let xs: Vec<Vec<f32>> = (0..2)
        .map(|k| {
            (0..4 * 784)
                .map(|i| ((i * 7 + k * 13) % 17) as f32 / 17.0)
                .collect()
        })
        .collect();
    let ys = [[1u8, 2, 3, 4], [5, 6, 7, 8]];
    let both = net.grads(&[&xs[0], &xs[1]], &[&ys[0], &ys[1]]).unwrap();
    assert_eq!(both.len(), 2);
    for (k, got) in both.iter().enumerate() {
        let want = group(&params[k..k + 1])
            .grads(&[&xs[k]], &[&ys[k]])
            .unwrap()
            .remove(0);
        let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-300);
        assert!(
            rel(got.loss, want.loss) <= LOCKSTEP_F64_REL,
            "member {k} loss"
        );
        for (g, w) in got.local_loss.iter().zip(&want.local_loss) {
            assert!(rel(*g, *w) <= LOCKSTEP_F64_REL, "member {k} local loss");
        }
        assert!(
            param_rel_scaled(&got.grads, &want.grads) <= LOCKSTEP_F64_REL,
            "member {k} grads"
        );
        assert!(
            param_rel_scaled(&got.local_grads, &want.local_grads) <= LOCKSTEP_F64_REL,
            "member {k} local grads"
        );
        assert_eq!(got.diag.len(), want.diag.len());
        for (g, w) in got.diag.iter().zip(&want.diag) {
            for (a, b) in [
                (g.output_alignment, w.output_alignment),
                (g.gradient_alignment, w.gradient_alignment),
                (g.mean, w.mean),
                (g.var, w.var),
            ] {
                assert!(
                    rel(a, b) <= LOCKSTEP_F64_REL,
                    "member {k} diagnostics {a} vs {b}"
                );
            }
        }
    }
    let e = net
        .grads(&[&xs[0], &xs[1]], &[&ys[0]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 batches"), "{e}");
    let hyper = [
        Hyper::sgd(1e-3, 1e-3, 1e-3),
        Hyper::sgd(ABSURD_LR, ABSURD_LR, ABSURD_LR),
    ];
    for _ in 0..5 {
        if !net.live()[1] {
            break;
        }
        net.step(&[&xs[0], &xs[1]], &[&ys[0], &ys[1]], &hyper, false)
            .unwrap();
    }
    assert_eq!(net.live(), &[true, false]);
}

#[test]
fn a_training_step_reads_the_device_once() {
    let spec = NetSpec::new(Preset::INormGn(GradNorm::Full), 12);
    let params: Vec<_> = (0..3).map(|s| init_params(&spec, s).unwrap()).collect();
    let mut net = LockstepNet::new(
        spec,
        &params,
        candle_core::DType::F32,
        candle_core::Device::Cpu,
    )
    .unwrap();
    let x = vec![0.3f32; 8 * 784];
    let y = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let hyper = [Hyper::sgd(1e-2, 1e-2, 1e-3); 3];
    for diag in [false, true] {
        let before = host_reads();
        let r = net
            .step(&[&x, &x, &x], &[&y, &y, &y], &hyper, diag)
            .unwrap();
        assert_eq!(host_reads() - before, 1, "diag {diag}");
        assert!(r.iter().all(|r| r.is_ok()));
    }
    let before = host_reads();
    net.evaluate(&[&x, &x, &x], &[&y, &y, &y]).unwrap();
    assert_eq!(host_reads() - before, 1);
}

#[test]
fn lockstep_refuses_runs_that_cannot_share_a_network() {
    let mut cfgs = group(Preset::Ei, Backend::Fast { f64: false });
    cfgs[2].spec.width = 13;
    let e = check_group(&cfgs).unwrap_err().to_string();
    assert!(e.contains("run 2") && e.contains("network spec"), "{e}");
    let mut cfgs = group(Preset::Ei, Backend::Reference);
    cfgs.truncate(1);
    let e = check_group(&cfgs).unwrap_err().to_string();
    assert!(e.contains("reference"), "{e}");
    let spec = NetSpec::new(Preset::Ei, 12);
    let p = init_params(&spec, 0).unwrap();
    let mut net = LockstepNet::new(
        spec,
        &[p.clone(), p],
        candle_core::DType::F32,
        candle_core::Device::Cpu,
    )
    .unwrap();
    let x = vec![0.3f32; 4 * 784];
    let e = net
        .step(
            &[&x],
            &[&[1, 2, 3, 4]],
            &[Hyper::sgd(0.1, 0.1, 0.1); 2],
            false,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 batches"), "{e}");
}

fn tiny_sweep() -> SweepSpec {
    let mut s = SweepSpec::new(vec![Preset::ELn, Preset::INormGn(GradNorm::Center)]);
    s.eps = vec![0.0, 0.75];
    s.configs = vec![0, 1, 2];
    s.epochs = 1;
    s.width = WidthRule::Fixed(10);
    s.train_size = Some(48);
    s.test_size = Some(32);
    s.train_eval = TrainEval::Full;
    s.backend = Backend::Fast { f64: true };
    s
}

#[test]
fn lockstep_groups_hold_one_network_spec_and_at_most_k_cells() {
    let mut s = tiny_sweep();
    let grid = s.grid().unwrap();
    let g = lockstep_groups(&s, &grid, 4).unwrap();
    // 2 conditions × (6 cells in groups of ≤ 4) = 4 groups.
    assert_eq!(g.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 2, 4, 2]);
    // Paper widths: configs 3, 20 and 23 share width 252, config 0 (178) stands alone.
    s.width = WidthRule::Paper;
    s.configs = vec![3, 0, 20, 23];
    s.presets = vec![Preset::ELn];
    s.eps = vec![0.0];
    let g = lockstep_groups(&s, &s.grid().unwrap(), 8).unwrap();
    let widths: Vec<Vec<usize>> = g
        .iter()
        .map(|g| {
            g.iter()
                .map(|c| paper_config(c.config).unwrap().width)
                .collect()
        })
        .collect();
    assert_eq!(widths, vec![vec![252, 252, 252], vec![178]]);
}

#[test]
fn lockstep_sweep_equals_single_sweep_and_resumes() {
    let data = FashionMnist {
        train: synthetic(48, 31),
        test: synthetic(32, 32),
        dir: PathBuf::from("<synthetic>"),
    };
    let spec = tiny_sweep();
    let (a, b) = (tmpdir("lock", "single"), tmpdir("lock", "lock"));
    run_sweep(&spec, &a, Shard::ALL, 2, &data, &|_| {}).unwrap();
    let s1 = run_sweep_grouped(&spec, &b, Shard::ALL, 2, 4, &data, &|_| {}).unwrap();
    assert_eq!((s1.ran, s1.skipped), (12, 0));
    assert!(s1.failed.is_empty(), "{:?}", s1.failed);
    let grid = spec.grid().unwrap();
    for c in &grid {
        let (x, y) = (
            read_result(&result_path(&a, c)).unwrap(),
            read_result(&result_path(&b, c)).unwrap(),
        );
        let e = max_rel(&run_numbers(&y, true), &run_numbers(&x, true));
        assert!(e <= LOCKSTEP_F64_REL, "{}: {e:e}", c.id());
    }
    // A kill mid-sweep: three results missing; the rerun trains only those, regrouped, to the same numbers.
    let before: Vec<Vec<f64>> = grid
        .iter()
        .map(|c| run_numbers(&read_result(&result_path(&b, c)).unwrap(), true))
        .collect();
    for i in [1, 4, 9] {
        std::fs::remove_file(result_path(&b, &grid[i])).unwrap();
    }
    let s2 = run_sweep_grouped(&spec, &b, Shard::ALL, 1, 4, &data, &|_| {}).unwrap();
    assert_eq!((s2.ran, s2.skipped), (3, 9));
    for (c, want) in grid.iter().zip(&before) {
        let got = run_numbers(&read_result(&result_path(&b, c)).unwrap(), true);
        assert!(max_rel(&got, want) <= LOCKSTEP_F64_REL, "{}", c.id());
    }
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

fn cell(preset: Preset, width: usize, k: usize, train: f64, eval: f64) -> CellResult {
    CellResult {
        preset: preset.name(),
        width,
        batch: 32,
        k,
        train_samples_per_s: train,
        eval_samples_per_s: eval,
        train_gflops: 0.0,
        steps: 1,
        diagnosed_steps: 0,
    }
}

#[test]
fn bench_projection_sums_the_protocol_and_divides_by_jobs() {
    // Throughput proportional to 1/FLOPs at exactly the GEMM peak: the projection equals the floor.
    let peak = 100.0; // GFLOP/s
    let mut cells = Vec::new();
    for p in Preset::ALL {
        for w in [178, 488] {
            let f = NetSpec::new(p, w).matmul_flops_forward();
            cells.push(cell(p, w, 1, peak * 1e9 / (3.0 * f), peak * 1e9 / f));
        }
    }
    let pr = project(&cells, 1, 2, 1.0, peak, true);
    assert_eq!(pr.len(), 2);
    assert_eq!((pr[0].runs, pr[1].runs), (1200, 360));
    for p in &pr {
        assert!((p.ratio - 1.0).abs() < 1e-9, "{p:?}");
    }
    // Half the throughput doubles the time; a missing condition gives no full-protocol projection.
    for c in &mut cells {
        c.train_samples_per_s /= 2.0;
        c.eval_samples_per_s /= 2.0;
    }
    let slow = project(&cells, 1, 2, 1.0, peak, true);
    assert!((slow[0].projected_s / pr[0].projected_s - 2.0).abs() < 1e-9);
    // Jobs that run at 60 % of their speed alone when side by side take 1/0.6 as long; the floor stays.
    let shared = project(&cells, 1, 2, 0.6, peak, true);
    assert!((shared[0].projected_s / slow[0].projected_s - 1.0 / 0.6).abs() < 1e-9);
    assert_eq!(shared[0].floor_s, slow[0].floor_s);
    // Four jobs: half the time and half the floor of two.
    let four = project(&cells, 1, 4, 1.0, peak, true);
    assert!((four[1].projected_s / slow[1].projected_s - 0.5).abs() < 1e-9);
    assert!((four[1].floor_s / slow[1].floor_s - 0.5).abs() < 1e-9);
    cells.retain(|c| c.preset != Preset::Ei.name());
    let part = project(&cells, 1, 2, 1.0, peak, true);
    assert_eq!(part.len(), 1);
    assert_eq!(part[0].name, "targeted set");
}

/// Checks every cell of a bench.json: its diagnosed steps are those `diag_step` picks (every `every`-th
/// and each epoch's last of the 1,875 steps of a 60,000-image epoch at batch 32) among the warm-up and
/// timed steps; `every = None`: diagnostics off, none. Returns the cells' step counts.
fn check_diagnosed(js: &serde_json::Value, every: Option<usize>) -> Vec<u64> {
    let cells = js["cells"].as_array().unwrap();
    cells
        .iter()
        .map(|c| {
            let steps = c["steps"].as_u64().unwrap();
            let want = every.map_or(0, |k| {
                (0..steps as usize + 1)
                    .filter(|&s| inorm::train::diag_step(s % 1875, 1875, k))
                    .count()
            });
            assert_eq!(c["diagnosed_steps"].as_u64().unwrap() as usize, want, "{c}");
            steps
        })
        .collect()
}

/// Runs `inorm bench ARGS --seconds 0.05 --out DIR` without the kernel-thread variables; (bench.md, bench.json).
fn bench_in(out: &std::path::Path, args: &[&str]) -> (String, serde_json::Value) {
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_inorm"))
        .arg("bench")
        .args(args)
        .args(["--seconds", "0.05", "--out"])
        .arg(out)
        .env_remove("RAYON_NUM_THREADS")
        .env_remove("CANDLE_NUM_THREADS")
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let md = std::fs::read_to_string(out.join("bench.md")).unwrap();
    let js = serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();
    (md, js)
}

#[test]
fn inorm_bench_writes_json_and_markdown() {
    let out = tmpdir("lock", "bench");
    let (md, js) = bench_in(
        &out,
        &[
            "--nets", "ei,inorm", "--widths", "20", "--k", "1,3", "--jobs", "2",
        ],
    );
    assert!(md.contains("| inorm | 20 | 32 | 3 |"), "{md}");
    // The default diagnoses every 10th step and each epoch's last, as `train` and `sweep` do.
    assert_eq!(js["diag_every"], 10);
    assert!(
        md.contains("diagnostics on, every 10th step and each epoch's last"),
        "{md}"
    );
    assert_eq!(js["cells"].as_array().unwrap().len(), 4);
    // Every 10th timed step computed the diagnostics, counting from the warm-up step (at least 3 timed).
    assert!(check_diagnosed(&js, Some(10)).iter().all(|&s| s >= 3));
    assert!(js["gemm_peak_gflops"].as_f64().unwrap() > 0.0);
    // The CLI sets its kernel threads (--threads, default 1) for candle and rayon, and the bench records them.
    assert_eq!(js["threads"], "1");
    // Two jobs: the GEMM peak and one training cell (the first condition, GN full being absent) were also
    // measured side by side, and the efficiency the projections use is the ratio of the two speeds.
    let sb = &js["side_by_side"];
    assert_eq!(sb["jobs"], 2);
    assert_eq!(sb["cell"], "ei n=20 B=32");
    let eff = sb["train_efficiency"].as_f64().unwrap();
    let ratio = sb["train_each"].as_f64().unwrap() / sb["train_alone"].as_f64().unwrap();
    assert!(eff > 0.0 && (eff - ratio).abs() <= 1e-12 * ratio, "{sb}");
    assert!(sb["gemm_each_gflops"].as_f64().unwrap() > 0.0);
    assert!(md.contains("2 jobs side by side"), "{md}");
    let one = tmpdir("lock", "bench1");
    let (md1, js1) = bench_in(
        &one,
        &[
            "--nets",
            "ei",
            "--widths",
            "20",
            "--jobs",
            "1",
            "--diag-every",
            "1",
        ],
    );
    assert!(md1.contains("diagnostics on, every step"), "{md1}");
    assert_eq!(js1["diag_every"], 1);
    check_diagnosed(&js1, Some(1));
    let off = tmpdir("lock", "bench-off");
    let (_, js0) = bench_in(
        &off,
        &["--nets", "ei", "--widths", "20", "--jobs", "1", "--no-diag"],
    );
    assert_eq!(js0["diag"], false);
    check_diagnosed(&js0, None);
    let _ = std::fs::remove_dir_all(&off);
    assert!(
        js1["side_by_side"].is_null(),
        "one job alone: nothing side by side"
    );
    let _ = std::fs::remove_dir_all(&one);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_inorm"))
        .args(["bench", "--k", "0"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("k"));
    let _ = std::fs::remove_dir_all(&out);
}
