//! paper/model.md §2.3: LayerNorm's backward (Eq. 2) against its explicit Jacobian and against finite differences,
//! on the hard rows (constant rows where ε dominates, |mean| ≫ std, n = 1 and 2), plus a dot-product and a
//! Taylor test at n = 500; and the invariants of claim C2: rows of the backward sum to 0, the ŷ-component
//! equals its exact ε-dependent value, y is invariant to a shift and (with ε scaled) a positive scaling of
//! z, and the backward is linear in δ.

use ::inorm::check::{compare, gradient_fd4};
use ::inorm::model::LN_EPS;
use ::inorm::reference::layernorm::{
    ln_backward, ln_backward_terms, ln_backward_y_component, ln_forward, ln_jacobian,
};
use ::inorm::reference::Mat;
use ::inorm::rng::{SeedRng, Stream};
use ::inorm::testing::{SHIFT_MEAN, SHIFT_SPREAD};
use ::inorm::tolerance::{cancel_rel, fd4_rel, ANALYTIC_REL, DOT_REL};
use proptest::prelude::*;

use super::{dot_rel, hard_rows, normals, prop, rate_deficit, taylor, Worst};

/// Scale of the terms that Eq. 2 combines for row b of δ: `max_j (|δ_j| + mean|δ| + |y_j|·mean|δ∘y|)/σ`. Where
/// they cancel (n = 2, where δ̂ is the ε-term alone; rows with v ≫ ε along y) an error relative to the result
/// would measure the cancellation, not the code.
fn term_scale(delta: &Mat, y: &Mat, sigma: f64, b: usize) -> f64 {
    let n = delta.ncols() as f64;
    let ma = delta.row(b).iter().map(|v| v.abs()).sum::<f64>() / n;
    let mdy = delta
        .row(b)
        .iter()
        .zip(y.row(b).iter())
        .map(|(d, y)| (d * y).abs())
        .sum::<f64>()
        / n;
    (0..delta.ncols())
        .map(|j| (delta[(b, j)].abs() + ma + y[(b, j)].abs() * mdy) / sigma)
        .fold(f64::MIN_POSITIVE, f64::max)
}

/// `max|z_b|/σ_b`: how much the row's magnitude exceeds its normalization scale.
fn kappa(z: &[f64], sigma: f64) -> f64 {
    z.iter().fold(0.0f64, |a, v| a.max(v.abs())) / sigma
}

/// 256 cases: B ≤ 3, n ≤ 6, rows generic / constant / |mean| ≫ std.
#[test]
fn ln_backward_equals_jacobian_and_fd() {
    prop(
        "ln_backward_equals_jacobian_and_fd",
        256,
        hard_rows(),
        |(z, seed), w: &Worst| {
            let (bsz, n) = z.shape();
            let c = ln_forward(&z, LN_EPS);
            let delta = Mat::from_column_slice(bsz, n, &normals(seed, 1, bsz * n));
            let back = ln_backward(&delta, &c);
            for b in 0..bsz {
                let y: Vec<f64> = c.y.row(b).iter().copied().collect();
                let jac = ln_jacobian(&y, c.sigma[b]);
                let d_row =
                    Mat::from_row_slice(1, n, &delta.row(b).iter().copied().collect::<Vec<_>>());
                let via_jac = &d_row * &jac;
                let back_row =
                    Mat::from_row_slice(1, n, &back.row(b).iter().copied().collect::<Vec<_>>());
                let e = (&back_row - &via_jac).amax() / term_scale(&delta, &c.y, c.sigma[b], b);
                w.rec("backward_vs_jacobian", e);
                prop_assert!(e <= ANALYTIC_REL, "row {b}: backward vs δᵀJ {e:.2e}");
                // J symmetric.
                prop_assert_eq!(&jac, &jac.transpose());
                // FD, one output at a time, step relative to the row's σ.
                let zr: Vec<f64> = z.row(b).iter().copied().collect();
                let h = 1e-3 * c.sigma[b];
                let mut fd = Mat::zeros(n, n);
                for i in 0..n {
                    let g = gradient_fd4(
                        |t: &[f64]| ln_forward(&Mat::from_row_slice(1, n, t), LN_EPS).y[(0, i)],
                        &zr,
                        h,
                    );
                    for (j, gj) in g.iter().enumerate() {
                        fd[(i, j)] = *gj;
                    }
                }
                let k = kappa(&zr, c.sigma[b]);
                let cmp = compare(jac.as_slice(), fd.as_slice()).unwrap();
                // Relative to the scale of J's terms, max_ij (δ_ij + 1/n + |y_i y_j|/n)/σ (J itself is the tiny
                // ε-term at n = 2 and exactly 0 at n = 1).
                let ymax = y.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                let e = cmp.max_abs * c.sigma[b] / (1.0 + 1.0 / n as f64 + ymax * ymax / n as f64);
                w.rec("jacobian_vs_fd4", e);
                w.rec("jacobian_vs_fd4_over_tol", e / fd4_rel(k));
                prop_assert!(e <= fd4_rel(k), "row {b} (κ {k:.1e}): J vs FD {e:.2e}");
            }
            Ok(())
        },
    );
}

/// Realistic width n = 500, B = 32, rows of every kind mixed (seeded): dot-product test and Taylor rate, with
/// the input direction scaled per row by σ so the steps stay within the normalization scale.
#[test]
fn ln_backward_dot_and_taylor_n500() {
    let w = Worst::default();
    let (bsz, n) = (32, 500);
    for seed in 0..3u64 {
        let mut rng = SeedRng::new(seed, Stream::Test, 21);
        let z = Mat::from_fn(bsz, n, |b, _| match b % 4 {
            0 => 3.0 * rng.normal(),
            1 => 0.5,
            2 => SHIFT_MEAN + SHIFT_SPREAD * rng.uniform_in(-1.0, 1.0),
            _ => -2.0 + 0.1 * rng.normal(),
        });
        let c = ln_forward(&z, LN_EPS);
        let x = z.as_slice().to_vec();
        let f = |t: &[f64]| {
            ln_forward(&Mat::from_column_slice(bsz, n, t), LN_EPS)
                .y
                .as_slice()
                .to_vec()
        };
        let vjp = |v: &[f64]| {
            ln_backward(&Mat::from_column_slice(bsz, n, v), &c)
                .as_slice()
                .to_vec()
        };
        // Column-major: entry i belongs to row i % B.
        let u: Vec<f64> = normals(seed, 1, bsz * n)
            .iter()
            .enumerate()
            .map(|(i, g)| g * c.sigma[i % bsz])
            .collect();
        let e = dot_rel(&f, &vjp, &x, &u, seed, 1e-3);
        // The input rounding of z + t·u on the |mean| ≫ std rows (κ = 50/σ) enters as in the row FD.
        let kappa = (0..bsz)
            .map(|b| z.row(b).iter().fold(0.0f64, |a, v| a.max(v.abs())) / c.sigma[b])
            .fold(0.0f64, f64::max);
        let tol = DOT_REL.max(fd4_rel(kappa));
        w.rec("dot", e);
        w.rec("dot_over_tol", e / tol);
        assert!(e <= tol, "seed {seed}: dot rel {e:.2e} (κ {kappa:.1e})");
        let (r, ok) = taylor(&f, &vjp, &x, &u, seed, 1e-1);
        w.rec("taylor_rate_deficit", rate_deficit(&r));
        assert!(ok, "seed {seed}: {r:?}");
    }
    w.print("ln_backward_dot_and_taylor_n500");
}

/// 256 cases. Claim C2 (LN part) and the other exact properties of paper/model.md §2.3.
#[test]
fn ln_invariants() {
    let strategy = (
        hard_rows(),
        0.1f64..10.0,
        -10.0f64..10.0,
        -3.0f64..3.0,
        -3.0f64..3.0,
    );
    prop(
        "ln_invariants",
        256,
        strategy,
        |((z, seed), a, shift, al, be), w: &Worst| {
            let (bsz, n) = z.shape();
            let c = ln_forward(&z, LN_EPS);
            let delta = Mat::from_column_slice(bsz, n, &normals(seed, 1, bsz * n));
            let back = ln_backward(&delta, &c);
            let terms = ln_backward_terms(&delta, &c);
            let y_comp = ln_backward_y_component(&delta, &c, LN_EPS);
            for b in 0..bsz {
                let zr: Vec<f64> = z.row(b).iter().copied().collect();
                let k = kappa(&zr, c.sigma[b]);
                let tol = cancel_rel(n, k);
                // Scale of the terms of δ̂_b: (|δ| + |mean δ| + |y·mean(δy)|)/σ.
                let abs_terms: f64 = (0..n)
                    .map(|j| {
                        (terms.delta[(b, j)].abs()
                            + terms.centering[(b, j)].abs()
                            + terms.decorrelation[(b, j)].abs())
                            / c.sigma[b]
                    })
                    .sum();
                let scale = abs_terms.max(f64::MIN_POSITIVE);
                let sum: f64 = back.row(b).sum();
                w.rec("row_sum_over_terms", sum.abs() / scale);
                prop_assert!(
                    sum.abs() <= tol * scale,
                    "row {b}: Σδ̂ = {sum:.2e} (terms {scale:.2e})"
                );
                // ŷ-component, exact with ε: Σ δ̂_i y_i = mean(δ∘y)·n·ε/((v + ε)σ), computed here from scratch.
                let mean_dy: f64 =
                    (0..n).map(|j| delta[(b, j)] * c.y[(b, j)]).sum::<f64>() / n as f64;
                let v = c.var[b];
                let exact = mean_dy * n as f64 * LN_EPS / ((v + LN_EPS) * c.sigma[b]);
                let got: f64 = (0..n).map(|j| back[(b, j)] * c.y[(b, j)]).sum();
                let yscale: f64 = (0..n).map(|j| c.y[(b, j)].abs()).sum::<f64>().max(1.0) * scale;
                let e = (got - exact).abs() / yscale;
                w.rec("y_component_vs_exact", e);
                prop_assert!(e <= tol, "row {b}: Σδ̂y = {got:.3e}, exact {exact:.3e}");
                // The crate's form (1 − v/(v + ε)) cancels for v ≫ ε; same scale as above.
                let e = (y_comp[b] - exact).abs() / yscale;
                w.rec("y_component_fn_vs_exact", e);
                prop_assert!(
                    e <= tol,
                    "row {b}: ln_backward_y_component {} vs {exact}",
                    y_comp[b]
                );
            }
            // Shift by c·1 and scale by a > 0 (ε scaled by a², which makes the invariance exact).
            let moved = z.map(|v| a * v + shift);
            let c2 = ln_forward(&moved, LN_EPS * a * a);
            for b in 0..bsz {
                let mr: Vec<f64> = moved.row(b).iter().copied().collect();
                let k = kappa(&mr, c2.sigma[b]).max(kappa(
                    &z.row(b).iter().copied().collect::<Vec<_>>(),
                    c.sigma[b],
                ));
                let d = (c2.y.row(b) - c.y.row(b)).amax();
                w.rec("shift_scale_invariance_abs", d);
                prop_assert!(
                    d <= cancel_rel(n, k),
                    "row {b}: |LN(az + c) − LN(z)| = {d:.2e}"
                );
            }
            // Linear in δ.
            let d2 = Mat::from_column_slice(bsz, n, &normals(seed, 4, bsz * n));
            let lhs = ln_backward(&(&delta * al + &d2 * be), &c);
            let (r1, r2) = (ln_backward(&delta, &c) * al, ln_backward(&d2, &c) * be);
            let ts = |d: &Mat| {
                (0..bsz)
                    .map(|b| term_scale(d, &c.y, c.sigma[b], b))
                    .fold(0.0f64, f64::max)
            };
            let scale = (al.abs() * ts(&delta) + be.abs() * ts(&d2)).max(f64::MIN_POSITIVE);
            let e = (lhs - (r1 + r2)).amax() / scale;
            w.rec("linearity", e);
            prop_assert!(e <= ANALYTIC_REL, "linearity {e:.2e}");
            Ok(())
        },
    );
}
