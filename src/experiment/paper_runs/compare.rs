//! The paper's runs beside a sweep's: per condition and ε, the two sets' medians, spreads and runs at
//! chance with a Mann–Whitney test between them; the paper's box plots beside the sweep's runs summarized the
//! way those boxes were drawn; and, for each GradNorm variant, whether its gap to E LN+ differs because the
//! variant's runs moved or because E LN+'s did ([`section`]). [`printed_checks`] recomputes the paper's
//! printed Mann–Whitney statistics from the paper's runs.

use std::fmt::Write as _;

use super::{PaperBox, PaperRuns};
use crate::experiment::common::{accuracies, fmt_num, fmt_p, min_max, quantile};
use crate::experiment::paper::{PRINTED_MW, VARIANTS};
use crate::model::Preset;
use crate::stats::{mann_whitney, median};
use crate::train::{RunResult, CHANCE_ACC};

/// The paper's two-sided Mann–Whitney p of Fig 2b (EI LN+ against E LN+, the 10 best runs of each ε pooled,
/// 40 against 40; paper/model.md §10).
pub const FIG2B_PRINTED_P: f64 = 0.758;

/// Runs the Fig 2b test takes from each ε (paper/model.md §10).
pub const FIG2B_TOP: usize = 10;

/// Half a unit in the last digit with which the paper prints a p-value (paper/model.md §10): 3 decimals
/// from 0.01 up, 4 decimals from 0.001 to 0.01, 3 significant digits below 0.001.
pub fn printed_half_unit(p: f64) -> f64 {
    if p >= 0.01 {
        5e-4
    } else if p >= 1e-3 {
        5e-5
    } else {
        0.5 * 10f64.powi(p.log10().floor() as i32 - 2)
    }
}

/// A printed Mann–Whitney statistic beside the same test on the paper's runs as read off its figures.
#[derive(Clone, Debug, PartialEq)]
pub struct PrintedCheck {
    /// What is compared, e.g. `I-Norm + GN full vs E LN+`.
    pub label: String,
    /// ε (NaN for a test pooled over ε).
    pub eps: f64,
    /// Runs on each side.
    pub n: (usize, usize),
    /// Printed U (NaN where the paper printed none).
    pub printed_u: f64,
    /// Printed two-sided p.
    pub printed_p: f64,
    /// U recomputed from the runs.
    pub u: f64,
    /// p recomputed from the runs.
    pub p: f64,
    /// The files the runs come from.
    pub files: String,
}

impl PrintedCheck {
    /// U equal to the printed one to its printed 1 decimal (or none printed), and p within half a unit of
    /// its last printed digit.
    pub fn agrees(&self) -> bool {
        (self.printed_u.is_nan() || (self.u - self.printed_u).abs() < 0.05)
            && (self.p - self.printed_p).abs() <= printed_half_unit(self.printed_p)
    }
}

/// Every printed statistic whose two sides the paper's runs hold: the Mann–Whitney tables of Figs 5c, 6a
/// and 7b (variant against E LN+ per ε) and Fig 2b's pooled top-10 test.
pub fn printed_checks(runs: &PaperRuns) -> Vec<PrintedCheck> {
    let mut out = Vec::new();
    for m in &PRINTED_MW {
        let v = Preset::INormGn(m.variant);
        let (Some((fa, a)), Some((fb, b))) = (runs.runs(v, m.eps), runs.runs(Preset::ELn, m.eps))
        else {
            continue;
        };
        let Ok(t) = mann_whitney(&a, &b) else {
            continue;
        };
        out.push(PrintedCheck {
            label: format!("{} vs {}", v.label(), Preset::ELn.label()),
            eps: m.eps,
            n: (a.len(), b.len()),
            printed_u: m.u,
            printed_p: m.p,
            u: t.u,
            p: t.p_two_sided,
            files: format!("{fa}, {fb}"),
        });
    }
    let top = |p: Preset| -> Option<(Vec<f64>, &'static str)> {
        let mut all = Vec::new();
        let mut file = "";
        for e in [0.0, 0.25, 0.5, 0.75] {
            let (f, mut v) = runs.runs(p, e)?;
            v.sort_by(|a, b| b.total_cmp(a));
            all.extend(v.into_iter().take(FIG2B_TOP));
            file = f;
        }
        Some((all, file))
    };
    if let (Some((a, fa)), Some((b, fb))) = (top(Preset::EiLn), top(Preset::ELn)) {
        if let Ok(t) = mann_whitney(&a, &b) {
            out.push(PrintedCheck {
                label: format!(
                    "Fig 2b: {} vs {}, top {FIG2B_TOP} per ε pooled",
                    Preset::EiLn.label(),
                    Preset::ELn.label()
                ),
                eps: f64::NAN,
                n: (a.len(), b.len()),
                printed_u: f64::NAN,
                printed_p: FIG2B_PRINTED_P,
                u: t.u,
                p: t.p_two_sided,
                files: format!("{fa}, {fb}"),
            });
        }
    }
    out
}

/// Runs at exactly chance (10.00 %, 1,000 of 10,000 test images; a diverged run records it) and at or below
/// 11 %.
pub fn chance_counts(v: &[f64]) -> (usize, usize) {
    (
        v.iter()
            .filter(|x| (**x - CHANCE_ACC).abs() < 0.005)
            .count(),
        v.iter().filter(|x| **x <= CHANCE_ACC + 1.0).count(),
    )
}

/// `median [q1–q3]`, quartiles by linear interpolation (as matplotlib's box plots).
fn mq(v: &[f64]) -> String {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    format!(
        "{} [{}–{}]",
        fmt_num(quantile(&s, 0.5), 2),
        fmt_num(quantile(&s, 0.25), 2),
        fmt_num(quantile(&s, 0.75), 2)
    )
}

fn range(v: &[f64]) -> String {
    let (lo, hi) = min_max(v);
    format!("{}–{}", fmt_num(lo, 2), fmt_num(hi, 2))
}

/// The runs a box of the authors' figures draws: all of them, less those at or below 10 % when the median
/// is at least 50 (the notebooks' filter, which marks such a box with "~").
pub fn as_drawn(v: &[f64]) -> Vec<f64> {
    if median(v) >= 50.0 {
        v.iter().copied().filter(|x| *x > 10.0).collect()
    } else {
        v.to_vec()
    }
}

/// The paper's median of `p` at `eps`, where it comes from, and whether from a box: from its runs where a
/// scatter plots them, else from a box (which leaves runs at chance out when it is marked "~").
fn paper_median(runs: &PaperRuns, p: Preset, eps: f64) -> Option<(f64, String, bool)> {
    if let Some((f, v)) = runs.runs(p, eps) {
        return Some((median(&v), format!("{} runs ({f})", v.len()), false));
    }
    let b: &PaperBox = runs.boxes_of(p, eps).into_iter().next()?;
    Some((
        b.median,
        format!(
            "box ({}{})",
            b.csv,
            if b.hidden {
                ", runs ≤ 10 % left out"
            } else {
                ""
            }
        ),
        true,
    ))
}

/// A condition and ε that both the paper's runs and ours cover: (condition, ε, the paper's file, the paper's
/// runs, ours).
type Cell = (Preset, f64, &'static str, Vec<f64>, Vec<f64>);

/// The report's section (empty when the sweep has no condition and ε that the paper's runs cover).
pub fn section(results: &[RunResult]) -> String {
    let runs = match super::committed() {
        Ok(r) => r,
        Err(e) => return format!("\n## The paper's own runs beside ours\n\nNot available: {e}\n"),
    };
    let cells: Vec<Cell> = runs
        .cells()
        .into_iter()
        .filter_map(|(p, e)| {
            let o = accuracies(results, p, e);
            let (f, v) = runs.runs(p, e)?;
            (!o.is_empty()).then_some((p, e, f, v, o))
        })
        .collect();
    let boxes: Vec<(&PaperBox, Vec<f64>)> = runs
        .boxes
        .iter()
        .filter(|b| !b.line)
        .filter_map(|b| {
            let o = accuracies(results, b.preset, b.eps);
            (!o.is_empty()).then_some((b, o))
        })
        .collect();
    if cells.is_empty() && boxes.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## The paper's own runs beside ours\n\n\
         The authors saved their figures as SVG with one marker per run; `paper/results/paper-runs/` holds the \
         final test accuracies read back from them (its README: the figures, commits and calibration, and the \
         check that they give the paper's printed Mann–Whitney U and p). Quartiles by linear interpolation; \
         \"10.00 / ≤ 11\": runs at exactly chance and at or below 11 %. The test is two-sided Mann–Whitney, \
         the paper's runs against ours (U/n1n2 > 0.5: the paper's runs are ahead).\n",
    );
    if !cells.is_empty() {
        s.push_str(
            "\n| condition | ε | paper: n | median [IQR] | min–max | 10.00 / ≤ 11 | ours: n | median [IQR] | min–max | 10.00 / ≤ 11 | U/n1n2 | p (MW) | paper's file |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for (p, e, f, v, o) in &cells {
            let (c0, c1) = chance_counts(v);
            let (d0, d1) = chance_counts(o);
            let (uf, pv) =
                mann_whitney(v, o).map_or((f64::NAN, f64::NAN), |m| (m.effect, m.p_two_sided));
            let _ = writeln!(
                s,
                "| {} | {e} | {} | {} | {} | {c0} / {c1} | {} | {} | {} | {d0} / {d1} | {} | {} | {f} |",
                p.label(),
                v.len(),
                mq(v),
                range(v),
                o.len(),
                mq(o),
                range(o),
                fmt_num(uf, 3),
                fmt_p(pv),
            );
        }
    }
    if !boxes.is_empty() {
        s.push_str(
            "\nThe paper's box plots (Figs 6a, 7b: its only record of GN scale, decorrelate and center) beside \
             our runs drawn the same way (runs at or below 10 % left out when the median is at least 50, as the \
             authors' notebooks do and mark with \"~\"):\n\n\
             | condition | ε | figure | paper: median [box] | whiskers | fliers | \"~\" | ours as drawn: median [box] | whiskers (min–max) | left out | ours: 10.00 / ≤ 11 of n |\n\
             |---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for (b, o) in &boxes {
            let drawn = as_drawn(o);
            let (d0, d1) = chance_counts(o);
            let fl = if b.fliers.is_empty() {
                "–".to_string()
            } else {
                b.fliers
                    .iter()
                    .map(|x| format!("{x:.2}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} [{}–{}] | {}–{} | {fl} | {} | {} | {} | {} | {d0} / {d1} of {} |",
                b.preset.label(),
                b.eps,
                b.csv,
                fmt_num(b.median, 2),
                fmt_num(b.q1, 2),
                fmt_num(b.q3, 2),
                fmt_num(b.whiskers.0, 2),
                fmt_num(b.whiskers.1, 2),
                if b.hidden { "yes" } else { "no" },
                mq(&drawn),
                range(&drawn),
                o.len() - drawn.len(),
                o.len(),
            );
        }
    }
    let moved: Vec<String> = VARIANTS
        .iter()
        .flat_map(|g| [0.0, 0.25, 0.5, 0.75].map(|e| (Preset::INormGn(*g), e)))
        .filter_map(|(v, e)| {
            let (ov, ob) = (
                accuracies(results, v, e),
                accuracies(results, Preset::ELn, e),
            );
            if ov.is_empty() || ob.is_empty() {
                return None;
            }
            let (pv, src, from_box) = paper_median(&runs, v, e)?;
            let (pb, _, _) = paper_median(&runs, Preset::ELn, e)?;
            // Against a box, our runs as that box would draw them.
            let ov = if from_box { as_drawn(&ov) } else { ov };
            let (mv, mb) = (median(&ov), median(&ob));
            let p_of = |p: Preset, o: &[f64]| {
                runs.runs(p, e)
                    .and_then(|(_, r)| mann_whitney(&r, o).ok())
                    .map_or("–".to_string(), |m| fmt_p(m.p_two_sided))
            };
            Some(format!(
                "| {} | {e} | {:+.2} | {:+.2} | {:+.2} | {} | {:+.2} | {} | {src} |",
                v.label(),
                pv - pb,
                mv - mb,
                mv - pv,
                p_of(v, &ov),
                mb - pb,
                p_of(Preset::ELn, &ob),
            ))
        })
        .collect();
    if !moved.is_empty() {
        s.push_str(
            "\nWhich side moved: each GradNorm variant's median gap to E LN+ in the paper and here, split into the \
             move of the variant (our median − the paper's) and the move of E LN+. Where the paper has only a box, \
             its median is that of the runs the box draws, and ours is taken the same way. p: Mann–Whitney of \
             the paper's runs against ours (– where the paper has a box, not runs).\n\n\
             | variant | ε | paper: variant − E LN+ | ours: variant − E LN+ | variant moved | p | E LN+ moved | p | paper's variant from |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        for row in moved {
            s.push_str(&row);
            s.push('\n');
        }
    }
    s
}
