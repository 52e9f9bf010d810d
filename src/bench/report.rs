//! From measured cells to the projected wall time of the paper's protocol and of the targeted set, with
//! the ratio to the GEMM-peak floor ([`project`]), and the report as markdown tables ([`markdown`]).

use super::{BenchReport, CellResult, Projection, TRAIN_IMAGES};
use crate::model::{GradNorm, NetSpec, Preset, PAPER_CONFIGS};

/// Test images evaluated per epoch.
const TEST_IMAGES: f64 = 10_000.0;
/// Epochs per run.
const EPOCHS: f64 = 50.0;
/// ε values of the full protocol and of the targeted set.
const EPS_FULL: f64 = 4.0;
const EPS_TARGETED: f64 = 2.0;

/// Least-squares `t = a + b·f` through the points (f, t), a and b clamped at ≥ 0; one point: `t ∝ f`.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    match points {
        [] => (f64::NAN, f64::NAN),
        [(f, t)] => (0.0, t / f),
        _ => {
            let n = points.len() as f64;
            let mf = points.iter().map(|p| p.0).sum::<f64>() / n;
            let mt = points.iter().map(|p| p.1).sum::<f64>() / n;
            let sff: f64 = points.iter().map(|p| (p.0 - mf).powi(2)).sum();
            let sft: f64 = points.iter().map(|p| (p.0 - mf) * (p.1 - mt)).sum();
            let b = if sff > 0.0 { (sft / sff).max(0.0) } else { 0.0 };
            ((mt - b * mf).max(0.0), b)
        }
    }
}

/// Projects the full protocol and the targeted set from the batch-32 cells of group size `k`.
///
/// `jobs` runs share the machine; `efficiency` is the throughput of one of them, relative to the same run
/// alone, when all `jobs` run side by side ([`super::SideBySide::train_efficiency`]; 1 = perfect scaling), and
/// `peak_gflops` the GEMM peak of one job under the same conditions ([`super::SideBySide::gemm_each_gflops`]).
/// The projected time is the cells' time per sample summed over the runs, divided by `jobs · efficiency`;
/// the floor is the runs' FLOPs at `jobs · peak_gflops`.
pub fn project(
    cells: &[CellResult],
    k: usize,
    jobs: usize,
    efficiency: f64,
    peak_gflops: f64,
    train_eval_full: bool,
) -> Vec<Projection> {
    let eval_images = TEST_IMAGES + if train_eval_full { TRAIN_IMAGES } else { 0.0 };
    let targeted: Vec<Preset> = std::iter::once(Preset::ELn)
        .chain(
            [
                GradNorm::Full,
                GradNorm::Center,
                GradNorm::Scale,
                GradNorm::Decorrelate,
                GradNorm::Lateral,
            ]
            .map(Preset::INormGn),
        )
        .collect();
    let mut out = Vec::new();
    for (name, presets, eps) in [
        ("full protocol", Preset::ALL.to_vec(), EPS_FULL),
        ("targeted set", targeted, EPS_TARGETED),
    ] {
        let (mut secs, mut flops, mut runs, mut missing) = (0.0, 0.0, 0usize, false);
        for p in &presets {
            let mine: Vec<&CellResult> = cells
                .iter()
                .filter(|c| c.preset == p.name() && c.k == k && c.batch == 32)
                .collect();
            let pts = |f: &dyn Fn(&CellResult) -> f64| -> Vec<(f64, f64)> {
                mine.iter()
                    .map(|c| (NetSpec::new(*p, c.width).matmul_flops_forward(), f(c)))
                    .collect()
            };
            let (ta, tb) = fit(&pts(&|c| 1.0 / c.train_samples_per_s));
            let (ea, eb) = fit(&pts(&|c| 1.0 / c.eval_samples_per_s));
            if mine.is_empty() {
                missing = true;
            }
            for pc in PAPER_CONFIGS {
                let f = NetSpec::new(*p, pc.width).matmul_flops_forward();
                let per_run = EPOCHS * (TRAIN_IMAGES * (ta + tb * f) + eval_images * (ea + eb * f));
                secs += eps * per_run;
                flops += eps * EPOCHS * (TRAIN_IMAGES * 3.0 * f + eval_images * f);
                runs += eps as usize;
            }
        }
        if missing {
            continue;
        }
        let projected_s = secs / (jobs as f64 * efficiency);
        let floor_s = flops / (peak_gflops * 1e9 * jobs as f64);
        out.push(Projection {
            name: name.into(),
            k,
            runs,
            flops,
            projected_s,
            floor_s,
            ratio: projected_s / floor_s,
        });
    }
    out
}

fn hours(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.2} h", s / 3600.0)
    } else {
        format!("{:.1} min", s / 60.0)
    }
}

/// `on, every step`, `on, every 10th step and each epoch's last` or `off`.
fn diag_words(on: bool, every: usize) -> String {
    match (on, every) {
        (false, _) => "off".into(),
        (true, 1) => "on, every step".into(),
        (true, n) => format!("on, every {n}th step and each epoch's last"),
    }
}

/// The report as markdown tables (cells, then projections).
pub fn markdown(r: &BenchReport) -> String {
    let mut s = format!(
        "backend `{}` on `{}`, inorm {}, kernel threads {}, diagnostics {}, training-set evaluation {}; \
         GEMM peak {:.1} GFLOP/s ({}); projections with {} parallel job(s)\n\n",
        r.backend,
        r.device,
        r.version,
        r.threads,
        diag_words(r.diag, r.diag_every),
        if r.train_eval_full { "every epoch" } else { "off" },
        r.gemm_peak_gflops,
        r.gemm_shape,
        r.jobs
    );
    s.push_str("| condition | width | batch | K | train samples/s | eval samples/s | train GFLOP/s | % of peak |\n");
    s.push_str("|---|---|---|---|---|---|---|---|\n");
    for c in &r.cells {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {:.0} | {:.1} | {:.1} |\n",
            c.preset,
            c.width,
            c.batch,
            c.k,
            c.train_samples_per_s,
            c.eval_samples_per_s,
            c.train_gflops,
            100.0 * c.train_gflops / r.gemm_peak_gflops
        ));
    }
    if let Some(b) = &r.side_by_side {
        s.push_str(&format!(
            "\n{} jobs side by side: GEMM peak {:.1} GFLOP/s per job (alone {:.1}, {:.0} %); {} training \
             {:.0} samples/s per job (alone {:.0}, efficiency {:.0} %). The projections use the per-job \
             peak for the floor and divide the time by jobs × efficiency.\n",
            b.jobs,
            b.gemm_each_gflops,
            b.gemm_alone_gflops,
            100.0 * b.gemm_each_gflops / b.gemm_alone_gflops,
            b.cell,
            b.train_each,
            b.train_alone,
            100.0 * b.train_efficiency
        ));
    }
    s.push_str("\n| projection | K | runs | PFLOP | projected | GEMM-peak floor | ratio |\n");
    s.push_str("|---|---|---|---|---|---|---|\n");
    for p in &r.projections {
        s.push_str(&format!(
            "| {} | {} | {} | {:.2} | {} | {} | {:.1}× |\n",
            p.name,
            p.k,
            p.runs,
            p.flops / 1e15,
            hours(p.projected_s),
            hours(p.floor_s),
            p.ratio
        ));
    }
    s
}
