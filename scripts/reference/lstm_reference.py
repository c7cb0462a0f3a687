#!/usr/bin/env python3
"""Writes tests/fixtures/lstm/: a tiny PyTorch text LSTM (random weights, PyTorch's layout), the
vocabulary, captions, and PyTorch's outputs, so the Rust side can assert agreement without a GPU.

    python3 scripts/reference/lstm_reference.py [OUT_DIR]

Model: nn.Embedding(V, 6) -> nn.LSTM(6, 5, num_layers=2, batch_first=True) -> nn.Linear(5, 1), the
memefuse TextLstm layout. Captions are cleaned as memefuse's data::text::tokenize does (URLs and
hashtags dropped, non-alphanumerics deleted, lower-cased), truncated or post-padded to MAX_LEN with
<pad> = 0; unknown words map to <unk> = 1.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

MAX_LEN = 7
WORDS = ["the", "cat", "dog", "is", "a", "good", "bad", "very", "people", "love", "hate", "this", "meme", "when", "you"]
TEXTS = [
    "The cat is very good",
    "When you hate this meme, you LOVE this meme! The dog is bad and very very bad indeed",
    "zebra unknown words #hashtag http://example.com",
    "",
    "a dog",
    "people love people who love people",
]


def tokenize(text):
    tokens = []
    for piece in text.split():
        lower = piece.lower()
        if "http://" in lower or "https://" in lower or lower.startswith("www.") or piece.startswith("#"):
            continue
        kept = "".join(c for c in lower if c.isalnum() or c.isspace())
        tokens.extend(kept.split())
    return tokens


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../tests/fixtures/lstm")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1234)
    vocab = ["<pad>", "<unk>"] + WORDS
    ids_of = {w: i for i, w in enumerate(vocab)}
    embedding = torch.nn.Embedding(len(vocab), 6)
    lstm = torch.nn.LSTM(6, 5, num_layers=2, batch_first=True)
    fc = torch.nn.Linear(5, 1)

    ids, lengths = [], []
    for text in TEXTS:
        row = [ids_of.get(t, 1) for t in tokenize(text)][:MAX_LEN]
        lengths.append(len(row))
        ids.append(row + [0] * (MAX_LEN - len(row)))
    with torch.no_grad():
        tokens = torch.tensor(ids, dtype=torch.long)
        sequence, _ = lstm(embedding(tokens))
        last_step = fc(sequence[:, -1, :]).squeeze(1)
        index = torch.tensor([max(n, 1) - 1 for n in lengths])
        last_real = fc(sequence[torch.arange(len(TEXTS)), index, :]).squeeze(1)

    state = {"embedding.weight": embedding.weight}
    state.update({f"lstm.{k}": v for k, v in lstm.state_dict().items()})
    state.update({f"fc.{k}": v for k, v in fc.state_dict().items()})
    save_file({k: v.detach().contiguous() for k, v in state.items()}, os.path.join(out, "weights.safetensors"))
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    expected = {
        "torch_version": torch.__version__,
        "max_len": MAX_LEN,
        "texts": TEXTS,
        "ids": ids,
        "lengths": lengths,
        "last_step_logits": last_step.tolist(),
        "last_step_probas": torch.sigmoid(last_step).tolist(),
        "last_real_token_logits": last_real.tolist(),
        "last_real_token_probas": torch.sigmoid(last_real).tolist(),
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"wrote {out}: {len(TEXTS)} captions, torch {torch.__version__}")


if __name__ == "__main__":
    main()
