#!/usr/bin/env bash
# Builds, on the development machine, everything the GPU machine needs (it has no Rust toolchain):
# the release test and bench binaries with every kernel compiled in and the PyTorch reference
# scripts, in one folder (default: gpu-bundle/, ignored by git) and one archive of it,
# BUNDLE_DIR.tar.xz (~7 MB: every binary embeds the same ~14 MB of PTX and cubins, which a solid
# xz archive with a large dictionary stores once; the folder itself is ~300 MB, too big to carry).
#
#   scripts/gpu/build-bundle.sh [BUNDLE_DIR]
#
# Then, on the GPU machine, from the repository root:
#   tar xJf BUNDLE_DIR.tar.xz && scripts/gpu/run-on-gpu.sh BUNDLE_DIR OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=${1:-gpu-bundle}
export MEMEFUSE_REQUIRE_KERNELS=1   # fail here rather than ship binaries without kernels

rm -rf "$bundle" && mkdir -p "$bundle/tests" "$bundle/benches"

# Cargo prints one JSON line per built artifact; keep the executables of test and bench targets.
executables() {
  python3 -c '
import json, sys
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["kind"][0], m["target"]["name"], m["executable"])
'
}

cargo test --release --no-run --message-format=json | executables | while read -r kind name path; do
  [ "$kind" = bench ] && continue
  # The library's and the binary's unit tests are both named memefuse: keep them apart.
  [ "$kind" = test ] || name="$kind-$name"
  cp "$path" "$bundle/tests/$name"
done
cargo bench --no-run --message-format=json | executables | while read -r kind name path; do
  # (if, not &&: a last artifact that is no bench would end the loop, and with it the script, with 1)
  if [ "$kind" = bench ]; then cp "$path" "$bundle/benches/$name"; fi
done
# Tests find their fixtures and the memefuse binary through paths fixed at compile time
# (CARGO_MANIFEST_DIR, CARGO_BIN_EXE_memefuse): the run script recreates them on the GPU machine.
cp target/release/memefuse "$bundle/memefuse"
pwd > "$bundle/MANIFEST_DIR"
strip "$bundle"/tests/* "$bundle"/benches/* "$bundle/memefuse" 2>/dev/null || true
cp scripts/gpu/torch_reference.py "$bundle/"
cp scripts/gpu/torch_lstm_reference.py "$bundle/"
cp scripts/gpu/torch_conv_reference.py "$bundle/"
cp scripts/gpu/torch_attention_reference.py "$bundle/"
cp scripts/gpu/torch_clip_fusion_reference.py scripts/gpu/clip_fusion_sizes.json "$bundle/"
git rev-parse --short HEAD > "$bundle/COMMIT"
tar cf - "$bundle" | xz -T2 -6e --lzma2=dict=192MiB > "$bundle.tar.xz"
du -sh "$bundle" "$bundle.tar.xz"
ls "$bundle/tests" "$bundle/benches"
