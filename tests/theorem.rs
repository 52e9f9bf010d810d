//! Theorem 1 / claim C3 (paper/model.md §9): the fixed-random-inhibition estimator `⟨w̃, δ⟩` of the mean is unbiased, its
//! error variance follows the exact identity, the Dirichlet closed form and the `CV²/n` rate, and it converges
//! along a single growing sequence. Every check is a z-bound with false-alarm rate `MC_FALSE_ALARM` (1e-6,
//! z ≈ 4.89) on fixed seeds, derived in paper/derivations/theorem1.md, and each is shown to reject a
//! deliberately wrong estimator (pooling weights normalized to sum 1.1, or not normalized).

use inorm::rng::{SeedRng, Stream};
use inorm::theorem::{
    asymptotic_error_variance, dirichlet_error_variance, estimator_error, exact_error_variance,
    monte_carlo, pooled, pvar, McResult, WeightDist,
};
use inorm::tolerance::MC_FALSE_ALARM;
use statrs::distribution::{ContinuousCDF, Normal};

/// Two-sided z for the false-alarm rate `MC_FALSE_ALARM`.
fn z() -> f64 {
    Normal::standard().inverse_cdf(1.0 - MC_FALSE_ALARM / 2.0)
}

/// Fixed δ of length n: 0.5 + N(0,1) draws (mean ≈ 0.5 ≠ 0, so a scale bias of the estimator shows).
fn delta(n: usize, sub: u64) -> Vec<f64> {
    let mut rng = SeedRng::new(77, Stream::Test, 1000 + sub);
    (0..n).map(|_| 0.5 + rng.normal()).collect()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample variance of `xs` and the standard error of that variance, `sqrt((m4 − m2²)/D)`.
fn var_and_se(xs: &[f64]) -> (f64, f64) {
    let m = mean(xs);
    let d = xs.len() as f64;
    let m2 = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / d;
    let m4 = xs.iter().map(|x| (x - m).powi(4)).sum::<f64>() / d;
    (m2 * d / (d - 1.0), ((m4 - m2 * m2) / d).sqrt())
}

/// Errors of the deliberately wrong estimator `1.1·⟨w̃, δ⟩` (weights normalized to sum 1.1):
/// `1.1·(e + δ̄) − δ̄`.
fn biased(mc: &McResult, delta: &[f64]) -> Vec<f64> {
    let dbar = mean(delta);
    mc.errors.iter().map(|e| 1.1 * (e + dbar) - dbar).collect()
}

#[test]
fn estimator_functions_and_bad_input() {
    let (w, d) = ([1.0, 3.0], [2.0, 4.0]);
    assert_eq!(pooled(&w, &d).unwrap(), 3.5);
    assert_eq!(estimator_error(&w, &d).unwrap(), 0.5);
    assert!(pooled(&[1.0], &d).is_err());
    assert!(pooled(&[], &[]).is_err());
    assert!(pooled(&[0.0, 0.0], &d).is_err());
    assert!(exact_error_variance(0.1, 1, 1.0).is_err());
    // The asymptotic form is defined from n = 1 on: (CV² s²/n)(1 + (3CV² − 2γ₁CV)/n) written out at n = 1
    // and n = 4 (CV² = 1/4, γ₁ = 1, s² = 2: 0.5·(1 + 0.75 − 1) = 0.375 and 0.125·(1 − 0.25/4) = 0.1171875).
    // Mutation testing found n = 0 / n = 1 unchecked.
    assert!(asymptotic_error_variance(0.25, 1.0, 0, 2.0).is_err());
    assert_eq!(asymptotic_error_variance(0.25, 1.0, 1, 2.0).unwrap(), 0.375);
    assert_eq!(
        asymptotic_error_variance(0.25, 1.0, 4, 2.0).unwrap(),
        0.1171875
    );
    assert!(monte_carlo(WeightDist::Uniform, &[], 10, 1).is_err());
    assert!(monte_carlo(WeightDist::Uniform, &d, 1, 1).is_err());
    // Two draws are enough; weights that overflow (lognormal with s = 1000: e^{1000ξ} = ∞) are an error,
    // not NaN statistics (mutation testing found both boundaries unchecked).
    assert_eq!(
        monte_carlo(WeightDist::Uniform, &d, 2, 1)
            .unwrap()
            .errors
            .len(),
        2
    );
    assert!(monte_carlo(
        WeightDist::Lognormal { s: 1000.0 },
        &[1.0, 2.0, 3.0, 4.0],
        10,
        1
    )
    .is_err());
    // Closed forms agree where they must: Dirichlet Var(w̃₁) = (n−1)/(n²(n+1)) in the exact identity.
    for n in [2usize, 10, 1000] {
        let nf = n as f64;
        let v = exact_error_variance((nf - 1.0) / (nf * nf * (nf + 1.0)), n, 2.0).unwrap();
        assert!((v - dirichlet_error_variance(n, 2.0)).abs() <= 4.0 * f64::EPSILON * v);
    }
    assert!((WeightDist::Lognormal { s: 1.0 }.cv2() - (1f64.exp() - 1.0)).abs() < 1e-15);
    // CV² and skewness of each law at values computed outside the crate: Uniform[0, 1) (1/3, 0), Exp(1)
    // (1, 2), lognormal at s = 1 and s = 0.5 ((e^{s²} + 2)·sqrt(e^{s²} − 1); s = 1 alone let mutation testing
    // swap s·s for s/s).
    for (dist, cv2, skew) in [
        (WeightDist::Uniform, 1.0 / 3.0, 0.0),
        (WeightDist::Exponential, 1.0, 2.0),
        (
            WeightDist::Lognormal { s: 1.0 },
            1.718281828459045,
            6.184877138632554,
        ),
        (
            WeightDist::Lognormal { s: 0.5 },
            0.2840254166877414,
            1.7501896550697178,
        ),
    ] {
        assert!(
            (dist.cv2() - cv2).abs() <= 1e-14 * cv2,
            "{dist:?}: CV² {}",
            dist.cv2()
        );
        assert!(
            (dist.skewness() - skew).abs() <= 1e-14 * skew,
            "{dist:?}: γ₁ {}",
            dist.skewness()
        );
    }
}

#[test]
fn c3_unbiased_and_rejects_biased_estimator() {
    // Power: a bias b is detected with probability ≈ Φ(|b|/SE − z); the bias detected with 50% power is z·SE
    // (printed with --nocapture: 2.6e-3 at n = 10, 1.4e-3 at n = 100, 9e-4 at n = 1000, i.e. ≤ 0.6% of
    // δ̄ ≈ 0.5; the sum-to-1.1 estimator's bias 0.1·δ̄ ≈ 0.05 is ≥ 19 such units, so its power is ≈ 1).
    let z = z();
    for (k, (n, draws)) in [(10usize, 100_000usize), (100, 40_000), (1000, 10_000)]
        .into_iter()
        .enumerate()
    {
        let d = delta(n, k as u64);
        let mc = monte_carlo(WeightDist::Uniform, &d, draws, 11 + k as u64).unwrap();
        let se = (mc.var_error / draws as f64).sqrt();
        println!(
            "n = {n}: mean error {:.3e}, SE {se:.3e}, 50%-power detectable bias {:.3e}",
            mc.mean_error,
            z * se
        );
        assert!(
            mc.mean_error.abs() <= z * se,
            "n = {n}: mean error {} > {z}·{se}",
            mc.mean_error
        );
        let b = biased(&mc, &d);
        let (vb, _) = var_and_se(&b);
        assert!(
            mean(&b).abs() > z * (vb / draws as f64).sqrt(),
            "n = {n}: biased estimator not rejected"
        );
    }
}

#[test]
fn c3_variance_rate_tends_to_cv2_uniform() {
    // R_n = n·Var(e_n)/s_δ² against the second-order formula A_n = CV²(1 + 1/n) (uniform: CV² = 1/3, γ₁ = 0).
    // Bound: z·SE(R̂_n) + model remainder CV²/n² (the O(n⁻²) term measured independently, with 4e6 NumPy draws,
    // as +0.29% at n = 10 and +0.13% at n = 16, i.e. ≈ 0.3·CV²/n²; the allowance is 3× that).
    let z = z();
    let dist = WeightDist::Uniform;
    let cv2 = dist.cv2();
    let mut dev = vec![];
    for (k, (n, draws)) in [
        (10usize, 200_000usize),
        (100, 100_000),
        (1000, 20_000),
        (10_000, 3_000),
    ]
    .into_iter()
    .enumerate()
    {
        let d = delta(n, 10 + k as u64);
        let s2 = pvar(&d);
        let mc = monte_carlo(dist, &d, draws, 21 + k as u64).unwrap();
        let (v, se_v) = var_and_se(&mc.errors);
        let nf = n as f64;
        let (r, se_r) = (nf * v / s2, nf * se_v / s2);
        let a_n = nf * asymptotic_error_variance(cv2, dist.skewness(), n, s2).unwrap() / s2;
        let bound = z * se_r + cv2 / (nf * nf);
        println!("n = {n}: R = {r:.5} ± {se_r:.5}, A_n = {a_n:.5}, CV² = {cv2:.5}");
        assert!(
            (r - a_n).abs() <= bound,
            "n = {n}: R = {r} vs A_n = {a_n}, bound {bound}"
        );
        // The estimator scaled to sum 1.1 has 1.21× the variance: rejected at every n.
        let (vb, _) = var_and_se(&biased(&mc, &d));
        assert!(
            (nf * vb / s2 - a_n).abs() > bound,
            "n = {n}: biased estimator not rejected"
        );
        dev.push(((r / cv2 - 1.0), se_r / cv2));
    }
    // The relative deviation from the limit CV² shrinks: at n = 10 it is significantly positive (the 1/n term,
    // +10%), and its upper confidence bound at n = 1000 lies below the lower confidence bound at n = 10.
    let (d10, s10) = dev[0];
    let (d1000, s1000) = dev[2];
    assert!(
        d10 - z * s10 > 0.0,
        "1/n correction at n = 10 not detected: {d10} ± {s10}"
    );
    assert!(
        d1000.abs() + z * s1000 < d10 - z * s10,
        "deviation did not shrink: n=10 {d10}±{s10}, n=1000 {d1000}±{s1000}"
    );
}

#[test]
fn c3_exact_variance_identity() {
    // Paired check in the same draws: D = e² − (n²/(n−1))·s_δ²·q with q = (1/n)Σ(w̃ᵢ − 1/n)² has E D = 0 exactly
    // (E e = 0 and E w̃ᵢ = 1/n are exact), so |mean D| ≤ z·sd(D)/√draws.
    let z = z();
    for (k, (dist, n, draws)) in [
        (WeightDist::Uniform, 10usize, 200_000usize),
        (WeightDist::Uniform, 1000, 10_000),
        (WeightDist::Lognormal { s: 0.8 }, 50, 40_000),
    ]
    .into_iter()
    .enumerate()
    {
        let d = delta(n, 20 + k as u64);
        let s2 = pvar(&d);
        let mc = monte_carlo(dist, &d, draws, 31 + k as u64).unwrap();
        let c = exact_error_variance(1.0, n, s2).unwrap();
        let paired = |errs: &[f64], factor: f64| -> (f64, f64) {
            let dd: Vec<f64> = errs
                .iter()
                .zip(&mc.w_tilde_dev_sq)
                .map(|(e, q)| e * e - factor * c * q)
                .collect();
            let (v, _) = var_and_se(&dd);
            (mean(&dd), (v / draws as f64).sqrt())
        };
        let (m, se) = paired(&mc.errors, 1.0);
        assert!(m.abs() <= z * se, "{dist:?} n = {n}: mean D = {m}, SE {se}");
        let exact = exact_error_variance(mc.var_w_tilde_1, n, s2).unwrap();
        println!(
            "{dist:?} n = {n}: Var e = {:.5e}, identity {exact:.5e}",
            mc.var_error
        );
        let (mb, seb) = paired(&biased(&mc, &d), 1.0);
        assert!(
            mb.abs() > z * seb,
            "{dist:?} n = {n}: biased estimator not rejected"
        );
        if n == 10 {
            // A wrong constant (n instead of n²/(n−1), 10% off at n = 10) is rejected too.
            let (mw, sew) = paired(&mc.errors, (n as f64 - 1.0) / n as f64);
            assert!(mw.abs() > z * sew, "wrong constant not rejected");
        }
    }
}

#[test]
fn c3_exponential_weights_dirichlet_exact() {
    let z = z();
    for (k, (n, draws)) in [(10usize, 100_000usize), (100, 40_000), (1000, 10_000)]
        .into_iter()
        .enumerate()
    {
        let d = delta(n, 30 + k as u64);
        let s2 = pvar(&d);
        let mc = monte_carlo(WeightDist::Exponential, &d, draws, 41 + k as u64).unwrap();
        let (v, se) = var_and_se(&mc.errors);
        let exact = dirichlet_error_variance(n, s2);
        assert!(
            (v - exact).abs() <= z * se,
            "n = {n}: Var {v} vs s²/(n+1) = {exact}, SE {se}"
        );
        let (vb, _) = var_and_se(&biased(&mc, &d));
        assert!(
            (vb - exact).abs() > z * se,
            "n = {n}: biased estimator not rejected"
        );
    }
}

#[test]
fn c3_almost_sure_convergence_along_one_sequence() {
    // One draw w₁..w_N (N = 10⁶, uniform) and a bounded deterministic δᵢ = 0.5 + sin(i); at each checkpoint the
    // error is approximately N(0, CV²s_δ²/n·(1+1/n)), so |e_n| ≤ z·CV·s_δ(n)·sqrt((1+1/n)/n).
    let z = z();
    let n_max = 1_000_000usize;
    let mut rng = SeedRng::new(5, Stream::Test, 77);
    let (mut sw, mut swd, mut sd, mut sdd) = (0.0, 0.0, 0.0, 0.0);
    let cv = (1.0f64 / 3.0).sqrt();
    let mut checkpoint = 100usize;
    for i in 1..=n_max {
        let w = rng.uniform();
        let d = 0.5 + (i as f64).sin();
        sw += w;
        swd += w * d;
        sd += d;
        sdd += d * d;
        if i == checkpoint {
            let nf = i as f64;
            let dbar = sd / nf;
            let s_delta = (sdd / nf - dbar * dbar).sqrt();
            let e = swd / sw - dbar;
            let bound = z * cv * s_delta * ((1.0 + 1.0 / nf) / nf).sqrt();
            assert!(e.abs() <= bound, "n = {i}: |e| = {} > {bound}", e.abs());
            if i == n_max {
                // Wrong estimators: weights summing to 1.1, or not normalized by Σw (divided by n instead).
                assert!((1.1 * swd / sw - dbar).abs() > bound);
                assert!((swd / nf - dbar).abs() > bound);
            }
            checkpoint *= 10;
        }
    }
}

#[test]
fn c3_rms_error_log_log_slope_is_minus_half() {
    // y_k = ln(RMS_k/s_δ) = ½ ln(mean e²/s_δ²), SE(y_k) = ½·sqrt((m4/m2² − 1)/D) (delta method); OLS slope
    // b = Σ(x−x̄)y/Sxx over x = ln n has SE_b² = Σ(x−x̄)²SE_k²/Sxx² (independent seeds). The model
    // y = ½ ln(CV²(1+1/n)/n) has OLS slope b_model slightly below −½ (the 1/n term); accept
    // |b + ½| ≤ z·SE_b + |b_model + ½| and, sharper, |b − b_model| ≤ z·SE_b.
    let z = z();
    let dist = WeightDist::Uniform;
    let ns = [16usize, 64, 256, 1024, 4096];
    let draws = 4000;
    let (mut xs, mut ys, mut ses, mut ym, mut yb) = (vec![], vec![], vec![], vec![], vec![]);
    for (k, &n) in ns.iter().enumerate() {
        let d = delta(n, 40 + k as u64);
        let s2 = pvar(&d);
        let mc = monte_carlo(dist, &d, draws, 51 + k as u64).unwrap();
        let m2 = mc.errors.iter().map(|e| e * e).sum::<f64>() / draws as f64;
        let m4 = mc.errors.iter().map(|e| e.powi(4)).sum::<f64>() / draws as f64;
        xs.push((n as f64).ln());
        ys.push(0.5 * (m2 / s2).ln());
        ses.push(0.5 * ((m4 / (m2 * m2) - 1.0) / draws as f64).sqrt());
        ym.push(
            0.5 * (asymptotic_error_variance(dist.cv2(), dist.skewness(), n, 1.0).unwrap()).ln(),
        );
        let b = biased(&mc, &d);
        yb.push(0.5 * (b.iter().map(|e| e * e).sum::<f64>() / draws as f64 / s2).ln());
    }
    let xbar = mean(&xs);
    let sxx: f64 = xs.iter().map(|x| (x - xbar).powi(2)).sum();
    let slope = |y: &[f64]| xs.iter().zip(y).map(|(x, y)| (x - xbar) * y).sum::<f64>() / sxx;
    let se_b = xs
        .iter()
        .zip(&ses)
        .map(|(x, s)| ((x - xbar) * s).powi(2))
        .sum::<f64>()
        .sqrt()
        / sxx;
    let (b, b_model, b_biased) = (slope(&ys), slope(&ym), slope(&yb));
    println!("slope {b:.4} ± {se_b:.4}, model {b_model:.4}, biased estimator {b_biased:.4}");
    assert!(
        (b + 0.5).abs() <= z * se_b + (b_model + 0.5).abs(),
        "slope {b}"
    );
    assert!(
        (b - b_model).abs() <= z * se_b,
        "slope {b} vs model {b_model}"
    );
    assert!(
        (b_biased + 0.5).abs() > z * se_b + (b_model + 0.5).abs(),
        "biased estimator slope {b_biased} accepted"
    );
}

/// `monte_carlo`'s statistics recomputed from its own draws: the same stream (`SeedRng::new(seed,
/// Stream::Test, 0)`, n draws of the law per weight vector) replayed here, each error as
/// [`estimator_error`] of that weight vector, `(w̃ᵢ − 1/n)²` averaged, and the mean and unbiased variance
/// of the errors written out. (Mutation testing: the error's sign and the variance's divisor survived,
/// since the C3 tests are symmetric in the sign and only use the variance as a standard error.)
#[test]
fn monte_carlo_statistics_recomputed_from_its_draws() {
    let d = [0.3, -1.2, 2.5, 0.7, 4.0];
    let n = d.len() as f64;
    for dist in [
        WeightDist::Uniform,
        WeightDist::Exponential,
        WeightDist::Lognormal { s: 0.8 },
    ] {
        let mc = monte_carlo(dist, &d, 7, 42).unwrap();
        let mut rng = SeedRng::new(42, Stream::Test, 0);
        let (mut errs, mut devs) = (vec![], vec![]);
        for _ in 0..7 {
            let w: Vec<f64> = (0..d.len()).map(|_| dist.draw(&mut rng)).collect();
            let s: f64 = w.iter().sum();
            errs.push(estimator_error(&w, &d).unwrap());
            devs.push(w.iter().map(|x| (x / s - 1.0 / n).powi(2)).sum::<f64>() / n);
        }
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        for (k, (e, v)) in errs.iter().zip(&devs).enumerate() {
            assert!(
                close(mc.errors[k], *e),
                "{dist:?} draw {k}: error {} vs {e}",
                mc.errors[k]
            );
            assert!(close(mc.w_tilde_dev_sq[k], *v), "{dist:?} draw {k}");
        }
        let m = errs.iter().sum::<f64>() / 7.0;
        let var = errs.iter().map(|e| (e - m).powi(2)).sum::<f64>() / 6.0;
        assert!(
            close(mc.mean_error, m),
            "{dist:?}: mean {} vs {m}",
            mc.mean_error
        );
        assert!(
            close(mc.var_error, var),
            "{dist:?}: variance {} vs {var}",
            mc.var_error
        );
        assert!(
            close(mc.var_w_tilde_1, devs.iter().sum::<f64>() / 7.0),
            "{dist:?}"
        );
    }
}
