//! The CI gate on the paper's claims (paper/model.md §10.1): reruns the quick experiment on the fast path
//! with real Fashion-MNIST (`inorm reproduce --scale quick`: 9 conditions × ε ∈ {0, 0.75} × the paper's
//! configurations 0–9 at width 100, each configuration with its own initialization seed, 6 epochs of all
//! 60,000 training images, the full test set) and asserts
//! every qualitative result that holds at that scale, each with a statistical test and a stated minimum
//! effect. A failure names the claim, its figure, the measured numbers and the p-value. Orderings use the
//! exact paired Wilcoxon test; "≈" claims are equivalence tests (TOST) with a margin from the paper's
//! figures; `tests/faults.rs` breaks the model one piece at a time and shows that these checks catch it.
//!
//! Claims measured not to hold at this scale (C5, C11's "GN full ≥ E LN+" and C16 as equivalence,
//! non-inferiority and non-superiority tests since 2026-11-30; C12's "center ≈ E LN+" and "center >
//! decorrelate", C14, C15's "lateral ≈ E LN+") are printed with their numbers but not gated: see
//! paper/claims.md. C1–C3 are gated by
//! `tests/reference` and `tests/theorem`.
//!
//! `INORM_CLAIMS_RESULTS=DIR` gates the results already in DIR (for example a paper-scale sweep) instead of
//! running the quick experiment.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use inorm::backend::{make_trainer, Backend};
use inorm::data;
use inorm::experiment::claims::{self, ClaimOutcome, Comparison};
use inorm::experiment::{merge, quick_spec};
use inorm::init::init_params;
use inorm::model::{Batch, GradNorm, NetSpec, Preset};
use inorm::train::RunResult;

/// Significance level of every ordering the gate asserts ("held with p < 0.01", paper/claims.md; with the exact
/// signed-rank test and 10 pairs the smallest two-sided p is 2/1024, one flipped configuration 4/1024).
const ALPHA: f64 = 0.01;
/// Level of the equivalence (TOST), non-inferiority and non-superiority tests: the conventional 5 % (a 90 %
/// confidence interval inside the margin).
const ALPHA_EQUIV: f64 = 0.05;
/// Equivalence margin of every "≈" claim, and the non-superiority margin of C16 (points; from the paper's
/// figures, see `claims::EQUIV_MARGIN`).
const MARGIN: f64 = claims::EQUIV_MARGIN;
/// Least gain (points) of EI LN+ over EI LN− at ε = 0.75 (the paper: ≈ +2).
const C4_MIN_GAIN: f64 = 1.0;
/// Least gap (points) of E LN+ over I-Norm at every ε (the paper: 3–5 at ε = 0.75).
const C8_MIN_GAP: f64 = 1.0;
/// Non-inferiority margin of GN full against E LN+ (points; paper/model.md §10.1 C11: "paired difference
/// ≥ −0.3 pt").
const C11_MAX_DEFICIT: f64 = 0.3;
/// Least gain (points) of GN center over GN scale, and of E LN+ over GN scale, at ε = 0.75.
const C12_MIN_GAIN: f64 = 1.0;
/// Least cosine between the lateral and exact-centering weight gradients at n ≥ 100 (paper/model.md §10.1, C15).
const C15_MIN_COSINE: f64 = 0.99;

fn acc(r: &RunResult) -> f64 {
    r.final_metrics.test_acc
}

/// One gated check: the claim, its figure, what was required, and whether it held.
pub(crate) struct Check {
    pub(crate) id: &'static str,
    figure: &'static str,
    statement: String,
    required: String,
    measured: String,
    pub(crate) pass: bool,
}

fn describe(c: &Comparison) -> String {
    let tost = c.tost(MARGIN).map_or(f64::NAN, |e| e.p);
    format!(
        "{}: medians {:.3} vs {:.3} (n {} vs {}), effect {:+.3}, Mann–Whitney U {:.1} p {:.2e}, exact Wilcoxon p {:.2e} ({} pairs), TOST(±{MARGIN}) p {:.2e}",
        c.label, c.median_a, c.median_b, c.n_a, c.n_b, c.effect, c.u, c.p_mw, c.p_wilcoxon, c.pairs, tost
    )
}

fn from_outcome(o: &ClaimOutcome, required: String) -> Check {
    let mut measured = o.note.clone();
    for d in &o.details {
        measured.push_str("\n      ");
        measured.push_str(&describe(d));
    }
    Check {
        id: o.id,
        figure: o.figure,
        statement: o.statement.to_string(),
        required,
        measured,
        pass: o.held == Some(true),
    }
}

fn from_comparisons(
    id: &'static str,
    figure: &'static str,
    statement: &str,
    required: String,
    cs: &[Comparison],
    ok: impl Fn(&Comparison) -> bool,
) -> Check {
    let pass = !cs.is_empty() && cs.iter().all(|c| c.has_data() && ok(c));
    Check {
        id,
        figure,
        statement: statement.into(),
        required,
        measured: cs.iter().map(describe).collect::<Vec<_>>().join("\n      "),
        pass,
    }
}

/// Every check the gate asserts, on `r`.
pub(crate) fn gated_checks(r: &[RunResult]) -> Vec<Check> {
    let gn = Preset::INormGn;
    let mut out = Vec::new();
    out.push(from_outcome(
        &claims::c4(r, C4_MIN_GAIN, ALPHA),
        format!("paired gain at ε=0.75 > {C4_MIN_GAIN} pt with p < {ALPHA}, larger than at ε=0"),
    ));
    let c6 = claims::c6(r, 0.0);
    let mut c6c = from_outcome(
        &c6,
        format!(
            "every condition's median falls from ε=0 to ε=0.75, paired by configuration: exact Wilcoxon p < {ALPHA}"
        ),
    );
    c6c.pass &= c6.details.iter().all(|d| d.p() < ALPHA);
    out.push(c6c);
    out.push(from_outcome(
        &claims::c7(r, 0.1),
        "I-Norm median |μ̄| < 0.1 and |v̄ − 1| < 0.1 (ε = 0); EI LN− |μ̄| > 0.2 or |v̄ − 1| > 0.2"
            .into(),
    ));
    out.push(from_outcome(
        &claims::c8(r, C8_MIN_GAP, ALPHA),
        format!("E LN+ ahead by > {C8_MIN_GAP} pt with p < {ALPHA} at every ε, gap growing"),
    ));
    out.push(from_outcome(
        &claims::c9(r, 0.7, 0.4),
        "ε=0.75: median output alignment > 0.7, gradient alignment < 0.4".into(),
    ));
    out.push(from_outcome(
        &claims::c10(r, 0.99, 0.95),
        "ε=0.75: median output alignment > 0.99, gradient alignment > 0.95".into(),
    ));
    let full = gn(GradNorm::Full);
    out.push(from_comparisons(
        "C11 (part)",
        "Fig 5c",
        "I-Norm + GN full > I-Norm (no GN) at every ε",
        format!("ahead with p < {ALPHA} at ε = 0 and 0.75"),
        &[0.0, 0.75].map(|e| claims::compare(r, full, Preset::INorm, Some(e), &acc)),
        |c| c.better(0.0, ALPHA),
    ));
    let scale = gn(GradNorm::Scale);
    out.push(from_comparisons(
        "C12 (part)",
        "Fig 6a",
        "GN scale < GN center and GN scale < E LN+ at ε = 0.75",
        format!("each ahead of GN scale by > {C12_MIN_GAIN} pt with p < {ALPHA}"),
        &[
            claims::compare(r, gn(GradNorm::Center), scale, Some(0.75), &acc),
            claims::compare(r, Preset::ELn, scale, Some(0.75), &acc),
        ],
        |c| c.better(C12_MIN_GAIN, ALPHA),
    ));
    out.push(from_outcome(
        &claims::c13(r, ALPHA),
        format!(
            "center's gradient alignment above decorrelate's and scale's, Mann–Whitney p < {ALPHA}"
        ),
    ));
    out.push(from_comparisons(
        "C15 (part)",
        "Fig 7b",
        "GN lateral ≈ GN center at every ε",
        format!("equivalent within ±{MARGIN} pt (TOST p < {ALPHA_EQUIV}) at ε = 0 and 0.75"),
        &[0.0, 0.75].map(|e| {
            claims::compare(
                r,
                gn(GradNorm::Lateral),
                gn(GradNorm::Center),
                Some(e),
                &acc,
            )
        }),
        |c| c.equivalent(MARGIN, ALPHA_EQUIV),
    ));
    out
}

pub(crate) fn report<'a>(checks: impl IntoIterator<Item = &'a Check>) -> String {
    let mut s = String::new();
    for c in checks {
        s.push_str(&format!(
            "{} {} ({}): {}\n    required: {}\n    measured: {}\n",
            if c.pass { "HELD  " } else { "FAILED" },
            c.id,
            c.figure,
            c.statement,
            c.required,
            c.measured
        ));
    }
    s
}

/// Runs the quick experiment into a fresh folder (or takes `INORM_CLAIMS_RESULTS`) and loads its results.
fn quick_results() -> Vec<RunResult> {
    let dir = match std::env::var_os("INORM_CLAIMS_RESULTS") {
        Some(d) => PathBuf::from(d),
        None => {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("claims-quick");
            // Never gate results of an earlier build: always a fresh folder.
            let _ = std::fs::remove_dir_all(&dir);
            let out = Command::new(env!("CARGO_BIN_EXE_inorm"))
                .args([
                    "--quiet",
                    "reproduce",
                    "--scale",
                    "quick",
                    "--offline",
                    "--out",
                ])
                .arg(&dir)
                .env("CANDLE_NUM_THREADS", "1")
                .env("RAYON_NUM_THREADS", "1")
                .output()
                .expect("run the inorm binary");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "`inorm reproduce --scale quick` failed (the claims gate needs the real Fashion-MNIST: \
                 `apt-get install dataset-fashion-mnist`, or INORM_DATA=DIR):\n{stdout}\n{stderr}"
            );
            eprintln!("{stdout}");
            dir
        }
    };
    let (rep, results) = merge(&dir).expect("merge the quick results");
    assert!(
        rep.missing.is_empty() && rep.duplicates.is_empty() && rep.unreadable.is_empty(),
        "incomplete results in {}: missing {:?}, duplicates {:?}, unreadable {:?}",
        dir.display(),
        rep.missing,
        rep.duplicates,
        rep.unreadable
    );
    results
}

#[test]
fn claims_quick_experiment_gate() {
    let t0 = Instant::now();
    let results = quick_results();
    let spec = quick_spec();
    let checks = gated_checks(&results);
    let text = report(&checks);
    eprintln!(
        "claims gate ({} runs, {:.0} s):\n{text}",
        results.len(),
        t0.elapsed().as_secs_f64()
    );
    // What is not gated, for the record (measured not to hold at this scale).
    let not_gated = [
        claims::c5(&results, MARGIN, ALPHA_EQUIV),
        claims::c11(&results, C11_MAX_DEFICIT, ALPHA_EQUIV),
        claims::c16(&results, MARGIN, ALPHA_EQUIV),
    ];
    for o in not_gated.into_iter().chain(claims::evaluate(&results)) {
        if matches!(o.id, "C5" | "C11" | "C12" | "C14" | "C15" | "C16") {
            eprintln!(
                "not gated: {} ({}) {} — held: {:?}; {}",
                o.id, o.figure, o.statement, o.held, o.note
            );
        }
    }
    // Counted after printing, so that a partial results folder still shows its numbers.
    assert_eq!(
        results.len(),
        spec.presets.len() * spec.eps.len() * spec.configs.len() * spec.seeds.len(),
        "the quick grid has one result per cell"
    );
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.pass).collect();
    assert!(
        failed.is_empty(),
        "{} of the paper's claims failed at the quick scale:\n{}",
        failed.len(),
        report(failed)
    );
}

/// C15, second half (Fig 7b, Theorem 1): with fixed random lateral weights the hidden weight gradients are
/// nearly those of exact centering, cosine > 0.99 at n ≥ 100, on a real luminance-shifted batch (ε = 0.75),
/// same parameters, candle f64.
///
/// NOT REPRODUCED, so not gated: measured 0.82 at n = 100 (fc0, init). The centering error e_b = mean(γ_b) −
/// ⟨ω, γ_b⟩ of Theorem 1 is small per sample, but it adds the same row Σ_b e_b x_bᵀ to every unit's weight
/// gradient, and with non-negative inputs these rows add up coherently while the centered gradient's do not.
/// Run it with `cargo test --release -- --ignored c15_` to measure; paper/claims.md has the numbers.
#[ignore = "C15's gradient-cosine half does not reproduce (0.82 at n = 100); see paper/claims.md"]
#[test]
fn c15_lateral_gradient_cosine_with_exact_centering() {
    let dir = data::locate(None).expect("the claims gate needs the real Fashion-MNIST");
    let ds = data::load(&dir).expect("load Fashion-MNIST").train.take(32);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut rng = data::shift::shift_rng(7, true, 0);
    let idx: Vec<usize> = (0..ds.len()).collect();
    data::shift::shifted_batch(&ds, &idx, 0.75, &mut rng, &mut x, &mut y);
    let batch = Batch { x: &x, y: &y };
    let (mut worst, mut at) = (f64::INFINITY, String::new());
    for width in [100usize, 500] {
        for seed in 0..3u64 {
            let lateral = NetSpec::new(Preset::INormGn(GradNorm::Lateral), width);
            let center = NetSpec::new(Preset::INormGn(GradNorm::Center), width);
            let pl = init_params(&lateral, seed).unwrap();
            let mut pc = pl.clone();
            pc.retain(|k, _| !k.ends_with(".lateral"));
            let be = Backend::Fast { f64: true };
            let gl = make_trainer(be, lateral, &pl)
                .unwrap()
                .grads(batch)
                .unwrap();
            let gc = make_trainer(be, center, &pc).unwrap().grads(batch).unwrap();
            for layer in 0..2 {
                let k = format!("hidden.{layer}.w_ee");
                let (a, b) = (&gl.grads[&k].data, &gc.grads[&k].data);
                let dot: f64 = a.iter().zip(b).map(|(p, q)| p * q).sum();
                let na = a.iter().map(|p| p * p).sum::<f64>().sqrt();
                let nb = b.iter().map(|q| q * q).sum::<f64>().sqrt();
                let cos = dot / (na * nb);
                eprintln!("C15 cosine n={width} seed={seed} {k}: {cos:.6}");
                if cos < worst {
                    worst = cos;
                    at = format!("{k} at n = {width}, seed {seed}");
                }
            }
        }
    }
    assert!(
        worst > C15_MIN_COSINE,
        "C15 (Fig 7b): the cosine between the lateral-inhibition and exact-centering weight gradients falls \
         to {worst:.5} ({at}); the claim needs > {C15_MIN_COSINE}"
    );
}
