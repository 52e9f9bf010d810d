//! The claims' decision functions (`inorm::experiment::claims`) on constructed results: each claim holds on
//! results built to satisfy it and fails on negative controls built to break it; [`thresholds`] decides each
//! exactly at its thresholds.

/// Each claim at its exact thresholds, without its conditions, and the p's its note quotes.
mod thresholds;

use inorm::experiment::claims::{self, Thresholds};
use inorm::model::{GradNorm, Hyper, NetSpec, Preset};
use inorm::train::{FinalMetrics, RunResult, RunStatus, TrainConfig};

pub(crate) fn fake(preset: Preset, eps: f64, config: usize, acc: f64) -> RunResult {
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
        data: None,
    }
}

/// A per-config spread (the configs differ a lot; the conditions differ by a shift).
fn spread(config: usize) -> f64 {
    [0.0, 1.3, -0.7, 2.1, -1.9, 0.4, -0.2, 1.7, -1.1, 0.9][config % 10]
}

/// Ten configurations at ε ∈ {0, 0.75}: accuracy 88 − 4ε + the configuration's spread + `shift(ε, config)`.
pub(crate) fn runs(preset: Preset, shift: &dyn Fn(f64, usize) -> f64) -> Vec<RunResult> {
    let mut v = Vec::new();
    for eps in [0.0, 0.75] {
        for c in 0..10 {
            let base = 88.0 - 4.0 * eps + spread(c);
            v.push(fake(preset, eps, c, base + shift(eps, c)));
        }
    }
    v
}

pub(crate) fn held(cs: &[claims::ClaimOutcome], id: &str) -> Option<bool> {
    cs.iter().find(|c| c.id == id).unwrap().held
}

#[test]
fn claims_hold_on_results_built_to_satisfy_them_and_fail_otherwise() {
    let t = Thresholds::PAPER;
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
    assert_eq!(claims::c5(&r, t.equiv_margin, t.alpha).held, Some(true));
    let mut r = runs(Preset::EiLn, &|_, _| 0.0);
    r.extend(runs(Preset::ELn, &|_, c| 2.0 + noise(c)));
    assert_eq!(claims::c5(&r, t.equiv_margin, t.alpha).held, Some(false));

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

/// Alternating ±`amp` with distinct magnitudes per configuration: a condition that differs from another only
/// by noise.
fn jitter(amp: f64) -> impl Fn(f64, usize) -> f64 {
    move |_, c| {
        let sign = if c % 2 == 0 { 1.0 } else { -1.0 };
        sign * amp * (1.0 + 0.1 * c as f64)
    }
}

pub(crate) fn with(mut a: Vec<RunResult>, b: Vec<RunResult>) -> Vec<RunResult> {
    a.extend(b);
    a
}

/// Negative controls for C8, C11, C12, C13, C15 and C16 (the claims C4–C7, C9, C10, C14 are above): each
/// holds on results built to satisfy it and fails on results built to break it — including, for every "≈"
/// and "≥" claim, results that differ only by large noise, which the old "not significant" rule accepted.
#[test]
fn claims_fail_on_constructed_negative_controls() {
    let t = Thresholds::PAPER;
    let (m, a) = (t.equiv_margin, t.alpha);
    let gn = Preset::INormGn;
    let small = jitter(0.02);
    let noisy = jitter(3.0);

    // C8: E LN+ ahead of I-Norm at every ε, gap growing.
    let ln = || runs(Preset::ELn, &|_, _| 0.0);
    let held = |r: &[RunResult]| claims::c8(r, t.c8_min_gap, a).held;
    assert_eq!(
        held(&with(
            ln(),
            runs(Preset::INorm, &|e, c| -1.0 - 4.0 * e - small(e, c))
        )),
        Some(true)
    );
    // Gap not growing with ε.
    assert_eq!(
        held(&with(
            ln(),
            runs(Preset::INorm, &|e, c| -3.0 + 2.0 * e + small(e, c))
        )),
        Some(false)
    );
    // I-Norm ahead at ε = 0.
    assert_eq!(
        held(&with(
            ln(),
            runs(Preset::INorm, &|e, c| 1.0 - 6.0 * e + small(e, c))
        )),
        Some(false)
    );
    // Noise only.
    assert_eq!(held(&with(ln(), runs(Preset::INorm, &noisy))), Some(false));

    // C11: GN full non-inferior to E LN+ (margin 0.3) and ahead of I-Norm.
    let base = || {
        with(
            runs(Preset::ELn, &|_, _| 0.0),
            runs(Preset::INorm, &|e, _| -2.0 - 3.0 * e),
        )
    };
    let held = |full: Vec<RunResult>| claims::c11(&with(base(), full), t.c11_max_deficit, a).held;
    assert_eq!(held(runs(gn(GradNorm::Full), &small)), Some(true));
    assert_eq!(
        held(runs(gn(GradNorm::Full), &|e, c| -0.5 + small(e, c))),
        Some(false)
    );
    // Trailing by 0.2 on median but with ±3 noise: not shown non-inferior (the old rule passed this).
    assert_eq!(
        held(runs(gn(GradNorm::Full), &|e, c| -0.2 + noisy(e, c))),
        Some(false)
    );

    // C12: GN center ≈ E LN+, above scale and decorrelate.
    let others = || {
        with(
            runs(gn(GradNorm::Scale), &|_, _| -3.0),
            runs(gn(GradNorm::Decorrelate), &|_, _| -1.5),
        )
    };
    let held = |center: Vec<RunResult>| claims::c12(&with(with(ln(), others()), center), m, a).held;
    assert_eq!(held(runs(gn(GradNorm::Center), &small)), Some(true));
    assert_eq!(held(runs(gn(GradNorm::Center), &noisy)), Some(false));
    assert_eq!(held(runs(gn(GradNorm::Center), &|_, _| -2.0)), Some(false));
    assert_eq!(held(runs(gn(GradNorm::Center), &|_, _| -1.0)), Some(false));

    // C13: gradient alignment center > decorrelate, center > scale (pooled).
    let align = |p: Preset, v: f64| {
        let mut r = runs(p, &|_, _| 0.0);
        for (i, x) in r.iter_mut().enumerate() {
            x.final_metrics.gradient_alignment = v + 0.001 * i as f64;
        }
        r
    };
    let held = |c: f64| {
        let r = with(
            with(
                align(gn(GradNorm::Center), c),
                align(gn(GradNorm::Decorrelate), 0.27),
            ),
            align(gn(GradNorm::Scale), 0.17),
        );
        claims::c13(&r, a).held
    };
    assert_eq!(held(0.42), Some(true));
    assert_eq!(held(0.2), Some(false));
    assert_eq!(held(0.27), Some(false));

    // C15: GN lateral ≈ GN center ≈ E LN+.
    let held = |lat: Vec<RunResult>| {
        claims::c15(
            &with(with(ln(), runs(gn(GradNorm::Center), &small)), lat),
            m,
            a,
        )
        .held
    };
    assert_eq!(held(runs(gn(GradNorm::Lateral), &jitter(0.03))), Some(true));
    assert_eq!(held(runs(gn(GradNorm::Lateral), &noisy)), Some(false));
    assert_eq!(held(runs(gn(GradNorm::Lateral), &|_, _| 0.8)), Some(false));

    // C16: I-Norm not better than EI LN− (non-superiority within the margin).
    let held =
        |inorm: Vec<RunResult>| claims::c16(&with(runs(Preset::Ei, &|_, _| 0.0), inorm), m, a).held;
    assert_eq!(held(runs(Preset::INorm, &small)), Some(true));
    assert_eq!(held(runs(Preset::INorm, &|_, _| -1.0)), Some(true));
    assert_eq!(
        held(runs(Preset::INorm, &|e, c| 2.0 + small(e, c))),
        Some(false)
    );
    // Noise alone no longer passes: "not significantly better" is not "not better".
    assert_eq!(held(runs(Preset::INorm, &noisy)), Some(false));

    // C5 likewise: noise alone is not equivalence.
    let r = with(runs(Preset::EiLn, &|_, _| 0.0), runs(Preset::ELn, &noisy));
    assert_eq!(claims::c5(&r, m, a).held, Some(false));
}
