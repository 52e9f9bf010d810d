//! `inorm bench` (the binary's part): parses the options, runs [`inorm::bench::run_bench`], prints one line
//! per cell and the markdown tables, and writes `bench.json` and `bench.md` to `--out`.

use std::path::PathBuf;
use std::process::ExitCode;

use inorm::backend::Backend;
use inorm::bench::{markdown, run_bench, BenchOpts};
use inorm::error::{Error, Result};
use inorm::model::Preset;

use crate::args::RunArgs;

/// Options of `inorm bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Conditions, comma-separated (default: all ten).
    #[arg(long)]
    nets: Option<String>,
    /// Hidden widths, comma-separated (default: smallest, median and largest of the 30 configurations).
    #[arg(long)]
    widths: Option<String>,
    /// Batch sizes, comma-separated.
    #[arg(long, default_value = "32")]
    batch: String,
    /// Networks stepped in lockstep, comma-separated (1 = single network).
    #[arg(long, default_value = "1")]
    k: String,
    /// Parallel runs assumed by the projection (default: cores on the CPU, 1 on a GPU).
    #[arg(long)]
    jobs: Option<usize>,
    /// Seconds per measurement.
    #[arg(long)]
    seconds: Option<f64>,
    /// Two widths, 0.3 s per measurement.
    #[arg(long)]
    quick: bool,
    /// Folder for bench.json and bench.md.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn list<T>(s: &str, what: &'static str, f: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    let v = s
        .split(',')
        .map(|t| f(t.trim()))
        .collect::<Result<Vec<T>>>()?;
    if v.is_empty() {
        return Err(Error::invalid(what, "empty list"));
    }
    Ok(v)
}

fn count(what: &'static str) -> impl Fn(&str) -> Result<usize> {
    move |t| {
        t.parse::<usize>()
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| Error::invalid(what, format!("{t:?} (must be a whole number ≥ 1)")))
    }
}

/// Runs `inorm bench`.
pub fn cmd_bench(a: BenchArgs) -> Result<ExitCode> {
    let backend = a.run.compute.backend()?;
    let mut o = BenchOpts::new(backend, a.quick);
    a.run.apply_to_bench(&mut o)?;
    if let Some(n) = &a.nets {
        o.presets = list(n, "nets", Preset::parse)?;
    }
    if let Some(w) = &a.widths {
        o.widths = list(w, "widths", count("widths"))?;
    }
    o.batches = list(&a.batch, "batch", count("batch"))?;
    o.ks = list(&a.k, "k", count("k"))?;
    o.jobs = a.jobs.unwrap_or(match backend {
        Backend::FastCuda { .. } => 1,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    });
    if let Some(s) = a.seconds {
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::invalid("seconds", format!("{s} (must be > 0)")));
        }
        o.seconds = s;
    }
    let r = run_bench(&o, &mut |c| {
        eprintln!(
            "{:22} n={:3} B={:3} K={:3}: {:9.0} train samples/s, {:9.0} eval samples/s, {:6.1} GFLOP/s",
            c.preset, c.width, c.batch, c.k, c.train_samples_per_s, c.eval_samples_per_s, c.train_gflops
        )
    })?;
    let md = markdown(&r);
    println!("{md}");
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let json = serde_json::to_string_pretty(&r)
            .map_err(|e| Error::invalid("bench report", e.to_string()))?;
        let p = dir.join("bench.json");
        std::fs::write(&p, json).map_err(|e| Error::io(&p, e))?;
        let p = dir.join("bench.md");
        std::fs::write(&p, md).map_err(|e| Error::io(&p, e))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `inorm backend-check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// Backends to check, comma-separated (fast, fast-f64, fast-cuda, fast-cuda-f64).
    #[arg(long, default_value = "fast,fast-f64")]
    backend: String,
    /// Folder for cases.json and cases.md.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `inorm backend-check`: exit status 1 when a case fails.
pub fn cmd_check(a: CheckArgs) -> Result<ExitCode> {
    let backends = list(&a.backend, "backend", Backend::parse)?;
    let mut rows = Vec::new();
    for b in backends {
        if b.is_reference() {
            return Err(Error::invalid(
                "backend",
                "reference (it is the yardstick; check fast, fast-f64, fast-cuda or fast-cuda-f64)",
            ));
        }
        rows.extend(inorm::devcheck::case_table(b, &mut |r| {
            eprintln!(
                "{:14} {:34} {:14} {:.2e} (CPU {:.2e}) {}{}",
                r.backend,
                r.case,
                r.shape,
                r.err,
                r.cpu_err,
                if r.pass { "ok" } else { "FAIL " },
                if r.pass {
                    String::new()
                } else {
                    r.worst.clone()
                }
            )
        })?);
    }
    let md = inorm::devcheck::markdown(&rows);
    println!("{md}");
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let json = serde_json::to_string_pretty(&rows)
            .map_err(|e| Error::invalid("case table", e.to_string()))?;
        let p = dir.join("cases.json");
        std::fs::write(&p, json).map_err(|e| Error::io(&p, e))?;
        let p = dir.join("cases.md");
        std::fs::write(&p, md).map_err(|e| Error::io(&p, e))?;
    }
    let failed = rows.iter().filter(|r| !r.pass).count();
    if failed > 0 {
        eprintln!("error: {failed} of {} case(s) failed", rows.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
