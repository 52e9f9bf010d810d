//! The paper's own runs (`paper/results/paper-runs/`) drawn over a sweep's: paired scatters (Fig 5c: E LN+
//! against GN full; the lateral scatter of Fig 7: GN lateral against E LN+), the paper's markers hollow,
//! ours filled; and box plots per ε (Fig 4a: E LN+ and I-Norm; Fig 6a: E LN+ and the four GradNorm
//! variants), the paper's box beside ours for each condition. Runs at or below 11 % are left out of the
//! boxes' range and counted in their labels, so a collapse cannot squash the boxes of the runs that learned.

use std::path::Path;

use plotters::prelude::*;

use super::super::common::{accuracies, quantile};
use super::super::paper_runs::{PaperRuns, Source};
use super::draw::{box_chart, color, diagonal_chart, draw_box, range, upper_left_legend, Res};
use crate::model::{GradNorm, Preset};
use crate::train::{RunResult, CHANCE_ACC};

/// One box: its label, quartiles, whisker ends, the runs to draw as dots, and whether it is the paper's.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct OverlayBox {
    pub preset: Preset,
    pub label: String,
    pub q: (f64, f64, f64),
    pub whiskers: (f64, f64),
    pub dots: Vec<f64>,
    pub paper: bool,
    pub colour: usize,
}

/// Above chance: the runs a box's range and dots use.
fn learned(v: &[f64]) -> Vec<f64> {
    let mut s: Vec<f64> = v
        .iter()
        .copied()
        .filter(|x| *x > CHANCE_ACC + 1.0)
        .collect();
    s.sort_by(f64::total_cmp);
    s
}

/// A box of runs `v` (quartiles and whiskers at min/max of the runs above chance).
pub(super) fn box_of(
    preset: Preset,
    label: &str,
    v: &[f64],
    paper: bool,
    colour: usize,
) -> Option<OverlayBox> {
    let s = learned(v);
    let (lo, hi) = (*s.first()?, *s.last()?);
    let chance = v.len() - s.len();
    Some(OverlayBox {
        preset,
        label: format!(
            "{label} (n={}{})",
            v.len(),
            if chance > 0 {
                format!(", {chance} ≤ 11 % not drawn")
            } else {
                String::new()
            }
        ),
        q: (quantile(&s, 0.25), quantile(&s, 0.5), quantile(&s, 0.75)),
        whiskers: (lo, hi),
        dots: s,
        paper,
        colour,
    })
}

/// The boxes of `presets` at every ε the sweep has for the first of them: for each, the paper's box (from
/// its runs, else from the box the paper drew) beside ours. Empty when no ε has both.
pub(super) fn box_groups(
    results: &[RunResult],
    paper: &PaperRuns,
    presets: &[Preset],
) -> Vec<OverlayBox> {
    let mut eps: Vec<f64> = results
        .iter()
        .filter(|r| r.config.spec.preset == presets[0])
        .map(|r| r.config.eps)
        .collect();
    eps.sort_by(f64::total_cmp);
    eps.dedup();
    let mut out = Vec::new();
    for e in eps {
        for (i, &p) in presets.iter().enumerate() {
            let o = accuracies(results, p, e);
            let name = |who: &str| format!("{who} {} ε={e}", super::short(p));
            let theirs = match paper.runs(p, e) {
                Some((_, v)) => box_of(p, &name("paper"), &v, true, i),
                None => paper.boxes_of(p, e).first().map(|b| OverlayBox {
                    preset: p,
                    label: format!(
                        "{} (box{})",
                        name("paper"),
                        if b.hidden {
                            ", runs ≤ 10 % left out"
                        } else {
                            ""
                        }
                    ),
                    q: (b.q1, b.median, b.q3),
                    whiskers: b.whiskers,
                    dots: b.fliers.clone(),
                    paper: true,
                    colour: i,
                }),
            };
            if o.is_empty() || theirs.is_none() {
                continue;
            }
            out.extend(theirs);
            out.extend(box_of(p, &name("ours"), &o, false, i));
        }
    }
    out
}

/// Draws `groups` as box plots, the paper's hatched light, ours filled.
pub(super) fn boxes(path: &Path, title: &str, groups: &[OverlayBox]) -> Res {
    let w = (120 + 46 * groups.len()).max(480) as u32;
    let root = SVGBackend::new(path, (w, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    // The range of what learned: a box reaching down to chance (the paper's GN scale at ε ≥ 0.5) is cut at
    // the bottom, and says so, instead of squashing every other box.
    let (lo, hi) = range(
        groups
            .iter()
            .flat_map(|g| {
                [g.q.0, g.q.1, g.q.2, g.whiskers.0, g.whiskers.1]
                    .into_iter()
                    .chain(g.dots.iter().copied())
            })
            .filter(|v| *v > CHANCE_ACC + 1.0),
        0.08,
    );
    let mut chart = box_chart(
        &root,
        title,
        groups.len(),
        (lo, hi),
        "test accuracy (%)",
        260,
    )?;
    for (i, g) in groups.iter().enumerate() {
        let x = i as f64;
        let c = color(g.colour);
        let cut = |v: f64| v.clamp(lo, hi);
        let (q1, q2, q3) = (cut(g.q.0), cut(g.q.1), cut(g.q.2));
        let whiskers = (cut(g.whiskers.0), cut(g.whiskers.1));
        let label = if g.q.0 < lo {
            format!(
                "{} (cut at {lo:.1}: the box reaches {:.2})",
                g.label,
                g.q.0.min(g.whiskers.0)
            )
        } else {
            g.label.clone()
        };
        let fill = if g.paper {
            WHITE.filled()
        } else {
            c.mix(0.35).filled()
        };
        draw_box(&mut chart, x, (q1, q2, q3), whiskers, c, fill, label, 11)?;
        chart.draw_series(g.dots.iter().filter(|y| (lo..=hi).contains(*y)).map(|&y| {
            let style = if g.paper {
                c.stroke_width(1)
            } else {
                c.mix(0.6).filled()
            };
            Circle::new((x + 0.5, y), 2, style)
        }))?;
    }
    root.present()?;
    Ok(())
}

/// One ε of a paired scatter: ε, the paper's (x, y) pairs, ours.
pub(super) type ScatterGroup = (f64, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// The paper's pairs (x run, y run) per ε of a scatter source, and ours of the same two conditions paired by
/// configuration, for every ε the sweep has.
pub(super) fn scatter_groups(
    results: &[RunResult],
    paper: &PaperRuns,
    s: &Source,
    x: Preset,
    y: Preset,
) -> Vec<ScatterGroup> {
    let mut out = Vec::new();
    for (e, ours) in super::pairs(results, x, y) {
        let theirs: Vec<(f64, f64)> = paper
            .points
            .iter()
            .filter(|p| p.csv == s.csv && p.preset == y && p.eps == e)
            .map(|p| (p.paired.1, p.acc))
            .collect();
        if !theirs.is_empty() {
            out.push((e, theirs, ours));
        }
    }
    out
}

/// A paired scatter, the paper's markers hollow and ours filled, per ε, with the diagonal. Pairs with a run
/// at or below 11 % are left out of the view (counted in the legend).
pub(super) fn scatter(
    path: &Path,
    title: &str,
    xl: &str,
    yl: &str,
    groups: &[ScatterGroup],
) -> Res {
    let root = SVGBackend::new(path, (680, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let up = |p: &&(f64, f64)| p.0 > CHANCE_ACC + 1.0 && p.1 > CHANCE_ACC + 1.0;
    let (lo, hi) = range(
        groups
            .iter()
            .flat_map(|g| g.1.iter().chain(&g.2).filter(up).flat_map(|p| [p.0, p.1])),
        0.05,
    );
    let mut chart = diagonal_chart(&root, title, (lo, hi), xl, yl)?;
    for (i, (e, theirs, ours)) in groups.iter().enumerate() {
        let c = color(i);
        for (paper, pts) in [(true, theirs), (false, ours)] {
            let hidden = pts.len() - pts.iter().filter(up).count();
            let who = if paper { "paper" } else { "ours" };
            let label = if hidden > 0 {
                format!("{who}, ε = {e} ({hidden} at chance not drawn)")
            } else {
                format!("{who}, ε = {e}")
            };
            let style = if paper { c.stroke_width(2) } else { c.filled() };
            chart
                .draw_series(pts.iter().filter(up).map(|&p| Circle::new(p, 4, style)))?
                .label(label)
                .legend(move |(x, y)| Circle::new((x, y), 4, style));
        }
    }
    upper_left_legend(&mut chart)?;
    root.present()?;
    Ok(())
}

/// The conditions of the two box overlays: Fig 4a and Fig 6a.
pub(super) const FIG4A: [Preset; 2] = [Preset::ELn, Preset::INorm];
/// See [`FIG4A`].
pub(super) const FIG6A: [Preset; 5] = [
    Preset::ELn,
    Preset::INormGn(GradNorm::Scale),
    Preset::INormGn(GradNorm::Decorrelate),
    Preset::INormGn(GradNorm::Center),
    Preset::INormGn(GradNorm::Full),
];
