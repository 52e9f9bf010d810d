//! Initialization (paper/model.md §5), shared by both paths: parameters are drawn on the host in f64 from an explicit
//! seed and loaded by each backend, so the reference and the fast path start from identical weights.

use nalgebra::DMatrix;

use crate::error::Result;
use crate::model::{
    inhib_width, DivisiveInit, GradNorm, HiddenKind, HostTensor, InitDist, NetSpec, ParamSet,
    CLASSES, HIDDEN_LAYERS,
};
use crate::rng::{SeedRng, Stream};

/// Target std of excitatory weights `σ_t = sqrt(2n / (m(n−1)))` (paper/model.md §5.1); n = the layer's excitatory
/// width, m = its fan-in. For n = 1 the formula is undefined; `sqrt(2/m)` (He) is used.
pub fn sigma_t(n: usize, m: usize) -> f64 {
    if n < 2 {
        return (2.0 / m as f64).sqrt();
    }
    (2.0 * n as f64 / (m as f64 * (n as f64 - 1.0))).sqrt()
}

/// n×m matrix of i.i.d. positive draws with mean = std = σ_t (paper/model.md §5.1): lognormal with
/// `s = sqrt(ln 2)`, `μ = ln σ_t − ½ ln 2`, or exponential with scale σ_t. Drawn in row-major order.
pub fn positive_weights(
    rng: &mut SeedRng,
    n: usize,
    m: usize,
    sigma: f64,
    dist: InitDist,
) -> DMatrix<f64> {
    let s_ln = std::f64::consts::LN_2.sqrt();
    let mu_ln = sigma.ln() - 0.5 * std::f64::consts::LN_2;
    let mut w = DMatrix::zeros(n, m);
    for r in 0..n {
        for c in 0..m {
            w[(r, c)] = match dist {
                InitDist::Lognormal => rng.lognormal(mu_ln, s_ln),
                InitDist::Exponential => rng.exponential(sigma),
            };
        }
    }
    w
}

/// `W_IE`: k rows, each the column mean of W_EE (paper/model.md §5.2).
pub fn mean_rows(w_ee: &DMatrix<f64>, k: usize) -> DMatrix<f64> {
    let mean = w_ee.row_mean();
    DMatrix::from_fn(k, w_ee.ncols(), |_, c| mean[c])
}

/// Divides each row by its sum, so rows sum to 1 (paper/model.md §5.2, W_EI).
pub fn row_normalize(mut w: DMatrix<f64>) -> DMatrix<f64> {
    for mut row in w.row_iter_mut() {
        let s: f64 = row.sum();
        row /= s;
    }
    w
}

/// `D_IE` from the effective matrix W (n×m, n ≤ m): `diag(s) V_nᵀ` of its SVD, or W itself (paper/model.md §5.3).
///
/// `diag(s) V_nᵀ = Uᵀ W` with U the left singular vectors, i.e. the eigenvectors of the symmetric n×n matrix
/// `W Wᵀ` sorted by descending eigenvalue `s²`; this is how it is computed. nalgebra's `svd` is not used: on
/// the effective W at init, rank-deficient by construction (columns centred over units, rank ≤ n − 1), it
/// returns wrong singular vectors for some shapes (e.g. n = 2…35, m = 784), giving `D_IEᵀ D_IE ≠ Wᵀ W` and
/// breaking the I-Norm = LayerNorm identity at init (regression test `svd_divisive_init_matches_direct_gram`).
/// Row signs are those of the eigen solver; the forward and the local loss do not depend on them.
pub fn divisive_weights(w: &DMatrix<f64>, how: DivisiveInit) -> DMatrix<f64> {
    match how {
        DivisiveInit::Direct => w.clone(),
        DivisiveInit::Svd => {
            let n = w.nrows();
            let eig = (w * w.transpose()).symmetric_eigen();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
            let u = DMatrix::from_fn(n, n, |r, c| eig.eigenvectors[(r, order[c])]);
            u.transpose() * w
        }
    }
}

/// Fixed lateral pooling weights ω (paper/model.md §2.7): Uniform[0,1) draws normalized to sum 1.
pub fn lateral_weights(rng: &mut SeedRng, n: usize) -> Vec<f64> {
    let w: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|v| v / s).collect()
}

/// Every parameter of `spec`'s network, initialized from `seed` (paper/model.md §5). Each layer draws from its own
/// stream (layer index 0, 1, 2 = output), ω from the lateral stream.
pub fn init_params(spec: &NetSpec, seed: u64) -> Result<ParamSet> {
    spec.validate()?;
    let n = spec.width;
    let k = inhib_width(n);
    let kind = spec.preset.hidden_kind();
    let mut p = ParamSet::new();
    let mut put = |name: String, m: &DMatrix<f64>| {
        p.insert(name, HostTensor::from_matrix(m));
    };
    let mut vectors = Vec::new();
    for i in 0..HIDDEN_LAYERS {
        let m = spec.fan_in(i);
        let mut rng = SeedRng::new(seed, Stream::Init, i as u64);
        let sigma = sigma_t(n, m);
        let w_ee = positive_weights(&mut rng, n, m, sigma, spec.init);
        put(format!("hidden.{i}.w_ee"), &w_ee);
        vectors.push((format!("hidden.{i}.bias"), vec![0.0; n]));
        if kind == HiddenKind::E {
            continue;
        }
        let w_ie = mean_rows(&w_ee, k);
        let w_ei = row_normalize(positive_weights(&mut rng, n, k, sigma, spec.init));
        if kind == HiddenKind::INorm {
            let w = &w_ee - &w_ei * &w_ie;
            put(
                format!("hidden.{i}.d_ie"),
                &divisive_weights(&w, spec.divisive_init),
            );
            put(
                format!("hidden.{i}.d_ei"),
                &DMatrix::from_element(n, n, 1.0 / n as f64),
            );
            if spec.preset.grad_norm() == GradNorm::Lateral {
                let mut lr = SeedRng::new(seed, Stream::Lateral, i as u64);
                vectors.push((format!("hidden.{i}.lateral"), lateral_weights(&mut lr, n)));
            }
        }
        put(format!("hidden.{i}.w_ie"), &w_ie);
        put(format!("hidden.{i}.w_ei"), &w_ei);
    }
    let mut rng = SeedRng::new(seed, Stream::Init, HIDDEN_LAYERS as u64);
    let sigma = sigma_t(CLASSES, n);
    let w_ee = positive_weights(&mut rng, CLASSES, n, sigma, spec.init);
    let w_ie = mean_rows(&w_ee, 1);
    let w_ei = row_normalize(positive_weights(&mut rng, CLASSES, 1, sigma, spec.init));
    put("out.w_ee".into(), &w_ee);
    put("out.w_ie".into(), &w_ie);
    put("out.w_ei".into(), &w_ei);
    vectors.push(("out.bias".into(), vec![0.0; CLASSES]));
    for (name, v) in vectors {
        p.insert(
            name,
            HostTensor {
                shape: vec![v.len()],
                data: v,
            },
        );
    }
    Ok(p)
}
