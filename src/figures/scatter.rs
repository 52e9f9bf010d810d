//! Scatter markers as series: every marker of the axes' `PathCollection_*` groups (legend handles
//! excluded) in data units, grouped by fill colour in drawing order, each group named by the legend entry of
//! its colour. Markers drawn on top of each other stay separate points (two runs with one accuracy), and
//! markers outside the frame stay too, flagged as clipped.

use super::svg::{RawAxes, Rect};
use super::Calibration;

/// One plotted marker in data units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// x value.
    pub x: f64,
    /// y value.
    pub y: f64,
    /// Outside the axes' frame: clipped from view in the figure, but plotted.
    pub clipped: bool,
}

/// The markers of one fill colour.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The fill colour, `#rrggbb` (None: no fill).
    pub colour: Option<String>,
    /// The legend's text for this colour, if the legend has one.
    pub label: Option<String>,
    /// The markers, in drawing order.
    pub points: Vec<Point>,
}

pub(super) fn series(
    raw: &RawAxes,
    x: Option<&Calibration>,
    y: Option<&Calibration>,
    frame: Option<Rect>,
) -> Vec<Series> {
    let (Some(cx), Some(cy)) = (x, y) else {
        return Vec::new();
    };
    let mut out: Vec<Series> = Vec::new();
    for m in raw.markers.iter().filter(|m| !m.flier) {
        let p = Point {
            x: cx.value(m.at.0),
            y: cy.value(m.at.1),
            clipped: frame.is_some_and(|f| !f.contains(m.at)),
        };
        match out.iter_mut().find(|s| s.colour == m.fill) {
            Some(s) => s.points.push(p),
            None => out.push(Series {
                colour: m.fill.clone(),
                label: raw
                    .legend
                    .iter()
                    .find(|(c, _)| c.is_some() && *c == m.fill)
                    .map(|(_, t)| t.clone()),
                points: vec![p],
            }),
        }
    }
    out
}
