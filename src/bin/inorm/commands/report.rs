//! `inorm report`: claims table and figures of a sweep folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use inorm::data;
use inorm::error::Result;
use inorm::experiment::{self, merge_and_write, report};

use super::merge::print_merge;

#[derive(clap::Args)]
pub(crate) struct ReportArgs {
    /// The sweep folder.
    dir: PathBuf,
    /// Output folder (default DIR/report).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Fashion-MNIST folder for Fig 1b (optional; never downloads).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A sweep folder with the same cells in another precision (e.g. the f32 runs of an f16-autocast
    /// sweep): the report compares the two, cell by cell (read only; nothing is written there).
    #[arg(long, value_name = "DIR")]
    against: Option<PathBuf>,
}

pub(crate) fn cmd_report(a: ReportArgs) -> Result<ExitCode> {
    let (dir, out, data_dir): (&Path, _, Option<&Path>) = (&a.dir, a.out, a.data_dir.as_deref());
    let (rep, results) = merge_and_write(dir)?;
    let out = out.unwrap_or_else(|| dir.join("report"));
    let images = data::locate(data_dir)
        .ok()
        .and_then(|d| data::load(&d).ok())
        .map(|d| d.train.take(16));
    let against = match &a.against {
        Some(d) => experiment::merge(d)?.1,
        None => Vec::new(),
    };
    let (claims, figs) =
        report::write_report_against(&results, Some(&rep), images.as_ref(), &out, &against)?;
    print_merge(&rep);
    print!("{}", report::claims_text(&claims));
    let written = figs.iter().filter(|f| f.file.is_some()).count();
    println!(
        "report: {} ({} figures written, {} skipped)",
        out.join("report.md").display(),
        written,
        figs.len() - written
    );
    Ok(ExitCode::SUCCESS)
}
