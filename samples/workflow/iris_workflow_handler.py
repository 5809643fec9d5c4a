"""The function nodes of iris_workflow.yaml, as TorchServe's workflow functions:
fn(data, context), data a batch (list) of requests, each a dict of inputs by name (bytes);
the function returns one answer per request (bytes, str, or anything JSON can hold)."""
import json
import os

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "index_to_name.json")) as f:
    NAMES = json.load(f)


def parse_csv(data, context):
    """One flower per line, four numbers (cm): the tensor handler's JSON request for iris."""
    out = []
    for row in data:
        text = bytes(row.get("data") or row.get("body") or b"").decode("utf-8", "replace")
        flowers = [[float(x) for x in line.split(",")] for line in text.splitlines() if line.strip()]
        out.append({"inputs": {"features": flowers}})
    return out


def name_species(data, context):
    """The model's probabilities, three per flower: each flower's species and probability."""
    out = []
    for row in data:
        probs = json.loads(bytes(row["body"]))["outputs"][0]["data"]
        answer = []
        for i in range(0, len(probs), 3):
            best = max(range(3), key=lambda k: probs[i + k])
            answer.append({"species": NAMES[str(best)], "probability": round(probs[i + best], 4)})
        out.append(answer)
    return out
