#!/usr/bin/env python3
"""Writes tests/fixtures/clip_tiny/ and tests/fixtures/clip_tiny_gelu/: two tiny random
transformers.CLIPModel folders (save_pretrained: config.json + model.safetensors) and, in
reference.safetensors, inputs and HuggingFace's outputs, so tests/clip.rs can check that memefuse
computes exactly what transformers.CLIPModel computes.

    /root/.cache/memefuse-py/bin/python scripts/reference/clip_reference.py [FIXTURES_DIR]

Pinned: torch 2.15, transformers 5.24, safetensors (the versions recorded in each reference file).

clip_tiny:      quick_gelu, 64 px images in 16 px patches (17 tokens), text eos_token_id = 299
                (pooling at the first end-of-text token), layer_norm_eps 1e-5.
clip_tiny_gelu: exact gelu, 30 px images in 6 px patches (26 tokens), legacy eos_token_id = 2
                (pooling at the argmax of the ids, as transformers keeps for old configs),
                layer_norm_eps 1e-6, captions shorter than max_position_embeddings.

Weights are redrawn at the scale of a trained model (HF's initialiser, std 0.02, would leave every
layer close to the identity and the comparison insensitive): matrices ~ N(0, 1/fan_in), layer
norm weights ~ 1 + N(0, 0.1²), biases and embeddings ~ N(0, 0.1²) / N(0, 1), logit_scale = 2.3
(not the 2.6592 default, so that reading it from the file is checked).

reference.safetensors: pixel_values [2, 3, S, S] (NCHW, as HF takes them), input_ids and
attention_mask [3, L] (int32; each row: bos, random tokens, eos, then pad 0), and HF's
image_embeds [2, P], text_embeds [3, P] (both L2-normalised) and logits_per_image [2, 3].
"""
import json
import os
import sys

import safetensors
import torch
import transformers
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel

CONFIGS = {
    "clip_tiny": dict(
        text=dict(vocab_size=300, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=16, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                  bos_token_id=298, eos_token_id=299, pad_token_id=0),
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=64,
                    patch_size=16, hidden_act="quick_gelu", layer_norm_eps=1e-5),
        projection_dim=24, seq_len=16, lengths=[16, 9, 4], seed=13,
    ),
    "clip_tiny_gelu": dict(
        text=dict(vocab_size=200, hidden_size=24, intermediate_size=40, num_hidden_layers=2, num_attention_heads=3,
                  max_position_embeddings=12, hidden_act="gelu", layer_norm_eps=1e-6,
                  bos_token_id=198, eos_token_id=2, pad_token_id=0),
        vision=dict(hidden_size=40, intermediate_size=56, num_hidden_layers=2, num_attention_heads=2, image_size=30,
                    patch_size=6, hidden_act="gelu", layer_norm_eps=1e-6),
        projection_dim=20, seq_len=10, lengths=[10, 6, 3], seed=14,
    ),
}


def redraw_weights(model, generator):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                p.fill_(2.3)
            elif "layer_norm" in name or "layernorm" in name or "layrnorm" in name:
                if name.endswith("weight"):
                    p.copy_(1 + 0.1 * torch.randn(p.shape, generator=generator))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=generator))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))
            elif "embedding" in name:
                p.copy_(torch.randn(p.shape, generator=generator) * (0.5 if "position" in name else 1.0))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) / fan_in ** 0.5)


def token_ids(spec, generator):
    text = spec["text"]
    # The end token: the config's eos id, or (legacy configs, argmax pooling) the highest id.
    eos = text["eos_token_id"] if text["eos_token_id"] != 2 else text["vocab_size"] - 1
    rows, masks = [], []
    for length in spec["lengths"]:
        middle = torch.randint(3, text["vocab_size"] - 3, (length - 2,), generator=generator).tolist()
        row = [text["bos_token_id"]] + middle + [eos]
        rows.append(row + [0] * (spec["seq_len"] - length))
        masks.append([1] * length + [0] * (spec["seq_len"] - length))
    return torch.tensor(rows, dtype=torch.int64), torch.tensor(masks, dtype=torch.int64)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
    for name, spec in CONFIGS.items():
        generator = torch.Generator().manual_seed(spec["seed"])
        config = CLIPConfig(text_config=spec["text"], vision_config=spec["vision"], projection_dim=spec["projection_dim"])
        model = CLIPModel(config).eval()
        redraw_weights(model, generator)
        out = os.path.join(root, name)
        os.makedirs(out, exist_ok=True)
        model.save_pretrained(out)
        size = spec["vision"]["image_size"]
        pixel_values = torch.randn(2, 3, size, size, generator=generator)
        input_ids, attention_mask = token_ids(spec, generator)
        with torch.no_grad():
            result = model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values)
        tensors = {
            "pixel_values": pixel_values.contiguous(),
            "input_ids": input_ids.to(torch.int32),
            "attention_mask": attention_mask.to(torch.int32),
            "image_embeds": result.image_embeds.contiguous(),
            "text_embeds": result.text_embeds.contiguous(),
            "logits_per_image": result.logits_per_image.contiguous(),
        }
        metadata = {"torch": torch.__version__, "transformers": transformers.__version__, "safetensors": safetensors.__version__}
        save_file(tensors, os.path.join(out, "reference.safetensors"), metadata=metadata)
        print(name, {k: tuple(v.shape) for k, v in tensors.items()}, json.dumps(metadata))


if __name__ == "__main__":
    main()
