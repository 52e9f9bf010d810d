//! One table of cases (condition, shapes, seed) run against every fast backend, the way regex runs one
//! table against every engine: loss, local losses, logits, z, every task and local gradient, diagnostics.

use super::common::{
    alignment_conditioning, backward_conditioning, compare, conditions, fast_backends,
    local_loss_conditioning, reports, row_conditioning, worst,
};
use inorm::backend::Backend;
use inorm::model::{GradReport, NetSpec};
use inorm::tolerance::{
    fast_f32_rel, COSINE_OF_TWO, FAST_F32_REL, FAST_F64_GRAM_COS, FAST_F64_REL,
};

/// The tolerance of quantity `what` (a name from `compare`) of a backend against the reference `want`,
/// tensor by tensor: every tensor carries the rows' conditioning ([`row_conditioning`]); only the local-loss
/// tensors (`local_loss.*`, `local_grad.*`) add the local loss's own (`v/|v − 1|`, up to ~200 near init:
/// [`local_loss_conditioning`]); only the hidden task gradients add the n = 2 normalizing backward's
/// ([`backward_conditioning`]); the alignments add their surrogate's ([`alignment_conditioning`]).
pub fn tolerance(b: Backend, what: &str, want: &GradReport, spec: &NetSpec) -> f64 {
    let hidden_grad = what.starts_with("grad.hidden.");
    let local = what.starts_with("local_");
    let extra = if hidden_grad {
        backward_conditioning(want, spec)
    } else {
        1.0
    };
    match b {
        Backend::Fast { f64: true } | Backend::FastCuda { f64: true } => {
            if what.ends_with("gradient_alignment") {
                FAST_F64_GRAM_COS
            } else {
                // FAST_F64_REL already allows a cancellation of 100; the n = 2 backward's replaces it.
                FAST_F64_REL * (extra / 100.0).max(1.0)
            }
        }
        _ if what.ends_with("alignment") => {
            let kappa = row_conditioning(want).max(alignment_conditioning(want));
            COSINE_OF_TWO * fast_f32_rel(kappa)
        }
        _ if local => fast_f32_rel(row_conditioning(want).max(local_loss_conditioning(want, spec))),
        _ => fast_f32_rel(row_conditioning(want).max(extra)),
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

#[test]
fn local_loss_conditioning_never_widens_logits_or_task_gradients() {
    // At the exact init the I-Norm output is LN-normalized, pvar(z_b) = v/(v + ε), so the local loss's
    // κ = pvar/|pvar − 1| ≈ 1e5 and a tolerance built on it would be ≈ 2 (any error passes). Logits and task
    // gradients must keep the tolerance of the rows: a 0.1 % error in either is caught in f32.
    use inorm::init::init_params;
    use inorm::model::{Batch, Preset};
    let mut spec = NetSpec::new(Preset::INorm, 16);
    spec.input = 40;
    let params = init_params(&spec, 3).unwrap();
    let (x, y) = super::common::batch(5, 8, spec.input);
    let mut r = inorm::backend::make_trainer(Backend::Reference, spec.clone(), &params).unwrap();
    let want = r.grads(Batch { x: &x, y: &y }).unwrap();
    assert!(local_loss_conditioning(&want, &spec) > 1e3);
    let be = Backend::Fast { f64: false };
    for key in ["logits", "grad.hidden.0.w_ee"] {
        let mut got = want.clone();
        let t = if key == "logits" {
            &mut got.logits
        } else {
            got.grads.get_mut("hidden.0.w_ee").unwrap()
        };
        for v in t.data.iter_mut() {
            *v *= 1.001;
        }
        let (k, e, ratio) = worst_ratio(&got, &want, &spec, be);
        assert_eq!(k, key);
        assert!(
            ratio > 1.0,
            "{key}: a 1e-3 error ({e:.2e}) passes ({ratio:.2} × tolerance)"
        );
    }
}
