//! Property tests: for every condition, random widths, fan-ins, batch sizes and parameter/batch seeds, the
//! candle f64 and f32 paths agree with the reference; and the cases proptest once found failing, replayed
//! as explicit values (a persisted proptest seed replays the *unshrunk* draw of whatever the strategy is
//! today, so a changed strategy or a new exclusion silently turns it into a different case, or none).

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::cases::worst_ratio;
use super::common::{
    batch, conditions, local_conditioning, perturbed_params, reports, sub_local_conditioning,
};
use inorm::backend::Backend;
use inorm::model::GradNorm;

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
/// tolerance (`cases::tolerance`), with the extra κ of the local W_IE / W_EI gradients.
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
    let (k, e, ratio) = worst_ratio(&got, &want, spec, be);
    // Local gradients of W_IE also carry the cancellation of G through W_EI (see local_conditioning).
    let params = perturbed_params(spec, seed, *jitter);
    let extra_kappa = if f64 {
        1.0
    } else {
        local_conditioning(&want, spec, &params)
    };
    let (x, _) = batch(seed ^ 0x5eed, rows, spec.input);
    let sub_kappa = if f64 {
        1.0
    } else {
        sub_local_conditioning(&want, spec, &params, &x)
    };
    let ratio = if k.starts_with("local_grad") && k.ends_with("w_ie") {
        ratio / extra_kappa.max(sub_kappa)
    } else if k.starts_with("local_grad") && k.ends_with("w_ei") {
        ratio / sub_kappa
    } else {
        ratio
    };
    prop_assert!(
        ratio <= 1.0,
        "{} {name}: {k} = {e:.3e} ({ratio:.2} × tolerance; local κ {extra_kappa:.1})",
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
const REGRESSIONS: [(&str, usize, usize, usize, u64, bool); 4] = [
    // f32 LN backward at n = 2 (ε-term cancellation): now inside the per-tensor model, κ = (v + ε)/ε on the
    // hidden gradients only.
    ("ei-ln", 2, 0, 1, 8206249975228135890, false),
    // f64 GN scale at n = 2.
    ("inorm-gn-scale", 2, 23, 2, 1545313584882498286, true),
    // f32 inorm-gn-full at n = 16, B = 1.
    ("inorm-gn-full", 16, 5, 1, 2761633324747271426, false),
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
