"""A handler written for TorchServe's continuous batching (its streaming LLM example, the
model left out): a request {"prompt": "a", "tokens": 3} asks for that many tokens; each call
gives every request of the batch its next token (a1, a2, ...), kept per request id in
context.cache, and its stopping criterion ends the request after its last. Each answer names
its token, the size of the batch it came in and the process. A call takes 20 ms, as a model's
step would."""
import json
import os
import time


class Generator:
    def initialize(self, context):
        context.cache = {}

    def handle(self, data, context):
        if data is None:
            return None
        time.sleep(0.02)
        ids = list(context.request_ids.values())
        answers = []
        for req_id, row in zip(ids, data):
            if req_id not in context.cache:  # its first call: the prompt
                ask = row.get("body")
                if isinstance(ask, (bytes, bytearray)):  # over gRPC: bytes
                    ask = json.loads(ask)
                context.cache[req_id] = {"prompt": ask["prompt"], "tokens": ask["tokens"], "made": 0}
            state = context.cache[req_id]
            state["made"] += 1
            answers.append({"token": "%s%d" % (state["prompt"], state["made"]), "batch": len(data), "pid": os.getpid()})
        context.stopping_criteria = [self.stopping(context.cache, req_id) for req_id in ids]
        return answers

    @staticmethod
    def stopping(cache, req_id):
        def done(answer):
            state = cache[req_id]
            if state["made"] >= state["tokens"]:
                del cache[req_id]
                return True
            return False
        return done
