//! Where each committed file of `paper/results/paper-runs/` comes from (the authors' repository, commit,
//! path and git blob of the SVG; the notebook that drew it), how its series and ε are named, and how a
//! parsed [`Figure`] becomes that file's rows ([`csv_from_figure`]), which `inorm paper-runs extract`
//! writes.

use std::fmt::Write as _;

use sha1::{Digest, Sha1};

use crate::error::{Error, Result};
use crate::figures::{value_after_equals, Figure};
use crate::model::{GradNorm, Preset};
use crate::tolerance::ACC_GRID_ABS;

/// How the ε of a scatter's markers is known.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EpsFrom {
    /// From the legend entry of each marker colour (`$\epsilon$=0.25`).
    Legend,
    /// From a fixed colour → ε table (the figure has no legend; the table is that of the notebook's colour
    /// map, as another figure's legend with the same map shows).
    Colours(&'static [(&'static str, f64)]),
}

/// What a figure plots.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layout {
    /// One marker per pair of runs with the same configuration: x is the run of `x`, y that of `y`.
    Scatter {
        /// The condition on the x axis.
        x: Preset,
        /// The condition on the y axis.
        y: Preset,
        /// How ε is known.
        eps: EpsFrom,
    },
    /// One axes per ε (ε in its title), one box per condition named by its x tick label, and a dotted
    /// line across the axes at the median of `reference`.
    Boxes {
        /// Tick label → condition.
        boxes: &'static [(&'static str, Preset)],
        /// The condition whose median the dotted line marks.
        reference: Preset,
    },
}

/// One committed file and the figure it was read from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Source {
    /// The file name under `paper/results/paper-runs/`.
    pub csv: &'static str,
    /// The paper's figure (paper/model.md §10).
    pub figure: &'static str,
    /// The authors' repository (`owner/name` on GitHub).
    pub repo: &'static str,
    /// The commit that added this version of the SVG.
    pub commit: &'static str,
    /// The SVG's path in the repository.
    pub path: &'static str,
    /// The git blob id (SHA-1 of `blob <len>\0<bytes>`) of that version.
    pub blob: &'static str,
    /// The notebook that drew it (its path in the repository, and which cell).
    pub notebook: &'static str,
    /// What it plots.
    pub layout: Layout,
    /// The ε levels it holds.
    pub eps: &'static [f64],
    /// Runs per condition and ε that the figure must show (scatters: markers per ε; paper/model.md §8.4).
    pub runs_per_eps: usize,
}

const REPO: &str = "RoyHEyono/HomeostaticDANN";
const EPS4: &[f64] = &[0.0, 0.25, 0.5, 0.75];

/// The colours of the lateral scatter, ε = 0, 0.5, 0.75 (the notebook's truncated `bone` map over ε ∈ {0,
/// 0.5, 0.75, 1}; the same map's legend in `figure3a.svg` at commit 2716d242 names #2d2d3e ε=0, #656c84
/// ε=0.5, #8192a0 ε=0.75, #9db9bc ε=1).
const LATERAL_COLOURS: &[(&str, f64)] = &[("#2d2d3e", 0.0), ("#656c84", 0.5), ("#8192a0", 0.75)];

const fn gn(g: GradNorm) -> Preset {
    Preset::INormGn(g)
}

/// Every committed file, in the order [`super::PaperRuns::runs`] prefers them for a condition.
pub const SOURCES: [Source; 7] = [
    Source {
        csv: "fig5c.csv",
        figure: "Fig 5c",
        repo: REPO,
        commit: "c78080683daf1eb3575bf364a93781be166d44f0",
        path: "models/dense_mnist_task/figure_notebooks/figure3d2.svg",
        blob: "0c071e7931661e65fe8446d751482a24890d6b78",
        notebook:
            "models/dense_mnist_task/figure_notebooks/fig3.ipynb, the cell that saves figure3d2.svg",
        layout: Layout::Scatter {
            x: Preset::ELn,
            y: gn(GradNorm::Full),
            eps: EpsFrom::Legend,
        },
        eps: EPS4,
        runs_per_eps: 30,
    },
    Source {
        csv: "fig4a.csv",
        figure: "Fig 4a",
        repo: REPO,
        commit: "e610caf20b292439e6a43f205958c592f0f7b388",
        path: "models/dense_mnist_task/figure_notebooks/figure3a.svg",
        blob: "27435a998be51002e837da1ea604d8c36ceb7d7b",
        notebook:
            "models/dense_mnist_task/figure_notebooks/fig3.ipynb, the cell that saves figure3a.svg",
        layout: Layout::Scatter {
            x: Preset::ELn,
            y: Preset::INorm,
            eps: EpsFrom::Legend,
        },
        eps: EPS4,
        runs_per_eps: 30,
    },
    Source {
        csv: "fig7-lateral.csv",
        figure: "Fig 7 (lateral scatter)",
        repo: REPO,
        commit: "cfb4079b38f418b758e93fdf1ca907e976e79704",
        path: "models/dense_mnist_task/figure_notebooks/figure5c.svg",
        blob: "83b5c5f52a7e0f7678288ec65ab15abf113cc0a7",
        notebook:
            "models/dense_mnist_task/figure_notebooks/fig5.ipynb, the cell that saves figure5c.svg",
        layout: Layout::Scatter {
            x: gn(GradNorm::Lateral),
            y: Preset::ELn,
            eps: EpsFrom::Colours(LATERAL_COLOURS),
        },
        eps: &[0.0, 0.5, 0.75],
        runs_per_eps: 30,
    },
    Source {
        csv: "fig2a.csv",
        figure: "Fig 2a",
        repo: REPO,
        commit: "f64140627b4032f6b039fdff95ba5577ba47b8ba",
        path: "models/dense_mnist_task/figure_notebooks/figure1c.svg",
        blob: "0a08848d7539989dc079183e7dd925fc5854b81c",
        notebook:
            "models/dense_mnist_task/figure_notebooks/fig1.ipynb, the cell that saves figure1c.svg",
        layout: Layout::Scatter {
            x: Preset::EiLn,
            y: Preset::Ei,
            eps: EpsFrom::Legend,
        },
        eps: EPS4,
        runs_per_eps: 30,
    },
    Source {
        csv: "fig2-eiln-vs-eln.csv",
        figure: "Fig 2 (EI LN+ vs E LN+ scatter)",
        repo: REPO,
        commit: "f64140627b4032f6b039fdff95ba5577ba47b8ba",
        path: "models/dense_mnist_task/figure_notebooks/figure1e.svg",
        blob: "330a7df2c04403768da07109bcfad6d031953bc9",
        notebook:
            "models/dense_mnist_task/figure_notebooks/fig1.ipynb, the cell that saves figure1e.svg",
        layout: Layout::Scatter {
            x: Preset::EiLn,
            y: Preset::ELn,
            eps: EpsFrom::Legend,
        },
        eps: EPS4,
        runs_per_eps: 30,
    },
    Source {
        csv: "fig6a-boxes.csv",
        figure: "Fig 6a",
        repo: REPO,
        commit: "bc6278815121860f917858f3a2e0a727ea7ffaa5",
        path: "models/dense_mnist_task/figure_notebooks/figure4a.svg",
        blob: "1f42716ca973f3a99c1c2706fc1b9963889a5d19",
        notebook:
            "models/dense_mnist_task/figure_notebooks/fig4.ipynb, the cell that saves figure4a.svg",
        layout: Layout::Boxes {
            boxes: &[
                ("scale", gn(GradNorm::Scale)),
                ("decorrelate", gn(GradNorm::Decorrelate)),
                ("center", gn(GradNorm::Center)),
                ("full", gn(GradNorm::Full)),
            ],
            reference: Preset::ELn,
        },
        eps: EPS4,
        runs_per_eps: 30,
    },
    Source {
        csv: "fig7b-boxes.csv",
        figure: "Fig 7b",
        repo: REPO,
        commit: "bc6278815121860f917858f3a2e0a727ea7ffaa5",
        path: "models/dense_mnist_task/figure_notebooks/figure5b1.svg",
        blob: "928c7efa7615e01a5fa34b027abfb2bf4fcc77e7",
        notebook:
            "models/dense_mnist_task/figure_notebooks/fig5.ipynb, the cell that saves figure5b1.svg",
        layout: Layout::Boxes {
            boxes: &[
                ("lat. inhib.", gn(GradNorm::Lateral)),
                ("center", gn(GradNorm::Center)),
                ("full", gn(GradNorm::Full)),
            ],
            reference: Preset::ELn,
        },
        eps: EPS4,
        runs_per_eps: 30,
    },
];

/// The source whose file is `csv`, or whose figure id is `name` (case-insensitive, spaces ignored:
/// `fig5c`, `Fig 5c`, `fig5c.csv`).
pub fn source(name: &str) -> Result<&'static Source> {
    let key = |s: &str| s.to_lowercase().replace(' ', "");
    let k = key(name);
    SOURCES
        .iter()
        .find(|s| key(s.csv) == k || key(s.csv.trim_end_matches(".csv")) == k || key(s.figure) == k)
        .ok_or_else(|| Error::Unknown {
            what: "paper figure",
            got: name.to_string(),
            valid: SOURCES
                .iter()
                .map(|s| s.csv.trim_end_matches(".csv"))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The git blob id of `bytes`: SHA-1 of `blob <length>\0` followed by the bytes, in hex (what `git
/// hash-object` prints), so a file can be checked against the version a source names.
pub fn git_blob_id(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The provenance lines that open every committed file (`# key: value`), in order.
pub fn provenance(s: &Source) -> Vec<(&'static str, String)> {
    vec![
        ("figure", s.figure.to_string()),
        ("source", format!("{}@{}:{}", s.repo, s.commit, s.path)),
        ("blob", s.blob.to_string()),
        ("drawn by", s.notebook.to_string()),
    ]
}

/// The columns of a scatter file.
pub const POINT_COLUMNS: &str = "series,eps,accuracy,x_series,x_accuracy,clipped";
/// The columns of a box-plot file.
pub const BOX_COLUMNS: &str = "series,eps,kind,q1,median,q3,whisker_low,whisker_high,fliers,hidden";

fn bad(s: &Source, reason: String) -> Error {
    Error::Format {
        path: s.path.to_string(),
        reason,
    }
}

/// `v` on the 0.01-point grid of accuracies over 10,000 test images, recording the move in `largest`;
/// errors when it lies farther than [`ACC_GRID_ABS`] from it (the calibration or the figure is not what it
/// should be).
fn snap(s: &Source, v: f64, largest: &mut f64) -> Result<f64> {
    let g = (v * 100.0).round() / 100.0;
    if (v - g).abs() > ACC_GRID_ABS {
        return Err(bad(
            s,
            format!(
                "value {v:.6} is {:.2e} off the 0.01 grid of test accuracies",
                (v - g).abs()
            ),
        ));
    }
    *largest = largest.max((v - g).abs());
    Ok(g)
}

/// The committed file's text for `fig`, the figure of `s`: provenance lines, a calibration line, the
/// columns, then one row per marker (scatter, in drawing order) or per box and reference line (box plots,
/// ε ascending). Errors when the figure does not have the layout `s` describes: a series or ε missing or
/// unexpected, a series with another number of markers than `s.runs_per_eps`, a value off the 0.01 grid.
pub fn csv_from_figure(s: &Source, fig: &Figure) -> Result<String> {
    let mut out = String::new();
    for (k, v) in provenance(s) {
        let _ = writeln!(out, "# {k}: {v}");
    }
    let cal = |c: &std::result::Result<crate::figures::Calibration, String>| match c {
        Ok(c) => format!(
            "{} ticks {}…{}, misfit {:.1e}",
            c.ticks, c.span.0, c.span.1, c.misfit
        ),
        Err(_) => "none".into(),
    };
    let mut cals = Vec::new();
    for a in &fig.axes {
        cals.push(format!("{} x {}; y {}", a.id, cal(&a.x), cal(&a.y)));
    }
    let _ = writeln!(
        out,
        "# calibration: page position to value by a least-squares line through each axis's labelled ticks: {}",
        cals.join("; ")
    );
    let mut rows = String::new();
    let mut largest = 0.0;
    match s.layout {
        Layout::Scatter { x, y, eps } => scatter_rows(s, fig, x, y, eps, &mut rows, &mut largest)?,
        Layout::Boxes { boxes, reference } => {
            box_rows(s, fig, boxes, reference, &mut rows, &mut largest)?
        }
    }
    let _ = writeln!(
        out,
        "# snapped: accuracies of single runs to the 0.01-point grid of 10,000 test images (largest move \
         {largest:.1e}; quartiles and medians, which fall between runs, are not snapped)"
    );
    out.push_str(&rows);
    Ok(out)
}

fn scatter_rows(
    s: &Source,
    fig: &Figure,
    x: Preset,
    y: Preset,
    eps_from: EpsFrom,
    out: &mut String,
    largest: &mut f64,
) -> Result<()> {
    let axes: Vec<_> = fig.axes.iter().filter(|a| !a.series.is_empty()).collect();
    let [a] = axes.as_slice() else {
        return Err(bad(
            s,
            format!("{} axes with markers, expected 1", axes.len()),
        ));
    };
    let _ = writeln!(
        out,
        "# eps from: {}\n{POINT_COLUMNS}",
        match eps_from {
            EpsFrom::Legend => "the legend entry of each marker colour",
            EpsFrom::Colours(_) =>
                "each marker colour (the notebook's colour map; the figure has no legend)",
        }
    );
    let mut seen = Vec::new();
    for ser in &a.series {
        let colour = ser.colour.as_deref().unwrap_or("none");
        let e = match eps_from {
            EpsFrom::Legend => ser.label.as_deref().and_then(value_after_equals),
            EpsFrom::Colours(t) => t.iter().find(|(c, _)| *c == colour).map(|(_, e)| *e),
        }
        .ok_or_else(|| {
            bad(
                s,
                format!(
                    "markers of colour {colour} have no ε (legend: {:?})",
                    ser.label
                ),
            )
        })?;
        if !s.eps.contains(&e) || seen.contains(&e) {
            return Err(bad(
                s,
                format!("unexpected or repeated ε = {e} (colour {colour})"),
            ));
        }
        seen.push(e);
        if ser.points.len() != s.runs_per_eps {
            return Err(bad(
                s,
                format!(
                    "ε = {e}: {} markers, the paper reports {} runs per ε",
                    ser.points.len(),
                    s.runs_per_eps
                ),
            ));
        }
        for p in &ser.points {
            let _ = writeln!(
                out,
                "{},{e},{:.2},{},{:.2},{}",
                y.name(),
                snap(s, p.y, largest)?,
                x.name(),
                snap(s, p.x, largest)?,
                if p.clipped { "yes" } else { "no" }
            );
        }
    }
    if seen.len() != s.eps.len() {
        return Err(bad(s, format!("ε levels {seen:?}, expected {:?}", s.eps)));
    }
    Ok(())
}

fn box_rows(
    s: &Source,
    fig: &Figure,
    boxes: &[(&str, Preset)],
    reference: Preset,
    out: &mut String,
    largest: &mut f64,
) -> Result<()> {
    let _ = writeln!(
        out,
        "# eps from: each axes' title; hidden = yes where the figure marks the box with \"~\" (runs at or \
         below 10 % left out of it)\n{BOX_COLUMNS}"
    );
    let mut axes: Vec<(f64, &crate::figures::Axes)> = Vec::new();
    for a in fig.axes.iter().filter(|a| !a.boxes.is_empty()) {
        let e = a
            .title
            .as_deref()
            .and_then(value_after_equals)
            .ok_or_else(|| bad(s, format!("{}: no ε in its title {:?}", a.id, a.title)))?;
        axes.push((e, a));
    }
    axes.sort_by(|p, q| p.0.total_cmp(&q.0));
    let got: Vec<f64> = axes.iter().map(|p| p.0).collect();
    if got != s.eps {
        return Err(bad(
            s,
            format!("box-plot axes for ε {got:?}, expected {:?}", s.eps),
        ));
    }
    let f4 = |v: f64| format!("{v:.4}");
    for (e, a) in axes {
        if a.boxes.len() != boxes.len() {
            return Err(bad(
                s,
                format!("ε = {e}: {} boxes, expected {}", a.boxes.len(), boxes.len()),
            ));
        }
        for b in &a.boxes {
            let label = b.label.as_deref().unwrap_or("");
            let preset = boxes
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, p)| *p)
                .ok_or_else(|| {
                    bad(
                        s,
                        format!("ε = {e}: a box under the unknown tick label {label:?}"),
                    )
                })?;
            let half = if a.x_ticks.len() > 1 {
                0.5 * (a.x_ticks[1].0 - a.x_ticks[0].0).abs()
            } else {
                f64::INFINITY
            };
            let hidden = a
                .annotations
                .iter()
                .any(|t| t.text.trim() == "~" && (t.page_x - b.centre).abs() < half);
            let fliers: Vec<String> = b
                .fliers
                .iter()
                .map(|v| snap(s, *v, largest).map(|g| format!("{g:.2}")))
                .collect::<Result<_>>()?;
            let _ = writeln!(
                out,
                "{},{e},box,{},{},{},{:.2},{:.2},{},{}",
                preset.name(),
                f4(b.q1),
                f4(b.median),
                f4(b.q3),
                snap(s, b.whisker_low, largest)?,
                snap(s, b.whisker_high, largest)?,
                fliers.join(" "),
                if hidden { "yes" } else { "no" }
            );
        }
        let dotted: Vec<_> = a.references.iter().filter(|r| r.dashed).collect();
        let [r] = dotted.as_slice() else {
            return Err(bad(
                s,
                format!(
                    "ε = {e}: {} dotted lines across the axes, expected 1",
                    dotted.len()
                ),
            ));
        };
        let _ = writeln!(
            out,
            "{},{e},median-line,,{},,,,,",
            reference.name(),
            f4(r.y)
        );
    }
    Ok(())
}
