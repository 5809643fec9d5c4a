"""A handler written for TorchServe for an image-classifier-like ONNX model, using what
TorchServe's package gives such handlers: BaseHandler's self.mapping (index_to_name.json)
and self.model_pt_path, map_class_to_label, list_classes_from_module, the timed decorator (a metric when
model-config.yaml's handler section says profile: true), explanations through
get_insights, and describe_handle for GET /models/{name}?customized=true."""
import json
import os
import types

from ts.context import Context
from ts.handler_utils.timer import timed
from ts.torch_handler.base_handler import BaseHandler
from ts.utils.util import list_classes_from_module, map_class_to_label


class Labelled(BaseHandler):
    def initialize(self, context: Context):
        super().initialize(context)
        self.model_file = os.path.basename(self.model_pt_path)
        # a model file's classes, as handlers find the model class in the model.py they ship
        model_file = types.ModuleType("model_file")
        exec("from json import JSONDecoder\n\nclass Net:\n    pass\n\nclass Deeper(Net):\n    pass\n\nclass Other:\n    pass\n",
             model_file.__dict__)
        found = [c.__name__ for c in list_classes_from_module(model_file, model_file.Net)]
        if found != ["Deeper", "Net"]:
            raise RuntimeError("list_classes_from_module found %s, want Deeper and Net" % found)

    @timed
    def preprocess(self, data):
        return [[float(x) for x in row.get("body")] for row in data]

    def postprocess(self, data):
        return map_class_to_label(data[0].tolist(), self.mapping)

    def get_insights(self, tensor_data, raw_data, target=0):
        return [{"explained": raw_data, "rows": len(tensor_data), "target": target, "model_file": self.model_file}]

    def describe_handle(self):
        return json.dumps({"labels": list(self.mapping.values())})
