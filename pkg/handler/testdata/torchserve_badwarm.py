"""A TorchServe handler whose warm-up in initialize runs the model on an input it does not
take: its workers fail to start, with the reason."""
from ts.torch_handler.base_handler import BaseHandler


class BadWarmUp(BaseHandler):
    def initialize(self, context):
        super().initialize(context)
        self.model.run(None, {"features": [[1.0, 2.0, 3.0]]})
