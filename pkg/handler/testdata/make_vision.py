#!/usr/bin/python3
"""Builds the vision handler tests' models with the onnx package (Debian python3-onnx):
vision_classifier.onnx: input [batch, 3, height, width] (normalised RGB) → logits [batch, 4],
each channel's mean weighed so that a red, green or blue image's class is red, green or blue
(index_to_name.json: red, green, blue, gray); vision_segmenter.onnx: the same per pixel,
out [batch, 2, height, width]: class 1 where red leads. Run:
/usr/bin/python3 pkg/handler/testdata/make_vision.py
"""
import os

import numpy
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))


def save(name, nodes, out, out_dims, initializer):
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_dims)], initializer=initializer)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(here, name + ".onnx"))


weights = numpy.array([[1, 0, 0, -0.5], [0, 1, 0, -0.5], [0, 0, 1, -0.5]], numpy.float32)
save("vision_classifier", [helper.make_node("ReduceMean", ["input"], ["mean"], axes=[2, 3], keepdims=0),
                           helper.make_node("MatMul", ["mean", "w"], ["logits"])],
     "logits", ["batch", 4], [numpy_helper.from_array(weights, "w")])
kernel = numpy.array([[0, 0, 0], [1, -1, -1]], numpy.float32).reshape(2, 3, 1, 1)
save("vision_segmenter", [helper.make_node("Conv", ["input", "k"], ["out"])],
     "out", ["batch", 2, "height", "width"], [numpy_helper.from_array(kernel, "k")])
