"""PyTorch SDPA reference for benches/attention.rs: torch.nn.functional.scaled_dot_product_attention
in fp16 on [B, H, S, D] tensors, no mask, forward and forward + backward, at issue 13's shapes
(B256 H12 S50 D64, B256 H8 S77 D64, B16 H16 S4096 D64). Prints one JSON object: name -> TFLOP/s
counted as the bench counts them (forward 4·B·H·S²·D, backward 2.5× the forward), median of 20
timed runs with CUDA events after a warm-up (SDPA's own choice of backend).
"""
import json

import torch
import torch.nn.functional as F

from torch_reference import median_seconds  # same folder (the bundle)

SHAPES = [(256, 12, 50, 64), (256, 8, 77, 64), (16, 16, 4096, 64)]


def main():
    results = {}
    for batch, heads, seq, head_dim in SHAPES:
        make = lambda: torch.randn(batch, heads, seq, head_dim, device="cuda", dtype=torch.float16, requires_grad=True)
        q, k, v = make(), make(), make()
        g = torch.randn_like(q)
        forward_flops = 4 * batch * heads * seq * seq * head_dim
        name = f"b{batch}_h{heads}_s{seq}_d{head_dim}"

        def forward():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v)

        def forward_backward():
            out = F.scaled_dot_product_attention(q, k, v)
            torch.autograd.grad(out, (q, k, v), g)

        results[f"torch_sdpa_f16_forward_{name}"] = forward_flops / median_seconds(forward) / 1e12
        results[f"torch_sdpa_f16_forward_backward_{name}"] = 3.5 * forward_flops / median_seconds(forward_backward) / 1e12
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
