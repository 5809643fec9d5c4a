#!/usr/bin/python3
"""Builds densenet_like.onnx with the onnx package (Debian python3-onnx): the signature of
Triton's quickstart model densenet_onnx (input data_0 [1, 3, 224, 224], output fc6_1
[1, 1000, 1, 1]), whose config.pbtxt reshapes both, computed cheaply: each channel's mean
through a 1x1 convolution of fixed random weights. Run:
/usr/bin/python3 pkg/server/testdata/triton/make_models.py
"""
import os

import numpy
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
weights = numpy.random.default_rng(0).standard_normal((1000, 3, 1, 1)).astype(numpy.float32)
nodes = [helper.make_node("ReduceMean", ["data_0"], ["mean"], axes=[2, 3], keepdims=1),
         helper.make_node("Conv", ["mean", "w"], ["fc6_1"])]
graph = helper.make_graph(nodes, "densenet_like", [helper.make_tensor_value_info("data_0", TensorProto.FLOAT, [1, 3, 224, 224])],
                          [helper.make_tensor_value_info("fc6_1", TensorProto.FLOAT, [1, 1000, 1, 1])],
                          initializer=[numpy_helper.from_array(weights, "w")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "densenet_like.onnx"))
