#!/usr/bin/python3
"""Builds torchserve.mar the way torch-model-archiver 0.12 lays out an archive: a deflated zip
with the files at the root and MAR-INF/MANIFEST.json holding only TorchServe's fields (no file
hashes, no signature). The model is the iris sample. Run from the repository root:
/usr/bin/python3 pkg/archive/testdata/make_torchserve_mar.py
"""
import json
import os
import zipfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..", "..")
manifest = {
    "createdOn": "17/03/2025 10:00:00",
    "runtime": "python",
    "model": {"modelName": "iris", "serializedFile": "model.onnx", "handler": "tensor", "modelVersion": "2.0"},
    "archiverVersion": "0.12.0",
}
with zipfile.ZipFile(os.path.join(here, "torchserve.mar"), "w", zipfile.ZIP_DEFLATED) as z:
    z.write(os.path.join(root, "samples", "iris", "model.onnx"), "model.onnx")
    z.write(os.path.join(root, "samples", "iris", "index_to_name.json"), "index_to_name.json")
    z.writestr("MAR-INF/MANIFEST.json", json.dumps(manifest, indent=4))
