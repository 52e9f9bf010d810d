//! Property tests: for every condition, random widths, fan-ins, batch sizes and parameter/batch seeds, the
//! candle f64 and f32 paths agree with the reference; and the cases proptest once found failing, replayed
//! as explicit values (a persisted proptest seed replays the *unshrunk* draw of whatever the strategy is
//! today, so a changed strategy or a new exclusion silently turns it into a different case, or none).

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::cases::tolerance;
use super::common::{
    backward_cancellation, batch, compare, conditions, hidden_backward_conditioning, kink_margin,
    local_conditioning, out_ie_conditioning, own_surrogate_vanishes, perturbation_sensitivity,
    perturbed_params, reports, sub_local_conditioning,
};
use inorm::backend::Backend;
use inorm::model::GradNorm;
use inorm::tolerance::{EPS32, EPS64, F32_CANCELLATION, FAST_VS_PERTURBED};

/// Number of conditions (the same at every shape).
fn condition_count() -> usize {
    conditions(2, 2).len()
}

/// Whether the property covers this draw. f32 at n = 2 and 3, and f64 at n = 2 and 3 of the normalizing
/// backwards (LN, GN full/decorrelate/scale), are not drawn: there the backward's cancellation depends on
/// the upstream error (which a report does not carry) and can exceed any κ computable from z (measured: f32
/// inorm, n = 3, B = 1, local_loss.1 2.1e-4 and a gradient alignment 7.4e-4 against ≈ 2e-4; f64
/// inorm-gn-full+eq2-exact, n = 3, B = 2, gradient alignment 4.8e-7, and n = 2, B = 4, 7.4e-8, against
/// FAST_F64_GRAM_COS = 1e-8). The reference proves n = 1, 2, 3 against finite differences in
/// tests/reference; the committed n = 2 cases replay below with the n = 2 backward κ.
fn covered(spec: &inorm::model::NetSpec, width: usize, f64: bool) -> bool {
    let normalizing = spec.preset.layer_norm()
        || matches!(
            spec.preset.grad_norm(),
            GradNorm::Full | GradNorm::Decorrelate | GradNorm::Scale
        );
    width > 3 || (f64 && !normalizing)
}

/// One case of the property: the fast backend (`f64` or f32) against the reference, every tensor within its
/// tolerance (`cases::tolerance`) times its own cancellation κ where it has one (f32: the local W_IE / W_EI
/// gradients and the output W_IE gradient sum errors that nearly cancel; the κ multiplies, since the summed
/// errors already carry the rows' conditioning). Draws within f32 rounding of a ReLU kink are rejected.
pub fn check_case(
    cond: usize,
    width: usize,
    extra: usize,
    rows: usize,
    seed: u64,
    f64: bool,
) -> Result<(), TestCaseError> {
    let conds = conditions(width, width + extra);
    let (name, spec, jitter) = &conds[cond % conds.len()];
    let be = Backend::Fast { f64 };
    let (got, want) = reports(spec, be, seed, rows, *jitter);
    let params = perturbed_params(spec, seed, *jitter);
    let (x, y) = batch(seed ^ 0x5eed, rows, spec.input);
    // f32 only: the cancellations of the W_IE / W_EI gradients (local: G through W_EI, see
    // local_conditioning; subtractive: across the batch; output: the error through W_EI).
    let (local_kappa, sub_kappa, out_kappa) = if f64 {
        (1.0, 1.0, 1.0)
    } else {
        (
            local_conditioning(&want, spec, &params),
            sub_local_conditioning(&want, spec, &params, &x),
            out_ie_conditioning(&want, spec, &params, &y),
        )
    };
    // The normalizing backwards' cancellation on the errors they receive, for the hidden task gradients,
    // beyond the cancellation the modelled tolerance already allows (F32_CANCELLATION; f64: 100).
    let bwd = backward_cancellation(spec, &params, &x, &y, &want);
    let allowed = if f64 { 100.0 } else { F32_CANCELLATION };
    let kappa = |k: &str| -> f64 {
        let layer = k
            .strip_prefix("diag.")
            .and_then(|r| r.split('.').next()?.parse().ok());
        let hidden: Option<usize> = k
            .strip_prefix("grad.hidden.")
            .and_then(|r| r.split('.').next()?.parse().ok());
        if k.ends_with("gradient_alignment")
            && layer.is_some_and(|i| own_surrogate_vanishes(&want, spec, i))
        {
            f64::INFINITY
        } else if k.starts_with("local_grad") && k.ends_with("w_ie") {
            local_kappa.max(sub_kappa)
        } else if k.starts_with("local_grad") && k.ends_with("w_ei") {
            sub_kappa
        } else if k == "grad.out.w_ie" {
            out_kappa
        } else if let Some(j) = hidden {
            (hidden_backward_conditioning(&bwd, j) / allowed).max(1.0)
        } else {
            1.0
        }
    };
    // Each tensor's conditioning as measured (the reference under a relative perturbation of every parameter
    // by the fast path's unit roundoff), which covers the cancellations no κ above models.
    let eps = if f64 { EPS64 } else { EPS32 };
    let sens = perturbation_sensitivity(spec, seed, rows, *jitter, &want, eps, 2);
    // At a ReLU kink (within f32 rounding of it) the gradient has two valid branches: not covered.
    prop_assume!(f64 || kink_margin(&want, &sens) > 1.0);
    // Every tensor against its own tolerance: the modelled one × its own κ, or the measured one.
    let (k, e, ratio) = compare(&got, &want, spec.lambda)
        .into_iter()
        .map(|(k, e)| {
            let measured = FAST_VS_PERTURBED * sens.get(&k).copied().unwrap_or(0.0);
            let r = e / (tolerance(be, &k, &want, spec) * kappa(&k)).max(measured);
            (k, e, if r.is_nan() { f64::INFINITY } else { r })
        })
        .fold(("none".to_string(), 0.0, 0.0), |a, c| {
            if c.2 > a.2 {
                c
            } else {
                a
            }
        });
    prop_assert!(
        ratio <= 1.0,
        "{} {name}: {k} = {e:.3e} ({ratio:.2} × tolerance; κ local {local_kappa:.1}, out W_IE {out_kappa:.1})",
        be.name()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: inorm::testing::rng_seed(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn fast_matches_reference(
        cond in 0usize..condition_count(),
        width in 2usize..24,
        extra in 0usize..24,
        rows in 1usize..12,
        seed in any::<u64>(),
        f64 in any::<bool>(),
    ) {
        let conds = conditions(width, width + extra);
        prop_assume!(covered(&conds[cond].1, width, f64));
        check_case(cond, width, extra, rows, seed, f64)?;
    }
}

/// Cases proptest found failing, by value: (condition, width, extra, rows, seed, f64) and what each was
/// committed for. Each replays the property's check on exactly that case.
const REGRESSIONS: [(&str, usize, usize, usize, u64, bool); 9] = [
    // f32 LN backward at n = 2 (ε-term cancellation): now inside the per-tensor model, κ = (v + ε)/ε on the
    // hidden gradients only.
    ("ei-ln", 2, 0, 1, 8206249975228135890, false),
    // f64 GN scale at n = 2.
    ("inorm-gn-scale", 2, 23, 2, 1545313584882498286, true),
    // f32 inorm-gn-full at n = 16, B = 1.
    ("inorm-gn-full", 16, 5, 1, 2761633324747271426, false),
    // f32 inorm at n = 4, B = 10: grad.out.w_ie 1.26 × tolerance before the output W_IE κ (≈ 8).
    ("inorm", 4, 5, 10, 13322364123317848913, false),
    // f32 inorm-gn-full at n = 9, B = 1: local_grad.hidden.0.d_ie 2.32 × the modelled tolerance; within the
    // measured one (the reference under EPS32 parameter perturbation).
    ("inorm-gn-full", 9, 14, 1, 17081685371441826199, false),
    // f32 GN full with eq2_exact at n = 4, B = 2: layer 0 all active, so its gradient alignment is 0/0
    // (−0.133 against 8.5e-9); every other quantity is still compared.
    (
        "inorm-gn-full+eq2-exact",
        4,
        19,
        2,
        17198707619176294937,
        false,
    ),
    // f64 inorm+train-inhib-out at n = 2, B = 1: diag.1.gradient_alignment 1.4e-8 against the modelled
    // FAST_F64_GRAM_COS = 1e-8 (the LN surrogate's ε-term at n = 2); within the measured tolerance.
    ("inorm+train-inhib-out", 2, 15, 1, 4264120030350850890, true),
    // f32 e-ln at n = 4, B = 1: one unit active at layer 0 with y ≈ √3; LN's backward keeps 0.4 % of its
    // terms, grad.hidden.0.w_ee 5.2 × the tolerance before the backward's own κ.
    ("e-ln", 4, 23, 1, 9827021688371696462, false),
    // f64 GN full with eq2_exact at n = 2 (grad.hidden.1.bias 3.2e-10 > FAST_F64_REL before the n = 2 κ).
    (
        "inorm-gn-full+eq2-exact",
        2,
        1,
        4,
        4363968367894387413,
        true,
    ),
];

#[test]
fn committed_regressions_replay_their_cases() {
    assert_eq!(
        condition_count(),
        17,
        "update REGRESSIONS' condition names if conditions change"
    );
    let mut failures = vec![];
    for (name, width, extra, rows, seed, f64) in REGRESSIONS {
        let cond = conditions(width, width + extra)
            .iter()
            .position(|c| c.0 == name)
            .unwrap_or_else(|| panic!("no condition {name}"));
        if let Err(e) = check_case(cond, width, extra, rows, seed, f64) {
            failures.push(format!("{name} n={width} B={rows} f64={f64}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The draw that showed the kink (f32 inorm-gn-full, n = 17, B = 6): one ReLU input is 3.2e-8 in the
/// reference and −3.2e-7 in f32, so the mask flips and `grad.hidden.0.w_ee` differs by 9 % (462 × its
/// tolerance). The precondition must reject it, and must be what rejects it: inside the property it fails.
#[test]
fn a_draw_at_a_relu_kink_is_outside_the_property() {
    let (name, width, extra, rows, seed) = ("inorm-gn-full", 17, 1, 6, 14649152461628328028u64);
    let conds = conditions(width, width + extra);
    let cond = conds.iter().position(|c| c.0 == name).expect("condition");
    let (_, spec, jitter) = &conds[cond];
    let be = Backend::Fast { f64: false };
    let (got, want) = reports(spec, be, seed, rows, *jitter);
    let sens = perturbation_sensitivity(spec, seed, rows, *jitter, &want, EPS32, 2);
    let margin = kink_margin(&want, &sens);
    assert!(margin < 1e-2, "kink margin {margin:.3e}");
    let (k, _, ratio) = super::cases::worst_ratio(&got, &want, spec, be);
    assert!(ratio > 100.0, "{k}: {ratio:.1} × tolerance");
    assert!(matches!(
        check_case(cond, width, extra, rows, seed, false),
        Err(TestCaseError::Reject(_))
    ));
}

/// The measured tolerance is not vacuous: on every condition at a typical shape (n = 16, B = 8), a 1 % error
/// in the logits or in any task gradient exceeds it, and a 0.1 % error exceeds it for at least 95 % of those
/// tensors (measured: all but one of them are below 1e-3; inorm-gn-decorrelate `grad.hidden.0.bias`, a sum
/// over the batch of decorrelated errors, moves 1.0e-5 under the EPS32 perturbation, so 1.75e-3).
#[test]
fn the_measured_tolerance_catches_small_errors() {
    let (mut total, mut loose, mut worst) = (0usize, vec![], ("none".to_string(), 0.0f64));
    for (cond, (name, spec, jitter)) in conditions(16, 40).iter().enumerate() {
        let seed = 3 + cond as u64;
        let (_, want) = reports(spec, Backend::Reference, seed, 8, *jitter);
        let sens = perturbation_sensitivity(spec, seed, 8, *jitter, &want, EPS32, 2);
        for (k, s) in sens {
            if k == "logits" || k.starts_with("grad.") {
                let tol = FAST_VS_PERTURBED * s;
                total += 1;
                if !(tol < 1e-3) {
                    loose.push(format!("{name} {k}: {tol:.2e}"));
                }
                if !(tol <= worst.1) {
                    worst = (format!("{name} {k}"), tol);
                }
            }
        }
    }
    assert!(worst.1 < 1e-2, "{worst:?}");
    assert!(
        loose.len() * 20 <= total,
        "{} of {total}: {loose:#?}",
        loose.len()
    );
}
