"""The iris handler as it would be written for TorchServe: a BaseHandler subclass for an ONNX
model, using only TorchServe's API (no torch, no ts kit). ts serves it unchanged: self.model is
the archive's ONNX model with onnxruntime's API, which ts runs (batched, in ONNX Runtime).

Request: JSON {"flowers": [[sepal length, sepal width, petal length, petal width], ...]} (cm).
Answer: the species of each flower with its probability."""
import json
import os

from ts.torch_handler.base_handler import BaseHandler
from ts.utils.util import PredictionException


class IrisHandler(BaseHandler):
    def initialize(self, context):
        super().initialize(context)
        model_dir = context.system_properties.get("model_dir")
        with open(os.path.join(model_dir, "index_to_name.json")) as f:
            self.names = json.load(f)

    def preprocess(self, data):
        body = data[0].get("data") or data[0].get("body")
        if isinstance(body, (bytes, bytearray)):  # sent without Content-Type: application/json
            body = json.loads(body.decode("utf-8"))
        flowers = body.get("flowers") if isinstance(body, dict) else None
        if not flowers or any(len(row) != 4 for row in flowers):
            raise PredictionException('send {"flowers": [[four numbers], ...]}', 400)
        return [[float(x) for x in row] for row in flowers]

    def inference(self, data, *args, **kwargs):
        return self.model.run(None, {self.model.get_inputs()[0].name: data})

    def postprocess(self, data):
        answers = []
        for probs in data[0].tolist():
            best = max(range(len(probs)), key=lambda k: probs[k])
            answers.append({"species": self.names[str(best)], "probability": round(probs[best], 4)})
        return [answers]
