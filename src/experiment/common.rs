//! What the claims, the plots and the report share, on a floor below all three (so none of them imports
//! another for a helper): the ε levels present in a set of results, runs at chance, ranges and the formatting of numbers and p-values.

use crate::model::Preset;
use crate::train::{RunResult, CHANCE_ACC};

/// The ε values present for `preset`, ascending.
pub fn eps_levels(results: &[RunResult], preset: Preset) -> Vec<f64> {
    let mut v: Vec<f64> = results
        .iter()
        .filter(|r| r.config.spec.preset == preset)
        .map(|r| r.config.eps)
        .collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// The finite final test accuracies of the runs of `preset` at `eps`, in the results' order.
pub fn accuracies(results: &[RunResult], preset: Preset, eps: f64) -> Vec<f64> {
    results
        .iter()
        .filter(|r| r.config.spec.preset == preset && r.config.eps == eps)
        .map(|r| r.final_metrics.test_acc)
        .filter(|x| x.is_finite())
        .collect()
}

/// (lowest, highest) of `v`; (∞, −∞) when empty.
pub fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        })
}

/// A number for tables with `digits` decimals, `–` when not finite.
pub fn fmt_num(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "–".into()
    }
}

/// A p-value for tables: 3 decimals, scientific below 0.001, `–` for NaN.
pub fn fmt_p(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x < 1e-3 {
        format!("{x:.2e}")
    } else {
        format!("{x:.3}")
    }
}

/// A run that ended at chance: final test accuracy within 1 point of 10 % (a diverged run records 10 %).
/// C14 and the report's comparison with the paper count these.
pub fn at_chance(r: &RunResult) -> bool {
    r.final_metrics.test_acc <= CHANCE_ACC + 1.0
}

/// The `q` quantile (0 ≤ q ≤ 1) of ascending `sorted` by linear interpolation between order statistics
/// (numpy's default, which matplotlib's box plots use); NaN when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}
