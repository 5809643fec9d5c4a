#!/usr/bin/python3
"""Trains the detector sample: a small single-shot detector (YOLO-style) that finds circles
and squares in 64x64 images of shapes.

The network predicts, for each cell of an 8x8 grid, a box (centre, width, height in pixels of
the 64x64 input), an objectness score and class probabilities, decoded inside the graph, so
the ONNX output "detections" is [batch, 64, 4 + 1 + 2] in the common YOLO layout
(cx, cy, w, h, objectness, p(circle), p(square)); ts's object_detector applies the score
threshold and non-maximum suppression.

Writes next to this script: model.onnx (input "input" float32 [batch, 3, 64, 64], pixel
values in [0, 1]), model-config.yaml, index_to_name.json, shapes_1.png, shapes_2.png with
their true boxes (shapes_*.json), metrics.json.
Needs Debian's python3-torch, python3-onnx and python3-pil.
Run: /usr/bin/python3 samples/detector/make_model.py
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
from shapes import SIZE, draw  # noqa: E402

GRID = 8
CELL = SIZE // GRID
NAMES = ["circle", "square"]


def targets(boxes):
    t = np.zeros((GRID, GRID, 5 + len(NAMES)), np.float32)  # tx, ty, tw, th, obj, class one-hot
    for x1, y1, x2, y2, cls in boxes:
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
        gx, gy = min(int(cx // CELL), GRID - 1), min(int(cy // CELL), GRID - 1)
        t[gy, gx, :5] = [cx / CELL - gx, cy / CELL - gy, np.log(w / CELL), np.log(h / CELL), 1]
        t[gy, gx, 5 + cls - 1] = 1
    return t


def dataset(rng, n):
    xs, ts, bs = [], [], []
    for _ in range(n):
        img, _, boxes = draw(rng)
        xs.append(img.astype(np.float32).transpose(2, 0, 1) / 255)
        ts.append(targets(boxes))
        bs.append(boxes)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts)), bs


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        c = 32
        self.backbone = nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),        # 32
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),        # 16
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 8
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(2 * c, 5 + len(NAMES), 1),
        )
        gy, gx = torch.meshgrid(torch.arange(GRID), torch.arange(GRID), indexing="ij")
        self.register_buffer("gx", gx.reshape(1, -1).float())
        self.register_buffer("gy", gy.reshape(1, -1).float())

    def raw(self, x):
        return self.backbone(x).permute(0, 2, 3, 1)  # [N, 8, 8, 7]

    def forward(self, x):
        r = self.raw(x).reshape(x.shape[0], GRID * GRID, -1)
        cx = (torch.sigmoid(r[..., 0]) + self.gx) * CELL
        cy = (torch.sigmoid(r[..., 1]) + self.gy) * CELL
        w = torch.exp(r[..., 2]) * CELL
        h = torch.exp(r[..., 3]) * CELL
        obj = torch.sigmoid(r[..., 4])
        cls = torch.softmax(r[..., 5:], dim=-1)
        return torch.cat([torch.stack([cx, cy, w, h, obj], -1), cls], -1)


def loss_fn(raw, t):
    obj = t[..., 4]
    l_obj = nn.functional.binary_cross_entropy_with_logits(raw[..., 4], obj)
    m = obj > 0
    l_xy = nn.functional.binary_cross_entropy_with_logits(raw[..., :2][m], t[..., :2][m]) if m.any() else 0
    l_wh = nn.functional.mse_loss(raw[..., 2:4][m], t[..., 2:4][m]) if m.any() else 0
    l_cls = nn.functional.cross_entropy(raw[..., 5:][m], t[..., 5:][m].argmax(-1)) if m.any() else 0
    return 5 * l_obj + l_xy + l_wh + l_cls


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


THRESHOLD = 0.4


def detect(out, threshold=THRESHOLD):
    dets = []
    for row in out:
        cx, cy, w, h, obj = row[:5]
        score = obj * row[5:].max()
        if score >= threshold:
            dets.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, int(row[5:].argmax()) + 1, float(score)))
    dets.sort(key=lambda d: -d[5])
    kept = []
    for d in dets:
        if all(iou(d, k) < 0.45 for k in kept):
            kept.append(d)
    return kept


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train, t_train, _ = dataset(rng, 5000)
    x_test, _, b_test = dataset(rng, 200)
    model = Detector()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    epochs = 30
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * ((len(x_train) + 63) // 64))
    for epoch in range(epochs):
        perm = torch.randperm(len(x_train))
        for i in range(0, len(x_train), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model.raw(x_train[idx]), t_train[idx])
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        out = model(x_test).numpy()
    found = total = false_pos = 0
    for dets, truth in zip(out, b_test):
        kept = detect(dets)
        for t in truth:
            total += 1
            if any(d[4] == t[4] and iou(d, t) >= 0.5 for d in kept):
                found += 1
        false_pos += sum(1 for d in kept if not any(d[4] == t[4] and iou(d, t) >= 0.5 for t in truth))
    recall = found / total
    precision = (found / (found + false_pos)) if found + false_pos else 0
    print(f"recall {recall:.3f}, precision {precision:.3f} at IoU 0.5 on {len(b_test)} images")
    if recall < 0.85 or precision < 0.85:
        sys.exit("detector below 0.85 recall/precision")

    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), os.path.join(here, "model.onnx"), input_names=["input"],
                      output_names=["detections"], dynamic_axes={"input": {0: "batch"}, "detections": {0: "batch"}},
                      opset_version=13)
    with open(os.path.join(here, "index_to_name.json"), "w") as f:
        json.dump({str(i): n for i, n in enumerate(NAMES)}, f, indent=2)
        f.write("\n")
    with open(os.path.join(here, "model-config.yaml"), "w") as f:
        f.write(f"batchSize: 8\nmaxBatchDelay: 5\nhandler:\n  output_format: yolo\n  threshold: {THRESHOLD}\n  nms_iou: 0.45\n")
    rng = np.random.default_rng(321)
    for k in (1, 2):
        img, _, boxes = draw(rng)
        Image.fromarray(img).save(os.path.join(here, f"shapes_{k}.png"))
        with open(os.path.join(here, f"shapes_{k}.json"), "w") as f:
            json.dump([{NAMES[c - 1]: [x1, y1, x2, y2]} for x1, y1, x2, y2, c in boxes], f)
            f.write("\n")
    with open(os.path.join(here, "metrics.json"), "w") as f:
        json.dump({"recall_iou50": round(recall, 3), "precision_iou50": round(precision, 3), "test_images": len(b_test)}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
