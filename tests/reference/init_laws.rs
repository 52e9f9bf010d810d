//! paper/model.md §5.1, §2.7: the random draws of the initialization against their stated laws, not against
//! pinned values (so any correct sampler passes): every layer's W_EE (hidden.0, hidden.1, out) with its own
//! `σ_t = sqrt(2n / (m(n − 1)))` (lognormal with mean = std = σ_t, or exponential with scale σ_t), by the
//! sample mean and variance against their exact values within `MC_Z` standard errors and by a one-sample
//! Kolmogorov–Smirnov test; the lateral weights ω through the exact law of the ratio of two independent
//! Uniform[0,1) draws (the normalization cancels in ω_i/ω_j). Seeds are fixed: each test either always
//! passes or always fails, and a correct sampler fails one of its checks with probability below
//! `MC_FALSE_ALARM` per check. Each test also shows that the checks reject a wrong law.

use ::inorm::init::init_params;
use ::inorm::model::{GradNorm, InitDist, NetSpec, Preset, CLASSES};
use ::inorm::tolerance::{ks_crit, MC_Z};

/// `erfc(x)` (Numerical Recipes' Chebyshev fit, fractional error < 1.2e-7 everywhere: far below the KS
/// critical values ≥ 1e-3 used here).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Standard normal CDF.
fn phi(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// One-sample Kolmogorov–Smirnov statistic `sup |F_N − F|` of `xs` against the CDF `f`.
fn ks(xs: &[f64], f: &dyn Fn(f64) -> f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    v.iter().enumerate().fold(0.0f64, |d, (i, &x)| {
        let c = f(x);
        d.max((i as f64 + 1.0) / n - c).max(c - i as f64 / n)
    })
}

/// `sqrt(2n / (m(n − 1)))` written from paper/model.md §5.1 (n = the layer's excitatory width, m = fan-in).
fn sigma_t(n: usize, m: usize) -> f64 {
    (2.0 * n as f64 / (m as f64 * (n as f64 - 1.0))).sqrt()
}

/// The CDF of each law with mean = std = σ: lognormal `exp(μ + sξ)`, `s² = ln 2`, `μ = ln σ − ½ ln 2`;
/// exponential with scale σ.
fn law_cdf(dist: InitDist, sigma: f64) -> impl Fn(f64) -> f64 {
    move |x: f64| {
        if x <= 0.0 {
            return 0.0;
        }
        match dist {
            InitDist::Lognormal => {
                let s = std::f64::consts::LN_2.sqrt();
                let mu = sigma.ln() - 0.5 * std::f64::consts::LN_2;
                phi((x.ln() - mu) / s)
            }
            InitDist::Exponential => 1.0 - (-x / sigma).exp(),
        }
    }
}

/// Fourth central moment over σ⁴ of each law (for the standard error of the sample variance): lognormal with
/// s² = ln 2 has excess kurtosis e^{4s²} + 2e^{3s²} + 3e^{2s²} − 6 = 38, so μ₄ = 41σ⁴; exponential μ₄ = 9σ⁴.
fn mu4(dist: InitDist) -> f64 {
    match dist {
        InitDist::Lognormal => 41.0,
        InitDist::Exponential => 9.0,
    }
}

/// Checks `xs` (i.i.d. draws of `dist` with mean = std = σ) against the law; returns (KS D / critical,
/// |mean − σ| / (MC_Z·SE), |var − σ²| / (MC_Z·SE)), each ≤ 1 for a pass.
fn law_ratios(xs: &[f64], dist: InitDist, sigma: f64) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    let se_mean = sigma / n.sqrt();
    let se_var = ((mu4(dist) - 1.0) / n).sqrt() * sigma * sigma;
    (
        ks(xs, &law_cdf(dist, sigma)) / ks_crit(xs.len()),
        (mean - sigma).abs() / (MC_Z * se_mean),
        (var - sigma * sigma).abs() / (MC_Z * se_var),
    )
}

/// Every layer's W_EE with (name, n, m) as paper/model.md §3/§5.1 define them.
fn layers(spec: &NetSpec) -> Vec<(String, usize, usize)> {
    vec![
        ("hidden.0.w_ee".into(), spec.width, spec.input),
        ("hidden.1.w_ee".into(), spec.width, spec.width),
        ("out.w_ee".into(), CLASSES, spec.width),
    ]
}

#[test]
fn excitatory_weights_follow_the_stated_laws() {
    for dist in [InitDist::Lognormal, InitDist::Exponential] {
        let mut spec = NetSpec::new(Preset::Ei, 160);
        spec.input = 300;
        spec.init = dist;
        // The output layer has only 10·n entries per seed: pool several seeds per layer.
        let seeds = [3u64, 4, 5, 6, 7, 8];
        for (name, n, m) in layers(&spec) {
            let mut xs = vec![];
            for &seed in &seeds {
                xs.extend(
                    init_params(&spec, seed).unwrap()[&name]
                        .data
                        .iter()
                        .copied(),
                );
            }
            let sigma = sigma_t(n, m);
            let (k, mean, var) = law_ratios(&xs, dist, sigma);
            eprintln!(
                "[laws] {dist:?} {name} (N = {}): KS/crit {k:.3}, mean/bound {mean:.3}, var/bound {var:.3}",
                xs.len()
            );
            assert!(k <= 1.0, "{dist:?} {name}: KS D = {k:.3} × critical");
            assert!(
                mean <= 1.0,
                "{dist:?} {name}: mean off by {mean:.3} × MC_Z·SE"
            );
            assert!(
                var <= 1.0,
                "{dist:?} {name}: variance off by {var:.3} × MC_Z·SE"
            );
            // Power: the same draws against the other law, and against a σ 10% too large, are rejected at
            // the same false-alarm level.
            let other = match dist {
                InitDist::Lognormal => InitDist::Exponential,
                InitDist::Exponential => InitDist::Lognormal,
            };
            let (k2, _, _) = law_ratios(&xs, other, sigma);
            assert!(
                k2 > 1.0,
                "{dist:?} {name}: the wrong law passes KS ({k2:.3})"
            );
            let (k3, m3, _) = law_ratios(&xs, dist, 1.1 * sigma);
            eprintln!(
                "[laws]   power: other law KS/crit {k2:.3}; σ × 1.1: KS/crit {k3:.3}, mean {m3:.3}"
            );
            assert!(k3 > 1.0 && m3 > 1.0, "{dist:?} {name}: σ × 1.1 passes");
        }
    }
}

/// `P(U₁/U₂ ≤ r)` for independent U₁, U₂ ~ Uniform[0,1): r/2 for r ≤ 1, 1 − 1/(2r) above.
fn uniform_ratio_cdf(r: f64) -> f64 {
    if r <= 0.0 {
        0.0
    } else if r <= 1.0 {
        r / 2.0
    } else {
        1.0 - 1.0 / (2.0 * r)
    }
}

#[test]
fn lateral_weights_follow_the_stated_law() {
    let mut spec = NetSpec::new(Preset::INormGn(GradNorm::Lateral), 120);
    spec.input = 120;
    let mut ratios = vec![];
    let mut per_layer: [Vec<Vec<f64>>; 2] = [vec![], vec![]];
    for seed in 0..12u64 {
        let p = init_params(&spec, seed).unwrap();
        for (i, layer) in per_layer.iter_mut().enumerate() {
            let w = &p[&format!("hidden.{i}.lateral")].data;
            let s: f64 = w.iter().sum();
            assert!((s - 1.0).abs() <= 1e-12, "ω sums to {s}");
            assert!(w.iter().all(|v| *v > 0.0 && *v < 1.0));
            for pair in w.chunks(2) {
                ratios.push(pair[0] / pair[1]);
            }
            layer.push(w.clone());
        }
    }
    let k = ks(&ratios, &uniform_ratio_cdf) / ks_crit(ratios.len());
    eprintln!("[laws] ω ratios (N = {}): KS/crit {k:.3}", ratios.len());
    assert!(k <= 1.0, "ω_i/ω_j: KS D = {k:.3} × critical");
    // Independent draw per layer (paper/model.md §2.7).
    assert_ne!(per_layer[0][0], per_layer[1][0]);
    // Power: ratios of squared uniforms (a wrong law) are rejected.
    let sq: Vec<f64> = ratios.iter().map(|r| r * r).collect();
    let k2 = ks(&sq, &uniform_ratio_cdf) / ks_crit(sq.len());
    eprintln!("[laws]   power: squared ratios KS/crit {k2:.3}");
    assert!(k2 > 1.0, "a wrong law passes KS ({k2:.3})");
}
