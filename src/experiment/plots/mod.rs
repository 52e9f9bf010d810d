//! SVG figures (plotters, SVG backend, text as `<text>` elements) for Figs 1b, 2a, 2b, 3b, 4a, 4b, 5b, 5c,
//! 6a, 6b and 7b from whatever results a sweep holds, and the paper's own runs over ours (Figs 4a, 5c, 6a and
//! the lateral scatter of Fig 7, [`overlay`](self)); a figure whose conditions are absent is skipped with a
//! note. Box plots draw the median, the quartiles (linear interpolation) and whiskers at min/max.

use std::path::Path;

use plotters::prelude::*;

use crate::data::shift::shifted_batch;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::{GradNorm, Preset};
use crate::rng::{SeedRng, Stream};
use crate::train::RunResult;

use super::common::eps_levels;

mod draw;
mod overlay;
use draw::{boxplot, histograms, scatter, Res};

/// One figure: its id, the file written (if any), and a note.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FigureNote {
    /// `Fig 2a`, ...
    pub id: &'static str,
    /// What it shows.
    pub title: String,
    /// File name inside the output folder, `None` when skipped.
    pub file: Option<String>,
    /// Why it was skipped, or what it holds.
    pub note: String,
}

fn by(results: &[RunResult], p: Preset) -> Vec<&RunResult> {
    results
        .iter()
        .filter(|r| r.config.spec.preset == p)
        .collect()
}

/// Points (x = `xp` accuracy, y = `yp` accuracy) paired by (config, seed, ε), grouped by ε.
fn pairs(results: &[RunResult], xp: Preset, yp: Preset) -> Vec<(f64, Vec<(f64, f64)>)> {
    let mut out = Vec::new();
    for e in eps_levels(results, xp) {
        let xs = by(results, xp);
        let ys = by(results, yp);
        let pts: Vec<(f64, f64)> = xs
            .iter()
            .filter(|r| r.config.eps == e)
            .filter_map(|x| {
                ys.iter()
                    .find(|y| {
                        y.config.eps == e
                            && y.config.config_index == x.config.config_index
                            && y.config.seed == x.config.seed
                    })
                    .map(|y| (x.final_metrics.test_acc, y.final_metrics.test_acc))
            })
            .collect();
        if !pts.is_empty() {
            out.push((e, pts));
        }
    }
    out
}

/// Fig 1b: the first 16 training images at ε = 0 (top) and ε = 0.75 (bottom, each its own offset).
pub fn fig1b(ds: &Dataset, path: &Path) -> Res {
    let n = ds.len().min(16);
    let side = (ds.dim as f64).sqrt() as usize;
    if n == 0 || side * side != ds.dim {
        return Err("dataset has no square images".into());
    }
    let idx: Vec<usize> = (0..n).collect();
    let (mut x0, mut x1, mut y) = (Vec::new(), Vec::new(), Vec::new());
    let mut rng = SeedRng::new(0, Stream::Test, 0x1b);
    shifted_batch(ds, &idx, 0.0, &mut rng, &mut x0, &mut y);
    shifted_batch(ds, &idx, 0.75, &mut rng, &mut x1, &mut y);
    let px = 3i32;
    let cell = side as i32 * px + 4;
    let root = SVGBackend::new(
        path,
        ((n as i32 * cell + 110) as u32, (2 * cell + 40) as u32),
    )
    .into_drawing_area();
    root.fill(&WHITE)?;
    root.draw(&Text::new(
        "Fig 1b: first training images, ε = 0 (top) and ε = 0.75 (bottom)",
        (4, 4),
        ("sans-serif", 14).into_font(),
    ))?;
    for (row, (x, label)) in [(&x0, "ε = 0"), (&x1, "ε = 0.75")].into_iter().enumerate() {
        let oy = 28 + row as i32 * cell;
        root.draw(&Text::new(
            label,
            (4, oy + cell / 2),
            ("sans-serif", 13).into_font(),
        ))?;
        for i in 0..n {
            let ox = 100 + i as i32 * cell;
            let img: Vec<u8> = x[i * ds.dim..(i + 1) * ds.dim]
                .iter()
                .map(|v| (v.clamp(0.0, 1.0) * 255.0) as u8)
                .collect();
            // Fill with the most common grey (the shifted background), then draw only the other pixels:
            // keeps the SVG small.
            let mut hist = [0usize; 256];
            img.iter().for_each(|&v| hist[v as usize] += 1);
            let bg = (0..256).max_by_key(|&v| hist[v]).unwrap_or(0) as u8;
            root.draw(&Rectangle::new(
                [(ox, oy), (ox + side as i32 * px, oy + side as i32 * px)],
                RGBColor(bg, bg, bg).filled(),
            ))?;
            for (p, &v) in img.iter().enumerate() {
                if v == bg {
                    continue;
                }
                let (r, c) = ((p / side) as i32, (p % side) as i32);
                root.draw(&Rectangle::new(
                    [
                        (ox + c * px, oy + r * px),
                        (ox + c * px + px, oy + r * px + px),
                    ],
                    RGBColor(v, v, v).filled(),
                ))?;
            }
        }
    }
    root.present()?;
    Ok(())
}

fn acc_groups_per_eps(results: &[RunResult], presets: &[Preset]) -> Vec<(String, Vec<f64>)> {
    let mut eps: Vec<f64> = presets
        .iter()
        .flat_map(|p| eps_levels(results, *p))
        .collect();
    eps.sort_by(f64::total_cmp);
    eps.dedup();
    let mut g = Vec::new();
    for e in eps {
        for &p in presets {
            let v: Vec<f64> = by(results, p)
                .iter()
                .filter(|r| r.config.eps == e)
                .map(|r| r.final_metrics.test_acc)
                .collect();
            if !v.is_empty() {
                g.push((format!("{} ε={e}", short(p)), v));
            }
        }
    }
    g
}

fn short(p: Preset) -> String {
    match p {
        Preset::INormGn(g) => format!("GN {}", g.name()),
        _ => p.label(),
    }
}

fn metric(
    results: &[RunResult],
    p: Preset,
    max_eps_only: bool,
    f: fn(&RunResult) -> f64,
) -> Vec<f64> {
    let hi = eps_levels(results, p).last().copied();
    by(results, p)
        .iter()
        .filter(|r| !max_eps_only || Some(r.config.eps) == hi)
        .map(|r| f(r))
        .filter(|v| v.is_finite())
        .collect()
}

/// Writes every figure the results allow into `out` (and Fig 1b when `images` is given); returns one note
/// per figure.
pub fn write_figures(
    results: &[RunResult],
    images: Option<&Dataset>,
    out: &Path,
) -> Result<Vec<FigureNote>> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut notes = Vec::new();
    let mut emit = |id: &'static str,
                    title: &str,
                    file: &str,
                    present: bool,
                    why: String,
                    draw: &dyn Fn(&Path) -> Res| {
        if !present {
            notes.push(FigureNote {
                id,
                title: title.into(),
                file: None,
                note: format!("skipped: {why}"),
            });
            return;
        }
        let p = out.join(file);
        match draw(&p) {
            Ok(()) => notes.push(FigureNote {
                id,
                title: title.into(),
                file: Some(file.into()),
                note: why,
            }),
            Err(e) => notes.push(FigureNote {
                id,
                title: title.into(),
                file: None,
                note: format!("failed: {e}"),
            }),
        }
    };
    let has = |p: Preset| results.iter().any(|r| r.config.spec.preset == p);
    let need = |ps: &[Preset]| -> (bool, String) {
        let miss: Vec<String> = ps.iter().filter(|p| !has(**p)).map(|p| p.label()).collect();
        if miss.is_empty() {
            (true, String::new())
        } else {
            (false, format!("no runs of {}", miss.join(", ")))
        }
    };
    let acc = |r: &RunResult| r.final_metrics.test_acc;
    let _ = acc;

    let t = "Fig 1b: example images, ε = 0 vs ε = 0.75";
    match images {
        Some(ds) => emit(
            "Fig 1b",
            t,
            "fig1b_examples.svg",
            true,
            "first 16 training images".into(),
            &|p| fig1b(ds, p),
        ),
        None => emit(
            "Fig 1b",
            t,
            "",
            false,
            "no image data given".into(),
            &|_| Ok(()),
        ),
    }

    for (id, file, xp, yp, title) in [
        (
            "Fig 2a",
            "fig2a_eiln_vs_ei.svg",
            Preset::EiLn,
            Preset::Ei,
            "Fig 2a: EI LN+ vs EI LN−",
        ),
        (
            "Fig 4a",
            "fig4a_eln_vs_inorm.svg",
            Preset::ELn,
            Preset::INorm,
            "Fig 4a: E LN+ vs I-Norm",
        ),
        (
            "Fig 5c",
            "fig5c_eln_vs_gnfull.svg",
            Preset::ELn,
            Preset::INormGn(GradNorm::Full),
            "Fig 5c: E LN+ vs I-Norm + GN full",
        ),
    ] {
        let (ok, why) = need(&[xp, yp]);
        let g = if ok {
            pairs(results, xp, yp)
        } else {
            Vec::new()
        };
        let ok = ok && !g.is_empty();
        let why = if ok {
            format!(
                "{} paired runs; points below the diagonal: y < x",
                g.iter().map(|x| x.1.len()).sum::<usize>()
            )
        } else if why.is_empty() {
            "no paired runs".into()
        } else {
            why
        };
        emit(id, title, file, ok, why, &|p| {
            scatter(
                p,
                title,
                &format!("{} test accuracy (%)", xp.label()),
                &format!("{} test accuracy (%)", yp.label()),
                &g,
            )
        });
    }

    {
        let (ok, why) = need(&[Preset::EiLn, Preset::ELn]);
        let title = "Fig 2b: EI LN+ vs E LN+ (all ε pooled)";
        let g: Vec<(String, Vec<f64>)> = [Preset::EiLn, Preset::ELn]
            .iter()
            .map(|&p| {
                (
                    p.label(),
                    metric(results, p, false, |r| r.final_metrics.test_acc),
                )
            })
            .collect();
        emit(
            "Fig 2b",
            title,
            "fig2b_eiln_vs_eln.svg",
            ok,
            if ok {
                "final test accuracy, all runs".into()
            } else {
                why
            },
            &|p| boxplot(p, title, "test accuracy (%)", &g, None),
        );
    }

    {
        let ps = [Preset::Ei, Preset::INormSub, Preset::INorm];
        let present: Vec<Preset> = ps.iter().copied().filter(|p| has(*p)).collect();
        let ok = present.contains(&Preset::INorm) || present.contains(&Preset::Ei);
        let title = "Fig 3b: hidden activity moments (test set, mean of fc0/fc1)";
        let mut g = Vec::new();
        for &p in &present {
            g.push((
                format!("{} μ̄", short(p)),
                metric(results, p, false, |r| r.final_metrics.mean),
            ));
        }
        for &p in &present {
            g.push((
                format!("{} v̄", short(p)),
                metric(results, p, false, |r| r.final_metrics.var),
            ));
        }
        let why = if ok {
            format!(
                "targets μ̄ = 0, v̄ = 1; conditions: {}",
                present
                    .iter()
                    .map(|p| p.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            "no runs of EI LN− or I-Norm".into()
        };
        emit("Fig 3b", title, "fig3b_moments.svg", ok, why, &|p| {
            boxplot(p, title, "moment", &g, None)
        });
    }

    for (id, file, preset, title) in [
        (
            "Fig 4b",
            "fig4b_alignment_inorm.svg",
            Preset::INorm,
            "Fig 4b: I-Norm (no GN) alignment, largest ε",
        ),
        (
            "Fig 5b",
            "fig5b_alignment_gnfull.svg",
            Preset::INormGn(GradNorm::Full),
            "Fig 5b: I-Norm + GN full alignment, largest ε",
        ),
    ] {
        let o = metric(results, preset, true, |r| r.final_metrics.output_alignment);
        let gr = metric(results, preset, true, |r| {
            r.final_metrics.gradient_alignment
        });
        let ok = !o.is_empty() && !gr.is_empty();
        let s = vec![
            ("output alignment".to_string(), o),
            ("gradient alignment".to_string(), gr),
        ];
        emit(
            id,
            title,
            file,
            ok,
            if ok {
                "last-step values, mean of fc0/fc1".into()
            } else {
                format!("no {} runs with diagnostics", preset.label())
            },
            &|p| histograms(p, title, "cosine", &s, 30),
        );
    }

    {
        let ps = [
            GradNorm::Scale,
            GradNorm::Decorrelate,
            GradNorm::Center,
            GradNorm::Full,
        ]
        .map(Preset::INormGn);
        let mut with: Vec<Preset> = ps.iter().copied().filter(|p| has(*p)).collect();
        let ok = !with.is_empty() && has(Preset::ELn);
        with.push(Preset::ELn);
        let g = acc_groups_per_eps(results, &with);
        let lnmed = crate::stats::median(&metric(results, Preset::ELn, false, |r| {
            r.final_metrics.test_acc
        }));
        let title = "Fig 6a: GradNorm variants vs E LN+ (dotted: E LN+ median, all ε)";
        emit(
            "Fig 6a",
            title,
            "fig6a_gn_variants.svg",
            ok,
            if ok {
                "final test accuracy per ε".into()
            } else {
                "needs E LN+ and at least one GN variant".into()
            },
            &|p| boxplot(p, title, "test accuracy (%)", &g, Some(lnmed)),
        );
    }

    {
        let s: Vec<(String, Vec<f64>)> = [GradNorm::Scale, GradNorm::Decorrelate, GradNorm::Center]
            .into_iter()
            .map(|g| {
                (
                    format!("GN {}", g.name()),
                    metric(results, Preset::INormGn(g), false, |r| {
                        r.final_metrics.gradient_alignment
                    }),
                )
            })
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let ok = !s.is_empty();
        let title = "Fig 6b: gradient alignment of GN scale / decorrelate / center (all ε)";
        emit(
            "Fig 6b",
            title,
            "fig6b_gradient_alignment.svg",
            ok,
            if ok {
                "last-step values".into()
            } else {
                "no GN scale/decorrelate/center runs".into()
            },
            &|p| histograms(p, title, "gradient alignment", &s, 30),
        );
    }

    {
        let ps = [GradNorm::Lateral, GradNorm::Center, GradNorm::Full].map(Preset::INormGn);
        let ok = has(ps[0]) && has(Preset::ELn);
        let mut with: Vec<Preset> = ps.iter().copied().filter(|p| has(*p)).collect();
        with.push(Preset::ELn);
        let g = acc_groups_per_eps(results, &with);
        let title = "Fig 7b: GN lateral, center, full vs E LN+";
        emit(
            "Fig 7b",
            title,
            "fig7b_lateral.svg",
            ok,
            if ok {
                "final test accuracy per ε".into()
            } else {
                "needs GN lateral and E LN+ runs".into()
            },
            &|p| boxplot(p, title, "test accuracy (%)", &g, None),
        );
    }

    // The paper's own runs over ours (paper/results/paper-runs/).
    let paper = super::paper_runs::committed();
    let paper_or = |why: &str| match &paper {
        Ok(_) => why.to_string(),
        Err(e) => format!("the paper's runs are not available: {e}"),
    };
    let empty = super::paper_runs::PaperRuns::default();
    let pr = paper.as_ref().unwrap_or(&empty);
    for (id, file, src, xp, yp, title) in [
        (
            "Fig 5c + paper",
            "paper_fig5c_eln_vs_gnfull.svg",
            "fig5c.csv",
            Preset::ELn,
            Preset::INormGn(GradNorm::Full),
            "Fig 5c: E LN+ vs GN full, the paper's runs (hollow) over ours",
        ),
        (
            "Fig 7 lateral + paper",
            "paper_fig7_lateral_vs_eln.svg",
            "fig7-lateral.csv",
            Preset::INormGn(GradNorm::Lateral),
            Preset::ELn,
            "Fig 7: GN lateral vs E LN+, the paper's runs (hollow) over ours",
        ),
    ] {
        let g = super::paper_runs::source(src)
            .map(|s| overlay::scatter_groups(results, pr, s, xp, yp))
            .unwrap_or_default();
        let n: usize = g.iter().map(|x| x.1.len() + x.2.len()).sum();
        emit(
            id,
            title,
            file,
            !g.is_empty(),
            if g.is_empty() {
                paper_or("no ε with both the paper's and our paired runs")
            } else {
                format!(
                    "{n} pairs (paper and ours), ε {}",
                    g.iter()
                        .map(|x| x.0.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            &|p| {
                overlay::scatter(
                    p,
                    title,
                    &format!("{} test accuracy (%)", xp.label()),
                    &format!("{} test accuracy (%)", yp.label()),
                    &g,
                )
            },
        );
    }
    for (id, file, presets, title) in [
        (
            "Fig 4a + paper",
            "paper_fig4a_boxes.svg",
            &overlay::FIG4A[..],
            "Fig 4a: E LN+ and I-Norm, the paper's runs (open boxes) beside ours",
        ),
        (
            "Fig 6a + paper",
            "paper_fig6a_boxes.svg",
            &overlay::FIG6A[..],
            "Fig 6a: E LN+ and GN variants, the paper's runs (open boxes) beside ours",
        ),
    ] {
        let g = overlay::box_groups(results, pr, presets);
        let ok = g.iter().any(|b| b.preset != presets[0]);
        emit(
            id,
            title,
            file,
            ok,
            if ok {
                format!("{} boxes (paper, ours) per condition and ε", g.len())
            } else {
                paper_or("no condition beside E LN+ with both the paper's runs and ours")
            },
            &|p| overlay::boxes(p, title, &g),
        );
    }
    Ok(notes)
}
