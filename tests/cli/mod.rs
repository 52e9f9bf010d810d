//! The `inorm` binary end to end on tiny synthetic IDX data: train and sweep/merge/report here; error
//! messages for bad arguments in [`errors`]; init/grads interop across backends and hand-written files in
//! [`interop`].

/// Bad arguments, files and settings: clear errors, no panic, nothing trained.
mod errors;
/// `inorm init` / `inorm grads` against the library on every backend and on a hand-laid-out file.
mod interop;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::tmpdir;
use inorm::data::{idx, synthetic};
use inorm::model::ParamSet;

fn gz(path: &Path, bytes: &[u8]) {
    let f = std::fs::File::create(path).unwrap();
    let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap();
}

/// Writes a tiny Fashion-MNIST-shaped data folder (synthetic images, gzipped IDX).
pub(crate) fn data_dir(root: &Path) -> PathBuf {
    let d = root.join("data");
    std::fs::create_dir_all(&d).unwrap();
    for (stem_i, stem_l, n, seed) in [
        (inorm::data::TRAIN_IMAGES, inorm::data::TRAIN_LABELS, 96, 1),
        (inorm::data::TEST_IMAGES, inorm::data::TEST_LABELS, 48, 2),
    ] {
        let ds = synthetic(n, seed);
        gz(
            &d.join(format!("{stem_i}.gz")),
            &idx::encode_images(n, 28, 28, &ds.images).unwrap(),
        );
        gz(
            &d.join(format!("{stem_l}.gz")),
            &idx::encode_labels(&ds.labels).unwrap(),
        );
    }
    d
}

fn inorm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inorm"))
        .args(args)
        .env("INORM_DATA", "")
        .output()
        .expect("run inorm")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs and expects success.
fn ok(args: &[&str]) -> (String, String) {
    let o = inorm(args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{args:?} failed:\n{out}\n{err}");
    (out, err)
}

/// Runs and expects a clean failure (non-zero, `error:` on stderr, no panic); returns stderr.
fn fails(args: &[&str]) -> String {
    let o = inorm(args);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{args:?} succeeded:\n{out}\n{err}");
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    assert!(err.contains("error"), "{args:?}: no error line:\n{err}");
    err
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn cli_train_writes_a_result_and_reports_samples_per_second() {
    let t = tmpdir("cli", "train");
    let d = data_dir(&t);
    let out = t.join("r.json");
    let model = t.join("final.safetensors");
    let (stdout, _) = ok(&[
        "train",
        "--net",
        "inorm-gn-full",
        "--eps",
        "0.5",
        "--config",
        "3",
        "--width",
        "16",
        "--epochs",
        "2",
        "--train-size",
        "70",
        "--data-dir",
        s(&d),
        "--out",
        s(&out),
        "--save-model",
        s(&model),
        "--quiet",
    ]);
    assert!(stdout.contains("samples/s"), "{stdout}");
    let r: inorm::train::RunResult =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r.history.len(), 2);
    assert_eq!(r.config.config_index, Some(3));
    assert_eq!(r.config.spec.width, 16);
    assert_eq!(
        (r.backend.as_str(), r.dtype.as_str(), r.device.as_str()),
        ("fast", "f32", "cpu")
    );
    assert_eq!(r.version, env!("CARGO_PKG_VERSION"));
    // The saved model continues as a valid initial model.
    ok(&[
        "train",
        "--net",
        "inorm-gn-full",
        "--width",
        "16",
        "--lr-e",
        "0.01",
        "--lr-ie",
        "0.1",
        "--lr-ei",
        "0.001",
        "--epochs",
        "1",
        "--data-dir",
        s(&d),
        "--model",
        s(&model),
        "--quiet",
    ]);
    let _ = std::fs::remove_dir_all(&t);
}

/// A safetensors file of `tensors` as f64, laid out by hand by `interop::handmade_safetensors`.
pub(crate) fn handmade(tensors: &ParamSet) -> Vec<u8> {
    let parts: Vec<(&str, &str, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let bytes = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.as_str(), "F64", t.shape.clone(), bytes)
        })
        .collect();
    crate::interop::handmade_safetensors(&parts)
}

#[test]
fn cli_sweep_resume_merge_report() {
    let t = tmpdir("cli", "sweep");
    let d = data_dir(&t);
    let out = t.join("sw");
    let args = [
        "sweep",
        "--out",
        s(&out),
        "--nets",
        "ei,ei-ln",
        "--eps",
        "0,0.5",
        "--configs",
        "0..=1",
        "--epochs",
        "1",
        "--width",
        "12",
        "--train-size",
        "64",
        "--test-size",
        "32",
        "--jobs",
        "2",
        "--train-eval",
        "running",
        "--data-dir",
        s(&d),
        "--quiet",
    ];
    let (_, err) = ok(&args);
    assert!(err.contains("8 run"), "{err}");
    let runs = out.join("runs");
    let victim = runs.join("ei-ln_eps0.5_c01_s0.json");
    let keep = runs.join("ei_eps0_c00_s0.json");
    let keep_bytes = std::fs::read(&keep).unwrap();
    let keep_time = std::fs::metadata(&keep).unwrap().modified().unwrap();
    std::fs::remove_file(&victim).unwrap();
    let (stdout, _) = ok(&["merge", s(&out)]);
    assert!(stdout.contains("missing: ei-ln_eps0.5_c01_s0"), "{stdout}");
    let e = fails(&["merge", s(&out), "--strict"]);
    assert!(e.contains("incomplete"), "{e}");
    let (_, err) = ok(&args);
    assert!(err.contains("7 already done, 1 run"), "{err}");
    assert!(victim.exists());
    assert_eq!(std::fs::read(&keep).unwrap(), keep_bytes);
    assert_eq!(
        std::fs::metadata(&keep).unwrap().modified().unwrap(),
        keep_time
    );
    ok(&["merge", s(&out), "--strict"]);
    // SLURM variables pick the shard when --shard is absent.
    let o = Command::new(env!("CARGO_BIN_EXE_inorm"))
        .args(args)
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "4")
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert!(
        o.status.success() && err.contains("2 in shard 1/4"),
        "{err}"
    );
    let (stdout, _) = ok(&["report", s(&out), "--data-dir", s(&d)]);
    assert!(stdout.contains("C4"), "{stdout}");
    let md = std::fs::read_to_string(out.join("report").join("report.md")).unwrap();
    assert!(
        md.contains("Fig 2a") && md.contains("fig2a_eiln_vs_ei.svg"),
        "{md}"
    );
    assert!(out.join("report").join("fig1b_examples.svg").exists());
    let _ = std::fs::remove_dir_all(&t);
}

/// Repeated grid values count once; without a terminal a sweep logs one line per finished run, and one per
/// epoch when each worker has a single cell to run (all silenced by --quiet); merge writes merged.csv.
#[test]
fn cli_sweep_dedups_logs_lines_and_writes_csv() {
    let t = tmpdir("cli", "dedup-log");
    let d = data_dir(&t);
    let out = t.join("sw");
    let args = [
        "sweep",
        "--out",
        s(&out),
        "--nets",
        "ei,ei",
        "--eps",
        "0,0.0,0.5",
        "--configs",
        "0",
        "--seeds",
        "0,0",
        "--width",
        "8",
        "--epochs",
        "1",
        "--train-size",
        "64",
        "--test-size",
        "32",
        "--jobs",
        "1",
        "--train-eval",
        "running",
        "--data-dir",
        s(&d),
    ];
    let (_, err) = ok(&args);
    assert!(err.contains("2 cells in grid"), "{err}");
    assert!(
        err.contains("[1/2] done ei_eps0_c00_s0: ok, test accuracy")
            && err.contains("[2/2] done ei_eps0.5_c00_s0: ok")
            && err.contains("ETA"),
        "{err}"
    );
    // Two cells for one worker: finished-run lines only, no epoch lines.
    assert!(!err.contains(": epoch 1/1"), "{err}");
    let (stdout, _) = ok(&["merge", "--strict", s(&out)]);
    assert!(
        stdout.contains("2 result(s) for 2 expected cell(s)"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("merged.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    // One cell for one worker (as one cell per process from a queue): its epochs are logged too.
    let last = out.join("runs").join("ei_eps0.5_c00_s0.json");
    std::fs::remove_file(&last).unwrap();
    let (_, err) = ok(&args);
    assert!(
        err.contains("  ei_eps0.5_c00_s0: epoch 1/1, test accuracy ") && err.contains("[2/2] done"),
        "{err}"
    );
    std::fs::remove_file(&last).unwrap();
    let mut quiet = args.to_vec();
    quiet.push("--quiet");
    let (_, err) = ok(&quiet);
    assert!(!err.contains("[") && err.contains("1 run"), "{err}");
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn cli_precision_f16_autocast_trains_records_its_numerics_and_refuses_what_it_cannot_honour() {
    let t = tmpdir("cli", "precision");
    let d = data_dir(&t);
    let out = t.join("r.json");
    let base = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "train",
            "--net",
            "inorm-gn-scale",
            "--config",
            "3",
            "--width",
            "16",
            "--epochs",
            "2",
            "--train-size",
            "70",
            "--quiet",
            "--data-dir",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        v.push(s(&d).to_string());
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let mut v = base(&["--precision", "f16-autocast", "--out"]);
    v.push(s(&out).to_string());
    ok(&args(&v));
    let r: inorm::train::RunResult =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        (r.config.backend.name(), r.dtype.as_str()),
        ("fast-f16-autocast", "f16-autocast")
    );
    let n = r.history[0].numerics.as_ref().expect("per-epoch numerics");
    assert_eq!(n.max_drive.len(), 2);
    assert!(
        n.max_drive.iter().all(|d| d.is_finite() && *d > 0.0),
        "{n:?}"
    );
    // Unknown values and backends that cannot honour the precision: clear errors, nothing written.
    let refused = t.join("refused.json");
    for (extra, want) in [
        (vec!["--precision", "f16"], "f16-autocast"),
        (
            vec!["--precision", "f16-autocast", "--backend", "fast-cuda"],
            "--precision",
        ),
        (
            vec!["--precision", "f16-autocast", "--backend", "fast-f64"],
            "--precision",
        ),
        (
            vec!["--precision", "f32", "--backend", "reference"],
            "f64 or f16-autocast",
        ),
    ] {
        let mut v = base(&[]);
        v.extend(extra.iter().map(|x| x.to_string()));
        v.push("--out".into());
        v.push(s(&refused).to_string());
        let err = fails(&args(&v));
        assert!(err.contains(want), "{extra:?}: {err}");
        assert!(!refused.exists(), "{extra:?} wrote a result");
    }
    // A sweep folder never mixes precisions.
    let dir = t.join("sweep");
    let sweep = |p: &'static str| {
        let mut v: Vec<String> = [
            "sweep",
            "--nets",
            "inorm",
            "--eps",
            "0",
            "--configs",
            "0",
            "--width",
            "8",
            "--epochs",
            "1",
            "--train-size",
            "40",
            "--test-size",
            "20",
            "--jobs",
            "1",
            "--quiet",
            "--precision",
            p,
            "--data-dir",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        v.push(s(&d).to_string());
        v.push("--out".into());
        v.push(s(&dir).to_string());
        v
    };
    ok(&args(&sweep("f32")));
    let err = fails(&args(&sweep("f16-autocast")));
    assert!(err.contains("never mixes precisions"), "{err}");
}
