#!/usr/bin/env python3
"""PyTorch/cuDNN on the shapes of benches/conv.rs, fp16, channels_last (NHWC), CUDA events, median
of 20 runs after warm-up (torch_reference.median_seconds): 3x3 pad-1 conv forward and backward (dgrad + wgrad) in TFLOP/s, and
torchvision VGG16 eval-mode inference (2-class head) in images/s at batch 64, 64 px and 224 px.
Prints JSON on stdout: {"conv_forward_c64_224_n64": TFLOP/s, ..., "vgg16_inference_64px": images/s}.
"""
import json
import sys

import torch

from torch_reference import median_seconds  # same folder (the bundle)

SHAPES = [("c64_224_n64", 64, 224, 64), ("c128_112_n64", 64, 112, 128), ("c256_56_n64", 64, 56, 256),
          ("c512_28_n64", 64, 28, 512), ("c512_14_n64", 64, 14, 512), ("c64_64_n256", 256, 64, 64)]


def main():
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    results = {}
    for name, n, side, c in SHAPES:
        x = torch.randn(n, c, side, side, device=dev, dtype=torch.half).to(memory_format=torch.channels_last)
        w = (torch.randn(c, c, 3, 3, device=dev, dtype=torch.half) * 0.05).to(memory_format=torch.channels_last)
        dy = torch.randn(n, c, side, side, device=dev, dtype=torch.half).to(memory_format=torch.channels_last)
        flops = 2.0 * n * side * side * c * c * 9
        forward = median_seconds(lambda: torch.nn.functional.conv2d(x, w, padding=1))
        backward = median_seconds(lambda: (torch.ops.aten.convolution_backward(dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, True, False])))
        results[f"conv_forward_{name}"] = flops / forward / 1e12
        results[f"conv_backward_{name}"] = 2 * flops / backward / 1e12
    import torchvision
    model = torchvision.models.vgg16(num_classes=2).to(dev).half().eval().to(memory_format=torch.channels_last)
    for side in (64, 224):
        images = torch.randn(64, 3, side, side, device=dev, dtype=torch.half).to(memory_format=torch.channels_last)
        with torch.no_grad():
            seconds = median_seconds(lambda: model(images))
        results[f"vgg16_inference_{side}px"] = 64 / seconds
    json.dump(results, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
