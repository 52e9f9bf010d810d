//! paper/model.md §4: softmax cross-entropy with label smoothing, mean over the batch.

use super::Mat;

/// Smoothed targets `t = (1 − s)·onehot(y) + s/C` (B×C).
pub fn smoothed_targets(y: &[u8], classes: usize, smoothing: f64) -> Mat {
    Mat::from_fn(y.len(), classes, |b, c| {
        let hot = if y[b] as usize == c { 1.0 } else { 0.0 };
        (1.0 - smoothing) * hot + smoothing / classes as f64
    })
}

/// Row-wise `log softmax` computed as `o − max − log Σ exp(o − max)`.
pub fn log_softmax(o: &Mat) -> Mat {
    let mut out = o.clone();
    for mut row in out.row_iter_mut() {
        let mx = row.max();
        let lse = row.iter().map(|v| (v - mx).exp()).sum::<f64>().ln() + mx;
        row.add_scalar_mut(-lse);
    }
    out
}

/// Cross-entropy result.
#[derive(Clone, Debug, PartialEq)]
pub struct CrossEntropy {
    /// Mean loss `(1/B) Σ_b Σ_c −t_bc log p_bc`.
    pub loss: f64,
    /// Per-sample losses (B).
    pub per_sample: Vec<f64>,
    /// `∂L/∂O = (p − t)/B` (B×C).
    pub grad: Mat,
    /// Number of rows whose argmax equals the label (first maximum on ties).
    pub correct: usize,
}

/// Cross-entropy with label smoothing of logits `o` (B×C) against labels `y`.
pub fn cross_entropy(o: &Mat, y: &[u8], smoothing: f64) -> CrossEntropy {
    let (bsz, c) = o.shape();
    let t = smoothed_targets(y, c, smoothing);
    let lp = log_softmax(o);
    let per_sample: Vec<f64> = (0..bsz)
        .map(|b| -(0..c).map(|j| t[(b, j)] * lp[(b, j)]).sum::<f64>())
        .collect();
    let grad = (lp.map(f64::exp) - t) / bsz as f64;
    let correct = (0..bsz)
        .filter(|&b| argmax(o.row(b).iter().copied()) == y[b] as usize)
        .count();
    CrossEntropy {
        loss: per_sample.iter().sum::<f64>() / bsz as f64,
        per_sample,
        grad,
        correct,
    }
}

/// Index of the first maximum (NaN never wins).
pub fn argmax(it: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in it.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}
