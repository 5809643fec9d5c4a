#!/usr/bin/python3
"""Trains the digits sample: a small CNN on scikit-learn's 8x8 handwritten digits.

Writes, next to this script:
  model.onnx          float32 CNN, input "input" [batch, 1, 8, 8] (pixel values in [0, 1]),
                      output "logits" [batch, 10]; the batch dimension is dynamic
  model_fp16.onnx     the same network with float16 weights, input and output
  index_to_name.json  class index -> digit
  reference.json      16 test inputs with the float32 model's outputs (for the Go tests)
  reference_fp16.json the same inputs (float16) with the float16 model's outputs
  0.png ... 9.png     one test digit per class, 64x64 grayscale (white ink on black)
  3.jpg, 8.jpg        two of them as JPEG
  metrics.json        measured test accuracy

Needs Debian's python3-torch, python3-onnx, python3-sklearn and python3-pil:
  apt-get install python3-torch python3-onnx python3-sklearn python3-pil
Run: /usr/bin/python3 samples/digits/make_model.py
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
from common import float16_copy, write_reference  # noqa: E402

torch.manual_seed(0)
np.random.seed(0)


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)

    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for epoch in range(40):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            # small random shifts make the model robust to how an image is cropped and resized
            batch = xt[idx]
            if epoch > 5:
                dx, dy = np.random.randint(-1, 2, size=2)
                batch = torch.roll(batch, shifts=(int(dy), int(dx)), dims=(2, 3))
            opt.zero_grad()
            loss = loss_fn(model(batch), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x_test)).argmax(1).numpy()
    accuracy = float((pred == y_test).mean())
    print(f"test accuracy: {accuracy:.4f} on {len(y_test)} images")
    if accuracy < 0.95:
        sys.exit(f"accuracy {accuracy:.4f} is below the 0.95 target")

    onnx_path = os.path.join(here, "model.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 8, 8), onnx_path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
    float16_copy(onnx_path, os.path.join(here, "model_fp16.onnx"))

    with open(os.path.join(here, "index_to_name.json"), "w") as f:
        json.dump({str(i): str(i) for i in range(10)}, f, indent=2)
        f.write("\n")

    ref_in = x_test[:16]
    with torch.no_grad():
        ref_out = model(torch.from_numpy(ref_in)).numpy()
        ref_half = model.half().float()  # the float16 model computes in float32 on float16-rounded weights
        half_in = ref_in.astype(np.float16)
        half_out = ref_half(torch.from_numpy(half_in.astype(np.float32))).numpy().astype(np.float16)
    model.float()
    write_reference(os.path.join(here, "reference.json"), "input", ref_in, "logits", ref_out,
                    {"labels": y_test[:16].tolist()})
    write_reference(os.path.join(here, "reference_fp16.json"), "input", half_in, "logits", half_out,
                    {"labels": y_test[:16].tolist()})

    # One image per digit, chosen among test images the model gets right even after the
    # image round trip (upscale for viewing, then the antialiased downscale a server does).
    written = {}
    for i in range(len(x_test)):
        d = int(y_test[i])
        if d in written:
            continue
        big = Image.fromarray(np.round(x_test[i, 0] * 255).astype(np.uint8), "L").resize((64, 64), Image.NEAREST)
        ok = True
        for fmt in ("PNG", "JPEG"):
            path = os.path.join(here, f"{d}.{'png' if fmt == 'PNG' else 'jpg'}")
            big.save(path, fmt, quality=95) if fmt == "JPEG" else big.save(path, fmt)
            small = np.asarray(Image.open(path).convert("L").resize((8, 8), Image.BILINEAR), np.float32) / 255.0
            with torch.no_grad():
                probs = torch.softmax(model(torch.from_numpy(small[None, None])), 1)[0].numpy()
            if probs.argmax() != d or probs.max() < 0.9:
                ok = False
        if ok:
            written[d] = i
        if len(written) == 10:
            break
    for d in range(10):
        if d not in written:
            sys.exit(f"no robust test image found for digit {d}")
    for d in range(10):  # keep JPEG copies of two digits only
        if d not in (3, 8):
            os.remove(os.path.join(here, f"{d}.jpg"))

    with open(os.path.join(here, "metrics.json"), "w") as f:
        json.dump({"test_accuracy": round(accuracy, 4), "test_images": int(len(y_test))}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
