//! Exchange with PyTorch and other tools through safetensors files: models (the parameter names of
//! [`NetSpec::param_infos`], post × pre, f32 or f64), minibatches (`x`: B×784, `y`: B of any integer type)
//! and per-batch gradient dumps (`loss`, `logits`, `hidden.{i}.z`, `hidden.{i}.y`, `grad.<name>`,
//! `local_grad.<name>`).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::model::{validate_params, GradReport, HostTensor, NetSpec, ParamSet, CLASSES};

/// Floating-point type of a written file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileDtype {
    /// 32-bit floats (what PyTorch models usually hold).
    F32,
    /// 64-bit floats (lossless for the reference path).
    F64,
}

fn fmt_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Format {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Writes `path` atomically: a uniquely named temporary file (`.<name>.<random>.tmp`) in the same folder,
/// written and flushed to disk, then renamed over the target, so a crash never leaves a half-written file
/// under the final name and concurrent writers (threads, processes, SLURM array tasks on other nodes sharing
/// the folder) never share a temporary file. A temporary file is only ever removed by its own writer (on
/// failure), or by [`crate::experiment::remove_stale_temp`] once it is older than
/// [`crate::experiment::STALE_TEMP_AGE`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = temp_file_in(dir, &format!(".{name}."))?;
    let tmp_path = tmp.path().to_path_buf();
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(&tmp_path, e))?;
    // On failure the returned error owns the temporary file and removes it when dropped.
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// A uniquely named temporary file `DIR/PREFIX*.tmp` to be persisted (renamed) over its destination, with
/// the mode a plain `File::create` gives (0o666 less the umask), not tempfile's private 0o600: a result
/// written by one user of a shared SLURM folder stays readable by the others, as before the atomic writes.
pub(crate) fn temp_file_in(dir: &Path, prefix: &str) -> Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b.tempfile_in(dir).map_err(|e| Error::io(dir, e))
}

/// Checks, before any long computation, that `path` can be written: its folder exists or can be created,
/// a file can be created there, and `path` is not a folder. `what` names the option (e.g. `--out`).
pub fn check_writable(path: &Path, what: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if path.is_dir() {
        return Err(Error::invalid(
            what,
            format!("{} is a folder; give a file name", path.display()),
        ));
    }
    let fix = "choose a writable location";
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::invalid(
            what,
            format!(
                "cannot create the folder {} for {}: {e}; {fix}",
                dir.display(),
                path.display()
            ),
        )
    })?;
    tempfile::Builder::new()
        .prefix(".inorm-write-check.")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            Error::invalid(
                what,
                format!(
                    "cannot write {} (folder {}): {e}; {fix}",
                    path.display(),
                    dir.display()
                ),
            )
        })?;
    Ok(())
}

/// Serializes named tensors to safetensors bytes in the given float type (metadata optional).
pub fn to_safetensors(
    tensors: &ParamSet,
    dtype: FileDtype,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let bytes = match dtype {
                FileDtype::F32 => t
                    .data
                    .iter()
                    .flat_map(|&v| (v as f32).to_le_bytes())
                    .collect(),
                FileDtype::F64 => t.data.iter().flat_map(|&v| v.to_le_bytes()).collect(),
            };
            (name.clone(), t.shape.clone(), bytes)
        })
        .collect();
    let st_dtype = match dtype {
        FileDtype::F32 => Dtype::F32,
        FileDtype::F64 => Dtype::F64,
    };
    let views = buffers
        .iter()
        .map(|(n, s, b)| TensorView::new(st_dtype, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Format {
            path: "<memory>".into(),
            reason: e.to_string(),
        })?;
    safetensors::serialize(views, metadata).map_err(|e| Error::Format {
        path: "<memory>".into(),
        reason: e.to_string(),
    })
}

/// Writes named tensors to a safetensors file, atomically.
pub fn save_tensors(
    path: &Path,
    tensors: &ParamSet,
    dtype: FileDtype,
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    write_atomic(path, &to_safetensors(tensors, dtype, metadata)?)
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Decodes one tensor view to f64 values; floats of 16, 32 and 64 bits and all integer types are accepted.
fn view_values(path: &Path, name: &str, v: &TensorView<'_>) -> Result<Vec<f64>> {
    let d = v.data();
    macro_rules! conv {
        ($t:ty, $w:expr) => {
            d.chunks_exact($w)
                .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk width")) as f64)
                .collect()
        };
    }
    Ok(match v.dtype() {
        Dtype::F64 => conv!(f64, 8),
        Dtype::F32 => conv!(f32, 4),
        Dtype::U8 => d.iter().map(|&b| b as f64).collect(),
        Dtype::I8 => d.iter().map(|&b| b as i8 as f64).collect(),
        Dtype::U16 => conv!(u16, 2),
        Dtype::I16 => conv!(i16, 2),
        Dtype::U32 => conv!(u32, 4),
        Dtype::I32 => conv!(i32, 4),
        Dtype::U64 => conv!(u64, 8),
        Dtype::I64 => conv!(i64, 8),
        other => {
            return Err(fmt_err(
                path,
                format!(
                    "tensor '{name}' has dtype {other:?}; inorm reads F32, F64 and integer tensors"
                ),
            ))
        }
    })
}

fn is_float(d: Dtype) -> bool {
    matches!(d, Dtype::F32 | Dtype::F64)
}

/// Reads every tensor of a safetensors file as f64 (floats only, F32 or F64).
pub fn load_tensors(path: &Path) -> Result<ParamSet> {
    let bytes = read_file(path)?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| fmt_err(path, format!("not a safetensors file: {e}")))?;
    let mut out = ParamSet::new();
    for (name, v) in st.tensors() {
        if !is_float(v.dtype()) {
            return Err(fmt_err(
                path,
                format!(
                    "tensor '{name}' has dtype {:?}; model tensors must be F32 or F64",
                    v.dtype()
                ),
            ));
        }
        let data = view_values(path, &name, &v)?;
        out.insert(
            name,
            HostTensor {
                shape: v.shape().to_vec(),
                data,
            },
        );
    }
    Ok(out)
}

/// Reads a model file and checks it against `spec`: every tensor of the preset present with its shape,
/// F32 or F64, and no tensor that does not belong to the preset. Errors name the tensor, the expected and
/// actual shape or dtype, and the preset.
pub fn load_model(path: &Path, spec: &NetSpec) -> Result<ParamSet> {
    let bytes = read_file(path)?;
    let file = path.display().to_string();
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| fmt_err(path, format!("not a safetensors file: {e}")))?;
    let mut out = ParamSet::new();
    for (name, v) in st.tensors() {
        if !is_float(v.dtype()) {
            return Err(Error::BadTensor {
                name,
                file,
                preset: spec.preset.name(),
                reason: format!("expected dtype F32 or F64, got {:?}", v.dtype()),
            });
        }
        let data = view_values(path, &name, &v)?;
        out.insert(
            name,
            HostTensor {
                shape: v.shape().to_vec(),
                data,
            },
        );
    }
    validate_params(spec, &out, &file)?;
    for (name, t) in &out {
        if let Some(i) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::BadTensor {
                name: name.clone(),
                file,
                preset: spec.preset.name(),
                reason: format!(
                    "value {} at {} is not finite; every parameter must be a finite number",
                    t.data[i],
                    index_text(&t.shape, i)
                ),
            });
        }
    }
    Ok(out)
}

/// The multi-index of flat position `i` in a row-major tensor of `shape`, e.g. `[3, 17]`.
fn index_text(shape: &[usize], mut i: usize) -> String {
    let mut idx = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[k] = i % d;
            i /= d;
        }
    }
    format!("{idx:?}")
}

/// The hidden width that makes the fewest tensors of `tensors` disagree with the shapes of `preset`
/// (784 inputs), among the widths the tensors suggest (each tensor's first dimension); ties go to the
/// width of `hidden.0.w_ee`. A file with one wrong-shaped tensor then gets its error on that tensor, not on
/// every other one. `None` when no tensor suggests a width.
pub fn infer_width(preset: crate::model::Preset, tensors: &ParamSet) -> Option<usize> {
    let mut candidates: Vec<usize> = Vec::new();
    if let Some(w) = tensors.get("hidden.0.w_ee").and_then(|t| t.shape.first()) {
        candidates.push(*w);
    }
    for t in tensors.values() {
        if let Some(&d) = t.shape.first() {
            if d > 0 && !candidates.contains(&d) {
                candidates.push(d);
            }
        }
    }
    let mismatches = |w: usize| -> usize {
        let infos = NetSpec::new(preset, w).param_infos();
        infos
            .iter()
            .filter(|i| tensors.get(&i.name).map(|t| &t.shape) != Some(&i.shape))
            .count()
    };
    candidates
        .iter()
        .take(64)
        .map(|&w| (mismatches(w), w))
        .min_by_key(|&(m, _)| m)
        .map(|(_, w)| w)
}

/// Writes a model (the preset's parameters) to `path`.
pub fn save_model(path: &Path, spec: &NetSpec, params: &ParamSet, dtype: FileDtype) -> Result<()> {
    validate_params(spec, params, &path.display().to_string())?;
    let mut meta = HashMap::new();
    meta.insert("preset".to_string(), spec.preset.name());
    meta.insert("width".to_string(), spec.width.to_string());
    meta.insert(
        "inorm_version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    save_tensors(path, params, dtype, Some(meta))
}

/// A minibatch read from a file: `x` (B×dim, as f32) and labels.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchFile {
    /// Inputs, row-major B×dim.
    pub x: Vec<f32>,
    /// Labels in 0..10.
    pub y: Vec<u8>,
}

/// Reads a batch file: `x` (B×dim, F32 or F64) and `y` (B, any integer type, values in 0..10).
pub fn load_batch(path: &Path, dim: usize) -> Result<BatchFile> {
    let bytes = read_file(path)?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| fmt_err(path, format!("not a safetensors file: {e}")))?;
    let x = st
        .tensor("x")
        .map_err(|_| fmt_err(path, "batch file has no tensor 'x' (B×784 inputs)"))?;
    let y = st
        .tensor("y")
        .map_err(|_| fmt_err(path, "batch file has no tensor 'y' (B labels)"))?;
    if !is_float(x.dtype()) {
        return Err(fmt_err(
            path,
            format!("tensor 'x' has dtype {:?}; expected F32 or F64", x.dtype()),
        ));
    }
    if is_float(y.dtype()) {
        return Err(fmt_err(
            path,
            format!(
                "tensor 'y' has dtype {:?}; expected an integer type",
                y.dtype()
            ),
        ));
    }
    let b = y.shape().first().copied().unwrap_or(0);
    if y.shape().len() != 1 || b == 0 {
        return Err(fmt_err(
            path,
            format!(
                "tensor 'y' has shape {:?}; expected [B] with B ≥ 1",
                y.shape()
            ),
        ));
    }
    if x.shape() != [b, dim] {
        return Err(fmt_err(
            path,
            format!(
                "tensor 'x' has shape {:?}; expected [{b}, {dim}]",
                x.shape()
            ),
        ));
    }
    let xv = view_values(path, "x", &x)?;
    if let Some((i, v)) = xv
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && (0.0..=1.0).contains(*v)))
    {
        return Err(fmt_err(
            path,
            format!(
                "tensor 'x' value {v} at [{}, {}]: inputs must be finite pixels in [0, 1] (x/255, \
                 luminance-shifted and clamped, paper/model.md §7)",
                i / dim,
                i % dim
            ),
        ));
    }
    let yv = view_values(path, "y", &y)?;
    if let Some((i, v)) = yv
        .iter()
        .enumerate()
        .find(|(_, &v)| !(0.0..CLASSES as f64).contains(&v))
    {
        return Err(fmt_err(
            path,
            format!("label y[{i}] = {v}; labels must be in 0..{CLASSES}"),
        ));
    }
    Ok(BatchFile {
        x: xv.into_iter().map(|v| v as f32).collect(),
        y: yv.into_iter().map(|v| v as u8).collect(),
    })
}

/// Writes a batch file (`x` F32, `y` U8... stored as I64 as PyTorch label tensors are).
pub fn save_batch(path: &Path, x: &[f32], y: &[u8], dim: usize) -> Result<()> {
    if x.len() != y.len() * dim {
        return Err(Error::ShapeMismatch {
            op: "save_batch".into(),
            expected: format!("{} × {dim}", y.len()),
            got: format!("{} values", x.len()),
        });
    }
    let xb: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let yb: Vec<u8> = y.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect();
    let views = vec![
        (
            "x".to_string(),
            TensorView::new(Dtype::F32, vec![y.len(), dim], &xb)
                .map_err(|e| fmt_err(path, e.to_string()))?,
        ),
        (
            "y".to_string(),
            TensorView::new(Dtype::I64, vec![y.len()], &yb)
                .map_err(|e| fmt_err(path, e.to_string()))?,
        ),
    ];
    let bytes = safetensors::serialize(views, None).map_err(|e| fmt_err(path, e.to_string()))?;
    write_atomic(path, &bytes)
}

/// The tensors of a gradient dump: `loss` (scalar), `logits` (B×10), `hidden.{i}.z` (B×n, the pre-activation
/// [`GradReport::z`]: before LayerNorm in LN networks), `hidden.{i}.y` (B×n, the ReLU input
/// [`GradReport::y`]: after LayerNorm in LN networks, after the division in I-Norm networks), `grad.<name>`
/// for every task-trained parameter and `local_grad.<name>` for every locally trained one.
pub fn grad_tensors(report: &GradReport) -> ParamSet {
    let mut out = ParamSet::new();
    out.insert("loss".into(), HostTensor::scalar(report.loss));
    out.insert("logits".into(), report.logits.clone());
    for (i, z) in report.z.iter().enumerate() {
        out.insert(format!("hidden.{i}.z"), z.clone());
    }
    for (i, y) in report.y.iter().enumerate() {
        out.insert(format!("hidden.{i}.y"), y.clone());
    }
    for (k, v) in &report.grads {
        out.insert(format!("grad.{k}"), v.clone());
    }
    for (k, v) in &report.local_grads {
        out.insert(format!("local_grad.{k}"), v.clone());
    }
    out
}
