"""A custom handler for the iris sample: CSV in, species out.

Request body: one flower per line, four numbers (sepal length, sepal width, petal length,
petal width in cm), e.g. "5.1,3.5,1.4,0.2". Answer: [{"species": ..., "probability": ...}],
one per line. ts runs the ONNX model, batched, between preprocess and postprocess.
"""
import json
import os
import time

from ts_handler import BaseHandler, HandlerError, Tensor, run


class IrisHandler(BaseHandler):
    def initialize(self, context):
        super().initialize(context)
        with open(os.path.join(context.model_dir, "index_to_name.json")) as f:
            self.names = json.load(f)

    def preprocess(self, request):
        start = time.perf_counter()
        rows = []
        for line in request.data().decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            try:
                values = [float(x) for x in line.replace(";", ",").split(",")]
            except ValueError:
                raise HandlerError("each line needs four numbers separated by commas: %r" % line)
            if len(values) != 4:
                raise HandlerError("each line needs four numbers, got %d: %r" % (len(values), line))
            rows.append(values)
        if not rows:
            raise HandlerError("send one flower per line: sepal length, sepal width, petal length, petal width")
        self.context.metrics.add_time("IrisPreprocessTime", (time.perf_counter() - start) * 1000)
        self.context.metrics.add_counter("IrisFlowers", len(rows))
        return {"features": Tensor.from_list(rows, "float32")}

    def postprocess(self, outputs, request):
        answer = []
        for row in outputs["probabilities"].tolist():  # one row of three per flower
            best = max(range(3), key=lambda k: row[k])
            answer.append({"species": self.names[str(best)], "probability": round(float(row[best]), 6)})
        return answer


if __name__ == "__main__":
    run(IrisHandler)
