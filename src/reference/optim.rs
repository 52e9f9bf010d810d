//! paper/model.md §6.1: SGD with parameter groups (own learning rate, momentum, decoupled weight decay) and the Dale
//! clamp `max(0,·)` after every step for W_EE, W_IE, W_EI and D_EI (never biases, never D_IE).

use std::collections::BTreeMap;

use super::Mat;
use crate::model::{Hyper, ParamInfo};

/// Momentum buffers, by parameter name (created at the first step with momentum > 0).
#[derive(Clone, Debug, Default)]
pub struct SgdState {
    velocity: BTreeMap<String, Mat>,
}

/// One optimizer step over every parameter that has a gradient; parameters without one are skipped. The Dale
/// clamp is `max(v, 0)` with NaN → 0 (Rust's `f64::max`).
pub fn sgd_step(
    params: &mut BTreeMap<String, Mat>,
    grads: &BTreeMap<String, Mat>,
    infos: &[ParamInfo],
    hyper: &Hyper,
    state: &mut SgdState,
) {
    sgd_step_with(params, grads, infos, hyper, state, |v| v.max(0.0));
}

/// [`sgd_step`] as the authors' optimizer applies whatever the no-op gradient scaler hands it (paper/model.md
/// §14.3): an infinite or NaN gradient is applied as it is, and the Dale clamp is PyTorch's `clamp_(min=0)`,
/// which keeps NaN (−∞ becomes 0, +∞ stays).
pub fn sgd_step_autocast(
    params: &mut BTreeMap<String, Mat>,
    grads: &BTreeMap<String, Mat>,
    infos: &[ParamInfo],
    hyper: &Hyper,
    state: &mut SgdState,
) {
    sgd_step_with(params, grads, infos, hyper, state, clamp_min0);
}

/// PyTorch's `clamp(v, min = 0)`: NaN stays NaN.
pub fn clamp_min0(v: f64) -> f64 {
    if v.is_nan() || v > 0.0 {
        v
    } else {
        0.0
    }
}

fn sgd_step_with(
    params: &mut BTreeMap<String, Mat>,
    grads: &BTreeMap<String, Mat>,
    infos: &[ParamInfo],
    hyper: &Hyper,
    state: &mut SgdState,
    clamp: fn(f64) -> f64,
) {
    for info in infos {
        let (Some(g), Some(p)) = (grads.get(&info.name), params.get_mut(&info.name)) else {
            continue;
        };
        let lr = info.group.lr(hyper);
        let mu = info.group.momentum(hyper);
        let step = if mu > 0.0 {
            let v = state
                .velocity
                .entry(info.name.clone())
                .or_insert_with(|| Mat::zeros(g.nrows(), g.ncols()));
            *v = &*v * mu + g;
            v.clone()
        } else {
            g.clone()
        };
        *p -= step * lr;
        let wd = info.group.weight_decay(hyper);
        if wd > 0.0 {
            *p *= 1.0 - lr * wd;
        }
        if info.group.clamped() {
            p.apply(|v| *v = clamp(*v));
        }
    }
}
