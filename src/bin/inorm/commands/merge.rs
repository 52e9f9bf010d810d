//! `inorm merge`: check a sweep folder, write merged.json and merged.csv.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use inorm::error::Result;
use inorm::experiment::{self, merge_and_write};

#[derive(clap::Args)]
pub(crate) struct MergeArgs {
    /// The sweep folder.
    dir: PathBuf,
    /// Exit non-zero when sweep.json is absent or cells are missing, duplicated, unexpected, foreign or
    /// unreadable.
    #[arg(long)]
    strict: bool,
}

pub(crate) fn print_merge(rep: &experiment::MergeReport) {
    if !rep.manifest {
        println!(
            "no sweep.json: the results cannot be checked against a grid or settings (not a complete sweep)"
        );
    }
    println!(
        "{} result(s) for {} expected cell(s); {} missing, {} duplicated, {} unexpected, {} foreign, {} unreadable, {} diverged",
        rep.found,
        rep.expected,
        rep.missing.len(),
        rep.duplicates.len(),
        rep.unexpected.len(),
        rep.foreign.len(),
        rep.unreadable.len(),
        rep.diverged.len()
    );
    for m in &rep.missing {
        println!("missing: {m}");
    }
    for (id, files) in &rep.duplicates {
        println!("duplicate: {id} in {}", files.join(", "));
    }
    for u in &rep.unexpected {
        println!("unexpected (not in the grid, left out): {u}");
    }
    for (f, why) in &rep.foreign {
        println!("foreign (other settings or data, left out): {f}: {why}");
    }
    for (f, e) in &rep.unreadable {
        println!("unreadable: {f}: {e}");
    }
}

pub(crate) fn cmd_merge(a: MergeArgs) -> Result<ExitCode> {
    let (dir, strict): (&Path, bool) = (&a.dir, a.strict);
    let (rep, _) = merge_and_write(dir)?;
    print_merge(&rep);
    println!(
        "wrote {} and {}",
        dir.join("merged.json").display(),
        dir.join("merged.csv").display()
    );
    if strict && !rep.complete() {
        if !rep.manifest {
            eprintln!(
                "error: {} has no sweep.json, so --strict cannot check the results against a grid and \
                 settings (merge the --out folder of a sweep)",
                dir.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        eprintln!("error: the sweep in {} is incomplete", dir.display());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
