#!/usr/bin/env bash
# Mutation testing of the verification suite (issue 13 item 1): cargo-mutants over the modules listed in
# .cargo/mutants.toml, with the fast tests only (never the claims:: real-data rerun).
#
# Usage:
#   scripts/mutants.sh                       # everything in scope (long: see README "Mutation testing")
#   scripts/mutants.sh --shard 1/8           # one of 8 slices; run k = 0..7 (on several machines) to cover all
#   scripts/mutants.sh --file src/theorem.rs # one module
#   scripts/mutants.sh --in-diff my.diff     # only mutants in lines a diff touches
#   scripts/mutants.sh --list                # list the mutants without running them
# Any other cargo-mutants argument passes through. Results go to mutants.out/ (outcomes.json,
# caught.txt, missed.txt, unviable.txt, timeout.txt).
#
# Builds go to target/mutants (kept between runs: dependencies are built once) and run at nice 19, one
# mutant at a time, so the machine stays usable.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-mutants >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: run 'cargo install cargo-mutants --locked' (version 27 was used)" >&2
  exit 2
fi
export CARGO_TARGET_DIR="${INORM_MUTANTS_TARGET:-$PWD/target/mutants}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
exec nice -n 19 cargo mutants --jobs 1 "$@"
