//! `inorm paper-runs`: read the authors' figure SVGs back into numbers (paper/results/paper-runs/), and
//! check the committed numbers against the paper's printed Mann–Whitney statistics.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use inorm::error::{Error, Result};
use inorm::experiment::paper_runs::{
    committed, compare::printed_checks, csv_from_figure, git_blob_id, source, SOURCES,
};
use inorm::figures::Figure;
use inorm::interop::write_atomic;

#[derive(Subcommand)]
pub(crate) enum PaperRunsCmd {
    /// Read an SVG figure: without --figure, print what it holds (axes, calibration, series, boxes); with
    /// it, check that the file is the version the committed data came from (its git blob id) and write that
    /// file's rows.
    Extract {
        /// The SVG file.
        file: PathBuf,
        /// Which committed file to regenerate (fig5c, fig4a, fig7-lateral, fig2a, fig2-eiln-vs-eln,
        /// fig6a-boxes, fig7b-boxes).
        #[arg(long)]
        figure: Option<String>,
        /// Write the rows to OUT/<file>.csv instead of standard output (with --figure).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Recompute the paper's printed Mann–Whitney statistics from the committed runs.
    Check,
}

pub(crate) fn cmd_paper_runs(cmd: PaperRunsCmd) -> Result<ExitCode> {
    match cmd {
        PaperRunsCmd::Extract { file, figure, out } => {
            let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let text = String::from_utf8(bytes.clone()).map_err(|_| Error::Format {
                path: file.display().to_string(),
                reason: "not UTF-8 text".into(),
            })?;
            let fig = Figure::parse(&text, &file.display().to_string())?;
            let Some(name) = figure else {
                print_figure(&fig);
                return Ok(ExitCode::SUCCESS);
            };
            let s = source(&name)?;
            let blob = git_blob_id(&bytes);
            if blob != s.blob {
                return Err(Error::invalid(
                    "figure file",
                    format!(
                        "{} has git blob {blob}, but {} comes from blob {} ({}@{}:{})",
                        file.display(),
                        s.csv,
                        s.blob,
                        s.repo,
                        s.commit,
                        s.path
                    ),
                ));
            }
            let csv = csv_from_figure(s, &fig)?;
            match out {
                Some(dir) => {
                    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                    let p = dir.join(s.csv);
                    write_atomic(&p, csv.as_bytes())?;
                    eprintln!("wrote {}", p.display());
                }
                None => print!("{csv}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        PaperRunsCmd::Check => {
            let runs = committed()?;
            let checks = printed_checks(&runs);
            println!(
                "{} committed files; printed statistics recomputed from them:",
                SOURCES.len()
            );
            let mut bad = 0;
            for c in &checks {
                println!(
                    "{:<55} ε {:<5} n {}/{}  U {:>6.1} (printed {:>6.1})  p {:<22} (printed {:<9})  {}",
                    c.label,
                    if c.eps.is_nan() { "all".into() } else { c.eps.to_string() },
                    c.n.0,
                    c.n.1,
                    c.u,
                    c.printed_u,
                    c.p,
                    c.printed_p,
                    if c.agrees() { "agrees" } else { "DIFFERS" }
                );
                bad += usize::from(!c.agrees());
            }
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn print_figure(fig: &Figure) {
    let cal = |c: &std::result::Result<inorm::figures::Calibration, String>| match c {
        Ok(c) => format!(
            "{} ticks {}…{} (misfit {:.1e})",
            c.ticks, c.span.0, c.span.1, c.misfit
        ),
        Err(why) => format!("none: {why}"),
    };
    println!("{}: {} axes", fig.file, fig.axes.len());
    for a in &fig.axes {
        println!(
            "{}: title {:?}; x {:?}: {}; y {:?}: {}",
            a.id,
            a.title,
            a.x_label,
            cal(&a.x),
            a.y_label,
            cal(&a.y)
        );
        for s in &a.series {
            let clipped = s.points.iter().filter(|p| p.clipped).count();
            println!(
                "  series {} {:?}: {} markers ({clipped} outside the axes)",
                s.colour.as_deref().unwrap_or("none"),
                s.label,
                s.points.len()
            );
        }
        for b in &a.boxes {
            println!(
                "  box {:?}: q1 {:.4} median {:.4} q3 {:.4} whiskers {:.4}–{:.4} fliers {:?}",
                b.label, b.q1, b.median, b.q3, b.whisker_low, b.whisker_high, b.fliers
            );
        }
        for r in &a.references {
            println!(
                "  line across the axes at {:.4} ({:?}{})",
                r.y,
                r.stroke,
                if r.dashed { ", dashed" } else { "" }
            );
        }
        for t in &a.annotations {
            println!("  text {:?} at ({:.4}, {:.4})", t.text, t.x, t.y);
        }
    }
}
