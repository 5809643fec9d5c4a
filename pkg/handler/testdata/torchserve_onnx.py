"""A handler written for TorchServe for an ONNX model: its BaseHandler gives the .onnx model
as self.model, an onnxruntime session; ts runs the model itself behind the same API."""
from ts.torch_handler.base_handler import BaseHandler


class IrisHandler(BaseHandler):
    def initialize(self, context):
        super().initialize(context)
        # a warm-up run while the model loads, as handlers do
        self.warm = self.model.run(None, {self.model.get_inputs()[0].name: [[5.1, 3.5, 1.4, 0.2]]})[0].tolist()[0]

    def preprocess(self, data):
        body = data[0].get("body")  # JSON, parsed: {"flowers": [[...], ...]}
        return [[float(x) for x in row] for row in body["flowers"]]

    def inference(self, data, *args, **kwargs):
        name = self.model.get_inputs()[0].name
        first = self.model.run(None, {name: data})[0]
        # a second run in the same request, on the first flower alone
        alone = self.model.run([self.model.get_outputs()[0].name], {name: data[:1]})[0]
        return first, alone

    def postprocess(self, data):
        probs, alone = (x.tolist() for x in data)
        return [{"probabilities": probs, "first_alone": alone[0], "input": self.model.get_inputs()[0].name, "warm": self.warm}]
