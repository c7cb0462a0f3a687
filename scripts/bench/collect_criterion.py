#!/usr/bin/env python3
"""Reads criterion's latest estimates (target/criterion/<group>/<bench>/new/) for the CPU benches
scripts/bench/cpu-vs-torch.sh compares, and prints name -> figure in the units PyTorch's script
uses: samples/s for the LSTM classifier, GFLOP/s for the convolutions and linear layers, GB/s for
the memory-bound ops (criterion's throughput divided by its median time; with
MEMEFUSE_BENCH_STAT=min by its fastest sample, as torch_cpu_reference.py then takes its fastest run)."""
import json
import os
import pathlib
import sys

root = pathlib.Path(sys.argv[1])
results = {}
for estimates in sorted(root.glob("cpu_*/*/new/estimates.json")):
    bench_dir = estimates.parent
    info = json.loads((bench_dir / "benchmark.json").read_text())
    throughput = info.get("throughput") or {}
    # Criterion names byte throughput "Bytes" or "BytesDecimal" (what our benches declare).
    byte_count = throughput.get("Bytes") or throughput.get("BytesDecimal")
    work = throughput.get("Elements") or byte_count
    if work is None:
        continue
    if os.environ.get("MEMEFUSE_BENCH_STAT") == "min":
        sample = json.loads((bench_dir / "sample.json").read_text())
        seconds = min(t / n for t, n in zip(sample["times"], sample["iters"])) / 1e9
    else:
        seconds = json.loads(estimates.read_text())["median"]["point_estimate"] / 1e9
    figure = work / seconds
    if "conv3x3" in info["group_id"] or "linear" in info["group_id"] or byte_count is not None:
        figure /= 1e9  # FLOPs -> GFLOP/s, bytes -> GB/s
    results[f"{info['group_id']}/{info['function_id']}"] = figure
json.dump(results, sys.stdout, indent=1)
