//! The SVG extractor (`inorm::figures`) on figures with known contents ([`super::gen`]): values round-trip
//! within [`SVG_ROUND_TRIP_REL`] of the axis span under any transform of the axes, overlapping markers stay
//! separate, markers outside the axes are kept and flagged, box plots read back, and bad input is an error
//! naming the file.

use proptest::prelude::*;

use inorm::figures::{value_after_equals, Figure};
use inorm::tolerance::SVG_ROUND_TRIP_REL;
use inorm::Error;

use super::gen::{scatter_plot, svg, GenBox, Plot};

fn points_strategy() -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec((77.0..90.0f64, 77.0..90.0f64), 1..35)
}

fn wrap_strategy() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        (-40.0..40.0f64, -40.0..40.0f64, 0.5..2.0f64)
            .prop_map(|(x, y, k)| Some(format!("translate({x} {y}) scale({k})"))),
        (0.5..2.0f64, -0.3..0.3f64, 0.5..2.0f64, -50.0..50.0f64)
            .prop_map(|(a, b, d, e)| Some(format!("matrix({a} 0 0 {d} {e} {b})"))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Known points in, the same points out (within the round-trip tolerance of the axis span), grouped by
    /// colour and named by the legend, whatever transform wraps the axes; a point drawn twice stays two.
    #[test]
    fn scatter_points_round_trip_under_transforms(
        a in points_strategy(),
        b in points_strategy(),
        wrap in wrap_strategy(),
    ) {
        let mut b = b;
        b.push(b[0]); // two runs with one accuracy: overlapping markers
        let mut p = scatter_plot(vec![
            ("#2d2d3e".into(), Some("$\\epsilon$=0".into()), a.clone()),
            ("#9db9bc".into(), Some("$\\epsilon$=0.75".into()), b.clone()),
        ]);
        p.wrap = wrap;
        let fig = Figure::parse(&svg(&p), "gen.svg").unwrap();
        prop_assert_eq!(fig.axes.len(), 1);
        let ax = &fig.axes[0];
        prop_assert_eq!(ax.series.len(), 2);
        let tol = SVG_ROUND_TRIP_REL * (p.x_range.1 - p.x_range.0);
        for (s, want, eps) in [(&ax.series[0], &a, 0.0), (&ax.series[1], &b, 0.75)] {
            prop_assert_eq!(s.label.as_deref().and_then(value_after_equals), Some(eps));
            prop_assert_eq!(s.points.len(), want.len());
            for (got, w) in s.points.iter().zip(want) {
                prop_assert!((got.x - w.0).abs() <= tol && (got.y - w.1).abs() <= tol,
                    "{:?} read back as ({}, {})", w, got.x, got.y);
                prop_assert!(!got.clipped);
            }
        }
        let (x0, x1, y0, y1) = ax.limits.unwrap();
        prop_assert!((x0 - 77.0).abs() <= tol && (x1 - 90.0).abs() <= tol);
        prop_assert!((y0 - 77.0).abs() <= tol && (y1 - 90.0).abs() <= tol);
    }

    /// Whatever the bytes, parsing returns (an error or a figure) and never panics: the generated file cut
    /// at any point, or with any byte replaced.
    #[test]
    fn damaged_files_never_panic(cut in 0usize..4000, at in 0usize..4000, byte in 0u8..128) {
        let text = svg(&scatter_plot(vec![("#2d2d3e".into(), None, vec![(80.0, 85.0)])]));
        let cut = cut.min(text.len());
        let _ = Figure::parse(&text[..cut], "cut.svg");
        let mut bytes = text.into_bytes();
        let at = at.min(bytes.len() - 1);
        bytes[at] = byte;
        if let Ok(t) = String::from_utf8(bytes) {
            let _ = Figure::parse(&t, "byte.svg");
        }
    }
}

/// A run at chance drawn below an axis that starts at 77 % is outside the frame: it is kept, with its value,
/// and flagged as clipped; the runs inside are not.
#[test]
fn markers_outside_the_axes_are_kept_and_flagged() {
    let p = scatter_plot(vec![(
        "#515171".into(),
        None,
        vec![(85.0, 10.0), (86.0, 84.0), (89.99, 10.0)],
    )]);
    let fig = Figure::parse(&svg(&p), "clipped.svg").unwrap();
    let pts = &fig.axes[0].series[0].points;
    assert_eq!(pts.len(), 3);
    let tol = SVG_ROUND_TRIP_REL * 13.0;
    assert!((pts[0].y - 10.0).abs() <= tol && (pts[2].y - 10.0).abs() <= tol);
    assert_eq!(
        pts.iter().map(|p| p.clipped).collect::<Vec<_>>(),
        [true, false, true]
    );
}

/// A tick without its label is skipped and the rest still calibrate the axis; with one numeric tick left,
/// the axis cannot be calibrated and markers on it are an error naming the file and the axis.
#[test]
fn missing_tick_labels() {
    let mut p = scatter_plot(vec![("#2d2d3e".into(), None, vec![(80.0, 85.0)])]);
    p.x_ticks[1] = None;
    p.x_ticks[4] = None;
    let fig = Figure::parse(&svg(&p), "gaps.svg").unwrap();
    let x = fig.axes[0].x.as_ref().unwrap();
    assert_eq!(x.ticks, 4);
    assert!((fig.axes[0].series[0].points[0].x - 80.0).abs() <= SVG_ROUND_TRIP_REL * 13.0);
    p.y_ticks = vec![Some(80.0), None, None];
    match Figure::parse(&svg(&p), "one_tick.svg") {
        Err(Error::Format { path, reason }) => {
            assert_eq!(path, "one_tick.svg");
            assert!(
                reason.contains("calibrated y axis")
                    && reason.contains("1 tick(s) with a numeric label"),
                "{reason}"
            );
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

fn format_error(text: &str, name: &str) -> String {
    match Figure::parse(text, name) {
        Err(Error::Format { path, reason }) => {
            assert_eq!(path, name);
            reason
        }
        other => panic!("{name}: expected a format error, got {other:?}"),
    }
}

/// Malformed input: each is an `Error::Format` naming the file, with the reason.
#[test]
fn malformed_files_are_errors_naming_the_file() {
    assert!(format_error("not xml at all <", "a.svg").contains("not XML"));
    assert!(format_error("<html/>", "b.svg").contains("<html>"));
    assert!(format_error(
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><g id=\"figure_1\"/></svg>",
        "c.svg"
    )
    .contains("no axes"));
    let good = svg(&scatter_plot(vec![(
        "#2d2d3e".into(),
        None,
        vec![(80.0, 85.0)],
    )]));
    let bad_number = good.replacen("#mdot\" x=\"", "#mdot\" x=\"1.2.3", 1);
    assert!(format_error(&bad_number, "d.svg").contains("is not a number"));
    let mut wrapped = scatter_plot(vec![("#2d2d3e".into(), None, vec![(80.0, 85.0)])]);
    wrapped.wrap = Some("translate(1 2) skewQ(3)".into());
    assert!(format_error(&svg(&wrapped), "e.svg").contains("bad transform"));
    // A log axis: labels 1, 10, 100 at even spacing do not lie on a line.
    let mut log = scatter_plot(vec![("#2d2d3e".into(), None, vec![(80.0, 85.0)])]);
    log.y_ticks = vec![Some(77.5), Some(80.0), Some(82.5)];
    let text = svg(&log)
        .replace("<!-- 77.5 -->", "<!-- 1 -->")
        .replace("<!-- 80 -->", "<!-- 10 -->")
        .replace("<!-- 82.5 -->", "<!-- 100 -->");
    assert!(format_error(&text, "f.svg").contains("straight line"));
}

/// A box plot reads back: quartiles, median, whiskers and fliers per box, named by the tick under it, the
/// dotted line across the axes, the "~" over a box and the title's ε.
#[test]
fn box_plots_read_back() {
    let boxes = vec![
        GenBox {
            label: "scale".into(),
            q1: 10.0,
            median: 10.0,
            q3: 79.8,
            whiskers: (10.0, 81.19),
            fliers: vec![],
            tilde: false,
        },
        GenBox {
            label: "decorrelate".into(),
            q1: 79.92,
            median: 81.65,
            q3: 82.33,
            whiskers: (76.7, 83.89),
            fliers: vec![70.5, 70.5, 72.25],
            tilde: true,
        },
    ];
    let p = Plot {
        x_range: (0.0, 1.0),
        y_range: (5.0, 90.0),
        y_ticks: vec![Some(20.0), Some(40.0), Some(60.0), Some(80.0)],
        boxes: boxes.clone(),
        reference: Some(85.14),
        title: Some("$\\epsilon$ = 0.75".into()),
        ..Plot::default()
    };
    let fig = Figure::parse(&svg(&p), "boxes.svg").unwrap();
    let ax = &fig.axes[0];
    assert!(ax.x.is_err(), "category ticks calibrate nothing");
    assert_eq!(ax.title.as_deref().and_then(value_after_equals), Some(0.75));
    let tol = SVG_ROUND_TRIP_REL * 85.0;
    let close = |a: f64, b: f64| (a - b).abs() <= tol;
    assert_eq!(ax.boxes.len(), 2);
    for (got, want) in ax.boxes.iter().zip(&boxes) {
        assert_eq!(got.label.as_deref(), Some(want.label.as_str()));
        assert!(
            close(got.q1, want.q1) && close(got.median, want.median) && close(got.q3, want.q3),
            "{got:?}"
        );
        assert!(
            close(got.whisker_low, want.whiskers.0) && close(got.whisker_high, want.whiskers.1),
            "{got:?}"
        );
        assert_eq!(got.fliers.len(), want.fliers.len());
        assert!(got
            .fliers
            .iter()
            .zip(&want.fliers)
            .all(|(a, b)| close(*a, *b)));
    }
    assert_eq!(ax.references.len(), 1);
    assert!(close(ax.references[0].y, 85.14) && ax.references[0].dashed);
    let tildes: Vec<_> = ax.annotations.iter().filter(|t| t.text == "~").collect();
    assert_eq!(tildes.len(), 1);
    assert!((tildes[0].page_x - p.box_x(1)).abs() < (p.box_x(1) - p.box_x(0)) / 2.0);
}
