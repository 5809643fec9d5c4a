#!/usr/bin/python3
"""Builds the engine's test models with the onnx package (Debian python3-onnx).

alltypes.onnx: for each element type T in float32, float16, float64, int64, int32, int8,
uint8 and bool, an input "x:T" (a name with a colon, as TensorFlow exports) of shape
[batch, 3] and an output "y:T" = Identity(x), plus an int64 scalar input "k" and an output
"k_twice" = k + k; liar, lookup, onerow, rowsoftmax, manyout, hungry, zipmap, seqtensors,
seqonly, norank, masked, constant, external, tfdetector, passthrough, detr, named, yolov8, yolov3,
sizedetector, yolov2, yolov4, zerodim, nulname, newir and strings.onnx are described below. Run:
/usr/bin/python3 pkg/engine/testdata/make_models.py
"""
import os

import numpy
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))

TYPES = {
    "float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "float64": TensorProto.DOUBLE,
    "int64": TensorProto.INT64, "int32": TensorProto.INT32, "int8": TensorProto.INT8,
    "uint8": TensorProto.UINT8, "bool": TensorProto.BOOL,
}


def save(name, nodes, inputs, outputs, initializer=(), check=True):
    """Writes the graph as NAME.onnx (opset 13, IR version 8) beside this script."""
    model = helper.make_model(helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializer)),
                              opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, os.path.join(here, name + ".onnx"))


def floats(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


inputs, outputs, nodes = [], [], []
for name, t in TYPES.items():
    inputs.append(helper.make_tensor_value_info(f"x:{name}", t, ["batch", 3]))
    outputs.append(helper.make_tensor_value_info(f"y:{name}", t, ["batch", 3]))
    nodes.append(helper.make_node("Identity", [f"x:{name}"], [f"y:{name}"]))
inputs.append(helper.make_tensor_value_info("k", TensorProto.INT64, []))
outputs.append(helper.make_tensor_value_info("k_twice", TensorProto.INT64, []))
nodes.append(helper.make_node("Add", ["k", "k"], ["k_twice"]))
save("alltypes", nodes, inputs, outputs)

# liar.onnx: declares y as [batch, 3] but returns Concat(x, x) = [2 * batch, 3], as models
# exported with wrong symbolic shapes do; ts must still return what the model computes.
save("liar", [helper.make_node("Concat", ["x", "x"], ["y"], axis=0)],
     [floats("x", ["batch", 3])], [floats("y", ["batch", 3])], check=False)

# lookup.onnx: y = Gather(table, ids) for int64 ids [batch, 4] into a [10, 2] table, as an
# embedding layer does: an id past 9 makes the run fail, for that request's batch.
save("lookup", [helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0)],
     [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 4])], [floats("emb", ["batch", 4, 2])],
     initializer=[helper.make_tensor("table", TensorProto.FLOAT, [10, 2], [float(i) for i in range(20)])])

# onerow.onnx: declares x and y as [batch, 3] but reshapes to a fixed [1, 3], as models
# exported with a hard-coded batch of 1 do: any batch of more than one row fails to run.
save("onerow", [helper.make_node("Reshape", ["x", "shape"], ["y"])],
     [floats("x", ["batch", 3])], [floats("y", ["batch", 3])],
     initializer=[helper.make_tensor("shape", TensorProto.INT64, [2], [1, 3])])

# rowsoftmax.onnx: y = Softmax(x, axis=0) over x [n, 3]: its first dimension is not a batch
# (as a sequence is not), so stacking requests changes every answer (alone, each is all 1s).
save("rowsoftmax", [helper.make_node("Softmax", ["x"], ["y"], axis=0)], [floats("x", ["n", 3])], [floats("y", ["n", 3])])

# manyout.onnx: from x:0 [batch, 3] (a name with a colon), five outputs of four element types
# and ranks, all following the batch: "y:0" = 2x, "rounded" = int64(x), "sum" = the row sums
# [batch, 1], "positive" = x > 0, "echo" = x.
save("manyout", [
    helper.make_node("Add", ["x:0", "x:0"], ["y:0"]),
    helper.make_node("Cast", ["x:0"], ["rounded"], to=TensorProto.INT64),
    helper.make_node("ReduceSum", ["x:0", "axes"], ["sum"], keepdims=1),
    helper.make_node("Greater", ["x:0", "zero"], ["positive"]),
    helper.make_node("Identity", ["x:0"], ["echo"]),
], [floats("x:0", ["batch", 3])], [
    floats("y:0", ["batch", 3]), helper.make_tensor_value_info("rounded", TensorProto.INT64, ["batch", 3]),
    floats("sum", ["batch", 1]), helper.make_tensor_value_info("positive", TensorProto.BOOL, ["batch", 3]),
    floats("echo", ["batch", 3]),
], initializer=[helper.make_tensor("axes", TensorProto.INT64, [1], [1]), helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])])

# hungry.onnx: y = ReduceSum(ConstantOfShape(n)) for an int64 n [1]: n = 10^12 asks ONNX
# Runtime for a 4 TB buffer, which it fails to allocate (out of memory, on a CPU).
save("hungry", [helper.make_node("ConstantOfShape", ["n"], ["ones"], value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])),
                helper.make_node("ReduceSum", ["ones"], ["y"], keepdims=0)],
     [helper.make_tensor_value_info("n", TensorProto.INT64, [1])], [floats("y", [])])

# zipmap.onnx: a classifier as skl2onnx exports one by default: from X [batch, 3],
# "output_label" = ArgMax(Softmax(X)) (int64 [batch]) and "output_probability" =
# ZipMap(Softmax(X)), a sequence of maps from class to probability, one per row.
# seqtensors.onnx: "y" = X and "parts" = SequenceConstruct(X, X), a sequence of tensors, which
# ts cannot serve; seqonly.onnx has only "parts".
probs_type = onnx.TypeProto()
probs_type.map_type.key_type = TensorProto.INT64
probs_type.map_type.value_type.CopyFrom(helper.make_tensor_type_proto(TensorProto.FLOAT, []))
seq_of_maps = helper.make_value_info("output_probability", helper.make_sequence_type_proto(probs_type))
softmax = helper.make_node("Softmax", ["X"], ["probs"], axis=1)
zipmap = helper.make_node("ZipMap", ["probs"], ["output_probability"], domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2])
parts = helper.make_node("SequenceConstruct", ["X", "X"], ["parts"])
seq_of_tensors = helper.make_value_info("parts", helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, ["batch", 3])))


def save_ml(name, nodes, outputs):
    model = helper.make_model(helper.make_graph(nodes, name, [floats("X", ["batch", 3])], outputs),
                              opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)],
                              producer_name="ts-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(here, name + ".onnx"))


save_ml("zipmap", [softmax, helper.make_node("ArgMax", ["probs"], ["output_label"], axis=1, keepdims=0), zipmap],
        [helper.make_tensor_value_info("output_label", TensorProto.INT64, ["batch"]), seq_of_maps])
save_ml("seqtensors", [helper.make_node("Identity", ["X"], ["y"]), parts], [floats("y", ["batch", 3]), seq_of_tensors])
save_ml("seqonly", [parts], [seq_of_tensors])

# norank.onnx: y = Relu(x) where the file declares no shape for x and y, not even a rank (the
# checker wants one; ONNX Runtime and some exporters do not): any shape must be accepted.
save("norank", [helper.make_node("Relu", ["x"], ["y"])],
     [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
     [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], check=False)

# masked.onnx: y = ids * int32(mask) for int32 ids and bool mask, both [batch, seq], as a
# text model's input_ids and attention_mask: requests must give both the same batch and seq.
save("masked", [helper.make_node("Cast", ["mask"], ["mask32"], to=TensorProto.INT32),
                helper.make_node("Mul", ["ids", "mask32"], ["y"])],
     [helper.make_tensor_value_info("ids", TensorProto.INT32, ["batch", "seq"]),
      helper.make_tensor_value_info("mask", TensorProto.BOOL, ["batch", "seq"])],
     [helper.make_tensor_value_info("y", TensorProto.INT32, ["batch", "seq"])])

# constant.onnx: no inputs; y = [3.5, -1] from an initializer.
save("constant", [helper.make_node("Identity", ["c"], ["y"])], [], [floats("y", [2])],
     initializer=[helper.make_tensor("c", TensorProto.FLOAT, [2], [3.5, -1.0])])

# external.onnx: y = x W for x [batch, 4] and W [4, 3] = 0, 0.1, ... 1.1 row by row, with W
# stored outside the model in external.onnx.data, as large models are
# (onnx.save(..., save_as_external_data=True)).
external = helper.make_model(
    helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "external", [floats("x", ["batch", 4])],
                      [floats("y", ["batch", 3])],
                      initializer=[numpy_helper.from_array((numpy.arange(12, dtype=numpy.float32) / 10).reshape(4, 3), "W")]),
    opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
external.ir_version = 8
onnx.checker.check_model(external)
if os.path.exists(os.path.join(here, "external.onnx.data")):
    os.remove(os.path.join(here, "external.onnx.data"))  # onnx.save appends to it
onnx.save(external, os.path.join(here, "external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
          location="external.onnx.data", size_threshold=0)

# contrib.onnx: y = StringRegexReplace(x, "a", "b"), an operator of onnxruntime-extensions'
# ai.onnx.contrib domain, which ONNX Runtime itself does not have: loading it must fail with
# a message that says so.
contrib = helper.make_model(
    helper.make_graph([helper.make_node("StringRegexReplace", ["x", "p", "r"], ["y"], domain="ai.onnx.contrib")], "contrib",
                      [helper.make_tensor_value_info("x", TensorProto.STRING, ["n"])],
                      [helper.make_tensor_value_info("y", TensorProto.STRING, ["n"])],
                      initializer=[helper.make_tensor("p", TensorProto.STRING, [1], [b"a"]),
                                   helper.make_tensor("r", TensorProto.STRING, [1], [b"b"])]),
    opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.contrib", 1)], producer_name="ts-tests")
contrib.ir_version = 8
onnx.save(contrib, os.path.join(here, "contrib.onnx"))

# tfdetector.onnx: an object detector as TensorFlow's Object Detection API exports it
# (through tf2onnx): a uint8 NHWC image of any size, image_tensor:0 [batch, height, width,
# 3], in; detection_boxes:0 [batch, 3, 4] (y1, x1, y2, x2 in [0, 1] of the image),
# detection_classes:0 and detection_scores:0 [batch, 3] (float classes) and num_detections:0
# [batch] out. Its detections are fixed: a dog (class 18, 0.9), a person (class 1, 0.6), and a
# third row that num_detections (2) leaves out.
boxes = numpy.array([[[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 1.0, 1.0], [0, 0, 1, 1]]], numpy.float32)
detections = [("detection_boxes:0", boxes), ("detection_classes:0", numpy.array([[18, 1, 1]], numpy.float32)),
              ("detection_scores:0", numpy.array([[0.9, 0.6, 0.99]], numpy.float32)),
              ("num_detections:0", numpy.array([2], numpy.float32))]
nodes = [helper.make_node("Cast", ["image_tensor:0"], ["pixels"], to=TensorProto.FLOAT),
         helper.make_node("ReduceMax", ["pixels"], ["brightest"], keepdims=0),
         helper.make_node("Mul", ["brightest", "zero"], ["nothing"])]  # the outputs depend on the input
nodes += [helper.make_node("Add", [name + "_value", "nothing"], [name]) for name, _ in detections]
save("tfdetector", nodes, [helper.make_tensor_value_info("image_tensor:0", TensorProto.UINT8, ["batch", "height", "width", 3])],
     [floats("detection_boxes:0", ["batch", 3, 4]), floats("detection_classes:0", ["batch", 3]),
      floats("detection_scores:0", ["batch", 3]), floats("num_detections:0", ["batch"])],
     initializer=[numpy_helper.from_array(v, name + "_value") for name, v in detections]
     + [numpy_helper.from_array(numpy.array(0, numpy.float32), "zero")])

# passthrough.onnx: hands its input x [batch, 3] back as the output x (no node: the graph's
# output is its input), beside y = x + 1, as models that return an input (a mask, a size)
# alongside their results do.
save("passthrough", [helper.make_node("Add", ["x", "one"], ["y"])], [floats("x", ["batch", 3])],
     [floats("x", ["batch", 3]), floats("y", ["batch", 3])],
     initializer=[numpy_helper.from_array(numpy.array(1, numpy.float32), "one")])

# detr.onnx: an object detector as Hugging Face exports DETR (transformers, optimum):
# pixel_values [batch, 3, height, width] in; logits [batch, 3, 4] (3 queries, 3 classes and
# "no object") and pred_boxes [batch, 3, 4] (centre x, centre y, width, height in [0, 1]) out.
# Its predictions are fixed: class 1 (0.98) in the middle, "no object", class 0 (0.87) in the
# top-left quarter.
detr = [("logits", numpy.array([[[0, 5, 0, 0], [0, 0, 0, 9], [3, 0, 0, 0]]], numpy.float32)),
        ("pred_boxes", numpy.array([[[0.5, 0.5, 0.2, 0.4], [0.5, 0.5, 1, 1], [0.25, 0.25, 0.5, 0.5]]], numpy.float32))]
nodes = [helper.make_node("ReduceMax", ["pixel_values"], ["brightest"], keepdims=0),
         helper.make_node("Mul", ["brightest", "zero"], ["nothing"])]  # the outputs depend on the input
nodes += [helper.make_node("Add", [name + "_value", "nothing"], [name]) for name, _ in detr]
save("detr", nodes, [floats("pixel_values", ["batch", 3, "height", "width"])],
     [floats("logits", ["batch", 3, 4]), floats("pred_boxes", ["batch", 3, 4])],
     initializer=[numpy_helper.from_array(v, name + "_value") for name, v in detr]
     + [numpy_helper.from_array(numpy.array(0, numpy.float32), "zero")])

# named.onnx: an image classifier as Ultralytics exports one (yolov8n-cls): images
# [batch, 3, 32, 32] in, probabilities [batch, 2] out, and its class names in the model's
# metadata_props, "names" = "{0: 'cat', 1: 'dog'}" (a Python dict), beside "task".
named = helper.make_model(
    helper.make_graph([helper.make_node("ReduceMean", ["images"], ["mean"], axes=[2, 3], keepdims=0),
                       helper.make_node("MatMul", ["mean", "W"], ["logits"]),
                       helper.make_node("Softmax", ["logits"], ["output0"], axis=1)], "named",
                      [floats("images", ["batch", 3, 32, 32])], [floats("output0", ["batch", 2])],
                      initializer=[numpy_helper.from_array(numpy.array([[1, -1], [0, 0], [-1, 1]], numpy.float32), "W")]),
    opset_imports=[helper.make_opsetid("", 13)], producer_name="pytorch")
named.ir_version = 8
for key, value in {"names": "{0: 'cat', 1: 'dog'}", "task": "classify", "imgsz": "[32, 32]"}.items():
    entry = named.metadata_props.add()
    entry.key, entry.value = key, value
onnx.checker.check_model(named)
onnx.save(named, os.path.join(here, "named.onnx"))

# yolov8.onnx: a detector as Ultralytics exports YOLOv8: images [1, 3, 64, 64] in, output0
# [1, 4 + 2 classes, 3 candidate boxes] out (centre x, centre y, width, height in the input's
# pixels, then a score per class), and the metadata Ultralytics writes (author, task, names,
# imgsz). Its candidates are fixed: a dog in the middle (0.9), nothing, a cat (0.7).
rows = numpy.zeros((1, 6, 3), numpy.float32)
rows[0, :, 0] = [32, 32, 32, 16, 0.1, 0.9]
rows[0, :, 1] = [10, 10, 4, 4, 0.2, 0.1]
rows[0, :, 2] = [50, 50, 8, 8, 0.7, 0.1]
yolov8 = helper.make_model(
    helper.make_graph([helper.make_node("ReduceMax", ["images"], ["brightest"], keepdims=0),
                       helper.make_node("Mul", ["brightest", "zero"], ["nothing"]),
                       helper.make_node("Add", ["rows", "nothing"], ["output0"])], "yolov8",
                      [floats("images", [1, 3, 64, 64])], [floats("output0", [1, 6, 3])],
                      initializer=[numpy_helper.from_array(rows, "rows"), numpy_helper.from_array(numpy.array(0, numpy.float32), "zero")]),
    opset_imports=[helper.make_opsetid("", 13)], producer_name="pytorch")
yolov8.ir_version = 8
for key, value in {"author": "Ultralytics", "task": "detect", "names": "{0: 'cat', 1: 'dog'}", "imgsz": "[64, 64]"}.items():
    entry = yolov8.metadata_props.add()
    entry.key, entry.value = key, value
onnx.checker.check_model(yolov8)
onnx.save(yolov8, os.path.join(here, "yolov8.onnx"))

# yolov3.onnx: a detector with the signature of YOLOv3 in ONNX's model zoo: input_1 [N, 3, ?,
# ?] (the letterboxed image) and image_shape [N, 2] (height, width) in; out boxes [1, boxes, 4]
# (y1, x1, y2, x2 in the pixels image_shape names), scores [1, 80, boxes] and the int32
# indices [selected, 3] (batch, class, box) of ONNX's NonMaxSuppression. Its two boxes follow
# image_shape: a class 3 box over the middle half (0.9; class 5 scores 0.3 there, selected but
# under the handler's threshold) and a class 7 box (0.8) at 50-60 % of each side.
zoo_scores = numpy.full((1, 80, 2), 0.01, numpy.float32)
zoo_scores[0, 3, 0], zoo_scores[0, 5, 0], zoo_scores[0, 7, 1] = 0.9, 0.3, 0.8
corners = numpy.array([[0.25, 0, 0.75, 0, 0.5, 0, 0.6, 0],   # times the height
                       [0, 0.25, 0, 0.75, 0, 0.5, 0, 0.6]],  # times the width
                      numpy.float32)
save("yolov3", [
    helper.make_node("MatMul", ["image_shape", "corners"], ["flat_boxes"]),
    helper.make_node("Reshape", ["flat_boxes", "boxes_shape"], ["yolonms_layer_1/ExpandDims_1:0"]),
    helper.make_node("ReduceMax", ["input_1"], ["brightest"], keepdims=0),
    helper.make_node("Mul", ["brightest", "zero"], ["nothing"]),
    helper.make_node("Add", ["zoo_scores", "nothing"], ["yolonms_layer_1/ExpandDims_3:0"]),
    helper.make_node("NonMaxSuppression", ["yolonms_layer_1/ExpandDims_1:0", "yolonms_layer_1/ExpandDims_3:0",
                                           "max_boxes", "iou", "min_score"], ["selected"]),
    helper.make_node("Cast", ["selected"], ["yolonms_layer_1/concat_2:0"], to=TensorProto.INT32),
], [floats("input_1", ["N", 3, "unk__576", "unk__577"]), floats("image_shape", ["N", 2])],
    [floats("yolonms_layer_1/ExpandDims_1:0", [1, "boxes", 4]), floats("yolonms_layer_1/ExpandDims_3:0", [1, 80, "boxes"]),
     helper.make_tensor_value_info("yolonms_layer_1/concat_2:0", TensorProto.INT32, ["selected", 3])],
    initializer=[numpy_helper.from_array(corners, "corners"), numpy_helper.from_array(zoo_scores, "zoo_scores"),
                 numpy_helper.from_array(numpy.array([1, 2, 4], numpy.int64), "boxes_shape"),
                 numpy_helper.from_array(numpy.array(0, numpy.float32), "zero"),
                 numpy_helper.from_array(numpy.array([10], numpy.int64), "max_boxes"),
                 numpy_helper.from_array(numpy.array([0.5], numpy.float32), "iou"),
                 numpy_helper.from_array(numpy.array([0.2], numpy.float32), "min_score")])

# sizedetector.onnx: a detector that takes the image's size beside the image, as RT-DETR's
# exports take orig_target_sizes [N, 2] (width, height; int64) and answer labels, boxes
# (x1, y1, x2, y2 in those pixels) and scores: images [1, 3, ?, ?] in; one class 1 box over
# the middle half of the size given (0.95).
save("sizedetector", [
    helper.make_node("Cast", ["orig_target_sizes"], ["size"], to=TensorProto.FLOAT),
    helper.make_node("MatMul", ["size", "half"], ["flat"]),
    helper.make_node("Reshape", ["flat", "one_box"], ["boxes"]),
    helper.make_node("ReduceMax", ["images"], ["brightest"], keepdims=0),
    helper.make_node("Mul", ["brightest", "zero"], ["nothing"]),
    helper.make_node("Add", ["score", "nothing"], ["scores"]),
    helper.make_node("Identity", ["label"], ["labels"]),
], [floats("images", [1, 3, "h", "w"]), helper.make_tensor_value_info("orig_target_sizes", TensorProto.INT64, [1, 2])],
    [helper.make_tensor_value_info("labels", TensorProto.INT64, [1, 1]), floats("boxes", [1, 1, 4]), floats("scores", [1, 1])],
    initializer=[numpy_helper.from_array(numpy.array([[0.25, 0, 0.75, 0], [0, 0.25, 0, 0.75]], numpy.float32), "half"),
                 numpy_helper.from_array(numpy.array([1, 1, 4], numpy.int64), "one_box"),
                 numpy_helper.from_array(numpy.array(0, numpy.float32), "zero"),
                 numpy_helper.from_array(numpy.array([[0.95]], numpy.float32), "score"),
                 numpy_helper.from_array(numpy.array([[1]], numpy.int64), "label")])

# yolov2.onnx: a detector with Tiny YOLOv2's output as ONNX's model zoo has it (converted from
# Core ML): image [1, 3, 64, 64] in, grid [1, 125, 2, 2] out: per cell of 32 pixels, 5 anchors
# of x, y, w, h, objectness and 20 class scores. One box: anchor 0 in the cell of row 0,
# column 1, centred (x, y 0: the middle of the cell), the anchor's own size (w, h 0), class 14
# all but certain; every other anchor's objectness is nil.
grid = numpy.zeros((1, 125, 2, 2), numpy.float32)
for anchor in range(5):
    grid[0, anchor * 25 + 4] = -30
grid[0, 4, 0, 1], grid[0, 5 + 14, 0, 1] = 30, 30
save("yolov2", [helper.make_node("ReduceMax", ["image"], ["brightest"], keepdims=0),
                helper.make_node("Mul", ["brightest", "zero"], ["nothing"]),
                helper.make_node("Add", ["cells", "nothing"], ["grid"])],
     [floats("image", [1, 3, 64, 64])], [floats("grid", [1, 125, 2, 2])],
     initializer=[numpy_helper.from_array(grid, "cells"), numpy_helper.from_array(numpy.array(0, numpy.float32), "zero")])

# yolov4.onnx: a detector with the outputs of YOLOv4 in ONNX's model zoo: input_1:0 [1, 64, 64,
# 3] (NHWC) in, three heads [1, rows, columns, 3 anchors, 5 + 80] out (Identity:0 of 8 x 8
# cells, Identity_1:0 of 4 x 4, Identity_2:0 of 2 x 2), x, y, w, h raw, objectness and class
# scores already sigmoids. One box: in the finest head (stride 8), row 3, column 4, anchor 2
# (40 x 28 pixels), centred (x, y 0), the anchor's size (w, h 0), objectness and class 2 1.
heads = []
for name, cells in [("Identity:0", 8), ("Identity_1:0", 4), ("Identity_2:0", 2)]:
    head = numpy.zeros((1, cells, cells, 3, 85), numpy.float32)
    if cells == 8:
        head[0, 3, 4, 2, 4], head[0, 3, 4, 2, 5 + 2] = 1, 1
    heads.append((name, head))
save("yolov4", [helper.make_node("ReduceMax", ["input_1:0"], ["brightest"], keepdims=0),
                helper.make_node("Mul", ["brightest", "zero"], ["nothing"])] +
     [helper.make_node("Add", [f"head{i}", "nothing"], [name]) for i, (name, _) in enumerate(heads)],
     [floats("input_1:0", [1, 64, 64, 3])], [floats(name, list(head.shape)) for name, head in heads],
     initializer=[numpy_helper.from_array(head, f"head{i}") for i, (_, head) in enumerate(heads)] +
                 [numpy_helper.from_array(numpy.array(0, numpy.float32), "zero")])

# zerodim.onnx: y = Shape(x) for x [batch, 0]: a model may fix a dimension at 0 (an empty
# state, a feature list it does not use), and then only an empty tensor feeds it.
save("zerodim", [helper.make_node("Shape", ["x"], ["y"])], [floats("x", ["batch", 0])],
     [helper.make_tensor_value_info("y", TensorProto.INT64, [2])])

# nulname.onnx: y = Identity(x) where the input's name holds a NUL character ("x\0y"), which
# a protobuf string may and ONNX Runtime's C API cannot carry: it must be refused at load.
save("nulname", [helper.make_node("Identity", ["x\0y"], ["y"])], [floats("x\0y", ["batch", 2])],
     [floats("y", ["batch", 2])], check=False)

# newir.onnx: y = Relu(x), stamped with IR version 99, which this ONNX Runtime does not read:
# its load fails, with a message that says so (without ONNX Runtime's C++ source location).
newir = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "newir",
                                            [floats("x", ["batch", 2])], [floats("y", ["batch", 2])]),
                          opset_imports=[helper.make_opsetid("", 13)], producer_name="ts-tests")
newir.ir_version = 99
onnx.save(newir, os.path.join(here, "newir.onnx"))

# strings.onnx: same = Identity(text) for a string input text [batch], as models that take
# raw text (scikit-learn pipelines, onnxruntime-extensions tokenizers) or answer labels do.
save("strings", [helper.make_node("Identity", ["text"], ["same"])],
     [helper.make_tensor_value_info("text", TensorProto.STRING, ["batch"])],
     [helper.make_tensor_value_info("same", TensorProto.STRING, ["batch"])])
