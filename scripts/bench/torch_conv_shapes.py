#!/usr/bin/env python3
"""PyTorch's CPU 3x3 pad-1 convolution at the shapes examples/conv_profile.rs takes (cC_SIDE_nN[_kK]),
fastest of REPS calls per pass, the same statistic as conv_profile's REPS argument:

    torch_conv_shapes.py THREADS REPS SHAPE...

prints one line per pass and shape: "PASS SHAPE GFLOP/s"."""
import sys
import time

import torch


def fastest(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def conv_passes(n, side, c, k):
    """FLOPs of one pass and the three passes (forward, backward-data, backward-weight) of a 3x3
    pad-1 convolution, NHWC (channels_last) as ours, as (name, call) pairs; call under no_grad.
    torch_cpu_reference.py's conv bench uses the same."""
    x = torch.randn(n, c, side, side).to(memory_format=torch.channels_last)
    w = (torch.randn(k, c, 3, 3) * 0.05).to(memory_format=torch.channels_last)
    dy = torch.randn(n, k, side, side).to(memory_format=torch.channels_last)

    def backward(data, weight):
        return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [data, weight, False])

    passes = [("forward", lambda: torch.nn.functional.conv2d(x, w, padding=1)), ("backward_data", backward(True, False)), ("backward_weight", backward(False, True))]
    return 2.0 * n * side * side * c * k * 9, passes


def main():
    threads, reps, shapes = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for shape in shapes:
        numbers = [int(part.lstrip("cnk")) for part in shape.split("_")]
        c, side, n = numbers[:3]
        k = numbers[3] if len(numbers) > 3 else c
        flops, passes = conv_passes(n, side, c, k)
        with torch.no_grad():
            for name, fn in passes:
                print(f"{name} {shape} {flops / fastest(fn, reps) / 1e9:.0f}", flush=True)


if __name__ == "__main__":
    main()
