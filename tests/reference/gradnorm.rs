//! paper/model.md §2.7: GradNorm is not the gradient of anything, so each variant is checked against its SPEC formula
//! written out here from scratch, and against the LayerNorm Jacobian terms of §2.3: `full` with `eq2_exact`
//! is LN's backward at its own input for every z; the implementation's `full` is LN's backward when its input
//! is exactly normalized (mean 0, pvar + ε = 1); `center` is the centering term; `lateral` with uniform ω = 1/n
//! is `center`. Claim C2: rows of `center` and `full(eq2_exact)` sum to 0, and a `lateral` row sums to
//! n·(mean γ − ⟨ω, γ⟩).

use ::inorm::check::compare_with_floor;
use ::inorm::model::{GradNorm, GN_EPS, LN_EPS};
use ::inorm::reference::gradnorm::{gradnorm_backward, gradnorm_forward};
use ::inorm::reference::layernorm::{ln_backward, ln_backward_terms, ln_forward};
use ::inorm::reference::{Mat, Vector};
use ::inorm::tolerance::{cancel_rel, ANALYTIC_REL};
use proptest::prelude::*;

use super::{hard_rows, normals, prop, Worst};

/// Positive pooling weights summing to 1, from the seed (as the lateral ω of paper/model.md §2.7).
fn omega(seed: u64, n: usize) -> Vector {
    let raw: Vec<f64> = normals(seed, 5, n).iter().map(|g| g.abs() + 0.01).collect();
    let s: f64 = raw.iter().sum();
    Vector::from_iterator(n, raw.iter().map(|v| v / s))
}

/// `max|a − b| / max(max|b|, max|γ|)` (NaN: infinite).
fn rel(a: &Mat, b: &Mat, gamma: &Mat) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let floor = gamma.amax().max(f64::MIN_POSITIVE);
    compare_with_floor(a.as_slice(), b.as_slice(), floor)
        .unwrap()
        .max_rel
}

/// The paper/model.md §2.7 table, one row at a time, with plain loops (independent of the crate's row helpers).
fn spec_formula(variant: GradNorm, eq2: bool, g: &[f64], z: &[f64], w: &[f64]) -> Vec<f64> {
    let n = g.len() as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
    let mz = mean(z);
    let s = (z.iter().map(|v| (v - mz) * (v - mz)).sum::<f64>() / n + GN_EPS).sqrt();
    let mg = mean(g);
    let gz: f64 = g.iter().zip(z).map(|(a, b)| a * b).sum();
    match variant {
        GradNorm::Off => g.to_vec(),
        GradNorm::Center => g.iter().map(|v| v - mg).collect(),
        GradNorm::Scale => g.iter().map(|v| v / s).collect(),
        GradNorm::Decorrelate => g.iter().zip(z).map(|(a, b)| a - b * gz / n).collect(),
        GradNorm::Lateral => {
            let wg: f64 = w.iter().zip(g).map(|(a, b)| a * b).sum();
            g.iter().map(|v| v - wg).collect()
        }
        GradNorm::Full if eq2 => {
            let yh: Vec<f64> = z.iter().map(|v| (v - mz) / s).collect();
            let gy: f64 = g.iter().zip(&yh).map(|(a, b)| a * b).sum::<f64>() / n;
            g.iter()
                .zip(&yh)
                .map(|(a, b)| (a - mg - b * gy) / s)
                .collect()
        }
        GradNorm::Full => g
            .iter()
            .zip(z)
            .map(|(a, b)| (a - mg - b * gz / n) / s)
            .collect(),
    }
}

/// 256 cases (B ≤ 3, n ≤ 6, hard rows): every variant (and `full` with `eq2_exact`) against the formula.
#[test]
fn gradnorm_variants_match_spec_formulas() {
    prop(
        "gradnorm_variants_match_spec_formulas",
        256,
        hard_rows(),
        |(z, seed), w: &Worst| {
            let (bsz, n) = z.shape();
            let gamma = Mat::from_column_slice(bsz, n, &normals(seed, 1, bsz * n));
            let om = omega(seed, n);
            prop_assert_eq!(gradnorm_forward(&z), z.clone());
            for variant in GradNorm::ALL {
                for eq2 in [false, true] {
                    let got = gradnorm_backward(variant, &gamma, &z, Some(&om), eq2).unwrap();
                    let want = Mat::from_fn(bsz, n, |_, _| 0.0);
                    let mut want = want;
                    for b in 0..bsz {
                        let g: Vec<f64> = gamma.row(b).iter().copied().collect();
                        let zr: Vec<f64> = z.row(b).iter().copied().collect();
                        for (j, v) in spec_formula(variant, eq2, &g, &zr, om.as_slice())
                            .into_iter()
                            .enumerate()
                        {
                            want[(b, j)] = v;
                        }
                    }
                    let e = rel(&got, &want, &gamma);
                    w.rec(
                        &format!("{}{}", variant.name(), if eq2 { "+eq2" } else { "" }),
                        e,
                    );
                    prop_assert!(e <= ANALYTIC_REL, "{} eq2={eq2}: {e:.2e}", variant.name());
                }
            }
            // Lateral without ω is an error, not a panic.
            prop_assert!(gradnorm_backward(GradNorm::Lateral, &gamma, &z, None, false).is_err());
            Ok(())
        },
    );
}

/// 256 cases: the GradNorm variants against the LN Jacobian terms, and claim C2's row sums.
#[test]
fn gradnorm_vs_ln_terms_and_row_sums() {
    prop(
        "gradnorm_vs_ln_terms_and_row_sums",
        256,
        hard_rows(),
        |(z, seed), w: &Worst| {
            let (bsz, n) = z.shape();
            let nf = n as f64;
            let gamma = Mat::from_column_slice(bsz, n, &normals(seed, 1, bsz * n));
            let om = omega(seed, n);
            let gn = |v: GradNorm, zz: &Mat, eq2: bool, o: &Vector| {
                gradnorm_backward(v, &gamma, zz, Some(o), eq2).unwrap()
            };
            // eq2_exact full = LN backward at z itself (ŷ = LN(z), s_z = σ; GN_EPS = LN_EPS).
            assert_eq!(GN_EPS, LN_EPS);
            let c = ln_forward(&z, LN_EPS);
            let ln_b = ln_backward(&gamma, &c);
            let e = rel(&gn(GradNorm::Full, &z, true, &om), &ln_b, &gamma);
            w.rec("full_eq2_vs_ln_backward", e);
            prop_assert!(e <= ANALYTIC_REL, "full eq2 vs LN backward {e:.2e}");
            // The implementation's full = LN backward on an exactly normalized input z* (mean 0, pvar = 1 − ε, so
            // s_z = 1 and ŷ = z*); rows that are constant become 0 (also exactly normalized: s_z = σ = sqrt(ε)).
            let mut zs = Mat::zeros(bsz, n);
            for b in 0..bsz {
                // Re-centre y explicitly (its mean carries the rounding of the row mean of z, EPS64·|z|/σ) and
                // give it pvar 1 − ε.
                let yr: Vec<f64> = c.y.row(b).iter().copied().collect();
                let my = yr.iter().sum::<f64>() / nf;
                let cen: Vec<f64> = yr.iter().map(|v| v - my).collect();
                let pv = cen.iter().map(|v| v * v).sum::<f64>() / nf;
                if pv > 0.0 {
                    let f = ((1.0 - LN_EPS) / pv).sqrt();
                    for j in 0..n {
                        zs[(b, j)] = cen[j] * f;
                    }
                }
            }
            let ln_s = ln_backward(&gamma, &ln_forward(&zs, LN_EPS));
            let e = rel(&gn(GradNorm::Full, &zs, false, &om), &ln_s, &gamma);
            w.rec("full_impl_on_normalized_vs_ln_backward", e);
            prop_assert!(
                e <= ANALYTIC_REL,
                "full (impl) on normalized z vs LN backward {e:.2e}"
            );
            // center = δ + centering term of Eq. 2.
            let terms = ln_backward_terms(&gamma, &c);
            let center = gn(GradNorm::Center, &z, false, &om);
            let e = rel(&center, &(&gamma + &terms.centering), &gamma);
            w.rec("center_vs_centering_term", e);
            prop_assert!(e <= ANALYTIC_REL, "center vs centering term {e:.2e}");
            // lateral with uniform ω = 1/n = center.
            let uni = Vector::from_element(n, 1.0 / nf);
            let e = rel(&gn(GradNorm::Lateral, &z, false, &uni), &center, &gamma);
            w.rec("lateral_uniform_vs_center", e);
            prop_assert!(e <= ANALYTIC_REL, "lateral(1/n) vs center {e:.2e}");
            // Row sums (claim C2).
            let full_eq2 = gn(GradNorm::Full, &z, true, &om);
            let lateral = gn(GradNorm::Lateral, &z, false, &om);
            for b in 0..bsz {
                let g_abs: f64 = gamma.row(b).iter().map(|v| v.abs()).sum();
                let tol = cancel_rel(n, 0.0);
                let s = center.row(b).sum();
                w.rec("center_row_sum_over_terms", s.abs() / g_abs);
                prop_assert!(s.abs() <= tol * g_abs, "center row {b} sums to {s:.2e}");
                let zr: Vec<f64> = z.row(b).iter().copied().collect();
                let kappa = zr.iter().fold(0.0f64, |a, v| a.max(v.abs())) / c.sigma[b];
                let scale: f64 = (0..n)
                    .map(|j| {
                        (terms.delta[(b, j)].abs()
                            + terms.centering[(b, j)].abs()
                            + terms.decorrelation[(b, j)].abs())
                            / c.sigma[b]
                    })
                    .sum();
                let s = full_eq2.row(b).sum();
                w.rec("full_eq2_row_sum_over_terms", s.abs() / scale);
                prop_assert!(
                    s.abs() <= cancel_rel(n, kappa) * scale,
                    "full eq2 row {b} sums to {s:.2e}"
                );
                let want = nf * (gamma.row(b).sum() / nf - om.dot(&gamma.row(b).transpose()));
                let got = lateral.row(b).sum();
                let e = (got - want).abs() / (2.0 * g_abs);
                w.rec("lateral_row_sum_vs_n(mean-<w,g>)", e);
                prop_assert!(
                    e <= tol,
                    "lateral row {b}: sum {got:.6e} vs n(mean γ − ⟨ω,γ⟩) = {want:.6e}"
                );
            }
            Ok(())
        },
    );
}
