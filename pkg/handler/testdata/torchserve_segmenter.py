"""A handler written for TorchServe that subclasses its image segmenter (ts serves it with its
kit's, for an ONNX model), with images cut to 8×8 (its own image_processing)."""
from ts.torch_handler.image_segmenter import ImageSegmenter

from ts_handler import ImageTransform


class SmallSegments(ImageSegmenter):
    image_processing = ImageTransform(8, 8, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
