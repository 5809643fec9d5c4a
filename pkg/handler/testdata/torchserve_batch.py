"""A handler written for TorchServe that shows the batches it gets: each answer names its
request's body, id and X-Tag header, the batch's size and the request's place in it. A body
of "teapot" answers 418 for that request alone; "fail" fails the whole batch; "short" answers
one answer too few; "stream" sends each request a part of its answer first; "crash" ends the
process."""
import os

from ts.handler_utils.utils import send_intermediate_predict_response
# its older home, where many streaming handlers import it: the same function
from ts.protocol.otf_message_handler import send_intermediate_predict_response as older_home

if older_home is not send_intermediate_predict_response:
    raise ImportError("ts.protocol.otf_message_handler gives another send_intermediate_predict_response")


def handle(data, context):
    if data is None:  # the load-time call
        return None
    bodies = [row.get("body") for row in data]
    bodies = [b if isinstance(b, str) else bytes(b).decode() for b in bodies]
    if "crash" in bodies:
        os._exit(3)
    if "fail" in bodies:
        raise ValueError("one request failed the batch")
    if "stream" in bodies:
        older_home(["part %d;" % i for i in range(len(data))], context.request_ids,
                                           "Intermediate Prediction success", 200, context)
    answers = []
    for i, body in enumerate(bodies):
        if body == "teapot":
            context.set_response_status(418, "I'm a teapot", i)
        answers.append({"body": body, "batch": len(data), "place": i, "id": context.get_request_id(i),
                        "tag": context.get_request_header(i, "X-Tag"),
                        "batch_size": context.system_properties.get("batch_size")})
    return answers[:-1] if "short" in bodies else answers
