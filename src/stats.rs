//! Rank statistics for the claims harness (paper/model.md §8.4): two-sided Mann–Whitney U and Wilcoxon signed-rank tests
//! by the normal approximation with tie and continuity corrections, matching SciPy's
//! `mannwhitneyu(a, b, alternative='two-sided', method='asymptotic')` and
//! `wilcoxon(a, b, zero_method='wilcox', correction=True, method='approx')`; the exact signed-rank distribution
//! for small samples ([`signed_rank_exact`], as SciPy's `method="exact"`), which the claims gate uses; plus
//! median and significance stars.

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

/// The tie term `Σ(t³ − t)` of the pooled samples with which [`mann_whitney`] gives the two-sided `p` for the
/// U `u` of samples of sizes `n1` and `n2`: its variance formula solved for the tie term,
/// `Σ(t³ − t) = n(n − 1)·((n + 1) − 12σ²/(n1·n2))` with `σ = (|u − n1n2/2| − ½)/z` and `z` the point where
/// `2·sf(z) = p` (found by bisection, so exact to f64 far into the tail). It reads how many runs tied from
/// a printed (U, p) pair. 0 means no ties; ties shrink σ and so p, and a negative value means that p is
/// larger than the test gives for this U even without ties (the pair cannot come from this test). Errors with `Invalid` unless 0 < p < 1, 0 ≤ u ≤ n1·n2 and
/// |u − n1n2/2| > ½ (else p = 1 whatever the ties).
pub fn mann_whitney_tie_term(u: f64, n1: usize, n2: usize, p: f64) -> Result<f64> {
    let (a, b) = (n1 as f64, n2 as f64);
    let d = (u - a * b / 2.0).abs() - 0.5;
    // Written so that a NaN p, u or d is refused too.
    let valid = p > 0.0 && p < 1.0 && (0.0..=a * b).contains(&u) && d > 0.0;
    if !valid {
        return Err(Error::invalid(
            "mann_whitney_tie_term",
            format!(
                "needs 0 < p < 1, 0 ≤ U ≤ n1·n2 and |U − n1·n2/2| > 1/2 (got U = {u}, n1 = {n1}, n2 = {n2}, p = {p})"
            ),
        ));
    }
    // 2·sf(z) falls from 1 at z = 0 to below any f64 p at z = 40.
    let (mut lo, mut hi) = (0.0_f64, 40.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if two_sided_upper(mid) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let sigma = d / (0.5 * (lo + hi));
    let n = a + b;
    Ok(n * (n - 1.0) * ((n + 1.0) - 12.0 * sigma * sigma / (a * b)))
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

/// Largest number of non-zero differences for which [`signed_rank_exact`] enumerates the exact null
/// distribution (cost O(m³) additions: 200 → 8·10⁶); above it the normal approximation is used, whose error
/// at that size is far below any significance level.
pub const EXACT_MAX_PAIRS: usize = 200;

/// Result of a signed-rank test of paired differences, with all three alternatives.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedRank {
    /// Sum of the (mid-)ranks of |d| over positive differences (zeros dropped, as `zero_method='wilcox'`).
    pub w_plus: f64,
    /// Number of non-zero differences.
    pub m: usize,
    /// One-sided p of the alternative "the differences are shifted above 0": `P(W⁺ ≥ observed)`.
    pub p_greater: f64,
    /// One-sided p of "shifted below 0": `P(W⁺ ≤ observed)`.
    pub p_less: f64,
    /// Two-sided p: `min(1, 2·min(p_greater, p_less))`.
    pub p_two_sided: f64,
    /// Whether the p-values come from the exact distribution (`m ≤ EXACT_MAX_PAIRS`) or the normal approximation.
    pub exact: bool,
}

/// Wilcoxon signed-rank test of the paired differences `d` against 0 with the **exact** null distribution:
/// zero differences are dropped, |d| is mid-ranked, and under H0 each of the 2^m sign patterns of the ranks is
/// equally likely. Without ties this is SciPy's `wilcoxon(d, zero_method='wilcox', method='exact')` (the
/// classical table); with tied |d| it is the exact conditional (permutation) distribution given the mid-ranks,
/// as SciPy's `method='auto'` computes for m ≤ 13 by enumerating all sign flips. Enumerated by dynamic
/// programming over doubled ranks (integers). Above [`EXACT_MAX_PAIRS`] non-zero differences it falls back to
/// the normal approximation with tie and continuity corrections (`exact = false`). With no non-zero
/// difference every p is 1. Errors with `Invalid` on empty or non-finite input.
pub fn signed_rank_exact(d: &[f64]) -> Result<SignedRank> {
    if d.is_empty() {
        return Err(Error::invalid(
            "signed_rank_exact",
            "the differences must be non-empty",
        ));
    }
    finite("signed_rank_exact: differences", d)?;
    let nonzero: Vec<f64> = d.iter().copied().filter(|&x| x != 0.0).collect();
    let m = nonzero.len();
    let abs: Vec<f64> = nonzero.iter().map(|x| x.abs()).collect();
    let (ranks, tie_term) = midranks(&abs);
    let w_plus: f64 = ranks
        .iter()
        .zip(&nonzero)
        .filter(|(_, &x)| x > 0.0)
        .map(|(r, _)| r)
        .sum();
    if m == 0 {
        return Ok(SignedRank {
            w_plus,
            m,
            p_greater: 1.0,
            p_less: 1.0,
            p_two_sided: 1.0,
            exact: true,
        });
    }
    let (p_greater, p_less, exact) = if m <= EXACT_MAX_PAIRS {
        // Doubled mid-ranks are integers; prob[s] = P(2·W⁺ = s) under H0.
        let w: Vec<usize> = ranks.iter().map(|r| (2.0 * r).round() as usize).collect();
        let total: usize = w.iter().sum();
        let mut prob = vec![0.0f64; total + 1];
        prob[0] = 1.0;
        let mut reach = 0;
        for &wi in &w {
            reach += wi;
            for s in (0..=reach).rev() {
                let with = if s >= wi { prob[s - wi] } else { 0.0 };
                prob[s] = 0.5 * (prob[s] + with);
            }
        }
        let obs = (2.0 * w_plus).round() as usize;
        let ge: f64 = prob[obs..].iter().sum();
        let le: f64 = prob[..=obs].iter().sum();
        (ge.min(1.0), le.min(1.0), true)
    } else {
        let mf = m as f64;
        let mn = mf * (mf + 1.0) / 4.0;
        let sd = ((mf * (mf + 1.0) * (2.0 * mf + 1.0) - 0.5 * tie_term) / 24.0).sqrt();
        let normal = Normal::standard();
        if sd <= 0.0 {
            (1.0, 1.0, false)
        } else {
            (
                normal.sf((w_plus - mn - 0.5) / sd),
                normal.cdf((w_plus - mn + 0.5) / sd),
                false,
            )
        }
    };
    Ok(SignedRank {
        w_plus,
        m,
        p_greater,
        p_less,
        p_two_sided: (2.0 * p_greater.min(p_less)).min(1.0),
        exact,
    })
}

/// Two-sided exact Wilcoxon signed-rank test of paired samples (see [`signed_rank_exact`] for the
/// distribution), as SciPy's `wilcoxon(a, b, zero_method='wilcox', method='exact')` for tie-free differences.
/// Errors with `ShapeMismatch` on different lengths and `Invalid` on empty or non-finite input.
pub fn wilcoxon_exact(a: &[f64], b: &[f64]) -> Result<Wilcoxon> {
    let d = paired_diffs(a, b)?;
    let r = signed_rank_exact(&d)?;
    Ok(Wilcoxon {
        w_plus: r.w_plus,
        p_two_sided: r.p_two_sided,
        median_diff: median(&d),
    })
}

/// `a − b` element-wise for paired samples; errors as [`wilcoxon_exact`].
pub fn paired_diffs(a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    if a.len() != b.len() {
        return Err(Error::ShapeMismatch {
            op: "paired samples".into(),
            expected: format!("b of length {}", a.len()),
            got: format!("length {}", b.len()),
        });
    }
    if a.is_empty() {
        return Err(Error::invalid(
            "paired samples",
            "samples must be non-empty",
        ));
    }
    finite("paired samples: a", a)?;
    finite("paired samples: b", b)?;
    Ok(a.iter().zip(b).map(|(x, y)| x - y).collect())
}

/// Result of an equivalence test by two one-sided tests (TOST).
#[derive(Clone, Debug, PartialEq)]
pub struct Equivalence {
    /// Margin Δ (> 0): the two conditions count as equivalent when the shift lies in (−Δ, Δ).
    pub margin: f64,
    /// p of H0 "shift ≤ −Δ" (signed-rank test of d + Δ, alternative greater).
    pub p_lower: f64,
    /// p of H0 "shift ≥ +Δ" (signed-rank test of d − Δ, alternative less).
    pub p_upper: f64,
    /// `max(p_lower, p_upper)`: equivalence is shown at level α when it is below α.
    pub p: f64,
}

/// Equivalence of paired differences `d` to 0 within ±`margin` by two one-sided exact signed-rank tests
/// (Schuirmann's TOST with the Wilcoxon test in place of the t-test): both "shift ≤ −Δ" and "shift ≥ Δ" must
/// be rejected, so noisy data can no longer pass by failing to find a difference. Errors with `Invalid` on a
/// margin that is not finite and positive, or on empty or non-finite `d`.
pub fn equivalence_tost(d: &[f64], margin: f64) -> Result<Equivalence> {
    if !(margin.is_finite() && margin > 0.0) {
        return Err(Error::invalid(
            "equivalence margin",
            format!("{margin} (must be finite and > 0)"),
        ));
    }
    let lo: Vec<f64> = d.iter().map(|x| x + margin).collect();
    let hi: Vec<f64> = d.iter().map(|x| x - margin).collect();
    let p_lower = signed_rank_exact(&lo)?.p_greater;
    let p_upper = signed_rank_exact(&hi)?.p_less;
    Ok(Equivalence {
        margin,
        p_lower,
        p_upper,
        p: p_lower.max(p_upper),
    })
}

/// Fisher's exact test, two-sided, of the 2×2 table `[[a, b], [c, d]]` (rows: two groups; columns: with
/// and without a property): the probability, given the margins, of the tables no more likely than the one
/// observed (hypergeometric; "no more likely" up to a relative 1e-7, as SciPy's `fisher_exact`).
pub fn fisher_exact(a: usize, b: usize, c: usize, d: usize) -> f64 {
    let (row1, col1, n) = (a + b, a + c, a + b + c + d);
    let ln_choose = |n: usize, k: usize| {
        statrs::function::factorial::ln_factorial(n as u64)
            - statrs::function::factorial::ln_factorial(k as u64)
            - statrs::function::factorial::ln_factorial((n - k) as u64)
    };
    let ln_p = |x: usize| ln_choose(col1, x) + ln_choose(n - col1, row1 - x) - ln_choose(n, row1);
    let lo = row1.saturating_sub(n - col1);
    let hi = row1.min(col1);
    let observed = ln_p(a);
    (lo..=hi)
        .map(ln_p)
        .filter(|&l| l <= observed + 1e-7)
        .map(f64::exp)
        .sum::<f64>()
        .min(1.0)
}

/// The Clopper–Pearson ("exact") two-sided interval of level `level` (e.g. 0.95) for a binomial proportion
/// with `k` successes in `n` trials: the quantiles of Beta(k, n − k + 1) and Beta(k + 1, n − k).
pub fn clopper_pearson(k: usize, n: usize, level: f64) -> Result<(f64, f64)> {
    use statrs::distribution::{Beta, ContinuousCDF};
    if k > n || n == 0 || !(0.0..1.0).contains(&level) {
        return Err(Error::invalid(
            "clopper_pearson",
            format!("{k} of {n} at level {level} (need k ≤ n, n ≥ 1, 0 ≤ level < 1)"),
        ));
    }
    let tail = 0.5 * (1.0 - level);
    let (kf, nf) = (k as f64, n as f64);
    let beta = |a: f64, b: f64| {
        Beta::new(a, b).map_err(|e| Error::invalid("clopper_pearson", e.to_string()))
    };
    let lo = if k == 0 {
        0.0
    } else {
        beta(kf, nf - kf + 1.0)?.inverse_cdf(tail)
    };
    let hi = if k == n {
        1.0
    } else {
        beta(kf + 1.0, nf - kf)?.inverse_cdf(1.0 - tail)
    };
    Ok((lo, hi))
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

/// Significance stars (paper/model.md §8.4): `***` p < 0.001, `**` p < 0.01, `*` p < 0.05, else `n.s.` (also for NaN).
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
