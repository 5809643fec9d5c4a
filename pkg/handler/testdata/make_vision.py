#!/usr/bin/python3
"""Builds the vision handler tests' models with the onnx package (Debian python3-onnx):
vision_classifier.onnx: input [batch, 3, height, width] (normalised RGB) → logits [batch, 4],
each channel's mean weighed so that a red, green or blue image's class is red, green or blue
(index_to_name.json: red, green, blue, gray); vision_segmenter.onnx: the same per pixel,
out [batch, 2, height, width]: class 1 where red leads; vision_detector.onnx: as torchvision's
detectors export, images [3, height, width] → boxes [2, 4], labels [2] (1 and 3) and scores [2],
the image's mean red and mean blue (index_to_name.json: 1 apple, 3 sky). Run:
/usr/bin/python3 pkg/handler/testdata/make_vision.py
"""
import os

import numpy
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))


def save(name, nodes, out, out_dims, initializer, inputs=None, outputs=None):
    inputs = inputs or [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, "height", "width"])]
    outputs = outputs or [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_dims)]
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializer)
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
save("vision_detector", [helper.make_node("ReduceMean", ["images"], ["means"], axes=[1, 2], keepdims=0),
                         helper.make_node("Gather", ["means", "red_blue"], ["scores"], axis=0),
                         helper.make_node("Identity", ["box_table"], ["boxes"]),
                         helper.make_node("Identity", ["label_table"], ["labels"])],
     None, None, [numpy_helper.from_array(numpy.array([0, 2], numpy.int64), "red_blue"),
                  numpy_helper.from_array(numpy.array([[0, 0, 10, 10], [5, 5, 20, 20]], numpy.float32), "box_table"),
                  numpy_helper.from_array(numpy.array([1, 3], numpy.int64), "label_table")],
     inputs=[helper.make_tensor_value_info("images", TensorProto.FLOAT, [3, "height", "width"])],
     outputs=[helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [2, 4]), helper.make_tensor_value_info("labels", TensorProto.INT64, [2]),
              helper.make_tensor_value_info("scores", TensorProto.FLOAT, [2])])
