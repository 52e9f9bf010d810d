//! The paper's printed statistics beside the same statistics of a sweep (paper/model.md §10): the
//! Mann–Whitney tables of Figs 5c, 6a and 7b (every GradNorm variant against E LN+, per ε, 30 runs a
//! side), the medians read off Fig 6a, and the accuracy and alignment ranges read off Figs 2a, 4a, 4b, 5b,
//! 5c, 6a, 6b and 7b. The report prints them side by side, so a reader sees at a glance where a sweep
//! agrees with the paper; the claims (C4–C16, [`super::claims`]) stay the verdicts.
//!
//! The paper's test is two-sided Mann–Whitney (unpaired, normal approximation; paper/model.md §8.4). U grows
//! with n1·n2, so both sides are also printed as the common-language effect U/(n1·n2): the fraction of
//! (variant, E LN+) run pairs where the variant is ahead (½ per tie); 0.5 means no difference.

use std::fmt::Write as _;

use super::common::{at_chance, eps_levels, fmt_num, fmt_p, min_max};
use crate::model::{GradNorm, Preset};
use crate::stats::{mann_whitney, mann_whitney_tie_term, median};
use crate::train::RunResult;

/// Runs per side behind every printed Mann–Whitney statistic (paper/model.md §8.4).
pub const PAPER_N: usize = 30;

/// Significance level at which a sweep's Mann–Whitney test is said to agree with the paper's.
pub const ALPHA: f64 = 0.05;

/// One printed Mann–Whitney statistic: `variant` against E LN+ at `eps`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrintedMw {
    /// The GradNorm variant (with I-Norm).
    pub variant: GradNorm,
    /// ε.
    pub eps: f64,
    /// U of the variant (30 against 30).
    pub u: f64,
    /// Two-sided p.
    pub p: f64,
}

const fn mw(variant: GradNorm, eps: f64, u: f64, p: f64) -> PrintedMw {
    PrintedMw { variant, eps, u, p }
}

/// The Mann–Whitney statistics printed in the authors' Fig 6 and Fig 7 notebooks (paper/model.md §10, Figs
/// 5c, 6a and 7b), ε = 0, 0.25, 0.5, 0.75 for each variant.
pub const PRINTED_MW: [PrintedMw; 20] = [
    mw(GradNorm::Scale, 0.0, 19.0, 1.78e-10),
    mw(GradNorm::Scale, 0.25, 15.0, 1.01e-10),
    mw(GradNorm::Scale, 0.5, 0.0, 1.79e-11),
    mw(GradNorm::Scale, 0.75, 0.0, 1.27e-11),
    mw(GradNorm::Decorrelate, 0.0, 58.5, 7.42e-9),
    mw(GradNorm::Decorrelate, 0.25, 46.0, 2.39e-9),
    mw(GradNorm::Decorrelate, 0.5, 19.5, 1.98e-10),
    mw(GradNorm::Decorrelate, 0.75, 1.0, 3.09e-11),
    mw(GradNorm::Center, 0.0, 376.5, 0.280),
    mw(GradNorm::Center, 0.25, 473.0, 0.739),
    mw(GradNorm::Center, 0.5, 490.5, 0.554),
    mw(GradNorm::Center, 0.75, 474.0, 0.728),
    mw(GradNorm::Full, 0.0, 548.5, 0.147),
    mw(GradNorm::Full, 0.25, 645.0, 0.0040),
    mw(GradNorm::Full, 0.5, 648.0, 0.0035),
    mw(GradNorm::Full, 0.75, 656.5, 0.0023),
    mw(GradNorm::Lateral, 0.0, 400.0, 0.464),
    mw(GradNorm::Lateral, 0.25, 441.5, 0.906),
    mw(GradNorm::Lateral, 0.5, 425.0, 0.717),
    mw(GradNorm::Lateral, 0.75, 415.0, 0.610),
];

/// Medians read off Fig 6a (±0.2 points), ε = 0, 0.25, 0.5, 0.75.
pub const PRINTED_MEDIANS: [(Preset, [f64; 4]); 3] = [
    (Preset::ELn, [88.42, 87.73, 86.90, 85.14]),
    (
        Preset::INormGn(GradNorm::Center),
        [88.23, 87.80, 87.05, 85.10],
    ),
    (
        Preset::INormGn(GradNorm::Full),
        [88.57, 88.12, 87.33, 85.60],
    ),
];

const EPS4: [f64; 4] = [0.0, 0.25, 0.5, 0.75];

/// The printed statistic of `variant` at `eps`, if the paper printed one.
pub fn printed_mw(variant: GradNorm, eps: f64) -> Option<PrintedMw> {
    PRINTED_MW
        .iter()
        .copied()
        .find(|m| m.variant == variant && m.eps == eps)
}

/// The median read off Fig 6a for `preset` at `eps`, if any.
pub fn printed_median(preset: Preset, eps: f64) -> Option<f64> {
    let i = EPS4.iter().position(|e| *e == eps)?;
    PRINTED_MEDIANS
        .iter()
        .find(|(p, _)| *p == preset)
        .map(|(_, m)| m[i])
}

/// Whether a sweep's two-sided Mann–Whitney result agrees with a printed one: both significant at
/// [`ALPHA`] with the same direction (U above or below n1·n2/2), or both not significant.
pub fn agrees(u_frac: f64, p: f64, printed: &PrintedMw) -> bool {
    let paper_frac = printed.u / (PAPER_N * PAPER_N) as f64;
    match (p < ALPHA, printed.p < ALPHA) {
        (true, true) => (u_frac > 0.5) == (paper_frac > 0.5),
        (false, false) => true,
        _ => false,
    }
}

/// One row of the Mann–Whitney table: `variant` against E LN+ at `eps`.
#[derive(Clone, Debug, PartialEq)]
pub struct MwRow {
    /// The variant (I-Norm + GN …).
    pub variant: GradNorm,
    /// ε.
    pub eps: f64,
    /// Runs of the variant and of E LN+.
    pub n: (usize, usize),
    /// Medians of the variant and of E LN+ (final test accuracy, %).
    pub medians: (f64, f64),
    /// Lowest and highest final accuracy of the variant.
    pub range: (f64, f64),
    /// Variant runs at chance (within 1 point of 10 %, or diverged).
    pub at_chance: usize,
    /// Mann–Whitney U of the variant against E LN+, and U/(n1·n2).
    pub u: f64,
    /// See `u`.
    pub u_frac: f64,
    /// Two-sided p.
    pub p: f64,
    /// What the paper printed for this cell.
    pub printed: Option<PrintedMw>,
}

fn accs(results: &[RunResult], preset: Preset, eps: Option<f64>) -> Vec<f64> {
    results
        .iter()
        .filter(|r| r.config.spec.preset == preset && eps.is_none_or(|e| r.config.eps == e))
        .map(|r| r.final_metrics.test_acc)
        .filter(|x| x.is_finite())
        .collect()
}

/// The variants of Figs 5c, 6a and 7b, in the paper's column order.
pub const VARIANTS: [GradNorm; 5] = [
    GradNorm::Scale,
    GradNorm::Decorrelate,
    GradNorm::Center,
    GradNorm::Full,
    GradNorm::Lateral,
];

/// Every (variant, ε) where the results hold runs of the variant and of E LN+ at that ε.
pub fn mw_rows(results: &[RunResult]) -> Vec<MwRow> {
    let ln_eps = eps_levels(results, Preset::ELn);
    let mut rows = Vec::new();
    for g in VARIANTS {
        let p = Preset::INormGn(g);
        for e in eps_levels(results, p)
            .into_iter()
            .filter(|e| ln_eps.contains(e))
        {
            let a = accs(results, p, Some(e));
            let b = accs(results, Preset::ELn, Some(e));
            let Ok(m) = mann_whitney(&a, &b) else {
                continue;
            };
            let chance = results
                .iter()
                .filter(|r| r.config.spec.preset == p && r.config.eps == e)
                .filter(|r| at_chance(r))
                .count();
            rows.push(MwRow {
                variant: g,
                eps: e,
                n: (a.len(), b.len()),
                medians: (median(&a), median(&b)),
                range: min_max(&a),
                at_chance: chance,
                u: m.u,
                u_frac: m.effect,
                p: m.p_two_sided,
                printed: printed_mw(g, e),
            });
        }
    }
    rows
}

/// The paper prints p-values below [`TIE_P_BELOW`] with 3 significant digits (paper/model.md §10), which pins
/// the tie correction of its test closely enough to read the ties off it ([`implied_ties`]).
pub const TIE_P_DIGITS: i32 = 3;

/// Printed p-values at or above this carry 2–3 decimals only, too few to pin the tie correction.
pub const TIE_P_BELOW: f64 = 1e-3;

/// What a printed (U, p) pair says about ties among the 60 runs pooled in its test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImpliedTies {
    /// The printed statistic.
    pub printed: PrintedMw,
    /// `Σ(t³ − t)` over the tie groups of the pooled runs, for p at the low and the high end of its printed
    /// precision (± half a unit of the last digit); the larger p gives the smaller tie term.
    pub tie_term: (f64, f64),
    /// The size t of one tie group with that tie term (t³ − t = Σ), at both ends.
    pub one_group: (f64, f64),
}

/// The real t ≥ 1 with t³ − t = `tie_term` (1 for a tie term ≤ 0).
fn one_group(tie_term: f64) -> f64 {
    let (mut lo, mut hi) = (1.0_f64, 1.0 + tie_term.max(0.0).cbrt());
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid * mid * mid - mid < tie_term {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// For every printed Mann–Whitney statistic with p below [`TIE_P_BELOW`]: the tie term of the pooled
/// 30 + 30 runs that its U and p imply ([`mann_whitney_tie_term`]). Test accuracies on 10,000 images tie only
/// by chance at 0.01 %; a tie term far above what such chance ties give means a group of runs at one
/// identical accuracy, as runs at chance (10.00 %) are, and as the paper's box plots hide.
pub fn implied_ties() -> Vec<ImpliedTies> {
    PRINTED_MW
        .iter()
        .filter(|m| m.p < TIE_P_BELOW)
        .filter_map(|m| {
            let half = 0.5 * 10f64.powi(m.p.log10().floor() as i32 - (TIE_P_DIGITS - 1));
            let at = |p: f64| mann_whitney_tie_term(m.u, PAPER_N, PAPER_N, p).ok();
            let (lo, hi) = (at(m.p + half)?, at(m.p - half)?);
            Some(ImpliedTies {
                printed: *m,
                tie_term: (lo, hi),
                one_group: (one_group(lo), one_group(hi)),
            })
        })
        .collect()
}

/// Which metric a range is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Final test accuracy (%).
    Accuracy,
    /// Output alignment (last step, mean of the hidden layers).
    OutputAlignment,
    /// Gradient alignment (last step, mean of the hidden layers).
    GradientAlignment,
}

impl Metric {
    fn of(self, r: &RunResult) -> f64 {
        let m = &r.final_metrics;
        match self {
            Metric::Accuracy => m.test_acc,
            Metric::OutputAlignment => m.output_alignment,
            Metric::GradientAlignment => m.gradient_alignment,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy %",
            Metric::OutputAlignment => "output alignment",
            Metric::GradientAlignment => "gradient alignment",
        }
    }
}

/// A range read off one of the paper's figures (±0.2 points for accuracies).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrintedRange {
    /// The figure.
    pub figure: &'static str,
    /// The condition.
    pub preset: Preset,
    /// ε (`None`: all ε pooled).
    pub eps: Option<f64>,
    /// The metric.
    pub metric: Metric,
    /// Lowest and highest value in the figure.
    pub lo: f64,
    /// See `lo`.
    pub hi: f64,
}

const fn range(
    figure: &'static str,
    preset: Preset,
    eps: Option<f64>,
    metric: Metric,
    lo: f64,
    hi: f64,
) -> PrintedRange {
    PrintedRange {
        figure,
        preset,
        eps,
        metric,
        lo,
        hi,
    }
}

const ACC: Metric = Metric::Accuracy;
const OUT: Metric = Metric::OutputAlignment;
const GRAD: Metric = Metric::GradientAlignment;
const LATERAL: Preset = Preset::INormGn(GradNorm::Lateral);
const CENTER: Preset = Preset::INormGn(GradNorm::Center);
const FULL: Preset = Preset::INormGn(GradNorm::Full);

/// The ranges of paper/model.md §10, in figure order.
pub const PRINTED_RANGES: [PrintedRange; 22] = [
    range("Fig 2a", Preset::EiLn, Some(0.0), ACC, 85.0, 89.0),
    range("Fig 2a", Preset::Ei, Some(0.0), ACC, 85.0, 89.0),
    range("Fig 2a", Preset::EiLn, Some(0.75), ACC, 81.0, 86.0),
    range("Fig 2a", Preset::Ei, Some(0.75), ACC, 78.0, 84.0),
    range("Fig 4a", Preset::ELn, Some(0.0), ACC, 87.4, 89.0),
    range("Fig 4a", Preset::INorm, Some(0.0), ACC, 83.0, 88.0),
    range("Fig 4a", Preset::ELn, Some(0.75), ACC, 83.5, 86.0),
    range("Fig 4a", Preset::INorm, Some(0.75), ACC, 78.0, 83.0),
    range("Fig 4b", Preset::INorm, Some(0.75), OUT, 0.71, 0.97),
    range("Fig 4b", Preset::INorm, Some(0.75), GRAD, 0.08, 0.32),
    range("Fig 5b", FULL, Some(0.75), OUT, 0.994, 1.000),
    range("Fig 5b", FULL, Some(0.75), GRAD, 0.962, 0.999),
    range("Fig 5c", Preset::ELn, Some(0.75), ACC, 83.5, 85.8),
    range("Fig 5c", FULL, Some(0.75), ACC, 83.9, 86.3),
    range(
        "Fig 6a",
        Preset::INormGn(GradNorm::Decorrelate),
        Some(0.75),
        ACC,
        77.0,
        83.0,
    ),
    range("Fig 6b", CENTER, None, GRAD, 0.33, 0.56),
    range(
        "Fig 6b",
        Preset::INormGn(GradNorm::Decorrelate),
        None,
        GRAD,
        0.25,
        0.46,
    ),
    range(
        "Fig 6b",
        Preset::INormGn(GradNorm::Scale),
        None,
        GRAD,
        0.10,
        0.35,
    ),
    range("Fig 7b", LATERAL, Some(0.0), ACC, 86.4, 89.2),
    range("Fig 7b", LATERAL, Some(0.75), ACC, 83.0, 86.3),
    range("Fig 7b", CENTER, Some(0.0), ACC, 86.4, 89.2),
    range("Fig 7b", CENTER, Some(0.75), ACC, 83.0, 86.3),
];

/// A printed range beside the sweep's values of the same condition, ε and metric.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeRow {
    /// The printed range.
    pub printed: PrintedRange,
    /// The sweep's finite values.
    pub n: usize,
    /// Lowest, median and highest value.
    pub ours: (f64, f64, f64),
    /// Values outside the printed range.
    pub outside: usize,
}

/// Every printed range for which the results hold runs.
pub fn range_rows(results: &[RunResult]) -> Vec<RangeRow> {
    PRINTED_RANGES
        .iter()
        .filter_map(|pr| {
            let v: Vec<f64> = results
                .iter()
                .filter(|r| r.config.spec.preset == pr.preset)
                .filter(|r| pr.eps.is_none_or(|e| r.config.eps == e))
                .map(|r| pr.metric.of(r))
                .filter(|x| x.is_finite())
                .collect();
            if v.is_empty() {
                return None;
            }
            let (lo, hi) = min_max(&v);
            Some(RangeRow {
                printed: *pr,
                n: v.len(),
                ours: (lo, median(&v), hi),
                outside: v.iter().filter(|x| **x < pr.lo || **x > pr.hi).count(),
            })
        })
        .collect()
}

/// The report's section: the Mann–Whitney table and the ranges, in markdown (empty when the results hold
/// none of their conditions).
pub fn section(results: &[RunResult]) -> String {
    let rows = mw_rows(results);
    let ranges = range_rows(results);
    if rows.is_empty() && ranges.is_empty() {
        return String::new();
    }
    let mut s =
        String::from("\n## Against the paper's printed statistics (paper/model.md §10)\n\n");
    if !rows.is_empty() {
        s.push_str(
            "GradNorm variants against E LN+ (Figs 5c, 6a, 7b): two-sided Mann–Whitney on final test \
             accuracy, unpaired, as the paper (30 runs a side there). U/n1n2 is the fraction of run pairs \
             where the variant is ahead (0.5: no difference). \"agrees\": both significant at p < 0.05 in \
             the same direction, or both not significant.\n\n\
             | variant | ε | n | median (E LN+) | paper median (E LN+) | range | at chance | U | U/n1n2 | p | paper U | paper U/n1n2 | paper p | agrees |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &rows {
            let pm = |p: Preset| printed_median(p, r.eps).map_or("–".into(), |m| fmt_num(m, 2));
            let (pu, pf, pp, ag) = match &r.printed {
                Some(m) => (
                    format!("{:.1}", m.u),
                    fmt_num(m.u / (PAPER_N * PAPER_N) as f64, 3),
                    fmt_p(m.p),
                    if agrees(r.u_frac, r.p, m) {
                        "yes"
                    } else {
                        "**no**"
                    }
                    .to_string(),
                ),
                None => ("–".into(), "–".into(), "–".into(), "–".into()),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {}/{} | {} ({}) | {} ({}) | {}–{} | {} | {:.1} | {} | {} | {pu} | {pf} | {pp} | {ag} |",
                Preset::INormGn(r.variant).label(),
                r.eps,
                r.n.0,
                r.n.1,
                fmt_num(r.medians.0, 2),
                fmt_num(r.medians.1, 2),
                pm(Preset::INormGn(r.variant)),
                pm(Preset::ELn),
                fmt_num(r.range.0, 2),
                fmt_num(r.range.1, 2),
                r.at_chance,
                r.u,
                fmt_num(r.u_frac, 3),
                fmt_p(r.p),
            );
        }
    }
    // Only the cells this sweep has, each beside its runs at chance.
    let ties: Vec<(ImpliedTies, &MwRow)> = implied_ties()
        .into_iter()
        .filter_map(|t| {
            rows.iter()
                .find(|r| r.variant == t.printed.variant && r.eps == t.printed.eps)
                .map(|r| (t, r))
        })
        .collect();
    if !ties.is_empty() {
        s.push_str(
            "\nTies that the paper's printed p-values imply: below 0.001 the paper prints p with 3 significant \
             digits, which with U and 30 runs a side pins the tie correction of its test, Σ(t³ − t) over the 60 \
             pooled runs (range: p ± half a unit of its last digit). \"one group\" is the size t of a single tie \
             group with that Σ. Accuracies on 10,000 test images tie only by chance at 0.01 %, so a large Σ means \
             a group of runs at one identical accuracy, as runs at chance (10.00 %) are; the paper's box plots \
             hide runs at or below 10 %.\n\n\
             | variant | ε | paper U | paper p | Σ(t³ − t) | one group of | here: at chance / n |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for (t, row) in &ties {
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} | {} | {:.0}–{:.0} | {:.1}–{:.1} | {} / {} |",
                Preset::INormGn(t.printed.variant).label(),
                t.printed.eps,
                t.printed.u,
                fmt_p(t.printed.p),
                t.tie_term.0,
                t.tie_term.1,
                t.one_group.0,
                t.one_group.1,
                row.at_chance,
                row.n.0,
            );
        }
    }
    if !ranges.is_empty() {
        s.push_str(
            "\nRanges read off the paper's figures (±0.2 points for accuracies) beside this sweep's lowest, \
             median and highest value (alignments: last step, mean of the hidden layers):\n\n\
             | figure | condition | ε | metric | paper range | n | lowest | median | highest | outside the paper's range |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &ranges {
            let p = &r.printed;
            // The paper's ranges as printed (1 decimal for accuracies), the sweep's with one more.
            let (digits, ours) = if p.metric == Metric::Accuracy {
                (1, 2)
            } else {
                (3, 3)
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.digits$}–{:.digits$} | {} | {} | {} | {} | {} |",
                p.figure,
                p.preset.label(),
                p.eps.map_or("all".into(), |e| e.to_string()),
                p.metric.name(),
                p.lo,
                p.hi,
                r.n,
                fmt_num(r.ours.0, ours),
                fmt_num(r.ours.1, ours),
                fmt_num(r.ours.2, ours),
                r.outside,
            );
        }
    }
    s
}
