//! The luminance shift of paper/model.md §7 and the order in which an epoch visits the samples.
//!
//! Every time an image is loaded it gets a fresh offset `c ~ Uniform[−ε, ε)` and becomes
//! `x' = clamp(x/255 + c, 0, 1)`, so each epoch and each evaluation pass sees new offsets. The offsets come
//! from [`SeedRng`] stream `TrainShift` (training) or `EvalShift` (evaluation) with the epoch as sub-stream,
//! so a run is reproducible from its seed and training offsets never depend on how often one evaluates.

use super::Dataset;
use crate::fault::{self, Fault};
use crate::rng::{SeedRng, Stream};

/// Fills `x_out` (`indices.len() × ds.dim`, f32, row-major) and `y_out` (`indices.len()` labels) with the
/// samples `indices` of `ds`, each luminance-shifted (paper/model.md §7): `x' = clamp(x/255 + c, 0, 1)` with one
/// `c = rng.uniform_in(-eps, eps)` per image, drawn in the order of `indices`. Both outputs are cleared first.
///
/// Exactly one uniform draw is taken per image **even when `eps = 0`**, so the position of `rng` after a batch
/// (and hence every later offset) does not depend on ε. With `eps = 0` the output is exactly `x as f32 / 255`
/// (the f64 quotient rounded to f32 equals the f32 quotient, since 53 ≥ 2·24 + 2).
///
/// # Panics
/// If an index is `>= ds.len()`, or `eps` is negative or not finite (callers validate user input first).
pub fn shifted_batch(
    ds: &Dataset,
    indices: &[usize],
    eps: f64,
    rng: &mut SeedRng,
    x_out: &mut Vec<f32>,
    y_out: &mut Vec<u8>,
) {
    assert!(
        eps.is_finite() && eps >= 0.0,
        "luminance shift eps must be finite and >= 0, got {eps}"
    );
    x_out.clear();
    y_out.clear();
    x_out.reserve(indices.len() * ds.dim);
    y_out.reserve(indices.len());
    for &i in indices {
        let c = rng.uniform_in(-eps, eps);
        let c = if fault::active(Fault::LuminanceShiftOff) {
            0.0
        } else {
            c
        };
        x_out.extend(
            ds.image(i)
                .iter()
                .map(|&p| (f64::from(p) / 255.0 + c).clamp(0.0, 1.0) as f32),
        );
        y_out.push(ds.labels[i]);
    }
}

/// The order in which epoch `epoch` visits `n` samples: `0..n` without shuffling (the faithful default,
/// paper/model.md §7), else a Fisher–Yates permutation drawn from `SeedRng::new(seed, Stream::Shuffle, epoch)`.
pub fn epoch_order(n: usize, shuffle: bool, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        SeedRng::new(seed, Stream::Shuffle, epoch).shuffle(&mut order);
    }
    order
}

/// The generator of the luminance offsets of one pass: stream `TrainShift` if `train`, else `EvalShift`, with
/// sub-stream `epoch`, so every pass over the data gets fresh offsets and training and evaluation never share
/// draws.
pub fn shift_rng(seed: u64, train: bool, epoch: u64) -> SeedRng {
    let stream = if train {
        Stream::TrainShift
    } else {
        Stream::EvalShift
    };
    SeedRng::new(seed, stream, epoch)
}
