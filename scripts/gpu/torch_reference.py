"""PyTorch on the GPU machine, for the same shapes as memefuse's foundation benches.

Prints one JSON object: name -> GB/s (bytes read + written, as the criterion benches count them),
median of 20 timed runs with CUDA events after a warm-up.
"""
import json
import torch


def median_seconds(fn, repeats=20, warmup=3):
    """Median run time of fn() in seconds, timed with CUDA events after `warmup` untimed runs.
    The other reference scripts of this folder import it."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    return times[len(times) // 2]


def gbps(fn, nbytes):
    return nbytes / median_seconds(fn) / 1e9


def main():
    results = {}
    n = 16 << 20
    for dtype, name in [(torch.float32, "f32"), (torch.float16, "f16")]:
        size = torch.finfo(dtype).bits // 8
        a = torch.randn(n, device="cuda", dtype=dtype)
        b = torch.randn(n, device="cuda", dtype=dtype)
        results[f"torch_add_{name}_{n}"] = gbps(lambda: a + b, 3 * n * size)
        results[f"torch_gelu_{name}_{n}"] = gbps(lambda: torch.nn.functional.gelu(a), 2 * n * size)
        square = a.view(4096, n // 4096)
        results[f"torch_copy_transposed_{name}_{n}"] = gbps(lambda: square.t().contiguous(), 2 * n * size)
        x = torch.randn(16384, 4096, device="cuda", dtype=dtype)
        results[f"torch_softmax_{name}_16384x4096"] = gbps(lambda: torch.softmax(x, -1), 2 * x.numel() * size)
        results[f"torch_log_softmax_{name}_16384x4096"] = gbps(lambda: torch.log_softmax(x, -1), 2 * x.numel() * size)
    x = torch.randn(n, device="cuda")
    results[f"torch_sum_all_f32_{n}"] = gbps(lambda: x.sum(), 4 * n)
    m = x.view(4096, n // 4096)
    results[f"torch_max_rows_f32_4096x{n // 4096}"] = gbps(lambda: m.max(1), 4 * n)
    results[f"torch_sum_columns_f32_4096x{n // 4096}"] = gbps(lambda: m.sum(0), 4 * n)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
