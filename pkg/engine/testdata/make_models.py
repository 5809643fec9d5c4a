#!/usr/bin/python3
"""Builds the engine's test models with the onnx package (Debian python3-onnx).

alltypes.onnx: for each element type T in float32, float16, float64, int64, int32, int8,
uint8 and bool, an input "x:T" (a name with a colon, as TensorFlow exports) of shape
[batch, 3] and an output "y:T" = Identity(x), plus an int64 scalar input "k" and an output
"k_twice" = k + k; liar.onnx, lookup.onnx, onerow.onnx and rowsoftmax.onnx are described
below. Run:
/usr/bin/python3 pkg/engine/testdata/make_models.py
"""
import os

import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))

TYPES = {
    "float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "float64": TensorProto.DOUBLE,
    "int64": TensorProto.INT64, "int32": TensorProto.INT32, "int8": TensorProto.INT8,
    "uint8": TensorProto.UINT8, "bool": TensorProto.BOOL,
}

inputs, outputs, nodes = [], [], []
for name, t in TYPES.items():
    inputs.append(helper.make_tensor_value_info(f"x:{name}", t, ["batch", 3]))
    outputs.append(helper.make_tensor_value_info(f"y:{name}", t, ["batch", 3]))
    nodes.append(helper.make_node("Identity", [f"x:{name}"], [f"y:{name}"]))
inputs.append(helper.make_tensor_value_info("k", TensorProto.INT64, []))
outputs.append(helper.make_tensor_value_info("k_twice", TensorProto.INT64, []))
nodes.append(helper.make_node("Add", ["k", "k"], ["k_twice"]))

graph = helper.make_graph(nodes, "alltypes", inputs, outputs)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "alltypes.onnx"))

# liar.onnx: declares y as [batch, 3] but returns Concat(x, x) = [2 * batch, 3], as models
# exported with wrong symbolic shapes do; ts must still return what the model computes.
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
liar = helper.make_model(helper.make_graph([helper.make_node("Concat", ["x", "x"], ["y"], axis=0)], "liar", [x], [y]),
                         opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
liar.ir_version = 8
onnx.save(liar, os.path.join(here, "liar.onnx"))

# lookup.onnx: y = Gather(table, ids) for int64 ids [batch, 4] into a [10, 2] table, as an
# embedding layer does: an id past 9 makes the run fail, for that request's batch.
ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 4])
emb = helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["batch", 4, 2])
table = helper.make_tensor("table", TensorProto.FLOAT, [10, 2], [float(i) for i in range(20)])
lookup = helper.make_model(helper.make_graph([helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0)], "lookup",
                                             [ids], [emb], initializer=[table]),
                           opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
lookup.ir_version = 8
onnx.checker.check_model(lookup)
onnx.save(lookup, os.path.join(here, "lookup.onnx"))

# onerow.onnx: declares x and y as [batch, 3] but reshapes to a fixed [1, 3], as models
# exported with a hard-coded batch of 1 do: any batch of more than one row fails to run.
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, 3])
onerow = helper.make_model(helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "onerow",
                                             [x], [y], initializer=[shape]),
                           opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
onerow.ir_version = 8
onnx.checker.check_model(onerow)
onnx.save(onerow, os.path.join(here, "onerow.onnx"))

# rowsoftmax.onnx: y = Softmax(x, axis=0) over x [n, 3]: its first dimension is not a batch
# (as a sequence is not), so stacking requests changes every answer (alone, each is all 1s).
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])
rowsoftmax = helper.make_model(helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], axis=0)], "rowsoftmax", [x], [y]),
                               opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
rowsoftmax.ir_version = 8
onnx.checker.check_model(rowsoftmax)
onnx.save(rowsoftmax, os.path.join(here, "rowsoftmax.onnx"))
