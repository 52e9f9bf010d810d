//! Backend selection: build a [`Trainer`] for a spec and its parameters on the reference or the fast path,
//! so tests, benches and the CLI switch implementation with one flag.

use candle_core::{DType, Device};

use crate::error::{Error, Result};
use crate::fast::{cuda_device, FastNet, LockstepNet};
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
    /// The candle path on the CPU in the f16-autocast mode (`fast-f16-autocast`, paper/model.md §14): the
    /// authors' GPU numerics, float16 autocast without loss scaling, emulated on f32 tensors.
    FastAutocast,
    /// The oracle of the f16-autocast mode (`reference-f16-autocast`): the f64 reference with the f16
    /// roundings of paper/model.md §14.2 written out; slow, for `grads` and the tests.
    ReferenceAutocast,
}

/// How a run computes (`--precision`): f32 (the default of the fast path), f64, or the authors' GPU numerics
/// `f16-autocast` (paper/model.md §14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout.
    F32,
    /// f64 throughout (the reference always computes in f64).
    F64,
    /// CUDA float16 autocast without loss scaling, emulated op by op (paper/model.md §14).
    F16Autocast,
}

impl Precision {
    /// Every precision name.
    pub const NAMES: &'static [&'static str] = &["f32", "f64", "f16-autocast"];

    /// Parses `f32`, `f64` or `f16-autocast`.
    pub fn parse(s: &str) -> Result<Precision> {
        match s {
            "f32" => Ok(Precision::F32),
            "f64" => Ok(Precision::F64),
            "f16-autocast" => Ok(Precision::F16Autocast),
            _ => Err(Error::Unknown {
                what: "precision",
                got: s.into(),
                valid: Precision::NAMES.join(", "),
            }),
        }
    }

    /// The name [`Precision::parse`] reads back.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
            Precision::F16Autocast => "f16-autocast",
        }
    }
}

impl Backend {
    /// Every backend name.
    pub const NAMES: &'static [&'static str] = &[
        "reference",
        "fast",
        "fast-f64",
        "fast-cuda",
        "fast-cuda-f64",
        "fast-f16-autocast",
        "reference-f16-autocast",
    ];

    /// Parses `reference`, `fast`, `fast-f64`, `fast-cuda` or `fast-cuda-f64`.
    pub fn parse(s: &str) -> Result<Backend> {
        match s {
            "reference" => Ok(Backend::Reference),
            "fast" => Ok(Backend::Fast { f64: false }),
            "fast-f64" => Ok(Backend::Fast { f64: true }),
            "fast-cuda" => Ok(Backend::FastCuda { f64: false }),
            "fast-cuda-f64" => Ok(Backend::FastCuda { f64: true }),
            "fast-f16-autocast" => Ok(Backend::FastAutocast),
            "reference-f16-autocast" => Ok(Backend::ReferenceAutocast),
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
            Backend::FastAutocast => "fast-f16-autocast",
            Backend::ReferenceAutocast => "reference-f16-autocast",
        }
    }

    /// Whether this is the reference (f64 or its f16-autocast oracle): one network at a time, no lockstep.
    pub fn is_reference(self) -> bool {
        matches!(self, Backend::Reference | Backend::ReferenceAutocast)
    }

    /// How this backend computes.
    pub fn precision(self) -> Precision {
        match self {
            Backend::Reference | Backend::Fast { f64: true } | Backend::FastCuda { f64: true } => {
                Precision::F64
            }
            Backend::Fast { f64: false } | Backend::FastCuda { f64: false } => Precision::F32,
            Backend::FastAutocast | Backend::ReferenceAutocast => Precision::F16Autocast,
        }
    }

    /// The backend of `--backend NAME --precision P` (`precision` `None`: the backend's own). A precision
    /// the backend cannot honour is an error naming both options: the reference computes in f64 only; the
    /// f16-autocast mode runs on the CPU fast path only; `fast-f64` and `fast-cuda-f64` fix f64.
    pub fn with_precision(name: &str, precision: Option<Precision>) -> Result<Backend> {
        let b = Backend::parse(name)?;
        let Some(p) = precision else { return Ok(b) };
        let refuse = |why: &str| {
            Err(Error::invalid(
                "--precision",
                format!("{} with --backend {name}: {why}", p.name()),
            ))
        };
        match (b, p) {
            (b, p) if b.precision() == p => Ok(b),
            (Backend::Fast { f64: false }, Precision::F64) => Ok(Backend::Fast { f64: true }),
            (Backend::Fast { f64: false }, Precision::F16Autocast) => Ok(Backend::FastAutocast),
            (Backend::Reference, Precision::F16Autocast) => Ok(Backend::ReferenceAutocast),
            (Backend::FastCuda { f64: false }, Precision::F64) => Ok(Backend::FastCuda { f64: true }),
            (Backend::Reference, _) => {
                refuse("the reference computes in f64 or f16-autocast (use --backend fast for f32)")
            }
            (Backend::FastCuda { .. }, Precision::F16Autocast) => refuse(
                "the f16-autocast emulation runs on the CPU only (use --backend fast)",
            ),
            _ => refuse("the backend name already fixes another precision (use --backend fast or fast-cuda)"),
        }
    }
}

/// A lockstep group of `spec` on a fast `backend`, network k starting from `params[k]` (the f16-autocast
/// mode included); the reference has none.
pub fn make_lockstep(backend: Backend, spec: NetSpec, params: &[ParamSet]) -> Result<LockstepNet> {
    match backend {
        Backend::Reference | Backend::ReferenceAutocast => Err(Error::invalid(
            "lockstep backend",
            format!(
                "{} (lockstep runs on fast, fast-f64, fast-cuda, fast-cuda-f64 or fast-f16-autocast)",
                backend.name()
            ),
        )),
        Backend::Fast { f64 } => LockstepNet::new(spec, params, dtype(f64), Device::Cpu),
        Backend::FastCuda { f64 } => LockstepNet::new(spec, params, dtype(f64), cuda_device()?),
        Backend::FastAutocast => {
            LockstepNet::new(spec, params, DType::F32, Device::Cpu)?.into_autocast()
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
        Backend::ReferenceAutocast => Ok(Box::new(ReferenceNet::autocast(spec, params)?)),
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
        Backend::FastAutocast => Ok(Box::new(FastNet::from_lockstep(make_lockstep(
            backend,
            spec,
            std::slice::from_ref(params),
        )?)?)),
    }
}
