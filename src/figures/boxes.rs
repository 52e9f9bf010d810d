//! Box plots as numbers. matplotlib draws each box as a closed rectangle (`patch_*`) from the first to the
//! third quartile, the median as a horizontal line across the box, each whisker as a vertical line from the
//! box's edge at its centre to the last run within 1.5 IQR, and the fliers (runs beyond) as markers on the
//! centre line. A box is named by the x tick label at its centre. Horizontal lines that span the whole frame
//! are reference lines, not parts of a box.

use super::svg::{RawAxes, Rect};
use super::{Calibration, Reference};
use crate::tolerance::SVG_SAME_POS;

/// One box of a box plot, in data units.
#[derive(Clone, Debug, PartialEq)]
pub struct BoxStats {
    /// The x tick label at the box's centre (None when no tick sits there).
    pub label: Option<String>,
    /// The box's centre on the page (page units).
    pub centre: f64,
    /// First quartile (the box's lower edge).
    pub q1: f64,
    /// Median (NaN when no median line crosses the box).
    pub median: f64,
    /// Third quartile (the box's upper edge).
    pub q3: f64,
    /// Lower whisker end (= q1 when the whisker has zero length or is missing).
    pub whisker_low: f64,
    /// Upper whisker end (= q3 likewise).
    pub whisker_high: f64,
    /// Fliers, ascending.
    pub fliers: Vec<f64>,
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= SVG_SAME_POS
}

pub(super) fn boxes(raw: &RawAxes, y: Option<&Calibration>) -> Vec<BoxStats> {
    let Some(cy) = y else {
        return Vec::new();
    };
    let mut out: Vec<BoxStats> = raw.rects.iter().map(|r| one(raw, r, cy)).collect();
    out.sort_by(|a, b| a.centre.total_cmp(&b.centre));
    out
}

fn one(raw: &RawAxes, r: &Rect, cy: &Calibration) -> BoxStats {
    let c = 0.5 * (r.left + r.right);
    let (lo, hi) = {
        let (a, b) = (cy.value(r.bottom), cy.value(r.top));
        (a.min(b), a.max(b))
    };
    // The median: a horizontal line from the box's left edge to its right edge.
    let median = raw
        .lines
        .iter()
        .filter(|l| l.points.len() == 2)
        .find(|l| {
            let (a, b) = (l.points[0], l.points[1]);
            same(a.1, b.1) && same(a.0.min(b.0), r.left) && same(a.0.max(b.0), r.right)
        })
        .map_or(f64::NAN, |l| cy.value(l.points[0].1));
    // Whiskers: vertical lines on the centre line; the end away from the box is the whisker's.
    let (mut whisker_low, mut whisker_high) = (lo, hi);
    for l in raw.lines.iter().filter(|l| l.points.len() == 2) {
        let (a, b) = (l.points[0], l.points[1]);
        if !(same(a.0, c) && same(b.0, c)) {
            continue;
        }
        let (va, vb) = (cy.value(a.1), cy.value(b.1));
        let (near_lo, near_hi) = (
            |v: f64| same_value(v, lo, cy),
            |v: f64| same_value(v, hi, cy),
        );
        for (edge, end) in [(va, vb), (vb, va)] {
            if near_lo(edge) && end <= lo {
                whisker_low = whisker_low.min(end);
            } else if near_hi(edge) && end >= hi {
                whisker_high = whisker_high.max(end);
            }
        }
    }
    let mut fliers: Vec<f64> = raw
        .markers
        .iter()
        .filter(|m| m.flier && same(m.at.0, c))
        .map(|m| cy.value(m.at.1))
        .collect();
    fliers.sort_by(f64::total_cmp);
    let label = raw
        .ticks
        .iter()
        .filter(|t| t.dir == super::svg::Dir::X && same(t.pos, c))
        .find_map(|t| t.label.clone());
    BoxStats {
        label,
        centre: c,
        q1: lo,
        median,
        q3: hi,
        whisker_low,
        whisker_high,
        fliers,
    }
}

/// Two data values at the same page position (within [`SVG_SAME_POS`]).
fn same_value(a: f64, b: f64, cy: &Calibration) -> bool {
    ((a - b) / cy.slope).abs() <= SVG_SAME_POS
}

pub(super) fn references(raw: &RawAxes, cy: &Calibration, frame: Rect) -> Vec<Reference> {
    raw.lines
        .iter()
        .filter(|l| l.points.len() == 2)
        .filter(|l| {
            let (a, b) = (l.points[0], l.points[1]);
            same(a.1, b.1) && same(a.0.min(b.0), frame.left) && same(a.0.max(b.0), frame.right)
        })
        .map(|l| Reference {
            y: cy.value(l.points[0].1),
            dashed: l.dashed,
            stroke: l.stroke.clone(),
        })
        .collect()
}
