"""PyTorch reference for benches/clip_fusion.rs: one training step of memefuse's clip-fusion model
built on transformers.CLIPModel, in samples/s, eager and under torch.compile, in the same run.

The model, as src/models/clip_fusion.rs builds it (defaults): CLIPModel at the sizes of
clip_fusion_sizes.json (beside this script; the Rust bench reads the same file), random init;
image features = visual_projection(vision pooler), text features = text_projection(text pooler at
the first end-of-text token); both L2-normalised in f32; fused as [image, text, image * text];
fusion.hidden Linear(3P -> hidden) -> ReLU -> dropout -> head Linear(hidden -> 2); the 2-class
cross-entropy in f32. AdamW (lr 1e-3, weight decay 0.01, PyTorch's default implementation), f32
master weights. Mixed precision: torch.autocast in fp16 with a GradScaler (memefuse's default on a
GPU: f16 compute, dynamic loss scale), or bf16 without one, or fp32. Inputs stay on the device:
random N(0, 1) images [B, 3, S, S]; captions [bos, random ids, eos, 0 padding] of varied lengths,
no attention mask (clip-fusion passes none: captions are post-padded and the mask is causal).

Prints one JSON object on one line: name -> samples/s (batch / median step time of `--repeats`
timed steps after `--warmup` untimed ones; CUDA events on a GPU, as torch_reference.py).
Versions go to stderr. Pinned (scripts/reference/clip_reference.py's): torch 2.15, transformers
5.24; other versions run, with a warning.

    python3 torch_clip_fusion_reference.py [--mode eager|compile|both] [--precision fp16|bf16|fp32]
    python3 torch_clip_fusion_reference.py --tiny --device cpu      # the CPU check: tiny sizes
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers

SIZES = Path(__file__).with_name("clip_fusion_sizes.json")
PINNED = {"torch": "2.15", "transformers": "5.24"}


class ClipFusion(torch.nn.Module):
    """clip-fusion's forward: normalised projected embeddings, fused [i, t, i*t], MLP head."""

    def __init__(self, config, hidden, dropout):
        super().__init__()
        self.clip = transformers.CLIPModel._from_config(config, attn_implementation="sdpa")
        width = 3 * config.projection_dim
        self.fusion_hidden = torch.nn.Linear(width, hidden)
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(hidden, 2)

    def forward(self, pixel_values, input_ids):
        clip = self.clip
        image = clip.visual_projection(clip.vision_model(pixel_values=pixel_values).pooler_output)
        text = clip.text_projection(clip.text_model(input_ids=input_ids).pooler_output)
        # memefuse normalises in f32 and returns the input's dtype.
        image = F.normalize(image.float(), dim=-1).to(image.dtype)
        text = F.normalize(text.float(), dim=-1).to(text.dtype)
        fused = torch.cat([image, text, image * text], dim=1)
        return self.head(self.dropout(torch.relu(self.fusion_hidden(fused))))


def captions(batch, context, bos, eos, generator):
    """[bos, random ids, eos, 0...] per row, content lengths spread over 1..context-2."""
    ids = torch.zeros(batch, context, dtype=torch.long)
    for row in range(batch):
        length = 1 + (row * 7) % (context - 2)
        ids[row, 0] = bos
        ids[row, 1:1 + length] = torch.randint(1, bos, (length,), generator=generator)
        ids[row, 1 + length] = eos
    return ids


def median_seconds(fn, device, repeats, warmup):
    if device.type == "cuda":
        from torch_reference import median_seconds as cuda_median  # same folder (the bundle)
        return cuda_median(fn, repeats=repeats, warmup=warmup)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report_versions():
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    print(f"versions: {versions}", file=sys.stderr)
    for name, pinned in PINNED.items():
        if not versions[name].startswith(pinned):
            print(f"warning: {name} {versions[name]} is not the pinned {pinned}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["vit_b32", "tiny"], default="vit_b32")
    parser.add_argument("--tiny", action="store_const", const="tiny", dest="size", help="--size tiny")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--mode", choices=["eager", "compile", "both"], default="both")
    parser.add_argument("--precision", choices=["fp16", "bf16", "fp32"], help="default: fp16 on a GPU, fp32 on the CPU (as memefuse)")
    parser.add_argument("--batch", type=int, help="default: the size's (64 for vit_b32)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (torch.compile: at least 5)")
    args = parser.parse_args()
    report_versions()

    device = torch.device(args.device)
    precision = args.precision or ("fp16" if device.type == "cuda" else "fp32")
    sizes = json.loads(SIZES.read_text())[args.size]
    batch = args.batch or sizes["batch"]
    config = transformers.CLIPConfig(text_config=sizes["text_config"], vision_config=sizes["vision_config"], projection_dim=sizes["projection_dim"])
    text, vision = sizes["text_config"], sizes["vision_config"]

    generator = torch.Generator().manual_seed(0)
    pixels = torch.randn(batch, 3, vision["image_size"], vision["image_size"], generator=generator).to(device)
    ids = captions(batch, text["max_position_embeddings"], text["bos_token_id"], text["eos_token_id"], generator).to(device)
    targets = (torch.arange(batch) % 2).to(device)
    amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": None}[precision]

    results = {}
    modes = ["eager", "compile"] if args.mode == "both" else [args.mode]
    for mode in modes:
        torch.manual_seed(0)
        model = ClipFusion(config, sizes["head"]["hidden"], sizes["head"]["dropout"]).to(device).train()
        print(f"{mode}: attention {model.clip.config._attn_implementation}, {sum(p.numel() for p in model.parameters()):,} parameters", file=sys.stderr)
        forward = torch.compile(model) if mode == "compile" else model
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
        scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

        def train_step():
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = forward(pixels, ids)
            loss = F.cross_entropy(logits.float(), targets)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

        warmup = max(args.warmup, 5) if mode == "compile" else args.warmup
        start = time.perf_counter()
        seconds = median_seconds(train_step, device, args.repeats, warmup)
        print(f"{mode}: median step {seconds * 1e3:.2f} ms ({time.perf_counter() - start:.0f} s with warm-up and compilation)", file=sys.stderr)
        results[f"torch_clip_fusion_{mode}_{args.size}_b{batch}_{precision}_train_step"] = batch / seconds
        del model, forward, optimizer
    print(json.dumps(results))


if __name__ == "__main__":
    main()
