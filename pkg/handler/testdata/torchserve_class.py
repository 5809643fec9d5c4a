"""A handler written for TorchServe as one class with initialize and handle (no base class):
ts instantiates it, initialises it at load and calls handle for each request. It reports
custom metrics through TorchServe's APIs: a metric added to the cache at load and updated
per request, and one added per request with TorchServe's Dimension objects. It is imported
as TorchServe imports it, as the module torchserve_class: its local test below does not run."""
from ts.metrics.dimension import Dimension
from ts.metrics.metric_type_enum import MetricTypes


class Counter:
    def __init__(self):
        self.initialised = False
        self.calls = 0

    def initialize(self, context):
        self.initialised = True
        self.model_dir = context.system_properties.get("model_dir")
        context.metrics.add_metric_to_cache("HandleSeconds", unit="s", dimension_names=["Stage"], metric_type=MetricTypes.GAUGE)

    def handle(self, data, context):
        self.calls += 1
        context.metrics.get_metric("HandleSeconds", MetricTypes.GAUGE).add_or_update(0.25 * self.calls, ["handle"])
        context.metrics.add_metric("Rows", len(data), "count", None, [Dimension("Kind", "rows")], MetricTypes.COUNTER)
        return [{"initialised": self.initialised, "calls": self.calls, "has_model_dir": bool(self.model_dir),
                 "input": row.get("body"), "module": __name__} for row in data]


if __name__ == "__main__":  # a local test, as handler files have: ts must not run it
    raise SystemExit("torchserve_class.py ran as the main program")
