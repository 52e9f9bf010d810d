//! Drawing primitives the figures share: a colour cycle, quartiles, axis ranges, and three chart kinds
//! (scatter against the diagonal, box plots, overlaid histograms), each writing one SVG file.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::common::quantile;

pub(super) type Res = std::result::Result<(), Box<dyn std::error::Error>>;

/// Axes with f64 coordinates on both sides (a box plot: one slot of width 1 per box along x).
pub(super) type BoxChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Square axes from `lo` to `hi` on both sides for a paired scatter, with the diagonal y = x.
pub(super) fn diagonal_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    (lo, hi): (f64, f64),
    xl: &str,
    yl: &str,
) -> std::result::Result<BoxChart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..hi, lo..hi)?;
    chart.configure_mesh().x_desc(xl).y_desc(yl).draw()?;
    chart.draw_series(LineSeries::new(vec![(lo, lo), (hi, hi)], BLACK.mix(0.5)))?;
    Ok(chart)
}

/// The series' legend in the upper left corner, on a light background.
pub(super) fn upper_left_legend<'a, 'b: 'a>(chart: &mut BoxChart<'a, 'b>) -> Res {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}

/// Box-plot axes on `root` for `n` boxes, y from `y.0` to `y.1` labelled `yl`, with `label_area` page units
/// below for the boxes' own labels (no x labels or x grid).
pub(super) fn box_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    n: usize,
    y: (f64, f64),
    yl: &str,
    label_area: u32,
) -> std::result::Result<BoxChart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(label_area)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..n as f64, y.0..y.1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(yl)
        .draw()?;
    Ok(chart)
}

/// The label of slot `x`, written downwards (rotated 90°) from just below the axis.
fn draw_box_label(chart: &mut BoxChart, x: f64, label: String, font: u32) -> Res {
    let (lo, hi) = (chart.y_range().start, chart.y_range().end);
    chart.draw_series([Text::new(
        label,
        (x + 0.42, lo - 0.01 * (hi - lo)),
        ("sans-serif", font)
            .into_font()
            .transform(FontTransform::Rotate90),
    )])?;
    Ok(())
}

/// One box in slot `x`: quartiles `q` (box filled with `fill`, median line), whiskers with caps to `w`, and
/// its label ([`draw_box_label`]: rotated, so long names never overlap).
#[allow(clippy::too_many_arguments)]
pub(super) fn draw_box(
    chart: &mut BoxChart,
    x: f64,
    q: (f64, f64, f64),
    w: (f64, f64),
    c: RGBColor,
    fill: ShapeStyle,
    label: String,
    font: u32,
) -> Res {
    let (q1, q2, q3) = q;
    chart.draw_series([
        Rectangle::new([(x + 0.2, q1), (x + 0.8, q3)], fill),
        Rectangle::new([(x + 0.2, q1), (x + 0.8, q3)], c.stroke_width(2)),
    ])?;
    chart.draw_series([
        PathElement::new(vec![(x + 0.2, q2), (x + 0.8, q2)], BLACK.stroke_width(2)),
        PathElement::new(vec![(x + 0.5, q3), (x + 0.5, w.1)], c),
        PathElement::new(vec![(x + 0.5, q1), (x + 0.5, w.0)], c),
        PathElement::new(vec![(x + 0.35, w.1), (x + 0.65, w.1)], c),
        PathElement::new(vec![(x + 0.35, w.0), (x + 0.65, w.0)], c),
    ])?;
    draw_box_label(chart, x, label, font)
}

const EPS_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

pub(super) fn color(i: usize) -> RGBColor {
    EPS_COLORS[i % EPS_COLORS.len()]
}

pub(super) fn range(vals: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(1e-3);
    (lo - pad * span, hi + pad * span)
}

pub(super) fn scatter(
    path: &Path,
    title: &str,
    xl: &str,
    yl: &str,
    groups: &[(f64, Vec<(f64, f64)>)],
) -> Res {
    let root = SVGBackend::new(path, (640, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (lo, hi) = range(
        groups
            .iter()
            .flat_map(|g| g.1.iter().flat_map(|p| [p.0, p.1])),
        0.05,
    );
    let mut chart = diagonal_chart(&root, title, (lo, hi), xl, yl)?;
    for (i, (e, pts)) in groups.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?
            .label(format!("ε = {e}"))
            .legend(move |(x, y)| Circle::new((x, y), 4, c.filled()));
    }
    upper_left_legend(&mut chart)?;
    root.present()?;
    Ok(())
}

/// Box plot of labelled groups (x = group index); `reference` draws a dotted horizontal line.
pub(super) fn boxplot(
    path: &Path,
    title: &str,
    yl: &str,
    groups: &[(String, Vec<f64>)],
    reference: Option<f64>,
) -> Res {
    let w = (120 + 70 * groups.len()).max(480) as u32;
    let root = SVGBackend::new(path, (w, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (lo, hi) = range(groups.iter().flat_map(|g| g.1.iter().copied()), 0.08);
    let n = groups.len() as f64;
    let mut chart = box_chart(&root, title, groups.len(), (lo, hi), yl, 180)?;
    if let Some(r) = reference {
        chart.draw_series(DashedLineSeries::new(
            vec![(0.0, r), (n, r)],
            4,
            4,
            BLACK.mix(0.6).into(),
        ))?;
    }
    for (i, (label, v)) in groups.iter().enumerate() {
        let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        s.sort_by(f64::total_cmp);
        let x = i as f64;
        let c = color(i);
        let label = format!("{label} (n={})", s.len());
        if s.is_empty() {
            draw_box_label(&mut chart, x, label, 12)?;
            continue;
        }
        let q = (quantile(&s, 0.25), quantile(&s, 0.5), quantile(&s, 0.75));
        let w = (s[0], s[s.len() - 1]);
        draw_box(&mut chart, x, q, w, c, c.mix(0.35).filled(), label, 12)?;
        chart.draw_series(
            s.iter()
                .map(|&y| Circle::new((x + 0.5, y), 2, c.mix(0.6).filled())),
        )?;
    }
    root.present()?;
    Ok(())
}

/// Overlaid histograms on `[lo, hi]` with `bins` bins.
pub(super) fn histograms(
    path: &Path,
    title: &str,
    xl: &str,
    series: &[(String, Vec<f64>)],
    bins: usize,
) -> Res {
    let root = SVGBackend::new(path, (640, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (lo, hi) = range(series.iter().flat_map(|s| s.1.iter().copied()), 0.02);
    let bw = (hi - lo) / bins as f64;
    let counts: Vec<Vec<usize>> = series
        .iter()
        .map(|(_, v)| {
            let mut c = vec![0; bins];
            for x in v.iter().filter(|x| x.is_finite()) {
                c[(((x - lo) / bw) as usize).min(bins - 1)] += 1;
            }
            c
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(45)
        .build_cartesian_2d(lo..hi, 0.0..top)?;
    chart.configure_mesh().x_desc(xl).y_desc("runs").draw()?;
    for (i, ((label, _), c)) in series.iter().zip(&counts).enumerate() {
        let col = color(i);
        chart
            .draw_series(c.iter().enumerate().filter(|(_, &k)| k > 0).map(|(b, &k)| {
                let x0 = lo + b as f64 * bw;
                Rectangle::new([(x0, 0.0), (x0 + bw, k as f64)], col.mix(0.45).filled())
            }))?
            .label(label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], col.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
