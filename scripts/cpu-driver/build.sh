#!/usr/bin/env bash
# Builds the CPU driver (cuda-cpu, release: the interpreter's speed is the tests' time) and a folder
# in which the loader finds it under the names cudarc dlopens, libcuda.so and libcuda.so.1.
# Prints that folder's path on stdout. Honours CARGO_TARGET_DIR; --quiet keeps cargo quiet.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
quiet=()
[ "${1:-}" = "--quiet" ] && quiet=(--quiet)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build "${quiet[@]}" --release -p cuda-cpu --manifest-path "$root/Cargo.toml" >&2
library=$target/release/libcuda_cpu.so
[ -f "$library" ] || { echo "cpu-driver: $library was not built" >&2; exit 1; }
folder=$target/cuda-cpu-driver
mkdir -p "$folder"
ln -sfn "$library" "$folder/libcuda.so"
ln -sfn "$library" "$folder/libcuda.so.1"
echo "$folder"
