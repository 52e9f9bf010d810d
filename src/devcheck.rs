//! `inorm backend-check`: the case table of every condition (the ten presets and the options of
//! [`NetSpec`]) on one backend against the f64 reference, next to the CPU fast path of the same dtype as
//! the yardstick: loss, local losses, logits, z, every task and local gradient and the diagnostics of one
//! forward/backward pass, and the parameters after three training steps. Made for a GPU machine without a
//! Rust toolchain (`scripts/device-check.sh` runs it from a carried binary); the test suite's case table
//! (`tests/fast/cases.rs`) is the finer check with per-case conditioning.
//!
//! A case passes when the backend's worst relative error is at most `max(4 × CPU error, floor)`, the
//! floor being [`FAST_F64_REL`] (f64) or [`FAST_F32_REL`] (f32): a GPU may sum in another order, but may
//! not be much less accurate than the CPU path that the test suite proves correct.

use crate::backend::{make_trainer, Backend};
use crate::error::Result;
use crate::init::init_params;
use crate::model::{Batch, GradNorm, GradReport, HostTensor, Hyper, NetSpec, ParamSet, Preset};
use crate::rng::{SeedRng, Stream};
use crate::tolerance::{FAST_F32_REL, FAST_F64_REL};

/// One row of the case table.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CaseRow {
    /// Condition name (preset and options).
    pub case: String,
    /// Width × input, batch.
    pub shape: String,
    /// Backend checked.
    pub backend: String,
    /// Worst relative error of the backend against the reference, and the quantity.
    pub err: f64,
    /// Which quantity was worst.
    pub worst: String,
    /// The same for the CPU fast path of the same dtype.
    pub cpu_err: f64,
    /// `err ≤ max(4 × cpu_err, floor)`.
    pub pass: bool,
}

/// The conditions of the case table: every preset and the spec options.
pub fn cases(width: usize, input: usize) -> Vec<(String, NetSpec)> {
    let mk = |p: Preset| {
        let mut s = NetSpec::new(p, width);
        s.input = input;
        s
    };
    let mut out: Vec<(String, NetSpec)> = Preset::ALL.iter().map(|&p| (p.name(), mk(p))).collect();
    let mut s = mk(Preset::INormGn(GradNorm::Full));
    s.eq2_exact = true;
    out.push(("inorm-gn-full+eq2-exact".into(), s));
    let mut s = mk(Preset::INorm);
    s.train_inhib_out = true;
    out.push(("inorm+train-inhib-out".into(), s));
    let mut s = mk(Preset::INormSub);
    s.sub_grad_norm = GradNorm::Center;
    out.push(("inorm-sub+center".into(), s));
    out
}

/// A batch with the luminance shift's structure (rows with |mean| ≫ std), labels uniform.
fn batch(seed: u64, rows: usize, dim: usize) -> (Vec<f32>, Vec<u8>) {
    let mut rng = SeedRng::new(seed, Stream::Test, 7);
    let mut x = Vec::with_capacity(rows * dim);
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let c = rng.uniform_in(-0.75, 0.75);
        for _ in 0..dim {
            x.push((rng.uniform() + c).clamp(0.0, 1.0) as f32);
        }
        y.push(rng.below(10) as u8);
    }
    (x, y)
}

/// `max|a − b| / max|b|`, infinite on a shape mismatch or a non-finite difference.
fn rel(a: &HostTensor, b: &HostTensor) -> f64 {
    if a.shape != b.shape {
        return f64::INFINITY;
    }
    let scale = b.data.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, |m, e| {
            if e.is_finite() {
                m.max(e)
            } else {
                f64::INFINITY
            }
        })
}

fn worst_of(items: impl IntoIterator<Item = (String, f64)>) -> (String, f64) {
    items.into_iter().fold(("none".into(), 0.0), |a, b| {
        if b.1 > a.1 || b.1.is_nan() {
            b
        } else {
            a
        }
    })
}

fn compare_sets(kind: &str, a: &ParamSet, b: &ParamSet) -> Vec<(String, f64)> {
    b.iter()
        .map(|(k, w)| {
            let e = a.get(k).map_or(f64::INFINITY, |g| rel(g, w));
            (format!("{kind}.{k}"), e)
        })
        .collect()
}

fn compare(got: &GradReport, want: &GradReport) -> Vec<(String, f64)> {
    let mut out = vec![(
        "loss".to_string(),
        (got.loss - want.loss).abs() / want.loss.abs().max(1.0),
    )];
    out.push(("logits".into(), rel(&got.logits, &want.logits)));
    for (i, (a, b)) in got.z.iter().zip(&want.z).enumerate() {
        out.push((format!("z.{i}"), rel(a, b)));
    }
    out.extend(compare_sets("grad", &got.grads, &want.grads));
    out.extend(compare_sets(
        "local_grad",
        &got.local_grads,
        &want.local_grads,
    ));
    for (i, (a, b)) in got.diag.iter().zip(&want.diag).enumerate() {
        for (name, x, y) in [
            ("output_alignment", a.output_alignment, b.output_alignment),
            ("mean", a.mean, b.mean),
            ("var", a.var, b.var),
        ] {
            out.push((format!("diag.{i}.{name}"), (x - y).abs() / y.abs().max(1.0)));
        }
    }
    out
}

/// The initial parameters of `spec` perturbed so that no gradient vanishes to roundoff (the initial biases
/// are 0, which makes some gradients exactly 0 in one path and roundoff in the other): weights ×
/// U[0.75, 1.25) (signs and Dale's law kept), biases + U[−0.1, 0.1); D_EI and ω unchanged.
fn perturbed_params(spec: &NetSpec, seed: u64) -> Result<ParamSet> {
    let mut params = init_params(spec, seed)?;
    let mut rng = SeedRng::new(seed, Stream::Test, 99);
    for (name, t) in params.iter_mut() {
        if name.ends_with("lateral") || name.ends_with("d_ei") {
            continue;
        }
        for v in t.data.iter_mut() {
            if name.ends_with("bias") {
                *v += rng.uniform_in(-0.1, 0.1);
            } else {
                *v *= rng.uniform_in(0.75, 1.25);
            }
        }
    }
    Ok(params)
}

/// Worst error of `backend` against the reference on one case: one gradient pass, then the parameters
/// after three SGD steps.
fn case_error(backend: Backend, spec: &NetSpec, seed: u64, rows: usize) -> Result<(String, f64)> {
    let params = perturbed_params(spec, seed)?;
    let (x, y) = batch(seed ^ 0x5eed, rows, spec.input);
    let b = Batch { x: &x, y: &y };
    let mut r = make_trainer(Backend::Reference, spec.clone(), &params)?;
    let mut f = make_trainer(backend, spec.clone(), &params)?;
    let mut errs = compare(&f.grads(b)?, &r.grads(b)?);
    let hyper = Hyper::sgd(1e-2, 1e-2, 1e-3);
    for _ in 0..3 {
        r.train_step(b, &hyper, false)?;
        f.train_step(b, &hyper, false)?;
    }
    errs.extend(compare_sets("after-3-steps", &f.params()?, &r.params()?));
    Ok(worst_of(errs))
}

/// The case table of `backend` (shapes: 16×40 batch 8, 100×784 batch 32).
pub fn case_table(backend: Backend, on_row: &mut dyn FnMut(&CaseRow)) -> Result<Vec<CaseRow>> {
    let f64 = matches!(
        backend,
        Backend::Fast { f64: true } | Backend::FastCuda { f64: true }
    );
    let cpu = Backend::Fast { f64 };
    let floor = if f64 { FAST_F64_REL } else { FAST_F32_REL };
    let mut rows = Vec::new();
    for (w, m, bsz, seed) in [(16, 40, 8, 3u64), (100, 784, 32, 5)] {
        for (name, spec) in cases(w, m) {
            let (worst, err) = case_error(backend, &spec, seed, bsz)?;
            let (_, cpu_err) = case_error(cpu, &spec, seed, bsz)?;
            let row = CaseRow {
                case: name,
                shape: format!("{w}×{m} B={bsz}"),
                backend: backend.name().into(),
                err,
                worst,
                cpu_err,
                pass: err <= (4.0 * cpu_err).max(floor),
            };
            on_row(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The case table as markdown.
pub fn markdown(rows: &[CaseRow]) -> String {
    let mut s = String::from(
        "| backend | case | shape | error vs reference | worst quantity | CPU error | pass |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {:.2e} | {} | {:.2e} | {} |\n",
            r.backend,
            r.case,
            r.shape,
            r.err,
            r.worst,
            r.cpu_err,
            if r.pass { "yes" } else { "**no**" }
        ));
    }
    s
}
