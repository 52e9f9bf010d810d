//! The fast path: the networks of every condition on candle-core tensors (f32 by default, f64 available),
//! on the CPU or, with the cargo feature `cuda`, on a GPU. Every backward is written by hand from
//! paper/model.md §2 with tensor ops (candle's autograd is never used on the training path), and every
//! result is checked against the f64 oracle in [`crate::reference`] by the test suite. Every tensor is a
//! stack of K networks ([`LockstepNet`], trained in lockstep); [`FastNet`] is the K = 1 case.
//!
//! | paper/model.md | what | where |
//! |---|---|---|
//! | §2.1–2.6 | layers, local losses, detach map | [`net::LockstepNet`] |
//! | §2.3, §2.7 | LayerNorm backward, GradNorm | [`ops::ln_backward`], [`ops::gradnorm_backward`] |
//! | §4 | cross-entropy with label smoothing (on the device, f64) | [`ops::cross_entropy`] |
//! | §6.1 | SGD groups, Dale clamp (fused, in place on the CPU) | [`ops::sgd_update`] |
//! | §8 | alignment (Gram-matrix cosine), moments | [`ops::gram_cosines`], [`ops::RowStats`] |

pub mod net;
pub mod ops;
pub mod single;

pub use net::LockstepNet;
pub use ops::host_reads;
pub(crate) use single::backend_info;
pub use single::FastNet;

use candle_core::{Device, DeviceLocation};

use crate::error::Result;

/// Sets glibc's malloc thresholds once per process (mmap threshold 32 MiB, trim threshold 256 MiB), so that
/// the megabyte-sized buffers of every step are reused instead of being returned to the OS and faulted in
/// again (measured 1.7–3× on a training step; see the candle notes). A no-op on other platforms.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator tuning parameters; it is called once, before the fast
            // path allocates its tensors, and both values are valid thresholds.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
            }
        });
    }
}

/// Sets the number of kernel threads candle uses: `RAYON_NUM_THREADS` (matmul threads, rayon's global pool)
/// and `CANDLE_NUM_THREADS` (elementwise ops; 1 also switches off candle's spin-waiting BarrierPool).
///
/// **Must be called before the first candle operation** (first thing in `main`): candle and rayon read
/// these variables once, when their thread pools start, and ignore later changes. Batch-32 steps are too
/// small for fork/join (a second thread makes them 30–50 % slower, see docs/engineering.md), so the CLI
/// runs 1 kernel thread per run and gets parallelism from independent runs side by side. `n = 0` is
/// treated as 1.
pub fn set_kernel_threads(n: usize) {
    let n = n.max(1).to_string();
    // Called from the single-threaded start of the program (see above); edition 2021 keeps set_var safe.
    std::env::set_var("RAYON_NUM_THREADS", &n);
    std::env::set_var("CANDLE_NUM_THREADS", &n);
}

/// `cpu`, `cuda:0`, ... for result files.
pub fn device_name(device: &Device) -> String {
    match device.location() {
        DeviceLocation::Cpu => "cpu".into(),
        DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// The first CUDA device. Needs the cargo feature `cuda`; without it this returns an error saying so.
pub fn cuda_device() -> Result<Device> {
    #[cfg(feature = "cuda")]
    {
        Device::new_cuda(0).map_err(|e| {
            crate::error::Error::invalid(
                "device",
                format!(
                    "cannot open CUDA device 0 ({e}); the cuda backends need an NVIDIA GPU and a driver for \
                     CUDA 13 (R580 or newer); on a machine without one use --backend fast or fast-f64"
                ),
            )
        })
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err(crate::error::Error::invalid(
            "device",
            "cuda (inorm was built without the `cuda` cargo feature; rebuild with --features cuda)",
        ))
    }
}
