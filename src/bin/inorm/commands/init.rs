//! `inorm init`: an initialized model as safetensors.

use std::path::PathBuf;
use std::process::ExitCode;

use inorm::error::Result;
use inorm::init::init_params;
use inorm::interop;
use inorm::model::{NetSpec, Preset};

use crate::args::DtypeArg;

#[derive(clap::Args)]
pub(crate) struct InitArgs {
    /// Condition.
    #[arg(long)]
    pub(crate) net: String,
    /// Hidden width.
    #[arg(long)]
    pub(crate) width: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// I-Norm λ (recorded only; λ does not change the initialization).
    #[arg(long, default_value_t = 0.01)]
    pub(crate) lambda: f64,
    /// File dtype.
    #[arg(long, value_enum, default_value = "f32")]
    pub(crate) dtype: DtypeArg,
    /// Output safetensors file.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

pub(crate) fn cmd_init(a: InitArgs) -> Result<ExitCode> {
    let preset = Preset::parse(&a.net)?;
    interop::check_writable(&a.out, "out")?;
    let mut spec = NetSpec::new(preset, a.width);
    spec.lambda = a.lambda;
    let params = init_params(&spec, a.seed)?;
    interop::save_model(&a.out, &spec, &params, a.dtype.into())?;
    println!(
        "wrote {} ({preset}, width {}, seed {}, {} tensors)",
        a.out.display(),
        a.width,
        a.seed,
        params.len()
    );
    Ok(ExitCode::SUCCESS)
}
