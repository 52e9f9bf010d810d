//! Backend selection: build a [`Trainer`] for a spec and its parameters on the reference or the fast path,
//! so tests, benches and the CLI switch implementation with one flag.

use crate::error::{Error, Result};
use crate::model::{NetSpec, ParamSet, Trainer};
use crate::reference::ReferenceNet;

/// Which implementation to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The f64 nalgebra oracle (slow, exact).
    Reference,
}

impl Backend {
    /// Every backend name.
    pub const NAMES: &'static [&'static str] = &["reference"];

    /// Parses `reference` or `fast`.
    pub fn parse(s: &str) -> Result<Backend> {
        match s {
            "reference" => Ok(Backend::Reference),
            _ => Err(Error::Unknown {
                what: "backend",
                got: s.into(),
                valid: Backend::NAMES.join(", "),
            }),
        }
    }
}

/// A trainer of `spec` on `backend`, starting from `params`.
pub fn make_trainer(
    backend: Backend,
    spec: NetSpec,
    params: &ParamSet,
) -> Result<Box<dyn Trainer + Send>> {
    match backend {
        Backend::Reference => Ok(Box::new(ReferenceNet::new(spec, params)?)),
    }
}
