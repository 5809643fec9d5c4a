"""A custom handler for tests: the iris model fed and read through the array API a handler
has, numpy arrays with numpy and lists and the kit's Tensor without, which must answer alike.
Request: flowers separated by ";", four comma-separated numbers each."""
from ts_handler import BaseHandler, Tensor, run

try:
    import numpy
except ImportError:
    numpy = None


def flowers(request):
    return [[float(x) for x in flower.split(",")] for flower in request.data().decode().split(";")]


class Arrays(BaseHandler):
    def preprocess(self, request):
        # one value for the model's one input: float64 numbers, cast to its float32
        return numpy.array(flowers(request)) if numpy is not None else flowers(request)

    def postprocess(self, outputs, request):
        p = outputs["probabilities"]
        return {"rows": p.tolist(), "len": len(p), "first": p[0], "shape": list(p.shape), "dtype": str(p.dtype),
                "flat": p.ravel().tolist(), "as_is": p}


class Default(BaseHandler):
    def preprocess(self, request):
        return {"features": Tensor.from_list(flowers(request))}


if __name__ == "__main__":
    import os
    run(Default if os.environ.get("TS_MODEL_NAME", "").startswith("default") else Arrays)
