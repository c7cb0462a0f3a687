#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, over a bundle made by build-bundle.sh:
# every test binary (the GPU parity tests run there instead of printing "skipped"), every criterion
# bench, and the PyTorch reference for the same shapes; writes OUT_DIR/summary.md and every full log
# in OUT_DIR/logs.tar.gz (two files: the device tool brings back at most eight).
#
#   scripts/gpu/run-on-gpu.sh BUNDLE_DIR OUT_DIR [BENCH_SECONDS]
set -uo pipefail
bundle=$1
out=$2
seconds=${3:-2}
summary=$out/summary.md
logs=$out/logs
mkdir -p "$logs"
{
  echo "# memefuse GPU run"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- commit: $(cat "$bundle/COMMIT" 2>/dev/null || echo unknown)"
  echo "- card: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"
  echo
  echo "## Tests"
} > "$summary"

# The test binaries look for tests/fixtures and target/release/memefuse under the folder they were
# built in; make that folder this checkout (a link) when it is elsewhere here.
manifest=$(cat "$bundle/MANIFEST_DIR")
if [ "$manifest" != "$PWD" ] && [ ! -e "$manifest" ]; then
  mkdir -p "$(dirname "$manifest")" && ln -s "$PWD" "$manifest"
fi
mkdir -p "$manifest/target/release" && cp "$bundle/memefuse" "$manifest/target/release/memefuse"

failed=0
for test in "$bundle"/tests/*; do
  name=$(basename "$test")
  # MEMEFUSE_CUDA_SYNC=1 makes a faulting kernel fail the test that launched it.
  # A hung kernel must not eat the whole (short) GPU session: each binary gets at most 3 minutes.
  MEMEFUSE_CUDA_SYNC=1 timeout 180 "$test" --test-threads=2 --nocapture > "$logs/test-$name.log" 2>&1
  status=$?
  result=$(grep -E '^test result:' "$logs/test-$name.log" | tail -1)
  skipped=$(grep -c 'GPU parity skipped' "$logs/test-$name.log")
  [ $status -eq 124 ] && result="TIMED OUT after 180 s"
  echo "- $name: ${result:-no result line} (exit $status; GPU-skip lines: $skipped)" >> "$summary"
  grep -E '^test .* FAILED$|panicked at' "$logs/test-$name.log" | head -20 | sed 's/^/    /' >> "$summary"
  [ $status -ne 0 ] && failed=1
done

echo -e "\n## Benches (criterion, ${seconds}s per benchmark)" >> "$summary"
for bench in "$bundle"/benches/*; do
  name=$(basename "$bench")
  MEMEFUSE_BENCH_GPU_ONLY=1 timeout 180 "$bench" --bench --warm-up-time 1 --measurement-time "$seconds" --noplot --discard-baseline > "$logs/bench-$name.log" 2>&1
  # Keep each benchmark's name and its time/throughput lines.
  grep -E '^[a-z_0-9]+/|time:|thrpt:' "$logs/bench-$name.log" | grep -v 'change:' | sed 's/^/    /' >> "$summary"
done

echo -e "\n## PyTorch on the same machine" >> "$summary"
if python3 "$bundle/torch_reference.py" > "$logs/torch.json" 2> "$logs/torch.log"; then
  python3 -c 'import json,sys; [print(f"    {k}: {v:.1f} GB/s") for k,v in json.load(open(sys.argv[1])).items()]' "$logs/torch.json" >> "$summary"
else
  echo "    torch reference failed: see torch.log" >> "$summary"
fi
# Convolution / VGG16: cuDNN at the shapes of benches/conv.rs (TFLOP/s; images/s for inference).
echo -e "\n## PyTorch/cuDNN convolution and VGG16 (fp16, channels_last)" >> "$summary"
conv_ref=$bundle/torch_conv_reference.py; [ -f "$conv_ref" ] || conv_ref=scripts/gpu/torch_conv_reference.py
if python3 "$conv_ref" > "$logs/torch-conv.json" 2> "$logs/torch-conv.log"; then
  python3 -c 'import json,sys; [print(f"    {k}: {v:.1f}") for k,v in json.load(open(sys.argv[1])).items()]' "$logs/torch-conv.json" >> "$summary"
else
  echo "    torch conv reference failed: see torch-conv.log" >> "$summary"
fi
# LSTM classifier: PyTorch/cuDNN samples/s for benches/lstm.rs's shapes.
if python3 "$bundle/torch_lstm_reference.py" > "$logs/torch-lstm.json" 2> "$logs/torch-lstm.log"; then
  python3 -c 'import json,sys; [print(f"    {k}: {v:.0f} samples/s") for k,v in json.load(open(sys.argv[1])).items()]' "$logs/torch-lstm.json" >> "$summary"
else
  echo "    torch LSTM reference failed: see torch-lstm.log" >> "$summary"
fi
tar czf "$out/logs.tar.gz" -C "$out" logs && rm -rf "$logs"
cat "$summary"
exit $failed
