//! Claims on normalizing activity (paper/model.md §10.1): C4–C8 and C16, on the accuracies and hidden
//! moments of EI, LN and I-Norm networks without GradNorm.

use super::{compare, eps_levels, missing, outcome, per_eps, ClaimOutcome, Comparison, ACC};
use crate::experiment::common::fmt_p;
use crate::experiment::compare::{acc, values};
use crate::model::Preset;
use crate::stats::{mann_whitney, median, signed_rank_exact};
use crate::train::RunResult;

/// C4 (Fig 2a): EI LN+ > EI LN− at the largest ε (gain > `min_gain` points, significant at `alpha`), and
/// the gain there exceeds the gain at the smallest ε.
pub fn c4(results: &[RunResult], min_gain: f64, alpha: f64) -> ClaimOutcome {
    let (a, b) = (Preset::EiLn, Preset::Ei);
    let d = per_eps(results, a, b);
    let (held, note) = if d.len() < 2 {
        (None, format!("{} at ≥ 2 ε values", missing(&[a, b])))
    } else {
        let (lo, hi) = (&d[0], &d[d.len() - 1]);
        let ok = hi.better(min_gain, alpha) && hi.effect > lo.effect;
        (
            Some(ok),
            format!(
                "gain at ε={}: {:+.2} (p={}); at ε={}: {:+.2}; needs > {min_gain}, p < {alpha}, and growth",
                hi.eps.unwrap_or(f64::NAN),
                hi.effect,
                fmt_p(hi.p()),
                lo.eps.unwrap_or(f64::NAN),
                lo.effect
            ),
        )
    };
    let h = d.len().saturating_sub(1);
    outcome(
        "C4",
        "Fig 2a",
        "EI LN+ > EI LN− at ε = 0.75, gap larger than at ε = 0",
        &[a, b],
        ACC,
        d,
        h,
        held,
        note,
    )
}

/// C5 (Fig 2b): E LN+ and EI LN+ are equivalent (pooled over ε): the paired differences lie within
/// ±`margin` points, shown by two one-sided exact signed-rank tests at `alpha` (TOST).
pub fn c5(results: &[RunResult], margin: f64, alpha: f64) -> ClaimOutcome {
    let (a, b) = (Preset::EiLn, Preset::ELn);
    let c = compare(results, a, b, None, &acc);
    let held = c.has_data().then(|| c.equivalent(margin, alpha));
    let note = if c.has_data() {
        format!(
            "equivalence within ±{margin}: TOST p = {} (needs < {alpha}; paired runs only)",
            fmt_p(c.p_tost(margin))
        )
    } else {
        missing(&[a, b])
    };
    outcome(
        "C5",
        "Fig 2b",
        "EI LN+ ≈ E LN+ (inhibition ablated): equivalent within the margin",
        &[a, b],
        ACC,
        vec![c],
        0,
        held,
        note,
    )
}

/// C6: every condition's median accuracy decreases with ε (may rise by at most `slack` points).
pub fn c6(results: &[RunResult], slack: f64) -> ClaimOutcome {
    let mut details = Vec::new();
    let mut bad = Vec::new();
    for p in Preset::ALL {
        let e = eps_levels(results, p);
        if e.len() < 2 {
            continue;
        }
        let meds: Vec<f64> = e
            .iter()
            .map(|&x| {
                median(
                    &values(results, p, Some(x), &acc)
                        .into_values()
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        for i in 1..e.len() {
            let mut c = compare(results, p, p, None, &acc);
            c.label = format!("{}: ε={} vs ε={}", p.label(), e[i], e[i - 1]);
            c.eps = Some(e[i]);
            c.median_a = meds[i];
            c.median_b = meds[i - 1];
            c.effect = meds[i] - meds[i - 1];
            let (xa, xb): (Vec<f64>, Vec<f64>) = (
                values(results, p, Some(e[i]), &acc).into_values().collect(),
                values(results, p, Some(e[i - 1]), &acc)
                    .into_values()
                    .collect(),
            );
            let mw = mann_whitney(&xa, &xb).ok();
            c.n_a = xa.len();
            c.n_b = xb.len();
            c.u = mw.as_ref().map_or(f64::NAN, |m| m.u);
            c.p_mw = mw.as_ref().map_or(f64::NAN, |m| m.p_two_sided);
            let ka = values(results, p, Some(e[i]), &acc);
            let kb = values(results, p, Some(e[i - 1]), &acc);
            let (pa, pb): (Vec<f64>, Vec<f64>) = ka
                .iter()
                .filter_map(|((cf, s, _), x)| {
                    kb.iter()
                        .find(|((c2, s2, _), _)| c2 == cf && s2 == s)
                        .map(|(_, y)| (*x, *y))
                })
                .unzip();
            c.pairs = pa.len();
            c.p_wilcoxon = if pa.len() >= 2 {
                let d: Vec<f64> = pa.iter().zip(&pb).map(|(x, y)| x - y).collect();
                signed_rank_exact(&d).map_or(f64::NAN, |w| w.p_two_sided)
            } else {
                f64::NAN
            };
            if c.effect > slack {
                bad.push(c.label.clone());
            }
            details.push(c);
        }
    }
    let held = (!details.is_empty()).then_some(bad.is_empty());
    let note = if details.is_empty() {
        "not enough data: needs some condition at ≥ 2 ε values".into()
    } else if bad.is_empty() {
        format!("every median falls as ε grows (slack {slack})")
    } else {
        format!("rises: {}", bad.join("; "))
    };
    let worst = details
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.effect.total_cmp(&b.1.effect))
        .map_or(0, |x| x.0);
    outcome(
        "C6",
        "Figs 2a, 4a, 5c, 6a",
        "accuracy of every model decreases monotonically with ε",
        &[],
        ACC,
        details,
        worst,
        held,
        note,
    )
}

fn moment_comparison(results: &[RunResult], p: Preset, max_eps: f64) -> (Vec<f64>, Vec<f64>) {
    let rs: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.config.spec.preset == p && r.config.eps <= max_eps)
        .filter(|r| r.final_metrics.mean.is_finite() && r.final_metrics.var.is_finite())
        .collect();
    (
        rs.iter().map(|r| r.final_metrics.mean).collect(),
        rs.iter().map(|r| r.final_metrics.var).collect(),
    )
}

/// C7 (Fig 3b): I-Norm's hidden moments are on target (median |μ̄| < `tol`, |v̄ − 1| < `tol`, ε ≤ 0.5)
/// and EI LN−'s are off target (|μ̄| > 2·`tol` or |v̄ − 1| > 2·`tol`). Effect = I-Norm median v̄ − 1.
pub fn c7(results: &[RunResult], tol: f64) -> ClaimOutcome {
    let (a, b) = (Preset::INorm, Preset::Ei);
    let (ma, va) = moment_comparison(results, a, 0.5);
    let (mb, vb) = moment_comparison(results, b, 0.5);
    let mk = |label: String, x: &[f64], y: &[f64], med_a: f64, med_b: f64| Comparison {
        label,
        eps: None,
        n_a: x.len(),
        n_b: y.len(),
        median_a: med_a,
        median_b: med_b,
        effect: med_a - med_b,
        pairs: 0,
        u: mann_whitney(x, y).map_or(f64::NAN, |m| m.u),
        p_mw: mann_whitney(x, y).map_or(f64::NAN, |m| m.p_two_sided),
        p_wilcoxon: f64::NAN,
        diffs: Vec::new(),
    };
    let d = vec![
        mk(
            "v̄ − 1: I-Norm vs EI LN− (ε ≤ 0.5)".into(),
            &va,
            &vb,
            median(&va) - 1.0,
            median(&vb) - 1.0,
        ),
        mk(
            "μ̄: I-Norm vs EI LN− (ε ≤ 0.5)".into(),
            &ma,
            &mb,
            median(&ma),
            median(&mb),
        ),
    ];
    let (held, note) = if ma.is_empty() || mb.is_empty() {
        (None, format!("{} at ε ≤ 0.5", missing(&[a, b])))
    } else {
        let on = median(&ma).abs() < tol && (median(&va) - 1.0).abs() < tol;
        let off = median(&mb).abs() > 2.0 * tol || (median(&vb) - 1.0).abs() > 2.0 * tol;
        (
            Some(on && off),
            format!(
                "I-Norm μ̄={:.3}, v̄={:.3} (on target: {on}); EI LN− μ̄={:.3}, v̄={:.3} (off target: {off}); tol {tol}",
                median(&ma),
                median(&va),
                median(&mb),
                median(&vb)
            ),
        )
    };
    outcome(
        "C7",
        "Fig 3b",
        "I-Norm reaches the LN moment targets (|μ̄|, |v̄−1| < 0.1); EI LN− does not (> 0.2)",
        &[a, b],
        "moment value",
        d,
        0,
        held,
        note,
    )
}

/// C8 (Fig 4a): I-Norm (no GN) < E LN+ at every ε (paired gap > `min_gap`, significant), the gap growing
/// with ε (largest ε vs smallest). Effect = E LN+ − I-Norm at the largest ε.
pub fn c8(results: &[RunResult], min_gap: f64, alpha: f64) -> ClaimOutcome {
    let (a, b) = (Preset::ELn, Preset::INorm);
    let d = per_eps(results, a, b);
    let (held, note) = if d.is_empty() {
        (None, missing(&[a, b]))
    } else {
        let all = d.iter().all(|c| c.better(min_gap, alpha));
        let grows = d.len() < 2 || d[d.len() - 1].effect > d[0].effect;
        (
            Some(all && grows),
            format!(
                "E LN+ better at every ε: {all}; gap grows with ε: {grows}{}",
                if d.len() < 2 { " (one ε only)" } else { "" }
            ),
        )
    };
    let h = d.len().saturating_sub(1);
    outcome(
        "C8",
        "Fig 4a",
        "I-Norm (no GN) < E LN+ at every ε, gap growing with ε",
        &[a, b],
        ACC,
        d,
        h,
        held,
        note,
    )
}

/// C16 (Figs 2a/4a, weak): I-Norm without GN is not better than EI LN− at the largest ε: non-superiority
/// (I-Norm − EI LN− < `margin` points) shown by a one-sided exact signed-rank test at `alpha`. (A test that
/// only fails when I-Norm is *significantly* better would pass more easily on noisier data.)
pub fn c16(results: &[RunResult], margin: f64, alpha: f64) -> ClaimOutcome {
    let (a, b) = (Preset::INorm, Preset::Ei);
    let d = per_eps(results, a, b);
    let held = d.last().map(|c| c.non_superior(margin, alpha));
    let note = match d.last() {
        None => missing(&[a, b]),
        Some(c) => format!(
            "non-superiority at the largest ε: I-Norm − EI LN− < {margin}, one-sided p = {} (needs < {alpha})",
            fmt_p(c.p_non_superior(margin))
        ),
    };
    let h = d.len().saturating_sub(1);
    outcome(
        "C16",
        "Figs 2a, 4a",
        "I-Norm without GN is not better than EI LN− (normalizing activity alone does not help)",
        &[a, b],
        ACC,
        d,
        h,
        held,
        note,
    )
}
