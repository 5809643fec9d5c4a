"""A handler written for TorchServe that subclasses its object detector (ts serves it with its
kit's, for an ONNX model exported from a torchvision detector), with its own threshold."""
from ts.torch_handler.object_detector import ObjectDetector


class Strict(ObjectDetector):
    threshold = 0.6
