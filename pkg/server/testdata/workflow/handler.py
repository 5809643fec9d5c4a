"""Function nodes for the workflow tests (see workflow_test.go)."""
import json

from ts_workflow_kit import HandlerError


def parse_csv(data, context):
    """CSV lines, four numbers each: the tensor handler's JSON request for iris."""
    text = bytes(data[0].get("data") or data[0].get("body")).decode()
    if text.startswith("refuse"):
        raise HandlerError("refused on purpose", 422)
    rows = [[float(x) for x in line.split(",")] for line in text.splitlines()]
    return [json.dumps({"inputs": {"features": rows}}).encode()]  # bytes, as TorchServe's functions often answer


def vote(data, context):
    """Each parent's answer arrives as an input named after it: the class each model chose."""
    row = data[0]
    choice = {}
    for parent in sorted(row):
        probs = json.loads(bytes(row[parent]))["outputs"][0]["data"]
        choice[parent] = [max(range(3), key=lambda k: probs[i + k]) for i in range(0, len(probs), 3)]
    return [{"inputs": sorted(row), "choice": choice}]
