//! Error messages of the binary: every bad argument, file and setting is refused with a line naming what
//! is wrong, a non-zero exit and no panic, before any training.

use std::path::Path;

use super::{data_dir, fails, gz, handmade, ok, s};
use crate::util::tmpdir;
use inorm::data::{idx, synthetic};
use inorm::init::init_params;
use inorm::interop::{save_batch, save_model, FileDtype};
use inorm::model::{NetSpec, Preset};

#[test]
fn cli_errors_are_clear_and_never_panic() {
    let t = tmpdir("cli", "errors");
    let d = data_dir(&t);
    let e = fails(&["train", "--net", "bogus", "--data-dir", s(&d)]);
    assert!(
        e.contains("bogus") && e.contains("e-ln") && e.contains("inorm-gn-lateral"),
        "{e}"
    );
    let e = fails(&[
        "train",
        "--net",
        "ei",
        "--config",
        "30",
        "--data-dir",
        s(&d),
    ]);
    assert!(e.contains("0..=29"), "{e}");
    let e = fails(&[
        "train",
        "--net",
        "ei",
        "--backend",
        "gpu",
        "--data-dir",
        s(&d),
    ]);
    assert!(e.contains("fast-f64"), "{e}");
    let e = fails(&["train", "--net", "ei", "--lr-e", "0.1", "--data-dir", s(&d)]);
    assert!(e.contains("--lr-ie"), "{e}");
    let e = fails(&[
        "sweep",
        "--out",
        s(&t.join("sw")),
        "--shard",
        "5/3",
        "--data-dir",
        s(&d),
    ]);
    assert!(e.contains("shard") && e.contains("5/3"), "{e}");
    let e = fails(&[
        "sweep",
        "--out",
        s(&t.join("sw")),
        "--configs",
        "0..40",
        "--data-dir",
        s(&d),
    ]);
    assert!(e.contains("0..=29"), "{e}");
    let e = fails(&[
        "sweep",
        "--out",
        s(&t.join("sw")),
        "--nets",
        "ei,nope",
        "--data-dir",
        s(&d),
    ]);
    assert!(e.contains("nope") && e.contains("ei-ln"), "{e}");
    let empty = t.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = fails(&["train", "--net", "ei", "--data-dir", s(&empty), "--offline"]);
    assert!(
        e.contains("dataset-fashion-mnist") && e.contains("--data-dir"),
        "{e}"
    );
    let e = fails(&["merge", s(&empty)]);
    assert!(e.contains("runs/"), "{e}");
    // Bad model files: a model of another preset names the tensor and the preset.
    let m = t.join("ei.safetensors");
    ok(&["init", "--net", "ei-ln", "--width", "8", "--out", s(&m)]);
    let b = t.join("batch.safetensors");
    let ds = synthetic(4, 3);
    let x: Vec<f32> = ds.images.iter().map(|&p| p as f32 / 255.0).collect();
    save_batch(&b, &x, &ds.labels, 784).unwrap();
    let e = fails(&[
        "grads",
        "--model",
        s(&m),
        "--batch",
        s(&b),
        "--net",
        "inorm",
        "--out",
        s(&t.join("g")),
    ]);
    assert!(
        e.contains("hidden.0.d_ie") && e.contains("inorm") && e.contains("[8, 784]"),
        "{e}"
    );
    let mi = t.join("inorm.safetensors");
    ok(&["init", "--net", "inorm", "--width", "8", "--out", s(&mi)]);
    let e = fails(&[
        "grads",
        "--model",
        s(&mi),
        "--batch",
        s(&b),
        "--net",
        "ei",
        "--out",
        s(&t.join("g")),
    ]);
    assert!(
        e.contains("does not belong") && e.contains("preset ei"),
        "{e}"
    );
    let e = fails(&[
        "grads",
        "--model",
        s(&b),
        "--batch",
        s(&b),
        "--net",
        "ei",
        "--out",
        s(&t.join("g")),
    ]);
    assert!(e.contains("'y'") && e.contains("F32 or F64"), "{e}");
    let mut p = init_params(&NetSpec::new(Preset::Ei, 8), 0).unwrap();
    p.remove("hidden.1.w_ie");
    let short = t.join("short.safetensors");
    std::fs::write(&short, handmade(&p)).unwrap();
    let e = fails(&[
        "grads",
        "--model",
        s(&short),
        "--batch",
        s(&b),
        "--net",
        "ei",
        "--out",
        s(&t.join("g")),
    ]);
    assert!(
        e.contains("hidden.1.w_ie") && e.contains("missing") && e.contains("preset ei"),
        "{e}"
    );
    p.remove("hidden.0.w_ee");
    std::fs::write(&short, handmade(&p)).unwrap();
    let e = fails(&[
        "grads",
        "--model",
        s(&short),
        "--batch",
        s(&b),
        "--net",
        "ei",
        "--out",
        s(&t.join("g")),
    ]);
    assert!(e.contains("hidden.0.w_ee") && e.contains("width"), "{e}");
    let e = fails(&[
        "grads",
        "--model",
        s(&t.join("nope.safetensors")),
        "--batch",
        s(&b),
        "--net",
        "ei",
        "--out",
        s(&t.join("g")),
    ]);
    assert!(e.contains("nope.safetensors"), "{e}");
    let _ = std::fs::remove_dir_all(&t);
}

/// Bad inputs: each rejected before any training with a message naming what is wrong.
#[test]
fn cli_rejects_bad_input_before_training() {
    let t = tmpdir("cli", "bad-input");
    let d = data_dir(&t);
    let nodata = t.join("no-data-here");
    let train = |extra: &[&str]| {
        let mut v = vec!["train", "--net", "ei", "--width", "8"];
        v.extend_from_slice(extra);
        fails(&v)
    };
    // Bounds.
    let e = train(&["--epochs", "0", "--data-dir", s(&d)]);
    assert!(e.contains("epochs") && e.contains("1..="), "{e}");
    let e = train(&["--train-size", "97", "--data-dir", s(&d)]);
    assert!(e.contains("train-size") && e.contains("only 96"), "{e}");
    for n in ["0", "4096"] {
        let e = train(&["--threads", n, "--data-dir", s(&d)]);
        assert!(e.contains("threads") && e.contains("1..="), "{e}");
    }
    let sw = t.join("sw");
    let sweep = |extra: &[&str]| {
        let mut v = vec!["sweep", "--out", s(&sw), "--data-dir", s(&d)];
        v.extend_from_slice(extra);
        fails(&v)
    };
    let e = sweep(&["--jobs", "0"]);
    assert!(e.contains("jobs") && e.contains("1..="), "{e}");
    let e = sweep(&["--seeds", "0..100000000"]);
    assert!(e.contains("seeds") && e.contains("split"), "{e}");
    // Outputs: checked before the data is even looked for (so before any training).
    let file = t.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = file.join("r.json");
    let e = train(&["--out", s(&under_file), "--data-dir", s(&nodata)]);
    assert!(
        e.contains("--out") || e.contains("invalid out"),
        "not an --out error: {e}"
    );
    assert!(
        e.contains(s(&under_file)) && !e.contains("Fashion-MNIST"),
        "{e}"
    );
    let e = train(&["--save-model", s(&under_file), "--data-dir", s(&nodata)]);
    assert!(
        e.contains("save-model") && !e.contains("Fashion-MNIST"),
        "{e}"
    );
    let same = t.join("same.json");
    let e = train(&[
        "--out",
        s(&same),
        "--save-model",
        s(&same),
        "--data-dir",
        s(&nodata),
    ]);
    assert!(e.contains("also the --out"), "{e}");
    let e = fails(&["sweep", "--out", s(&file), "--data-dir", s(&d)]);
    assert!(e.contains(s(&file)), "{e}");
    // Non-finite or out-of-range weights and batches, named.
    let spec = NetSpec::new(Preset::Ei, 8);
    let mut p = init_params(&spec, 0).unwrap();
    let good = t.join("good.safetensors");
    save_model(&good, &spec, &p, FileDtype::F32).unwrap();
    let ds = synthetic(4, 3);
    let x: Vec<f32> = ds.images.iter().map(|&v| v as f32 / 255.0).collect();
    let batch = t.join("batch.safetensors");
    save_batch(&batch, &x, &ds.labels, 784).unwrap();
    let grads = |model: &Path, batch: &Path| {
        fails(&[
            "grads",
            "--model",
            s(model),
            "--batch",
            s(batch),
            "--net",
            "ei",
            "--out",
            s(&t.join("g.safetensors")),
        ])
    };
    p.get_mut("hidden.1.w_ei").unwrap().data[5] = f64::NAN;
    let nan_model = t.join("nan.safetensors");
    save_model(&nan_model, &spec, &p, FileDtype::F32).unwrap();
    let e = grads(&nan_model, &batch);
    assert!(
        e.contains("hidden.1.w_ei") && e.contains("not finite"),
        "{e}"
    );
    let e = train(&["--model", s(&nan_model), "--data-dir", s(&d)]);
    assert!(
        e.contains("hidden.1.w_ei") && e.contains("not finite"),
        "{e}"
    );
    for (i, v, what) in [
        (0, f32::NAN, "NaN"),
        (783, 1.5, "1.5"),
        (784, -0.25, "-0.25"),
    ] {
        let mut xb = x.clone();
        xb[i] = v;
        let bad = t.join("bad-batch.safetensors");
        save_batch(&bad, &xb, &ds.labels, 784).unwrap();
        let e = grads(&good, &bad);
        assert!(
            e.contains("'x'") && e.contains(what) && e.contains("[0, 1]"),
            "{what}: {e}"
        );
    }
    // A wrong-shaped hidden.0.w_ee is the tensor blamed (its first dimension used to set the width).
    let mut w = init_params(&spec, 0).unwrap();
    let t0 = w.get_mut("hidden.0.w_ee").unwrap();
    t0.shape = vec![9, 784];
    t0.data = vec![0.01; 9 * 784];
    let wrong = t.join("wrong.safetensors");
    std::fs::write(&wrong, handmade(&w)).unwrap();
    let e = grads(&wrong, &batch);
    assert!(
        e.contains("'hidden.0.w_ee'") && e.contains("[8, 784]") && e.contains("[9, 784]"),
        "{e}"
    );
    // merge --strict needs sweep.json.
    let lone = t.join("lone");
    std::fs::create_dir_all(lone.join("runs")).unwrap();
    let e = fails(&["merge", "--strict", s(&lone)]);
    assert!(e.contains("no sweep.json"), "{e}");
    // A gzip file that decompresses past the limit is refused without reading on.
    let bomb = t.join("bomb.gz");
    gz(&bomb, &vec![0u8; 10_000]);
    let e = idx::read_maybe_gz_limited(&bomb, 1000)
        .unwrap_err()
        .to_string();
    assert!(e.contains("decompresses to more than 1000 bytes"), "{e}");
    assert_eq!(
        idx::read_maybe_gz_limited(&bomb, 10_000).unwrap().len(),
        10_000
    );
    let _ = std::fs::remove_dir_all(&t);
}
