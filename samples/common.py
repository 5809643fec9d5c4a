"""Helpers shared by the sample scripts: reference outputs and a float16 copy of a model.

Run with Debian's python3 (apt-get install python3-torch python3-torchvision python3-onnx
python3-sklearn python3-pil).
"""
import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def write_reference(path, input_name, inputs, output_name, outputs, extra=None):
    """Saves inputs and the exporter's outputs so the Go tests can check ONNX Runtime against them."""
    doc = {
        "inputs": {input_name: {"shape": list(inputs.shape), "dtype": str(inputs.dtype), "data": inputs.ravel().tolist()}},
        "outputs": {output_name: {"shape": list(outputs.shape), "dtype": str(outputs.dtype), "data": outputs.ravel().tolist()}},
    }
    if extra:
        doc.update(extra)
    with open(path, "w") as f:
        json.dump(doc, f)
        f.write("\n")


def float16_copy(src, dst):
    """Writes a copy of an ONNX model whose float weights, inputs and outputs are float16.

    Weights are stored as float16 (half the size) and cast to float32 where they are used, and
    float16 inputs/outputs are cast at the graph's edges, so every operator still runs in float32:
    the ONNX Runtime CPU provider lacks float16 kernels for many operators.
    """
    m = onnx.load(src)
    g = m.graph
    nodes = []
    renamed = {}
    for init in g.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        name, half = init.name, init.name + "_fp16"
        weights = numpy_helper.to_array(init).astype(np.float16)
        init.CopyFrom(numpy_helper.from_array(weights, half))
        nodes.append(helper.make_node("Cast", [half], [name], to=TensorProto.FLOAT, name="cast_" + half))
        renamed[name] = half
    for inp in g.input:
        if inp.type.tensor_type.elem_type != TensorProto.FLOAT or inp.name in renamed:
            continue
        name = inp.name
        for n in g.node:
            for i, x in enumerate(n.input):
                if x == name:
                    n.input[i] = name + "_f32"
        nodes.append(helper.make_node("Cast", [name], [name + "_f32"], to=TensorProto.FLOAT, name="cast_in_" + name))
        inp.type.tensor_type.elem_type = TensorProto.FLOAT16
    tail = []
    for out in g.output:
        if out.type.tensor_type.elem_type == TensorProto.FLOAT:
            old = out.name
            for n in g.node:
                for i, x in enumerate(n.output):
                    if x == old:
                        n.output[i] = old + "_f32"
            tail.append(helper.make_node("Cast", [old + "_f32"], [old], to=TensorProto.FLOAT16, name="cast_out_" + old))
            out.type.tensor_type.elem_type = TensorProto.FLOAT16
    body = list(g.node)
    del g.node[:]
    g.node.extend(nodes + body + tail)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
