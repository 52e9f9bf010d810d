//! Property tests: for every condition, random widths, fan-ins, batch sizes and parameter/batch seeds, the
//! candle f64 and f32 paths agree with the reference.

use proptest::prelude::*;

use super::cases::worst_ratio;
use super::common::{
    batch, conditions, local_conditioning, perturbed_params, reports, sub_local_conditioning,
};
use inorm::backend::Backend;
use inorm::model::GradNorm;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: inorm::testing::rng_seed(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn fast_matches_reference(
        cond in 0usize..16,
        width in 2usize..24,
        extra in 0usize..24,
        rows in 1usize..12,
        seed in any::<u64>(),
        f64 in any::<bool>(),
    ) {
        // f32 at n = 2 is excluded: there LN's backward is exactly its ε-term,
        // J = ε/(2σ(v+ε))·[[1,−1],[−1,1]], a cancellation of 1 − v/(v+ε) ≈ 1e-5 relative to its inputs that no
        // tolerance relative to the (≈ 0) result covers. f64 still runs at n = 2.
        let conds = conditions(width, width + extra);
        let (name, spec, jitter) = &conds[cond % conds.len()];
        // f64 at n = 2 is excluded for the normalizing backwards (LN, GN full/decorrelate/scale) for the same
        // reason: the cancellation of 1 − v/(v+ε) ≈ 1e-5 turns EPS64 roundoff into ≈ 3e-10 relative
        // (measured: inorm-gn-full+eq2-exact, width 2, 4 rows, grad.hidden.1.bias 3.2e-10 > FAST_F64_REL).
        // n = 1 and 2 of these operators are proven against finite differences in tests/reference.
        let normalizing = spec.preset.layer_norm()
            || matches!(spec.preset.grad_norm(), GradNorm::Full | GradNorm::Decorrelate | GradNorm::Scale);
        // f32 at n = 3 is excluded too: three-value row statistics with B = 1 make the local loss and the
        // alignment surrogate cancel beyond the κ model of src/tolerance.rs (measured: inorm, n = 3, B = 1,
        // local_loss.1 2.1e-4 and a gradient alignment 7.4e-4 against ≈ 2e-4). f64 still runs there, and the
        // reference proves n = 1, 2, 3 against finite differences.
        // f64 at n = 3 of the normalizing backwards likewise (measured: inorm-gn-full+eq2-exact, n = 3, B = 2,
        // gradient alignment 4.8e-7 against FAST_F64_GRAM_COS = 1e-8).
        prop_assume!(width > 3 || (f64 && !normalizing));
        let be = Backend::Fast { f64 };
        let (got, want) = reports(spec, be, seed, rows, *jitter);
        let (k, e, ratio) = worst_ratio(&got, &want, spec, be);
        // Local gradients of W_IE also carry the cancellation of G through W_EI (see local_conditioning).
        let params = perturbed_params(spec, seed, *jitter);
        let extra_kappa = if f64 { 1.0 } else { local_conditioning(&want, spec, &params) };
        let (x, _) = batch(seed ^ 0x5eed, rows, spec.input);
        let sub_kappa = if f64 { 1.0 } else { sub_local_conditioning(&want, spec, &params, &x) };
        let ratio = if k.starts_with("local_grad") && k.ends_with("w_ie") {
            ratio / extra_kappa.max(sub_kappa)
        } else if k.starts_with("local_grad") && k.ends_with("w_ei") {
            ratio / sub_kappa
        } else {
            ratio
        };
        prop_assert!(ratio <= 1.0, "{} {name}: {k} = {e:.3e} (local κ {extra_kappa:.1})", be.name());
    }
}
