//! The paper's own runs, as data: the final test accuracies the authors plotted, one marker per run, read
//! back from their figure SVGs ([`crate::figures`]) and committed under `paper/results/paper-runs/` with
//! their provenance ([`sources::SOURCES`]; the folder's README says how each was read and checked). The
//! files are compiled into the library, so [`committed`] works from any folder.
//!
//! [`compare`] puts them beside a sweep's runs (the report's section "The paper's own runs beside ours") and
//! recomputes the paper's printed Mann–Whitney statistics from them ([`compare::printed_checks`]).

pub mod compare;
pub mod sources;

use crate::error::{Error, Result};
use crate::model::Preset;

pub use sources::{csv_from_figure, git_blob_id, source, EpsFrom, Layout, Source, SOURCES};

/// The committed files, by name (compiled in).
const FILES: [(&str, &str); 7] = [
    (
        "fig5c.csv",
        include_str!("../../../paper/results/paper-runs/fig5c.csv"),
    ),
    (
        "fig4a.csv",
        include_str!("../../../paper/results/paper-runs/fig4a.csv"),
    ),
    (
        "fig7-lateral.csv",
        include_str!("../../../paper/results/paper-runs/fig7-lateral.csv"),
    ),
    (
        "fig2a.csv",
        include_str!("../../../paper/results/paper-runs/fig2a.csv"),
    ),
    (
        "fig2-eiln-vs-eln.csv",
        include_str!("../../../paper/results/paper-runs/fig2-eiln-vs-eln.csv"),
    ),
    (
        "fig6a-boxes.csv",
        include_str!("../../../paper/results/paper-runs/fig6a-boxes.csv"),
    ),
    (
        "fig7b-boxes.csv",
        include_str!("../../../paper/results/paper-runs/fig7b-boxes.csv"),
    ),
];

/// The folder's README (compiled in): it must name every source's repository, commit, path and blob.
const README: &str = include_str!("../../../paper/results/paper-runs/README.md");

/// Where the committed files live, relative to the repository root (for messages).
pub const FOLDER: &str = "paper/results/paper-runs";

/// One plotted run: a marker of a scatter (its y run, or its x run).
#[derive(Clone, Debug, PartialEq)]
pub struct PaperPoint {
    /// The committed file it comes from.
    pub csv: &'static str,
    /// The condition.
    pub preset: Preset,
    /// ε.
    pub eps: f64,
    /// Final test accuracy (%).
    pub acc: f64,
    /// The marker lies outside the figure's axes (clipped from view).
    pub clipped: bool,
    /// The other run of the marker (its condition and accuracy): the same configuration, other condition.
    pub paired: (Preset, f64),
}

/// One box of a box plot, or a dotted median line (then only `median` is set, the rest NaN).
#[derive(Clone, Debug, PartialEq)]
pub struct PaperBox {
    /// The committed file it comes from.
    pub csv: &'static str,
    /// The condition.
    pub preset: Preset,
    /// ε.
    pub eps: f64,
    /// A dotted line at the median of all runs, not a box.
    pub line: bool,
    /// First quartile, median, third quartile (linear interpolation, as matplotlib's box plot).
    pub q1: f64,
    /// See `q1`.
    pub median: f64,
    /// See `q1`.
    pub q3: f64,
    /// Whisker ends (last run within 1.5 IQR of the box).
    pub whiskers: (f64, f64),
    /// Runs beyond the whiskers.
    pub fliers: Vec<f64>,
    /// The figure marks the box with "~": runs at or below 10 % were left out of it.
    pub hidden: bool,
}

/// Everything in `paper/results/paper-runs/`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PaperRuns {
    /// Scatter markers: each marker gives one point for its y condition (`paired` = its x run) and one for
    /// its x condition (`paired` = its y run).
    pub points: Vec<PaperPoint>,
    /// Box-plot statistics and median lines.
    pub boxes: Vec<PaperBox>,
}

impl PaperRuns {
    /// The runs of `preset` at `eps` from the first file in [`SOURCES`] order that plots them (every file
    /// plotting a condition plots the same runs; `paper_runs::` tests check it): (file, accuracies).
    pub fn runs(&self, preset: Preset, eps: f64) -> Option<(&'static str, Vec<f64>)> {
        SOURCES.iter().find_map(|s| {
            let v: Vec<f64> = self
                .points
                .iter()
                .filter(|p| p.csv == s.csv && p.preset == preset && p.eps == eps)
                .map(|p| p.acc)
                .collect();
            (!v.is_empty()).then_some((s.csv, v))
        })
    }

    /// Every (condition, ε) with plotted runs, in [`Preset`] then ε order.
    pub fn cells(&self) -> Vec<(Preset, f64)> {
        let mut v: Vec<(Preset, f64)> = self.points.iter().map(|p| (p.preset, p.eps)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        v.dedup();
        v
    }

    /// The boxes (not median lines) of `preset` at `eps`, one per file that draws one.
    pub fn boxes_of(&self, preset: Preset, eps: f64) -> Vec<&PaperBox> {
        self.boxes
            .iter()
            .filter(|b| !b.line && b.preset == preset && b.eps == eps)
            .collect()
    }
}

fn bad(file: &str, reason: impl Into<String>) -> Error {
    Error::Format {
        path: format!("{FOLDER}/{file}"),
        reason: reason.into(),
    }
}

/// Splits a committed file into its `# key: value` lines and its data lines, and checks that the
/// provenance lines are those of `s` ([`sources::provenance`]): a file without them, or with another
/// source's, is refused.
fn checked_body<'t>(s: &Source, text: &'t str) -> Result<Vec<&'t str>> {
    let meta: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter_map(|l| l.split_once(": "))
        .collect();
    for (k, want) in sources::provenance(s) {
        match meta.iter().find(|(key, _)| *key == k) {
            Some((_, got)) if *got == want => {}
            Some((_, got)) => {
                return Err(bad(
                    s.csv,
                    format!("provenance `# {k}:` is \"{got}\", expected \"{want}\""),
                ))
            }
            None => return Err(bad(s.csv, format!("provenance line `# {k}:` missing"))),
        }
    }
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect())
}

fn num(file: &str, line: usize, what: &str, s: &str) -> Result<f64> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| bad(file, format!("line {line}: {what} \"{s}\" is not a number")))
}

fn preset(file: &str, line: usize, s: &str) -> Result<Preset> {
    Preset::parse(s).map_err(|e| bad(file, format!("line {line}: {e}")))
}

/// Parses one committed file of source `s`. Errors ([`Error::Format`], naming the file and line) on missing
/// or foreign provenance, wrong columns, values that are not numbers, conditions or ε the source does not
/// plot, and (scatters) a condition and ε with another number of runs than `s.runs_per_eps`.
pub fn parse(s: &'static Source, text: &str) -> Result<PaperRuns> {
    let body = checked_body(s, text)?;
    let Some((head, rows)) = body.split_first() else {
        return Err(bad(s.csv, "no column line"));
    };
    let mut out = PaperRuns::default();
    match s.layout {
        Layout::Scatter { x, y, .. } => {
            if *head != sources::POINT_COLUMNS {
                return Err(bad(
                    s.csv,
                    format!(
                        "columns \"{head}\", expected \"{}\"",
                        sources::POINT_COLUMNS
                    ),
                ));
            }
            for (i, row) in rows.iter().enumerate() {
                let line = i + 2;
                let f: Vec<&str> = row.split(',').collect();
                let [ys, e, ya, xs, xa, clipped] = f.as_slice() else {
                    return Err(bad(
                        s.csv,
                        format!("line {line}: {} fields, expected 6", f.len()),
                    ));
                };
                let (yp, xp) = (preset(s.csv, line, ys)?, preset(s.csv, line, xs)?);
                if (xp, yp) != (x, y) {
                    return Err(bad(
                        s.csv,
                        format!(
                            "line {line}: conditions {ys}/{xs}, the figure plots {}/{}",
                            y.name(),
                            x.name()
                        ),
                    ));
                }
                let eps = num(s.csv, line, "ε", e)?;
                if !s.eps.contains(&eps) {
                    return Err(bad(
                        s.csv,
                        format!("line {line}: ε = {eps}, the figure plots {:?}", s.eps),
                    ));
                }
                let (ya, xa) = (
                    num(s.csv, line, "accuracy", ya)?,
                    num(s.csv, line, "x accuracy", xa)?,
                );
                let clipped = match *clipped {
                    "yes" => true,
                    "no" => false,
                    other => {
                        return Err(bad(
                            s.csv,
                            format!("line {line}: clipped \"{other}\" (yes or no)"),
                        ))
                    }
                };
                out.points.push(PaperPoint {
                    csv: s.csv,
                    preset: y,
                    eps,
                    acc: ya,
                    clipped,
                    paired: (x, xa),
                });
                out.points.push(PaperPoint {
                    csv: s.csv,
                    preset: x,
                    eps,
                    acc: xa,
                    clipped,
                    paired: (y, ya),
                });
            }
            for &eps in s.eps {
                let n = out
                    .points
                    .iter()
                    .filter(|p| p.preset == y && p.eps == eps)
                    .count();
                if n != s.runs_per_eps {
                    return Err(bad(
                        s.csv,
                        format!(
                            "ε = {eps}: {n} runs, the paper reports {} per ε",
                            s.runs_per_eps
                        ),
                    ));
                }
            }
        }
        Layout::Boxes { boxes, reference } => {
            if *head != sources::BOX_COLUMNS {
                return Err(bad(
                    s.csv,
                    format!("columns \"{head}\", expected \"{}\"", sources::BOX_COLUMNS),
                ));
            }
            for (i, row) in rows.iter().enumerate() {
                let line = i + 2;
                let f: Vec<&str> = row.split(',').collect();
                let [p, e, kind, q1, med, q3, wl, wh, fl, hidden] = f.as_slice() else {
                    return Err(bad(
                        s.csv,
                        format!("line {line}: {} fields, expected 10", f.len()),
                    ));
                };
                let preset = preset(s.csv, line, p)?;
                let eps = num(s.csv, line, "ε", e)?;
                if !s.eps.contains(&eps) {
                    return Err(bad(
                        s.csv,
                        format!("line {line}: ε = {eps}, the figure plots {:?}", s.eps),
                    ));
                }
                let median = num(s.csv, line, "median", med)?;
                let b = match *kind {
                    "median-line" if preset == reference => PaperBox {
                        csv: s.csv,
                        preset,
                        eps,
                        line: true,
                        q1: f64::NAN,
                        median,
                        q3: f64::NAN,
                        whiskers: (f64::NAN, f64::NAN),
                        fliers: Vec::new(),
                        hidden: false,
                    },
                    "box" if boxes.iter().any(|(_, q)| *q == preset) => PaperBox {
                        csv: s.csv,
                        preset,
                        eps,
                        line: false,
                        q1: num(s.csv, line, "q1", q1)?,
                        median,
                        q3: num(s.csv, line, "q3", q3)?,
                        whiskers: (
                            num(s.csv, line, "whisker_low", wl)?,
                            num(s.csv, line, "whisker_high", wh)?,
                        ),
                        fliers: fl
                            .split_whitespace()
                            .map(|v| num(s.csv, line, "flier", v))
                            .collect::<Result<_>>()?,
                        hidden: match *hidden {
                            "yes" => true,
                            "no" => false,
                            other => {
                                return Err(bad(
                                    s.csv,
                                    format!("line {line}: hidden \"{other}\" (yes or no)"),
                                ))
                            }
                        },
                    },
                    other => {
                        return Err(bad(
                            s.csv,
                            format!(
                                "line {line}: a {other:?} of {p}, which the figure does not draw"
                            ),
                        ))
                    }
                };
                out.boxes.push(b);
            }
            for &eps in s.eps {
                let n = out.boxes.iter().filter(|b| b.eps == eps && !b.line).count();
                if n != boxes.len() {
                    return Err(bad(
                        s.csv,
                        format!("ε = {eps}: {n} boxes, the figure draws {}", boxes.len()),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// Checks that `readme` names every source's repository, commit, path and blob.
pub fn check_readme(readme: &str) -> Result<()> {
    for s in &SOURCES {
        for (what, v) in [
            ("repository", s.repo),
            ("commit", s.commit),
            ("path", s.path),
            ("blob", s.blob),
        ] {
            if !readme.contains(v) {
                return Err(bad(
                    "README.md",
                    format!("does not name the {what} of {} ({v})", s.csv),
                ));
            }
        }
    }
    Ok(())
}

/// The committed files, parsed and checked ([`parse`] each, [`check_readme`] on the folder's README).
pub fn committed() -> Result<PaperRuns> {
    check_readme(README)?;
    let mut all = PaperRuns::default();
    for s in &SOURCES {
        let text = FILES
            .iter()
            .find(|(name, _)| *name == s.csv)
            .map(|(_, t)| *t)
            .ok_or_else(|| bad(s.csv, "not compiled in"))?;
        let p = parse(s, text)?;
        all.points.extend(p.points);
        all.boxes.extend(p.boxes);
    }
    Ok(all)
}
