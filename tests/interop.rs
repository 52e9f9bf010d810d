//! Safetensors exchange: models, batches and gradient dumps round-trip, and files written by another tool
//! (here: bytes laid out by hand from the format's definition) give the same gradients as the library API.

use std::collections::BTreeMap;

use crate::util::tmpdir;
use inorm::error::Error;
use inorm::init::init_params;
use inorm::interop::{
    grad_tensors, load_batch, load_model, load_tensors, save_batch, save_model, FileDtype,
};
use inorm::model::{Batch, NetSpec, Preset, Trainer};
use inorm::reference::ReferenceNet;
use inorm::rng::{SeedRng, Stream};

fn small_spec(preset: Preset) -> NetSpec {
    let mut s = NetSpec::new(preset, 12);
    s.input = 20;
    s
}

fn batch(dim: usize, b: usize, seed: u64) -> (Vec<f32>, Vec<u8>) {
    let mut rng = SeedRng::new(seed, Stream::Test, 7);
    let x = (0..b * dim).map(|_| rng.uniform() as f32).collect();
    let y = (0..b).map(|_| rng.below(10) as u8).collect();
    (x, y)
}

/// Lays out a safetensors file byte by byte from the format definition (8-byte little-endian header
/// length, JSON header with dtype/shape/data_offsets, raw little-endian data), independent of the
/// `safetensors` crate — a stand-in for "a file written by any tool".
pub(crate) fn handmade_safetensors(tensors: &[(&str, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (i, (name, dtype, shape, bytes)) in tensors.iter().enumerate() {
        let start = data.len();
        data.extend_from_slice(bytes);
        if i > 0 {
            header.push(',');
        }
        let shape: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
        header.push_str(&format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{start},{}]}}",
            shape.join(","),
            data.len()
        ));
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

#[test]
fn model_round_trip_f64_is_exact_and_f32_is_rounded_once() {
    let dir = tmpdir("interop", "roundtrip");
    for preset in Preset::ALL {
        let spec = small_spec(preset);
        let p = init_params(&spec, 5).unwrap();
        let f64_path = dir.join(format!("{preset}-64.safetensors"));
        save_model(&f64_path, &spec, &p, FileDtype::F64).unwrap();
        assert_eq!(
            load_model(&f64_path, &spec).unwrap(),
            p,
            "{preset}: f64 round trip changed values"
        );
        let f32_path = dir.join(format!("{preset}-32.safetensors"));
        save_model(&f32_path, &spec, &p, FileDtype::F32).unwrap();
        let back = load_model(&f32_path, &spec).unwrap();
        for (name, t) in &p {
            let expect: Vec<f64> = t.data.iter().map(|&v| v as f32 as f64).collect();
            assert_eq!(
                back[name].data, expect,
                "{preset}: {name} is not the f32 rounding of the original"
            );
            assert_eq!(back[name].shape, t.shape);
        }
    }
}

#[test]
fn model_errors_name_tensor_shapes_and_preset() {
    let dir = tmpdir("interop", "errors");
    let spec = small_spec(Preset::INormGn(inorm::model::GradNorm::Lateral));
    let p = init_params(&spec, 1).unwrap();
    let path = dir.join("m.safetensors");

    let mut missing = p.clone();
    missing.remove("hidden.1.d_ie");
    inorm::interop::save_tensors(&path, &missing, FileDtype::F32, None).unwrap();
    let msg = load_model(&path, &spec).unwrap_err().to_string();
    assert!(
        msg.contains("hidden.1.d_ie") && msg.contains("missing") && msg.contains("[12, 12]"),
        "{msg}"
    );
    assert!(
        msg.contains("inorm-gn-lateral") && msg.contains("m.safetensors"),
        "{msg}"
    );

    let mut wrong = p.clone();
    wrong.get_mut("hidden.0.w_ee").unwrap().shape = vec![20, 12];
    inorm::interop::save_tensors(&path, &wrong, FileDtype::F32, None).unwrap();
    let msg = load_model(&path, &spec).unwrap_err().to_string();
    assert!(
        msg.contains("hidden.0.w_ee") && msg.contains("[12, 20]") && msg.contains("[20, 12]"),
        "{msg}"
    );

    let mut extra = p.clone();
    extra.insert("hidden.2.w_ee".into(), p["hidden.1.w_ee"].clone());
    inorm::interop::save_tensors(&path, &extra, FileDtype::F32, None).unwrap();
    let msg = load_model(&path, &spec).unwrap_err().to_string();
    assert!(
        msg.contains("hidden.2.w_ee") && msg.contains("does not belong"),
        "{msg}"
    );

    // An integer tensor where a float is required.
    let bytes = handmade_safetensors(&[("out.bias", "I32", vec![10], vec![0u8; 40])]);
    std::fs::write(&path, bytes).unwrap();
    let err = load_model(&path, &spec).unwrap_err();
    assert!(matches!(err, Error::BadTensor { .. }), "{err:?}");
    assert!(
        err.to_string().contains("out.bias") && err.to_string().contains("I32"),
        "{err}"
    );

    std::fs::write(&path, b"not a safetensors file").unwrap();
    let msg = load_model(&path, &spec).unwrap_err().to_string();
    assert!(msg.contains("not a safetensors file"), "{msg}");
}

#[test]
fn handmade_file_gives_the_same_gradients_as_the_library_api() {
    let dir = tmpdir("interop", "handmade");
    for preset in [Preset::EiLn, Preset::INormGn(inorm::model::GradNorm::Full)] {
        let spec = small_spec(preset);
        let p = init_params(&spec, 11).unwrap();
        let tensors: Vec<(&str, &str, Vec<usize>, Vec<u8>)> = p
            .iter()
            .map(|(k, t)| {
                (
                    k.as_str(),
                    "F64",
                    t.shape.clone(),
                    t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                )
            })
            .collect();
        let path = dir.join(format!("{preset}.safetensors"));
        std::fs::write(&path, handmade_safetensors(&tensors)).unwrap();

        let (x, y) = batch(spec.input, 6, 3);
        let bpath = dir.join("batch.safetensors");
        let xb: Vec<u8> = x.iter().flat_map(|v| (*v as f64).to_le_bytes()).collect();
        let yb: Vec<u8> = y.iter().flat_map(|v| (*v as i32).to_le_bytes()).collect();
        std::fs::write(
            &bpath,
            handmade_safetensors(&[
                ("x", "F64", vec![6, spec.input], xb),
                ("y", "I32", vec![6], yb),
            ]),
        )
        .unwrap();

        let loaded = load_model(&path, &spec).unwrap();
        let bf = load_batch(&bpath, spec.input).unwrap();
        assert_eq!(bf.x, x);
        assert_eq!(bf.y, y);
        let from_file = ReferenceNet::new(spec.clone(), &loaded)
            .unwrap()
            .grads(Batch { x: &bf.x, y: &bf.y })
            .unwrap();
        let from_api = ReferenceNet::new(spec.clone(), &p)
            .unwrap()
            .grads(Batch { x: &x, y: &y })
            .unwrap();
        assert_eq!(
            grad_tensors(&from_file),
            grad_tensors(&from_api),
            "{preset}"
        );
    }
}

#[test]
fn grad_dump_has_the_documented_names_and_round_trips() {
    let dir = tmpdir("interop", "dump");
    let spec = small_spec(Preset::INorm);
    let mut net = ReferenceNet::init(spec.clone(), 2).unwrap();
    let (x, y) = batch(spec.input, 4, 9);
    let rep = net.grads(Batch { x: &x, y: &y }).unwrap();
    let dump = grad_tensors(&rep);
    let names: Vec<&str> = dump.keys().map(|s| s.as_str()).collect();
    for want in [
        "loss",
        "logits",
        "hidden.0.z",
        "hidden.1.z",
        "hidden.0.y",
        "hidden.1.y",
        "grad.hidden.0.w_ee",
        "grad.hidden.0.bias",
        "grad.out.w_ie",
        "local_grad.hidden.0.w_ie",
        "local_grad.hidden.1.d_ie",
    ] {
        assert!(names.contains(&want), "missing {want} in {names:?}");
    }
    // The detach map: no task gradient reaches I-Norm inhibitory parameters.
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("grad.hidden.") && (n.ends_with("w_ie") || n.ends_with("d_ie"))),
        "{names:?}"
    );
    assert_eq!(dump["loss"].shape, Vec::<usize>::new());
    assert_eq!(dump["logits"].shape, vec![4, 10]);
    let path = dir.join("g.safetensors");
    inorm::interop::save_tensors(&path, &dump, FileDtype::F64, None).unwrap();
    let back: BTreeMap<_, _> = load_tensors(&path).unwrap();
    assert_eq!(back, dump);
}

/// The grads contract (docs/interop.md): `hidden.{i}.z` is the pre-activation, before LayerNorm in LN
/// networks; `hidden.{i}.y` is the ReLU input: `LN(z)` (recomputed here row by row) in LN networks, `z`
/// itself otherwise (I-Norm: after the division). The network consumes `ReLU(y)`: the logits recomputed
/// here from `ReLU(hidden.1.y)` and the `out.*` parameters equal the reported ones, for every preset.
#[test]
fn grad_dump_z_is_the_pre_activation_and_y_the_relu_input() {
    use inorm::model::LN_EPS;
    use inorm::tolerance::ANALYTIC_REL;
    let (bsz, n) = (5, 12);
    for preset in Preset::ALL {
        let spec = small_spec(preset);
        let params = init_params(&spec, 3).unwrap();
        let mut net = ReferenceNet::new(spec.clone(), &params).unwrap();
        let (x, y) = batch(spec.input, bsz, 4);
        let dump = grad_tensors(&net.grads(Batch { x: &x, y: &y }).unwrap());
        for i in 0..2 {
            let z = &dump[&format!("hidden.{i}.z")];
            let relu_in = &dump[&format!("hidden.{i}.y")];
            assert_eq!((&z.shape, &relu_in.shape), (&vec![bsz, n], &vec![bsz, n]));
            if !preset.layer_norm() {
                assert_eq!(
                    z, relu_in,
                    "{preset} layer {i}: y must equal z without LayerNorm"
                );
                continue;
            }
            for (b, (zr, yr)) in z.data.chunks(n).zip(relu_in.data.chunks(n)).enumerate() {
                let mu = zr.iter().sum::<f64>() / n as f64;
                let var = zr.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / n as f64;
                let sigma = (var + LN_EPS).sqrt();
                for (zv, yv) in zr.iter().zip(yr) {
                    let want = (zv - mu) / sigma;
                    assert!(
                        (yv - want).abs() <= ANALYTIC_REL * (1.0 + want.abs()),
                        "{preset} layer {i} row {b}: y = {yv}, LN(z) = {want}"
                    );
                }
                // z is the activity before LN, not LN's output.
                let gap = zr
                    .iter()
                    .zip(yr)
                    .fold(0.0f64, |m, (a, c)| m.max((a - c).abs()));
                assert!(gap > 1e-3, "{preset} layer {i} row {b}: z equals LN(z)");
            }
        }
        // logits = h W_EEᵀ + b − (h W_IEᵀ) W_EIᵀ with h = ReLU(hidden.1.y).
        let h: Vec<f64> = dump["hidden.1.y"].data.iter().map(|v| v.max(0.0)).collect();
        let (w_ee, w_ie, w_ei, b) = (
            &params["out.w_ee"],
            &params["out.w_ie"],
            &params["out.w_ei"],
            &params["out.bias"],
        );
        let logits = &dump["logits"];
        let scale = logits.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for r in 0..bsz {
            let hr = &h[r * n..(r + 1) * n];
            let inh: f64 = (0..n).map(|c| hr[c] * w_ie.data[c]).sum();
            for k in 0..10 {
                let exc: f64 = (0..n).map(|c| hr[c] * w_ee.data[k * n + c]).sum();
                let want = exc + b.data[k] - inh * w_ei.data[k];
                let got = logits.data[r * 10 + k];
                assert!(
                    (got - want).abs() <= ANALYTIC_REL * scale.max(1.0),
                    "{preset}: logit [{r},{k}] = {got}, from ReLU(hidden.1.y): {want}"
                );
            }
        }
    }
}

#[test]
fn batch_files_validate_labels_and_shapes() {
    let dir = tmpdir("interop", "batch");
    let (x, y) = batch(20, 3, 1);
    let path = dir.join("b.safetensors");
    save_batch(&path, &x, &y, 20).unwrap();
    let b = load_batch(&path, 20).unwrap();
    assert_eq!((b.x, b.y), (x.clone(), y.clone()));
    let msg = load_batch(&path, 784).unwrap_err().to_string();
    assert!(msg.contains("'x'") && msg.contains("[3, 784]"), "{msg}");
    for (dtype, bytes) in [
        ("U8", vec![3u8, 12, 0]),
        (
            "I64",
            [1i64, -1, 2].iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
    ] {
        let xb: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(
            &path,
            handmade_safetensors(&[("x", "F32", vec![3, 20], xb), ("y", dtype, vec![3], bytes)]),
        )
        .unwrap();
        let msg = load_batch(&path, 20).unwrap_err().to_string();
        assert!(
            msg.contains("label y[1]") && msg.contains("0..10"),
            "{dtype}: {msg}"
        );
    }
    std::fs::write(
        &path,
        handmade_safetensors(&[("y", "U8", vec![1], vec![1])]),
    )
    .unwrap();
    let msg = load_batch(&path, 20).unwrap_err().to_string();
    assert!(msg.contains("no tensor 'x'"), "{msg}");
}
