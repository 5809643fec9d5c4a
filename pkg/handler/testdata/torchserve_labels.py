"""A handler written for TorchServe for an image-classifier-like ONNX model, using what
TorchServe's package gives such handlers: BaseHandler's self.mapping (index_to_name.json),
map_class_to_label, and the timed decorator (a metric when model-config.yaml's handler
section says profile: true)."""
from ts.handler_utils.timer import timed
from ts.torch_handler.base_handler import BaseHandler
from ts.utils.util import map_class_to_label


class Labelled(BaseHandler):
    @timed
    def preprocess(self, data):
        return [[float(x) for x in row.get("body")] for row in data]

    def postprocess(self, data):
        return map_class_to_label(data[0].tolist(), self.mapping)
