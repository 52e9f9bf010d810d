//! The proofs for every backward of the f64 reference (paper/model.md §2, §4, §6): full finite-difference Jacobians on
//! small shapes, random-direction dot-product tests on realistic shapes, Taylor remainder rates ≈ 2, the
//! LayerNorm and GradNorm identities (claim C2), the initialization identities (claim C1), the authors'
//! hand-computed EI example and one training step recomputed by hand.
//!
//! The crate is referred to as `::inorm` because this module is itself named `reference`. Every property
//! test states its number of cases and persists failing seeds in `proptest-regressions/reference.txt`; each
//! test prints the worst relative error each of its checks saw (`cargo test -- --nocapture`, lines
//! starting with `[worst]`).

mod gradnorm;
mod init;
mod init_laws;
mod inorm;
mod inorm_sub;
mod layernorm;
mod layers;
mod loss;
mod metrics;
mod network;
mod optim;
mod step;

use std::cell::RefCell;
use std::collections::BTreeMap;

use ::inorm::check::{
    compare, compare_with_floor, dot_product_test, jacobian_fd, taylor_test_vector, TaylorReport,
};
use ::inorm::reference::Mat;
use ::inorm::rng::{SeedRng, Stream};
use ::inorm::tolerance::{
    DOT_REL, EPS64, FD_REL, NOISE_SIGMAS, TAYLOR_MIN_RATE, TAYLOR_NOISE_FLOOR,
};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

/// Where every property test of this module persists its failing seeds.
pub const REGRESSIONS: &str = "proptest-regressions/reference.txt";

/// The worst value each named check of one test saw, over all its cases.
#[derive(Default)]
pub struct Worst(RefCell<BTreeMap<String, f64>>);

impl Worst {
    /// Records `v` for `check` (a NaN always counts as worst).
    pub fn rec(&self, check: &str, v: f64) {
        let mut m = self.0.borrow_mut();
        let e = m.entry(check.to_string()).or_insert(0.0);
        if v > *e || v.is_nan() {
            *e = v;
        }
    }
    /// Adds `v` to the running total of `check` (counts).
    pub fn add(&self, check: &str, v: f64) {
        *self.0.borrow_mut().entry(check.to_string()).or_insert(0.0) += v;
    }
    /// Prints one `[worst]` line per check.
    pub fn print(&self, test: &str) {
        for (k, v) in self.0.borrow().iter() {
            eprintln!("[worst] {test} / {k}: {v:.3e}");
        }
    }
}

/// Runs `body` on `cases` values of `strategy` with the module's persistence file, prints the worst errors,
/// and panics with proptest's (shrunk) failure if any case failed.
pub fn prop<S: Strategy>(
    test: &str,
    cases: u32,
    strategy: S,
    body: impl Fn(S::Value, &Worst) -> Result<(), TestCaseError>,
) {
    let worst = Worst::default();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        rng_seed: ::inorm::testing::rng_seed(),
        ..Config::default()
    });
    let res = runner.run(&strategy, |v| body(v, &worst));
    worst.print(test);
    if let Err(e) = res {
        panic!("{test}: {e}");
    }
}

/// Packs matrices (column-major each) into one parameter vector θ.
pub fn pack(ms: &[&Mat]) -> Vec<f64> {
    ms.iter()
        .flat_map(|m| m.as_slice().iter().copied())
        .collect()
}

/// Inverse of [`pack`] for the given shapes.
pub fn unpack(theta: &[f64], shapes: &[(usize, usize)]) -> Vec<Mat> {
    let mut off = 0;
    shapes
        .iter()
        .map(|&(r, c)| {
            let m = Mat::from_column_slice(r, c, &theta[off..off + r * c]);
            off += r * c;
            m
        })
        .collect()
}

/// Shapes of a list of matrices.
pub fn shapes(ms: &[&Mat]) -> Vec<(usize, usize)> {
    ms.iter().map(|m| m.shape()).collect()
}

/// `n` standard normal draws from the test stream of `seed` (the seed itself comes from a strategy).
pub fn normals(seed: u64, sub: u64, n: usize) -> Vec<f64> {
    let mut rng = SeedRng::new(seed, Stream::Test, sub);
    (0..n).map(|_| rng.normal()).collect()
}

/// `u/‖u‖₂`.
pub fn unit(u: &[f64]) -> Vec<f64> {
    let n = u
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    u.iter().map(|v| v / n).collect()
}

/// Max relative difference `max|a − b| / max(max|b|, tiny)` (NaN counts as infinite).
pub fn rel_diff(a: &Mat, b: &Mat) -> f64 {
    assert_eq!(a.shape(), b.shape());
    compare(a.as_slice(), b.as_slice()).unwrap().max_rel
}

/// The analytic Jacobian (rows = outputs) assembled from a backward by `vjp(e_i)` for every output i.
pub fn jacobian_from_vjp(vjp: &dyn Fn(&[f64]) -> Vec<f64>, outputs: usize) -> Mat {
    let rows: Vec<Vec<f64>> = (0..outputs)
        .map(|i| {
            let mut e = vec![0.0; outputs];
            e[i] = 1.0;
            vjp(&e)
        })
        .collect();
    let cols = rows.first().map_or(0, |r| r.len());
    Mat::from_fn(outputs, cols, |i, j| rows[i][j])
}

/// Full central-difference Jacobian of `f` at `x` against the one assembled from `vjp`: the max relative
/// error (to ‖J_fd‖_∞, floored by the chosen stencil's remaining truncation ÷ FD_REL). Both steps `h` and `h/4`
/// are evaluated and the one with the smaller estimated error is used ([`refine_step`], with the roundoff
/// `100·EPS64·max|f|/h` of the stencil at h; for this 2-point stencil the truncation falls as h², so h/4's is
/// the difference of the two / 15). Measured: an EI+LN layer (σ ≥ 0.2) 1.50e-8 off at h = 1e-5, where the
/// truncation h²·f‴/6 grows as 1/σ² relative to J.
pub fn fd_jacobian_rel(
    f: &dyn Fn(&[f64]) -> Vec<f64>,
    vjp: &dyn Fn(&[f64]) -> Vec<f64>,
    x: &[f64],
    h: f64,
) -> f64 {
    let fd_h = jacobian_fd(f, x, h).unwrap();
    let fd_q = jacobian_fd(f, x, h / 4.0).unwrap();
    let an = jacobian_from_vjp(vjp, fd_h.nrows());
    assert_eq!(an.shape(), fd_h.shape(), "vjp returns the input's length");
    let f_max = f(x).iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let diff = compare(fd_h.as_slice(), fd_q.as_slice()).unwrap().max_abs;
    let (fd, trunc) = if refine_step(diff, 100.0 * EPS64 * f_max / h) {
        (fd_q, diff / 15.0)
    } else {
        (fd_h, 0.0)
    };
    compare_with_floor(
        an.as_slice(),
        fd.as_slice(),
        (trunc / FD_REL).max(f64::MIN_POSITIVE),
    )
    .unwrap()
    .max_rel
}

/// Dot-product test in input direction `u` with an output weighting `v` drawn from `seed` (standard normal):
/// the relative error, with the stencil's roundoff floor.
pub fn dot_rel(
    f: &dyn Fn(&[f64]) -> Vec<f64>,
    vjp: &dyn Fn(&[f64]) -> Vec<f64>,
    x: &[f64],
    u: &[f64],
    seed: u64,
    h: f64,
) -> f64 {
    let v = normals(seed, 2, f(x).len());
    let r = dot_product_test(f, vjp, x, u, &v, h).unwrap();
    // The stencil's roundoff resolution, 100·EPS64·|vᵀf|/h (as in FD4_REL): a difference below it cannot be
    // told from 0, so it floors the denominator (scoring at most DOT_REL); it matters only when vᵀJu is much
    // smaller than vᵀf/h.
    let vf: f64 = v.iter().zip(f(x)).map(|(a, b)| (a * b).abs()).sum();
    let noise = 100.0 * EPS64 * vf / h;
    (r.fd - r.analytic).abs()
        / r.fd
            .abs()
            .max(r.analytic.abs())
            .max(noise / DOT_REL)
            .max(f64::MIN_POSITIVE)
}

/// Taylor test of `vjp` (output weighting standard normal from `seed`) along `u`, and if that direction is
/// inconclusive (see [`ScalarChecks::taylor_verdict`]) along up to 2 more random directions of the same norm.
/// Returns the last report and whether one direction passed [`taylor_ok`].
pub fn taylor(
    f: &dyn Fn(&[f64]) -> Vec<f64>,
    vjp: &dyn Fn(&[f64]) -> Vec<f64>,
    x: &[f64],
    u: &[f64],
    seed: u64,
    h0: f64,
) -> (TaylorReport, bool) {
    let v = normals(seed, 3, f(x).len());
    let norm = u.iter().map(|a| a * a).sum::<f64>().sqrt();
    let mut last = None;
    for k in 0..3u64 {
        let uk: Vec<f64> = if k == 0 {
            u.to_vec()
        } else {
            unit(&normals(seed, 10 + k, x.len()))
                .iter()
                .map(|a| a * norm)
                .collect()
        };
        let r = taylor_test_vector(f, vjp, x, &uk, &v, h0, TAYLOR_STEPS).unwrap();
        if taylor_ok(&r) {
            return (r, true);
        }
        last = Some(r);
    }
    (last.unwrap(), false)
}

/// Halvings of every Taylor test here: 10 steps, 9 rates, so the h → 0 end is reached from any h0.
pub const TAYLOR_STEPS: usize = 10;

/// The last two usable Taylor rates (the smallest steps above the noise floor), or `None` if fewer than two
/// are usable.
pub fn asymptotic_rates(r: &TaylorReport) -> Option<(f64, f64)> {
    let u: Vec<f64> = r
        .rates
        .iter()
        .zip(&r.usable)
        .filter(|(_, ok)| **ok)
        .map(|(x, _)| *x)
        .collect();
    (u.len() >= 2).then(|| (u[u.len() - 2], u[u.len() - 1]))
}

/// The Taylor verdict used here: the last two usable rates are ≥ `TAYLOR_MIN_RATE`. `TaylorReport::passes`
/// asks it of every usable rate, but at the larger steps the cubic term of a non-quadratic loss can cancel the
/// quadratic one (the remainder crosses 0 and a single rate is anything, e.g. −1.9 then 1.45, 1.79, 1.90, 1.95
/// on the EI layer), so only the h → 0 end decides, as in pyadjoint's `taylor_test`. A wrong gradient still
/// gives rate 1 there.
pub fn taylor_ok(r: &TaylorReport) -> bool {
    asymptotic_rates(r).is_some_and(|(a, b)| a >= TAYLOR_MIN_RATE && b >= TAYLOR_MIN_RATE)
}

/// `2 − min(last two usable rates)` for the worst-value report (NaN without two usable rates).
pub fn rate_deficit(r: &TaylorReport) -> f64 {
    asymptotic_rates(r).map_or(f64::NAN, |(a, b)| 2.0 - a.min(b))
}

/// Per-entry scales of a packed parameter vector: every entry of a block gets the block's RMS (floored at
/// 1e-3, so all-zero blocks still move). Finite differences and directions are taken in `θ₀ + s∘φ`, so a step
/// is the same fraction of every block's size: an absolute step of 1e-5 on a block of size 0.01 (e.g. D_EI =
/// 1/n) would sit 1000× deeper in its curvature than on an O(1) block.
pub fn block_scales(blocks: &[&Mat]) -> Vec<f64> {
    blocks
        .iter()
        .flat_map(|m| {
            let rms = (m.iter().map(|v| v * v).sum::<f64>() / m.len().max(1) as f64)
                .sqrt()
                .max(1e-3);
            std::iter::repeat_n(rms, m.len())
        })
        .collect()
}

/// The rounding of `loss`'s values near `x` that a 5-point stencil of step `h` along `u` turns into its
/// roundoff (`value_noise / h` is the stencil's resolution): the larger of the model `100·EPS64·l_max`
/// (`l_max` = max |L| over the stencil's points) and the measured noise, [`NOISE_SIGMAS`] standard deviations
/// of the stencil, `σ·√130/12` with `σ` from `check::noise_level_search` (starting at `h/100`). The model is
/// enough where L is computed from values of its own size; the I-Norm network's loss of ~16, computed through
/// logits and hidden activity of ~60, rounds at hundreds of `EPS64·|L|`, which only the measurement sees.
pub fn value_noise(loss: &dyn Fn(&[f64]) -> f64, x: &[f64], u: &[f64], l_max: f64, h: f64) -> f64 {
    let sigma = ::inorm::check::noise_level_search(loss, x, u, h / 100.0)
        .unwrap()
        .unwrap_or(0.0);
    (100.0 * EPS64 * l_max).max(NOISE_SIGMAS * sigma * 130f64.sqrt() / 12.0)
}

/// Directional (5-point) test of `grad` for `loss` at `x` along `u` with step `h`: the relative error with the
/// stencil's roundoff resolution `value_noise/h` (see [`value_noise`]) as the floor of its denominator,
/// divided by DOT_REL so that a difference at the resolution scores as at most DOT_REL: a difference below it
/// cannot be told from 0 (e.g. a loss exactly quadratic around a zero gradient, or a loss that rounds at
/// 1e-12 of itself). The stencils at h and h/4 are both evaluated, and the one with the smaller estimated
/// error is used (see [`refine_step`]; measured: I-Norm local loss, n = 1, a derivative of 194 off by 1.0e-9
/// at h = 1e-4 and 1.5e-12 at h/4), with its remaining truncation added to the floor. The two stencils are
/// compared with each other, never with the gradient under test.
pub fn directional_rel(
    loss: &dyn Fn(&[f64]) -> f64,
    grad: &[f64],
    x: &[f64],
    u: &[f64],
    h: f64,
) -> f64 {
    let l_max = [0.0, 2.0 * h, -2.0 * h]
        .iter()
        .map(|t| loss(&x.iter().zip(u).map(|(p, d)| p + t * d).collect::<Vec<_>>()).abs())
        .fold(0.0f64, f64::max);
    directional_rel_at_noise(loss, grad, x, u, h, value_noise(loss, x, u, l_max, h))
}

/// [`directional_rel`] with the rounding of the loss's values, `l_noise` (see [`value_noise`]), already
/// measured along `u` (so that `scalar_checks` measures it once for its FD and directional tests).
pub fn directional_rel_at_noise(
    loss: &dyn Fn(&[f64]) -> f64,
    grad: &[f64],
    x: &[f64],
    u: &[f64],
    h: f64,
    l_noise: f64,
) -> f64 {
    let d = ::inorm::check::directional_test(loss, grad, x, u, h).unwrap();
    let q = ::inorm::check::directional_test(loss, grad, x, u, h / 4.0).unwrap();
    let diff = (d.fd - q.fd).abs();
    let (fd, floor) = if refine_step(diff, l_noise / h) {
        (q.fd, 4.0 * l_noise / h + diff / 255.0)
    } else {
        (d.fd, l_noise / h)
    };
    (fd - d.analytic).abs()
        / fd.abs()
            .max(d.analytic.abs())
            .max(floor / DOT_REL)
            .max(f64::MIN_POSITIVE)
}

/// What the three checks of a scalar loss's gradient saw (see [`scalar_checks`]).
pub struct ScalarChecks {
    /// Max relative error of the full 5-point FD gradient (h = 1e-4), to its ∞-norm.
    pub fd_rel: f64,
    /// Relative error of the directional (5-point) test (h = 1e-3).
    pub dir_rel: f64,
    /// Taylor test in the same direction.
    pub taylor: TaylorReport,
    /// See [`ScalarChecks::taylor_verdict`].
    taylor_pass: bool,
}

impl ScalarChecks {
    /// Records the three errors in `w` and fails the case (naming `what`) if any check fails: FD within
    /// `FD_REL`, directional within `DOT_REL`, and the Taylor verdict.
    pub fn check(&self, w: &Worst, what: &str) -> Result<(), TestCaseError> {
        w.rec("fd_gradient", self.fd_rel);
        proptest::prop_assert!(self.fd_rel <= FD_REL, "{} FD {:.2e}", what, self.fd_rel);
        w.rec("directional", self.dir_rel);
        proptest::prop_assert!(
            self.dir_rel <= DOT_REL,
            "{} directional {:.2e}",
            what,
            self.dir_rel
        );
        w.rec("taylor_rate_deficit", rate_deficit(&self.taylor));
        proptest::prop_assert!(self.taylor_verdict(), "{} Taylor {:?}", what, self.taylor);
        Ok(())
    }
    /// The Taylor verdict: along one of up to 3 unit directions, [`taylor_ok`], or no verdict possible
    /// because the loss is flat along it to within Taylor's noise floor (every zeroth-order remainder below
    /// `TAYLOR_NOISE_FLOOR·|L|`, e.g. a zero gradient with curvature 1e-13 of |L|; the directional test, with
    /// its absolute roundoff floor, is then the verdict). A direction along which the curvature is so small
    /// that the cubic term dominates until the remainders reach the noise floor (rates 1.2, 1.16, 1.71 |
    /// floor | 1.88, 1.94, 1.97) is inconclusive, and the next one is tried; a wrong gradient gives rate 1 at
    /// the small steps along every direction.
    pub fn taylor_verdict(&self) -> bool {
        self.taylor_pass
    }
}

/// Whether a central stencil at h/4 has the smaller estimated error than the one at h, given their
/// difference `diff` and the roundoff `noise` of the stencil at h: h's error is its truncation ≈ `diff` (the
/// 5-point stencil's truncation falls as h⁴, so the difference is 255/256 of h's; the 2-point one's as h²,
/// 15/16) plus `noise`; h/4's is `diff/255` (or `diff/15`) plus `4·noise`. So h/4 wins where
/// `diff > 3·noise`, up to a factor 254/255 (14/15). A rule set by the tolerance
/// instead ("refine where the stencils differ by more than it") leaves an error just under the tolerance
/// unrefined and then failing it (measured: a directional error of 1.01e-9 against DOT_REL = 1e-9 with the
/// stencils 0.99e-9 apart).
pub fn refine_step(diff: f64, noise: f64) -> bool {
    diff > 3.0 * noise
}

/// The 5-point FD gradient of `f` at `x` with step `h`, or with `h/4` where that has the smaller estimated
/// error in some block ([`refine_step`], with `l_noise/h` the stencil's roundoff at h, see [`value_noise`];
/// `lens`: the lengths of the parameter blocks, each compared on its own); returns (gradient, step used,
/// the remaining truncation estimate of each block, 0 where h is used). Where the loss curves sharply (a
/// tiny inhibitory weight next to a unit one, measured: |∂L| ≈ 2.6e4 in the scaled coordinates), the
/// stencil's truncation h⁴·f⁽⁵⁾/30 is still 4e-4 at h = 1e-4 and shrinks as h⁴ (3.4e-6 at 3e-5); the
/// stencil at h/4 is then used, whose truncation is the difference of the two stencils / (4⁴ − 1). Block by
/// block, because a block of small gradients can show truncation that the largest block hides (measured:
/// the I-Norm local loss's D_EI block, entries 0.05 next to 1.8, 1.3e-8 of its own scale at h = 1e-4 and
/// 4.8e-11 at h/4, while 1e-11 of the gradient's overall scale). The two stencils are compared with each
/// other, never with the gradient under test, so a wrong gradient cannot choose its step.
pub fn fd4_refined(
    f: &dyn Fn(&[f64]) -> f64,
    x: &[f64],
    h: f64,
    lens: &[usize],
    l_noise: f64,
) -> (Vec<f64>, f64, Vec<f64>) {
    let fd_h = ::inorm::check::gradient_fd4(f, x, h);
    let fd_q = ::inorm::check::gradient_fd4(f, x, h / 4.0);
    let mut off = 0;
    let mut refine = false;
    let mut trunc = Vec::with_capacity(lens.len());
    for &len in lens {
        let diff = compare(&fd_h[off..off + len], &fd_q[off..off + len])
            .unwrap()
            .max_abs;
        refine |= refine_step(diff, l_noise / h);
        trunc.push(diff / 255.0);
        off += len;
    }
    assert_eq!(off, x.len(), "block lengths cover the parameters");
    if refine {
        (fd_q, h / 4.0, trunc)
    } else {
        (fd_h, h, vec![0.0; lens.len()])
    }
}

/// Checks the claimed gradient `grad` of `loss` at `theta` in the scaled coordinates `θ₀ + s∘φ` (see
/// [`block_scales`]; `lens` are the lengths of the parameter blocks): full FD gradient (block by block), directional test and Taylor test (from `h0`) along a standard
/// normal direction drawn from `seed`, normalized to unit length (so the steps are the same size in any
/// number of parameters).
pub fn scalar_checks(
    loss: &dyn Fn(&[f64]) -> f64,
    grad: &[f64],
    theta: &[f64],
    scales: &[f64],
    lens: &[usize],
    seed: u64,
    h0: f64,
) -> ScalarChecks {
    let at = |phi: &[f64]| -> f64 {
        let t: Vec<f64> = theta
            .iter()
            .zip(phi)
            .zip(scales)
            .map(|((a, p), s)| a + s * p)
            .collect();
        loss(&t)
    };
    let g: Vec<f64> = grad.iter().zip(scales).map(|(g, s)| g * s).collect();
    let phi0 = vec![0.0; theta.len()];
    let u = unit(&normals(seed, 1, theta.len()));
    // The full gradient by the 5-point stencil at h = 1e-4: truncation h⁴·f⁽⁵⁾/30 stays ≪ FD_REL even where a
    // cancellation (R = X D_IEᵀ small against its terms, a small Dn) multiplies every derivative's scale by
    // ~20 per order, and roundoff 1.5·EPS64·|L|/h ≈ 3e-12·|L| ×100 is below FD_REL, which is the bound used.
    // The directional test at h = 1e-4 for the same reason (block scaling is by RMS, and a block can hold
    // entries 30× below its RMS, e.g. D_EI = 0.05 next to 1.5); its roundoff, 1.5·EPS64·|L|/h × 100 = 3e-10·|L|,
    // is still within DOT_REL.
    let (h_fd, h_dir) = (1e-4, 1e-4);
    // Roundoff resolution of each stencil, `value_noise`/h (modelled from max|L| over the points the
    // directional stencil evaluates, or measured where larger): a difference below it is indistinguishable
    // from 0 (e.g. a loss exactly quadratic around a zero gradient), so it is the floor of the relative
    // error's denominator (divided by the tolerance, so it scores as at most 1×).
    let l_max = [0.0, 2.0 * h_dir, -2.0 * h_dir]
        .iter()
        .map(|t| {
            at(&phi0
                .iter()
                .zip(&u)
                .map(|(p, d)| p + t * d)
                .collect::<Vec<_>>())
            .abs()
        })
        .fold(0.0f64, f64::max);
    let l_noise = value_noise(&at, &phi0, &u, l_max, h_dir);
    let noise = |h: f64| l_noise / h;
    let (fd, h_fd, trunc) = fd4_refined(&at, &phi0, h_fd, lens, l_noise);
    // Block by block (each parameter relative to its own block's ∞-norm), so that an error in a block with
    // small gradients is not diluted by a block with large ones.
    let mut fd_rel = 0.0f64;
    let mut off = 0;
    for (&len, trunc) in lens.iter().zip(&trunc) {
        let (gb, fb) = (&g[off..off + len], &fd[off..off + len]);
        let cmp = compare(gb, fb).unwrap();
        let scale = fb.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        fd_rel = fd_rel.max(
            cmp.max_abs
                / scale
                    .max((noise(h_fd) + trunc) / FD_REL)
                    .max(f64::MIN_POSITIVE),
        );
        off += len;
    }
    assert_eq!(off, g.len(), "block lengths cover the parameters");
    let dir_rel = directional_rel_at_noise(&at, &g, &phi0, &u, h_dir, l_noise);
    let mut taylor = None;
    let mut taylor_pass = false;
    for k in 0..3u64 {
        let uk = if k == 0 {
            u.clone()
        } else {
            unit(&normals(seed, 10 + k, theta.len()))
        };
        // A direction along which the loss is nearly linear has second-order remainders under the noise
        // floor at h0 (no usable rate, e.g. remainders 4e-13 → 3e-18 against a floor of 1e-13): start the
        // same direction from larger steps until two rates are usable. A wrong gradient leaves a
        // first-order remainder, usable at any start, so a larger start cannot hide it.
        let mut r = ::inorm::check::taylor_test(at, &g, &phi0, &uk, h0, TAYLOR_STEPS).unwrap();
        for grow in [10.0, 100.0] {
            if r.usable_steps() >= 2 {
                break;
            }
            r = ::inorm::check::taylor_test(at, &g, &phi0, &uk, h0 * grow, TAYLOR_STEPS).unwrap();
        }
        let l_scale = at(&phi0)
            .abs()
            .max(at(&uk.iter().map(|d| h0 * d).collect::<Vec<_>>()).abs());
        let flat = r.usable_steps() < 2
            && r.zeroth_remainders
                .iter()
                .all(|&z| z <= TAYLOR_NOISE_FLOOR * l_scale);
        taylor_pass = taylor_ok(&r) || flat;
        taylor = Some(r);
        if taylor_pass {
            break;
        }
    }
    let taylor = taylor.unwrap();
    ScalarChecks {
        fd_rel,
        dir_rel,
        taylor,
        taylor_pass,
    }
}

/// Activation rows of B ≤ 3, n ≤ 6: generic, constant (variance 0) or |mean| ≫ std, with a seed.
pub fn hard_rows() -> impl Strategy<Value = (Mat, u64)> {
    (1usize..=3, 1usize..=6)
        .prop_flat_map(|(b, n)| {
            proptest::prop_oneof![
                ::inorm::testing::uniform_kind_activations(b, n).prop_map(|(_, z)| z),
                ::inorm::testing::activations(b, n)
            ]
        })
        .prop_flat_map(|z| {
            (
                proptest::strategy::Just(z),
                proptest::arbitrary::any::<u64>(),
            )
        })
}
