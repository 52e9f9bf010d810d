//! The markdown report of a sweep: runs per condition and ε, the claims table (C4–C16) and the figure
//! list, written to `OUT/report.md` next to the SVG figures.

use std::fmt::Write as _;
use std::path::Path;

use crate::data::Dataset;
use crate::error::Result;
use crate::interop::write_atomic;
use crate::stats::median;
use crate::train::{RunResult, RunStatus};

use super::claims::{evaluate, ClaimOutcome};
use super::common::{at_chance, fmt_num as f, fmt_p, min_max};
use super::plots::{write_figures, FigureNote};
use super::MergeReport;

/// A p-value for tables: 3 decimals, scientific below 0.001, `–` for NaN.
pub fn p(x: f64) -> String {
    fmt_p(x)
}

/// The report's accuracy section: per condition and ε, the median final test accuracy, its range over
/// runs, the number of runs and how many of them ended at chance ([`at_chance`]; a diverged run records
/// 10 %), e.g. `81.56 [10.00–83.71] (n=6, 2 at chance)`.
pub fn accuracy_table(results: &[RunResult]) -> String {
    let mut s = String::from("## Final test accuracy (%: median [min–max] over runs)\n\n");
    let mut eps: Vec<f64> = results.iter().map(|r| r.config.eps).collect();
    eps.sort_by(f64::total_cmp);
    eps.dedup();
    let mut presets: Vec<crate::model::Preset> =
        results.iter().map(|r| r.config.spec.preset).collect();
    presets.sort();
    presets.dedup();
    let _ = writeln!(
        s,
        "| condition | {} |\n|---|{}",
        eps.iter()
            .map(|e| format!("ε={e}"))
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(eps.len())
    );
    for pr in &presets {
        let cells: Vec<String> = eps
            .iter()
            .map(|e| {
                let runs: Vec<&RunResult> = results
                    .iter()
                    .filter(|r| r.config.spec.preset == *pr && r.config.eps == *e)
                    .collect();
                let v: Vec<f64> = runs.iter().map(|r| r.final_metrics.test_acc).collect();
                if v.is_empty() {
                    return "–".into();
                }
                let (lo, hi) = min_max(&v);
                let chance = runs.iter().filter(|r| at_chance(r)).count();
                format!(
                    "{} [{}–{}] (n={}{})",
                    f(median(&v), 2),
                    f(lo, 2),
                    f(hi, 2),
                    v.len(),
                    if chance > 0 {
                        format!(", {chance} at chance")
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", pr.label(), cells.join(" | "));
    }
    s
}

/// `✓`, `✗` or `–`.
pub fn verdict(h: Option<bool>) -> &'static str {
    match h {
        Some(true) => "✓ held",
        Some(false) => "✗ not held",
        None => "– no data",
    }
}

/// The claims table in markdown.
pub fn claims_table(claims: &[ClaimOutcome]) -> String {
    let mut s = String::from(
        "| claim | figure | statement | effect | unit | n | U | p (MW) | p (Wilcoxon) | verdict | note |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for c in claims {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {}/{} | {} | {} | {} | {} | {} |",
            c.id,
            c.figure,
            c.statement.replace('|', "\\|"),
            f(c.effect, 3),
            c.unit,
            c.n.0,
            c.n.1,
            f(c.u, 1),
            p(c.p),
            p(c.p_wilcoxon),
            verdict(c.held),
            c.note.replace('|', "\\|")
        );
    }
    s
}

/// A plain-text claims table for the terminal.
pub fn claims_text(claims: &[ClaimOutcome]) -> String {
    let mut s = String::new();
    for c in claims {
        let _ = writeln!(
            s,
            "{:<4} {:<14} {:<12} effect {:>8} n {:>3}/{:<3} p {:>8}  {}",
            c.id,
            c.figure,
            verdict(c.held),
            f(c.effect, 3),
            c.n.0,
            c.n.1,
            p(c.p),
            c.note
        );
    }
    s
}

/// Writes `out/report.md`, `out/claims.json` and the figures; returns the claims and figure notes.
pub fn write_report(
    results: &[RunResult],
    merge: Option<&MergeReport>,
    images: Option<&Dataset>,
    out: &Path,
) -> Result<(Vec<ClaimOutcome>, Vec<FigureNote>)> {
    let claims = evaluate(results);
    let figs = write_figures(results, images, out)?;
    let mut s = String::from("# inorm sweep report\n\n");
    let _ = writeln!(
        s,
        "{} runs ({} diverged), inorm {}.\n",
        results.len(),
        results
            .iter()
            .filter(|r| r.status == RunStatus::Diverged)
            .count(),
        env!("CARGO_PKG_VERSION")
    );
    if let Some(r) = results.first() {
        let c = &r.config;
        let w_lo = results
            .iter()
            .map(|r| r.config.spec.width)
            .min()
            .unwrap_or(0);
        let w_hi = results
            .iter()
            .map(|r| r.config.spec.width)
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            s,
            "Settings of the first run: backend {} ({}, {}), {} epochs, train size {}, test size {}, {}, batch {}, shuffle {}.\n",
            r.backend,
            r.dtype,
            r.device,
            c.epochs,
            c.train_size.map_or("all".into(), |n| n.to_string()),
            c.test_size.map_or("all".into(), |n| n.to_string()),
            if w_lo == w_hi {
                format!("width {w_lo}")
            } else {
                format!("widths {w_lo}–{w_hi} (by configuration)")
            },
            c.batch_size,
            c.shuffle
        );
    }
    if let Some(m) = merge {
        let _ = writeln!(
            s,
            "Merge: {} of {} expected cells found; {} missing, {} duplicated, {} unreadable; {} unexpected \
             and {} foreign (other settings or data) result files left out{}.\n",
            m.found,
            m.expected,
            m.missing.len(),
            m.duplicates.len(),
            m.unreadable.len(),
            m.unexpected.len(),
            m.foreign.len(),
            if m.manifest {
                ""
            } else {
                "; no sweep.json, so nothing was checked against a grid or settings"
            }
        );
    }
    s.push_str(&accuracy_table(results));
    s.push_str("\n## Claims (paper/model.md §10.1)\n\n");
    s.push_str(&claims_table(&claims));
    s.push_str("\nDetails (every comparison):\n\n| claim | comparison | n | medians | effect | U | p (MW) | p (Wilcoxon, pairs) |\n|---|---|---|---|---|---|---|---|\n");
    for c in &claims {
        for d in &c.details {
            let _ = writeln!(
                s,
                "| {} | {} | {}/{} | {} / {} | {} | {} | {} | {} ({}) |",
                c.id,
                d.label,
                d.n_a,
                d.n_b,
                f(d.median_a, 3),
                f(d.median_b, 3),
                f(d.effect, 3),
                f(d.u, 1),
                p(d.p_mw),
                p(d.p_wilcoxon),
                d.pairs
            );
        }
    }
    s.push_str(&super::paper::section(results));
    s.push_str("\n## Figures\n\n");
    for g in &figs {
        match &g.file {
            Some(file) => {
                let _ = writeln!(
                    s,
                    "- **{}** — {}: [{file}]({file}) ({})",
                    g.id, g.title, g.note
                );
            }
            None => {
                let _ = writeln!(s, "- **{}** — {}: {}", g.id, g.title, g.note);
            }
        }
    }
    write_atomic(&out.join("report.md"), s.as_bytes())?;
    let js = serde_json::to_string_pretty(&claims).unwrap_or_default();
    write_atomic(&out.join("claims.json"), js.as_bytes())?;
    Ok((claims, figs))
}
