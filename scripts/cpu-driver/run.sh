#!/usr/bin/env bash
# Runs any command with the CPU driver as its CUDA driver: builds the driver if it is out of date and
# puts its folder first on LD_LIBRARY_PATH, so cudarc (which dlopens libcuda.so / libcuda.so.1 through
# the loader's search) gets it instead of a GPU's driver.
#   scripts/cpu-driver/run.sh cargo test --test ops
#   CUDA_CPU_TRACE=1 scripts/cpu-driver/run.sh target/debug/memefuse devices
# CUDA_CPU_DRIVER_DIR=<folder> skips the build and uses a driver folder made earlier by build.sh.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi
folder=${CUDA_CPU_DRIVER_DIR:-$("$(dirname "$0")/build.sh" --quiet)}
export LD_LIBRARY_PATH="$folder${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$@"
