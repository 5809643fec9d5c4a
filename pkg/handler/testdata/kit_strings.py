"""A custom handler for tests: strings.onnx (same = Identity(text), strings) fed and read
through the kit, with numpy (arrays of str and objects) and without (lists and the kit's
Tensor), which must answer alike. Request: one text per line."""
from ts_handler import BaseHandler, run

try:
    import numpy
except ImportError:
    numpy = None


class Strings(BaseHandler):
    def preprocess(self, request):
        texts = request.data().decode().split("\n")
        return numpy.array(texts) if numpy is not None else texts

    def postprocess(self, outputs, request):
        same = outputs["same"]
        return {"same": same.tolist(), "first": same[0], "as_is": same, "len": len(same)}


if __name__ == "__main__":
    run(Strings)
