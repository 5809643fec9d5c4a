"""A custom handler for tests: the iris model, plus requests that make it misbehave.

Body "crash" exits the process, "killed" kills it as the kernel's out-of-memory killer
does (SIGKILL), "hang" never answers, "garbage" writes junk to the protocol's stdout (a print cannot: it goes to stderr),
"error" raises, "none" and "ragged" answer no inputs and a list that is not rectangular;
anything else is parsed as four comma-separated numbers. The answer
echoes the request headers url_path (the path's segments after the version) and explain
(True on /explanations) and the request's id. It describes itself (customized=true) by its
process id.
"""
import os
import signal
import sys
import time

from ts_handler import BaseHandler, HandlerError, Tensor, run


class Unruly(BaseHandler):
    def preprocess(self, request):
        body = request.data().decode().strip()
        if body == "crash":
            print("crashing on purpose", file=sys.stderr)
            os._exit(3)
        if body == "killed":
            os.kill(os.getpid(), signal.SIGKILL)
        if body == "hang":
            time.sleep(3600)
        if body == "garbage":
            sys._ts_protocol_stdout.write(b"\x00\x00\x00\x05hello")  # the kit's copy of stdout
            sys._ts_protocol_stdout.flush()
            time.sleep(3600)
        if body == "error":
            raise HandlerError("you asked for an error", 422)
        if body == "exception":
            raise ValueError("an unexpected bug")
        if body == "none":
            return None
        if body == "ragged":
            return {"features": [[1.0, 2.0, 3.0, 4.0], [5.0]]}
        request.state = {"rows": 1}
        return {"features": Tensor.from_list([[float(x) for x in body.split(",")]])}

    def postprocess(self, outputs, request):
        return {"probabilities": outputs["probabilities"].tolist(), "state": request.state, "pid": os.getpid(),
                "url_path": request.headers.get("url_path"), "request_id": request.id,
                "explain": request.headers.get("explain")}

    def describe(self, request):
        return {"described_by": os.getpid(), "describe": request.headers.get("describe")}


if __name__ == "__main__":
    run(Unruly)
