//! The second, independent implementation of the alignment and moment diagnostics (paper/model.md
//! §8.2–8.3) that `super` checks `reference::metrics` against, with plain loops over row-major `Vec`s and
//! none of the crate's LayerNorm / GradNorm / row helpers:
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
//! A definitional slip — e.g. the layer's own mask `1[Z > 0]`
//! used for both surrogates, a raw second moment for the variance, a missing `⊘ d` — changes the result by
//! O(1) and fails here. Tolerances are forward-error bounds built from the magnitudes of the terms actually
//! summed (`src/tolerance.rs`, `sum_abs_tol`), so a cancellation widens them only where it happens.

// Explicit index loops mirror the formulas (e_i = Σ_j A_ij γ_j) on purpose: this is the second, plainly
// written implementation.
#![allow(clippy::needless_range_loop)]

use ::inorm::model::{GradNorm, LN_EPS};
use ::inorm::reference::metrics::{alignment_gradients, gradient_alignment, output_alignment};
use ::inorm::reference::{Mat, Vector};
use ::inorm::tolerance::{cancel_rel, fd4_rel, sum_abs_tol, EPS64};
use proptest::prelude::*;

use super::super::Worst;

type Rows = Vec<Vec<f64>>;

/// The guard of the cosine (paper/model.md §8.2).
const COS_GUARD: f64 = 1e-8;

pub(super) fn rows_of(m: &Mat) -> Rows {
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
pub(super) struct Backward {
    a: Rows,
    abs: Rows,
}

impl Backward {
    /// `(A γ, |A| |γ|)`.
    pub(super) fn apply(&self, g: &[f64]) -> (Vec<f64>, Vec<f64>) {
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
pub(super) fn ln_jacobian(z: &[f64]) -> Backward {
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
pub(super) struct RowErrors {
    /// Reference error `∂L_ref/∂z_b` (explicit Jacobian), its bound, and the same by FD.
    pub(super) e_ref: Rows,
    pub(super) tol_ref: Rows,
    /// Own error `GN-backward(1[z_b > 0])`, its bound.
    e_own: Rows,
    tol_own: Rows,
}

/// The two surrogates' errors at Z row by row (paper/model.md §8.2), each computed twice for the reference:
/// explicit Jacobian and 5-point FD of the surrogate loss; asserts the two agree. `w` records the FD
/// agreement and how many rows also passed the FD through the true (unfrozen) ReLU.
pub(super) fn row_errors(
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
pub(super) fn per_sample_sum(e: &Rows, tol: &Rows, x: &Rows, d: &Rows) -> (Rows, Rows) {
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

pub(super) fn max_excess(got: &Mat, want: &Rows, tol: &Rows) -> f64 {
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
pub(super) fn check_gradient_alignment(
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
pub(super) fn check_output_alignment(
    z: &Mat,
    w: &Worst,
    what: &str,
) -> Result<(f64, f64), TestCaseError> {
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
pub(super) fn check_moments(
    z: &Mat,
    got: (f64, f64),
    w: &Worst,
    what: &str,
) -> Result<(), TestCaseError> {
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
