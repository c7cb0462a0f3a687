#!/usr/bin/env bash
# Mutation check of the CPU driver: do the GPU parity tests, run on it, catch plausible kernel bugs?
#
# Each mutation below is one small edit of a copy of kernels/ (a removed __syncthreads, a missing
# cp.async wait, swapped fragment registers, a dropped tail element, a wrong swizzle...). For each:
# the copy is edited, the edited module is compiled to PTX with build.rs's nvcc flags, and the parity
# test of that kernel family runs on the CPU driver with CUDA_CPU_PTX_REPLACE pointing at it (the
# driver loads the mutated PTX in place of the one the test binary embeds, so nothing is rebuilt).
# A mutation is "caught" when the test fails. Each module is first compiled unmutated and its
# test must pass that way (the baseline), so a failure is the mutation's doing.
#
#   scripts/cpu-driver/mutate.sh [REPORT.md]     (default: target/cuda-cpu-mutations.md)
#   MUTATIONS="gemm-no-wait softmax-tail" scripts/cpu-driver/mutate.sh    (a subset, by name)
#
# Needs nvcc (NVCC, or the pinned PyPI toolchain of .ci/run) and builds the driver and the test
# binaries it uses. Exits non-zero when a mutation is missed or a baseline fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
report=${1:-$target/cuda-cpu-mutations.md}
work=$(mktemp -d "${TMPDIR:-/tmp}/cuda-cpu-mutate.XXXXXX")
trap 'rm -rf "$work"' EXIT

nvcc=${NVCC:-$(ls "${MEMEFUSE_CUDA_VENV:-$HOME/.cache/memefuse-cuda}"/lib/python3*/site-packages/nvidia/cu13/bin/nvcc 2>/dev/null | head -1)}
[ -x "$nvcc" ] || { echo "mutate: nvcc not found (set NVCC)" >&2; exit 1; }
export CUDA_CPU_DRIVER_DIR=$("$root/scripts/cpu-driver/build.sh" --quiet)

# Cheap families first, the GEMM (whose module takes minutes to compile) last.
# name | file in kernels/ | module compiled (kernels/MODULE.cu) | test binary | test name filter | what the bug is
# The edit itself (text before → after, first occurrence) is in mutation_edit below.
MUTATION_TABLE='
reduce-no-first-barrier|common.cuh|softmax|ops|softmax_and_log_softmax|block_reduce: the barrier before scratch is rewritten is removed (two reductions in a row race)
reduce-no-second-barrier|common.cuh|reduce|ops|reductions_over_an_axis_and_everything|block_reduce: the barrier between writing and reading the per-warp partials is removed
reduce-shuffle-width|common.cuh|reduce|ops|reductions_over_an_axis_and_everything|block_reduce: the warp shuffle starts at offset 8 instead of 16 (half a warp reduced)
grid-stride|common.cuh|elementwise|ops|binary_ops_with_broadcasting|GRID_STRIDE_LOOP steps by blockDim.x instead of blockDim.x·gridDim.x (elements done several times)
softmax-tail|softmax.cu|softmax|ops|softmax_and_log_softmax|softmax: the last column of each row is never written (dropped tail element)
argmax-last|reduce.cu|reduce|ops|argmax_matches_on_gpu|argmax: the last element of the axis is never compared (off by one)
reduce-columns-no-barrier|reduce.cu|reduce|ops|reductions_over_an_axis_and_everything|column reduction: the barrier before row lanes are combined is removed
conv-no-wait|conv.cu|conv|conv|gpu_parity_tensor_core_edges|conv forward (tensor cores): cp.async.wait_group leaves one group too many in flight
conv-padding-bound|conv.cu|conv|conv|gpu_parity_tensor_core_edges|conv forward (tensor cores): input rows are taken up to in_h inclusive (off by one at the bottom padding)
conv-wgrad-unswizzled-read|conv.cu|conv|conv|gpu_parity_tensor_core_edges|conv weight gradient (tensor cores): ldmatrix.trans addresses ignore the swizzle
conv-wgrad-tiled-no-barrier|conv.cu|conv|conv|gpu_parity_tensor_core_edges|conv weight gradient (tiled SIMT, f32): the barrier before the tiles are refilled is removed
conv-wgrad-tiled-last-slice|conv.cu|conv|conv|gpu_parity_tensor_core_edges|conv weight gradient (tiled SIMT, f32): the finish drops the last reduction slice (off by one)
conv-wgrad-tiled-padding|conv.cu|conv|conv|gpu_parity_tensor_core_edges|conv weight gradient (tiled SIMT, f32): the right padding column is read as input (iw <= in_w)
lstm-no-barrier|lstm.cu|lstm|lstm|gpu_parity_persistent_and_per_step_kernels|persistent LSTM forward: the barrier between the gate matmul and the cell update is removed
lstm-backward-dropped-part|lstm.cu|lstm|lstm|gpu_parity_persistent_and_per_step_kernels|persistent LSTM backward: the last partial sum of dh is dropped (off by one)
pool-window|pool.cu|pool|pool|max_pool_gradients|max-pool: the 2×2 window compares only 3 taps
embedding-stride|embedding.cu|embedding|embedding|gradient_check_and_gpu_parity|embedding backward: the scan over positions steps by 64 instead of 32 (half the ids skipped)
optim-nonfinite-inf|optim.cu|optim|nn|the_non_finite_check_finds_one_bad_element_among_many_tensors|non-finite check: isnan instead of !isfinite (infinities missed)
norm-dropped-part|norm.cu|norm|layer_norm|gpu_parity_at_odd_sizes|layer norm: the last row part of the weight/bias gradient sum is dropped (off by one)
norm-dx-no-weight|norm.cu|norm|layer_norm|gpu_parity_at_odd_sizes|layer norm backward: dx uses dy instead of dy·weight
norm-params-no-barrier|norm.cu|norm|layer_norm|gpu_parity_at_odd_sizes|layer norm weight gradient: the barrier before the per-row-lane sums are combined is removed
attention-no-rescale|attention.cu|attention|attention|gpu_parity_at_odd_lengths_and_head_dims|attention forward: the accumulator is not rescaled when the running maximum grows
attention-causal-short|attention.cu|attention|attention|gpu_parity_at_odd_lengths_and_head_dims|attention forward: the causal key loop stops one key short (off by one)
attention-dkdv-late-tile|attention.cu|attention|attention|gpu_parity_at_odd_lengths_and_head_dims|attention dk/dv: the causal query loop starts a tile late
attention-no-load-barrier|attention.cu|attention|attention|gpu_parity_at_odd_lengths_and_head_dims|attention forward: the barrier after the K/V tile loads is removed
attention-dq-no-delta|attention.cu|attention|attention|gpu_parity_at_odd_lengths_and_head_dims|attention dq: ds uses do·v instead of do·v − delta
attention-dkdv-no-mask|attention.cu|attention|attention|gpu_parity_at_odd_lengths_and_head_dims|attention dk/dv: the key-padding mask is ignored
gemm-no-wait|gemm.cu|gemm|gemm|batched_and_broadcast|tensor-core GEMM: cp.async.wait_group leaves one group too many in flight (a stage read before it lands)
gemm-no-barrier|gemm.cu|gemm|gemm|batched_and_broadcast|tensor-core GEMM: the __syncthreads after the wait is removed
gemm-unswizzled-store|gemm.cu|gemm|gemm|batched_and_broadcast|tensor-core GEMM: tiles are stored without the XOR swizzle but read with it
gemm-unswizzled-read|gemm.cu|gemm|gemm|batched_and_broadcast|tensor-core GEMM: ldmatrix addresses ignore the XOR swizzle the stores used
gemm-swapped-b-fragments|gemm.cu|gemm|gemm|batched_and_broadcast|tensor-core GEMM: the two B fragment registers from ldmatrix are swapped
gemm-swapped-accumulator-rows|gemm.cu|gemm|gemm|batched_and_broadcast|tensor-core GEMM: accumulator registers d0,d1 and d2,d3 (rows g and g+8) are stored swapped
gemm-dropped-k-tail|gemm.cu|gemm|gemm|batched_and_broadcast|tensor-core GEMM: the last, partial k-tile is dropped (k / 32 tiles)
gemm-simt-no-barrier|gemm.cu|gemm|gemm|batched_and_broadcast|fp32 GEMM: the barrier before the tiles are refilled is removed
split-k-last-slice|gemm.cu|gemm|gemm|every_transpose_case|split-K finish: the last slice is not added (off by one)
'

# Applies mutation $1 to the kernels copy in $2; prints nothing, fails if its text is not found.
mutation_edit() {
  local name=$1 dir=$2
  python3 - "$name" "$dir" <<'PY'
import sys, pathlib
name, folder = sys.argv[1], pathlib.Path(sys.argv[2])
EDITS = {
  "reduce-no-first-barrier": ("common.cuh", "    __syncthreads();  // scratch may still be read by a previous reduction\n", ""),
  "reduce-no-second-barrier": ("common.cuh", "    if (lane == 0) scratch[warp] = v;\n    __syncthreads();\n", "    if (lane == 0) scratch[warp] = v;\n"),
  "reduce-shuffle-width": ("common.cuh", "    for (int offset = 16; offset > 0; offset >>= 1) v = combine(v, __shfl_xor_sync(0xffffffff, v, offset));\n    __syncthreads();", "    for (int offset = 8; offset > 0; offset >>= 1) v = combine(v, __shfl_xor_sync(0xffffffff, v, offset));\n    __syncthreads();"),
  "grid-stride": ("common.cuh", "i += (size_t)blockDim.x * gridDim.x)", "i += (size_t)blockDim.x)"),
  "norm-dropped-part": ("norm.cu", "p < parts; ++p", "p + 1 < parts; ++p"),
  "norm-dx-no-weight": ("norm.cu", "const float d = to_float(dy[base + c]) * to_float(weight[c]);\n        const float x_hat", "const float d = to_float(dy[base + c]);\n        const float x_hat"),
  "norm-params-no-barrier": ("norm.cu", "    __syncthreads();\n    if (threadIdx.y == 0", "    if (threadIdx.y == 0"),
  "attention-no-rescale": ("attention.cu", "for (int t = 0; t < ATTN_PER_LANE; ++t) accumulator[t] *= rescale;", ""),
  "attention-causal-short": ("attention.cu", "min(s.key_len, last_query + 1) : s.key_len;", "min(s.key_len, last_query) : s.key_len;"),
  "attention-dkdv-late-tile": ("attention.cu", "first_key / ATTN_TILE * ATTN_TILE : 0;", "(first_key + ATTN_TILE - 1) / ATTN_TILE * ATTN_TILE : 0;"),
  "attention-no-load-barrier": ("attention.cu", "load_rows(values, d, v_bh, tile, ATTN_TILE, s.key_len, d);\n        __syncthreads();", "load_rows(values, d, v_bh, tile, ATTN_TILE, s.key_len, d);"),
  "attention-dq-no-delta": ("attention.cu", "(dp - row_delta)", "(dp)"),
  "attention-dkdv-no-mask": ("attention.cu", "query < s.query_len && attention_allowed(s, mask, batch, query, key);", "query < s.query_len && attention_allowed(s, nullptr, batch, query, key);"),
  "gemm-no-wait": ("gemm.cu", "cp_async_wait<STAGES - 2>();", "cp_async_wait<STAGES - 1>();"),
  "gemm-no-barrier": ("gemm.cu", "        __syncthreads();  // k-tile visible to all threads", "        // (barrier removed)"),
  "gemm-unswizzled-store": ("gemm.cu", "T* dst = tile + row * COLS + swizzled_chunk<COLS>(row, chunk) * 8;", "T* dst = tile + row * COLS + chunk * 8;"),
  "gemm-unswizzled-read": ("gemm.cu", "return row * COLS + swizzled_chunk<COLS>(row, col / 8) * 8;", "return row * COLS + (col / 8) * 8;"),
  "gemm-swapped-b-fragments": ("gemm.cu", "                b_frag[j][0] = r[0];\n                b_frag[j][1] = r[1];", "                b_frag[j][0] = r[1];\n                b_frag[j][1] = r[0];"),
  "gemm-swapped-accumulator-rows": ("gemm.cu", "store_pair<T>(p, c_batch_offset, row, col, acc[i][j][0], acc[i][j][1]);\n            store_pair<T>(p, c_batch_offset, row + 8, col, acc[i][j][2], acc[i][j][3]);", "store_pair<T>(p, c_batch_offset, row, col, acc[i][j][2], acc[i][j][3]);\n            store_pair<T>(p, c_batch_offset, row + 8, col, acc[i][j][0], acc[i][j][1]);"),
  "gemm-dropped-k-tail": ("gemm.cu", "const int k_tiles = (k + BLOCK_K - 1) / BLOCK_K;", "const int k_tiles = k / BLOCK_K;"),
  "gemm-simt-no-barrier": ("gemm.cu", "        __syncthreads();\n    }\n\n    const size_t c_batch_offset", "    }\n\n    const size_t c_batch_offset"),
  "split-k-last-slice": ("gemm.cu", "for (unsigned int s = 0; s < splits; ++s)", "for (unsigned int s = 0; s + 1 < splits; ++s)"),
  "softmax-tail": ("softmax.cu", "            if (c < cols) {\n                float shifted", "            if (c + 1 < cols) {\n                float shifted"),
  "argmax-last": ("reduce.cu", "for (size_t r = 1; r < reduced; ++r)", "for (size_t r = 1; r + 1 < reduced; ++r)"),
  "reduce-columns-no-barrier": ("reduce.cu", "        lanes[threadIdx.y][threadIdx.x] = acc;\n        __syncthreads();\n", "        lanes[threadIdx.y][threadIdx.x] = acc;\n"),
  "conv-no-wait": ("conv.cu", "cp_async_wait<TC_STAGES - 2>();  // tile kt has landed", "cp_async_wait<TC_STAGES - 1>();  // tile kt has landed"),
  "conv-padding-bound": ("conv.cu", "a_row_valid[i] && ih >= 0 && ih < g.in_h", "a_row_valid[i] && ih >= 0 && ih <= g.in_h"),
  "conv-wgrad-unswizzled-read": ("conv.cu", "ldmatrix_x4_trans(a_frag[mi], a_tile + swizzle_n128(row, chunk));", "ldmatrix_x4_trans(a_frag[mi], a_tile + row * TC_BM + chunk * 8);"),
  "conv-wgrad-tiled-no-barrier": ("conv.cu", "        __syncthreads();  // the tiles are refilled next step", "        // (barrier removed)"),
  "conv-wgrad-tiled-last-slice": ("conv.cu", "for (int z = 0; z < slices; ++z) sum +=", "for (int z = 0; z + 1 < slices; ++z) sum +="),
  "conv-wgrad-tiled-padding": ("conv.cu", "if (load_j < taps && ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w)", "if (load_j < taps && ih >= 0 && ih < g.in_h && iw >= 0 && iw <= g.in_w)"),
  "lstm-no-barrier": ("lstm.cu", "        __syncthreads();\n        // Phase 2: c = f·c + i·g", "        // Phase 2: c = f·c + i·g"),
  "lstm-backward-dropped-part": ("lstm.cu", "for (unsigned int part = 0; part < parts; ++part) sum +=", "for (unsigned int part = 0; part + 1 < parts; ++part) sum +="),
  "pool-window": ("pool.cu", "for (int window = 1; window < 4; ++window)", "for (int window = 1; window < 3; ++window)"),
  "embedding-stride": ("embedding.cu", "base < positions && seen < occurrences; base += 32)", "base < positions && seen < occurrences; base += 64)"),
  "optim-nonfinite-inf": ("optim.cu", "bad |= !isfinite(t.values[i]);", "bad |= isnan(t.values[i]);"),
}
file, before, after = EDITS[name]
path = folder / file
text = path.read_text()
if before not in text:
    sys.exit(f"mutation {name}: its text is not in kernels/{file} any more (update mutate.sh)")
path.write_text(text.replace(before, after, 1))
PY
}

compile_module() {  # kernels dir, module, output .ptx: build.rs's flags
  "$nvcc" -ptx -arch=sm_80 -O3 -std=c++17 -lineinfo "-I$1" -o "$3" "$1/$2.cu"
}

declare -A binaries
test_binary() {  # the path of tests/$1.rs's test executable, built once
  if [ -z "${binaries[$1]:-}" ]; then
    binaries[$1]=$(cargo test --quiet --test "$1" --no-run --message-format=json 2>/dev/null \
      | python3 -c 'import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])' | tail -1)
  fi
  echo "${binaries[$1]}"
}

# Runs test $2 of binary $1 on the CPU driver with module PTX $3 in place of the embedded one.
run_test() {
  CUDA_CPU_PTX_REPLACE=$3 timeout "${MUTATION_TIMEOUT:-600}" "$root/scripts/cpu-driver/run.sh" "$1" --exact "$2" --test-threads 1 >"$4" 2>&1
}

selected=${MUTATIONS:-}
declare -A baseline
{
  echo "| mutation | kernel file | test | result | first sign |"
  echo "|---|---|---|---|---|"
} >"$work/table.md"
missed=0
while IFS='|' read -r name file module binary filter what; do
  [ -n "$name" ] || continue
  if [ -n "$selected" ] && [[ " $selected " != *" $name "* ]]; then continue; fi
  test_binary "$binary" >/dev/null   # in this shell, so the path is remembered
  executable=${binaries[$binary]}
  key="$module/$binary/$filter"
  if [ -z "${baseline[$key]:-}" ]; then
    rm -rf "$work/clean" && cp -r kernels "$work/clean"
    compile_module "$work/clean" "$module" "$work/clean.ptx"
    if run_test "$executable" "$filter" "$work/clean.ptx" "$work/baseline.log"; then
      baseline[$key]=pass
    else
      baseline[$key]=fail
      echo "mutate: baseline FAILS: tests/$binary.rs $filter with unmutated $module.cu (log below)" >&2
      tail -20 "$work/baseline.log" >&2
    fi
  fi
  if [ "${baseline[$key]}" != pass ]; then
    echo "| $name: $what | $file | $binary::$filter | baseline fails, not judged | |" >>"$work/table.md"
    missed=$((missed + 1))
    continue
  fi
  rm -rf "$work/mutant" && cp -r kernels "$work/mutant"
  mutation_edit "$name" "$work/mutant"
  compile_module "$work/mutant" "$module" "$work/mutant.ptx"
  start=$(date +%s)
  if run_test "$executable" "$filter" "$work/mutant.ptx" "$work/mutant.log"; then
    result="**MISSED** (test passed)"
    missed=$((missed + 1))
    sign=""
  else
    result="caught in $(( $(date +%s) - start )) s"
    # The driver's own report when a checker tripped, else the test's panic message.
    sign=$(grep -m1 -E "^cuda-cpu: CUDA_ERROR|panicked at|relative error|NaN in result" "$work/mutant.log" \
      | sed -E 's/^.*cuda-cpu: //; s/\|/\\|/g' | cut -c1-160 || true)
    if grep -q "panicked at" <<<"$sign"; then
      sign=$(grep -m1 -A1 "panicked at" "$work/mutant.log" | tail -1 | sed 's/|/\\|/g' | cut -c1-160)
    fi
  fi
  echo "mutate: $name: $result" >&2
  echo "| $name: $what | $file | $binary::$filter | $result | $sign |" >>"$work/table.md"
done <<<"$MUTATION_TABLE"

mkdir -p "$(dirname "$report")"
cp "$work/table.md" "$report"
echo "mutate: table in $report ($missed not caught)" >&2
[ "$missed" -eq 0 ]
