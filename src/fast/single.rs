//! [`FastNet`]: one network on the fast path, the K = 1 case of [`LockstepNet`] behind the [`Trainer`]
//! interface (tests, `inorm train`, `inorm grads` and the single-run sweep use it).

use candle_core::{DType, Device};

use super::net::LockstepNet;
use crate::error::{Error, Result};
use crate::model::{
    BackendInfo, Batch, EvalReport, GradReport, Hyper, NetSpec, ParamSet, StepReport, Trainer,
};

/// The fast network: candle tensors in `dtype` (f32 or f64) on `device`, explicit backward.
///
/// ```
/// use inorm::fast::FastNet;
/// use inorm::init::init_params;
/// use inorm::model::{Batch, NetSpec, Preset, Trainer};
/// let mut spec = NetSpec::new(Preset::INorm, 8);
/// spec.input = 16;
/// let params = init_params(&spec, 1).unwrap();
/// let mut net = FastNet::new(spec, &params, candle_core::DType::F32, candle_core::Device::Cpu).unwrap();
/// let x = vec![0.5f32; 4 * 16];
/// let y = [0u8, 1, 2, 3];
/// let g = net.grads(Batch { x: &x, y: &y }).unwrap();
/// assert!(g.loss.is_finite());
/// ```
#[derive(Debug)]
pub struct FastNet {
    net: LockstepNet,
}

impl FastNet {
    /// A network of `spec` with parameters `params` (checked against the preset's names and shapes), in
    /// `dtype` (`F32` or `F64`) on `device`.
    pub fn new(spec: NetSpec, params: &ParamSet, dtype: DType, device: Device) -> Result<FastNet> {
        Ok(FastNet {
            net: LockstepNet::new(spec, std::slice::from_ref(params), dtype, device)?,
        })
    }

    /// The single network of a one-network lockstep group (the f16-autocast mode is built this way).
    pub fn from_lockstep(net: LockstepNet) -> Result<FastNet> {
        match net.len() {
            1 => Ok(FastNet { net }),
            k => Err(Error::invalid(
                "fast network",
                format!("a lockstep group of {k} networks (need exactly 1)"),
            )),
        }
    }

    /// The dtype the network computes in.
    pub fn dtype(&self) -> DType {
        self.net.dtype()
    }

    /// The device the network lives on.
    pub fn device(&self) -> &Device {
        self.net.device()
    }
}

/// The only element of a one-network result.
fn only<T>(mut v: Vec<T>) -> Result<T> {
    v.pop()
        .ok_or_else(|| Error::invalid("fast network", "no result for the network"))
}

/// Backend description of a lockstep group (its dtype, or `f16-autocast`, and device).
pub(crate) fn backend_info(net: &LockstepNet) -> BackendInfo {
    BackendInfo {
        backend: "fast".into(),
        dtype: match (net.is_autocast(), net.dtype()) {
            (true, _) => "f16-autocast".into(),
            (false, DType::F64) => "f64".into(),
            (false, _) => "f32".into(),
        },
        device: super::device_name(net.device()),
    }
}

impl Trainer for FastNet {
    fn spec(&self) -> &NetSpec {
        self.net.spec()
    }

    fn backend(&self) -> BackendInfo {
        backend_info(&self.net)
    }

    fn params(&self) -> Result<ParamSet> {
        self.net.params(0)
    }

    fn grads(&mut self, batch: Batch<'_>) -> Result<GradReport> {
        only(self.net.grads(&[batch.x], &[batch.y])?)
    }

    /// One SGD step; a NaN or infinite loss returns [`Error::Diverged`] and leaves the parameters as they
    /// were (the network then stays frozen).
    fn train_step(&mut self, batch: Batch<'_>, hyper: &Hyper, diag: bool) -> Result<StepReport> {
        only(
            self.net
                .step(&[batch.x], &[batch.y], std::slice::from_ref(hyper), diag)?,
        )?
    }

    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalReport> {
        only(self.net.evaluate(&[batch.x], &[batch.y])?)
    }

    fn numerics(&self) -> Option<crate::model::NumericsReport> {
        self.net.numerics(0).cloned()
    }
}
