//! Each checker in `inorm::check` accepts the right derivative of a known function (quadratic forms, softmax,
//! log-sum-exp, x ↦ sin(Ax)) and rejects a wrong one (one wrong entry, scaled by 1.01, transposed Jacobian);
//! the noise estimator recovers noise of known size and tells a too small or too large step ([`noise`]).

/// The noise estimator that sets the reference tests' roundoff floor.
mod noise;

use inorm::check::{
    compare, compare_with_floor, directional_test, dot_product_test, gradient_fd, gradient_fd4,
    jacobian_fd, taylor_test, taylor_test_vector,
};
use inorm::rng::{SeedRng, Stream};
use inorm::tolerance::{
    DOT_REL, DOT_WRONG_MIN_REL, FD4_REL, FD_REL, TAYLOR_MIN_RATE, TAYLOR_NOISE_FLOOR,
    TAYLOR_WRONG_MAX_RATE,
};
use nalgebra::{DMatrix, DVector};

fn normals(sub: u64, n: usize) -> Vec<f64> {
    let mut rng = SeedRng::new(2024, Stream::Test, sub);
    (0..n).map(|_| rng.normal()).collect()
}

fn mat(sub: u64, r: usize, c: usize) -> DMatrix<f64> {
    DMatrix::from_row_slice(r, c, &normals(sub, r * c))
}

/// Non-symmetric quadratic form L(x) = xᵀAx + bᵀx, gradient (A + Aᵀ)x + b; the "transposed" mistake 2Ax + b.
struct Quad {
    a: DMatrix<f64>,
    b: DVector<f64>,
}

impl Quad {
    fn new(n: usize) -> Self {
        Quad {
            a: mat(1, n, n),
            b: DVector::from_vec(normals(2, n)),
        }
    }
    fn loss(&self, x: &[f64]) -> f64 {
        let x = DVector::from_column_slice(x);
        x.dot(&(&self.a * &x)) + self.b.dot(&x)
    }
    fn grad(&self, x: &[f64]) -> Vec<f64> {
        let x = DVector::from_column_slice(x);
        ((&self.a + self.a.transpose()) * &x + &self.b)
            .as_slice()
            .to_vec()
    }
    fn grad_wrong_transpose(&self, x: &[f64]) -> Vec<f64> {
        let x = DVector::from_column_slice(x);
        (2.0 * &self.a * &x + &self.b).as_slice().to_vec()
    }
}

fn softmax(x: &[f64]) -> Vec<f64> {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

fn logsumexp(x: &[f64]) -> f64 {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// Softmax VJP: s ⊙ (v − ⟨s, v⟩).
fn softmax_vjp(x: &[f64], v: &[f64]) -> Vec<f64> {
    let s = softmax(x);
    let sv: f64 = s.iter().zip(v).map(|(a, b)| a * b).sum();
    s.iter().zip(v).map(|(si, vi)| si * (vi - sv)).collect()
}

/// f(x) = sin(Ax) with A m×n; J = diag(cos(Ax))·A.
struct SinAx {
    a: DMatrix<f64>,
}

impl SinAx {
    fn f(&self, x: &[f64]) -> Vec<f64> {
        (&self.a * DVector::from_column_slice(x))
            .map(f64::sin)
            .as_slice()
            .to_vec()
    }
    fn jac(&self, x: &[f64]) -> DMatrix<f64> {
        let c = (&self.a * DVector::from_column_slice(x)).map(f64::cos);
        DMatrix::from_diagonal(&c) * &self.a
    }
    fn vjp(&self, x: &[f64], v: &[f64]) -> Vec<f64> {
        (self.jac(x).transpose() * DVector::from_column_slice(v))
            .as_slice()
            .to_vec()
    }
    /// The classic backward bug: J v instead of Jᵀ v (square A only).
    fn vjp_transposed(&self, x: &[f64], v: &[f64]) -> Vec<f64> {
        (self.jac(x) * DVector::from_column_slice(v))
            .as_slice()
            .to_vec()
    }
}

fn one_wrong_entry(g: &[f64], k: usize) -> Vec<f64> {
    let mut g = g.to_vec();
    g[k] += 1.0;
    g
}

fn scaled(g: &[f64], c: f64) -> Vec<f64> {
    g.iter().map(|v| v * c).collect()
}

/// Rate at the smallest usable step: the asymptotic order of the remainder.
fn last_usable_rate(r: &inorm::check::TaylorReport) -> f64 {
    r.rates
        .iter()
        .zip(&r.usable)
        .filter(|(_, &u)| u)
        .map(|(r, _)| *r)
        .next_back()
        .unwrap_or(f64::NAN)
}

#[test]
fn fd_gradients_match_quadratic_and_logsumexp() {
    let q = Quad::new(8);
    let x = normals(3, 8);
    let g = q.grad(&x);
    let c2 = compare(&g, &gradient_fd(|y| q.loss(y), &x, 1e-5)).unwrap();
    let c4 = compare(&g, &gradient_fd4(|y| q.loss(y), &x, 1e-3)).unwrap();
    assert!(c2.max_rel < FD_REL, "{c2:?}");
    assert!(c4.max_rel < FD4_REL, "{c4:?}");
    // logsumexp: gradient = softmax, not a polynomial, so the stencil's truncation error is exercised.
    let z = scaled(&normals(4, 10), 3.0);
    let c2 = compare(&softmax(&z), &gradient_fd(logsumexp, &z, 1e-5)).unwrap();
    let c4 = compare(&softmax(&z), &gradient_fd4(logsumexp, &z, 1e-3)).unwrap();
    assert!(c2.max_rel < FD_REL, "{c2:?}");
    assert!(c4.max_rel < FD4_REL, "{c4:?}");
}

#[test]
fn fd_comparison_rejects_wrong_gradients_and_finds_the_entry() {
    let q = Quad::new(8);
    let x = normals(3, 8);
    let fd = gradient_fd4(|y| q.loss(y), &x, 1e-3);
    let c = compare(&one_wrong_entry(&q.grad(&x), 5), &fd).unwrap();
    assert_eq!(c.worst_index, 5);
    assert!(c.max_rel > 1e3 * FD4_REL, "{c:?}");
    let c = compare(&scaled(&q.grad(&x), 1.01), &fd).unwrap();
    assert!(c.max_rel > 1e3 * FD4_REL, "{c:?}");
    let c = compare(&q.grad_wrong_transpose(&x), &fd).unwrap();
    assert!(c.max_rel > 1e3 * FD4_REL, "{c:?}");
    assert!(compare(&[1.0, 2.0], &[1.0]).is_err());
    assert!(compare(&[f64::NAN], &[1.0]).unwrap().max_rel.is_infinite());
}

/// The shared norm-wise comparison: the error is relative to `max(‖want‖_∞, floor)`, so the floor acts only
/// when the reference is small; NaN and ±∞ differences are infinite; lengths must match.
#[test]
fn compare_with_floor_scales_by_the_reference_or_the_floor() {
    let c = compare_with_floor(&[1.0, 2.5, -3.0], &[1.0, 2.0, -4.0], 1.0).unwrap();
    assert_eq!((c.max_abs, c.max_rel, c.worst_index), (1.0, 0.25, 2));
    // A small reference: the floor (here 1) is the scale, so 1e-3 off a 1e-3 loss is an error of 1e-3.
    let c = compare_with_floor(&[2e-3], &[1e-3], 1.0).unwrap();
    assert_eq!(c.max_rel, 1e-3);
    let c = compare_with_floor(&[2e-3], &[1e-3], 0.0).unwrap();
    assert_eq!(c.max_rel, 1.0);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let c = compare_with_floor(&[0.0, bad], &[0.0, 1.0], 1.0).unwrap();
        assert!(
            c.max_rel.is_infinite() && c.worst_index == 1,
            "{bad}: {c:?}"
        );
    }
    assert!(compare_with_floor(&[1.0], &[1.0, 2.0], 1.0).is_err());
    assert_eq!(compare_with_floor(&[], &[], 1.0).unwrap().max_rel, 0.0);
    // Ties name the first worst entry (mutation testing: `>` → `>=` named the last).
    let c = compare_with_floor(&[1.5, 0.0, 2.5], &[1.0, 0.0, 2.0], 1.0).unwrap();
    assert_eq!((c.max_abs, c.worst_index), (0.5, 0));
}

#[test]
fn fd_jacobian_matches_sin_ax_and_softmax() {
    let s = SinAx { a: mat(5, 5, 7) };
    let x = normals(6, 7);
    let jn = jacobian_fd(|y| s.f(y), &x, 1e-5).unwrap();
    assert_eq!(jn.shape(), (5, 7), "rows = outputs, cols = inputs");
    let ja = s.jac(&x);
    let c = compare(ja.as_slice(), jn.as_slice()).unwrap();
    assert!(c.max_rel < FD_REL, "{c:?}");
    // A square case, where the transposed Jacobian has the right shape but the wrong values.
    let sq = SinAx { a: mat(7, 6, 6) };
    let x6 = normals(8, 6);
    let jn = jacobian_fd(|y| sq.f(y), &x6, 1e-5).unwrap();
    assert!(
        compare(sq.jac(&x6).as_slice(), jn.as_slice())
            .unwrap()
            .max_rel
            < FD_REL
    );
    let ct = compare(sq.jac(&x6).transpose().as_slice(), jn.as_slice()).unwrap();
    assert!(
        ct.max_rel > 1e-2,
        "transposed Jacobian not detected: {ct:?}"
    );
    // Softmax: J = diag(s) − s sᵀ.
    let z = normals(9, 6);
    let sm = DVector::from_vec(softmax(&z));
    let js = DMatrix::from_diagonal(&sm) - &sm * sm.transpose();
    let jn = jacobian_fd(softmax, &z, 1e-5).unwrap();
    assert!(compare(js.as_slice(), jn.as_slice()).unwrap().max_rel < FD_REL);
    // An f whose output length changes away from x is an error, not a panic.
    assert!(jacobian_fd(|y| vec![0.0; if y[0] == 0.0 { 1 } else { 2 }], &[0.0], 1e-3).is_err());
}

#[test]
fn taylor_rate_two_for_right_gradient_one_for_wrong() {
    let q = Quad::new(8);
    let x = normals(3, 8);
    let u = normals(10, 8);
    let loss = |y: &[f64]| q.loss(y);
    let right = taylor_test(loss, &q.grad(&x), &x, &u, 0.5, 12).unwrap();
    assert!(right.passes(), "{right:?}");
    // A quadratic has remainder exactly h²·uᵀAu: rate 2 up to roundoff.
    assert!(
        right
            .rates
            .iter()
            .zip(&right.usable)
            .filter(|(_, &u)| u)
            .all(|(r, _)| (r - 2.0).abs() < 1e-3),
        "{right:?}"
    );
    assert!(
        right
            .zeroth_rates
            .iter()
            .skip(6)
            .all(|r| (r - 1.0).abs() < 0.05),
        "{right:?}"
    );
    for (name, g) in [
        ("one wrong entry", one_wrong_entry(&q.grad(&x), 2)),
        ("scaled by 1.01", scaled(&q.grad(&x), 1.01)),
        ("transposed", q.grad_wrong_transpose(&x)),
    ] {
        let r = taylor_test(loss, &g, &x, &u, 0.5, 24).unwrap();
        assert!(!r.passes(), "{name}: {r:?}");
        let last = last_usable_rate(&r);
        assert!(
            last < TAYLOR_WRONG_MAX_RATE && last > 2.0 - TAYLOR_MIN_RATE,
            "{name}: rate {last}, {r:?}"
        );
    }
}

#[test]
fn taylor_rate_on_non_polynomial_losses() {
    let z = scaled(&normals(4, 10), 2.0);
    let u = normals(11, 10);
    let right = taylor_test(logsumexp, &softmax(&z), &z, &u, 0.25, 12).unwrap();
    assert!(right.passes(), "{right:?}");
    assert!(right.usable_steps() >= 8, "{right:?}");
    let wrong = taylor_test(logsumexp, &scaled(&softmax(&z), 1.01), &z, &u, 0.25, 24).unwrap();
    assert!(!wrong.passes());
    assert!(
        last_usable_rate(&wrong) < TAYLOR_WRONG_MAX_RATE,
        "{wrong:?}"
    );
}

#[test]
fn taylor_vector_version_checks_a_vjp() {
    let s = SinAx { a: mat(7, 6, 6) };
    let x = normals(8, 6);
    let (u, v) = (normals(12, 6), normals(13, 6));
    let right = taylor_test_vector(|y| s.f(y), |w| s.vjp(&x, w), &x, &u, &v, 0.25, 14).unwrap();
    assert!(right.passes(), "{right:?}");
    let wrong = taylor_test_vector(
        |y| s.f(y),
        |w| s.vjp_transposed(&x, w),
        &x,
        &u,
        &v,
        0.25,
        24,
    )
    .unwrap();
    assert!(!wrong.passes());
    assert!(
        last_usable_rate(&wrong) < TAYLOR_WRONG_MAX_RATE,
        "{wrong:?}"
    );
    let z = normals(9, 6);
    let sm = taylor_test_vector(softmax, |w| softmax_vjp(&z, w), &z, &u, &v, 0.25, 14).unwrap();
    assert!(sm.passes(), "{sm:?}");
}

#[test]
fn taylor_rejects_bad_arguments_and_linear_losses_have_no_usable_step() {
    let x = [1.0, 2.0];
    assert!(taylor_test(|y| y[0], &[1.0], &x, &[1.0, 0.0], 0.1, 5).is_err());
    assert!(taylor_test(|y| y[0], &[1.0, 0.0], &x, &[1.0, 0.0], 0.1, 2).is_err());
    assert!(taylor_test(|y| y[0], &[1.0, 0.0], &x, &[1.0, 0.0], -0.1, 5).is_err());
    assert!(taylor_test_vector(
        |y| y.to_vec(),
        |v| v.to_vec(),
        &x,
        &[1.0, 0.0],
        &[1.0],
        0.1,
        5
    )
    .is_err());
    // Linear along u: remainders are roundoff only, so the test cannot certify the gradient (documented).
    let r = taylor_test(|y| 3.0 * y[0] - y[1], &[3.0, -1.0], &x, &[0.3, 0.7], 0.1, 8).unwrap();
    assert_eq!(r.usable_steps(), 0);
    assert!(!r.passes());
}

/// The Taylor test's step bookkeeping, exactly: three steps are enough for two rates; the roundoff floor
/// scales with the loss's magnitude (a linear loss around 10⁶ still has no usable step); a rate is usable
/// only when *both* of its remainders lie strictly above the floor.
#[test]
fn taylor_floor_and_usable_steps_are_exact() {
    let x = [1.0, 2.0];
    let three = taylor_test(|y| y[0] * y[0], &[2.0, 0.0], &x, &[1.0, 0.0], 0.5, 3).unwrap();
    assert_eq!((three.rates.len(), three.usable_steps()), (2, 2));
    assert!(three.passes(), "{three:?}");
    // Roundoff of a loss near 10⁶ is ~1e-10, far above 1e-12 but below the floor that scales with |L|.
    let big = taylor_test(
        |y| 1e6 + 3.0 * y[0] - y[1],
        &[3.0, -1.0],
        &x,
        &[0.3, 0.7],
        0.1,
        8,
    )
    .unwrap();
    assert!(big.remainders.iter().any(|&r| r > 1e-12), "{big:?}");
    assert_eq!(big.usable_steps(), 0, "{big:?}");
    // A loss with chosen values along u (slope 0): remainders S, floor, 4·floor and then S/2, where the
    // floor is TAYLOR_NOISE_FLOOR · S (S = max |L|). A remainder equal to the floor is not above it.
    let s = 8.0;
    let floor = TAYLOR_NOISE_FLOOR * s;
    let loss = move |y: &[f64]| match y[0] {
        h if h == 0.5 => s,
        h if h == 0.25 => floor,
        h if h == 0.125 => 4.0 * floor,
        h if h == 0.0625 => 0.5 * s,
        _ => 0.0,
    };
    let r = taylor_test(loss, &[0.0], &[0.0], &[1.0], 0.5, 4).unwrap();
    assert_eq!(r.remainders, vec![s, floor, 4.0 * floor, 0.5 * s]);
    assert_eq!(r.usable, vec![false, false, true], "{r:?}");
}

#[test]
fn dot_product_test_accepts_right_vjp_rejects_wrong() {
    let s = SinAx { a: mat(5, 5, 7) };
    let x = normals(6, 7);
    let (u, v) = (normals(14, 7), normals(15, 5));
    let right = dot_product_test(|y| s.f(y), |w| s.vjp(&x, w), &x, &u, &v, 1e-3).unwrap();
    assert!(right.rel_err < DOT_REL, "{right:?}");
    let wrong_entry = dot_product_test(
        |y| s.f(y),
        |w| one_wrong_entry(&s.vjp(&x, w), 3),
        &x,
        &u,
        &v,
        1e-3,
    )
    .unwrap();
    assert!(wrong_entry.rel_err > DOT_WRONG_MIN_REL, "{wrong_entry:?}");
    let wrong_scale = dot_product_test(
        |y| s.f(y),
        |w| scaled(&s.vjp(&x, w), 1.01),
        &x,
        &u,
        &v,
        1e-3,
    )
    .unwrap();
    assert!(wrong_scale.rel_err > DOT_WRONG_MIN_REL, "{wrong_scale:?}");
    let sq = SinAx { a: mat(7, 6, 6) };
    let x6 = normals(8, 6);
    let (u6, v6) = (normals(16, 6), normals(17, 6));
    let ok = dot_product_test(|y| sq.f(y), |w| sq.vjp(&x6, w), &x6, &u6, &v6, 1e-3).unwrap();
    assert!(ok.rel_err < DOT_REL, "{ok:?}");
    let tr = dot_product_test(
        |y| sq.f(y),
        |w| sq.vjp_transposed(&x6, w),
        &x6,
        &u6,
        &v6,
        1e-3,
    )
    .unwrap();
    assert!(tr.rel_err > DOT_WRONG_MIN_REL, "{tr:?}");
    // Softmax.
    let z = normals(9, 6);
    let sm = dot_product_test(softmax, |w| softmax_vjp(&z, w), &z, &u6, &v6, 1e-3).unwrap();
    assert!(sm.rel_err < DOT_REL, "{sm:?}");
    // Bad sizes are errors.
    assert!(dot_product_test(|y| s.f(y), |w| s.vjp(&x, w), &x, &u, &v[..4], 1e-3).is_err());
    assert!(dot_product_test(|y| s.f(y), |w| s.vjp(&x, w), &x, &u[..6], &v, 1e-3).is_err());
    assert!(dot_product_test(|y| s.f(y), |_| vec![0.0; 3], &x, &u, &v, 1e-3).is_err());
}

#[test]
fn directional_test_on_scalar_losses() {
    let q = Quad::new(8);
    let x = normals(3, 8);
    let u = normals(10, 8);
    let loss = |y: &[f64]| q.loss(y);
    assert!(
        directional_test(loss, &q.grad(&x), &x, &u, 1e-3)
            .unwrap()
            .rel_err
            < DOT_REL
    );
    assert!(
        directional_test(loss, &scaled(&q.grad(&x), 1.01), &x, &u, 1e-3)
            .unwrap()
            .rel_err
            > DOT_WRONG_MIN_REL
    );
    assert!(
        directional_test(loss, &q.grad_wrong_transpose(&x), &x, &u, 1e-3)
            .unwrap()
            .rel_err
            > DOT_WRONG_MIN_REL
    );
    assert!(
        directional_test(loss, &one_wrong_entry(&q.grad(&x), 0), &x, &u, 1e-3)
            .unwrap()
            .rel_err
            > DOT_WRONG_MIN_REL
    );
    let z = normals(4, 10);
    let uz = normals(11, 10);
    assert!(
        directional_test(logsumexp, &softmax(&z), &z, &uz, 1e-3)
            .unwrap()
            .rel_err
            < DOT_REL
    );
    assert!(directional_test(loss, &q.grad(&x), &x, &u, 0.0).is_err());
}
