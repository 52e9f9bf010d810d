//! One comparison of two conditions on one metric ([`Comparison`]), the building block of every claim of
//! [`super::claims`]: the medians, the effect (median paired difference when runs pair up by (config, seed)),
//! Mann–Whitney and exact paired Wilcoxon p-values, and the three kinds of verdict a claim needs — "a > b"
//! (significant ordering), "a ≈ b" (equivalence within a margin by two one-sided tests) and "a ≥ b − δ"
//! (non-inferiority), see paper/model.md §8.4 and §10.1.

use std::collections::BTreeMap;

use super::common::eps_levels;
use crate::model::Preset;
use crate::stats::{
    equivalence_tost, mann_whitney, median, signed_rank_exact, Equivalence, SignedRank,
};
use crate::train::RunResult;

/// One comparison inside a claim: condition `a` against condition `b` at one ε (or pooled).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// What is compared, e.g. `EI LN+ vs EI LN− @ ε=0.75`.
    pub label: String,
    /// ε of the comparison (`None` = pooled over ε).
    pub eps: Option<f64>,
    /// Runs of `a`.
    pub n_a: usize,
    /// Runs of `b`.
    pub n_b: usize,
    /// Median of `a`.
    pub median_a: f64,
    /// Median of `b`.
    pub median_b: f64,
    /// Effect: median paired difference a − b if pairs exist, else median(a) − median(b).
    pub effect: f64,
    /// Number of (config, seed) pairs.
    pub pairs: usize,
    /// Mann–Whitney U of `a` (NaN if a side is empty).
    pub u: f64,
    /// Two-sided Mann–Whitney p.
    pub p_mw: f64,
    /// Two-sided paired Wilcoxon signed-rank p, exact for ≤ 200 pairs ([`signed_rank_exact`]; NaN with
    /// fewer than 2 pairs).
    pub p_wilcoxon: f64,
    /// The paired differences a − b, one per (config, seed) pair (empty without pairs); the equivalence and
    /// non-inferiority tests run on them.
    #[serde(skip)]
    pub diffs: Vec<f64>,
}

/// Runs of `preset`, optionally at one ε, keyed by (config, seed) → value of `f`.
pub(super) fn values(
    results: &[RunResult],
    preset: Preset,
    eps: Option<f64>,
    f: &dyn Fn(&RunResult) -> f64,
) -> BTreeMap<(usize, u64, u64), f64> {
    results
        .iter()
        .filter(|r| r.config.spec.preset == preset)
        .filter(|r| eps.is_none_or(|e| r.config.eps == e))
        .map(|r| {
            (
                (
                    r.config.config_index.unwrap_or(usize::MAX),
                    r.config.seed,
                    r.config.eps.to_bits(),
                ),
                f(r),
            )
        })
        .filter(|(_, v)| v.is_finite())
        .collect()
}

pub(super) fn acc(r: &RunResult) -> f64 {
    r.final_metrics.test_acc
}

pub(super) fn common_eps(results: &[RunResult], presets: &[Preset]) -> Vec<f64> {
    let mut out = eps_levels(results, presets[0]);
    for p in &presets[1..] {
        let e = eps_levels(results, *p);
        out.retain(|x| e.contains(x));
    }
    out
}

/// Compares `a` with `b` on metric `f`, at `eps` (or pooled when `None`).
pub fn compare(
    results: &[RunResult],
    a: Preset,
    b: Preset,
    eps: Option<f64>,
    f: &dyn Fn(&RunResult) -> f64,
) -> Comparison {
    let va = values(results, a, eps, f);
    let vb = values(results, b, eps, f);
    let xa: Vec<f64> = va.values().copied().collect();
    let xb: Vec<f64> = vb.values().copied().collect();
    let (pa, pb): (Vec<f64>, Vec<f64>) = va
        .iter()
        .filter_map(|(k, x)| vb.get(k).map(|y| (*x, *y)))
        .unzip();
    let mw = mann_whitney(&xa, &xb).ok();
    let diffs: Vec<f64> = pa.iter().zip(&pb).map(|(x, y)| x - y).collect();
    let wx = if diffs.len() >= 2 {
        signed_rank_exact(&diffs).ok()
    } else {
        None
    };
    let effect = if !pa.is_empty() {
        median(&diffs)
    } else {
        median(&xa) - median(&xb)
    };
    let label = match eps {
        Some(e) => format!("{} vs {} @ ε={e}", a.label(), b.label()),
        None => format!("{} vs {} (pooled ε)", a.label(), b.label()),
    };
    Comparison {
        label,
        eps,
        n_a: xa.len(),
        n_b: xb.len(),
        median_a: median(&xa),
        median_b: median(&xb),
        effect,
        pairs: pa.len(),
        u: mw.as_ref().map_or(f64::NAN, |m| m.u),
        p_mw: mw.as_ref().map_or(f64::NAN, |m| m.p_two_sided),
        p_wilcoxon: wx.map_or(f64::NAN, |w| w.p_two_sided),
        diffs,
    }
}

impl Comparison {
    /// Both sides have at least one run.
    pub fn has_data(&self) -> bool {
        self.n_a > 0 && self.n_b > 0
    }

    /// The p-value used for a verdict: the exact paired Wilcoxon p when ≥ 2 (config, seed) pairs exist,
    /// else Mann–Whitney.
    pub fn p(&self) -> f64 {
        if self.pairs >= 2 && self.p_wilcoxon.is_finite() {
            self.p_wilcoxon
        } else {
            self.p_mw
        }
    }

    /// a is significantly higher than b (two-sided p < `alpha`) and the effect exceeds `min_effect`.
    pub fn better(&self, min_effect: f64, alpha: f64) -> bool {
        self.effect > min_effect && self.p() < alpha
    }

    /// The equivalence test (TOST, exact signed-rank tests) of the paired differences within ±`margin`;
    /// `None` with fewer than 2 pairs (equivalence is only tested on paired runs).
    pub fn tost(&self, margin: f64) -> Option<Equivalence> {
        (self.diffs.len() >= 2)
            .then(|| equivalence_tost(&self.diffs, margin).ok())
            .flatten()
    }

    /// The p of [`Self::tost`] (the larger of its two one-sided p's); NaN with fewer than 2 pairs.
    pub fn p_tost(&self, margin: f64) -> f64 {
        self.tost(margin).map_or(f64::NAN, |e| e.p)
    }

    /// a ≈ b: equivalence within ±`margin` shown at level `alpha` by two one-sided tests. Unlike "not
    /// significantly different", noisier data makes this harder to pass, not easier.
    pub fn equivalent(&self, margin: f64, alpha: f64) -> bool {
        self.p_tost(margin) < alpha
    }

    /// One-sided exact signed-rank p of "a − b > −`margin`" (non-inferiority: a trails b by less than
    /// `margin`); NaN with fewer than 2 pairs.
    pub fn p_non_inferior(&self, margin: f64) -> f64 {
        self.shifted(margin).map_or(f64::NAN, |r| r.p_greater)
    }

    /// One-sided exact signed-rank p of "a − b < `margin`" (non-superiority: a leads b by less than
    /// `margin`); NaN with fewer than 2 pairs.
    pub fn p_non_superior(&self, margin: f64) -> f64 {
        self.shifted(-margin).map_or(f64::NAN, |r| r.p_less)
    }

    /// a ≥ b − `margin`, shown at level `alpha` (non-inferiority test).
    pub fn non_inferior(&self, margin: f64, alpha: f64) -> bool {
        self.p_non_inferior(margin) < alpha
    }

    /// a ≤ b + `margin`, shown at level `alpha` (non-superiority test).
    pub fn non_superior(&self, margin: f64, alpha: f64) -> bool {
        self.p_non_superior(margin) < alpha
    }

    /// Signed-rank test of the paired differences plus `shift`.
    fn shifted(&self, shift: f64) -> Option<SignedRank> {
        if self.diffs.len() < 2 {
            return None;
        }
        let d: Vec<f64> = self.diffs.iter().map(|x| x + shift).collect();
        signed_rank_exact(&d).ok()
    }
}
