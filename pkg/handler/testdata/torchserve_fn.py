"""A handler written for TorchServe, as its docs' module-level entry point: no ts kit, no
run(); ts finds handle (or the function the handler names) as TorchServe does."""
import json
import logging
import os
import subprocess

from ts.utils.util import PredictionException

logger = logging.getLogger(__name__)
print("a print while loading goes to the log, not to ts")
os.write(1, b"so does a write to file descriptor 1 while loading\n")
_state = {"initialised": 0}


def handle(data, context):
    if data is None:  # TorchServe initialises a function entry point with handle(None, context)
        _state["initialised"] += 1
        return None
    # whatever reaches stdout (file descriptor 1, a child process's too) goes to the log
    print("handling", len(data))
    os.write(1, b"a write to file descriptor 1\n")
    subprocess.run(["echo", "a child process's stdout"], check=True)
    out = []
    for row in data:
        body = row.get("data") if row.get("data") is not None else row.get("body")
        if body == "fail":
            raise ValueError("asked to fail")
        if body == "nothing":
            return []
        if body == "refuse":
            raise PredictionException("refused on purpose", 418)
        if isinstance(body, (bytes, bytearray)):
            seen = {"kind": "bytes", "length": len(body)}
        else:
            seen = {"kind": type(body).__name__, "value": body}
        seen["initialised"] = _state["initialised"]
        seen["url_path"] = context.get_request_header(0, "url_path")
        seen["model"] = context.model_name
        seen["labels"] = context.model_yaml_config.get("handler", {}).get("labels")  # the whole file, as TorchServe's
        out.append(seen)
    if data and data[0].get("body") == "as text":
        context.set_response_content_type(0, "text/plain")
        context.set_response_status(201)
        context.set_response_header(0, "X-Answer-Kind", "plain")
        context.set_response_header(0, "Content-Length", "999")  # the server's to set: dropped
        context.set_response_header(0, "Bad Name", "x")  # not a header name: dropped
        return ["plain answer"]
    if data and isinstance(data[0].get("body"), dict) and "answer_status" in data[0]["body"]:  # a generate request
        context.set_response_status(data[0]["body"]["answer_status"])
        context.set_response_header(0, "X-Answer-Kind", "generated")
        context.set_response_header(0, "Content-Type", "text/x-mine")  # generate's answer is JSON: dropped there
        return ["generated"]
    if data and data[0].get("body") == "processor":  # the older API, as SageMaker's toolkit uses it
        processor = context.request_processor[0]
        properties = processor.get_request_properties()
        processor.report_status(202, "Accepted")
        processor.add_response_property("X-Via", "request_processor")
        processor.add_response_property("Content-Type", "application/x-processed")
        return [json.dumps({"accept": properties.get("Accept"), "tag": processor.get_request_property("x-tag"),
                            "status": processor.get_response_status_code(), "phrase": processor.get_response_status_phrase(),
                            "content_type": processor.get_response_header("content-type")})]
    return out


def shout(data, context):
    """Another entry point, named by the handler (torchserve_fn.py:shout)."""
    if data is None:
        return None
    return [str(row.get("body")).upper() for row in data]
