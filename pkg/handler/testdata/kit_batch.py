"""A ts handler that takes batches: inference_batch answers each request of the batch with
its body and the batch's size, and sets each answer's X-Place header to its place; a body
"short" has it answer one answer too few."""
from ts_handler import BaseHandler, run


class Batched(BaseHandler):
    def inference(self, request):
        return self.inference_batch([request])[0]

    def inference_batch(self, requests):
        for i in range(len(requests)):
            self.context.set_response_header(i, "X-Place", i)
        answers = [{"body": r.data().decode(), "batch": len(requests)} for r in requests]
        return answers[:-1] if any(r.data() == b"short" for r in requests) else answers


if __name__ == "__main__":
    run(Batched)
