"""PyTorch/cuDNN reference for benches/lstm.rs: the 2-layer LSTM text classifier (embedding ->
nn.LSTM(2 layers, batch_first) -> last step -> Linear(H, 1)), BCE-with-logits + Adam, fp32 with
PyTorch's defaults (cuDNN; TF32 as torch leaves it). Prints one JSON object:
name -> samples/s, median of 20 timed runs with CUDA events after a warm-up.
Shapes (embedding, hidden, sequence, batch): (100, 64, 64, 64) and (256, 512, 128, 256).
"""
import json

import torch

from torch_reference import median_seconds  # same folder (the bundle)

VOCAB = 20_000


class TextLstm(torch.nn.Module):
    def __init__(self, embedding, hidden):
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCAB, embedding)
        self.lstm = torch.nn.LSTM(embedding, hidden, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(hidden, 1)

    def forward(self, tokens):
        sequence, _ = self.lstm(self.embedding(tokens))
        return self.fc(sequence[:, -1, :]).squeeze(1)


def samples_per_second(fn, batch):
    return batch / median_seconds(fn, warmup=5)


def main():
    results = {}
    for embedding, hidden, sequence, batch in [(100, 64, 64, 64), (256, 512, 128, 256)]:
        name = f"e{embedding}_h{hidden}_t{sequence}_b{batch}"
        model = TextLstm(embedding, hidden).cuda()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        tokens = torch.randint(0, VOCAB, (batch, sequence), device="cuda")
        targets = (torch.arange(batch, device="cuda") % 2).float()

        def forward():
            with torch.no_grad():
                model(tokens)

        def train_step():
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(tokens), targets)
            loss.backward()
            optimizer.step()

        results[f"lstm_forward_{name}"] = samples_per_second(forward, batch)
        results[f"lstm_train_step_{name}"] = samples_per_second(train_step, batch)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
