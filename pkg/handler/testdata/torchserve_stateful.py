"""A stateful handler written for TorchServe (its examples/stateful, the model left out): a
running sum per sequence, kept in this process, over a batch of requests of different
sequences. Each answer is its sequence's sum so far, with the process id and the sequences of
the batch it came in. The sequence start header begins a sum afresh; the end header forgets
it."""
import os


class StatefulHandler:
    def initialize(self, context):
        self.sums = {}

    def handle(self, data, context):
        if data is None:
            return None
        sequences = [context.get_sequence_id(idx) for idx in range(len(data))]
        answers = []
        for idx, row in enumerate(data):
            seq = sequences[idx]
            if context.get_request_header(idx, context.header_key_sequence_start):
                self.sums[seq] = 0
            self.sums[seq] = self.sums.get(seq, 0) + int(bytes(row.get("body")).decode())
            answers.append({"sum": self.sums[seq], "pid": os.getpid(), "sequence": seq, "batch": sequences})
            if context.get_request_header(idx, context.header_key_sequence_end):
                self.sums.pop(seq, None)
        return answers
