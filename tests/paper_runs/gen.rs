//! SVG figures with known contents, written the way matplotlib's SVG backend writes them (text as paths,
//! the label kept as an XML comment; ticks as `xtick_N`/`ytick_N` groups with a `<use>` mark; scatter
//! markers as `<use>` in `PathCollection_N` groups clipped to the axes; box plots as `patch_N` rectangles and
//! `line2d_N` paths; a legend whose handles precede their texts; clip paths at the end). The extractor is
//! tested on them: known values in, values read back out.

use std::fmt::Write as _;

/// The frame of every generated axes, in page units: left, right, top, bottom.
pub const FRAME: (f64, f64, f64, f64) = (60.0, 400.0, 20.0, 290.0);

/// One box of a box plot.
#[derive(Clone, Debug)]
pub struct GenBox {
    pub label: String,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub whiskers: (f64, f64),
    pub fliers: Vec<f64>,
    pub tilde: bool,
}

/// What to draw.
#[derive(Clone, Debug, Default)]
pub struct Plot {
    /// x limits (numeric axis) — ignored for box plots, whose x axis holds categories.
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    /// Tick values; `None` draws a tick mark without a label.
    pub x_ticks: Vec<Option<f64>>,
    pub y_ticks: Vec<Option<f64>>,
    /// (fill colour, legend label, points).
    pub series: Vec<(String, Option<String>, Vec<(f64, f64)>)>,
    pub boxes: Vec<GenBox>,
    pub reference: Option<f64>,
    pub title: Option<String>,
    /// A transform list put on a group around the axes.
    pub wrap: Option<String>,
}

/// An accuracy scatter, both axes 77–90 with ticks every 2.5 points from 77.5.
pub fn scatter_plot(series: Vec<(String, Option<String>, Vec<(f64, f64)>)>) -> Plot {
    let ticks: Vec<Option<f64>> = (0..6).map(|k| Some(77.5 + 2.5 * k as f64)).collect();
    Plot {
        x_range: (77.0, 90.0),
        y_range: (77.0, 90.0),
        x_ticks: ticks.clone(),
        y_ticks: ticks,
        series,
        ..Plot::default()
    }
}

fn label(v: f64) -> String {
    let s = format!("{v}");
    s.replace('-', "\u{2212}")
}

impl Plot {
    fn px(&self, x: f64) -> f64 {
        let (l, r, _, _) = FRAME;
        l + (x - self.x_range.0) / (self.x_range.1 - self.x_range.0) * (r - l)
    }

    fn py(&self, y: f64) -> f64 {
        let (_, _, t, b) = FRAME;
        b - (y - self.y_range.0) / (self.y_range.1 - self.y_range.0) * (b - t)
    }

    /// The page x of box `i`'s centre.
    pub fn box_x(&self, i: usize) -> f64 {
        let (l, r, _, _) = FRAME;
        l + (i as f64 + 0.5) / self.boxes.len() as f64 * (r - l)
    }
}

fn text(s: &mut String, id: &mut usize, content: &str, x: f64, y: f64) {
    *id += 1;
    let _ = write!(
        s,
        "<g id=\"text_{id}\">\n <!-- {content} -->\n <g transform=\"translate({x:.6} {y:.6})scale(0.2 -0.2)\">\n  \
         <use xlink:href=\"#ArialMT-38\"/>\n </g>\n</g>\n"
    );
}

/// The SVG text of `p`.
pub fn svg(p: &Plot) -> String {
    let (l, r, t, b) = FRAME;
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"no\"?>\n\
         <!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\"\n  \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n\
         <svg xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"460pt\" height=\"360pt\" viewBox=\"0 0 460 360\" \
         xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\">\n\
         <defs>\n <style type=\"text/css\">*{stroke-linejoin: round; stroke-linecap: butt}</style>\n</defs>\n\
         <g id=\"figure_1\">\n<g id=\"patch_1\">\n<path d=\"M 0 360 L 460 360 L 460 0 L 0 0 z\" style=\"fill: #ffffff\"/>\n</g>\n",
    );
    if let Some(w) = &p.wrap {
        let _ = writeln!(s, "<g transform=\"{w}\">");
    }
    let _ = write!(
        s,
        "<g id=\"axes_1\">\n<g id=\"patch_2\">\n<path d=\"M {l} {b} L {r} {b} L {r} {t} L {l} {t} z\" style=\"fill: #ffffff\"/>\n</g>\n"
    );
    let (mut line, mut tid, mut coll, mut patch) = (0usize, 0usize, 0usize, 2usize);
    let clip = "clip-path=\"url(#p0123456789)\"";
    // Scatter markers: one PathCollection per marker, as a scatter() call per point draws them.
    for (k, (colour, _, pts)) in p.series.iter().enumerate() {
        for (x, y) in pts {
            coll += 1;
            let _ = write!(s, "<g id=\"PathCollection_{coll}\">\n");
            if coll == 1 {
                s.push_str("<defs>\n<path id=\"mdot\" d=\"M 0 5 C 1.3 5 2.6 4.5 3.5 3.5 L -5 0 z\" style=\"stroke: #000000\"/>\n</defs>\n");
            }
            let _ = write!(
                s,
                "<g {clip}>\n<use xlink:href=\"#mdot\" x=\"{:.6}\" y=\"{:.6}\" style=\"fill: {colour}; stroke: {colour}; stroke-width: 2.5\"/>\n</g>\n</g>\n",
                p.px(*x),
                p.py(*y)
            );
            let _ = k;
        }
    }
    // Box plots.
    for (i, bx) in p.boxes.iter().enumerate() {
        let c = p.box_x(i);
        let (bl, br) = (c - 9.0, c + 9.0);
        let (y1, y3) = (p.py(bx.q1), p.py(bx.q3));
        patch += 1;
        let _ = write!(
            s,
            "<g id=\"patch_{patch}\">\n<path d=\"M {bl:.6} {y1:.6} \nL {br:.6} {y1:.6} \nL {br:.6} {y3:.6} \nL {bl:.6} {y3:.6} \nL {bl:.6} {y1:.6} \nz\n\" {clip} style=\"fill: #3f3f58; stroke: #000000\"/>\n</g>\n"
        );
        for (from, to) in [(y1, p.py(bx.whiskers.0)), (y3, p.py(bx.whiskers.1))] {
            line += 1;
            let _ = write!(
                s,
                "<g id=\"line2d_{line}\">\n<path d=\"M {c:.6} {from:.6} \nL {c:.6} {to:.6} \n\" {clip} style=\"fill: none; stroke: #000000\"/>\n</g>\n"
            );
        }
        for w in [bx.whiskers.0, bx.whiskers.1] {
            line += 1;
            let y = p.py(w);
            let _ = write!(
                s,
                "<g id=\"line2d_{line}\">\n<path d=\"M {:.6} {y:.6} \nL {:.6} {y:.6} \n\" {clip} style=\"fill: none; stroke: #000000\"/>\n</g>\n",
                c - 4.5,
                c + 4.5
            );
        }
        line += 1;
        let _ = write!(s, "<g id=\"line2d_{line}\">\n");
        if !bx.fliers.is_empty() {
            let _ = write!(
                s,
                "<defs>\n<path id=\"mflier{i}\" d=\"M 0 3 L 3 0 z\"/>\n</defs>\n<g {clip}>\n"
            );
            for f in &bx.fliers {
                let _ = writeln!(
                    s,
                    "<use xlink:href=\"#mflier{i}\" x=\"{c:.6}\" y=\"{:.6}\" style=\"fill-opacity: 0; stroke: #000000\"/>",
                    p.py(*f)
                );
            }
            s.push_str("</g>\n");
        }
        s.push_str("</g>\n");
    }
    // Medians after the boxes, as matplotlib orders them.
    for bx in p.boxes.iter() {
        let i = p
            .boxes
            .iter()
            .position(|q| std::ptr::eq(q, bx))
            .unwrap_or(0);
        let c = p.box_x(i);
        line += 1;
        let y = p.py(bx.median);
        let _ = write!(
            s,
            "<g id=\"line2d_{line}\">\n<path d=\"M {:.6} {y:.6} \nL {:.6} {y:.6} \n\" {clip} style=\"fill: none; stroke: #000000\"/>\n</g>\n",
            c - 9.0,
            c + 9.0
        );
    }
    if let Some(v) = p.reference {
        line += 1;
        let y = p.py(v);
        let _ = write!(
            s,
            "<g id=\"line2d_{line}\">\n<path d=\"M {l} {y:.6} \nL {r} {y:.6} \n\" {clip} style=\"fill: none; stroke-dasharray: 2.5,4.125; stroke-dashoffset: 0; stroke: #ff0000; stroke-width: 2.5\"/>\n</g>\n"
        );
    }
    // Axes: ticks with grid lines (y) and labels.
    let _ = write!(s, "<g id=\"matplotlib.axis_1\">\n");
    let x_ticks: Vec<(f64, Option<String>)> = if p.boxes.is_empty() {
        p.x_ticks
            .iter()
            .map(|v| (v.map_or(p.px(p.x_range.0), |v| p.px(v)), v.map(label)))
            .collect()
    } else {
        p.boxes
            .iter()
            .enumerate()
            .map(|(i, bx)| (p.box_x(i), Some(bx.label.clone())))
            .collect()
    };
    for (k, (pos, lab)) in x_ticks.iter().enumerate() {
        line += 1;
        let _ = write!(
            s,
            "<g id=\"xtick_{}\">\n<g id=\"line2d_{line}\">\n{}<g>\n<use xlink:href=\"#mtick\" x=\"{pos:.6}\" y=\"{b}\" style=\"stroke: #000000\"/>\n</g>\n</g>\n",
            k + 1,
            if k == 0 { "<defs>\n<path id=\"mtick\" d=\"M 0 0 L 0 8\"/>\n</defs>\n" } else { "" }
        );
        if let Some(lab) = lab {
            text(&mut s, &mut tid, lab, pos - 8.0, b + 25.0);
        }
        s.push_str("</g>\n");
    }
    text(&mut s, &mut tid, "x label (Acc. %)", 200.0, b + 45.0);
    s.push_str("</g>\n<g id=\"matplotlib.axis_2\">\n");
    for (k, v) in p.y_ticks.iter().enumerate() {
        let pos = v.map_or(p.py(p.y_range.0), |v| p.py(v));
        line += 2;
        let _ = write!(
            s,
            "<g id=\"ytick_{}\">\n<g id=\"line2d_{}\">\n<path d=\"M {l} {pos:.6} L {r} {pos:.6}\" {clip} style=\"fill: none; stroke: #b0b0b0\"/>\n</g>\n\
             <g id=\"line2d_{line}\">\n<g>\n<use xlink:href=\"#mtick\" x=\"{l}\" y=\"{pos:.6}\" style=\"stroke: #000000\"/>\n</g>\n</g>\n",
            k + 1,
            line - 1
        );
        if let Some(v) = v {
            text(&mut s, &mut tid, &label(*v), l - 30.0, pos + 5.0);
        }
        s.push_str("</g>\n");
    }
    text(&mut s, &mut tid, "y label", l - 45.0, 150.0);
    s.push_str("</g>\n");
    for (i, bx) in p.boxes.iter().enumerate() {
        if bx.tilde {
            text(
                &mut s,
                &mut tid,
                "~",
                p.box_x(i) - 5.0,
                p.py(bx.whiskers.1) - 4.0,
            );
        }
    }
    if let Some(title) = &p.title {
        text(&mut s, &mut tid, title, 200.0, t - 8.0);
    }
    if p.series.iter().any(|x| x.1.is_some()) {
        s.push_str("<g id=\"legend_1\">\n<g id=\"patch_99\">\n<path d=\"M 70 120 L 180 120 L 180 25 L 70 25 z\" style=\"fill: #ffffff\"/>\n</g>\n");
        for (k, (colour, lab, _)) in p.series.iter().enumerate() {
            let Some(lab) = lab else { continue };
            coll += 1;
            let y = 35.0 + 20.0 * k as f64;
            let _ = write!(
                s,
                "<g id=\"PathCollection_{coll}\">\n<g>\n<use xlink:href=\"#mdot\" x=\"90\" y=\"{y}\" style=\"fill: {colour}; stroke: {colour}\"/>\n</g>\n</g>\n"
            );
            text(&mut s, &mut tid, lab, 110.0, y + 4.0);
        }
        s.push_str("</g>\n");
    }
    s.push_str("</g>\n");
    if p.wrap.is_some() {
        s.push_str("</g>\n");
    }
    let _ = write!(
        s,
        "</g>\n<defs>\n<clipPath id=\"p0123456789\">\n<rect x=\"{l}\" y=\"{t}\" width=\"{}\" height=\"{}\"/>\n</clipPath>\n</defs>\n</svg>\n",
        r - l,
        b - t
    );
    s
}
