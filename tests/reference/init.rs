//! Initialization identities (claim C1, SPEC §5.2–5.3) and the regression test of the SVD divisive init.

use ::inorm::init::{divisive_weights, init_params};
use ::inorm::model::{DivisiveInit, NetSpec, Preset};
use ::inorm::tolerance::GRAM_REL;
use nalgebra::DMatrix;

fn max_abs(m: &DMatrix<f64>) -> f64 {
    m.iter().fold(0.0f64, |a, v| a.max(v.abs()))
}

/// Regression (the old `divisive_weights` took `diag(s) V_nᵀ` from nalgebra's SVD, which returns wrong singular
/// vectors for the rank-deficient effective W = W_EE − W_EI W_IE of every I-Norm layer at init): D_IE must
/// satisfy `D_IEᵀ D_IE = Wᵀ W`, and its rows must be orthogonal with squared norms equal to the eigenvalues of
/// `W Wᵀ` in descending order (so its singular values are their square roots).
#[test]
fn svd_divisive_init_matches_direct_gram() {
    let mut worst = (0.0f64, 0.0f64);
    // Shapes and seeds on which the old SVD was wrong (n = 2, 3, 5, 6, 10, 13 with m = 784; n = 2, 3 with
    // m = 4), plus square and paper-sized layers.
    let mut cases = vec![];
    for width in [2, 3, 5, 6, 10, 13] {
        for seed in 0..4 {
            cases.push((width, 784, seed));
            cases.push((width, 4.max(width), seed));
        }
    }
    cases.extend([(3, 3, 0), (24, 64, 0), (100, 784, 0), (178, 784, 0)]);
    for &(width, input, seed) in &cases {
        let mut spec = NetSpec::new(Preset::INorm, width);
        spec.input = input;
        let p = init_params(&spec, seed).unwrap();
        for layer in 0..2 {
            let g = |s: &str| p[&format!("hidden.{layer}.{s}")].to_matrix();
            let w = g("w_ee") - g("w_ei") * g("w_ie");
            let d_ie = g("d_ie");
            assert_eq!(d_ie, divisive_weights(&w, DivisiveInit::Svd));
            let gram = w.transpose() * &w;
            let scale = max_abs(&gram);
            let e_gram = max_abs(&(d_ie.transpose() * &d_ie - &gram)) / scale;
            let mut eig: Vec<f64> = (&w * w.transpose()).symmetric_eigenvalues().iter().copied().collect();
            eig.sort_by(|a, b| b.total_cmp(a));
            let rows = &d_ie * d_ie.transpose();
            let want = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(eig));
            let e_rows = max_abs(&(rows - want)) / scale;
            worst = (worst.0.max(e_gram), worst.1.max(e_rows));
            assert!(
                e_gram <= GRAM_REL && e_rows <= GRAM_REL,
                "n={width} m={input} layer {layer}: |D_IEᵀD_IE − WᵀW| = {e_gram:.2e}, |D_IE D_IEᵀ − diag(λ)| = {e_rows:.2e}"
            );
        }
    }
    eprintln!("svd_divisive_init_matches_direct_gram: worst rel gram {:.2e}, rows/eigenvalues {:.2e}", worst.0, worst.1);
}
