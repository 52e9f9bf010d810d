//! Each claim's decision at its exact thresholds (the boundary cases mutation testing of
//! src/experiment/claims/ asked for: a changed comparison or operator that no other test noticed), a claim
//! without its conditions, and the p-values the claim notes quote.

use inorm::experiment::claims::{self, Thresholds};
use inorm::model::{GradNorm, Preset};
use inorm::train::RunResult;

use super::{fake, runs, with};

/// One run per configuration of `preset` at `eps`, accuracy `acc[c]` (exact binary fractions where a test
/// needs exact ties).
fn at(preset: Preset, eps: f64, acc: &[f64]) -> Vec<RunResult> {
    acc.iter()
        .enumerate()
        .map(|(c, &a)| fake(preset, eps, c, a))
        .collect()
}

/// Runs with the given hidden moments (μ̄, v̄) at `eps`.
fn moments(preset: Preset, eps: f64, m: &[(f64, f64)]) -> Vec<RunResult> {
    let mut r = at(preset, eps, &vec![80.0; m.len()]);
    for (x, &(mean, var)) in r.iter_mut().zip(m) {
        x.final_metrics.mean = mean;
        x.final_metrics.var = var;
    }
    r
}

/// C4 and C6 at their boundaries: each comparison is strict where the claim says so, pairs are matched by
/// configuration, and a third ε level is judged too.
#[test]
fn claims_c4_and_c6_decide_exactly_at_their_thresholds() {
    let t = Thresholds::PAPER;
    let base: Vec<f64> = (0..10).map(|c| 80.0 + c as f64).collect();
    let plus = |d: &dyn Fn(usize) -> f64| -> Vec<f64> {
        base.iter().enumerate().map(|(c, b)| b + d(c)).collect()
    };
    let ei = || with(at(Preset::Ei, 0.0, &base), at(Preset::Ei, 0.75, &base));
    let c4 = |gain0: f64, gain75: f64| {
        let q = |c: usize| 0.25 * (c % 3) as f64;
        let r = with(
            ei(),
            with(
                at(Preset::EiLn, 0.0, &plus(&|c| gain0 + q(c))),
                at(Preset::EiLn, 0.75, &plus(&|c| gain75 + q(c))),
            ),
        );
        claims::c4(&r, t.c4_min_gain, t.alpha)
    };
    // A significant gain at ε = 0.75 is not enough: it must exceed the gain at ε = 0 ...
    let grow = c4(2.0, 3.0);
    assert_eq!(grow.held, Some(true), "{grow:?}");
    assert_eq!(c4(4.0, 3.0).held, Some(false));
    // ... strictly: the same gain at both ε (exactly equal medians) is no growth.
    let flat = c4(2.0, 2.0);
    assert_eq!(flat.details[0].effect, flat.details[1].effect);
    assert_eq!(flat.held, Some(false), "{flat:?}");

    // C6 pairs the runs of one condition across ε by configuration: differences with mixed signs give the
    // exact two-sided signed-rank p of exactly those differences.
    let d = [-3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.25, -4.0, -5.0, -6.0];
    let r = with(
        at(Preset::ELn, 0.0, &base),
        at(Preset::ELn, 0.75, &plus(&|c| d[c])),
    );
    let c6 = claims::c6(&r, 0.0);
    assert_eq!(c6.held, Some(true));
    let want = inorm::stats::signed_rank_exact(&d).unwrap().p_two_sided;
    let x = &c6.details[0];
    assert_eq!((x.pairs, x.n_a, x.n_b), (10, 10, 10));
    assert!(
        (x.p_wilcoxon - want).abs() < 1e-12,
        "{} vs {want}",
        x.p_wilcoxon
    );
    // A median that stays exactly level is within slack 0 ("may rise by at most the slack").
    let mut shuffled = base.clone();
    shuffled.rotate_left(3);
    let level = with(
        at(Preset::ELn, 0.0, &base),
        at(Preset::ELn, 0.75, &shuffled),
    );
    let c6 = claims::c6(&level, 0.0);
    assert_eq!(c6.details[0].effect, 0.0);
    assert_eq!(c6.held, Some(true), "{c6:?}");
    // Three ε levels: every step is judged, so a rise between the 2nd and 3rd fails the claim.
    let three = |last: f64| {
        with(
            with(
                at(Preset::ELn, 0.0, &base),
                at(Preset::ELn, 0.5, &plus(&|_| -2.0)),
            ),
            at(Preset::ELn, 0.75, &plus(&|_| last)),
        )
    };
    let falls = claims::c6(&three(-3.0), 0.0);
    assert_eq!((falls.held, falls.details.len()), (Some(true), 2));
    assert_eq!(claims::c6(&three(-1.0), 0.0).held, Some(false));
}

/// C7 at its boundaries: the moments are taken at ε ≤ 0.5 only and from finite values only; "on target"
/// (< tol) and "off target" (> 2·tol, in μ̄ or in v̄) are strict; both conditions are needed.
#[test]
fn claim_c7_decides_exactly_at_its_thresholds() {
    let tol = 0.125; // exact in binary, so the boundary cases below are exact
    let on = || moments(Preset::INorm, 0.0, &[(0.0, 1.0); 5]);
    let off = |m: f64, v: f64| moments(Preset::Ei, 0.0, &[(m, v); 5]);
    let c7 = |r: &[RunResult]| claims::c7(r, tol);
    let held = |r: &[RunResult]| c7(r).held;

    let x = c7(&with(on(), off(0.0, 1.5)));
    assert_eq!(x.held, Some(true), "{x:?}");
    assert_eq!(x.n, (5, 5));
    // The headline effect is I-Norm's median v̄ − 1 minus EI LN−'s: 0 − 0.5.
    assert_eq!(x.effect, -0.5);
    assert_eq!(x.details[1].effect, 0.0);
    // Off target by the mean alone, at the boundary and past it.
    assert_eq!(held(&with(on(), off(0.5, 1.0))), Some(true));
    assert_eq!(held(&with(on(), off(0.25, 1.0))), Some(false));
    assert_eq!(held(&with(on(), off(-0.25, 1.0))), Some(false));
    // EI LN− on target in both moments: not off target.
    assert_eq!(held(&with(on(), off(0.0, 1.0))), Some(false));
    // Off by the variance alone: exactly 2·tol is not off target.
    assert_eq!(held(&with(on(), off(0.0, 1.25))), Some(false));
    assert_eq!(held(&with(on(), off(0.0, 0.5))), Some(true));
    // I-Norm exactly at tol in either moment is not on target.
    let inorm_at = |m: f64, v: f64| moments(Preset::INorm, 0.0, &[(m, v); 5]);
    for (m, v, want) in [
        (0.125, 1.0, false),
        (0.0, 1.125, false),
        (0.0, 0.875, false),
        (0.0625, 1.0625, true),
    ] {
        let r = with(inorm_at(m, v), off(0.0, 1.5));
        assert_eq!(held(&r), Some(want), "I-Norm μ̄ = {m}, v̄ = {v}");
    }
    // Only ε ≤ 0.5 counts: I-Norm off target at ε = 0.75 does not matter, at ε = 0.5 it does.
    let mut r = with(on(), off(0.0, 1.5));
    r.extend(moments(Preset::INorm, 0.75, &[(3.0, 9.0); 11]));
    let x = c7(&r);
    assert_eq!((x.held, x.n), (Some(true), (5, 5)));
    r.extend(moments(Preset::INorm, 0.5, &[(3.0, 9.0); 11]));
    assert_eq!(c7(&r).held, Some(false));
    // Runs whose moments are not finite (e.g. diverged) are left out, whichever moment it is.
    let mut r = with(on(), off(0.0, 1.5));
    r.extend(moments(Preset::INorm, 0.0, &[(0.0, f64::NAN); 7]));
    r.extend(moments(Preset::INorm, 0.0, &[(f64::INFINITY, 1.0); 7]));
    let x = c7(&r);
    assert_eq!((x.held, x.n), (Some(true), (5, 5)), "{x:?}");
    // Either condition missing: no verdict.
    assert_eq!(held(&on()), None);
    assert_eq!(held(&off(0.0, 1.5)), None);
}

/// C8 at its boundaries: the gap must grow strictly with ε; with one ε level there is nothing to grow and
/// the ordering alone decides.
#[test]
fn claim_c8_decides_exactly_at_its_thresholds() {
    let t = Thresholds::PAPER;
    let base: Vec<f64> = (0..10).map(|c| 80.0 + c as f64).collect();
    let minus = |g: f64| -> Vec<f64> {
        base.iter()
            .enumerate()
            .map(|(c, b)| b - g - 0.25 * (c % 3) as f64)
            .collect()
    };
    let c8 = |gaps: &[(f64, f64)]| {
        let mut r = Vec::new();
        for &(eps, g) in gaps {
            r.extend(at(Preset::ELn, eps, &base));
            r.extend(at(Preset::INorm, eps, &minus(g)));
        }
        claims::c8(&r, t.c8_min_gap, t.alpha)
    };
    assert_eq!(c8(&[(0.0, 1.0), (0.75, 2.0)]).held, Some(true));
    // Equal gaps (exactly equal medians of the differences) do not grow.
    let flat = c8(&[(0.0, 2.0), (0.75, 2.0)]);
    assert_eq!(flat.details[0].effect, flat.details[1].effect);
    assert_eq!(flat.held, Some(false), "{flat:?}");
    // One ε: the ordering decides.
    let one = c8(&[(0.75, 2.0)]);
    assert_eq!((one.held, one.details.len()), (Some(true), 1), "{one:?}");
    // Three ε levels: largest against smallest.
    assert_eq!(c8(&[(0.0, 1.0), (0.5, 3.0), (0.75, 2.0)]).held, Some(true));
    assert_eq!(c8(&[(0.0, 2.5), (0.5, 3.0), (0.75, 2.0)]).held, Some(false));
}

/// Runs of `preset` at ε = 0.75 with the given (output, gradient) alignments.
fn aligned(preset: Preset, al: &[(f64, f64)]) -> Vec<RunResult> {
    let mut r = at(preset, 0.75, &vec![80.0; al.len()]);
    for (x, &(o, g)) in r.iter_mut().zip(al) {
        x.final_metrics.output_alignment = o;
        x.final_metrics.gradient_alignment = g;
    }
    r
}

/// C9 and C10 at their boundaries (thresholds exact in binary): both alignments must pass, strictly; runs
/// without a finite gradient alignment give no verdict rather than a failed one.
#[test]
fn claims_c9_and_c10_decide_exactly_at_their_thresholds() {
    let c9 = |o: f64, g: f64| claims::c9(&aligned(Preset::INorm, &[(o, g); 5]), 0.75, 0.375).held;
    assert_eq!(c9(0.875, 0.25), Some(true));
    assert_eq!(c9(0.75, 0.25), Some(false));
    assert_eq!(c9(0.875, 0.375), Some(false));
    assert_eq!(c9(0.5, 0.25), Some(false));
    assert_eq!(c9(0.875, 0.5), Some(false));
    // Diagnostics missing in one alignment (NaN): no verdict.
    assert_eq!(c9(0.875, f64::NAN), None);
    assert_eq!(c9(f64::NAN, 0.25), None);

    let full = Preset::INormGn(GradNorm::Full);
    let c10 = |o: f64, g: f64| claims::c10(&aligned(full, &[(o, g); 5]), 0.75, 0.875).held;
    assert_eq!(c10(0.875, 0.9375), Some(true));
    assert_eq!(c10(0.75, 0.9375), Some(false));
    assert_eq!(c10(0.875, 0.875), Some(false));
    assert_eq!(c10(0.5, 0.9375), Some(false));
    assert_eq!(c10(0.875, 0.5), Some(false));
}

/// C12–C15 at their boundaries: a missing condition gives no verdict; "above" is strict; C13's p must be
/// below α, not equal to it; C14 counts a run at exactly chance + 1 point as at chance.
#[test]
fn claims_c12_to_c15_decide_exactly_at_their_thresholds() {
    let t = Thresholds::PAPER;
    let (m, a) = (t.equiv_margin, t.alpha);
    let gn = Preset::INormGn;
    let base: Vec<f64> = (0..10).map(|c| 80.0 + c as f64).collect();
    let both = |p: Preset, d: f64| {
        let acc: Vec<f64> = base.iter().map(|b| b + d).collect();
        with(at(p, 0.0, &acc), at(p, 0.75, &acc))
    };
    let tiny = |p: Preset| {
        let acc: Vec<f64> = (0..10)
            .map(|c| base[c] + if c % 2 == 0 { 0.0625 } else { -0.0625 })
            .collect();
        with(at(p, 0.0, &acc), at(p, 0.75, &acc))
    };

    // C12.
    let c12 = |parts: Vec<Vec<RunResult>>| claims::c12(&parts.concat(), m, a).held;
    let (ln, center) = (|| both(Preset::ELn, 0.0), || tiny(gn(GradNorm::Center)));
    let scale = |d: f64| both(gn(GradNorm::Scale), d);
    let decor = |d: f64| both(gn(GradNorm::Decorrelate), d);
    assert_eq!(
        c12(vec![ln(), center(), scale(-2.0), decor(-1.0)]),
        Some(true)
    );
    // Center level with scale (median difference exactly 0) is not above it; likewise decorrelate.
    assert_eq!(
        c12(vec![ln(), center(), scale(0.0), decor(-1.0)]),
        Some(false)
    );
    assert_eq!(
        c12(vec![ln(), center(), scale(-2.0), decor(0.0)]),
        Some(false)
    );
    // Any of the four conditions missing: no verdict.
    assert_eq!(c12(vec![ln(), center(), scale(-2.0)]), None);
    assert_eq!(c12(vec![ln(), center(), decor(-1.0)]), None);
    assert_eq!(c12(vec![center(), scale(-2.0), decor(-1.0)]), None);

    // C15.
    let lateral = || tiny(gn(GradNorm::Lateral));
    let c15 = |parts: Vec<Vec<RunResult>>| claims::c15(&parts.concat(), m, a).held;
    assert_eq!(c15(vec![ln(), center(), lateral()]), Some(true));
    assert_eq!(c15(vec![ln(), lateral()]), None);
    assert_eq!(c15(vec![center(), lateral()]), None);

    // C13: the verdict needs p < α strictly (α set to the p the data give) and an effect > 0 strictly.
    let align = |p: Preset, v: f64| {
        let mut r = both(p, 0.0);
        for (i, x) in r.iter_mut().enumerate() {
            x.final_metrics.gradient_alignment = v + 0.0078125 * i as f64;
        }
        r
    };
    let r = [
        align(gn(GradNorm::Center), 0.5),
        align(gn(GradNorm::Decorrelate), 0.375),
        align(gn(GradNorm::Scale), 0.25),
    ]
    .concat();
    let x = claims::c13(&r, 1.0);
    assert_eq!(x.held, Some(true));
    let p = x.details.iter().map(|d| d.p_mw).fold(0.0, f64::max);
    assert!(p > 0.0 && p < 0.05, "{x:?}");
    assert_eq!(claims::c13(&r, p).held, Some(false));
    assert_eq!(claims::c13(&r, p * (1.0 + 1e-9)).held, Some(true));
    // Center equal to decorrelate in 19 of 20 pairs and ahead in one: the median paired difference is
    // exactly 0 while Mann–Whitney's p is below 1 (α = 1 here), so only the strict "effect > 0" fails it.
    let mut center = align(gn(GradNorm::Center), 0.375);
    center[3].final_metrics.gradient_alignment += 0.5;
    let level = [
        center,
        align(gn(GradNorm::Decorrelate), 0.375),
        align(gn(GradNorm::Scale), 0.25),
    ]
    .concat();
    let x = claims::c13(&level, 1.0);
    assert_eq!(x.details[0].effect, 0.0);
    assert!(
        x.details[0].p_mw < 1.0 && x.details[1].effect > 0.0,
        "{x:?}"
    );
    assert_eq!(x.held, Some(false), "{x:?}");

    // C14: chance is 10 %; "at chance" is ≤ 11 %.
    let c14 = |accs: &[f64]| {
        let mut r = at(gn(GradNorm::Scale), 0.75, accs);
        r.extend(at(gn(GradNorm::Scale), 0.25, &[10.0; 10]));
        claims::c14(&r, 0.5)
    };
    let x = c14(&[11.0, 10.5, 80.0, 81.0]);
    assert_eq!((x.held, x.effect, x.n), (Some(true), 0.5, (4, 0)));
    let x = c14(&[11.25, 10.5, 80.0, 81.0]);
    assert_eq!((x.held, x.effect), (Some(false), 0.25));
}

#[test]
fn claim_c11_without_i_norm_runs_has_no_verdict_but_reports_its_ln_half() {
    // The paper-scale targeted set has GN full and E LN+ but no I-Norm: the claim as a whole is undecided,
    // and the note says how the non-inferiority half came out (true here, false with a 1-point deficit).
    let t = Thresholds::PAPER;
    let full = Preset::INormGn(GradNorm::Full);
    let alt = |_: f64, c: usize| if c % 2 == 0 { 0.05 } else { -0.05 };
    let mut r = runs(Preset::ELn, &|_, _| 0.0);
    r.extend(runs(full, &alt));
    let c = claims::c11(&r, t.c11_max_deficit, t.alpha);
    assert_eq!(c.held, None, "{c:?}");
    assert!(
        c.note
            .contains("of the half that has data: non-inferior to E LN+")
            && c.note.contains("at every ε: true"),
        "{}",
        c.note
    );
    let mut r = runs(Preset::ELn, &|_, _| 0.0);
    r.extend(runs(full, &|e, c| alt(e, c) - 1.0));
    let c = claims::c11(&r, t.c11_max_deficit, t.alpha);
    assert_eq!(c.held, None);
    assert!(c.note.contains("at every ε: false"), "{}", c.note);
    // Without E LN+ nothing can be read.
    let c = claims::c11(&runs(full, &alt), t.c11_max_deficit, t.alpha);
    assert!(!c.note.contains("half"), "{}", c.note);
}

/// The notes of the "≈" claims quote the p of every equivalence test they are decided by (C12: GN center
/// against E LN+ per ε; C15: GN lateral against E LN+ and against GN center per ε), as C11 quotes its
/// non-inferiority p's: paper/claims.md's paper-scale column cites these numbers.
#[test]
fn claim_notes_quote_the_p_of_each_test_they_decide_by() {
    use inorm::experiment::common::fmt_p;
    let t = Thresholds::PAPER;
    let (m, a) = (t.equiv_margin, t.alpha);
    let gn = Preset::INormGn;
    // Distinct differences per ε, so that each TOST p differs and the order shows.
    let shifted = |p: Preset, d: f64, k: usize| {
        runs(p, &move |e, c| {
            d * (1.0 + e) + 0.08 * (((c * k + (e * 4.0) as usize) % 10) as f64 - 4.5)
        })
    };
    let r: Vec<RunResult> = [
        shifted(Preset::ELn, 0.0, 1),
        shifted(gn(GradNorm::Center), 0.1, 3),
        shifted(gn(GradNorm::Scale), -2.0, 1),
        shifted(gn(GradNorm::Decorrelate), -1.0, 1),
        shifted(gn(GradNorm::Lateral), 0.2, 7),
    ]
    .concat();
    let tost = |x: Preset, y: Preset| -> Vec<String> {
        claims::eps_levels(&r, x)
            .into_iter()
            .map(|e| {
                fmt_p(claims::compare(&r, x, y, Some(e), &|r| r.final_metrics.test_acc).p_tost(m))
            })
            .collect()
    };
    let center_ln = tost(gn(GradNorm::Center), Preset::ELn);
    let lateral_ln = tost(gn(GradNorm::Lateral), Preset::ELn);
    let lateral_center = tost(gn(GradNorm::Lateral), gn(GradNorm::Center));
    assert_eq!(center_ln.len(), 2);
    // The p's differ between the ε's and between the comparisons, so a note that quotes them in the
    // wrong order or from the wrong comparison fails below.
    for l in [&center_ln, &lateral_ln, &lateral_center] {
        assert_ne!(l[0], l[1], "{l:?}");
    }
    assert!(center_ln != lateral_ln && lateral_ln != lateral_center);
    let c12 = claims::c12(&r, m, a);
    assert!(
        c12.note
            .contains(&format!("(p = {})", center_ln.join(", "))),
        "{} / {center_ln:?}",
        c12.note
    );
    let c15 = claims::c15(&r, m, a);
    assert!(
        c15.note.contains(&format!(
            "(p = {} against E LN+; {} against GN center)",
            lateral_ln.join(", "),
            lateral_center.join(", ")
        )),
        "{} / {lateral_ln:?} {lateral_center:?}",
        c15.note
    );
}
