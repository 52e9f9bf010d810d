//! `inorm data`: Fashion-MNIST files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use inorm::data;
use inorm::error::Result;

use crate::args::default_fetch_dir;

#[derive(Subcommand)]
pub(crate) enum DataCmd {
    /// Download the four Fashion-MNIST files (MD5-checked).
    Fetch {
        /// Base URL.
        #[arg(long, default_value = data::fetch::DEFAULT_BASE_URL)]
        url: String,
        /// Target folder (default: $INORM_DATA, else ~/.cache/inorm/fashion-mnist).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

pub(crate) fn cmd_data(cmd: DataCmd) -> Result<ExitCode> {
    match cmd {
        DataCmd::Fetch { url, dir } => {
            let dir = dir.unwrap_or_else(default_fetch_dir);
            data::fetch::fetch(&url, &dir, true)?;
            eprintln!("Fashion-MNIST is in {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
