//! paper/model.md §8.2–8.3: the alignment and moment diagnostics of `reference::metrics` (which gate claims
//! C9, C10 and C13) against a second implementation written differently, here, with plain loops over
//! row-major `Vec`s and none of the crate's LayerNorm / GradNorm / row helpers:
//!
//! * the reference surrogate's error at Z, `∂/∂Z Σ ReLU(LN(Z))`, by 5-point finite differences of the
//!   surrogate loss itself, row by row (with the ReLU mask frozen at `1[LN(Z) > 0]` everywhere, and through the
//!   true ReLU wherever no LN output changes sign within the stencil), and again through the explicit
//!   LayerNorm Jacobian `J = (I − 11ᵀ/n − y yᵀ/n)/σ` of §2.3;
//! * the own surrogate's error through an explicit n×n backward matrix per row for every GradNorm variant;
//! * both W_EE gradients as sums of materialized per-sample gradients `(e_b / d_b) x_bᵀ`, and the cosine
//!   with its `max(‖·‖, 1e-8)` guards written out;
//! * the moments as per-row two-pass mean and population variance.
//!
//! On hard cases too: constant rows (variance 0, σ = √ε), rows with |mean| ≫ std (where `1[LN(z) > 0]` and
//! `1[z > 0]` differ most), widths n = 1 and 2. A definitional slip — e.g. the layer's own mask `1[Z > 0]`
//! used for both surrogates, a raw second moment for the variance, a missing `⊘ d` — changes the result by
//! O(1) and fails here. Tolerances are forward-error bounds built from the magnitudes of the terms actually
//! summed (`src/tolerance.rs`, `sum_abs_tol`), so a cancellation widens them only where it happens.

// Explicit index loops mirror the formulas (e_i = Σ_j A_ij γ_j) on purpose: this is the second, plainly
// written implementation.
#![allow(clippy::needless_range_loop)]

use ::inorm::model::{GradNorm, HiddenKind, NetSpec, ParamSet, Preset, LN_EPS};
use ::inorm::reference::dense::dense_forward;
use ::inorm::reference::ei::ei_forward;
use ::inorm::reference::inorm::{inorm_forward, INormParams};
use ::inorm::reference::inorm_sub::inorm_sub_forward;
use ::inorm::reference::layernorm::ln_forward;
use ::inorm::reference::metrics::{
    alignment_gradients, gradient_alignment, moments, output_alignment,
};
use ::inorm::reference::{relu, Mat, ReferenceNet, Vector};
use ::inorm::testing::{activations, labels, luminance_inputs, net_spec, uniform_kind_activations};
use ::inorm::tolerance::{cancel_rel, fd4_rel, sum_abs_tol, EPS64};
use proptest::prelude::*;

use super::{prop, Worst};

type Rows = Vec<Vec<f64>>;

/// The guard of the cosine (paper/model.md §8.2).
const COS_GUARD: f64 = 1e-8;

fn rows_of(m: &Mat) -> Rows {
    (0..m.nrows())
        .map(|b| (0..m.ncols()).map(|j| m[(b, j)]).collect())
        .collect()
}

/// One row's LayerNorm, two-pass: `(y, σ)` with `σ = sqrt(pvar + ε)`.
fn ln_row(z: &[f64]) -> (Vec<f64>, f64) {
    let n = z.len() as f64;
    let mut mean = 0.0;
    for v in z {
        mean += v;
    }
    mean /= n;
    let mut var = 0.0;
    for v in z {
        var += (v - mean) * (v - mean);
    }
    let sigma = (var / n + LN_EPS).sqrt();
    (z.iter().map(|v| (v - mean) / sigma).collect(), sigma)
}

/// Row conditioning `max|z| / σ` (how far the rounding of z reaches the normalized row).
fn kappa(z: &[f64]) -> f64 {
    let (_, sigma) = ln_row(z);
    z.iter().fold(0.0f64, |m, v| m.max(v.abs())) / sigma
}

/// LN outputs this close to 0 have a sign that roundoff of the row mean decides (constant rows: exactly 0
/// in exact arithmetic, ±ulp after `Σz/n`): `cancel_rel`'s bound on the rounding of y.
fn ambiguous(y: f64, n: usize, k: f64) -> bool {
    y.abs() <= cancel_rel(n, k)
}

/// An n×n matrix `e = A γ` and the matrix of its summed term magnitudes (|each component| added), so that
/// `Σ_j |A|_ij |γ_j|` bounds every term either implementation adds up.
struct Backward {
    a: Rows,
    abs: Rows,
}

impl Backward {
    /// `(A γ, |A| |γ|)`.
    fn apply(&self, g: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let n = g.len();
        let mut e = vec![0.0; n];
        let mut mag = vec![0.0; n];
        for i in 0..n {
            for j in 0..n {
                e[i] += self.a[i][j] * g[j];
                mag[i] += self.abs[i][j] * g[j].abs();
            }
        }
        (e, mag)
    }
}

/// Builds `A = Σ_t c_t·T_t` from component matrices given as closures of (i, j).
fn backward(n: usize, parts: &[&dyn Fn(usize, usize) -> f64]) -> Backward {
    let mut a = vec![vec![0.0; n]; n];
    let mut abs = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..n {
            for p in parts {
                let v = p(i, j);
                a[i][j] += v;
                abs[i][j] += v.abs();
            }
        }
    }
    Backward { a, abs }
}

fn kron(i: usize, j: usize) -> f64 {
    f64::from(u8::from(i == j))
}

/// The explicit LayerNorm Jacobian of paper/model.md §2.3 at row z, `(δ_ij − 1/n − y_i y_j/n)/σ`
/// (symmetric, so it is also the backward matrix).
fn ln_jacobian(z: &[f64]) -> Backward {
    let n = z.len();
    let (y, s) = ln_row(z);
    let nf = n as f64;
    backward(
        n,
        &[&|i, j| kron(i, j) / s, &|_, _| -1.0 / (nf * s), &|i, j| {
            -y[i] * y[j] / (nf * s)
        }],
    )
}

/// The own surrogate's backward matrix of paper/model.md §2.7 for one row z (`e = A γ`).
fn gradnorm_matrix(variant: GradNorm, eq2: bool, z: &[f64], omega: &[f64]) -> Backward {
    let n = z.len();
    let nf = n as f64;
    let mut mean = 0.0;
    for v in z {
        mean += v;
    }
    mean /= nf;
    let mut var = 0.0;
    for v in z {
        var += (v - mean) * (v - mean);
    }
    let s = (var / nf + ::inorm::model::GN_EPS).sqrt();
    let yh: Vec<f64> = z.iter().map(|v| (v - mean) / s).collect();
    match variant {
        GradNorm::Off => backward(n, &[&kron]),
        GradNorm::Center => backward(n, &[&kron, &|_, _| -1.0 / nf]),
        GradNorm::Scale => backward(n, &[&|i, j| kron(i, j) / s]),
        GradNorm::Decorrelate => backward(n, &[&kron, &|i, j| -z[i] * z[j] / nf]),
        GradNorm::Lateral => backward(n, &[&kron, &|_, j| -omega[j]]),
        GradNorm::Full if eq2 => backward(
            n,
            &[&|i, j| kron(i, j) / s, &|_, _| -1.0 / (nf * s), &|i, j| {
                -yh[i] * yh[j] / (nf * s)
            }],
        ),
        GradNorm::Full => backward(
            n,
            &[&|i, j| kron(i, j) / s, &|_, _| -1.0 / (nf * s), &|i, j| {
                -z[i] * z[j] / (nf * s)
            }],
        ),
    }
}

/// 5-point central difference of `f` at `x` along coordinate `i` with step `h`.
fn fd4(f: &dyn Fn(&[f64]) -> f64, x: &[f64], i: usize, h: f64) -> f64 {
    let at = |t: f64| {
        let mut p = x.to_vec();
        p[i] += t;
        f(&p)
    };
    (at(-2.0 * h) - 8.0 * at(-h) + 8.0 * at(h) - at(2.0 * h)) / (12.0 * h)
}

/// Per-row errors at Z of both surrogates, with per-entry absolute error bounds, and what the FD saw.
struct RowErrors {
    /// Reference error `∂L_ref/∂z_b` (explicit Jacobian), its bound, and the same by FD.
    e_ref: Rows,
    tol_ref: Rows,
    /// Own error `GN-backward(1[z_b > 0])`, its bound.
    e_own: Rows,
    tol_own: Rows,
}

/// The two surrogates' errors at Z row by row (paper/model.md §8.2), each computed twice for the reference:
/// explicit Jacobian and 5-point FD of the surrogate loss; asserts the two agree. `w` records the FD
/// agreement and how many rows also passed the FD through the true (unfrozen) ReLU.
fn row_errors(
    z: &Rows,
    variant: GradNorm,
    eq2: bool,
    omega: &[f64],
    w: &Worst,
) -> Result<RowErrors, TestCaseError> {
    let mut out = RowErrors {
        e_ref: vec![],
        tol_ref: vec![],
        e_own: vec![],
        tol_own: vec![],
    };
    for zb in z {
        let n = zb.len();
        let (y, sigma) = ln_row(zb);
        let k = kappa(zb);
        let amb: Vec<bool> = y.iter().map(|&v| ambiguous(v, n, k)).collect();
        // Ambiguous signs only where the whole row is (a constant row): there every mask gives an error
        // ≈ 0 (the centering removes a constant mask), so the bound below, taken with |mask| = 1 at
        // ambiguous entries, covers either choice. A lone ambiguous entry would have a sign that matters.
        let n_amb = amb.iter().filter(|a| **a).count();
        prop_assume!(n_amb == 0 || n_amb == n);
        let m_ref: Vec<f64> = y.iter().map(|&v| f64::from(u8::from(v > 0.0))).collect();
        let m_own: Vec<f64> = zb.iter().map(|&v| f64::from(u8::from(v > 0.0))).collect();
        let m_bound: Vec<f64> = m_ref
            .iter()
            .zip(&amb)
            .map(|(m, a)| if *a { 1.0 } else { *m })
            .collect();
        // Reference error: the lateral variant's reference is the exact centering of the own mask.
        let (e_ref, mag_ref, round_k) = if variant == GradNorm::Lateral {
            let c = backward(n, &[&kron, &|_, _| -1.0 / n as f64]);
            let (e, m) = c.apply(&m_own);
            (e, m, 0.0)
        } else {
            let j = ln_jacobian(zb);
            let (e, _) = j.apply(&m_ref);
            let (_, m) = j.apply(&m_bound);
            // FD of the surrogate loss Σ_j M_j LN(z)_j with M frozen (ReLU'(0) = 0 convention), step
            // relative to the row's scale.
            let frozen = |p: &[f64]| -> f64 {
                let (yy, _) = ln_row(p);
                yy.iter().zip(&m_ref).map(|(a, b)| a * b).sum()
            };
            let relu_loss = |p: &[f64]| -> f64 { ln_row(p).0.iter().map(|a| a.max(0.0)).sum() };
            let h = 1e-3 * sigma;
            let jnorm = j
                .abs
                .iter()
                .map(|r| r.iter().sum::<f64>())
                .fold(0.0f64, f64::max);
            let l1: f64 = m_bound.iter().sum();
            let fd_tol = fd4_rel(k) * jnorm * l1.max(1.0);
            let mut stable = n_amb == 0;
            for i in 0..n {
                let fd = fd4(&frozen, zb, i, h);
                let err = (fd - e[i]).abs();
                w.rec("fd_frozen_mask_vs_jacobian (/tol)", err / fd_tol);
                prop_assert!(
                    err <= fd_tol,
                    "FD of the frozen-mask surrogate {fd:.6e} vs explicit Jacobian {:.6e} (row {zb:?})",
                    e[i]
                );
                for t in [-2.0, -1.0, 1.0, 2.0] {
                    let mut p = zb.clone();
                    p[i] += t * h;
                    let (yy, _) = ln_row(&p);
                    if yy.iter().zip(&m_ref).any(|(a, m)| (*a > 0.0) != (*m > 0.0)) {
                        stable = false;
                    }
                }
            }
            if stable {
                for (i, ei) in e.iter().enumerate() {
                    let fd = fd4(&relu_loss, zb, i, h);
                    let err = (fd - ei).abs();
                    w.rec("fd_true_relu_vs_jacobian (/tol)", err / fd_tol);
                    prop_assert!(
                        err <= fd_tol,
                        "FD through the true ReLU {fd:.6e} vs {ei:.6e}"
                    );
                }
                w.add("rows_with_true_relu_fd (count)", 1.0);
            }
            (e, m, k)
        };
        let (e_own, mag_own) = gradnorm_matrix(variant, eq2, zb, omega).apply(&m_own);
        // Forward-error bound of each entry: the n-term products of both implementations (relative to the
        // summed |terms|), plus y's rounding (κ) reaching the terms through the row statistics.
        let tol = |mag: &[f64], kk: f64| -> Vec<f64> {
            mag.iter()
                .map(|m| sum_abs_tol(n, *m) * (1.0 + kk))
                .collect()
        };
        out.tol_ref.push(tol(&mag_ref, round_k));
        out.tol_own.push(tol(&mag_own, k));
        out.e_ref.push(e_ref);
        out.e_own.push(e_own);
    }
    Ok(out)
}

/// `Σ_b (e_b / d_b) x_bᵀ` from materialized per-sample gradients, and the same sum of `tol_b ⊗ |x_b| / d_b`
/// plus the batch sum's own rounding.
fn per_sample_sum(e: &Rows, tol: &Rows, x: &Rows, d: &Rows) -> (Rows, Rows) {
    let (bsz, n, m) = (e.len(), e[0].len(), x[0].len());
    let per_sample: Vec<Rows> = (0..bsz)
        .map(|b| {
            (0..n)
                .map(|j| (0..m).map(|c| e[b][j] / d[b][j] * x[b][c]).collect())
                .collect()
        })
        .collect();
    let mut g = vec![vec![0.0; m]; n];
    let mut t = vec![vec![0.0; m]; n];
    for j in 0..n {
        for c in 0..m {
            let mut abs = 0.0;
            for (b, gb) in per_sample.iter().enumerate() {
                g[j][c] += gb[j][c];
                abs += gb[j][c].abs();
                t[j][c] += tol[b][j] * x[b][c].abs() / d[b][j];
            }
            t[j][c] += sum_abs_tol(bsz + 2, abs);
        }
    }
    (g, t)
}

fn frob(a: &Rows) -> f64 {
    a.iter().flatten().map(|v| v * v).sum::<f64>().sqrt()
}

/// The cosine of paper/model.md §8.2 with its guards, and a first-order bound on its error given per-entry
/// bounds of both vectors: `|Δcos| ≤ ‖Δa‖/max(‖a‖, g) + ‖Δb‖/max(‖b‖, g)` plus the rounding of the three
/// reductions.
fn cosine_with_bound(a: &Rows, ta: &Rows, b: &Rows, tb: &Rows) -> (f64, f64) {
    let (mut dot, mut abs) = (0.0, 0.0);
    for (ra, rb) in a.iter().zip(b) {
        for (u, v) in ra.iter().zip(rb) {
            dot += u * v;
            abs += (u * v).abs();
        }
    }
    let (na, nb) = (frob(a).max(COS_GUARD), frob(b).max(COS_GUARD));
    let len = a.len() * a[0].len();
    let bound = frob(ta) / na + frob(tb) / nb + sum_abs_tol(len, abs) / (na * nb) + 4.0 * EPS64;
    (dot / (na * nb), bound)
}

fn max_excess(got: &Mat, want: &Rows, tol: &Rows) -> f64 {
    let mut worst = 0.0f64;
    for (j, (rw, rt)) in want.iter().zip(tol).enumerate() {
        for (c, (v, t)) in rw.iter().zip(rt).enumerate() {
            let e = (got[(j, c)] - v).abs();
            let r = if e == 0.0 { 0.0 } else { e / t };
            worst = worst.max(if r.is_nan() { f64::INFINITY } else { r });
        }
    }
    worst
}

/// Both W_EE gradients of the alignment and the alignment itself, independently, with their bounds; the
/// crate's `alignment_gradients` / `gradient_alignment` must lie within them.
#[allow(clippy::too_many_arguments)]
fn check_gradient_alignment(
    x: &Mat,
    z: &Mat,
    dn: Option<&Mat>,
    variant: GradNorm,
    omega: &[f64],
    eq2: bool,
    w: &Worst,
    what: &str,
) -> Result<(f64, f64), TestCaseError> {
    let (zr, xr) = (rows_of(z), rows_of(x));
    let d = dn.map_or_else(|| vec![vec![1.0; z.ncols()]; z.nrows()], rows_of);
    let re = row_errors(&zr, variant, eq2, omega, w)?;
    let (g_ref, t_ref) = per_sample_sum(&re.e_ref, &re.tol_ref, &xr, &d);
    let (g_own, t_own) = per_sample_sum(&re.e_own, &re.tol_own, &xr, &d);
    let om = Vector::from_column_slice(omega);
    let lateral = (variant == GradNorm::Lateral).then_some(&om);
    let (c_ref, c_own) = alignment_gradients(x, z, dn, variant, lateral, eq2).unwrap();
    let r = max_excess(&c_ref, &g_ref, &t_ref);
    w.rec(&format!("{what}: reference gradient (/bound)"), r);
    prop_assert!(
        r <= 1.0,
        "{variant:?}: reference surrogate gradient off by {r:.3e} × its bound"
    );
    let r = max_excess(&c_own, &g_own, &t_own);
    w.rec(&format!("{what}: own gradient (/bound)"), r);
    prop_assert!(
        r <= 1.0,
        "{variant:?}: own surrogate gradient off by {r:.3e} × its bound"
    );
    let (cos, bound) = cosine_with_bound(&g_ref, &t_ref, &g_own, &t_own);
    let got = gradient_alignment(x, z, dn, variant, lateral, eq2).unwrap();
    let e = (got - cos).abs();
    w.rec(&format!("{what}: gradient alignment (/bound)"), e / bound);
    prop_assert!(
        e <= bound,
        "{variant:?}: gradient alignment {got:.12} vs independent {cos:.12} (bound {bound:.2e})"
    );
    if bound < 1e-6 {
        w.add(&format!("{what}: cosines checked to < 1e-6 (count)"), 1.0);
    }
    Ok((cos, bound))
}

/// Output alignment `cos(vec ReLU(LN(Z)), vec ReLU(Z))` written out, with its bound.
fn check_output_alignment(z: &Mat, w: &Worst, what: &str) -> Result<(f64, f64), TestCaseError> {
    let zr = rows_of(z);
    let (mut a, mut ta, mut b) = (vec![], vec![], vec![]);
    for zb in &zr {
        let (y, _) = ln_row(zb);
        let k = kappa(zb);
        a.push(y.iter().map(|v| v.max(0.0)).collect::<Vec<_>>());
        // |Δy| ≤ cancel_rel(n, κ) (absolute: y is O(1)); ReLU does not increase it.
        ta.push(vec![cancel_rel(zb.len(), k); zb.len()]);
        b.push(zb.iter().map(|v| v.max(0.0)).collect::<Vec<_>>());
    }
    let tb = vec![vec![0.0; z.ncols()]; z.nrows()];
    let (cos, bound) = cosine_with_bound(&a, &ta, &b, &tb);
    let got = output_alignment(z);
    let e = (got - cos).abs();
    w.rec(&format!("{what}: output alignment (/bound)"), e / bound);
    prop_assert!(
        e <= bound,
        "output alignment {got:.12} vs independent {cos:.12} (bound {bound:.2e})"
    );
    Ok((cos, bound))
}

/// Moments `(μ̄, v̄)` written out (mean over samples of the per-row mean and population variance), with
/// bounds: the two-pass variance's deviations round by ≤ cancel_rel(n, κ)·σ each.
fn check_moments(z: &Mat, got: (f64, f64), w: &Worst, what: &str) -> Result<(), TestCaseError> {
    let zr = rows_of(z);
    let bsz = zr.len() as f64;
    let (mut mu, mut v, mut tmu, mut tv) = (0.0, 0.0, 0.0, 0.0);
    for zb in &zr {
        let n = zb.len();
        let mut m = 0.0;
        let mut abs = 0.0;
        for x in zb {
            m += x;
            abs += x.abs();
        }
        m /= n as f64;
        let mut q = 0.0;
        for x in zb {
            q += (x - m) * (x - m);
        }
        q /= n as f64;
        mu += m / bsz;
        v += q / bsz;
        tmu += sum_abs_tol(n, abs / n as f64) / bsz;
        let s2 = q + LN_EPS;
        tv += (2.0 * cancel_rel(n, kappa(zb)) * s2 + sum_abs_tol(n, q)) / bsz;
    }
    tmu += sum_abs_tol(zr.len(), mu.abs().max(tmu));
    tv += sum_abs_tol(zr.len(), v);
    let (em, ev) = ((got.0 - mu).abs(), (got.1 - v).abs());
    w.rec(
        &format!("{what}: mean (/bound)"),
        em / tmu.max(f64::MIN_POSITIVE),
    );
    w.rec(
        &format!("{what}: var (/bound)"),
        ev / tv.max(f64::MIN_POSITIVE),
    );
    prop_assert!(
        em <= tmu,
        "μ̄ {} vs independent {mu} (bound {tmu:.2e})",
        got.0
    );
    prop_assert!(ev <= tv, "v̄ {} vs independent {v} (bound {tv:.2e})", got.1);
    Ok(())
}

/// A case for the diagnostics on their own: Z (hard rows: constant, |mean| ≫ std, generic; n = 1…6), an
/// input X (luminance-like or general), a positive denominator (per-sample scalar as with the frozen
/// D_EI, general B×n, or none), a variant, `eq2_exact`, ω.
#[allow(clippy::type_complexity)]
fn diag_case() -> impl Strategy<Value = (Mat, Mat, Option<Mat>, GradNorm, bool, Vec<f64>)> {
    (1usize..=5, 1usize..=6, 1usize..=5)
        .prop_flat_map(|(b, n, m)| {
            (
                prop_oneof![
                    uniform_kind_activations(b, n).prop_map(|(_, z)| z),
                    activations(b, n)
                ],
                prop_oneof![luminance_inputs(b, m), ::inorm::testing::matrix(b, m)],
                prop_oneof![
                    Just(None),
                    prop::collection::vec(0.05f64..3.0, b).prop_map(move |d| Some(Mat::from_fn(
                        b,
                        n,
                        |r, _| d[r]
                    ))),
                    prop::collection::vec(0.05f64..3.0, b * n)
                        .prop_map(move |d| Some(Mat::from_row_slice(b, n, &d))),
                ],
                prop::sample::select(GradNorm::ALL.to_vec()),
                any::<bool>(),
                prop::collection::vec(0.05f64..1.0, n).prop_map(|v| {
                    let s: f64 = v.iter().sum();
                    v.iter().map(|x| x / s).collect::<Vec<_>>()
                }),
            )
        })
        .prop_map(|(z, x, d, v, eq2, om)| (x, z, d, v, eq2 && v == GradNorm::Full, om))
}

/// 512 cases on hard rows: gradient alignment (both surrogate gradients entry by entry, then the cosine),
/// output alignment and moments of `reference::metrics` within forward-error bounds of the independent
/// implementation; the reference surrogate's error is also proven by FD of the surrogate loss.
#[test]
fn alignment_and_moments_match_an_independent_implementation() {
    prop(
        "alignment_and_moments_match_an_independent_implementation",
        512,
        diag_case(),
        |(x, z, dn, variant, eq2, om), w: &Worst| {
            check_gradient_alignment(&x, &z, dn.as_ref(), variant, &om, eq2, w, "cases")?;
            check_output_alignment(&z, w, "cases")?;
            check_moments(&z, moments(&z), w, "cases")?;
            Ok(())
        },
    );
}

/// 64 cases, every preset (and the `NetSpec` options `net_spec` draws), perturbed init: the `LayerDiag` of
/// `forward_backward(.., diag = true)` and the moments of `eval_forward`, per hidden layer, against the
/// independent implementation run on that layer's X, Z and d. X and d are rebuilt with the crate's layer
/// forwards (proven in their own tests), and the rebuild must reproduce the pass's Z bit for bit. Catches
/// wiring slips (the wrong layer's input or ω, the LN output instead of Z, a dropped `⊘ d`).
#[test]
fn network_diagnostics_match_an_independent_implementation() {
    let strategy = prop::sample::select(Preset::ALL.to_vec())
        .prop_flat_map(net_spec)
        .prop_flat_map(|s| {
            (
                Just(s.clone()),
                (1usize..=6).prop_flat_map(move |b| (luminance_inputs(b, s.input), labels(b))),
                any::<u64>(),
            )
        });
    prop(
        "network_diagnostics_match_an_independent_implementation",
        64,
        strategy,
        |(spec, (x, y), seed), w: &Worst| {
            let params = perturbed_params(&spec, seed);
            let net = ReferenceNet::new(spec.clone(), &params).unwrap();
            let pass = net.forward_backward(&x, &y, true).unwrap();
            prop_assert_eq!(pass.diag.len(), 2);
            let (_, _, eval_moments) = net.eval_forward(&x, &y);
            let mut h = x.clone();
            for i in 0..2 {
                let (zi, dn) = layer_forward(&spec, &params, i, &h);
                prop_assert_eq!(&zi, &pass.z[i], "rebuilt Z of layer {} differs", i);
                let variant = layer_variant(&spec);
                let om: Vec<f64> = params
                    .get(&format!("hidden.{i}.lateral"))
                    .map_or_else(|| vec![0.0; spec.width], |t| t.data.clone());
                let what = "network";
                let (cos, bound) = check_gradient_alignment(
                    &h,
                    &zi,
                    dn.as_ref(),
                    variant,
                    &om,
                    spec.eq2_exact,
                    w,
                    what,
                )?;
                let d = &pass.diag[i];
                let e = (d.gradient_alignment - cos).abs();
                w.rec("network: LayerDiag gradient alignment (/bound)", e / bound);
                prop_assert!(
                    e <= bound,
                    "{} layer {i}: LayerDiag gradient alignment {} vs independent {cos} (bound {bound:.2e})",
                    spec.preset,
                    d.gradient_alignment
                );
                let (cos, bound) = check_output_alignment(&zi, w, what)?;
                prop_assert!((d.output_alignment - cos).abs() <= bound);
                check_moments(&zi, (d.mean, d.var), w, what)?;
                check_moments(&zi, eval_moments[i], w, "network eval")?;
                h = if spec.preset.layer_norm() {
                    relu(&ln_forward(&zi, LN_EPS).y)
                } else {
                    relu(&zi)
                };
            }
            Ok(())
        },
    );
}

/// The GradNorm variant a hidden layer applies (paper/model.md §3 table; E/EI layers: identity).
fn layer_variant(spec: &NetSpec) -> GradNorm {
    match spec.preset.hidden_kind() {
        HiddenKind::INorm => spec.preset.grad_norm(),
        HiddenKind::INormSub => spec.sub_grad_norm,
        _ => GradNorm::Off,
    }
}

/// Layer `i`'s pre-ReLU output Z (paper/model.md §8.2: raw pre-activation for E/EI, before any LN) and its
/// denominator (I-Norm), by the crate's layer forwards.
fn layer_forward(spec: &NetSpec, p: &ParamSet, i: usize, x: &Mat) -> (Mat, Option<Mat>) {
    let g = |s: &str| p[&format!("hidden.{i}.{s}")].to_matrix();
    let b = Vector::from_column_slice(&p[&format!("hidden.{i}.bias")].data);
    match spec.preset.hidden_kind() {
        HiddenKind::E => (dense_forward(x, &g("w_ee"), &b), None),
        HiddenKind::Ei => (ei_forward(x, &g("w_ee"), &g("w_ie"), &g("w_ei"), &b), None),
        HiddenKind::INormSub => (
            inorm_sub_forward(x, &g("w_ee"), &b, &g("w_ie"), &g("w_ei")).z,
            None,
        ),
        HiddenKind::INorm => {
            let (w_ee, w_ie, w_ei, d_ie, d_ei) =
                (g("w_ee"), g("w_ie"), g("w_ei"), g("d_ie"), g("d_ei"));
            let c = inorm_forward(
                x,
                INormParams {
                    w_ee: &w_ee,
                    b: &b,
                    w_ie: &w_ie,
                    w_ei: &w_ei,
                    d_ie: &d_ie,
                    d_ei: &d_ei,
                },
            );
            (c.z, Some(c.dn))
        }
    }
}

/// Init parameters of `spec` moved off the init identities (which make Z exactly LN-normalized): weights ×
/// U[0.7, 1.3) (signs kept), biases U[−0.3, 0.3).
fn perturbed_params(spec: &NetSpec, seed: u64) -> ParamSet {
    let mut p = ::inorm::init::init_params(spec, seed).unwrap();
    let mut rng = ::inorm::rng::SeedRng::new(seed, ::inorm::rng::Stream::Test, 83);
    for (name, t) in p.iter_mut() {
        if name.ends_with("lateral") || name.ends_with("d_ei") {
            continue;
        }
        for v in t.data.iter_mut() {
            *v = if name.ends_with("bias") {
                rng.uniform_in(-0.3, 0.3)
            } else {
                *v * rng.uniform_in(0.7, 1.3)
            };
        }
    }
    p
}

/// The "own ReLU mask for both surrogates" slip (`M_ref = 1[Z > 0]` instead of `1[LN(Z) > 0]`) is not a
/// rounding-level change: on a luminance-shifted row the two reference gradients differ by O(1) relative
/// to the bound the tests above allow.
#[test]
fn own_mask_slip_is_far_outside_the_bounds() {
    let z = Mat::from_row_slice(2, 4, &[50.0, 50.001, 49.999, 50.0005, 0.3, -1.2, 0.8, 0.1]);
    let x = Mat::from_row_slice(2, 3, &[0.2, 0.9, 0.4, 1.0, 0.0, 0.5]);
    let w = Worst::default();
    let re = row_errors(&rows_of(&z), GradNorm::Full, false, &[0.25; 4], &w).unwrap();
    let d = vec![vec![1.0; 4]; 2];
    let (g_ref, t_ref) = per_sample_sum(&re.e_ref, &re.tol_ref, &rows_of(&x), &d);
    // The slip, written out: the LN backward of the own mask.
    let mut slip = vec![];
    for zb in rows_of(&z) {
        let own: Vec<f64> = zb.iter().map(|&v| f64::from(u8::from(v > 0.0))).collect();
        slip.push(ln_jacobian(&zb).apply(&own).0);
    }
    let (g_slip, _) = per_sample_sum(&slip, &re.tol_ref, &rows_of(&x), &d);
    let g_slip = Mat::from_fn(4, 3, |j, c| g_slip[j][c]);
    let r = max_excess(&g_slip, &g_ref, &t_ref);
    assert!(r > 1e6, "the slip is only {r:.3e} × the bound");
}
