#!/usr/bin/env bash
# memefuse's CPU benches and PyTorch on the CPU at the same shapes and thread count, in one run,
# with the ratios (memefuse / PyTorch; above 1 = memefuse faster).
#
#   scripts/bench/cpu-vs-torch.sh [THREADS=2] [ROUNDS=2] [BENCHES=lstm,conv,linear,elementwise,softmax,layer_norm,vgg16]
#
# Each round runs the criterion benches (RAYON_NUM_THREADS=THREADS), then the PyTorch script
# (torch.set_num_threads(THREADS)), so both see the same machine load; the table shows every round
# and the median ratio. PyTorch is pinned (TORCH_VERSION below) and installed, if missing, into its
# own virtual environment MEMEFUSE_PY (default ~/.cache/memefuse-py, shared with scripts/reference/).
# MEMEFUSE_BENCH_STAT=min compares the fastest sample of each side instead of the medians (for a
# machine shared with other jobs).
set -euo pipefail
threads=${1:-2}
rounds=${2:-2}
benches=${3:-lstm,conv,linear,elementwise,softmax,layer_norm,vgg16}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${MEMEFUSE_PY:-$HOME/.cache/memefuse-py}
TORCH_VERSION=2.15.0

if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    echo "installing torch==$TORCH_VERSION into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "torch==$TORCH_VERSION"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$repo"
for round in $(seq 1 "$rounds"); do
    for bench in ${benches//,/ }; do
        echo "round $round: cargo bench --bench $bench (cpu_, $threads threads)" >&2
        RAYON_NUM_THREADS=$threads cargo bench --quiet --bench "$bench" -- "^cpu_[a-z0-9_]*_f32/" >"$out/criterion-$round-$bench.log" 2>&1 \
            || { cat "$out/criterion-$round-$bench.log" >&2; exit 1; }
    done
    python3 "$here/collect_criterion.py" "$repo/target/criterion" >"$out/ours-$round.json"
    echo "round $round: PyTorch ($threads threads)" >&2
    "$venv/bin/python" "$here/torch_cpu_reference.py" "$threads" "$benches" >"$out/torch-$round.json"
done
python3 "$here/compare.py" "$out" "$rounds"
