#!/usr/bin/python3
"""Builds the sequence batcher's test model with the onnx package (Debian python3-onnx).

accumulate.onnx: a Triton-style sequence model. Inputs: INPUT [batch, 1] int32; the
controls START, END and READY [batch, 1] int32 and CORRID [batch, 1] uint64; the implicit
states SUM_IN [batch, 1] int32 and HIST_IN [batch, n] int32. Outputs: OUTPUT = SUM_IN +
INPUT (the running sum) and its state SUM_OUT (the same); HIST_OUT = Concat(HIST_IN, INPUT)
(the inputs so far, a state that grows) and HISTORY (the same, answered); FLAGS = START +
2 END + 4 READY; CORRID_OUT = CORRID. Run:
/usr/bin/python3 pkg/seqbatch/testdata/make_models.py
"""
import os

import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))


def info(name, t, dims):
    return helper.make_tensor_value_info(name, t, dims)


def ints(name, dims):
    return info(name, TensorProto.INT32, dims)


nodes = [
    helper.make_node("Add", ["SUM_IN", "INPUT"], ["OUTPUT"]),
    helper.make_node("Identity", ["OUTPUT"], ["SUM_OUT"]),
    helper.make_node("Concat", ["HIST_IN", "INPUT"], ["HIST_OUT"], axis=1),
    helper.make_node("Identity", ["HIST_OUT"], ["HISTORY"]),
    helper.make_node("Mul", ["END", "two"], ["end2"]),
    helper.make_node("Mul", ["READY", "four"], ["ready4"]),
    helper.make_node("Add", ["START", "end2"], ["se"]),
    helper.make_node("Add", ["se", "ready4"], ["FLAGS"]),
    helper.make_node("Identity", ["CORRID"], ["CORRID_OUT"]),
]
inputs = [ints("INPUT", ["batch", 1]), ints("START", ["batch", 1]), ints("END", ["batch", 1]), ints("READY", ["batch", 1]),
          info("CORRID", TensorProto.UINT64, ["batch", 1]), ints("SUM_IN", ["batch", 1]), ints("HIST_IN", ["batch", "n"])]
outputs = [ints("OUTPUT", ["batch", 1]), ints("SUM_OUT", ["batch", 1]), ints("HIST_OUT", ["batch", "m"]),
           ints("HISTORY", ["batch", "m"]), ints("FLAGS", ["batch", 1]), info("CORRID_OUT", TensorProto.UINT64, ["batch", 1])]
initializer = [helper.make_tensor("two", TensorProto.INT32, [], [2]), helper.make_tensor("four", TensorProto.INT32, [], [4])]
model = helper.make_model(helper.make_graph(nodes, "accumulate", inputs, outputs, initializer=initializer),
                          opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "accumulate.onnx"))
