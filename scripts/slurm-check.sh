#!/usr/bin/env bash
# Runs the README's SLURM job array under a real SLURM: a one-node cluster on localhost (munged, slurmctld,
# slurmd, all private to a scratch folder), a tiny sweep submitted twice with `sbatch --array` (once with
# `--shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}"` as in the README, once with no --shard and a
# 1-based array, so the shard comes from SLURM's own environment), every task writing into one shared folder;
# then `inorm merge --strict` and `inorm report`, and checks 0 missing / 0 duplicated / 0 lost:
#   missing    cells of the grid with no result (merge)
#   duplicated cells with more than one result file (merge)
#   lost       runs the array tasks say they finished ("N run" in each task's log) that merge did not find,
#              or grid cells no task was given (the shards must partition the grid)
#
# Needs root (it installs Debian's slurm-wlm and munge when missing, and starts the daemons) and the
# Fashion-MNIST files (Debian's dataset-fashion-mnist, installed when missing; or DATA=DIR).
#
# Usage: scripts/slurm-check.sh            (from the repository root; builds target/release/inorm if absent)
# Environment: INORM=path/to/inorm  DATA=fashion-mnist-dir  WORK=scratch-dir (kept)  TIMEOUT=seconds (600)
# Exit status 0 when both arrays completed and every check passed; 1 otherwise (with what failed).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
INORM=${INORM:-$ROOT/target/release/inorm}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
TIMEOUT=${TIMEOUT:-600}
KEEP_WORK=${WORK:+1}
WORK=${WORK:-$(mktemp -d /tmp/inorm-slurm.XXXXXX)}
WORK=$(mkdir -p "$WORK" && cd "$WORK" && pwd)

say() { printf 'slurm-check: %s\n' "$*"; }
die() {
  printf 'slurm-check: error: %s\n' "$*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (installs slurm-wlm/munge and starts munged, slurmctld, slurmd); run it with sudo"

export DEBIAN_FRONTEND=noninteractive
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge (apt-get)"
  apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null
fi
if ! [ -f "$DATA/train-images-idx3-ubyte.gz" ] && ! [ -f "$DATA/train-images-idx3-ubyte" ]; then
  [ "$DATA" = /usr/share/datasets/fashion-mnist ] || die "no Fashion-MNIST files in DATA=$DATA"
  say "installing dataset-fashion-mnist (apt-get)"
  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
if ! [ -x "$INORM" ]; then
  say "building $INORM (cargo build --release)"
  (cd "$ROOT" && cargo build --release --bin inorm)
fi
INORM=$(cd "$(dirname "$INORM")" && pwd)/$(basename "$INORM")

PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" != 0 ]; then
    for f in slurm/slurmctld.log slurm/slurmd.log munge/munged.out; do
      [ -f "$WORK/$f" ] && { echo "--- last lines of $WORK/$f"; tail -n 15 "$WORK/$f"; } >&2
    done
  fi
  if [ -z "$KEEP_WORK" ] && [ "$rc" = 0 ]; then rm -rf "$WORK"; fi
  [ "$rc" = 0 ] || say "failed; logs and results kept in $WORK" >&2
}
trap cleanup EXIT

# --- munge: a private key and socket, so nothing of the host's munge setup is touched.
mkdir -p "$WORK/munge" "$WORK/slurm/state" "$WORK/slurm/spool" "$WORK/shared"
chmod 711 "$WORK" "$WORK/munge"
head -c 1024 /dev/urandom >"$WORK/munge/munge.key"
chmod 600 "$WORK/munge/munge.key"
SOCK=$WORK/munge/munge.socket
munged -F -f --socket="$SOCK" --key-file="$WORK/munge/munge.key" --pid-file="$WORK/munge/munged.pid" \
  --seed-file="$WORK/munge/munged.seed" --log-file="$WORK/munge/munged.log" >"$WORK/munge/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
munge -S "$SOCK" -n | unmunge -S "$SOCK" >/dev/null || die "munged does not answer on $SOCK"

# --- slurm.conf for one node with the machine's real CPUs and memory.
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
PORT_CTLD=${SLURMCTLD_PORT:-6817}
PORT_D=${SLURMD_PORT:-6818}
export SLURM_CONF=$WORK/slurm/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=inorm-check
SlurmctldHost=localhost
SlurmctldPort=$PORT_CTLD
SlurmdPort=$PORT_D
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
StateSaveLocation=$WORK/slurm/state
SlurmdSpoolDir=$WORK/slurm/spool
SlurmctldPidFile=$WORK/slurm/slurmctld.pid
SlurmdPidFile=$WORK/slurm/slurmd.pid
SlurmctldLogFile=$WORK/slurm/slurmctld.log
SlurmdLogFile=$WORK/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=check Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -i -f "$SLURM_CONF" >"$WORK/slurm/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >"$WORK/slurm/slurmd.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 60); do
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
  case "$state" in idle*) break ;; esac
  sleep 1
done
[ "${state:-}" = idle ] || die "the node did not come up idle (state '${state:-none}'); see $WORK/slurm/*.log"
say "cluster up: $(sinfo -h -o '%P %a %D node(s) %c CPUs %m MB %T') (slurm $(sinfo -V | awk '{print $2}'))"

# --- the README's array script, with a tiny grid: 2 nets × 2 ε × 3 configs = 12 cells, 1 epoch.
TINY=(--nets ei,inorm-gn-full --eps 0,0.75 --configs 0..3 --epochs 1 --width 10
  --train-size 2000 --test-size 500 --train-eval running)
write_job() { # $1 = job name, $2 = array range, $3 = --shard argument or empty
  cat <<EOF
#!/bin/bash
#SBATCH --job-name=$1
#SBATCH --array=$2
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
#SBATCH --time=00:10:00
#SBATCH --output=$WORK/logs/%x-%a.out
set -e
"$INORM" sweep --out "\$SCRATCH/inorm-tiny" ${TINY[*]} --jobs "\$SLURM_CPUS_PER_TASK" --offline \\
            --data-dir "$DATA" $3
EOF
}
mkdir -p "$WORK/logs"
write_job readme 0-2 '--shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}"' >"$WORK/readme.sbatch"
write_job envshard 1-3 '' >"$WORK/envshard.sbatch"

check_array() { # $1 = job name; every task writes into $SCRATCH/inorm-tiny with SCRATCH=$WORK/shared/$1
  local name=$1 scratch=$WORK/shared/$1 dir=$WORK/shared/$1/inorm-tiny job t0
  mkdir -p "$scratch"
  job=$(SCRATCH=$scratch sbatch --parsable --export=ALL "$WORK/$name.sbatch")
  say "submitted $name as job $job: $(grep -- '--array' "$WORK/$name.sbatch" | cut -d= -f2) into $dir"
  t0=$SECONDS
  while squeue -h -j "$job" 2>/dev/null | grep -q .; do
    if ((SECONDS - t0 > TIMEOUT)); then
      scancel "$job" || true
      die "job $job still queued or running after $TIMEOUT s: $(squeue -h -j "$job" -o '%i %T %R' | tr '\n' ';')"
    fi
    sleep 2
  done
  say "job $job finished after $((SECONDS - t0)) s"
  local ran=0 assigned=0 grid=0 failed=0 f line
  for f in "$WORK"/logs/"$name"-*.out; do
    line=$(grep '^sweep: ' "$f" || true)
    [ -n "$line" ] || die "task log $f has no summary line: $(tail -n 3 "$f" | tr '\n' ' ')"
    say "  $(basename "$f" .out): $line"
    grid=$(sed -E 's/^sweep: ([0-9]+) cells in grid.*/\1/' <<<"$line")
    assigned=$((assigned + $(sed -E 's/.*, ([0-9]+) in shard.*/\1/' <<<"$line")))
    ran=$((ran + $(sed -E 's/.* ([0-9]+) run \(.*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/.*\), ([0-9]+) failed.*/\1/' <<<"$line")))
  done
  local tasks
  tasks=$(ls "$WORK"/logs/"$name"-*.out | wc -l)
  [ "$tasks" = 3 ] || die "$name: expected 3 task logs, found $tasks"
  say "$name: inorm merge --strict"
  local strict=ok
  "$INORM" merge --strict "$dir" >"$WORK/$name-merge.txt" || strict="failed (exit status $?)"
  sed 's/^/    /' "$WORK/$name-merge.txt"
  say "$name: inorm report"
  "$INORM" report "$dir" --data-dir "$DATA" >"$WORK/$name-report.txt"
  sed 's/^/    /' "$WORK/$name-report.txt" | tail -n 4
  [ -f "$dir/report/report.md" ] || die "$name: report did not write $dir/report/report.md"
  local first found missing dups
  first=$(head -n 1 "$WORK/$name-merge.txt")
  found=$(sed -E 's/^([0-9]+) result.*/\1/' <<<"$first")
  missing=$(sed -E 's/.*; ([0-9]+) missing.*/\1/' <<<"$first")
  dups=$(sed -E 's/.*, ([0-9]+) duplicated.*/\1/' <<<"$first")
  local lost=$((ran - found + grid - assigned))
  say "$name: $found of $grid cells, $missing missing, $dups duplicated, $lost lost ($ran run by 3 tasks, $assigned assigned), $failed failed; merge --strict $strict"
  [ "$strict" = ok ] && [ "$missing" = 0 ] && [ "$dups" = 0 ] && [ "$lost" = 0 ] && [ "$failed" = 0 ] &&
    [ "$found" = "$grid" ] && [ "$grid" = 12 ] || die "$name: the sweep under SLURM is not complete"
}

check_array readme
check_array envshard
say "OK: both arrays complete under a real SLURM (0 missing, 0 duplicated, 0 lost)"
