//! What the claims, the plots and the report share, on a floor below all three (so none of them imports
//! another for a helper): the ε levels present in a set of results and the formatting of p-values.

use crate::model::Preset;
use crate::train::RunResult;

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
