//! `inorm bench`: training throughput at the paper's shapes and the projected wall time of the paper's
//! protocol (paper/model.md §12: 10 conditions × 4 ε × 30 configurations × 50 epochs × 60,000 images) and of
//! the targeted set (E LN+ and the five GradNorm variants × ε ∈ {0, 0.75} × 30 configurations), with the
//! ratio to the GEMM-peak floor (the protocol's matmul FLOPs at the GEMM peak measured in the same run).
//!
//! A cell is (condition, width, batch, K): K networks of that condition and width stepped together
//! ([`crate::fast::LockstepNet`]); K = 1 is a single network. Each cell times training steps (with the
//! alignment diagnostics when `diag`, as the figures need them) and evaluation passes (batch
//! [`crate::train::EVAL_BATCH`]), both on synthetic data of the real input size. The projection fits, per
//! condition, the time per sample as `a + b·FLOPs` over the measured widths and sums it over the 30
//! configurations' widths; `jobs` runs (or lockstep groups) share the machine, each on one core. On the
//! CPU with more than one job, the GEMM peak and one training cell are also measured with all jobs running
//! at once ([`SideBySide`]), and the projections use those: parallel runs slow each other down (shared
//! caches, memory bandwidth, clock), so `jobs ×` the speed of one run alone overstates the machine.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use crate::backend::{make_trainer, Backend};
use crate::error::{Error, Result};
use crate::fast::cuda_device;
use crate::init::init_params;
use crate::model::{Batch, GradNorm, Hyper, NetSpec, Preset, PAPER_CONFIGS};
use crate::rng::{SeedRng, Stream};
use crate::train::lockstep::eval_rows;
use crate::train::{diag_step, DIAG_EVERY, EVAL_BATCH};

/// The projection of the protocol from the measured cells, and the report as markdown.
mod report;
pub use report::{markdown, project};

/// Images per training epoch and per evaluation pass of the paper's protocol.
const TRAIN_IMAGES: f64 = 60_000.0;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOpts {
    /// `fast`, `fast-f64`, `fast-cuda` or `fast-cuda-f64` (the reference is not benchmarked).
    pub backend: Backend,
    /// Conditions (default: all ten).
    pub presets: Vec<Preset>,
    /// Hidden widths; default: the stratified sample of the 30 configurations' widths (smallest, median,
    /// largest; quick: smallest and largest).
    pub widths: Vec<usize>,
    /// Batch sizes (32 is the paper's).
    pub batches: Vec<usize>,
    /// Networks per lockstep group (1 = a single network).
    pub ks: Vec<usize>,
    /// Compute the alignment diagnostics (the figures need them).
    pub diag: bool,
    /// On every `diag_every`-th step and each epoch's last (of 60,000 / batch steps), as
    /// [`crate::train::TrainConfig::diag_every`]; 1: every step.
    pub diag_every: usize,
    /// Time per measurement (seconds), training and evaluation each.
    pub seconds: f64,
    /// Parallel runs (CPU: one per core) used by the projection.
    pub jobs: usize,
    /// The full-training-set evaluation pass every epoch (faithful `--train-eval full`).
    pub train_eval_full: bool,
}

impl BenchOpts {
    /// The stratified default for `backend`; `quick` measures 2 widths for 0.3 s each.
    pub fn new(backend: Backend, quick: bool) -> BenchOpts {
        let mut widths: Vec<usize> = PAPER_CONFIGS.iter().map(|c| c.width).collect();
        widths.sort_unstable();
        let widths = if quick {
            vec![widths[0], widths[29]]
        } else {
            vec![widths[0], widths[15], widths[29]]
        };
        BenchOpts {
            backend,
            presets: Preset::ALL.to_vec(),
            widths,
            batches: vec![32],
            ks: vec![1],
            diag: true,
            diag_every: DIAG_EVERY,
            seconds: if quick { 0.3 } else { 1.0 },
            jobs: 1,
            train_eval_full: true,
        }
    }
}

/// One measured cell.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CellResult {
    /// Condition name.
    pub preset: String,
    /// Hidden width.
    pub width: usize,
    /// Batch size.
    pub batch: usize,
    /// Networks stepped together.
    pub k: usize,
    /// Training samples per second, all K networks together.
    pub train_samples_per_s: f64,
    /// Evaluation samples per second, all K networks together.
    pub eval_samples_per_s: f64,
    /// Matmul GFLOP/s achieved by the training steps (3× the forward FLOPs per sample).
    pub train_gflops: f64,
    /// Training steps timed.
    pub steps: usize,
    /// Training steps that computed the alignment diagnostics, of the `steps + 1` run (an untimed
    /// warm-up step first): those [`crate::train::diag_step`] picks from the steps of an epoch of the
    /// protocol's 60,000 images at this batch size, counted from the epoch's first step; 0 with the
    /// diagnostics off.
    pub diagnosed_steps: usize,
}

/// A projected wall time.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Projection {
    /// `full protocol` or `targeted set`.
    pub name: String,
    /// Lockstep group size K used (1 = single runs).
    pub k: usize,
    /// Runs.
    pub runs: usize,
    /// Matmul FLOPs of all runs (training steps and evaluation passes).
    pub flops: f64,
    /// Projected wall seconds with `jobs` parallel runs.
    pub projected_s: f64,
    /// FLOPs / (GEMM peak × jobs).
    pub floor_s: f64,
    /// projected / floor.
    pub ratio: f64,
}

/// Everything `inorm bench` prints and writes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchReport {
    /// Backend name.
    pub backend: String,
    /// `cpu` or `cuda:0`.
    pub device: String,
    /// inorm version.
    pub version: String,
    /// Kernel threads per run (RAYON_NUM_THREADS).
    pub threads: String,
    /// Parallel runs assumed by the projections.
    pub jobs: usize,
    /// Alignment diagnostics on.
    pub diag: bool,
    /// Diagnosed steps: every `diag_every`-th and each epoch's last.
    pub diag_every: usize,
    /// Training-set evaluation pass every epoch.
    pub train_eval_full: bool,
    /// GEMM peak of one job (GFLOP/s), measured in this run.
    pub gemm_peak_gflops: f64,
    /// The GEMM shape of the peak.
    pub gemm_shape: String,
    /// The jobs measured side by side (CPU with `jobs` > 1; else `None` and the projections assume
    /// perfect scaling).
    pub side_by_side: Option<SideBySide>,
    /// Measured cells.
    pub cells: Vec<CellResult>,
    /// Projections per K measured at batch 32.
    pub projections: Vec<Projection>,
}

fn device_of(backend: Backend) -> Result<(Device, DType)> {
    match backend {
        Backend::Reference | Backend::ReferenceAutocast => Err(Error::invalid(
            "backend",
            format!(
                "{} (the bench measures the fast path: fast, fast-f64, fast-cuda, fast-cuda-f64, \
                 fast-f16-autocast)",
                backend.name()
            ),
        )),
        Backend::Fast { f64 } => Ok((Device::Cpu, if f64 { DType::F64 } else { DType::F32 })),
        Backend::FastCuda { f64 } => {
            Ok((cuda_device()?, if f64 { DType::F64 } else { DType::F32 }))
        }
        // The GEMM floor of the f16-autocast mode is f32's: its matmuls run in f32 on f16 values.
        Backend::FastAutocast => Ok((Device::Cpu, DType::F32)),
    }
}

/// GEMM peak (GFLOP/s) of `dtype` on `device`: square matmuls of side 512 (CPU) or 4096 (GPU), best of 5.
pub fn gemm_peak(device: &Device, dtype: DType) -> Result<(f64, String)> {
    let side = if device.is_cpu() { 512 } else { 4096 };
    let a = Tensor::ones((side, side), dtype, device)?.affine(0.5, 0.0)?;
    let reps = if device.is_cpu() { 10 } else { 20 };
    let mut best = 0.0f64;
    let _ = a.matmul(&a)?;
    device.synchronize()?;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..reps {
            let _ = a.matmul(&a)?;
        }
        device.synchronize()?;
        let g = 2.0 * (side as f64).powi(3) * reps as f64 / t.elapsed().as_secs_f64() / 1e9;
        best = best.max(g);
    }
    Ok((best, format!("{side}×{side}×{side} {dtype:?}")))
}

/// Matmul FLOPs of one training step per sample: forward, plus ≈ 2× forward for the backward.
pub fn train_flops(spec: &NetSpec) -> f64 {
    3.0 * spec.matmul_flops_forward()
}

fn synthetic(rows: usize, dim: usize, sub: u64) -> (Vec<f32>, Vec<u8>) {
    let mut rng = SeedRng::new(1, Stream::Test, sub);
    let x = (0..rows * dim).map(|_| rng.uniform() as f32).collect();
    let y = (0..rows).map(|_| rng.below(10) as u8).collect();
    (x, y)
}

/// What running `jobs` runs side by side costs each of them, measured in the same bench run: `jobs` worker
/// threads (as `inorm sweep --jobs`), each with one kernel thread, run the same work at the same time.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SideBySide {
    /// Jobs run together.
    pub jobs: usize,
    /// The GEMM peak of one job alone (GFLOP/s) and the mean per job when all run together.
    pub gemm_alone_gflops: f64,
    /// See `gemm_alone_gflops`.
    pub gemm_each_gflops: f64,
    /// The training cell measured: condition, width, batch.
    pub cell: String,
    /// Its training samples/s alone, and the mean per job when all run together.
    pub train_alone: f64,
    /// See `train_alone`.
    pub train_each: f64,
    /// `train_each / train_alone`: what the projections scale the jobs by.
    pub train_efficiency: f64,
}

/// Runs `f(i)` for i in 0..jobs on `jobs` threads at the same time; the results in order.
fn together<T: Send>(jobs: usize, f: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    std::thread::scope(|sc| {
        let f = &f;
        let hs: Vec<_> = (0..jobs).map(|i| sc.spawn(move || f(i))).collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::invalid("bench", "a side-by-side job panicked")))
            })
            .collect()
    })
}

/// Measures [`SideBySide`] on the CPU: the GEMM peak and one batch-32 training cell (GN full, or the first
/// condition, at the middle width), each alone and then `jobs` at once.
fn side_by_side(opts: &BenchOpts, dtype: DType) -> Result<SideBySide> {
    let preset = if opts.presets.contains(&Preset::INormGn(GradNorm::Full)) {
        Preset::INormGn(GradNorm::Full)
    } else {
        opts.presets[0]
    };
    let width = opts.widths[opts.widths.len() / 2];
    let batch = if opts.batches.contains(&32) {
        32
    } else {
        opts.batches[0]
    };
    let spec = NetSpec::new(preset, width);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (alone, _) = gemm_peak(&Device::Cpu, dtype)?;
    let each: Vec<f64> = together(opts.jobs, |_| Ok(gemm_peak(&Device::Cpu, dtype)?.0))?;
    let train_alone = single_cell(opts, &spec, batch)?.0;
    let each_train: Vec<f64> = together(opts.jobs, |_| Ok(single_cell(opts, &spec, batch)?.0))?;
    let train_each = mean(&each_train);
    Ok(SideBySide {
        jobs: opts.jobs,
        gemm_alone_gflops: alone,
        gemm_each_gflops: mean(&each),
        cell: format!("{} n={width} B={batch}", preset.name()),
        train_alone,
        train_each,
        train_efficiency: train_each / train_alone,
    })
}

/// Times `f` (one call = `per_call` samples) for about `seconds` after one warm-up call; returns
/// (samples/s, calls).
fn time_it(
    seconds: f64,
    per_call: usize,
    mut f: impl FnMut() -> Result<()>,
) -> Result<(f64, usize)> {
    f()?;
    let t = Instant::now();
    let mut calls = 0;
    while calls < 3 || t.elapsed().as_secs_f64() < seconds {
        f()?;
        calls += 1;
    }
    Ok(((calls * per_call) as f64 / t.elapsed().as_secs_f64(), calls))
}

/// Which timed steps compute the diagnostics: the steps of a training epoch of the protocol's 60,000
/// images at this batch size, in order, picked as [`diag_step`] picks them.
struct DiagSteps {
    on: bool,
    every: usize,
    per_epoch: usize,
    step: usize,
    /// How many of the steps so far were diagnosed.
    diagnosed: usize,
}

impl DiagSteps {
    fn new(opts: &BenchOpts, batch: usize) -> DiagSteps {
        DiagSteps {
            on: opts.diag,
            every: opts.diag_every,
            per_epoch: (TRAIN_IMAGES as usize).div_ceil(batch),
            step: 0,
            diagnosed: 0,
        }
    }

    fn next(&mut self) -> bool {
        let d = self.on && diag_step(self.step, self.per_epoch, self.every);
        self.step = (self.step + 1) % self.per_epoch;
        self.diagnosed += usize::from(d);
        d
    }
}

/// What one cell measured: train samples/s, timed steps, eval samples/s, diagnosed steps.
type Timings = (f64, usize, f64, usize);

/// One network through [`make_trainer`] (the path `inorm train` takes).
fn single_cell(opts: &BenchOpts, spec: &NetSpec, batch: usize) -> Result<Timings> {
    let params = init_params(spec, 0)?;
    let mut net = make_trainer(opts.backend, spec.clone(), &params)?;
    let mut diag = DiagSteps::new(opts, batch);
    let hyper = Hyper::sgd(1e-3, 1e-3, 1e-4);
    let (x, y) = synthetic(batch, spec.input, 0);
    let (train_sps, steps) = time_it(opts.seconds, batch, || {
        net.train_step(Batch { x: &x, y: &y }, &hyper, diag.next())?;
        Ok(())
    })?;
    let (ex, ey) = synthetic(EVAL_BATCH, spec.input, 100);
    let (eval_sps, _) = time_it(opts.seconds, EVAL_BATCH, || {
        net.evaluate(Batch { x: &ex, y: &ey })?;
        Ok(())
    })?;
    Ok((train_sps, steps, eval_sps, diag.diagnosed))
}

/// K networks in one [`LockstepNet`] (the path `inorm sweep --lockstep K` takes), all starting from the
/// same parameters (the speed does not depend on their values); samples/s of all networks together.
fn lockstep_cell(opts: &BenchOpts, spec: &NetSpec, batch: usize, k: usize) -> Result<Timings> {
    let params = vec![init_params(spec, 0)?; k];
    let mut net = crate::backend::make_lockstep(opts.backend, spec.clone(), &params)?;
    let hyper = vec![Hyper::sgd(1e-3, 1e-3, 1e-4); k];
    let mut diag = DiagSteps::new(opts, batch);
    let data: Vec<_> = (0..k as u64)
        .map(|i| synthetic(batch, spec.input, i))
        .collect();
    let xs: Vec<&[f32]> = data.iter().map(|d| d.0.as_slice()).collect();
    let ys: Vec<&[u8]> = data.iter().map(|d| d.1.as_slice()).collect();
    let (train_sps, steps) = time_it(opts.seconds, batch * k, || {
        for r in net.step(&xs, &ys, &hyper, diag.next())? {
            r?;
        }
        Ok(())
    })?;
    let rows = eval_rows(k, net.device());
    let eval: Vec<_> = (0..k as u64)
        .map(|i| synthetic(rows, spec.input, 100 + i))
        .collect();
    let exs: Vec<&[f32]> = eval.iter().map(|d| d.0.as_slice()).collect();
    let eys: Vec<&[u8]> = eval.iter().map(|d| d.1.as_slice()).collect();
    let (eval_sps, _) = time_it(opts.seconds, rows * k, || {
        net.evaluate(&exs, &eys)?;
        Ok(())
    })?;
    Ok((train_sps, steps, eval_sps, diag.diagnosed))
}

/// Measures one cell.
pub fn measure_cell(
    opts: &BenchOpts,
    preset: Preset,
    width: usize,
    batch: usize,
    k: usize,
) -> Result<CellResult> {
    let spec = NetSpec::new(preset, width);
    let (train_sps, steps, eval_sps, diagnosed_steps) = if k == 1 {
        single_cell(opts, &spec, batch)?
    } else {
        lockstep_cell(opts, &spec, batch, k)?
    };
    Ok(CellResult {
        preset: preset.name(),
        width,
        batch,
        k,
        train_samples_per_s: train_sps,
        eval_samples_per_s: eval_sps,
        train_gflops: train_flops(&spec) * train_sps / 1e9,
        steps,
        diagnosed_steps,
    })
}

/// Runs every cell of `opts`, calling `on_cell` after each, and projects.
pub fn run_bench(opts: &BenchOpts, on_cell: &mut dyn FnMut(&CellResult)) -> Result<BenchReport> {
    if opts.ks.contains(&0) || opts.batches.contains(&0) || opts.jobs == 0 {
        return Err(Error::invalid(
            "bench options",
            "K, batch and jobs must be ≥ 1",
        ));
    }
    let (device, dtype) = device_of(opts.backend)?;
    let (peak, shape) = gemm_peak(&device, dtype)?;
    let mut cells = Vec::new();
    for &k in &opts.ks {
        for &batch in &opts.batches {
            for &width in &opts.widths {
                for &preset in &opts.presets {
                    let c = measure_cell(opts, preset, width, batch, k)?;
                    on_cell(&c);
                    cells.push(c);
                }
            }
        }
    }
    let side = if device.is_cpu() && opts.jobs > 1 {
        Some(side_by_side(opts, dtype)?)
    } else {
        None
    };
    let (efficiency, peak_each) = side
        .as_ref()
        .map_or((1.0, peak), |s| (s.train_efficiency, s.gemm_each_gflops));
    let mut projections = Vec::new();
    for &k in &opts.ks {
        projections.extend(project(
            &cells,
            k,
            opts.jobs,
            efficiency,
            peak_each,
            opts.train_eval_full,
        ));
    }
    Ok(BenchReport {
        backend: opts.backend.name().into(),
        device: crate::fast::device_name(&device),
        version: env!("CARGO_PKG_VERSION").into(),
        threads: std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into()),
        jobs: opts.jobs,
        diag: opts.diag,
        diag_every: opts.diag_every,
        train_eval_full: opts.train_eval_full,
        gemm_peak_gflops: peak,
        gemm_shape: shape,
        side_by_side: side,
        cells,
        projections,
    })
}
