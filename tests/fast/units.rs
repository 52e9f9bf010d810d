//! Unit checks of the fast path: the Gram-matrix alignment against the direct formula, divergence errors,
//! backend names, evaluation against the reference.

use candle_core::{DType, Device, Tensor};
use inorm::backend::{make_trainer, Backend};
use inorm::error::Error;
use inorm::fast::ops::{cosine, gram_cosine};
use inorm::model::{Batch, Hyper, NetSpec, Preset};
use inorm::rng::{SeedRng, Stream};
use inorm::tolerance::{FAST_F32_REL, FAST_F64_REL};

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
