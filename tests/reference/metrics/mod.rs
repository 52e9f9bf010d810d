//! paper/model.md §8.2–8.3: the alignment and moment diagnostics of `reference::metrics` (which gate claims
//! C9, C10 and C13) against a second implementation written differently (`independent`), on hard cases
//! too: constant rows (variance 0, σ = √ε), rows with |mean| ≫ std (where `1[LN(z) > 0]` and `1[z > 0]`
//! differ most), widths n = 1 and 2, and every preset's layers inside a real forward/backward pass.

mod independent;

use ::inorm::model::{GradNorm, HiddenKind, NetSpec, ParamSet, Preset, LN_EPS};
use ::inorm::reference::dense::dense_forward;
use ::inorm::reference::ei::ei_forward;
use ::inorm::reference::inorm::{inorm_forward, INormParams};
use ::inorm::reference::inorm_sub::inorm_sub_forward;
use ::inorm::reference::layernorm::ln_forward;
use ::inorm::reference::metrics::moments;
use ::inorm::reference::{relu, Mat, ReferenceNet, Vector};
use ::inorm::testing::{activations, labels, luminance_inputs, net_spec, uniform_kind_activations};
use proptest::prelude::*;

use super::{prop, Worst};
use independent::{
    check_gradient_alignment, check_moments, check_output_alignment, ln_jacobian, max_excess,
    per_sample_sum, row_errors, rows_of,
};

/// A case for the diagnostics on their own: Z (hard rows: constant, |mean| ≫ std, generic; n = 1…6), an
/// input X (luminance-like or general), a positive denominator (per-sample scalar as with the frozen
/// D_EI, general B×n, or none), a variant, `eq2_exact`, ω.
#[allow(clippy::type_complexity)]
fn diag_case() -> impl Strategy<Value = (Mat, Mat, Option<Mat>, GradNorm, bool, Vec<f64>)> {
    (1usize..=5, 1usize..=6, 1usize..=5)
        .prop_flat_map(|(b, n, m)| {
            (
                prop_oneof![
                    uniform_kind_activations(b, n).prop_map(|(_, z)| z),
                    activations(b, n)
                ],
                prop_oneof![luminance_inputs(b, m), ::inorm::testing::matrix(b, m)],
                prop_oneof![
                    Just(None),
                    prop::collection::vec(0.05f64..3.0, b).prop_map(move |d| Some(Mat::from_fn(
                        b,
                        n,
                        |r, _| d[r]
                    ))),
                    prop::collection::vec(0.05f64..3.0, b * n)
                        .prop_map(move |d| Some(Mat::from_row_slice(b, n, &d))),
                ],
                prop::sample::select(GradNorm::ALL.to_vec()),
                any::<bool>(),
                prop::collection::vec(0.05f64..1.0, n).prop_map(|v| {
                    let s: f64 = v.iter().sum();
                    v.iter().map(|x| x / s).collect::<Vec<_>>()
                }),
            )
        })
        .prop_map(|(z, x, d, v, eq2, om)| (x, z, d, v, eq2 && v == GradNorm::Full, om))
}

/// 512 cases on hard rows: gradient alignment (both surrogate gradients entry by entry, then the cosine),
/// output alignment and moments of `reference::metrics` within forward-error bounds of the independent
/// implementation; the reference surrogate's error is also proven by FD of the surrogate loss.
#[test]
fn alignment_and_moments_match_an_independent_implementation() {
    prop(
        "alignment_and_moments_match_an_independent_implementation",
        512,
        diag_case(),
        |(x, z, dn, variant, eq2, om), w: &Worst| {
            check_gradient_alignment(&x, &z, dn.as_ref(), variant, &om, eq2, w, "cases")?;
            check_output_alignment(&z, w, "cases")?;
            check_moments(&z, moments(&z), w, "cases")?;
            Ok(())
        },
    );
}

/// 64 cases, every preset (and the `NetSpec` options `net_spec` draws), perturbed init: the `LayerDiag` of
/// `forward_backward(.., diag = true)` and the moments of `eval_forward`, per hidden layer, against the
/// independent implementation run on that layer's X, Z and d. X and d are rebuilt with the crate's layer
/// forwards (proven in their own tests), and the rebuild must reproduce the pass's Z bit for bit. Catches
/// wiring slips (the wrong layer's input or ω, the LN output instead of Z, a dropped `⊘ d`).
#[test]
fn network_diagnostics_match_an_independent_implementation() {
    let strategy = prop::sample::select(Preset::ALL.to_vec())
        .prop_flat_map(net_spec)
        .prop_flat_map(|s| {
            (
                Just(s.clone()),
                (1usize..=6).prop_flat_map(move |b| (luminance_inputs(b, s.input), labels(b))),
                any::<u64>(),
            )
        });
    prop(
        "network_diagnostics_match_an_independent_implementation",
        64,
        strategy,
        |(spec, (x, y), seed), w: &Worst| {
            let params = perturbed_params(&spec, seed);
            let net = ReferenceNet::new(spec.clone(), &params).unwrap();
            let pass = net.forward_backward(&x, &y, true).unwrap();
            prop_assert_eq!(pass.diag.len(), 2);
            let (_, _, eval_moments) = net.eval_forward(&x, &y);
            let mut h = x.clone();
            // `i` names the layer in parameter names and indexes three per-layer lists.
            #[allow(clippy::needless_range_loop)]
            for i in 0..2 {
                let (zi, dn) = layer_forward(&spec, &params, i, &h);
                prop_assert_eq!(&zi, &pass.z[i], "rebuilt Z of layer {} differs", i);
                let variant = layer_variant(&spec);
                let om: Vec<f64> = params
                    .get(&format!("hidden.{i}.lateral"))
                    .map_or_else(|| vec![0.0; spec.width], |t| t.data.clone());
                let what = "network";
                let (cos, bound) = check_gradient_alignment(
                    &h,
                    &zi,
                    dn.as_ref(),
                    variant,
                    &om,
                    spec.eq2_exact,
                    w,
                    what,
                )?;
                let d = &pass.diag[i];
                let e = (d.gradient_alignment - cos).abs();
                w.rec("network: LayerDiag gradient alignment (/bound)", e / bound);
                prop_assert!(
                    e <= bound,
                    "{} layer {i}: LayerDiag gradient alignment {} vs independent {cos} (bound {bound:.2e})",
                    spec.preset,
                    d.gradient_alignment
                );
                let (cos, bound) = check_output_alignment(&zi, w, what)?;
                prop_assert!((d.output_alignment - cos).abs() <= bound);
                check_moments(&zi, (d.mean, d.var), w, what)?;
                check_moments(&zi, eval_moments[i], w, "network eval")?;
                h = if spec.preset.layer_norm() {
                    relu(&ln_forward(&zi, LN_EPS).y)
                } else {
                    relu(&zi)
                };
            }
            Ok(())
        },
    );
}

/// The GradNorm variant a hidden layer applies (paper/model.md §3 table; E/EI layers: identity).
fn layer_variant(spec: &NetSpec) -> GradNorm {
    match spec.preset.hidden_kind() {
        HiddenKind::INorm => spec.preset.grad_norm(),
        HiddenKind::INormSub => spec.sub_grad_norm,
        _ => GradNorm::Off,
    }
}

/// Layer `i`'s pre-ReLU output Z (paper/model.md §8.2: raw pre-activation for E/EI, before any LN) and its
/// denominator (I-Norm), by the crate's layer forwards.
fn layer_forward(spec: &NetSpec, p: &ParamSet, i: usize, x: &Mat) -> (Mat, Option<Mat>) {
    let g = |s: &str| p[&format!("hidden.{i}.{s}")].to_matrix();
    let b = Vector::from_column_slice(&p[&format!("hidden.{i}.bias")].data);
    match spec.preset.hidden_kind() {
        HiddenKind::E => (dense_forward(x, &g("w_ee"), &b), None),
        HiddenKind::Ei => (ei_forward(x, &g("w_ee"), &g("w_ie"), &g("w_ei"), &b), None),
        HiddenKind::INormSub => (
            inorm_sub_forward(x, &g("w_ee"), &b, &g("w_ie"), &g("w_ei")).z,
            None,
        ),
        HiddenKind::INorm => {
            let (w_ee, w_ie, w_ei, d_ie, d_ei) =
                (g("w_ee"), g("w_ie"), g("w_ei"), g("d_ie"), g("d_ei"));
            let c = inorm_forward(
                x,
                INormParams {
                    w_ee: &w_ee,
                    b: &b,
                    w_ie: &w_ie,
                    w_ei: &w_ei,
                    d_ie: &d_ie,
                    d_ei: &d_ei,
                },
            );
            (c.z, Some(c.dn))
        }
    }
}

/// Init parameters of `spec` moved off the init identities (which make Z exactly LN-normalized): weights ×
/// U[0.7, 1.3) (signs kept), biases U[−0.3, 0.3).
fn perturbed_params(spec: &NetSpec, seed: u64) -> ParamSet {
    let mut p = ::inorm::init::init_params(spec, seed).unwrap();
    let mut rng = ::inorm::rng::SeedRng::new(seed, ::inorm::rng::Stream::Test, 83);
    for (name, t) in p.iter_mut() {
        if name.ends_with("lateral") || name.ends_with("d_ei") {
            continue;
        }
        for v in t.data.iter_mut() {
            *v = if name.ends_with("bias") {
                rng.uniform_in(-0.3, 0.3)
            } else {
                *v * rng.uniform_in(0.7, 1.3)
            };
        }
    }
    p
}

/// The "own ReLU mask for both surrogates" slip (`M_ref = 1[Z > 0]` instead of `1[LN(Z) > 0]`) is not a
/// rounding-level change: on a luminance-shifted row the two reference gradients differ by O(1) relative
/// to the bound the tests above allow.
#[test]
fn own_mask_slip_is_far_outside_the_bounds() {
    let z = Mat::from_row_slice(2, 4, &[50.0, 50.001, 49.999, 50.0005, 0.3, -1.2, 0.8, 0.1]);
    let x = Mat::from_row_slice(2, 3, &[0.2, 0.9, 0.4, 1.0, 0.0, 0.5]);
    let w = Worst::default();
    let re = row_errors(&rows_of(&z), GradNorm::Full, false, &[0.25; 4], &w).unwrap();
    let d = vec![vec![1.0; 4]; 2];
    let (g_ref, t_ref) = per_sample_sum(&re.e_ref, &re.tol_ref, &rows_of(&x), &d);
    // The slip, written out: the LN backward of the own mask.
    let mut slip = vec![];
    for zb in rows_of(&z) {
        let own: Vec<f64> = zb.iter().map(|&v| f64::from(u8::from(v > 0.0))).collect();
        slip.push(ln_jacobian(&zb).apply(&own).0);
    }
    let (g_slip, _) = per_sample_sum(&slip, &re.tol_ref, &rows_of(&x), &d);
    let g_slip = Mat::from_fn(4, 3, |j, c| g_slip[j][c]);
    let r = max_excess(&g_slip, &g_ref, &t_ref);
    assert!(r > 1e6, "the slip is only {r:.3e} × the bound");
}
