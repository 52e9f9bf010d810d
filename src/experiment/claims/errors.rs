//! Claims on normalizing the back-propagated errors (paper/model.md §10.1): C9–C15, on the alignments and
//! accuracies of I-Norm networks with and without the GradNorm variants.

use super::{
    compare, eps_levels, gn, missing, outcome, per_eps, ps, ClaimOutcome, Comparison, ACC,
};
use crate::experiment::common::at_chance;
use crate::experiment::compare::values;
use crate::model::{GradNorm, Preset};
use crate::stats::{mann_whitney, median};
use crate::train::RunResult;

fn out_al(r: &RunResult) -> f64 {
    r.final_metrics.output_alignment
}
fn grad_al(r: &RunResult) -> f64 {
    r.final_metrics.gradient_alignment
}

fn alignment_claim(
    results: &[RunResult],
    p: Preset,
    check: &dyn Fn(f64, f64) -> bool,
) -> (Vec<Comparison>, Option<bool>, f64, f64, f64) {
    let e = eps_levels(results, p);
    let Some(&hi) = e.last() else {
        return (Vec::new(), None, f64::NAN, f64::NAN, f64::NAN);
    };
    let o: Vec<f64> = values(results, p, Some(hi), &out_al)
        .into_values()
        .collect();
    let g: Vec<f64> = values(results, p, Some(hi), &grad_al)
        .into_values()
        .collect();
    if o.is_empty() || g.is_empty() {
        return (Vec::new(), None, hi, f64::NAN, f64::NAN);
    }
    let mw = mann_whitney(&o, &g).ok();
    let c = Comparison {
        label: format!("{}: output vs gradient alignment @ ε={hi}", p.label()),
        eps: Some(hi),
        n_a: o.len(),
        n_b: g.len(),
        median_a: median(&o),
        median_b: median(&g),
        effect: median(&o) - median(&g),
        pairs: 0,
        u: mw.as_ref().map_or(f64::NAN, |m| m.u),
        p_mw: mw.as_ref().map_or(f64::NAN, |m| m.p_two_sided),
        p_wilcoxon: f64::NAN,
        diffs: Vec::new(),
    };
    let held = check(median(&o), median(&g));
    (vec![c], Some(held), hi, median(&o), median(&g))
}

/// C9 (Fig 4b): I-Norm without GN at the largest ε: median output alignment > `output_min` and median
/// gradient alignment < `gradient_max`. Effect = output − gradient alignment.
pub fn c9(results: &[RunResult], output_min: f64, gradient_max: f64) -> ClaimOutcome {
    let p = Preset::INorm;
    let (d, held, hi, o, g) =
        alignment_claim(results, p, &|o, g| o > output_min && g < gradient_max);
    let note = if held.is_none() {
        "not enough data: needs I-Norm runs with diagnostics".into()
    } else {
        format!("ε={hi}: output {o:.3} (> {output_min}), gradient {g:.3} (< {gradient_max})")
    };
    outcome(
        "C9",
        "Fig 4b",
        "I-Norm without GN: output alignment high (> 0.7), gradient alignment low (< 0.4)",
        &[p],
        "alignment",
        d,
        0,
        held,
        note,
    )
}

/// C10 (Fig 5b): I-Norm + GN full at the largest ε: median gradient alignment > `gradient_min` and
/// output alignment > `output_min`.
pub fn c10(results: &[RunResult], output_min: f64, gradient_min: f64) -> ClaimOutcome {
    let p = gn(GradNorm::Full);
    let (d, held, hi, o, g) =
        alignment_claim(results, p, &|o, g| o > output_min && g > gradient_min);
    let note = if held.is_none() {
        "not enough data: needs I-Norm + GN full runs with diagnostics".into()
    } else {
        format!("ε={hi}: output {o:.4} (> {output_min}), gradient {g:.4} (> {gradient_min})")
    };
    outcome(
        "C10",
        "Fig 5b",
        "I-Norm + GN full: gradient alignment > 0.95 and output alignment > 0.99",
        &[p],
        "alignment",
        d,
        0,
        held,
        note,
    )
}

/// C11 (Fig 5c): GN full is non-inferior to E LN+ at every ε (trails it by less than `max_deficit` points,
/// shown by a one-sided exact signed-rank test at `alpha`); and GN full > I-Norm (no GN) at every ε
/// (significant at `alpha`).
pub fn c11(results: &[RunResult], max_deficit: f64, alpha: f64) -> ClaimOutcome {
    let f = gn(GradNorm::Full);
    let vs_ln = per_eps(results, f, Preset::ELn);
    let vs_in = per_eps(results, f, Preset::INorm);
    let ln_part = |ok: bool| {
        format!(
            "non-inferior to E LN+ (margin {max_deficit}, p < {alpha}) at every ε: {ok} (p = {})",
            ps(&vs_ln, |c| c.p_non_inferior(max_deficit))
        )
    };
    let ok_ln = vs_ln.iter().all(|c| c.non_inferior(max_deficit, alpha));
    let (held, note) = if vs_ln.is_empty() || vs_in.is_empty() {
        let mut note = missing(&[f, Preset::ELn, Preset::INorm]);
        if !vs_ln.is_empty() {
            // Half the claim can still be read (e.g. a sweep without I-Norm runs): say how it came out.
            note = format!("{note}; of the half that has data: {}", ln_part(ok_ln));
        }
        (None, note)
    } else {
        let ok_in = vs_in.iter().all(|c| c.better(0.0, alpha));
        (
            Some(ok_ln && ok_in),
            format!("{}; > I-Norm at every ε: {ok_in}", ln_part(ok_ln)),
        )
    };
    let h = vs_ln.len().saturating_sub(1);
    let mut d = vs_ln;
    d.extend(vs_in);
    outcome(
        "C11",
        "Fig 5c",
        "I-Norm + GN full ≥ E LN+ (paired diff ≥ −0.3) and > I-Norm (no GN) at every ε",
        &[f, Preset::ELn, Preset::INorm],
        ACC,
        d,
        h,
        held,
        note,
    )
}

/// C12 (Fig 6a): GN center ≈ E LN+ at every ε (equivalent within ±`margin`, TOST at `alpha`), and GN
/// center > GN scale, GN center > GN decorrelate at every ε (median difference > 0).
pub fn c12(results: &[RunResult], margin: f64, alpha: f64) -> ClaimOutcome {
    let c = gn(GradNorm::Center);
    let vs_ln = per_eps(results, c, Preset::ELn);
    let vs_s = per_eps(results, c, gn(GradNorm::Scale));
    let vs_d = per_eps(results, c, gn(GradNorm::Decorrelate));
    let (held, note) = if vs_ln.is_empty() || vs_s.is_empty() || vs_d.is_empty() {
        (
            None,
            missing(&[
                c,
                Preset::ELn,
                gn(GradNorm::Scale),
                gn(GradNorm::Decorrelate),
            ]),
        )
    } else {
        let same = vs_ln.iter().all(|x| x.equivalent(margin, alpha));
        let above = vs_s.iter().chain(&vs_d).all(|x| x.effect > 0.0);
        (
            Some(same && above),
            format!(
                "≈ E LN+ at every ε (TOST within ±{margin}, p < {alpha}): {same} (p = {}); > scale and > \
                 decorrelate at every ε: {above}",
                ps(&vs_ln, |x| x.p_tost(margin))
            ),
        )
    };
    let h = vs_ln.len().saturating_sub(1);
    let mut d = vs_ln;
    d.extend(vs_s);
    d.extend(vs_d);
    outcome(
        "C12",
        "Fig 6a",
        "GN center ≈ E LN+; GN center > GN scale and > GN decorrelate at every ε",
        &[
            c,
            Preset::ELn,
            gn(GradNorm::Scale),
            gn(GradNorm::Decorrelate),
        ],
        ACC,
        d,
        h,
        held,
        note,
    )
}

/// C13 (Fig 6b): gradient alignment (pooled over ε) of GN center > GN decorrelate and > GN scale
/// (median difference > 0, Mann–Whitney p < `alpha`).
pub fn c13(results: &[RunResult], alpha: f64) -> ClaimOutcome {
    let c = gn(GradNorm::Center);
    let d: Vec<Comparison> = [GradNorm::Decorrelate, GradNorm::Scale]
        .into_iter()
        .map(|o| compare(results, c, gn(o), None, &grad_al))
        .collect();
    let held = d
        .iter()
        .all(|x| x.has_data())
        .then(|| d.iter().all(|x| x.effect > 0.0 && x.p_mw < alpha));
    let note = if held.is_none() {
        missing(&[c, gn(GradNorm::Decorrelate), gn(GradNorm::Scale)])
    } else {
        format!("median difference > 0 with Mann–Whitney p < {alpha} against both")
    };
    outcome(
        "C13",
        "Fig 6b",
        "gradient alignment: GN center > GN decorrelate and GN center > GN scale",
        &[c, gn(GradNorm::Decorrelate), gn(GradNorm::Scale)],
        "alignment",
        d,
        0,
        held,
        note,
    )
}

/// C14 (Fig 6a): at ε ≥ 0.5 at least `min_fraction` of GN-scale runs end at chance (test accuracy within
/// 1 point of 10 %, or diverged). Effect = the fraction.
pub fn c14(results: &[RunResult], min_fraction: f64) -> ClaimOutcome {
    let p = gn(GradNorm::Scale);
    let rs: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.config.spec.preset == p && r.config.eps >= 0.5)
        .collect();
    let n_chance = rs.iter().filter(|r| at_chance(r)).count();
    let frac = if rs.is_empty() {
        f64::NAN
    } else {
        n_chance as f64 / rs.len() as f64
    };
    let held = (!rs.is_empty()).then_some(frac >= min_fraction);
    let note = if rs.is_empty() {
        format!("{} at ε ≥ 0.5", missing(&[p]))
    } else {
        format!(
            "{n_chance} of {} runs at chance (≤ 11 %) ; needs ≥ {min_fraction}",
            rs.len()
        )
    };
    let mut o = outcome(
        "C14",
        "Fig 6a",
        "GN scale is unstable: a non-trivial fraction of runs ends at chance at ε ≥ 0.5",
        &[p],
        "fraction of runs",
        Vec::new(),
        0,
        held,
        note,
    );
    o.effect = frac;
    o.n = (rs.len(), 0);
    o
}

/// C15 (Fig 7b): GN lateral ≈ GN center and GN lateral ≈ E LN+ at every ε (equivalent within ±`margin`,
/// TOST at `alpha`).
/// (Its second half — lateral vs exact-centering weight-gradient cosine > 0.99 for n ≥ 100 — is a property
/// of Theorem 1, tested in `tests/theorem.rs`.)
pub fn c15(results: &[RunResult], margin: f64, alpha: f64) -> ClaimOutcome {
    let l = gn(GradNorm::Lateral);
    let vs_ln = per_eps(results, l, Preset::ELn);
    let vs_c = per_eps(results, l, gn(GradNorm::Center));
    let (held, note) = if vs_ln.is_empty() || vs_c.is_empty() {
        (None, missing(&[l, gn(GradNorm::Center), Preset::ELn]))
    } else {
        let ok = vs_ln
            .iter()
            .chain(&vs_c)
            .all(|x| x.equivalent(margin, alpha));
        (
            Some(ok),
            format!(
                "equivalent (TOST within ±{margin}, p < {alpha}) to E LN+ and GN center at every ε: {ok} \
                 (p = {} against E LN+; {} against GN center)",
                ps(&vs_ln, |x| x.p_tost(margin)),
                ps(&vs_c, |x| x.p_tost(margin))
            ),
        )
    };
    let h = vs_ln.len().saturating_sub(1);
    let mut d = vs_ln;
    d.extend(vs_c);
    outcome(
        "C15",
        "Fig 7b",
        "GN lateral ≈ GN center ≈ E LN+",
        &[l, gn(GradNorm::Center), Preset::ELn],
        ACC,
        d,
        h,
        held,
        note,
    )
}
