#!/usr/bin/env python3
"""PyTorch on the CPU at the shapes of memefuse's CPU benches, for scripts/bench/cpu-vs-torch.sh.

Same work as the criterion benches, same thread count (torch.set_num_threads(THREADS)), f32:
- benches/lstm.rs: the 2-layer LSTM text classifier (Embedding(20000, 100) -> nn.LSTM(100, 64,
  2 layers, batch_first) -> last step -> Linear(64, 1)), seq 64, batch 64: forward under no_grad and
  one training step (forward, BCE-with-logits, backward, Adam), in samples/s;
- benches/conv.rs: 3x3 pad-1 convolution, channels_last (NHWC) f32, forward, backward-data and
  backward-weight (each aten.convolution_backward with only that output asked for; oneDNN computes
  each on its own then) in GFLOP/s at C64@56 N1, C128@28 N2, C256@14 N2;
- benches/elementwise.rs, softmax.rs, layer_norm.rs (the memory-bound ops): add and exact gelu over
  4M f32, softmax and log-softmax over 2048x4096 and the backward of sum(softmax(x) * g), layer
  norm over 2048x512 and 2048x768 and the backward of sum(layer_norm(x) * g), in GB/s of the
  nominal traffic the criterion bench counts (so the ratio is the time ratio);
- benches/linear.rs: F.linear at the shapes our models run, forward and forward + backward, GFLOP/s;
- benches/vgg16.rs: torchvision's VGG16 layout (features / avgpool 7x7 / classifier, kaiming fan-out
  convs, N(0, 0.01) linears, zero biases) with a 2-class head, and vgg16-small (the same with
  widths [4, 8, 16, 32, 32] and a 256-wide classifier, src/models/vgg16.rs), 64 px, batch 16,
  channels_last: inference under no_grad in eval mode, and one training step in train mode
  (dropout 0.5, cross-entropy, backward, Adam 1e-3; the full VGG16's body at 1e-4 as memefuse's
  from-scratch default `--image-lr-scale 0.1`), in images/s.
Timing: median of REPEATS runs after a warm-up, time.perf_counter; with MEMEFUSE_BENCH_STAT=min the
fastest run instead (steadier on a machine shared with other jobs: the run that had the cores; then
collect_criterion.py takes criterion's fastest sample too).
Prints one JSON object on stdout: name -> figure (names match the criterion bench ids).
"""
import json
import os
import sys
import time

import torch
from torch_conv_shapes import conv_passes

VOCAB = 20_000


def median_seconds(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[0] if os.environ.get("MEMEFUSE_BENCH_STAT") == "min" else times[len(times) // 2]


class TextLstm(torch.nn.Module):
    def __init__(self, embedding, hidden):
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCAB, embedding)
        self.lstm = torch.nn.LSTM(embedding, hidden, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(hidden, 1)

    def forward(self, tokens):
        sequence, _ = self.lstm(self.embedding(tokens))
        return self.fc(sequence[:, -1, :]).squeeze(1)


def lstm(results, repeats):
    embedding, hidden, sequence, batch = 100, 64, 64, 64
    name = f"e{embedding}_h{hidden}_t{sequence}_b{batch}"
    torch.manual_seed(0)
    model = TextLstm(embedding, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tokens = torch.randint(0, VOCAB, (batch, sequence))
    targets = (torch.arange(batch) % 2).float()

    def forward():
        with torch.no_grad():
            model(tokens)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(tokens), targets)
        loss.backward()
        optimizer.step()

    results[f"cpu_lstm_classifier_f32/forward_{name}"] = batch / median_seconds(forward, repeats)
    results[f"cpu_lstm_classifier_f32/train_step_{name}"] = batch / median_seconds(train_step, repeats)


def conv(results, repeats):
    for name, n, side, c in [("c64_56_n1", 1, 56, 64), ("c128_28_n2", 2, 28, 128), ("c256_14_n2", 2, 14, 256)]:
        flops, passes = conv_passes(n, side, c, c)
        with torch.no_grad():
            for pass_name, call in passes:
                results[f"cpu_conv3x3_f32/{pass_name}_{name}"] = flops / median_seconds(call, repeats) / 1e9


def bandwidth(results, repeats, which):
    """The memory-bound ops; each figure is the criterion bench's nominal bytes over the time."""
    torch.manual_seed(0)
    gb = lambda nbytes, fn: nbytes / median_seconds(fn, repeats) / 1e9
    with torch.no_grad():
        if "elementwise" in which:
            n = 4 << 20
            a, b = torch.randn(n), torch.randn(n)
            results[f"cpu_elementwise_f32/add_{n}"] = gb(3 * 4 * n, lambda: a + b)
            results[f"cpu_elementwise_f32/gelu_{n}"] = gb(2 * 4 * n, lambda: torch.nn.functional.gelu(a))
        if "softmax" in which:
            rows = 2048
            x = torch.randn(rows, 4096)
            nbytes = rows * 4096 * 4
            results[f"cpu_softmax_f32/forward_{rows}x4096"] = gb(2 * nbytes, lambda: torch.softmax(x, -1))
            results[f"cpu_softmax_f32/log_forward_{rows}x4096"] = gb(2 * nbytes, lambda: torch.log_softmax(x, -1))
    if "softmax" in which:
        leaf, g = torch.randn(2048, 4096, requires_grad=True), torch.randn(2048, 4096)

        def softmax_backward():
            leaf.grad = None
            (torch.softmax(leaf, -1) * g).sum().backward()

        results["cpu_softmax_f32/backward_2048x4096"] = gb(3 * 2048 * 4096 * 4, softmax_backward)
    if "layer_norm" in which:
        rows = 2048
        for width in [512, 768]:
            x, g = torch.randn(rows, width), torch.randn(rows, width)
            weight, bias = torch.randn(width), torch.randn(width)
            nbytes = rows * width * 4
            with torch.no_grad():
                results[f"cpu_layer_norm_f32/forward_{rows}x{width}"] = gb(2 * nbytes, lambda: torch.nn.functional.layer_norm(x, (width,), weight, bias, 1e-5))
            leaf = x.clone().requires_grad_()
            w, b = weight.clone().requires_grad_(), bias.clone().requires_grad_()

            def layer_norm_backward():
                leaf.grad = w.grad = b.grad = None
                (torch.nn.functional.layer_norm(leaf, (width,), w, b, 1e-5) * g).sum().backward()

            results[f"cpu_layer_norm_f32/backward_{rows}x{width}"] = gb(3 * nbytes, layer_norm_backward)


def linear(results, repeats):
    for name, rows, inputs, outputs in [("vgg16_fc1_b16", 16, 25088, 4096), ("fusion_head_b64", 64, 1024, 512), ("clip_fc1_400", 400, 768, 3072)]:
        torch.manual_seed(5)
        x = torch.randn(rows, inputs)
        weight, bias = torch.randn(outputs, inputs) * 0.01, torch.randn(outputs) * 0.01
        flops = 2.0 * rows * inputs * outputs
        with torch.no_grad():
            results[f"cpu_linear_f32/forward_{name}"] = flops / median_seconds(lambda: torch.nn.functional.linear(x, weight, bias), repeats) / 1e9
        leaf, w, b = x.clone().requires_grad_(), weight.clone().requires_grad_(), bias.clone().requires_grad_()

        def train():
            leaf.grad = w.grad = b.grad = None
            torch.nn.functional.linear(leaf, w, b).sum().backward()

        results[f"cpu_linear_f32/train_{name}"] = 3 * flops / median_seconds(train, repeats) / 1e9


VGG16_BLOCKS = [2, 2, 3, 3, 3]


def vgg16_network(widths, hidden, classes=2):
    """torchvision.models.vgg16's layout (same module indices) built by hand: torchvision is not installed."""
    layers, channels = [], 3
    for width, convs in zip(widths, VGG16_BLOCKS):
        for _ in range(convs):
            layers += [torch.nn.Conv2d(channels, width, 3, padding=1), torch.nn.ReLU(inplace=True)]
            channels = width
        layers.append(torch.nn.MaxPool2d(2, 2))
    model = torch.nn.Module()
    model.features = torch.nn.Sequential(*layers)
    model.avgpool = torch.nn.AdaptiveAvgPool2d((7, 7))
    model.classifier = torch.nn.Sequential(
        torch.nn.Linear(channels * 49, hidden), torch.nn.ReLU(True), torch.nn.Dropout(0.5),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(True), torch.nn.Dropout(0.5),
        torch.nn.Linear(hidden, classes))
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, 0, 0.01)
            torch.nn.init.zeros_(module.bias)
    model.forward = lambda x: model.classifier(torch.flatten(model.avgpool(model.features(x)), 1))
    return model


def vgg16(results, repeats):
    batch, side = 16, 64
    for group, widths, hidden, body_lr_scale in [("cpu_vgg16_small_f32", [4, 8, 16, 32, 32], 256, 1.0), ("cpu_vgg16_f32", [64, 128, 256, 512, 512], 4096, 0.1)]:
        torch.manual_seed(1)
        model = vgg16_network(widths, hidden).to(memory_format=torch.channels_last)
        head = list(model.classifier[6].parameters())
        body = [p for p in model.parameters() if all(p is not h for h in head)]
        optimizer = torch.optim.Adam([{"params": body, "lr": 1e-3 * body_lr_scale}, {"params": head}], lr=1e-3)
        images = torch.randn(batch, 3, side, side).to(memory_format=torch.channels_last)
        targets = torch.arange(batch) % 2

        def forward():
            model.eval()
            with torch.no_grad():
                model(images)

        def train_step():
            model.train()
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(images), targets).backward()
            optimizer.step()

        # The full network's step takes about a second: fewer runs (criterion takes 10 samples).
        runs = repeats if hidden < 1024 else max(3, repeats // 2)
        results[f"{group}/forward_{side}px_b{batch}"] = batch / median_seconds(forward, runs)
        results[f"{group}/train_step_{side}px_b{batch}"] = batch / median_seconds(train_step, runs, warmup=2)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    which = sys.argv[2].split(",") if len(sys.argv) > 2 else ["lstm", "conv"]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    torch.set_num_threads(threads)
    results = {"torch_version": torch.__version__, "threads": torch.get_num_threads()}
    if "lstm" in which:
        lstm(results, repeats)
    if "conv" in which:
        conv(results, repeats)
    bandwidth(results, repeats, which)
    if "linear" in which:
        linear(results, repeats)
    if "vgg16" in which:
        vgg16(results, repeats)
    json.dump(results, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
