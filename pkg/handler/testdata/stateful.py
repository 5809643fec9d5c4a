"""A stateful custom handler (TorchServe's sequence batching example): it keeps a running sum
per sequence, in this process; the answer is the sum so far, with the process id and the
sequence id. A request with the sequence start header begins the sum afresh; one with the
end header forgets it. A body "slow N" adds N after a second."""
import os
import time

from ts_handler import BaseHandler, run


class Stateful(BaseHandler):
    def initialize(self, context):
        super().initialize(context)
        self.sums = {}

    def inference(self, request):
        ctx = self.context
        seq = ctx.get_sequence_id(0)
        if ctx.get_request_header(0, ctx.header_key_sequence_start):
            self.sums[seq] = 0
        value = request.data()
        if value.startswith(b"slow "):
            time.sleep(1)
            value = value[5:]
        total = self.sums.get(seq, 0) + int(value)
        self.sums[seq] = total
        if ctx.get_request_header(0, ctx.header_key_sequence_end):
            self.sums.pop(seq, None)
        return {"sum": total, "pid": os.getpid(), "sequence": seq}


if __name__ == "__main__":
    run(Stateful)
