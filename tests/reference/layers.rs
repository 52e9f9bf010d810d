//! paper/model.md §2.1, §2.2, §2.4: the dense (E-only) and EI layers, alone and composed with LayerNorm, checked in all
//! their inputs at once (θ = x, weights, bias): full FD Jacobian on small shapes (Dale weights with exact
//! zeros, luminance-shifted inputs), dot-product test on realistic shapes, Taylor rate ≈ 2; and the
//! authors' hand-computed EI example.

use ::inorm::model::LN_EPS;
use ::inorm::reference::dense::{dense_backward, dense_forward};
use ::inorm::reference::ei::{ei_backward, ei_forward};
use ::inorm::reference::layernorm::{ln_backward, ln_forward};
use ::inorm::reference::{Mat, Vector};
use ::inorm::rng::{SeedRng, Stream};
use ::inorm::testing::{dale_matrix, luminance_inputs, matrix, row_stochastic};
use ::inorm::tolerance::{DOT_REL, FD_REL};
use proptest::prelude::*;

use super::{
    dot_rel, fd_jacobian_rel, normals, pack, prop, rate_deficit, shapes, taylor, unit, unpack,
    Worst,
};

/// Which layer is checked.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    E,
    Ei,
    ELn,
    EiLn,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::E => "dense",
            Kind::Ei => "ei",
            Kind::ELn => "e+ln",
            Kind::EiLn => "ei+ln",
        }
    }
    fn ei(self) -> bool {
        matches!(self, Kind::Ei | Kind::EiLn)
    }
    fn ln(self) -> bool {
        matches!(self, Kind::ELn | Kind::EiLn)
    }
}

/// A layer's inputs: x (B×m), W_EE (n×m), W_IE (k×m), W_EI (n×k), b (n×1); W_IE, W_EI unused for E layers.
#[derive(Clone, Debug)]
struct Layer {
    kind: Kind,
    x: Mat,
    w_ee: Mat,
    w_ie: Mat,
    w_ei: Mat,
    b: Mat,
}

impl Layer {
    fn theta(&self) -> (Vec<f64>, Vec<(usize, usize)>) {
        let ms: Vec<&Mat> = if self.kind.ei() {
            vec![&self.x, &self.w_ee, &self.w_ie, &self.w_ei, &self.b]
        } else {
            vec![&self.x, &self.w_ee, &self.b]
        };
        (pack(&ms), shapes(&ms))
    }

    fn parts(&self, theta: &[f64]) -> (Mat, Mat, Mat, Mat, Vector) {
        let (_, sh) = self.theta();
        let p = unpack(theta, &sh);
        if self.kind.ei() {
            let b = p[4].column(0).into_owned();
            (p[0].clone(), p[1].clone(), p[2].clone(), p[3].clone(), b)
        } else {
            let b = p[2].column(0).into_owned();
            (
                p[0].clone(),
                p[1].clone(),
                self.w_ie.clone(),
                self.w_ei.clone(),
                b,
            )
        }
    }

    /// Pre-LN output Z.
    fn z(&self, theta: &[f64]) -> Mat {
        let (x, w_ee, w_ie, w_ei, b) = self.parts(theta);
        if self.kind.ei() {
            ei_forward(&x, &w_ee, &w_ie, &w_ei, &b)
        } else {
            dense_forward(&x, &w_ee, &b)
        }
    }

    fn f(&self, theta: &[f64]) -> Vec<f64> {
        let z = self.z(theta);
        let out = if self.kind.ln() {
            ln_forward(&z, LN_EPS).y
        } else {
            z
        };
        out.as_slice().to_vec()
    }

    fn vjp(&self, theta: &[f64], v: &[f64]) -> Vec<f64> {
        let (x, w_ee, w_ie, w_ei, _) = self.parts(theta);
        let (bsz, n) = (x.nrows(), w_ee.nrows());
        let mut delta = Mat::from_column_slice(bsz, n, v);
        if self.kind.ln() {
            delta = ln_backward(&delta, &ln_forward(&self.z(theta), LN_EPS));
        }
        let col = |b: Vector| Mat::from_column_slice(n, 1, b.as_slice());
        if self.kind.ei() {
            let g = ei_backward(&x, &w_ee, &w_ie, &w_ei, &delta);
            pack(&[&g.x, &g.w_ee, &g.w_ie, &g.w_ei, &col(g.b)])
        } else {
            let g = dense_backward(&x, &w_ee, &delta);
            pack(&[&g.x, &g.w, &col(g.b)])
        }
    }

    /// Smallest row std of Z (the scale of LN's Jacobian), +∞ without LN.
    fn sigma_min(&self) -> f64 {
        if !self.kind.ln() {
            return f64::INFINITY;
        }
        let c = ln_forward(&self.z(&self.theta().0), LN_EPS);
        c.sigma.min()
    }

    /// The dot-product test of the layer's backward at `theta` along `u`, with the step 1e-3 × min(σ, 1)
    /// (≪ σ of LN rows).
    fn dot_rel(&self, theta: &[f64], u: &[f64], seed: u64) -> f64 {
        let f = |t: &[f64]| self.f(t);
        let vjp = |v: &[f64]| self.vjp(theta, v);
        dot_rel(&f, &vjp, theta, u, seed, 1e-3 * self.sigma_min().min(1.0))
    }
}

/// Smallest row σ of the LN composites checked against FD here: FD_REL assumes |f⁽³⁾| ≲ 50·|f′| and LN's
/// derivatives grow as 1/σ per order, so σ ≥ 0.2 keeps (1/σ)² ≤ 25. Smaller σ (down to sqrt(ε)) is checked
/// with row-relative steps in layernorm.rs.
const LN_SIGMA_MIN: f64 = 0.2;

fn small_layer(kind: Kind) -> impl Strategy<Value = Layer> {
    (1usize..=4, 1usize..=5, 1usize..=5, 1usize..=3).prop_flat_map(move |(bsz, m, n, k)| {
        (
            prop_oneof![luminance_inputs(bsz, m), matrix(bsz, m)],
            dale_matrix(n, m),
            dale_matrix(k, m),
            prop_oneof![row_stochastic(n, k), dale_matrix(n, k)],
            matrix(n, 1),
        )
            .prop_map(move |(x, w_ee, w_ie, w_ei, b)| Layer {
                kind,
                x,
                w_ee,
                w_ie,
                w_ei,
                b,
            })
    })
}

/// Realistic shapes (B = 16, m = 196, n = 64, k = 6) drawn from a seed: Dale weights at the init scale with
/// 10% exact zeros, inputs in [0, 1] with a luminance shift, bias in [−0.1, 0.1).
fn realistic_layer(kind: Kind, seed: u64) -> Layer {
    let (bsz, m, n, k) = (16, 196, 64, 6);
    let mut rng = SeedRng::new(seed, Stream::Test, 11);
    let mut dale = |r: usize, c: usize, s: f64| {
        Mat::from_fn(r, c, |_, _| {
            if rng.uniform() < 0.1 {
                0.0
            } else {
                s * rng.exponential(1.0)
            }
        })
    };
    let sd = (2.0 / m as f64).sqrt();
    let (w_ee, w_ie, w_ei) = (dale(n, m, sd), dale(k, m, sd), dale(n, k, 1.0 / k as f64));
    let mut rng = SeedRng::new(seed, Stream::Test, 12);
    let x = Mat::from_fn(bsz, m, |_, _| rng.uniform());
    let b = Mat::from_fn(n, 1, |_, _| rng.uniform_in(-0.1, 0.1));
    Layer {
        kind,
        x,
        w_ee,
        w_ie,
        w_ei,
        b,
    }
}

fn check_small(kind: Kind, cases: u32) {
    let name = format!("layer_{}_small", kind.name());
    prop(
        &name,
        cases,
        (small_layer(kind), any::<u64>()),
        |(layer, seed), w: &Worst| small_case(kind, &layer, seed, w),
    );
}

/// One case of [`check_small`]: the layer's full FD Jacobian, a dot-product test and a Taylor test.
fn small_case(kind: Kind, layer: &Layer, seed: u64, w: &Worst) -> Result<(), TestCaseError> {
    // n = 1 under LN is exactly constant (y = 0, J = 0). n = 2 under LN is the ε-term only
    // (y = ±sqrt(v/(v+ε)), J ∝ ε/(vσ) ≪ its terms 1/σ), so an error relative to ‖J‖ says nothing: it is
    // checked relative to its terms in layernorm.rs. Other LN rows need σ ≫ the FD step.
    let n = layer.w_ee.nrows();
    prop_assume!(!kind.ln() || n == 1 || (n >= 3 && layer.sigma_min() >= LN_SIGMA_MIN));
    let (theta, _) = layer.theta();
    let f = |t: &[f64]| layer.f(t);
    let vjp = |v: &[f64]| layer.vjp(&theta, v);
    let e = fd_jacobian_rel(&f, &vjp, &theta, 1e-5);
    w.rec("fd_jacobian", e);
    prop_assert!(e <= FD_REL, "{} FD Jacobian rel {e:.2e}", kind.name());
    // A unit direction: the step t·u stays 1e-3 in any number of parameters (≪ σ of LN rows).
    let u = unit(&normals(seed, 1, theta.len()));
    let e = layer.dot_rel(&theta, &u, seed);
    w.rec("dot", e);
    prop_assert!(e <= DOT_REL, "{} dot rel {e:.2e}", kind.name());
    if !(kind.ln() && n == 1) {
        let (r, ok) = taylor(&f, &vjp, &theta, &u, seed, 1e-2);
        w.rec("taylor_rate_deficit", rate_deficit(&r));
        prop_assert!(ok, "{} Taylor {r:?}", kind.name());
    }
    Ok(())
}

/// A case a random-seed run of the EI+LN layer's test found failing, replayed by value: the full FD
/// Jacobian 1.50e-8 off (FD_REL = 1e-8) at h = 1e-5, the 2-point stencil's truncation on an LN row of small
/// σ, before `fd_jacobian_rel` chose between h and h/4.
#[test]
fn ei_ln_layer_replays_found_case() {
    let m = |r: usize, c: usize, v: &[f64]| Mat::from_column_slice(r, c, v);
    #[rustfmt::skip]
    let layer = Layer {
        kind: Kind::EiLn,
        x: m(2, 5, &[1.7276346331930432, 0.0, -0.15273162647835606, 0.0, 1.4950152744544818, 0.0, 1.4906974430937763, 0.0, 1.8731394587690766, 0.0]),
        w_ee: m(4, 5, &[1.4736701694309076, 0.35573939627829854, 1.188515718284137, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2373546651330292, 0.0, 0.0, 0.28318474333773025, 0.0, 0.0, 0.32105282408938884, 1.6660858542678767, 0.3856687843126543, 0.1493952231488243, 1.1701635976006768, 0.0]),
        w_ie: m(3, 5, &[0.0, 0.0, 1.8452245828140927, 0.0, 0.0, 0.0, 1.7349355234975097, 0.0, 1.7747525650032676, 1.634378295485098, 0.0, 0.0, 1.8375344351013148, 0.6052528191420794, 0.0]),
        w_ei: m(4, 3, &[0.3055845343407577, 0.27976746902227356, 0.710182940344468, 0.3213395295731554, 0.3322985168114743, 0.6570575120144109, 0.0749030944410339, 0.32333134443508715, 0.36211694884776796, 0.06317501896331555, 0.2149139652144982, 0.35532912599175737]),
        b: m(4, 1, &[-1.389841774347262, 0.0, 0.0, 0.0]),
    };
    if let Err(e) = small_case(Kind::EiLn, &layer, 1931747896754849116, &Worst::default()) {
        panic!("{e}");
    }
}

fn check_realistic(kind: Kind) {
    let worst = Worst::default();
    for seed in 0..3 {
        let layer = realistic_layer(kind, seed);
        let (theta, _) = layer.theta();
        let f = |t: &[f64]| layer.f(t);
        let vjp = |v: &[f64]| layer.vjp(&theta, v);
        // LN composites: a unit direction and a step relative to σ (the O(1)-sized direction would move z by
        // ≈ 10% of σ); the polynomial layers keep the standard normal direction (the stencil is exact for them).
        let u = normals(seed, 1, theta.len());
        let u = if kind.ln() { unit(&u) } else { u };
        let e = layer.dot_rel(&theta, &u, seed);
        worst.rec("dot", e);
        assert!(e <= DOT_REL, "{} seed {seed}: dot rel {e:.2e}", kind.name());
        let (r, ok) = taylor(
            &f,
            &vjp,
            &theta,
            &u,
            seed,
            if kind.ln() { 1e-1 } else { 1e-2 },
        );
        worst.rec("taylor_rate_deficit", rate_deficit(&r));
        assert!(ok, "{} seed {seed}: {r:?}", kind.name());
    }
    worst.print(&format!("layer_{}_realistic", kind.name()));
}

/// 64 cases each (B ≤ 4, m, n ≤ 5, k ≤ 3).
#[test]
fn dense_layer_fd_dot_taylor() {
    check_small(Kind::E, 64);
    check_realistic(Kind::E);
}

/// 64 cases (B ≤ 4, m, n ≤ 5, k ≤ 3).
#[test]
fn ei_layer_fd_dot_taylor() {
    check_small(Kind::Ei, 64);
    check_realistic(Kind::Ei);
}

/// 64 cases.
#[test]
fn e_ln_layer_fd_dot_taylor() {
    check_small(Kind::ELn, 64);
    check_realistic(Kind::ELn);
}

/// 64 cases.
#[test]
fn ei_ln_layer_fd_dot_taylor() {
    check_small(Kind::EiLn, 64);
    check_realistic(Kind::EiLn);
}

/// paper/model.md §2.2 "Reference check" (the authors' unit test): m = 2, n = 2, k = 1, L = ΣZ.
#[test]
fn ei_layer_authors_hand_example() {
    let x = Mat::from_row_slice(1, 2, &[2.0, 3.0]);
    let w_ee = Mat::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
    let w_ie = Mat::from_row_slice(1, 2, &[0.5, 0.5]);
    let w_ei = Mat::from_row_slice(2, 1, &[1.0, 1.0]);
    let b = Vector::from_vec(vec![1.0, 2.0]);
    // Forward by hand: W_EE x = [8, 18], W_IE x = 2.5, Z = [8 − 2.5 + 1, 18 − 2.5 + 2].
    let z = ei_forward(&x, &w_ee, &w_ie, &w_ei, &b);
    assert_eq!(z, Mat::from_row_slice(1, 2, &[6.5, 17.5]));
    let g = ei_backward(&x, &w_ee, &w_ie, &w_ei, &Mat::from_element(1, 2, 1.0));
    assert_eq!(g.w_ee, Mat::from_row_slice(2, 2, &[2.0, 3.0, 2.0, 3.0]));
    assert_eq!(g.w_ie, Mat::from_row_slice(1, 2, &[-4.0, -6.0]));
    assert_eq!(g.w_ei, Mat::from_row_slice(2, 1, &[-2.5, -2.5]));
    assert_eq!(g.b, Vector::from_vec(vec![1.0, 1.0]));
    // ∂L/∂x = 1ᵀ W with W = W_EE − W_EI W_IE = [[0.5, 1.5], [2.5, 3.5]].
    assert_eq!(g.x, Mat::from_row_slice(1, 2, &[3.0, 5.0]));
}

/// ReLU's derivative at exactly 0 is 0, as in PyTorch (`threshold_backward`), whose gradient dumps the
/// interop compares against: an all-zero input row with a zero bias gives z = 0 exactly, and no gradient may
/// flow through it. (Mutation testing found `>` → `>=` in `relu_mask` unnoticed.)
#[test]
fn relu_mask_is_zero_at_exactly_zero() {
    use ::inorm::reference::{relu, relu_mask};
    let z = Mat::from_row_slice(1, 4, &[-1.0, -0.0, 0.0, 2.0]);
    assert_eq!(relu_mask(&z).as_slice(), &[0.0, 0.0, 0.0, 1.0]);
    assert!(relu(&z)
        .iter()
        .zip([0.0, 0.0, 0.0, 2.0])
        .all(|(a, b)| *a == b));
}
