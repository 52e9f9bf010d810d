//! One module per subcommand: its clap arguments and its handler.

pub(crate) mod bench;
pub(crate) mod data;
pub(crate) mod grads;
pub(crate) mod init;
pub(crate) mod merge;
pub(crate) mod paper_runs;
pub(crate) mod report;
pub(crate) mod reproduce;
pub(crate) mod sweep;
pub(crate) mod train;
