"""A custom handler that streams its answer (TorchServe's send_intermediate_predict_response),
for the streaming tests: the body is JSON {"parts": N, "wait_for": PATH (optional),
"fail": bool, "sleep": seconds}. It sends "part 0 ", ... "part N-1 " one at a time; after the first it waits
until the file PATH exists (so that a test sees the first part arrive before the rest is
written); then it answers "last", or fails with a 500 when asked to."""
import json
import os
import time

from ts_handler import BaseHandler, HandlerError, run, send_intermediate_predict_response


class Streamer(BaseHandler):
    def inference(self, request):
        ask = json.loads(request.data())
        for i in range(ask["parts"]):
            time.sleep(ask.get("sleep", 0))
            send_intermediate_predict_response(["part %d " % i], None, "Intermediate Prediction success", 200, self.context)
            if i == 0 and ask.get("wait_for"):
                deadline = time.time() + 20
                while not os.path.exists(ask["wait_for"]):
                    if time.time() > deadline:
                        raise HandlerError("the first part did not reach the client", 500)
                    time.sleep(0.01)
        if ask.get("fail"):
            raise HandlerError("failed after streaming", 500)
        return "last"


if __name__ == "__main__":
    run(Streamer)
