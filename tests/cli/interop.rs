//! `inorm init` and `inorm grads` end to end: the model files they write and read agree with the library
//! on every backend, also for a safetensors file laid out by hand (the PyTorch side of the interop).

use super::{handmade, ok, s};
use crate::util::tmpdir;
use inorm::backend::{make_trainer, Backend};
use inorm::check::compare_with_floor;
use inorm::data::synthetic;
use inorm::init::init_params;
use inorm::interop::{grad_tensors, load_tensors, save_batch, save_model, FileDtype};
use inorm::model::{Batch, NetSpec, ParamSet, Preset};
use inorm::tolerance::{fast_f32_rel, FAST_F64_REL};

/// Every tensor of `a` agrees with `b` within `tol` relative to b's max-abs (scalars: max(|b|, 1)).
fn agree(a: &ParamSet, b: &ParamSet, tol: f64, what: &str) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}"
    );
    for (k, tb) in b {
        let ta = &a[k];
        assert_eq!(ta.shape, tb.shape, "{what} {k}");
        // Tensors relative to their max-abs, scalars to max(|value|, 1), as the fast-path case table does.
        let floor = if tb.shape.is_empty() { 1.0 } else { 1e-30 };
        let err = compare_with_floor(&ta.data, &tb.data, floor)
            .unwrap()
            .max_rel;
        assert!(err <= tol, "{what} {k}: {err:e} > {tol:e}");
    }
}

#[test]
fn cli_init_then_grads_agree_across_backends() {
    let t = tmpdir("cli", "grads");
    let b = t.join("batch.safetensors");
    // A luminance-shifted random batch, and parameters moved off the exact init identities (which make
    // some gradients pure roundoff), both from the fast-path test helpers.
    let (x, y) = crate::fast::common::batch(17, 16, 784);
    save_batch(&b, &x, &y, 784).unwrap();
    for net in ["ei-ln", "inorm-gn-full", "inorm"] {
        let preset = Preset::parse(net).unwrap();
        let spec = NetSpec::new(preset, 64);
        // `inorm init` writes the documented names; the test then perturbs those parameters.
        let m0 = t.join(format!("{net}-init.safetensors"));
        ok(&[
            "init",
            "--net",
            net,
            "--width",
            "64",
            "--seed",
            "5",
            "--dtype",
            "f64",
            "--out",
            s(&m0),
        ]);
        assert_eq!(
            inorm::interop::load_model(&m0, &spec).unwrap(),
            init_params(&spec, 5).unwrap()
        );
        let params = crate::fast::common::perturbed_params(&spec, 5, false);
        let m = t.join(format!("{net}.safetensors"));
        save_model(&m, &spec, &params, FileDtype::F64).unwrap();
        let mut lib = make_trainer(Backend::Reference, spec.clone(), &params).unwrap();
        let want = lib.grads(Batch { x: &x, y: &y }).unwrap();
        let mut outs = Vec::new();
        for be in ["reference", "fast-f64", "fast"] {
            let g = t.join(format!("{net}-{be}.safetensors"));
            ok(&[
                "grads",
                "--model",
                s(&m),
                "--batch",
                s(&b),
                "--net",
                net,
                "--backend",
                be,
                "--out",
                s(&g),
            ]);
            outs.push(load_tensors(&g).unwrap());
        }
        let r = &outs[0];
        assert_eq!(r, &grad_tensors(&want), "{net}: CLI reference vs library");
        for name in [
            "loss",
            "logits",
            "hidden.0.z",
            "hidden.1.z",
            "hidden.0.y",
            "hidden.1.y",
            "grad.hidden.0.w_ee",
            "grad.out.w_ee",
        ] {
            assert!(r.contains_key(name), "{net}: no {name}");
        }
        if net.starts_with("inorm") {
            assert!(r.contains_key("local_grad.hidden.0.d_ie"), "{net}");
        }
        agree(&outs[1], r, FAST_F64_REL, &format!("{net} fast-f64"));
        let tol = fast_f32_rel(crate::fast::common::conditioning(&want, &spec));
        agree(&outs[2], r, tol, &format!("{net} fast"));
        // `--precision f16-autocast` on the default backend is the oracle of the f16-autocast mode
        // (paper/model.md §14): the library's, tensor for tensor.
        let g = t.join(format!("{net}-autocast.safetensors"));
        ok(&[
            "grads",
            "--model",
            s(&m),
            "--batch",
            s(&b),
            "--net",
            net,
            "--precision",
            "f16-autocast",
            "--out",
            s(&g),
        ]);
        let mut oracle = make_trainer(Backend::ReferenceAutocast, spec.clone(), &params).unwrap();
        let want16 = grad_tensors(&oracle.grads(Batch { x: &x, y: &y }).unwrap());
        assert_eq!(
            load_tensors(&g).unwrap(),
            want16,
            "{net}: CLI f16-autocast oracle vs library"
        );
        assert_ne!(
            want16,
            grad_tensors(&want),
            "{net}: the f16 oracle equals the f64 reference"
        );
    }
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn cli_grads_of_a_handmade_model_file_match_the_library() {
    let t = tmpdir("cli", "handmade");
    let ds = synthetic(8, 9);
    let x: Vec<f32> = ds.images.iter().map(|&p| p as f32 / 255.0).collect();
    let b = t.join("batch.safetensors");
    save_batch(&b, &x, &ds.labels, 784).unwrap();
    for preset in [Preset::Ei, Preset::INormGn(inorm::model::GradNorm::Lateral)] {
        let spec = NetSpec::new(preset, 24);
        let params = init_params(&spec, 2).unwrap();
        let m = t.join(format!("{preset}.safetensors"));
        std::fs::write(&m, handmade(&params)).unwrap();
        let g = t.join(format!("{preset}-grads.safetensors"));
        ok(&[
            "grads",
            "--model",
            s(&m),
            "--batch",
            s(&b),
            "--net",
            &preset.name(),
            "--out",
            s(&g),
        ]);
        let file = load_tensors(&g).unwrap();
        let mut tr = make_trainer(Backend::Reference, spec, &params).unwrap();
        let want = inorm::interop::grad_tensors(
            &tr.grads(Batch {
                x: &x,
                y: &ds.labels,
            })
            .unwrap(),
        );
        assert_eq!(file, want, "{preset}");
    }
    let _ = std::fs::remove_dir_all(&t);
}
