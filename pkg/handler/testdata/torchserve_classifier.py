"""A handler written for TorchServe that subclasses its image classifier (ts serves it with
its kit's, for an ONNX model): the top two classes."""
from ts.torch_handler.image_classifier import ImageClassifier


class TopTwo(ImageClassifier):
    topk = 2
