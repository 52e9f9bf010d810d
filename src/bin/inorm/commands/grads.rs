//! `inorm grads`: one forward/backward pass of a model file on a batch file.

use std::path::PathBuf;
use std::process::ExitCode;

use inorm::backend::make_trainer;
use inorm::error::{Error, Result};
use inorm::interop;
use inorm::model::{Batch, NetSpec, Preset};

use crate::args::{ComputeArgs, DtypeArg};

// The pass is the interop oracle, so it runs on the reference unless `--backend` says otherwise.
#[derive(clap::Args)]
#[command(mut_arg("backend", |a| a.default_value("reference")))]
pub(crate) struct GradsArgs {
    /// Model file (safetensors; names of `inorm init`).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Batch file (safetensors: x B×784 float, y B integer).
    #[arg(long)]
    pub(crate) batch: PathBuf,
    /// Condition the model belongs to.
    #[arg(long)]
    pub(crate) net: String,
    /// I-Norm λ.
    #[arg(long, default_value_t = 0.01)]
    pub(crate) lambda: f64,
    /// Label smoothing of the cross-entropy.
    #[arg(long, default_value_t = 0.1)]
    pub(crate) label_smoothing: f64,
    #[command(flatten)]
    pub(crate) compute: ComputeArgs,
    /// Output dtype.
    #[arg(long, value_enum, default_value = "f64")]
    pub(crate) dtype: DtypeArg,
    /// Output safetensors file.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

pub(crate) fn cmd_grads(a: GradsArgs) -> Result<ExitCode> {
    let preset = Preset::parse(&a.net)?;
    let backend = a.compute.backend()?;
    interop::check_writable(&a.out, "out")?;
    let raw = interop::load_tensors(&a.model)?;
    // The width the tensors agree on, so that a wrong-shaped tensor is the one blamed.
    let width = Some(&raw)
        .filter(|r| r.contains_key("hidden.0.w_ee"))
        .and_then(|r| interop::infer_width(preset, r))
        .ok_or_else(|| Error::BadTensor {
            name: "hidden.0.w_ee".into(),
            file: a.model.display().to_string(),
            preset: preset.name(),
            reason: "missing (needed to infer the width: expected shape [n, 784])".into(),
        })?;
    let mut spec = NetSpec::new(preset, width);
    spec.lambda = a.lambda;
    spec.label_smoothing = a.label_smoothing;
    spec.validate()?;
    let params = interop::load_model(&a.model, &spec)?;
    let b = interop::load_batch(&a.batch, spec.input)?;
    let mut t = make_trainer(backend, spec, &params)?;
    let g = t.grads(Batch { x: &b.x, y: &b.y })?;
    let tensors = interop::grad_tensors(&g);
    interop::save_tensors(&a.out, &tensors, a.dtype.into(), None)?;
    println!(
        "wrote {} ({} tensors; loss {:.6}, batch {}, {preset} width {} on {})",
        a.out.display(),
        tensors.len(),
        g.loss,
        b.y.len(),
        width,
        backend.name()
    );
    Ok(ExitCode::SUCCESS)
}
