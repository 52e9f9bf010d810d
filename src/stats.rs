//! Rank statistics for the claims harness (SPEC §8.4): two-sided Mann–Whitney U and Wilcoxon signed-rank tests
//! by the normal approximation with tie and continuity corrections, matching SciPy's
//! `mannwhitneyu(a, b, alternative='two-sided', method='asymptotic')` and
//! `wilcoxon(a, b, zero_method='wilcox', correction=True, method='approx')`; plus median and significance stars.

use statrs::distribution::{ContinuousCDF, Normal};

use crate::error::{Error, Result};

/// Result of a two-sided Mann–Whitney U test.
#[derive(Clone, Debug, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample: #(a > b) + ½·#(a = b) over all n1·n2 pairs.
    pub u: f64,
    /// Two-sided p-value (normal approximation, tie and continuity corrected).
    pub p_two_sided: f64,
    /// Common-language effect size `u / (n1·n2)` = P(a > b) + ½P(a = b).
    pub effect: f64,
}

/// Result of a two-sided Wilcoxon signed-rank test.
#[derive(Clone, Debug, PartialEq)]
pub struct Wilcoxon {
    /// Sum of the ranks of |a − b| over pairs with a > b (zero differences dropped).
    pub w_plus: f64,
    /// Two-sided p-value (normal approximation, tie and continuity corrected).
    pub p_two_sided: f64,
    /// Median of the paired differences a − b (zeros included).
    pub median_diff: f64,
}

fn finite(what: &str, xs: &[f64]) -> Result<()> {
    if let Some(i) = xs.iter().position(|x| !x.is_finite()) {
        return Err(Error::invalid(
            what,
            format!("entry {i} is {} (need finite values)", xs[i]),
        ));
    }
    Ok(())
}

/// Mid-ranks (1-based, ties get the average rank) of `xs`, and `Σ(t³ − t)` over tie groups.
fn midranks(xs: &[f64]) -> (Vec<f64>, f64) {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&i, &j| xs[i].total_cmp(&xs[j]));
    let mut ranks = vec![0.0; xs.len()];
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < idx.len() {
        let mut end = start + 1;
        while end < idx.len() && xs[idx[end]] == xs[idx[start]] {
            end += 1;
        }
        let avg = (start + end + 1) as f64 / 2.0; // mean of ranks start+1 ..= end
        for &k in &idx[start..end] {
            ranks[k] = avg;
        }
        let t = (end - start) as f64;
        tie_term += t * t * t - t;
        start = end;
    }
    (ranks, tie_term)
}

/// Two-sided p-value `2·P(Z > z)` clipped to [0, 1]; `z = ±∞` handled (a zero variance gives p = 1 or 0).
fn two_sided_upper(z: f64) -> f64 {
    let normal = Normal::standard();
    if z.is_nan() {
        return 1.0;
    }
    (2.0 * normal.sf(z)).clamp(0.0, 1.0)
}

/// Two-sided Mann–Whitney U test of `a` (n1 ≥ 1) against `b` (n2 ≥ 1), as SciPy's
/// `mannwhitneyu(a, b, alternative='two-sided', method='asymptotic')`: `z = (max(U1, U2) − n1n2/2 − ½)/σ` with
/// `σ² = n1n2/12·((n+1) − Σ(t³−t)/(n(n−1)))`, `p = 2·sf(z)` clipped to 1. All values tied (σ = 0) gives p = 1.
/// Errors with `Invalid` on an empty sample or a non-finite value.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Result<MannWhitney> {
    if a.is_empty() || b.is_empty() {
        return Err(Error::invalid(
            "mann_whitney",
            format!(
                "both samples must be non-empty (got {} and {})",
                a.len(),
                b.len()
            ),
        ));
    }
    finite("mann_whitney: a", a)?;
    finite("mann_whitney: b", b)?;
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let (ranks, tie_term) = midranks(&pooled);
    let r1: f64 = ranks[..a.len()].iter().sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let u2 = n1 * n2 - u1;
    let n = n1 + n2;
    let mu = n1 * n2 / 2.0;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    let p = if var <= 0.0 {
        1.0
    } else {
        two_sided_upper((u1.max(u2) - mu - 0.5) / var.sqrt())
    };
    Ok(MannWhitney {
        u: u1,
        p_two_sided: p,
        effect: u1 / (n1 * n2),
    })
}

/// Two-sided Wilcoxon signed-rank test of paired samples (same length ≥ 1), as SciPy's
/// `wilcoxon(a, b, zero_method='wilcox', correction=True, method='approx')`: zero differences are dropped,
/// |d| is mid-ranked, `z = (W+ − m(m+1)/4 − ½·sign(W+ − m(m+1)/4)) / σ` with
/// `σ² = (m(m+1)(2m+1) − ½Σ(t³−t))/24`, `p = 2·sf(|z|)`. If every difference is zero (m = 0, where SciPy
/// returns NaN) p = 1. Errors with `ShapeMismatch` on different lengths and `Invalid` on empty or non-finite
/// input.
pub fn wilcoxon_signed_rank(a: &[f64], b: &[f64]) -> Result<Wilcoxon> {
    if a.len() != b.len() {
        return Err(Error::ShapeMismatch {
            op: "wilcoxon_signed_rank (paired samples)".into(),
            expected: format!("b of length {}", a.len()),
            got: format!("length {}", b.len()),
        });
    }
    if a.is_empty() {
        return Err(Error::invalid(
            "wilcoxon_signed_rank",
            "samples must be non-empty",
        ));
    }
    finite("wilcoxon_signed_rank: a", a)?;
    finite("wilcoxon_signed_rank: b", b)?;
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let median_diff = median(&diffs);
    let nonzero: Vec<f64> = diffs.iter().copied().filter(|&d| d != 0.0).collect();
    let abs: Vec<f64> = nonzero.iter().map(|d| d.abs()).collect();
    let (ranks, tie_term) = midranks(&abs);
    let w_plus: f64 = ranks
        .iter()
        .zip(&nonzero)
        .filter(|(_, &d)| d > 0.0)
        .map(|(r, _)| r)
        .sum();
    let m = nonzero.len() as f64;
    let mn = m * (m + 1.0) / 4.0;
    let var = (m * (m + 1.0) * (2.0 * m + 1.0) - 0.5 * tie_term) / 24.0;
    let p = if var <= 0.0 {
        1.0
    } else {
        let d = 0.5 * (w_plus - mn).signum() * if w_plus == mn { 0.0 } else { 1.0 };
        two_sided_upper(((w_plus - mn - d) / var.sqrt()).abs())
    };
    Ok(Wilcoxon {
        w_plus,
        p_two_sided: p,
        median_diff,
    })
}

/// Median (mean of the two middle values for even length); NaN for an empty slice. NaNs sort last.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let k = v.len() / 2;
    if v.len() % 2 == 1 {
        v[k]
    } else {
        0.5 * (v[k - 1] + v[k])
    }
}

/// Significance stars (SPEC §8.4): `***` p < 0.001, `**` p < 0.01, `*` p < 0.05, else `n.s.` (also for NaN).
pub fn stars(p: f64) -> &'static str {
    if p < 0.001 {
        "***"
    } else if p < 0.01 {
        "**"
    } else if p < 0.05 {
        "*"
    } else {
        "n.s."
    }
}
