#!/usr/bin/env python3
"""Writes tests/fixtures/clip_image/: a few non-square images of odd sizes (PNG) and what
open_clip's and HuggingFace's CLIP preprocessing make of them, so that memefuse's CLIP transform
can be checked against both without Python.

    /root/.cache/memefuse-py/bin/python scripts/reference/clip_image_reference.py [OUT_DIR]

Pinned: open_clip_torch 3.3.0 (torchvision 0.29 on PIL images: Pillow's bicubic), transformers
5.24.0 (`CLIPImageProcessor`, its torchvision backend, and `CLIPImageProcessorPil`), Pillow 13.

expected.safetensors holds, per image NAME and target SIZE (names `NAME.SIZE.*`), HWC:
  open_clip_u8  u8: open_clip's eval transform (`image_transform(SIZE, False)`) before
                ToTensor/Normalize: the resized and cropped bytes
  hf_u8         u8: CLIPImageProcessor (torchvision backend), shortest_edge = crop = SIZE, its
                normalised output mapped back to bytes (exactly: checked here)
  hf_pil_u8     u8: the same for CLIPImageProcessorPil
  open_clip, hf f32, at SIZE 32 only: the normalised tensors themselves
"""
import os
import sys

import numpy as np
import open_clip
import PIL
import torch
import torchvision
import transformers
from PIL import Image
from safetensors.numpy import save_file

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/clip_image"

# (name, width, height, target sizes): down- and up-scaling, both orientations, short side
# already at the size (crop only, at an odd offset), and a square.
IMAGES = [
    ("wide", 301, 227, [224, 32]),
    ("tall", 37, 61, [32]),
    ("odd", 53, 47, [32]),
    ("small", 21, 13, [32]),
    ("crop_only", 47, 32, [32]),
    ("square", 40, 40, [32]),
]


def picture(width, height, seed):
    """Smooth gradients, hard edges and noise: what photos and meme text have."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 127 + 120 * np.sin(x / width * 5.0 + seed)
    g = 255 * (y / max(height - 1, 1))
    b = np.where(((x // 5) + (y // 7)) % 2 == 0, 230.0, 25.0)
    disc = (x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (min(width, height) * 0.3) ** 2
    g = np.where(disc, 255 - g, g)
    image = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors = {}
    for seed, (name, width, height, sizes) in enumerate(IMAGES):
        pixels = picture(width, height, seed)
        path = os.path.join(OUT, f"{name}.png")
        Image.fromarray(pixels, "RGB").save(path)
        image = Image.open(path).convert("RGB")
        assert np.array_equal(np.asarray(image), pixels)
        for size in sizes:
            transform = open_clip.image_transform(size, is_train=False)
            resize_and_crop = torchvision.transforms.Compose(transform.transforms[:2])
            key = f"{name}.{size}"
            normalised = {"open_clip": transform(image).permute(1, 2, 0).contiguous().numpy()}
            tensors[f"{key}.open_clip_u8"] = np.asarray(resize_and_crop(image)).copy()
            processors = {"hf": transformers.CLIPImageProcessor, "hf_pil": transformers.CLIPImageProcessorPil}
            for label, processor_class in processors.items():
                processor = processor_class(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
                values = processor(images=image, return_tensors="pt")["pixel_values"][0]
                normalised[label] = values.permute(1, 2, 0).contiguous().numpy().astype(np.float32)
            for label, values in normalised.items():
                as_bytes = np.round((values * STD + MEAN) * 255).astype(np.uint8)
                # The bytes really are what was normalised: normalising them again gives the tensor.
                assert np.abs((as_bytes / np.float32(255) - MEAN) / STD - values).max() < 1e-5, label
                tensors[f"{key}.{label}_u8"] = as_bytes
            if size == 32:
                tensors[f"{key}.open_clip"] = normalised["open_clip"]
                tensors[f"{key}.hf"] = normalised["hf"]
            for label in ("hf", "hf_pil"):
                levels = np.abs(tensors[f"{key}.{label}_u8"].astype(int) - tensors[f"{key}.open_clip_u8"]).max()
                print(f"{key}: {label} differs from open_clip by at most {levels} levels of 255")
    save_file(tensors, os.path.join(OUT, "expected.safetensors"))
    versions = f"open_clip {open_clip.__version__}, transformers {transformers.__version__}, torch {torch.__version__}, torchvision {torchvision.__version__}, Pillow {PIL.__version__}"
    print(f"wrote {OUT}: {len(IMAGES)} images ({versions})")


if __name__ == "__main__":
    main()
