"""A custom handler for tests: the iris model's outputs read through the array API a handler
gets, numpy arrays with numpy and the kit's Tensor without, which must answer alike. Request:
flowers separated by ";", four comma-separated numbers each."""
from ts_handler import BaseHandler, Tensor, run


class Arrays(BaseHandler):
    def preprocess(self, request):
        rows = [[float(x) for x in flower.split(",")] for flower in request.data().decode().split(";")]
        return {"features": Tensor.from_list(rows)}

    def postprocess(self, outputs, request):
        p = outputs["probabilities"]
        return {"rows": p.tolist(), "len": len(p), "first": p[0], "shape": list(p.shape), "dtype": str(p.dtype),
                "flat": p.ravel().tolist(), "as_is": p}


class Default(Arrays):
    postprocess = BaseHandler.postprocess


if __name__ == "__main__":
    import os
    run(Default if os.environ.get("TS_MODEL_NAME", "").startswith("default") else Arrays)
