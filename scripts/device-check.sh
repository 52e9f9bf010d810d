#!/usr/bin/env bash
# Device check of the GPU path, for a machine with an NVIDIA GPU (H200), CUDA and no Rust toolchain.
# Takes a binary built elsewhere with scripts/cuda-build.sh (`--features cuda`) and runs, writing JSON and
# markdown to $OUT (default ./device-check-out):
#   1. the case table of every condition on fast-cuda and fast-cuda-f64 against the f64 reference
#      (inorm backend-check; cases.{json,md});
#   2. the GPU benchmarks: samples/s per condition at widths 100/500, batch 32/256, K = 1, 10, 100
#      networks in lockstep, and the projected wall time of the paper's full protocol on one GPU
#      (inorm bench; bench-k1-10/ and bench-k100/, each bench.{json,md});
#   3. summary.md: the machine (nvidia-smi), the binary's libraries, both tables.
# Budget: under 8 minutes on an H200 (each step has a time limit; a step that runs out is reported).
#
# Rehearsal on a CPU-only machine: `scripts/device-check.sh --cpu [BINARY]` runs the same steps on the CPU
# backends (fast, fast-f64) with a reduced grid (widths 100, batch 32, K = 1, 10), end to end.
#
# Usage: scripts/device-check.sh [--cpu] [BINARY]   (BINARY default: target/cuda/release/inorm, or
# target/release/inorm with --cpu)
set -uo pipefail
MODE=gpu
if [ "${1:-}" = --cpu ]; then MODE=cpu; shift; fi
if [ "$MODE" = gpu ]; then BIN=${1:-target/cuda/release/inorm}; else BIN=${1:-target/release/inorm}; fi
OUT=${OUT:-./device-check-out}
mkdir -p "$OUT"
LOG=$OUT/device-check.log
: > "$LOG"
t0=$(date +%s)
say() { echo "$*" | tee -a "$LOG" >&2; }

[ -x "$BIN" ] || { say "error: binary $BIN not found or not executable (build it with scripts/cuda-build.sh and carry target/cuda/release/inorm)"; exit 2; }

{
  echo "# inorm device check ($MODE)"
  echo
  echo "date: $(date -u +%FT%TZ), host: $(hostname), binary: $BIN ($($BIN --version 2>/dev/null))"
  echo
  if command -v nvidia-smi >/dev/null 2>&1; then
    echo '```'
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
    nvidia-smi 2>&1 | sed -n '1,4p'
    echo '```'
  else
    echo "nvidia-smi: not found"
  fi
  echo
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
} > "$OUT/summary.md"

if [ "$MODE" = gpu ]; then
  missing=$(ldd "$BIN" 2>&1 | grep 'not found' || true)
  {
    echo
    echo "libraries of the binary:"
    echo '```'
    ldd "$BIN" 2>&1 | grep -E 'cuda|cublas|curand|nvrtc|not found'
    echo '```'
  } >> "$OUT/summary.md"
  if [ -n "$missing" ]; then
    say "error: the binary needs libraries this machine does not have:"
    say "$missing"
    say "fix: put the CUDA 13 libraries (libcublas.so.13, libcublasLt.so.13, libcurand.so.10, libnvrtc.so.13) on LD_LIBRARY_PATH, e.g. pip install nvidia-cublas nvidia-curand nvidia-cuda-nvrtc and add .../nvidia/cu13/lib"
    exit 3
  fi
  BACKENDS=fast-cuda,fast-cuda-f64
  BENCH_BACKEND=fast-cuda
  BENCH_COMMON=(--widths 100,500 --batch 32,256 --seconds 0.25 --jobs 1)
  BENCH_KS=(1,10 100)
  CHECK_LIMIT=150; BENCH_LIMIT=150
else
  BACKENDS=fast,fast-f64
  BENCH_BACKEND=fast
  BENCH_COMMON=(--widths 100 --batch 32 --seconds 0.3)
  BENCH_KS=(1,10)
  CHECK_LIMIT=300; BENCH_LIMIT=300
fi

status=0
say "1/2 case table on $BACKENDS (limit ${CHECK_LIMIT}s)"
timeout "$CHECK_LIMIT" "$BIN" backend-check --backend "$BACKENDS" --out "$OUT" >> "$LOG" 2>&1
rc=$?
if [ $rc -ne 0 ]; then say "case table: exit $rc (124 = ran out of time; 1 = a case failed; see $LOG)"; status=1; fi

# One bench call per K list, each with its own time limit and output folder, so that a slow K = 100 cannot
# take the K = 1, 10 results with it.
for ks in "${BENCH_KS[@]}"; do
  say "2/2 benchmarks on $BENCH_BACKEND ${BENCH_COMMON[*]} --k $ks (limit ${BENCH_LIMIT}s)"
  timeout "$BENCH_LIMIT" "$BIN" bench --backend "$BENCH_BACKEND" "${BENCH_COMMON[@]}" --k "$ks" \
    --out "$OUT/bench-k${ks//,/-}" >> "$LOG" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then say "bench --k $ks: exit $rc (124 = ran out of time; see $LOG)"; status=1; fi
done

{
  echo
  echo "## Case table"
  echo
  cat "$OUT/cases.md" 2>/dev/null || echo "(no case table: see device-check.log)"
  echo
  echo "## Benchmarks and projection"
  echo
  for ks in "${BENCH_KS[@]}"; do
    echo "### K = $ks"
    echo
    cat "$OUT/bench-k${ks//,/-}/bench.md" 2>/dev/null || echo "(no benchmark: see device-check.log)"
    echo
  done
  echo
  echo "total: $(( $(date +%s) - t0 )) s, status $status"
} >> "$OUT/summary.md"
say "done in $(( $(date +%s) - t0 )) s; results in $OUT (summary.md, cases.*, bench-k*/bench.*)"
exit $status
