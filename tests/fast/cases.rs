//! One table of cases (condition, shapes, seed) run against every fast backend, the way regex runs one
//! table against every engine: loss, local losses, logits, z, every task and local gradient, diagnostics.

use super::common::{
    alignment_conditioning, compare, conditioning, conditions, fast_backends, reports, worst,
};
use inorm::backend::Backend;
use inorm::model::{GradReport, NetSpec};
use inorm::tolerance::{
    fast_f32_rel, COSINE_OF_TWO, FAST_F32_REL, FAST_F64_GRAM_COS, FAST_F64_REL,
};

/// The tolerance of quantity `what` (a name from `compare`) of a backend against the reference `want`.
pub fn tolerance(b: Backend, what: &str, want: &GradReport, spec: &NetSpec) -> f64 {
    match b {
        Backend::Fast { f64: true } | Backend::FastCuda { f64: true } => {
            if what.ends_with("gradient_alignment") {
                FAST_F64_GRAM_COS
            } else {
                FAST_F64_REL
            }
        }
        _ if what.ends_with("alignment") => {
            let kappa = conditioning(want, spec).max(alignment_conditioning(want));
            COSINE_OF_TWO * fast_f32_rel(kappa)
        }
        _ => fast_f32_rel(conditioning(want, spec)),
    }
}

/// The worst (quantity, error, error/tolerance) of `got` against `want`.
pub fn worst_ratio(
    got: &GradReport,
    want: &GradReport,
    spec: &NetSpec,
    b: Backend,
) -> (String, f64, f64) {
    compare(got, want, spec.lambda)
        .into_iter()
        .map(|(k, e)| {
            let r = e / tolerance(b, &k, want, spec);
            (k, e, if r.is_nan() { f64::INFINITY } else { r })
        })
        .fold(
            ("none".into(), 0.0, 0.0),
            |a, c| if c.2 > a.2 { c } else { a },
        )
}

/// (width, input, batch, seed): tiny, small, and the real input width.
const SHAPES: [(usize, usize, usize, u64); 3] =
    [(16, 40, 8, 3), (32, 96, 32, 11), (100, 784, 32, 5)];

#[test]
fn every_condition_every_backend_matches_reference() {
    let mut failures = Vec::new();
    for be in fast_backends() {
        let mut worst_all = ("none".to_string(), 0.0f64);
        for (w, m, b, seed) in SHAPES {
            for (name, spec, jitter) in conditions(w, m) {
                let (got, want) = reports(&spec, be, seed, b, jitter);
                let (k, e) = worst(&compare(&got, &want, spec.lambda));
                if e > worst_all.1 {
                    worst_all = (format!("{name} {w}×{m} B={b}: {k}"), e);
                }
                let (k, e, ratio) = worst_ratio(&got, &want, &spec, be);
                if !(ratio <= 1.0) {
                    failures.push(format!("{} {name} {w}×{m} B={b}: {k} = {e:.3e}", be.name()));
                }
            }
        }
        eprintln!(
            "worst {} vs reference: {:.3e} ({})",
            be.name(),
            worst_all.1,
            worst_all.0
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_wrong_gradient_is_detected_by_the_comparison() {
    // The comparison must be able to fail: scaling one gradient by 1.001 exceeds the f32 tolerance.
    let (_, spec, j) = conditions(16, 40).remove(0);
    let (mut got, want) = reports(&spec, Backend::Fast { f64: true }, 3, 8, j);
    for v in got.grads.get_mut("hidden.0.w_ee").unwrap().data.iter_mut() {
        *v *= 1.001;
    }
    let (k, e) = worst(&compare(&got, &want, spec.lambda));
    assert_eq!(k, "grad.hidden.0.w_ee");
    assert!(e > FAST_F32_REL, "{e}");
}
