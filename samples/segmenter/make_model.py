#!/usr/bin/python3
"""Trains the segmenter sample: a small fully-convolutional network that labels every pixel
of a 64x64 image of shapes as background, circle or square.

Writes next to this script: model.onnx (input "input" float32 [batch, 3, 64, 64], ImageNet
normalisation; output "out" [batch, 3, 64, 64] logits, as torchvision's segmentation models
name it), model-config.yaml, index_to_name.json, shapes_1.png and shapes_2.png with their
true masks (*_mask.png, palette indices = classes), metrics.json.
Needs Debian's python3-torch, python3-onnx and python3-pil.
Run: /usr/bin/python3 samples/segmenter/make_model.py
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from torch import nn

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(here), "shapes"))
from shapes import CLASSES, draw  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
PALETTE = [0, 0, 0, 255, 64, 64, 64, 160, 255] + [0] * (256 * 3 - 9)


def to_input(img):
    return ((img.astype(np.float32) / 255 - MEAN) / STD).transpose(2, 0, 1)


def dataset(rng, n):
    xs, ys = [], []
    for _ in range(n):
        img, mask, _ = draw(rng)
        xs.append(to_input(img))
        ys.append(mask)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


class FCN(nn.Module):
    def __init__(self):
        super().__init__()
        c = 24
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=4, dilation=4), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=8, dilation=8), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, len(CLASSES), 1),
        )

    def forward(self, x):
        return self.net(x)


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = dataset(rng, 1500)
    x_test, y_test = dataset(rng, 200)
    model = FCN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(12):
        perm = torch.randperm(len(x_train))
        for i in range(0, len(x_train), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(x_test).argmax(1)
    pixel_acc = float((pred == y_test).float().mean())
    ious = []
    for c in range(1, len(CLASSES)):
        inter = ((pred == c) & (y_test == c)).sum().item()
        union = ((pred == c) | (y_test == c)).sum().item()
        ious.append(inter / max(union, 1))
    print(f"pixel accuracy {pixel_acc:.4f}, IoU circle {ious[0]:.3f}, square {ious[1]:.3f}")
    if pixel_acc < 0.95:
        sys.exit("accuracy below 0.95")

    torch.onnx.export(model, torch.zeros(1, 3, 64, 64), os.path.join(here, "model.onnx"), input_names=["input"],
                      output_names=["out"], dynamic_axes={"input": {0: "batch"}, "out": {0: "batch"}}, opset_version=13)
    with open(os.path.join(here, "index_to_name.json"), "w") as f:
        json.dump({str(i): n for i, n in enumerate(CLASSES)}, f, indent=2)
        f.write("\n")
    with open(os.path.join(here, "model-config.yaml"), "w") as f:
        f.write("batchSize: 8\nmaxBatchDelay: 5\nhandler:\n  resize: 0  # images are resized straight to 64x64\n")
    rng = np.random.default_rng(123)
    for k in (1, 2):
        img, mask, _ = draw(rng)
        Image.fromarray(img).save(os.path.join(here, f"shapes_{k}.png"))
        m = Image.fromarray(mask.astype(np.uint8), "P")
        m.putpalette(PALETTE)
        m.save(os.path.join(here, f"shapes_{k}_mask.png"))
    with open(os.path.join(here, "metrics.json"), "w") as f:
        json.dump({"pixel_accuracy": round(pixel_acc, 4), "iou_circle": round(ious[0], 3), "iou_square": round(ious[1], 3),
                   "test_images": 200}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
