#!/usr/bin/env python3
"""Writes tests/fixtures/vgg16_small/: a reduced-width VGG16 (configuration D with channel widths
÷16 and a 256-wide classifier, memefuse's `vgg16-small`) with torchvision's layer names and random
weights, a tiny Hateful Memes folder of images already at the model's size (64 px in dev_seen,
224 px in test_seen), and PyTorch's eval-mode logits for them.

The weights are stored as float16 (to keep the fixture small, and to exercise f16 import); PyTorch
computes with exactly those values in float32, as memefuse must after converting them.

    python3 scripts/reference/vgg16_reference.py [OUT_DIR]     # needs torch, torchvision, safetensors
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn
from torchvision.models.vgg import make_layers

WIDTHS = [4, 8, 16, 32, 32]
HIDDEN = 256
CFG = [WIDTHS[0]] * 2 + ["M"] + [WIDTHS[1]] * 2 + ["M"] + [WIDTHS[2]] * 3 + ["M"] + [WIDTHS[3]] * 3 + ["M"] + [WIDTHS[4]] * 3 + ["M"]


class SmallVgg16(nn.Module):
    """torchvision.models.VGG's structure and key names, with a configurable classifier width."""

    def __init__(self):
        super().__init__()
        self.features = make_layers(CFG)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(WIDTHS[-1] * 7 * 7, HIDDEN), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(HIDDEN, HIDDEN), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(HIDDEN, 2),
        )
        # torchvision's VGG initialisation (so activations keep their scale through 13 layers), with
        # random rather than zero biases so that a bias bug cannot hide.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.uniform_(m.bias, -0.01, 0.01)
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.uniform_(m.bias, -0.1, 0.1)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def random_image(size, rng):
    """Uniform noise at 64 px (small anyway); a smooth random colour pattern with a little noise at
    larger sizes (compresses well as PNG)."""
    if size <= 64:
        return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    y, x = np.mgrid[0:size, 0:size] / size
    channels = []
    for _ in range(3):
        a, b, c, d = rng.uniform(1, 6, 4)
        channels.append(0.5 + 0.35 * np.sin(a * x * np.pi + b) * np.cos(c * y * np.pi + d))
    image = np.stack(channels, -1) + rng.normal(0, 0.02, (size, size, 3))
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/vgg16_small"
    os.makedirs(f"{out}/img", exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = SmallVgg16().eval()
    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
    save_file(state, f"{out}/weights.safetensors")
    model.load_state_dict({k: v.float() for k, v in state.items()})

    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    expected = {}
    for split, size, count in [("dev_seen", 64, 3), ("test_seen", 224, 2)]:
        lines = []
        for i in range(count):
            ident = f"{size}{i:03d}"
            Image.fromarray(random_image(size, rng)).save(f"{out}/img/{ident}.png")
            lines.append(json.dumps({"id": ident, "img": f"img/{ident}.png", "label": i % 2, "text": f"fixture {ident}"}))
        with open(f"{out}/{split}.jsonl", "w") as f:
            f.write("\n".join(lines) + "\n")
        batch = []
        for i in range(count):
            pixels = np.asarray(Image.open(f"{out}/img/{size}{i:03d}.png").convert("RGB"))
            x = torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().div(255)  # torchvision's to_tensor
            batch.append((x - mean) / std)                                  # torchvision's Normalize
        with torch.no_grad():
            logits = model(torch.stack(batch))
        proba = torch.softmax(logits.double(), 1)[:, 1]
        expected[split] = {"image_size": size, "records": [
            {"id": f"{size}{i:03d}", "logits": logits[i].tolist(), "proba": proba[i].item()} for i in range(count)]}
    with open(f"{out}/expected.json", "w") as f:
        json.dump({"torch": torch.__version__, "splits": expected}, f, indent=1)
    print(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
