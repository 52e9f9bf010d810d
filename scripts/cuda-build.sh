#!/usr/bin/env bash
# Builds inorm with `--features cuda` on a machine without a GPU (CI or a laptop): installs nvcc, the CUDA
# headers and the link-time libraries from the Python package index (CUDA 13 wheels: the CUDA 12 nvcc wheel
# ships no nvcc binary), links the driver library against a generated stub (no wheel has libcuda; the real
# one is found at run time on the GPU machine), then runs
#   cargo build --release --features cuda        (binary: target/cuda/release/inorm)
#   cargo test --release --features cuda --no-run
# in a separate target folder (target/cuda), so the CPU build is not invalidated.
#
# Environment: INORM_CUDA_PREFIX (default ~/.cache/inorm-cuda: wheels, stub), CUDA_COMPUTE_CAP (default 90:
# H100/H200; nothing to detect without a GPU), CARGO_BUILD_JOBS (default 2), INORM_CUDA_SKIP_TESTS=1 to skip
# the `--no-run` test build. Build times: docs/gpu.md.
#
# The binary needs at run time: an NVIDIA driver that supports CUDA 13 (R580 or newer) and the CUDA 13
# libraries libcublas.so.13, libcublasLt.so.13, libcurand.so.10, libnvrtc.so.13 on the library path
# (scripts/device-check.sh checks this first and says what is missing).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${INORM_CUDA_PREFIX:-$HOME/.cache/inorm-cuda}
PY=$PREFIX/py
TK=$PY/nvidia/cu13
t0=$(date +%s)

if ! [ -x "$TK/bin/nvcc" ]; then
  echo "installing the CUDA 13 toolkit wheels into $PY" >&2
  python3 -m pip install --quiet --target "$PY" \
    nvidia-cuda-nvcc nvidia-nvvm nvidia-cuda-crt nvidia-cuda-runtime nvidia-cuda-cccl \
    nvidia-cublas nvidia-curand nvidia-cuda-nvrtc
fi
[ -x "$TK/bin/nvcc" ] || { echo "error: nvcc not found at $TK/bin/nvcc after pip install; check the wheel layout (pip show -f nvidia-cuda-nvcc)" >&2; exit 1; }

# The wheels ship versioned libraries only; the linker wants libX.so.
for f in "$TK"/lib/lib*.so.*; do
  base=$(basename "$f"); plain=${base%%.so.*}.so
  [ -e "$TK/lib/$plain" ] || ln -s "$base" "$TK/lib/$plain"
done
# nvcc from the wheels looks for nvvm next to bin/ (the nvvm wheel installs it into the same cu13 tree).
[ -d "$TK/nvvm" ] || { echo "error: $TK/nvvm missing (nvidia-nvvm wheel)" >&2; exit 1; }

# libcuda stub: every cu* entry point named in cuda.h, returning CUDA_ERROR_UNKNOWN; soname libcuda.so.1 so
# the binary loads the real driver library on the GPU machine.
STUB=$PREFIX/stubs
if ! [ -f "$STUB/libcuda.so" ]; then
  mkdir -p "$STUB"
  grep -ohE '\bcu[A-Z][A-Za-z0-9_]*\b' "$TK"/include/cuda.h "$TK"/include/cudaProfilerTypedefs.h 2>/dev/null \
    | sort -u | awk '{print "int " $1 "(void) { return 999; }"}' > "$STUB/libcuda_stub.c"
  cc -shared -fPIC -o "$STUB/libcuda.so" -Wl,-soname,libcuda.so.1 "$STUB/libcuda_stub.c"
fi

export CUDA_ROOT=$TK CUDA_PATH=$TK CUDA_HOME=$TK
export PATH=$TK/bin:$PATH
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
# cudarc 0.19 knows toolkits up to 13.4; the 13.5 wheels are API-compatible with it.
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13040}
export LIBRARY_PATH=$TK/lib:$STUB${LIBRARY_PATH:+:$LIBRARY_PATH}
export LD_LIBRARY_PATH=$TK/lib:$STUB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,--no-as-needed -C link-arg=-L$STUB -C link-arg=-L$TK/lib"
JOBS=${CARGO_BUILD_JOBS:-2}
TARGET=${INORM_CUDA_TARGET_DIR:-target/cuda}

cd "$ROOT"
nice -n 19 cargo build --release --features cuda --target-dir "$TARGET" -j "$JOBS"
t1=$(date +%s)
echo "cuda build: $((t1 - t0)) s (binary: $TARGET/release/inorm)" >&2
if [ "${INORM_CUDA_SKIP_TESTS:-0}" != 1 ]; then
  nice -n 19 cargo test --release --features cuda --no-run --target-dir "$TARGET" -j "$JOBS"
  echo "cuda test build (--no-run): $(( $(date +%s) - t1 )) s" >&2
fi
echo "needed at run time:" >&2
ldd "$TARGET"/release/inorm | grep -E 'cuda|cublas|curand|nvrtc' >&2 || true
