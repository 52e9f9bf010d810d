//! The f16-autocast mode (paper/model.md §14): the fast path's emulation against the independent oracle
//! (`ReferenceNet::autocast`, f64 with explicit f16 roundings) on every condition, and the mechanisms that
//! make the authors' runs collapse: an overflow in the forward, an overflow in the backward, subnormal
//! errors, and inf/NaN gradients applied by the no-op scaler.

use half::f16;
use inorm::backend::{make_trainer, Backend, Precision};
use inorm::fast::ops::{round16, sgd_update, sgd_update_autocast};
use inorm::fast::FastNet;
use inorm::model::{Batch, GradReport, HostTensor, Hyper, NetSpec, ParamSet, Preset, Trainer};
use inorm::reference::autocast::r16;
use inorm::reference::ReferenceNet;
use inorm::rng::{SeedRng, Stream};
use inorm::tolerance::{
    AUTOCAST_DRAWS, AUTOCAST_F32_REL, AUTOCAST_JITTER, AUTOCAST_MAX_OUTSIDE,
    AUTOCAST_MAX_OUTSIDE_ALL,
};

use crate::fast::common::{batch, conditions, perturbed_params};

/// Independent runs of the oracle on the same case with every parameter and input moved by a relative
/// `AUTOCAST_JITTER` (uniform, per entry): where an f16 rounding sits within f32 accumulation error of a
/// rounding boundary, some of these runs round it the other way, as the fast path's f32 sums may; where none
/// is that close, they all agree with the unperturbed oracle to f32 roundoff.
fn oracle_envelope(
    spec: &NetSpec,
    params: &ParamSet,
    x: &[f32],
    y: &[u8],
    seed: u64,
) -> Vec<GradReport> {
    (0..AUTOCAST_DRAWS)
        .map(|d| {
            let mut rng = SeedRng::new(seed, Stream::Test, 300 + d);
            let mut p = params.clone();
            for t in p.values_mut() {
                for v in t.data.iter_mut() {
                    *v *= 1.0 + AUTOCAST_JITTER * rng.uniform_in(-1.0, 1.0);
                }
            }
            let xj: Vec<f32> = x
                .iter()
                .map(|&v| {
                    (f64::from(v) * (1.0 + AUTOCAST_JITTER * rng.uniform_in(-1.0, 1.0))) as f32
                })
                .collect();
            let mut o = ReferenceNet::autocast(spec.clone(), &p).expect("oracle");
            o.grads(Batch { x: &xj, y })
                .expect("perturbed oracle grads")
        })
        .collect()
}

/// Elements of `got` (fast) outside the envelope of the oracle runs `want` (the unperturbed one first),
/// widened by `AUTOCAST_F32_REL` of the tensor's max-abs; and the first of them as text.
fn outside(name: &str, got: &HostTensor, want: &[&HostTensor]) -> (usize, Option<String>) {
    assert_eq!(got.shape, want[0].shape, "{name}: shapes");
    let scale = want[0].data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = AUTOCAST_F32_REL * scale;
    let (mut n, mut first) = (0, None);
    for (i, &a) in got.data.iter().enumerate() {
        let vals = want.iter().map(|w| w.data[i]);
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        let inside = (a.is_nan() && want.iter().any(|w| w.data[i].is_nan()))
            || (a.is_infinite() && want.iter().any(|w| w.data[i] == a))
            || (a >= lo - tol && a <= hi + tol);
        if !inside {
            n += 1;
            first.get_or_insert_with(|| {
                format!(
                    "{name}[{i}]: fast {a:e}, oracle {:e} (envelope {lo:e}..{hi:e})",
                    want[0].data[i]
                )
            });
        }
    }
    (n, first)
}

/// Every tensor of a gradient report, by name.
fn tensors(r: &GradReport) -> Vec<(String, &HostTensor)> {
    let mut out = vec![("logits".to_string(), &r.logits)];
    for (i, z) in r.z.iter().enumerate() {
        out.push((format!("z.{i}"), z));
    }
    for (i, y) in r.y.iter().enumerate() {
        out.push((format!("y.{i}"), y));
    }
    for (k, t) in &r.grads {
        out.push((format!("grad.{k}"), t));
    }
    for (k, t) in &r.local_grads {
        out.push((format!("local_grad.{k}"), t));
    }
    out
}

/// How many elements of the fast report lie outside the oracle's envelope, and the first of them.
fn outside_report(fast: &GradReport, oracles: &[GradReport]) -> (usize, usize, Option<String>) {
    let per: Vec<Vec<(String, &HostTensor)>> = oracles.iter().map(tensors).collect();
    let (mut bad, mut elems, mut first) = (0, 0, None);
    for (j, (k, a)) in tensors(fast).into_iter().enumerate() {
        let want: Vec<&HostTensor> = per.iter().map(|t| t[j].1).collect();
        let (n, f) = outside(&k, a, &want);
        bad += n;
        elems += a.data.len();
        if first.is_none() {
            first = f;
        }
    }
    (bad, elems, first)
}

fn autocast_reports(
    spec: &NetSpec,
    params: &ParamSet,
    x: &[f32],
    y: &[u8],
) -> (GradReport, GradReport) {
    let b = Batch { x, y };
    let mut fast =
        make_trainer(Backend::FastAutocast, spec.clone(), params).expect("fast autocast");
    let mut oracle = ReferenceNet::autocast(spec.clone(), params).expect("oracle");
    (
        fast.grads(b).expect("fast grads"),
        oracle.grads(b).expect("oracle grads"),
    )
}

/// Whether every value is an f16 value (what an autocast matmul returns).
fn all_f16(t: &HostTensor) -> bool {
    t.data.iter().all(|&v| v.is_nan() || r16(v) == v)
}

#[test]
fn fast_autocast_matches_the_oracle_on_every_condition() {
    let (mut total, mut outside_all, mut flipped) = ((0usize, 0usize), 0usize, 0usize);
    for (name, spec, jitter) in conditions(24, 40) {
        for seed in [3u64, 11] {
            let params = perturbed_params(&spec, seed, jitter);
            let (x, y) = batch(seed ^ 0xf16, 16, spec.input);
            let (fast, oracle) = autocast_reports(&spec, &params, &x, &y);
            assert_eq!(
                fast.grads.keys().collect::<Vec<_>>(),
                oracle.grads.keys().collect::<Vec<_>>()
            );
            assert_eq!(
                fast.local_grads.keys().collect::<Vec<_>>(),
                oracle.local_grads.keys().collect::<Vec<_>>()
            );
            // Everything an autocast matmul returns is f16, in both implementations (biases are summed
            // in f32 and are not).
            for (k, a) in tensors(&fast).into_iter().chain(tensors(&oracle)) {
                if k.starts_with("grad.") && !k.ends_with("bias") || k.starts_with("local_grad.") {
                    assert!(all_f16(a), "{name}: {k} holds values that are not f16");
                }
            }
            let mut runs = vec![oracle];
            let (bad0, elems, _) = outside_report(&fast, &runs);
            runs.extend(oracle_envelope(&spec, &params, &x, &y, seed));
            let (bad, _, first) = outside_report(&fast, &runs);
            assert!(
                bad as f64 <= AUTOCAST_MAX_OUTSIDE * elems as f64,
                "{name} seed {seed}: {bad} of {elems} elements outside the oracle's envelope; {first:?}"
            );
            eprintln!("CASE {name} {seed}: {bad0} beyond f32 roundoff of the oracle, {bad} outside its envelope, of {elems}");
            flipped += usize::from(bad0 > 0);
            total.0 += bad0;
            total.1 += elems;
            outside_all += bad;
        }
    }
    eprintln!(
        "cases with an f16 rounding flipped by f32 against f64: {flipped}; elements {} of {} beyond f32 \
         roundoff of the oracle, {outside_all} outside its envelope",
        total.0, total.1
    );
    assert!(
        outside_all as f64 <= AUTOCAST_MAX_OUTSIDE_ALL * total.1 as f64,
        "{outside_all} of {} elements outside the oracle's envelope",
        total.1
    );
}

#[test]
fn autocast_differs_from_f32_by_far_more_than_the_envelope_allows() {
    // The comparison above would pass vacuously if the mode rounded nothing: the f32 path must fail it.
    let mut spec = NetSpec::new(Preset::INorm, 24);
    spec.input = 40;
    let params = perturbed_params(&spec, 3, false);
    let (x, y) = batch(3 ^ 0xf16, 16, spec.input);
    let f32_grads = make_trainer(Backend::Fast { f64: false }, spec.clone(), &params)
        .unwrap()
        .grads(Batch { x: &x, y: &y })
        .unwrap();
    let (_, oracle) = autocast_reports(&spec, &params, &x, &y);
    let mut runs = vec![oracle];
    runs.extend(oracle_envelope(&spec, &params, &x, &y, 3));
    let (bad, elems, _) = outside_report(&f32_grads, &runs);
    assert!(
        bad as f64 > 5.0 * AUTOCAST_MAX_OUTSIDE * elems as f64,
        "f32 stays inside the autocast oracle's envelope: {bad} of {elems} outside"
    );
}

#[test]
fn one_f16_rounding_in_both_implementations() {
    // Round to nearest even, overflow from 65520, gradual underflow in steps of 2^-24, flush below 2^-25.
    let cases: [(f64, f64); 9] = [
        (1.0, 1.0),
        (1.0 + 2f64.powi(-11), 1.0),
        (1.0 + 3.0 * 2f64.powi(-11), 1.0 + 2f64.powi(-9)),
        (65504.0, 65504.0),
        (65519.0, 65504.0),
        (65520.0, f64::INFINITY),
        (1e-5, 168.0 * 2f64.powi(-24)),
        (2f64.powi(-25), 0.0),
        (-3.0 * 2f64.powi(-26), -(2f64.powi(-24))),
    ];
    let xs: Vec<f32> = cases.iter().map(|c| c.0 as f32).collect();
    let t = candle_core::Tensor::from_vec(xs, cases.len(), &candle_core::Device::Cpu).unwrap();
    let fast: Vec<f32> = round16(&t).unwrap().to_vec1().unwrap();
    for ((v, want), got) in cases.iter().zip(&fast) {
        assert_eq!(r16(*v), *want, "oracle r16({v:e})");
        assert_eq!(f64::from(*got), *want, "fast round16({v:e})");
    }
    assert!(r16(f64::NAN).is_nan());
    assert_eq!(f16::from_f64(65520.0), f16::INFINITY);
}

/// An I-Norm network of width 24 on 40 inputs, its parameters, and a batch of 16.
fn inorm_case(preset: Preset, seed: u64) -> (NetSpec, ParamSet, Vec<f32>, Vec<u8>) {
    let mut spec = NetSpec::new(preset, 24);
    spec.input = 40;
    let params = perturbed_params(&spec, seed, false);
    let (x, y) = batch(seed, 16, spec.input);
    (spec, params, x, y)
}

fn scale(params: &mut ParamSet, name: &str, by: f64) {
    for v in params.get_mut(name).unwrap().data.iter_mut() {
        *v *= by;
    }
}

#[test]
fn a_divisive_drive_above_256_overflows_the_forward_of_those_samples_only() {
    let (spec, mut params, mut x, y) =
        inorm_case(Preset::INormGn(inorm::model::GradNorm::Scale), 5);
    // |R| = |D_IE x| of a few hundred for the first 8 samples, 0 for the last 8 (blank images).
    scale(&mut params, "hidden.0.d_ie", 400.0);
    x[8 * 40..].iter_mut().for_each(|v| *v = 0.0);
    let hyper = Hyper::sgd(1e-3, 1e-3, 1e-4);
    let mut net = make_lockstep_net(&spec, &params);
    let r = net.train_step(Batch { x: &x, y: &y }, &hyper, false);
    let n = Trainer::numerics(&net)
        .expect("the autocast mode reports its numerics")
        .clone();
    assert!(
        n.max_drive[0] > 256.0 && n.max_drive[0].is_finite(),
        "{n:?}"
    );
    assert_eq!(n.zd_overflow, 8, "{n:?}");
    assert_eq!(n.first_nonfinite.as_deref(), Some("hidden.0.dn"), "{n:?}");
    // Dn = ∞ gives Z = 0 for those samples: the loss stays finite, the step goes on.
    assert!(r.is_ok(), "{r:?}");
    // In f32 nothing overflows: the same step is finite everywhere.
    let mut f32_net = make_trainer(Backend::Fast { f64: false }, spec.clone(), &params).unwrap();
    let g = f32_net.grads(Batch { x: &x, y: &y }).unwrap();
    assert!(g.z[0].data.iter().all(|v| v.is_finite()));
    assert!(
        g.z[0].data[..8 * 24].iter().any(|v| v.abs() > 1e-3),
        "f32 keeps those samples' activity"
    );
    let (fast, _) = autocast_reports(&spec, &params, &x, &y);
    assert!(
        fast.z[0].data[..8 * 24].iter().all(|&v| v == 0.0),
        "autocast: Z = 0 where Dn = ∞"
    );
}

fn make_lockstep_net(spec: &NetSpec, params: &ParamSet) -> FastNet {
    FastNet::from_lockstep(
        inorm::backend::make_lockstep(
            Backend::FastAutocast,
            spec.clone(),
            std::slice::from_ref(params),
        )
        .unwrap(),
    )
    .unwrap()
}

#[test]
fn a_tiny_denominator_overflows_the_local_loss_backward_while_the_forward_stays_finite() {
    let (spec, mut params, x, y) = inorm_case(Preset::INormGn(inorm::model::GradNorm::Scale), 7);
    // In the second hidden layer, Dn ≈ sqrt(ε_d) ≈ 3e-3 makes U a few hundred times A − S: the local
    // loss's variance term is ~1e5 and ∂L/∂Dn = −G∘U⊘Dn ~ 1e8, beyond f16's 65504. (In the first layer the
    // same would also blow up the second layer's input, and with it its forward.)
    scale(&mut params, "hidden.1.d_ie", 1e-4);
    let mut net = make_lockstep_net(&spec, &params);
    let hyper = Hyper::sgd(1e-3, 1e-3, 1e-4);
    let first = net.train_step(Batch { x: &x, y: &y }, &hyper, false);
    let n = Trainer::numerics(&net).unwrap().clone();
    assert_eq!(n.zd_overflow, 0, "{n:?}");
    assert!(n.grad_overflow > 0, "{n:?}");
    assert_eq!(
        n.first_nonfinite.as_deref(),
        Some("hidden.1.grad.dn"),
        "{n:?}"
    );
    assert!(
        first.is_ok(),
        "the forward and both losses are finite: {first:?}"
    );
    // The oracle sees the same overflow.
    let (_, oracle) = autocast_reports(&spec, &params, &x, &y);
    assert!(oracle.local_grads["hidden.1.d_ie"]
        .data
        .iter()
        .any(|v| !v.is_finite()));
    // f32 does not overflow there.
    let g = make_trainer(Backend::Fast { f64: false }, spec.clone(), &params)
        .unwrap()
        .grads(Batch { x: &x, y: &y })
        .unwrap();
    assert!(g.local_grads["hidden.1.d_ie"]
        .data
        .iter()
        .all(|v| v.is_finite()));
    // The no-op scaler applies the non-finite D_IE gradient: the next step's denominator is not finite and
    // the local loss is NaN, so the network is diverged from then on.
    let second = net.train_step(Batch { x: &x, y: &y }, &hyper, false);
    assert!(
        matches!(second, Err(inorm::Error::Diverged(_))),
        "{second:?}"
    );
    let p = net.params().unwrap();
    assert!(p["hidden.1.d_ie"].data.iter().any(|v| !v.is_finite()));
}

#[test]
fn local_loss_errors_near_the_target_are_subnormal_or_flushed_in_f16() {
    use inorm::reference::autocast::{inorm16_forward, local16_grads};
    use inorm::reference::inorm::INormParams;
    // At the paper's batch size and widths the I-Norm layer's G = ∂L/∂U is of order
    // 2λ/(Bn)·(|m| + 2|v − 1||U − m|) with 2λ/(Bn) = 2·0.01/(32·128) ≈ 4.9e-6, so in f16 ∂S = r(−G⊘Dn) is
    // mostly subnormal (below 2^-14 ≈ 6.1e-5, a multiple of 2^-24) or flushed to 0.
    let mut spec = NetSpec::new(Preset::INorm, 128);
    spec.input = 160;
    let params = perturbed_params(&spec, 9, false);
    let (x, _) = batch(9, 32, spec.input);
    let m = |n: &str| params[n].to_matrix();
    let xm = inorm::reference::Mat::from_row_slice(
        32,
        160,
        &x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
    );
    let (w_ee, b, w_ie, w_ei, d_ie, d_ei) = (
        m("hidden.0.w_ee"),
        m("hidden.0.bias").column(0).into_owned(),
        m("hidden.0.w_ie"),
        m("hidden.0.w_ei"),
        m("hidden.0.d_ie"),
        m("hidden.0.d_ei"),
    );
    let p = INormParams {
        w_ee: &w_ee,
        b: &b,
        w_ie: &w_ie,
        w_ei: &w_ei,
        d_ie: &d_ie,
        d_ei: &d_ei,
    };
    let c = inorm16_forward(&xm, p);
    let g = local16_grads(&xm, p, &c, spec.lambda);
    let tiny = 2f64.powi(-14);
    let sub: Vec<f64> =
        g.s.iter()
            .copied()
            .filter(|v| *v != 0.0 && v.abs() < tiny)
            .collect();
    let below = g.s.iter().filter(|v| v.abs() < tiny).count();
    assert!(
        below * 10 >= g.s.len() * 9,
        "{below} of {} ∂S below 2^-14",
        g.s.len()
    );
    assert!(!sub.is_empty(), "some ∂S survive as subnormals");
    assert!(
        sub.iter().all(|v| (v / 2f64.powi(-24)).fract() == 0.0),
        "multiples of 2^-24"
    );
}

#[test]
fn the_autocast_sgd_step_applies_inf_and_nan_as_the_no_op_scaler_does() {
    use candle_core::{Device, Tensor};
    let p = || Tensor::new(&[[[1.0f32, 1.0, 1.0, 1.0]]], &Device::Cpu).unwrap();
    let g = Tensor::new(
        &[[[f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1.0]]],
        &Device::Cpu,
    )
    .unwrap();
    let lr = [Some(0.5)];
    // Clamped (Dale): −∞ → 0, +∞ stays, NaN stays (PyTorch's clamp_(min=0)).
    let got: Vec<f32> = sgd_update_autocast(&p(), &g, &lr, &[0.0], true)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(got[0], 0.0);
    assert_eq!(got[1], f32::INFINITY);
    assert!(got[2].is_nan());
    assert_eq!(got[3], 0.5);
    // The f32 step's clamp maps NaN to 0 (Rust's max); it is unchanged.
    let old: Vec<f32> = sgd_update(&p(), &g, &lr, &[0.0], true)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(old[2], 0.0);
    // The oracle's clamp is PyTorch's too.
    assert!(inorm::reference::optim::clamp_min0(f64::NAN).is_nan());
    assert_eq!(inorm::reference::optim::clamp_min0(f64::NEG_INFINITY), 0.0);
}

#[test]
fn a_run_whose_gradients_overflow_ends_at_chance() {
    use inorm::data::synthetic;
    use inorm::train::{train_run, RunStatus, TrainConfig, CHANCE_ACC};
    let spec = NetSpec::new(Preset::INormGn(inorm::model::GradNorm::Scale), 24);
    let mut params = inorm::init::init_params(&spec, 7).unwrap();
    scale(&mut params, "hidden.0.d_ie", 1e-4);
    let (train, test) = (synthetic(256, 1), synthetic(64, 2));
    let mut cfg = TrainConfig::new(spec, Hyper::sgd(1e-3, 1e-3, 1e-4), 0.0);
    cfg.epochs = 2;
    cfg.train_size = Some(128);
    cfg.test_size = Some(64);
    cfg.initial_params = Some(params);
    cfg.backend = Backend::FastAutocast;
    let out = train_run(&cfg, &train, &test, &mut |_| {}).unwrap();
    assert_eq!(out.result.status, RunStatus::Diverged);
    assert_eq!(out.result.final_metrics.test_acc, CHANCE_ACC);
    assert_eq!(out.result.dtype, "f16-autocast");
    cfg.backend = Backend::Fast { f64: false };
    let f32_run = train_run(&cfg, &train, &test, &mut |_| {}).unwrap();
    assert_eq!(f32_run.result.status, RunStatus::Ok);
}

#[test]
fn a_precision_the_backend_cannot_honour_is_refused_naming_the_option() {
    for (b, p) in [
        ("reference", Precision::F32),
        ("fast-cuda", Precision::F16Autocast),
        ("fast-f64", Precision::F16Autocast),
        ("fast-f64", Precision::F32),
    ] {
        let e = Backend::with_precision(b, Some(p)).unwrap_err().to_string();
        assert!(e.contains("--precision") && e.contains(b), "{b} {p:?}: {e}");
    }
    assert_eq!(
        Backend::with_precision("fast", Some(Precision::F16Autocast)).unwrap(),
        Backend::FastAutocast
    );
    assert_eq!(
        Backend::with_precision("reference", Some(Precision::F16Autocast)).unwrap(),
        Backend::ReferenceAutocast
    );
    assert_eq!(
        Backend::with_precision("fast", Some(Precision::F64)).unwrap(),
        Backend::Fast { f64: true }
    );
    assert_eq!(
        Backend::with_precision("fast", None).unwrap(),
        Backend::Fast { f64: false }
    );
    assert!(Precision::parse("f16")
        .unwrap_err()
        .to_string()
        .contains("f16-autocast"));
}

#[test]
fn the_vectorized_rounding_is_half_s_on_every_f32_class() {
    use inorm::fast::ops::round16_f32;
    // Every exponent, with mantissas at and around the rounding boundaries, both signs, and the specials.
    let mut n = 0;
    for e in 0u32..=255 {
        for m in [
            0u32, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x7f_e000, 0x7f_f000, 0x7f_ffff,
        ] {
            for sign in [0u32, 1 << 31] {
                let x = f32::from_bits(sign | (e << 23) | m);
                let want = f16::from_f32(x).to_f32();
                let got = round16_f32(x);
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{x:e} ({:#x}): {got:e} vs half's {want:e}",
                    x.to_bits()
                );
                n += 1;
            }
        }
    }
    assert_eq!(n, 256 * 11 * 2);
}
