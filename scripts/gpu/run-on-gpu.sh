#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, over a bundle made by build-bundle.sh, in this
# order (most important first, so that running out of time loses the least):
#   1. the test binaries with GPU parity tests (the CPU-only ones are CI's: they are listed, not run);
#      a failing test is then rerun alone, and with the reference GEMM, without split-K and with the
#      direct convolutions, one at a time, so the summary already says which path is at fault;
#   2. the criterion benches of the GPU kernels (the loader bench is CPU-only) and the clip-fusion
#      train step at CLIP ViT-B/32's sizes;
#   3. the PyTorch/cuBLAS/cuDNN references for the same shapes, the clip-fusion step in eager PyTorch;
#   4. an end-to-end `memefuse demo --device cuda` (fp16 training of every demo model and VGG16);
#   5. the clip-fusion step under torch.compile (last: its compilation takes minutes), with what is left.
# Writes OUT_DIR/summary.md and every log in OUT_DIR/logs.tar.gz: two files, since the device tool
# brings back at most eight.
#
#   scripts/gpu/run-on-gpu.sh BUNDLE_DIR OUT_DIR [BENCH_SECONDS] [DEADLINE_SECONDS]
#
# DEADLINE_SECONDS (default 480) bounds the whole script: each step gets what is left, less a reserve
# for packing the logs, and steps that no longer fit are reported as skipped. Give the device call a
# timeout above it: a command killed from outside returns no logs.
set -uo pipefail
bundle=$1
out=$2
seconds=${3:-2}
deadline=$(( $(date +%s) + ${4:-480} ))
reserve=15
summary=$out/summary.md
logs=$out/logs
mkdir -p "$logs"

seconds_left() { echo $(( deadline - $(date +%s) - reserve )); }

# capped CAP LOG COMMAND...: runs COMMAND with its output in LOG, for at most CAP seconds and never past
# the deadline; returns its status, 124 on a timeout, 125 when no time was left to start it.
capped() {
  local cap=$1 log=$2 left
  shift 2
  left=$(seconds_left)
  [ "$left" -lt 10 ] && { echo "skipped: out of time" > "$log"; return 125; }
  [ "$left" -lt "$cap" ] && cap=$left
  timeout -k 10 "$cap" "$@" > "$log" 2>&1
}

# verdict STATUS: what a rerun's exit status says.
verdict() {
  case $1 in
    0) echo "passes" ;;
    124) echo "timed out" ;;
    125) echo "not run (out of time)" ;;
    *) echo "fails" ;;
  esac
}

# bisect NAME BINARY: reruns the failing tests of a test binary (the whole binary when it crashed
# before naming any), first alone and unchanged (a failure that does not reproduce alone depends on
# its neighbours), then with one suspect path switched off at a time: a pass names the culprit.
bisect() {
  local name=$1 test=$2 failing test_name switch filter status
  failing=$(grep -E '^test .* FAILED$' "$logs/test-$name.log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' | head -3)
  for test_name in ${failing:-ALL}; do
    filter=(--exact "$test_name"); [ "$test_name" = ALL ] && filter=()
    local log_stem="$logs/bisect-$name-${test_name//:/_}"
    MEMEFUSE_CUDA_SYNC=1 capped 45 "$log_stem-alone.log" "$test" "${filter[@]}" --test-threads=1
    status=$?
    echo "    $test_name alone: $(verdict $status)" >> "$summary"
    [ $status -eq 0 ] && continue
    for switch in MEMEFUSE_MATMUL=reference MEMEFUSE_GEMM_SPLIT_K=0 MEMEFUSE_CONV_DIRECT=1; do
      (export "$switch" MEMEFUSE_CUDA_SYNC=1; capped 45 "$log_stem-${switch%%=*}.log" "$test" "${filter[@]}" --test-threads=1)
      echo "    $test_name with $switch: $(verdict $?)" >> "$summary"
    done
  done
}

finish() {
  tar czf "$out/logs.tar.gz" -C "$out" logs && rm -rf "$logs"
  echo -e "\n(finished with $(( deadline - $(date +%s) )) s of the deadline left)" >> "$summary"
  cat "$summary"
}

{
  echo "# memefuse GPU run"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- commit: $(cat "$bundle/COMMIT" 2>/dev/null || echo unknown)"
  echo "- card: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"
  echo
  echo "## Tests with GPU parity"
} > "$summary"

# The test binaries look for tests/fixtures and target/release/memefuse under the folder they were
# built in; make that folder this checkout (a link) when it is elsewhere here.
manifest=$(cat "$bundle/MANIFEST_DIR")
if [ "$manifest" != "$PWD" ] && [ ! -e "$manifest" ]; then
  mkdir -p "$(dirname "$manifest")" && ln -s "$PWD" "$manifest"
fi
mkdir -p "$manifest/target/release" && cp "$bundle/memefuse" "$manifest/target/release/memefuse"

failed=0
cpu_only=()
to_bisect=()
for test in "$bundle"/tests/*; do
  name=$(basename "$test")
  # A test file that never mentions the GPU has nothing to check here; the library's unit tests
  # (lib-memefuse) have GPU parts of their own.
  if [ "${name#lib-}" = "$name" ] && ! grep -qiE 'gpu|cuda' "tests/$name.rs" 2>/dev/null; then
    cpu_only+=("$name")
    continue
  fi
  # MEMEFUSE_CUDA_SYNC=1 makes a faulting kernel fail the test that launched it; a hung kernel
  # must not eat the whole (short) GPU session, so each binary gets at most 150 s.
  MEMEFUSE_CUDA_SYNC=1 capped 150 "$logs/test-$name.log" "$test" --test-threads=2 --nocapture
  status=$?
  result=$(grep -E '^test result:' "$logs/test-$name.log" | tail -1)
  skipped=$(grep -c 'GPU parity skipped' "$logs/test-$name.log")
  [ $status -eq 124 ] && result="TIMED OUT"
  [ $status -eq 125 ] && result="NOT RUN: out of time"
  echo "- $name: ${result:-no result line} (exit $status; GPU-skip lines: $skipped)" >> "$summary"
  if [ $status -ne 0 ] && [ $status -ne 125 ]; then
    # (Only on failure: should_panic tests print "panicked at" when they pass.)
    grep -E '^test .* FAILED$|panicked at' "$logs/test-$name.log" | head -20 | sed 's/^/    /' >> "$summary"
    failed=1
    # A hung binary would only hang again; the others are bisected once every binary has run.
    [ $status -ne 124 ] && to_bisect+=("$name")
  fi
done
echo "- CPU-only, left to CI: ${cpu_only[*]:-none}" >> "$summary"
if [ ${#to_bisect[@]} -gt 0 ]; then
  # Bisected in the same call (a second device call costs minutes), within at most 150 s, so that
  # the benches still run.
  echo -e "\n## Bisecting the failures" >> "$summary"
  bisect_deadline=$(( $(date +%s) + 150 ))
  for name in "${to_bisect[@]}"; do
    [ "$(date +%s)" -ge $bisect_deadline ] && { echo "- $name: not bisected (bisect time spent)" >> "$summary"; continue; }
    echo "- $name:" >> "$summary"
    bisect "$name" "$bundle/tests/$name"
  done
fi

echo -e "\n## Benches (criterion, ${seconds}s per benchmark, GPU only)" >> "$summary"
for name in elementwise softmax reduce gemm conv lstm attention clip_fusion layer_norm linear; do
  bench=$bundle/benches/$name
  [ -x "$bench" ] || { echo "    $name: not in the bundle" >> "$summary"; continue; }
  MEMEFUSE_BENCH_GPU_ONLY=1 capped 150 "$logs/bench-$name.log" "$bench" --bench --warm-up-time 1 --measurement-time "$seconds" --noplot --discard-baseline
  status=$?
  [ $status -ne 0 ] && echo "    $name: exit $status$([ $status -eq 124 ] && echo ' (timed out)')$([ $status -eq 125 ] && echo ' (not run: out of time)')" >> "$summary"
  # Keep each benchmark's name and its time/throughput lines.
  grep -E '^[a-z_0-9]+/|time:|thrpt:' "$logs/bench-$name.log" | grep -v 'change:' | sed 's/^/    /' >> "$summary"
done

# reference TITLE SCRIPT UNIT [CAP [ARGUMENT...]]: runs a PyTorch reference script (it prints one
# JSON object) for at most CAP seconds (120) and lists its figures. Logs are named after the script
# and its arguments.
reference() {
  local title=$1 script=$2 unit=$3 cap=${4:-120} name
  shift $(( $# < 4 ? $# : 4 ))
  name=$(basename "$script" .py)
  [ $# -gt 0 ] && name=$name$(echo "$*" | tr -cs 'a-zA-Z0-9_' '-' | sed 's/-$//')
  echo -e "\n## $title" >> "$summary"
  # The JSON alone on stdout; torch's warnings go to the log.
  if capped "$cap" "$logs/$name.log" bash -c 'python3 "$@" > "$0"' "$logs/$name.json" "$script" "$@"; then
    python3 -c 'import json,sys; [print(f"    {k}: {v:.1f} {sys.argv[2]}") for k,v in json.load(open(sys.argv[1])).items()]' "$logs/$name.json" "$unit" >> "$summary"
    # Scripts that report their versions (and a pin they miss) on stderr.
    grep -E '^(versions|warning):' "$logs/$name.log" | sed 's/^/    /' >> "$summary"
  else
    echo "    $name failed or was cut short: see $name.log in the logs" >> "$summary"
    tail -3 "$logs/$name.log" | sed 's/^/    /' >> "$summary"
  fi
}
reference "PyTorch elementwise, reductions, softmax" "$bundle/torch_reference.py" "GB/s"
reference "PyTorch/cuDNN convolution (TFLOP/s) and VGG16 (images/s), fp16 channels_last" "$bundle/torch_conv_reference.py" ""
reference "PyTorch/cuDNN LSTM classifier" "$bundle/torch_lstm_reference.py" "samples/s"
reference "PyTorch SDPA attention, fp16" "$bundle/torch_attention_reference.py" "TFLOP/s"
# The same model as benches/clip_fusion.rs (transformers.CLIPModel at ViT-B/32, batch 64, fp16
# autocast + GradScaler, AdamW); eager here, torch.compile after the demo.
reference "PyTorch clip-fusion train step, ViT-B/32 b64 fp16, eager" "$bundle/torch_clip_fusion_reference.py" "samples/s" 90 --mode eager

# End to end: fp16 training on the GPU of every demo model plus the full VGG16 at 64 px, briefly.
echo -e "\n## memefuse demo --device cuda" >> "$summary"
demo_out=$(mktemp -d)
if MEMEFUSE_CUDA_SYNC=0 capped 120 "$logs/demo.log" "$bundle/memefuse" demo --device cuda --epochs 3 --train-size 1200 \
  --models image-mlp,text-bow,fusion-mlp,lstm,lstm-last-token,vgg16-small,vgg16 --out "$demo_out"; then
  cp "$demo_out/report.md" "$logs/demo-report.md" 2>/dev/null
  grep -iE 'auroc|accuracy' "$demo_out/report.md" | head -20 | sed 's/^/    /' >> "$summary"
else
  echo "    demo failed or was cut short (exit $?): see demo.log" >> "$summary"
  tail -5 "$logs/demo.log" | sed 's/^/    /' >> "$summary"
fi

# Compiling CLIP's forward and backward takes minutes: last, with whatever time is left.
reference "PyTorch clip-fusion train step, ViT-B/32 b64 fp16, torch.compile" "$bundle/torch_clip_fusion_reference.py" "samples/s" 300 --mode compile

finish
exit $failed
