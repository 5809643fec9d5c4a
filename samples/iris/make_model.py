#!/usr/bin/python3
"""Trains the iris sample: a tiny MLP on scikit-learn's iris data, served with raw tensors.

Writes, next to this script:
  model.onnx          input "features" [batch, 4] float32 (sepal length, sepal width, petal length,
                      petal width in cm; standardised inside the model), output "probabilities" [batch, 3]
  index_to_name.json  class index -> species
  reference.json      the 38 test inputs with the model's outputs (for the Go tests)
  metrics.json        measured test accuracy
  setosa.json, versicolor.json, virginica.json  one request body each, for the tensor handler

Needs Debian's python3-torch, python3-onnx and python3-sklearn.
Run: /usr/bin/python3 samples/iris/make_model.py
"""
import json
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from torch import nn

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
from common import write_reference  # noqa: E402

torch.manual_seed(0)


class IrisMLP(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        return torch.softmax(self.net((x - self.mean) / self.std), dim=1)


def main():
    iris = load_iris()
    x = iris.data.astype(np.float32)
    y = iris.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    model = IrisMLP(x_train.mean(0), x_train.std(0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(300):
        opt.zero_grad()
        loss = nn.functional.nll_loss(torch.log(model(xt) + 1e-9), yt)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        probs = model(torch.from_numpy(x_test)).numpy()
    accuracy = float((probs.argmax(1) == y_test).mean())
    print(f"test accuracy: {accuracy:.4f} on {len(y_test)} flowers")
    if accuracy < 0.9:
        sys.exit(f"accuracy {accuracy:.4f} is below the 0.9 target")

    torch.onnx.export(model, torch.zeros(1, 4), os.path.join(here, "model.onnx"), input_names=["features"],
                      output_names=["probabilities"], dynamic_axes={"features": {0: "batch"}, "probabilities": {0: "batch"}},
                      opset_version=13)
    names = [str(n) for n in iris.target_names]
    with open(os.path.join(here, "index_to_name.json"), "w") as f:
        json.dump({str(i): n for i, n in enumerate(names)}, f, indent=2)
        f.write("\n")
    write_reference(os.path.join(here, "reference.json"), "features", x_test, "probabilities", probs,
                    {"labels": y_test.tolist()})
    for cls, name in enumerate(names):
        i = int(np.where((y_test == cls) & (probs.argmax(1) == cls))[0][0])
        with open(os.path.join(here, f"{name}.json"), "w") as f:
            json.dump({"inputs": {"features": [np.round(x_test[i].astype(float), 4).tolist()]}}, f)
            f.write("\n")
    with open(os.path.join(here, "metrics.json"), "w") as f:
        json.dump({"test_accuracy": round(accuracy, 4), "test_flowers": int(len(y_test))}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
