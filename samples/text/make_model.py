#!/usr/bin/python3
"""Trains the text sample: a small topic classifier (sports, weather, food) on a generated
corpus of short English sentences.

Writes next to this script: model.onnx (inputs "input_ids" and "attention_mask", int64
[batch, sequence]; output "logits" [batch, 3]), tokenizer.json (Hugging Face format: a
WordLevel model with a Lowercase normalizer and a Whitespace pre-tokenizer), vocab.txt (the
same vocabulary, one token per line), index_to_name.json, model-config.yaml, three example
texts (sports.txt, weather.txt, food.txt), reference.json (token ids the Go tokenizer must
reproduce) and metrics.json.
Needs Debian's python3-torch and python3-onnx.
Run: /usr/bin/python3 samples/text/make_model.py
"""
import json
import os
import random
import re
import sys

import torch
from torch import nn

here = os.path.dirname(os.path.abspath(__file__))
TOPICS = ["sports", "weather", "food"]
WORDS = {
    "sports": ["team", "match", "goal", "coach", "players", "season", "score", "league", "referee", "stadium",
               "won", "lost", "final", "championship", "striker", "tennis", "football", "race", "medal", "fans"],
    "weather": ["rain", "sunny", "storm", "wind", "forecast", "clouds", "snow", "temperature", "cold", "warm",
                "humid", "thunder", "fog", "degrees", "showers", "breeze", "frost", "heatwave", "sky", "umbrella"],
    "food": ["pizza", "soup", "recipe", "dinner", "bread", "cheese", "spicy", "kitchen", "chef", "salad",
             "delicious", "oven", "garlic", "dessert", "pasta", "restaurant", "taste", "lunch", "sauce", "baked"],
}
FILLER = ["the", "a", "was", "is", "today", "yesterday", "very", "really", "we", "they", "it", "and", "so", "our",
          "this", "that", "at", "in", "after", "before", "quite", "again", "!", ",", "."]
MAX_LEN = 32


def tokens(text):
    """What tokenizer.json does: lowercase, then split words from punctuation (Whitespace)."""
    return re.findall(r"\w+|[^\w\s]+", text.lower())


def sentence(rng, topic):
    words = rng.sample(WORDS[topic], rng.randint(2, 4)) + rng.sample(FILLER, rng.randint(3, 7))
    rng.shuffle(words)
    words = [w.capitalize() if rng.random() < 0.1 else w for w in words]
    return " ".join(words)


def encode(vocab, text):
    ids = [vocab.get(t, 1) for t in tokens(text)][:MAX_LEN]
    mask = [1] * len(ids) + [0] * (MAX_LEN - len(ids))
    return ids + [0] * (MAX_LEN - len(ids)), mask


class Classifier(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 32, padding_idx=0)
        self.out = nn.Linear(32, len(TOPICS))

    def forward(self, input_ids, attention_mask):
        m = attention_mask.unsqueeze(-1).float()
        pooled = (self.embed(input_ids) * m).sum(1) / m.sum(1).clamp(min=1)
        return self.out(pooled)


def main():
    rng = random.Random(0)
    torch.manual_seed(0)
    data = [(sentence(rng, t), i) for _ in range(1000) for i, t in enumerate(TOPICS)]
    rng.shuffle(data)
    train, test = data[:2400], data[2400:]
    vocab = {"[PAD]": 0, "[UNK]": 1}
    for text, _ in train:
        for tok in tokens(text):
            vocab.setdefault(tok, len(vocab))

    def tensors(rows):
        enc = [encode(vocab, t) for t, _ in rows]
        return (torch.tensor([e[0] for e in enc]), torch.tensor([e[1] for e in enc]), torch.tensor([y for _, y in rows]))

    ids, mask, y = tensors(train)
    model = Classifier(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(15):
        perm = torch.randperm(len(ids))
        for i in range(0, len(ids), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(ids[idx], mask[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    tids, tmask, ty = tensors(test)
    with torch.no_grad():
        accuracy = float((model(tids, tmask).argmax(1) == ty).float().mean())
    print(f"test accuracy {accuracy:.4f} on {len(test)} sentences, vocabulary {len(vocab)}")
    if accuracy < 0.95:
        sys.exit("accuracy below 0.95")

    torch.onnx.export(model, (ids[:1], mask[:1]), os.path.join(here, "model.onnx"),
                      input_names=["input_ids", "attention_mask"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                                    "logits": {0: "batch"}}, opset_version=13)
    special = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
               for t, i in (("[PAD]", 0), ("[UNK]", 1))]
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
           "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"},
           "post_processor": None, "decoder": None,
           "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}}
    with open(os.path.join(here, "tokenizer.json"), "w") as f:
        json.dump(tok, f, indent=1)
        f.write("\n")
    with open(os.path.join(here, "vocab.txt"), "w") as f:
        f.write("\n".join(sorted(vocab, key=vocab.get)) + "\n")
    with open(os.path.join(here, "index_to_name.json"), "w") as f:
        json.dump({str(i): t for i, t in enumerate(TOPICS)}, f, indent=2)
        f.write("\n")
    with open(os.path.join(here, "model-config.yaml"), "w") as f:
        f.write(f"batchSize: 16\nmaxBatchDelay: 5\nhandler:\n  max_length: {MAX_LEN}\n")
    examples = {"sports": "The team won the final after a late goal, the fans were really happy!",
                "weather": "Heavy rain and a cold wind today, the forecast says more showers tomorrow.",
                "food": "We baked fresh bread and made a spicy garlic sauce for dinner."}
    ref = []
    for name, text in examples.items():
        with open(os.path.join(here, f"{name}.txt"), "w") as f:
            f.write(text + "\n")
        e = encode(vocab, text)
        ref.append({"text": text, "input_ids": e[0], "attention_mask": e[1]})
    with open(os.path.join(here, "reference.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")
    with open(os.path.join(here, "metrics.json"), "w") as f:
        json.dump({"test_accuracy": round(accuracy, 4), "test_sentences": len(test), "vocabulary": len(vocab)}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
