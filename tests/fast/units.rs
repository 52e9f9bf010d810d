//! Unit checks of the fast path: the Gram-matrix alignment against the direct formula, divergence errors,
//! backend names, evaluation against the reference.

use candle_core::{DType, Device, Tensor};
use inorm::backend::{make_trainer, Backend};
use inorm::error::Error;
use inorm::fast::ops::{cosine, gram_cosine, sgd_update};
use inorm::model::{Batch, Hyper, NetSpec, Preset};
use inorm::rng::{SeedRng, Stream};
use inorm::tolerance::{EPS32, FAST_F32_REL, FAST_F64_REL};

use super::common::{batch, conditions, perturbed_params};

fn random(rng: &mut SeedRng, r: usize, c: usize, dt: DType) -> Tensor {
    let v: Vec<f64> = (0..r * c).map(|_| rng.normal()).collect();
    Tensor::from_slice(&v, (r, c), &Device::Cpu)
        .unwrap()
        .to_dtype(dt)
        .unwrap()
}

#[test]
fn gram_cosine_equals_direct_cosine() {
    let mut rng = SeedRng::new(4, Stream::Test, 1);
    for (dt, tol) in [(DType::F64, FAST_F64_REL), (DType::F32, FAST_F32_REL)] {
        for (b, n, m) in [(1, 3, 5), (8, 20, 50), (32, 100, 784)] {
            let p = random(&mut rng, b, n, dt);
            // q correlated with p so the cosine is far from 0 and from 1.
            let q = p.add(&random(&mut rng, b, n, dt)).unwrap();
            let x = random(&mut rng, b, m, dt);
            let gram = x.matmul(&x.t().unwrap()).unwrap();
            let fast = gram_cosine(&p, &q, &gram).unwrap();
            let direct = cosine(
                &p.t().unwrap().matmul(&x).unwrap(),
                &q.t().unwrap().matmul(&x).unwrap(),
            )
            .unwrap();
            assert!(
                (fast - direct).abs() <= tol,
                "{dt:?} {b}×{n}×{m}: {fast} vs {direct}"
            );
        }
    }
}

#[test]
fn nan_loss_is_diverged() {
    let (_, spec, _) = conditions(16, 40).remove(0);
    let params = perturbed_params(&spec, 1, false);
    let mut t = make_trainer(Backend::Fast { f64: false }, spec.clone(), &params).unwrap();
    let (x, y) = batch(1, 4, spec.input);
    // A learning rate of 1e30 overflows f32 within a few steps; the step must then fail with Diverged.
    let mut last = None;
    for _ in 0..5 {
        let r = t.train_step(Batch { x: &x, y: &y }, &Hyper::sgd(1e30, 1e30, 1e30), false);
        if r.is_err() {
            last = Some(r);
            break;
        }
    }
    assert!(matches!(last, Some(Err(Error::Diverged(_)))), "{last:?}");
}

#[test]
fn backend_names_round_trip_and_bad_inputs_are_errors() {
    for name in Backend::NAMES {
        assert_eq!(Backend::parse(name).unwrap().name(), *name);
    }
    assert!(Backend::parse("fastest").is_err());
    let spec = NetSpec::new(Preset::Ei, 8);
    let params = inorm::init::init_params(&spec, 0).unwrap();
    assert!(inorm::fast::FastNet::new(spec.clone(), &params, DType::F16, Device::Cpu).is_err());
    for (f64, dtype) in [(true, "f64"), (false, "f32")] {
        let t = make_trainer(Backend::Fast { f64 }, spec.clone(), &params).unwrap();
        assert_eq!(t.backend().dtype, dtype);
    }
    let mut t = make_trainer(Backend::Fast { f64: false }, spec, &params).unwrap();
    let r = t.grads(Batch {
        x: &[0.0; 3],
        y: &[1],
    });
    assert!(matches!(r, Err(Error::ShapeMismatch { .. })), "{r:?}");
    if !cfg!(feature = "cuda") {
        let p = inorm::init::init_params(&NetSpec::new(Preset::Ei, 8), 0).unwrap();
        assert!(make_trainer(
            Backend::FastCuda { f64: false },
            NetSpec::new(Preset::Ei, 8),
            &p
        )
        .is_err());
    }
}

#[test]
fn evaluation_matches_reference_every_condition() {
    for (name, spec, j) in conditions(24, 60) {
        let params = perturbed_params(&spec, 9, j);
        let (x, y) = batch(9, 20, spec.input);
        let b = Batch { x: &x, y: &y };
        let want = make_trainer(Backend::Reference, spec.clone(), &params)
            .unwrap()
            .evaluate(b)
            .unwrap();
        for (be, tol) in [
            (Backend::Fast { f64: true }, FAST_F64_REL),
            (Backend::Fast { f64: false }, FAST_F32_REL),
        ] {
            let got = make_trainer(be, spec.clone(), &params)
                .unwrap()
                .evaluate(b)
                .unwrap();
            assert_eq!(got.correct, want.correct, "{name}");
            assert!(
                (got.loss_sum - want.loss_sum).abs() <= tol * want.loss_sum.abs(),
                "{name}"
            );
            for (g, w) in got.moments.iter().zip(&want.moments) {
                assert!((g.0 - w.0).abs() <= tol * w.0.abs().max(1.0), "{name} mean");
                assert!((g.1 - w.1).abs() <= tol * w.1.abs().max(1.0), "{name} var");
            }
        }
    }
}

/// One update `max(p − lr·g, 0)` of values below 8 in magnitude, computed in f32: the product and the
/// difference each round once (2 × EPS32 × 8, doubled for the f32 inputs' own rounding).
const SGD_ONE_STEP_ABS: f64 = 4.0 * EPS32 * 8.0;

#[test]
fn sgd_update_works_on_views_and_rejects_mismatched_steps() {
    // K = 3 networks of 4 parameters, held as rows 1..4 of a 5×4 tensor (a contiguous view that starts at
    // element 4), the step a view of rows 1..4 of another tensor; network 1 has diverged (lr None). The
    // fused in-place update must touch exactly the view's rows, each with its own learning rate, and clamp.
    let lr = [Some(0.5), None, Some(2.0)];
    let host = |t: &Tensor| -> Vec<f64> {
        let t = t.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
        t.to_vec1::<f64>().unwrap()
    };
    for dt in [DType::F64, DType::F32] {
        let pv: Vec<f64> = (0..20).map(|i| (i as f64 - 7.0) / 4.0).collect();
        let gv: Vec<f64> = (0..20).map(|i| ((i * 5) % 9) as f64 / 8.0 - 0.3).collect();
        let base = Tensor::from_slice(&pv, (5, 4), &Device::Cpu)
            .unwrap()
            .to_dtype(dt)
            .unwrap();
        let gbase = Tensor::from_slice(&gv, (5, 4), &Device::Cpu)
            .unwrap()
            .to_dtype(dt)
            .unwrap();
        let p = base.narrow(0, 1, 3).unwrap();
        let g = gbase.narrow(0, 1, 3).unwrap();
        let out = sgd_update(&p, &g, &lr, &[0.0; 3], true).unwrap();
        let got = host(&out);
        let all = host(&base);
        for k in 0..3 {
            for j in 0..4 {
                let i = 4 * (k + 1) + j;
                let want = match lr[k] {
                    Some(l) => (pv[i] - l * gv[i]).max(0.0),
                    None => pv[i],
                };
                assert!(
                    (got[4 * k + j] - want).abs() <= SGD_ONE_STEP_ABS,
                    "{dt:?} network {k} [{j}]"
                );
                assert_eq!(
                    all[i],
                    got[4 * k + j],
                    "{dt:?}: the view's storage is updated in place"
                );
            }
        }
        for i in (0..4).chain(16..20) {
            assert_eq!(
                all[i], pv[i],
                "{dt:?}: element {i} outside the view changed"
            );
        }
        let p = Tensor::zeros((2, 3), dt, &Device::Cpu).unwrap();
        let g = Tensor::zeros((2, 2), dt, &Device::Cpu).unwrap();
        let e = sgd_update(&p, &g, &[Some(0.1); 2], &[0.0; 2], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("6 vs 4 elements"), "{dt:?}: {e}");
        // Equal counts that K networks cannot share, and no network at all: errors, not a partial update.
        let p = Tensor::zeros(5, dt, &Device::Cpu).unwrap();
        let e = sgd_update(
            &p,
            &p.zeros_like().unwrap(),
            &[Some(0.1); 2],
            &[0.0; 2],
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("5 vs 5 elements for 2 networks"), "{dt:?}: {e}");
        let e = sgd_update(&p, &p.zeros_like().unwrap(), &[], &[], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("for 0 networks"), "{dt:?}: {e}");
    }
}
