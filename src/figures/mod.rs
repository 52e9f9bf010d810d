//! Reading data back out of plotted figures: the markers, boxes and reference lines of a matplotlib SVG,
//! in the units of its axes.
//!
//! A published figure that was saved as SVG still holds every plotted value: matplotlib writes one `<use>`
//! element per scatter marker at the marker's page position, and each axis's ticks as a mark at a position
//! beside a label. Fitting the line through (position, label) pairs ([`axis::calibrate`]) turns every page
//! position back into a data value. This module does that for scatter plots (markers grouped into
//! [`Series`] by fill colour, named by the legend) and box plots ([`BoxStats`]: quartiles, median, whiskers
//! and fliers per box, named by the x tick under the box), and keeps markers that fall outside the axes
//! (a clipped marker is still a plotted value, e.g. a run at chance below an axis that starts at 77 %).
//!
//! The SVG is read with an XML parser (`roxmltree`) and the SVG micro-syntaxes (transforms, path data,
//! colours) with `svgtypes`; see [`svg`](self) for what matplotlib writes. Anything unexpected is an
//! [`Error::Format`] naming the file; nothing here panics on input.
//!
//! ```
//! # use inorm::figures::Figure;
//! let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
//!  <g id="axes_1">
//!   <g id="xtick_1"><g id="line2d_1"><g><use xlink:href="#t" x="100" y="300"/></g></g>
//!     <g id="text_1"><!-- 80 --></g></g>
//!   <g id="xtick_2"><g id="line2d_2"><g><use xlink:href="#t" x="300" y="300"/></g></g>
//!     <g id="text_2"><!-- 90 --></g></g>
//!   <g id="ytick_1"><g id="line2d_3"><g><use xlink:href="#t" x="100" y="300"/></g></g>
//!     <g id="text_3"><!-- 80 --></g></g>
//!   <g id="ytick_2"><g id="line2d_4"><g><use xlink:href="#t" x="100" y="100"/></g></g>
//!     <g id="text_4"><!-- 90 --></g></g>
//!   <g id="PathCollection_1"><g><use xlink:href="#m" x="200" y="120" style="fill: #1f77b4"/></g></g>
//!  </g>
//! </svg>"##;
//! let fig = Figure::parse(svg, "example.svg")?;
//! let p = fig.axes[0].series[0].points[0];
//! assert!((p.x - 85.0).abs() < 1e-12 && (p.y - 89.0).abs() < 1e-12);
//! # Ok::<(), inorm::Error>(())
//! ```

pub mod axis;
mod boxes;
mod scatter;
mod svg;

use std::path::Path;

use crate::error::{Error, Result};

pub use axis::{calibrate, tick_number, Calibration};
pub use boxes::BoxStats;
pub use scatter::{Point, Series};

/// A horizontal line across the whole width of an axes (e.g. a reference median drawn as a dotted line).
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    /// Its y value.
    pub y: f64,
    /// Dashed or dotted.
    pub dashed: bool,
    /// Its stroke colour (`#rrggbb`).
    pub stroke: Option<String>,
}

/// A text drawn inside an axes' frame that is not a tick, axis or legend label (e.g. a "~" above a box
/// whose hidden runs it marks), with its data position (NaN where the axis is not calibrated).
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    /// The text (matplotlib's mathtext source, e.g. `$\epsilon$ = 0.5`).
    pub text: String,
    /// Where its anchor lands, in data units.
    pub x: f64,
    /// See `x`.
    pub y: f64,
    /// Its anchor's page x (to match it with a box, whose centre is a page position).
    pub page_x: f64,
}

/// One axes of a figure, in data units.
#[derive(Clone, Debug, PartialEq)]
pub struct Axes {
    /// The SVG group id (`axes_1`, …).
    pub id: String,
    /// The title: the text above the frame (mathtext source), if any.
    pub title: Option<String>,
    /// The x axis label, if any.
    pub x_label: Option<String>,
    /// The y axis label, if any.
    pub y_label: Option<String>,
    /// The labels of the x ticks, left to right, with their page positions.
    pub x_ticks: Vec<(f64, String)>,
    /// The x calibration, or why there is none (e.g. category labels under box plots).
    pub x: std::result::Result<Calibration, String>,
    /// The y calibration, or why there is none.
    pub y: std::result::Result<Calibration, String>,
    /// The data rectangle (x from, x to, y from, y to) that the frame shows, when it is known.
    pub limits: Option<(f64, f64, f64, f64)>,
    /// Scatter series, by fill colour, in drawing order.
    pub series: Vec<Series>,
    /// Box plots, left to right.
    pub boxes: Vec<BoxStats>,
    /// Horizontal lines across the frame.
    pub references: Vec<Reference>,
    /// Other texts inside the frame.
    pub annotations: Vec<Annotation>,
}

/// Every axes of one SVG figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The file it was read from (as given).
    pub file: String,
    /// Its axes, in document order.
    pub axes: Vec<Axes>,
}

impl Figure {
    /// Reads and parses `path` (see [`Figure::parse`]).
    pub fn read(path: &Path) -> Result<Figure> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Figure::parse(&text, &path.display().to_string())
    }

    /// Parses the SVG `text`; `file` names it in errors. Errors with [`Error::Format`] when the text is not
    /// an SVG document, has no `axes_N` group, or holds markers or boxes on an axis that cannot be calibrated
    /// from its tick labels.
    pub fn parse(text: &str, file: &str) -> Result<Figure> {
        let bad = |reason: String| Error::Format {
            path: file.to_string(),
            reason,
        };
        let raw = svg::read_axes(text).map_err(bad)?;
        if raw.is_empty() {
            return Err(bad(
                "no axes (no <g id=\"axes_N\"> group): not a matplotlib figure".into(),
            ));
        }
        let axes = raw
            .into_iter()
            .map(|a| build(a).map_err(&bad))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Figure {
            file: file.to_string(),
            axes,
        })
    }
}

fn build(raw: svg::RawAxes) -> std::result::Result<Axes, String> {
    let cal = |dir: svg::Dir| {
        let ticks: Vec<(f64, Option<&str>)> = raw
            .ticks
            .iter()
            .filter(|t| t.dir == dir)
            .map(|t| (t.pos, t.label.as_deref()))
            .collect();
        calibrate(&ticks)
    };
    let x = cal(svg::Dir::X);
    let y = cal(svg::Dir::Y);
    let frame = raw.clip.or(raw.background);
    let limits = match (&x, &y, frame) {
        (Ok(cx), Ok(cy), Some(f)) => Some((
            cx.value(f.left),
            cx.value(f.right),
            cy.value(f.bottom),
            cy.value(f.top),
        )),
        _ => None,
    };
    let need = |what: &str, c: &std::result::Result<Calibration, String>, axis: &str| {
        c.as_ref().map(|_| ()).map_err(|why| {
            format!(
                "{}: {what} need a calibrated {axis} axis, and it has {why}",
                raw.id
            )
        })
    };
    let series = if raw.markers.iter().any(|m| !m.flier) {
        need("scatter markers", &x, "x")?;
        need("scatter markers", &y, "y")?;
        scatter::series(&raw, x.as_ref().ok(), y.as_ref().ok(), frame)
    } else {
        Vec::new()
    };
    let boxes = if raw.rects.is_empty() {
        Vec::new()
    } else {
        need("box plots", &y, "y")?;
        boxes::boxes(&raw, y.as_ref().ok())
    };
    let (mut title, mut x_label, mut y_label) = (None, None, None);
    let mut annotations = Vec::new();
    let yv = |p: f64| y.as_ref().map_or(f64::NAN, |c| c.value(p));
    let xv = |p: f64| x.as_ref().map_or(f64::NAN, |c| c.value(p));
    for l in &raw.labels {
        match (l.axis, frame) {
            (Some(0), _) => x_label = Some(l.text.clone()),
            (Some(_), _) => y_label = Some(l.text.clone()),
            (None, Some(f)) if l.at.1 < f.top => title = Some(l.text.clone()),
            (None, Some(f)) if f.contains(l.at) => annotations.push(Annotation {
                text: l.text.clone(),
                x: xv(l.at.0),
                y: yv(l.at.1),
                page_x: l.at.0,
            }),
            _ => {}
        }
    }
    let references = match (&y, frame) {
        (Ok(cy), Some(f)) => boxes::references(&raw, cy, f),
        _ => Vec::new(),
    };
    let mut x_ticks: Vec<(f64, String)> = raw
        .ticks
        .iter()
        .filter(|t| t.dir == svg::Dir::X)
        .filter_map(|t| t.label.clone().map(|l| (t.pos, l)))
        .collect();
    x_ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(Axes {
        id: raw.id.clone(),
        title,
        x_label,
        y_label,
        x_ticks,
        x,
        y,
        limits,
        series,
        boxes,
        references,
        annotations,
    })
}

/// The number after the last `=` of a label such as `$\epsilon$=0.25` or `$\epsilon$ = 0.5` (how the
/// authors' legends and titles name ε), if any.
pub fn value_after_equals(label: &str) -> Option<f64> {
    let (_, v) = label.rsplit_once('=')?;
    tick_number(v.trim().trim_end_matches('$'))
}
