"""A handler written for TorchServe as one class with initialize and handle (no base class):
ts instantiates it, initialises it at load and calls handle for each request."""
import json


class Counter:
    def __init__(self):
        self.initialised = False
        self.calls = 0

    def initialize(self, context):
        self.initialised = True
        self.model_dir = context.system_properties.get("model_dir")

    def handle(self, data, context):
        self.calls += 1
        return [{"initialised": self.initialised, "calls": self.calls, "has_model_dir": bool(self.model_dir),
                 "input": row.get("body")} for row in data]
