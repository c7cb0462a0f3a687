#!/usr/bin/env python3
"""Prints the markdown table of scripts/bench/cpu-vs-torch.sh: each bench PyTorch measured, memefuse's
and PyTorch's figure per round, and the median ratio memefuse / PyTorch."""
import json
import pathlib
import statistics
import sys

def figure(v):
    """Three significant figures at least (GB/s figures of a loaded machine are often below 10)."""
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def unit_of(group):
    """By the criterion group alone: bench names mention models (cpu_linear_f32/forward_vgg16_fc1_b16
    is a linear layer in GFLOP/s, not VGG16 images/s)."""
    if group.startswith("cpu_vgg16"):
        return "images/s"
    if group.startswith(("cpu_conv3x3", "cpu_linear")):
        return "GFLOP/s"
    if group.startswith(("cpu_elementwise", "cpu_softmax", "cpu_layer_norm")):
        return "GB/s"
    return "samples/s"


folder, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
ours = [json.loads((folder / f"ours-{r}.json").read_text()) for r in range(1, rounds + 1)]
torch = [json.loads((folder / f"torch-{r}.json").read_text()) for r in range(1, rounds + 1)]
print(f"PyTorch {torch[0]['torch_version']}, {torch[0]['threads']} threads, {rounds} round(s)\n")
print("| bench | unit | memefuse (per round) | PyTorch (per round) | ratio (median) |")
print("|---|---|---:|---:|---:|")
for name in torch[0]:
    if "/" not in name:
        continue
    unit = unit_of(name.split("/")[0])
    mine = [o.get(name) for o in ours]
    theirs = [t[name] for t in torch]
    if None in mine:
        print(f"| {name} | {unit} | (not run) | {' · '.join(figure(v) for v in theirs)} | |")
        continue
    ratio = statistics.median(m / t for m, t in zip(mine, theirs))
    print(f"| {name} | {unit} | {' · '.join(figure(v) for v in mine)} | {' · '.join(figure(v) for v in theirs)} | {ratio:.2f}× |")
