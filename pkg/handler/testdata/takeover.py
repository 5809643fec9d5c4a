"""A custom handler for tests that runs the "model" itself: it echoes the body reversed."""
from ts_handler import BaseHandler, run


class Echo(BaseHandler):
    def inference(self, request):
        self.context.metrics.add_counter("EchoCalls", 1, dimensions={"kind": "test"})
        return {"reversed": request.data().decode()[::-1], "model": self.context.model_name}


if __name__ == "__main__":
    run(Echo)
