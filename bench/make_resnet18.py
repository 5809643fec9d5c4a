#!/usr/bin/python3
"""Writes ResNet-18 (torchvision, random weights) as ONNX with a dynamic batch, for make bench.
Input "input" float32 [batch, 3, 224, 224], output "logits" [batch, 1000].
Needs Debian's python3-torch, python3-torchvision and python3-onnx.
Usage: /usr/bin/python3 bench/make_resnet18.py OUT.onnx
"""
import sys

import torch
import torchvision

torch.manual_seed(0)
model = torchvision.models.resnet18(weights=None).eval()
torch.onnx.export(model, torch.zeros(1, 3, 224, 224), sys.argv[1], input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
