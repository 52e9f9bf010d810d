//! Training steps per second for every condition (width 100/500, batch 32/256), reference vs candle f32,
//! plus the single-thread GEMM peak and the achieved GFLOP/s of a step (2mnk per matmul, forward and
//! backward). Run with `CANDLE_NUM_THREADS=1 RAYON_NUM_THREADS=1` for single-core numbers.

use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use inorm::backend::{make_trainer, Backend};
use inorm::init::init_params;
use inorm::model::{Batch, GradNorm, Hyper, NetSpec, Preset};
use inorm::rng::{SeedRng, Stream};

fn data(rows: usize, dim: usize) -> (Vec<f32>, Vec<u8>) {
    let mut rng = SeedRng::new(1, Stream::Test, 0);
    let x = (0..rows * dim).map(|_| rng.uniform() as f32).collect();
    let y = (0..rows).map(|_| rng.below(10) as u8).collect();
    (x, y)
}

/// Matmul FLOPs of one training step per sample: forward counted by the spec, backward ≈ 2× forward
/// (dW and dX per matmul; the first layer has no dX, the I-Norm inhibitory paths add their local dW).
fn step_flops(spec: &NetSpec) -> f64 {
    3.0 * spec.matmul_flops_forward()
}

fn gemm_peak() -> f64 {
    let dev = Device::Cpu;
    let a = Tensor::ones((512, 512), DType::F32, &dev).unwrap();
    let _ = a.matmul(&a).unwrap();
    let t = Instant::now();
    let reps = 50;
    for _ in 0..reps {
        let _ = a.matmul(&a).unwrap();
    }
    2.0 * 512f64.powi(3) * reps as f64 / t.elapsed().as_secs_f64() / 1e9
}

fn steps(c: &mut Criterion) {
    let peak = gemm_peak();
    eprintln!("GEMM peak (candle f32 512×512×512): {peak:.1} GFLOP/s");
    let hyper = Hyper::sgd(1e-3, 1e-2, 1e-4);
    let mut g = c.benchmark_group("train_step");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    for width in [100usize, 500] {
        for bsz in [32usize, 256] {
            let (x, y) = data(bsz, 784);
            for preset in Preset::ALL {
                let spec = NetSpec::new(preset, width);
                let params = init_params(&spec, 0).unwrap();
                g.throughput(Throughput::Elements(bsz as u64));
                let mut backends = vec![Backend::Fast { f64: false }];
                if width == 100 || preset == Preset::INormGn(GradNorm::Full) {
                    backends.push(Backend::Reference);
                }
                if cfg!(feature = "cuda") {
                    backends.push(Backend::FastCuda { f64: false });
                }
                for be in backends {
                    let mut t = make_trainer(be, spec.clone(), &params).unwrap();
                    let id = format!("{}/{}/n{width}/b{bsz}", be.name(), preset.name());
                    let b = Batch { x: &x, y: &y };
                    // Achieved GFLOP/s, measured once outside criterion for the printed table.
                    let reps = 20;
                    let t0 = Instant::now();
                    for _ in 0..reps {
                        t.train_step(b, &hyper, true).unwrap();
                    }
                    let s = t0.elapsed().as_secs_f64() / reps as f64;
                    let gf = step_flops(&spec) * bsz as f64 / s / 1e9;
                    eprintln!(
                        "{id:50} {:>9.0} samples/s {gf:7.1} GFLOP/s {:5.1}% of peak",
                        bsz as f64 / s,
                        100.0 * gf / peak
                    );
                    g.bench_function(id, |bn| bn.iter(|| t.train_step(b, &hyper, true).unwrap()));
                }
            }
        }
    }
    g.finish();
}

criterion_group!(benches, steps);
criterion_main!(benches);
