//! Backend selection: build a [`Trainer`] for a spec and its parameters on the reference or the fast path,
//! so tests, benches and the CLI switch implementation with one flag.

use candle_core::{DType, Device};

use crate::error::{Error, Result};
use crate::fast::{cuda_device, FastNet};
use crate::model::{NetSpec, ParamSet, Trainer};
use crate::reference::ReferenceNet;

/// Which implementation to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The f64 nalgebra oracle (slow, exact).
    Reference,
    /// The candle path on the CPU, f32 (`fast`) or f64 (`fast-f64`).
    Fast {
        /// Compute in f64 instead of f32.
        f64: bool,
    },
    /// The candle path on the first CUDA device (`fast-cuda`, `fast-cuda-f64`); needs the `cuda` feature.
    FastCuda {
        /// Compute in f64 instead of f32.
        f64: bool,
    },
}

impl Backend {
    /// Every backend name.
    pub const NAMES: &'static [&'static str] = &[
        "reference",
        "fast",
        "fast-f64",
        "fast-cuda",
        "fast-cuda-f64",
    ];

    /// Parses `reference`, `fast`, `fast-f64`, `fast-cuda` or `fast-cuda-f64`.
    pub fn parse(s: &str) -> Result<Backend> {
        match s {
            "reference" => Ok(Backend::Reference),
            "fast" => Ok(Backend::Fast { f64: false }),
            "fast-f64" => Ok(Backend::Fast { f64: true }),
            "fast-cuda" => Ok(Backend::FastCuda { f64: false }),
            "fast-cuda-f64" => Ok(Backend::FastCuda { f64: true }),
            _ => Err(Error::Unknown {
                what: "backend",
                got: s.into(),
                valid: Backend::NAMES.join(", "),
            }),
        }
    }

    /// The name [`Backend::parse`] reads back.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Reference => "reference",
            Backend::Fast { f64: false } => "fast",
            Backend::Fast { f64: true } => "fast-f64",
            Backend::FastCuda { f64: false } => "fast-cuda",
            Backend::FastCuda { f64: true } => "fast-cuda-f64",
        }
    }
}

fn dtype(f64: bool) -> DType {
    if f64 {
        DType::F64
    } else {
        DType::F32
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
        Backend::Fast { f64 } => Ok(Box::new(FastNet::new(
            spec,
            params,
            dtype(f64),
            Device::Cpu,
        )?)),
        Backend::FastCuda { f64 } => Ok(Box::new(FastNet::new(
            spec,
            params,
            dtype(f64),
            cuda_device()?,
        )?)),
    }
}
