"""ts custom handler support for Python. ts serve provides it to a handler's processes as the
module ts_handler; copy it beside your handler for your editor and tests (a copy in the
archive is imported instead).

Write a class with TorchServe's methods and run it:

    from ts_handler import BaseHandler, Tensor, run

    class MyHandler(BaseHandler):
        def initialize(self, context): ...          # once, when the process starts
        def preprocess(self, request): ...          # request -> {input name: numpy array, list or Tensor}
        def postprocess(self, outputs, request): ...# {output name: numpy array or Tensor} -> bytes, str, or JSON-able
        # def inference(self, request): ...         # define it to run the model yourself instead

    if __name__ == "__main__":
        run(MyHandler)

ts runs the model (ONNX Runtime, batched) between preprocess and postprocess. A handler that
defines inference() takes over: each request goes to inference(request), whose return value is
the response; one that also defines inference_batch(requests), answering a list, gets up to
the model's batch_size requests at once. Only the standard library is needed; numpy arrays
are accepted and returned when numpy is installed, and otherwise Tensors answer numpy's
tolist(), len(), rows and ravel(), so that a handler answers alike with or without numpy.

A TorchServe workflow's function nodes (plain functions fn(data, context) in the workflow's
handler file) run through run_function, which ts serve calls itself. A handler file written for
TorchServe (a function handle(data, context), or one class with initialize and handle) runs
through serve_file, which ts serve also calls itself: see docs/custom-handlers.md.

The process speaks ts's frame protocol on stdin/stdout (docs/custom-handlers.md), stdout being
a copy the kit takes first: whatever the handler writes to stdout (print, os.write(1, ...), a C
library, a child process) goes to stderr, which ts logs.
"""
import array
import ast
import base64
import enum
import importlib.util
import inspect
import io
import json
import math
import os
import runpy
import struct
import sys
import time
import traceback
import types

try:
    import numpy
except ImportError:  # numpy is optional
    numpy = None

__all__ = ["BaseHandler", "Context", "Request", "Tensor", "HandlerError", "PredictionException", "MetricTypes", "Dimension",
           "run", "run_function", "serve_file", "send_intermediate_predict_response"]

_FORMATS = {"float32": "f", "float64": "d", "float16": "e", "int8": "b", "int16": "h", "int32": "i", "int64": "q",
            "uint8": "B", "uint16": "H", "uint32": "I", "uint64": "Q", "bool": "B"}


class HandlerError(Exception):
    """Raise it to answer a request with an error status (400 by default), like TorchServe's
    PredictionException."""

    def __init__(self, message, code=400):
        super().__init__(message)
        self.code = code


class PredictionException(Exception):
    """TorchServe's ts.utils.util.PredictionException: the request fails with error_code."""

    def __init__(self, message, error_code=500):
        super().__init__(message)
        self.message = message
        self.error_code = error_code


class Tensor:
    """A tensor as ts sends it: an element type name, a shape and raw little-endian bytes
    (for "string", each element's length in 4 little-endian bytes and then its UTF-8 bytes)."""

    def __init__(self, dtype, shape, data):
        self.dtype, self.shape, self.data = dtype, list(shape), bytes(data)
        self._rows = None  # tolist(), kept for indexing

    @classmethod
    def from_list(cls, values, dtype="float32", shape=None):
        """Builds a tensor from a (nested) list of numbers, or of strings for "string"."""
        flat = list(_flatten(values))
        if shape is None:
            shape = _shape_of(values)
        if len(flat) != math.prod(shape):
            raise ValueError("the list is not rectangular: %d elements for shape %s" % (len(flat), shape))
        if dtype == "string":
            encoded = [v if isinstance(v, bytes) else str(v).encode() for v in flat]
            return cls(dtype, shape, b"".join(struct.pack("<I", len(v)) + v for v in encoded))
        fmt = _FORMATS[dtype]
        return cls(dtype, shape, array.array(fmt, flat).tobytes() if sys.byteorder == "little" and fmt != "e"
                   else struct.pack("<%d%s" % (len(flat), fmt), *flat))

    @classmethod
    def from_numpy(cls, a):
        shape = numpy.shape(a)  # ascontiguousarray makes a scalar [1]
        if numpy.asarray(a).dtype.kind in "OSU":  # strings (onnxruntime's are objects)
            return cls.from_list(numpy.asarray(a).ravel().tolist(), "string", shape)
        a = numpy.ascontiguousarray(a)
        return cls(str(a.dtype), shape, a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())

    def tolist(self):
        """The elements as nested lists by the shape (a number for a scalar), as numpy's
        ndarray.tolist(), with or without numpy."""
        return _nest(self._flat(), self.shape)

    def ravel(self):
        """The tensor as one dimension, as numpy's ravel()."""
        return Tensor(self.dtype, [math.prod(self.shape)], self.data)

    def _flat(self):
        if self.dtype == "string":
            flat, at = [], 0
            while at < len(self.data):
                (n,) = struct.unpack_from("<I", self.data, at)
                flat.append(self.data[at + 4:at + 4 + n].decode("utf-8", "replace"))
                at += 4 + n
            return flat
        if self.dtype == "bfloat16":  # the upper half of a float32
            n = len(self.data) // 2
            return list(struct.unpack("<%df" % n, b"".join(b"\0\0" + self.data[k:k + 2] for k in range(0, 2 * n, 2))))
        fmt = _FORMATS[self.dtype]
        n = len(self.data) // struct.calcsize(fmt)
        values = struct.unpack("<%d%s" % (n, fmt), self.data)
        return [bool(v) for v in values] if self.dtype == "bool" else list(values)

    def __len__(self):
        return self.shape[0] if self.shape else 0

    def __getitem__(self, index):
        if self._rows is None:  # once: a loop over the rows reads the data once
            self._rows = self.tolist()
        return self._rows[index]

    def numpy(self):
        if self.dtype == "string":  # objects, as onnxruntime answers strings
            return numpy.array(self._flat() or [], dtype=object).reshape(self.shape)
        return numpy.frombuffer(self.data, dtype=numpy.dtype(self.dtype).newbyteorder("<")).reshape(self.shape)


def _nest(flat, shape):
    """flat's elements as nested lists by shape."""
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[k * step:(k + 1) * step], shape[1:]) for k in range(shape[0])]


def _tensors_in(frame, blobs):
    """A frame's tensors by name, as handlers get them: numpy arrays when numpy is installed
    (a Tensor for bfloat16, which numpy lacks), else Tensors."""
    tensors = {d["name"]: Tensor(d["dtype"], d["shape"], data) for d, data in zip(frame.get("blobs") or [], blobs)}
    if numpy is not None:
        tensors = {n: t.numpy() if t.dtype != "bfloat16" else t for n, t in tensors.items()}
    return tensors


def _flatten(v):
    if isinstance(v, (list, tuple)):
        for x in v:
            yield from _flatten(x)
    else:
        yield v


def _shape_of(v):
    shape = []
    while isinstance(v, (list, tuple)):
        shape.append(len(v))
        v = v[0] if v else None
    return shape


class MetricTypes(enum.Enum):
    """TorchServe's ts.metrics.metric_type_enum.MetricTypes."""
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


class Dimension:
    """TorchServe's ts.metrics.dimension.Dimension: a metric's dimension, by name and value."""

    def __init__(self, name, value):
        self.name, self.value = name, value


_UNITS = {"ms": "Milliseconds", "s": "Seconds", "percent": "Percent", "count": "Count", "MB": "Megabytes",
          "GB": "Gigabytes", "kB": "Kilobytes", "B": "Bytes"}


def _metric_type(metric_type):
    """A metric type's name: "counter", "gauge" or "histogram", given a MetricTypes or a name."""
    return str(getattr(metric_type, "value", metric_type)).lower()


def _dimensions(dimensions):
    """Dimensions as a dict: given as one, or as TorchServe's list of Dimension."""
    if isinstance(dimensions, dict):
        return {str(k): str(v) for k, v in dimensions.items()}
    return {str(d.name): str(d.value) for d in dimensions or []}


class Metrics:
    """TorchServe's custom metrics API (context.metrics): values reported with the reply to the
    current request, and exposed by ts's metrics API as ts_custom_<name>. Dimensions are a
    dict or TorchServe's list of Dimension; metric_type a MetricTypes or its name."""

    def __init__(self):
        self.pending = []
        self.cache = {}

    def add_metric(self, name, value, unit="count", idx=None, dimensions=None, metric_type=MetricTypes.COUNTER):
        self.pending.append({"name": name, "value": float(value), "unit": _UNITS.get(unit, unit), "type": _metric_type(metric_type),
                             "dimensions": _dimensions(dimensions)})

    def add_counter(self, name, value, idx=None, dimensions=None):
        self.add_metric(name, value, "count", idx, dimensions, MetricTypes.COUNTER)

    def add_time(self, name, value, idx=None, unit="ms", dimensions=None, metric_type=MetricTypes.GAUGE):
        self.add_metric(name, value, unit, idx, dimensions, metric_type)

    def add_size(self, name, value, idx=None, unit="MB", dimensions=None, metric_type=MetricTypes.GAUGE):
        self.add_metric(name, value, unit, idx, dimensions, metric_type)

    def add_percent(self, name, value, idx=None, dimensions=None, metric_type=MetricTypes.GAUGE):
        self.add_metric(name, value, "percent", idx, dimensions, metric_type)

    def add_metric_to_cache(self, name, unit="count", dimension_names=(), metric_type=MetricTypes.COUNTER):
        """TorchServe's: a metric with fixed dimension names, kept to be updated (get_metric)."""
        metric = CachingMetric(self, name, unit, list(dimension_names), metric_type)
        self.cache[(name, _metric_type(metric_type))] = metric
        return metric

    def get_metric(self, name, metric_type=MetricTypes.COUNTER):
        """TorchServe's: the metric add_metric_to_cache made."""
        try:
            return self.cache[(name, _metric_type(metric_type))]
        except KeyError:
            raise KeyError("metric %s of type %s was not added with add_metric_to_cache" % (name, metric_type)) from None


class CachingMetric:
    """What add_metric_to_cache answers, as TorchServe's: add_or_update(value, dimension_values)
    or update(value, dimensions=[Dimension, ...]) reports a value."""

    def __init__(self, metrics, name, unit, dimension_names, metric_type):
        self.metrics, self.name, self.unit = metrics, name, unit
        self.dimension_names, self.metric_type = dimension_names, metric_type

    def add_or_update(self, value, dimension_values=(), request_id=""):
        dims = dict(zip(self.dimension_names, dimension_values))
        self.metrics.add_metric(self.name, value, self.unit, dimensions=dims, metric_type=self.metric_type)

    def update(self, value, request_id="", dimensions=None):
        self.metrics.add_metric(self.name, value, self.unit, dimensions=dimensions, metric_type=self.metric_type)


class Context:
    """What the handler knows about its model, as TorchServe's context."""

    def __init__(self, model):
        self.model_name = model["name"]
        self.version = model["version"]
        self.manifest = model.get("manifest") or {}
        self.system_properties = model.get("properties") or {}
        self.model_yaml_config = model.get("config") or {}  # the handler section (TorchServe's handlers: the whole file)
        self.yaml_config = model.get("yaml") or {}  # the whole model-config.yaml
        self.inputs = model.get("inputs") or []
        self.outputs = model.get("outputs") or []
        self.metrics = Metrics()
        self.requests = []  # the requests being answered: one, or a batch (TorchServe handler files)
        self.responses = []  # what set_response_content_type, _status and _header set, per request
        # TorchServe's names of a stateful model's sequence headers (ts_header_key_sequence_*)
        self.header_key_sequence_id = "ts_request_sequence_id"
        self.header_key_sequence_start = "ts_request_sequence_start"
        self.header_key_sequence_end = "ts_request_sequence_end"
        # TorchServe's continuous batching: a callable per request of the batch, set by the
        # handler, answering whether the request's answer just given is its last
        self.stopping_criteria = None

    def _answering(self, requests):
        self.requests, self.responses = requests, [{} for _ in requests]

    @property
    def request(self):
        """The request being answered (the first of a batch)."""
        return self.requests[0] if self.requests else None

    @property
    def response(self):
        """What the handler set for the answer (of the first request of a batch)."""
        return self.responses[0] if self.responses else {}

    # TorchServe's per-request accessors: idx is the request's place in the batch (0 for one
    # request alone).
    def _request_at(self, idx):
        return self.requests[idx] if 0 <= idx < len(self.requests) else None

    def _response_at(self, idx):
        if not 0 <= idx < len(self.responses):
            raise IndexError("no request %d in a batch of %d" % (idx, len(self.responses)))
        return self.responses[idx]

    @property
    def request_ids(self):
        """TorchServe's {place in the batch: request id}."""
        return {i: r.id for i, r in enumerate(self.requests)}

    def get_request_id(self, idx=0):
        r = self._request_at(idx)
        return r.id if r else None

    def get_request_header(self, idx, key):
        r = self._request_at(idx)
        return r.headers.get(key.lower()) if r else None

    def run_model(self, inputs):
        """Runs the archive's ONNX model in ts (ONNX Runtime, batched with the model's other
        requests) from a handler that runs inference itself: inputs is {input name: Tensor,
        numpy array or list} or a list in the model's input order; the answer is {output
        name: numpy array (a Tensor without numpy)}. A failed run raises HandlerError."""
        if _current is None:
            raise RuntimeError("run_model: the model runs only while ts has the handler initialise or answer a request")
        stdout, fid = _current
        out = _model_inputs(self.inputs, inputs)
        _write_frame(stdout, {"type": "run", "id": fid, "blobs": [{"name": n, "dtype": t.dtype, "shape": t.shape} for n, t in out]},
                     [t.data for _, t in out])
        frame, blobs = _read_frame(_stdin)
        if frame is None:
            raise HandlerError("ts closed the handler's input during a model run", 500)
        if frame.get("type") == "error":
            raise HandlerError(frame.get("message") or "the model run failed", frame.get("code") or 500)
        return _tensors_in(frame, blobs)

    def set_response_content_type(self, idx, value):
        """TorchServe's: the answer's Content-Type."""
        self._response_at(idx)["content_type"] = value

    def get_response_content_type(self, idx=0):
        return self._response_at(idx).get("content_type")

    def set_response_status(self, code=200, phrase="", idx=0):
        """TorchServe's: the answer's HTTP status."""
        self._response_at(idx)["status"] = int(code)
        self._response_at(idx)["phrase"] = phrase

    def set_all_response_status(self, code=200, phrase=""):
        """TorchServe's: the HTTP status of every answer of the batch."""
        for response in self.responses:
            response["status"] = int(code)

    def get_response_status(self, idx=0):
        return self._response_at(idx).get("status", 200)

    def set_response_header(self, idx, key, value):
        """TorchServe's: a header of the answer (Content-Type its content type)."""
        if key.lower() == "content-type":
            self.set_response_content_type(idx, str(value))
            return
        self._response_at(idx).setdefault("headers", {})[key] = str(value)

    def get_response_headers(self, idx=0):
        return self._response_at(idx).get("headers", {})

    def get_all_request_header(self, idx=0):
        """TorchServe's: the request's headers (names in lower case)."""
        r = self._request_at(idx)
        return dict(r.headers) if r else {}

    def get_sequence_id(self, idx=0):
        """A stateful model's sequence (sequenceBatching) the request belongs to: its
        requests come to this process, one at a time, so state kept by this id stays here."""
        r = self._request_at(idx)
        return r.sequence_id if r else None

    @property
    def model_dir(self):
        return self.system_properties.get("model_dir")

    @property
    def request_processor(self):
        """TorchServe's: a RequestProcessor per request of the batch, in its order (the
        request's headers, and its answer's status and headers), as handlers written for
        TorchServe and the SageMaker inference toolkit read and set them."""
        return [RequestProcessor(self, idx) for idx in range(len(self.requests))]


class RequestProcessor:
    """TorchServe's ts.context.RequestProcessor: one request's headers
    (get_request_property, get_request_properties; names in any case) and what the handler
    sets of its answer (report_status, add_response_property), through the Context's
    per-request accessors."""

    def __init__(self, context, idx):
        self._context, self._idx = context, idx
        request = context._request_at(idx)
        self._request_header = _Headers(request.headers if request else {})

    def get_request_property(self, key):
        return self._request_header.get(key)

    def get_request_properties(self):
        return self._request_header

    def report_status(self, code, reason_phrase=None):
        self._context.set_response_status(code, reason_phrase or "", self._idx)

    def get_response_status_code(self):
        return self._context.get_response_status(self._idx)

    def get_response_status_phrase(self):
        return self._context._response_at(self._idx).get("phrase") or None

    def add_response_property(self, key, value):
        self._context.set_response_header(self._idx, key, value)

    def get_response_headers(self):
        headers = dict(self._context.get_response_headers(self._idx))
        content_type = self._context.get_response_content_type(self._idx)
        if content_type:
            headers["content-type"] = content_type
        return headers

    def get_response_header(self, key):
        return _Headers(self.get_response_headers()).get(key)


class _Headers(dict):
    """Header names to values, looked up in any case (held in lower case)."""

    def __init__(self, headers):
        super().__init__((k.lower(), v) for k, v in headers.items())

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default) if isinstance(key, str) else default


class Request:
    """One request: its inputs by name ("body" for a raw body, form fields by their names),
    headers, query parameters, and the state preprocess left for postprocess."""

    def __init__(self, frame, blobs):
        req = frame.get("request") or {}
        self.id = req.get("id")
        self.sequence_id = req.get("sequence_id")
        self.headers = {k.lower(): v[0] if v else "" for k, v in (req.get("headers") or {}).items()}
        self.query = {k: v[0] if v else "" for k, v in (req.get("query") or {}).items()}
        self.inputs = {}
        self.content_types = {}
        for desc, data in zip(frame.get("blobs") or [], blobs):
            self.inputs[desc.get("name", "body")] = data
            self.content_types[desc.get("name", "body")] = desc.get("content_type", "")
        self.state = frame.get("state")

    def data(self):
        """The main payload, as TorchServe's handlers pick it: "data", else "body", else the first."""
        for name in ("data", "body"):
            if name in self.inputs:
                return self.inputs[name]
        return next(iter(self.inputs.values()), b"")


class BaseHandler:
    """Override initialize, preprocess and postprocess (and inference to run the model yourself).
    preprocess may set request.state (anything JSON can hold) for postprocess to read."""

    def initialize(self, context):
        self.context = context

    def preprocess(self, request):
        raise HandlerError("preprocess is not implemented", 500)

    def postprocess(self, outputs, request):
        return {name: t.tolist() for name, t in outputs.items()}

    def describe(self, request):
        """What GET /models/{name}?customized=true answers as customizedMetadata (anything JSON
        holds; a str holding JSON is parsed); None: the ONNX model's own metadata."""
        return None


def _read_exactly(stream, n):
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _read_frame(stream):
    head = _read_exactly(stream, 4)
    if head is None:
        return None, None
    (n,) = struct.unpack(">I", head)
    frame = json.loads(_read_exactly(stream, n))
    blobs = [_read_exactly(stream, b["size"]) for b in frame.get("blobs") or []]
    return frame, blobs


def _write_frame(stream, frame, blobs=()):
    frame["blobs"] = frame.get("blobs") or []
    for desc, data in zip(frame["blobs"], blobs):
        desc["size"] = len(data)
    head = json.dumps(frame).encode()
    stream.write(struct.pack(">I", len(head)) + head)
    for data in blobs:
        stream.write(data)
    stream.flush()


def _model_inputs(infos, values):
    """values for the model's inputs (infos) as (name, Tensor) pairs: {input name: value}, a
    list or tuple of values in the inputs' order (for one input, of one array), or one value
    for the first input; a value is a Tensor, or a numpy array, torch tensor or (nested) list,
    cast to the input's element type."""
    if values is None:
        raise HandlerError("preprocess answered None; it must answer the model's inputs", 500)
    if isinstance(values, dict):
        items = list(values.items())
    elif isinstance(values, (list, tuple)) and (len(infos) > 1 or len(values) == 1 and _is_array(values[0])):
        items = [(i["name"], v) for i, v in zip(infos, values)]
    elif infos:
        items = [(infos[0]["name"], values)]
    else:
        raise HandlerError("the model has no inputs to feed", 500)
    dtypes = {i["name"]: i.get("dtype") for i in infos}
    tensors = []
    for name, v in items:
        try:
            tensors.append((name, _as_tensor(v, dtypes.get(name))))
        except (TypeError, ValueError, OverflowError, struct.error) as e:
            raise HandlerError("input %r (%s): cannot make a tensor of the %s given: %s"
                               % (name, dtypes.get(name) or "unknown type", type(v).__name__, e), 500) from None
    return tensors


def _is_array(value):
    """Whether value is a Tensor, a numpy array or a torch tensor (not a number or a list)."""
    return isinstance(value, Tensor) or numpy is not None and isinstance(value, numpy.ndarray) or hasattr(value, "detach")


def _as_tensor(value, dtype=None):
    """value as a Tensor; dtype (a model input's) types a list, and casts a numpy array."""
    if isinstance(value, Tensor):
        return value
    if numpy is not None and hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        value = numpy.asarray(value)
        if dtype in _FORMATS and value.dtype != numpy.dtype(dtype) and value.dtype.kind not in "OSU":
            value = value.astype(dtype)
        return Tensor.from_numpy(value)
    if dtype not in _FORMATS and dtype != "string":  # not said: strings or float32 numbers
        dtype = "string" if any(isinstance(v, (str, bytes)) for v in _flatten(value)) else "float32"
    return Tensor.from_list(value, dtype=dtype)


def _encode_body(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), "application/octet-stream"
    if isinstance(value, str):
        return value.encode(), "text/plain; charset=utf-8"
    return (json.dumps(value, indent=2, default=_jsonable) + "\n").encode(), "application/json"


def _jsonable(value):
    """What JSON holds for a value it does not: a numpy array or number, a Tensor, a torch
    tensor as lists and numbers (their tolist())."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu()
    if callable(getattr(value, "tolist", None)):
        return value.tolist()
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


_current = None  # (stdout, frame id) of the request being answered, for intermediate parts
_batch = None  # the number of requests of the batch being answered (None: one request alone)
_stdin = None  # ts's frames, for the replies to run_model


def send_intermediate_predict_response(ret, req_id_map=None, message="Intermediate Prediction success", code=200,
                                       context=None):
    """TorchServe's ts.handler_utils.utils.send_intermediate_predict_response: sends a part of
    the answer to the client now (a token of a generated text, say), before the rest. ret is
    the batch's parts, one per request in its order (one request alone: ret[0]); each part is
    bytes, a str, or anything JSON can hold. A streaming client (HTTP, gRPC StreamPredictions)
    gets each part as it is sent; others get the parts joined in front of the final answer."""
    if _current is None:
        raise RuntimeError("send_intermediate_predict_response: no request is being answered")
    stdout, fid = _current
    if _batch is None:
        body, ctype = _encode_body(ret[0] if isinstance(ret, (list, tuple)) else ret)
        _write_frame(stdout, {"type": "intermediate", "id": fid, "content_type": ctype, "blobs": [{}]}, [body])
        return
    if not isinstance(ret, (list, tuple)) or len(ret) != _batch:
        raise ValueError("send_intermediate_predict_response: ret must hold one part per request of the batch (%d)" % _batch)
    parts = [_encode_body(part) for part in ret]
    _write_frame(stdout, {"type": "intermediate", "id": fid, "blobs": [{"item": i, "content_type": ctype} for i, (_, ctype) in enumerate(parts)]},
                 [body for body, _ in parts])


def _protocol_stdout():
    """The protocol's stdout: a copy of file descriptor 1, taken once per process (kept on
    sys, so that a copy of this kit in the archive finds it), after which 1 is stderr's:
    whatever writes to it (print, os.write(1, ...), a C library, a child process) reaches
    ts's log and cannot corrupt the protocol."""
    out = getattr(sys, "_ts_protocol_stdout", None)
    if out is None:
        sys.stdout.flush()
        out = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        sys._ts_protocol_stdout = out
    return out


def _stream_next(context, results):
    """TorchServe's continuous batching: the handler's context.stopping_criteria (one callable
    per request of the batch) say, given each request's answer, whether it was the last
    (True) or more is to come (False), which the header ts_stream_next tells ts: it sends such
    an answer as a part and the request again in the next batch (continuousBatching)."""
    criteria = getattr(context, "stopping_criteria", None)
    if not criteria:
        return
    for idx, result in enumerate(results):
        stop = criteria[idx](result) if idx < len(criteria) and callable(criteria[idx]) else None
        if stop is not None:
            context.set_response_header(idx, "ts_stream_next", "false" if stop else "true")


def run(handler_class):
    """Serves requests for ts until stdin closes."""
    global _current, _stdin, _batch
    stdin, stdout = sys.stdin.buffer, _protocol_stdout()
    _stdin = stdin
    sys.stdout = sys.stderr  # a stray print() must not corrupt the protocol
    handler = handler_class()
    takes_over = callable(getattr(handler, "inference", None))
    takes_batches = takes_over and callable(getattr(handler, "inference_batch", None))
    while True:
        frame, blobs = _read_frame(stdin)
        if frame is None:
            return
        kind, fid = frame.get("type"), frame.get("id", 0)
        context = getattr(handler, "context", None)
        try:
            if kind == "init":
                context = Context(frame["model"])
                _current = (stdout, fid)  # initialize may run the model (a warm-up)
                handler.initialize(context)
                handler.context = context
                _write_frame(stdout, {"type": "ready", "id": fid, "inference": bool(takes_over), "batch": bool(takes_batches)})
                continue
            if kind == "batch":
                requests = _batch_requests(frame, blobs)
                _current, _batch = (stdout, fid), len(requests)
                context._answering(requests)
                results = handler.inference_batch(requests)
                if not isinstance(results, (list, tuple)) or len(results) != len(requests):
                    raise HandlerError("inference_batch must answer a list, one answer per request: %s for a batch of %d"
                                       % ("%d answers" % len(results) if isinstance(results, (list, tuple))
                                          else type(results).__name__, len(requests)), 500)
                _stream_next(context, results)
                replies, bodies = [], []
                for i, (result, set_by) in enumerate(zip(results, context.responses)):
                    body, ctype = _encode_body(result)
                    replies.append({"content_type": set_by.get("content_type") or ctype, "status": set_by.get("status", 200),
                                    "headers": set_by.get("headers") or {}})
                    bodies.append(body)
                reply = {"type": "responses", "id": fid, "replies": replies, "blobs": [{"item": i} for i in range(len(bodies))]}
                _write_frame(stdout, _with_metrics(reply, context), bodies)
                continue
            request = Request(frame, blobs)
            _current = (stdout, fid)
            if context is not None:
                context._answering([request])
            if kind == "preprocess":
                out = _model_inputs(context.inputs, handler.preprocess(request))
                reply = {"type": "tensors", "id": fid, "state": request.state,
                         "blobs": [{"name": n, "dtype": t.dtype, "shape": t.shape} for n, t in out]}
                _write_frame(stdout, _with_metrics(reply, context), [t.data for _, t in out])
            elif kind in ("postprocess", "handle", "describe"):
                if kind == "postprocess":
                    outputs = _tensors_in(frame, blobs)
                    result = handler.postprocess(outputs, request)
                elif kind == "describe":
                    describe = getattr(handler, "describe", None)
                    result = describe(request) if callable(describe) else None
                else:
                    result = handler.inference(request)
                body, ctype = _encode_body(result)
                set_by = context.response if context is not None else {}
                reply = {"type": "response", "id": fid, "content_type": set_by.get("content_type") or ctype,
                         "status": set_by.get("status", 200), "headers": set_by.get("headers") or {}, "blobs": [{}]}
                _write_frame(stdout, _with_metrics(reply, context), [body])
            else:
                _write_frame(stdout, {"type": "error", "id": fid, "code": 500, "message": "unknown message %r" % kind})
        except HandlerError as e:
            _write_frame(stdout, _with_metrics({"type": "error", "id": fid, "code": e.code, "message": str(e)}, context))
        except PredictionException as e:  # TorchServe's, raised by a handler written for it
            _write_frame(stdout, _with_metrics({"type": "error", "id": fid, "code": e.error_code, "message": e.message}, context))
        except Exception as e:  # the request fails, the process goes on
            traceback.print_exc(file=sys.stderr)
            _write_frame(stdout, {"type": "error", "id": fid, "code": 500, "message": "%s: %s" % (type(e).__name__, e)})
        finally:
            _current, _batch = None, None


def _batch_requests(frame, blobs):
    """The requests of a "batch" frame, each with its blobs."""
    descs = frame.get("blobs") or []
    return [Request({"request": req, "blobs": [d for d in descs if d.get("item", 0) == i]},
                    [data for d, data in zip(descs, blobs) if d.get("item", 0) == i])
            for i, req in enumerate(frame.get("requests") or [])]


def _with_metrics(reply, context):
    if context is not None and context.metrics.pending:
        reply["metrics"], context.metrics.pending = context.metrics.pending, []
    return reply


class FunctionHandler(BaseHandler):
    """Runs a TorchServe workflow function, fn(data, context), as a handler that takes over
    inference: data is a batch of one, a dict of the request's inputs by name (bytearray), and
    the first item of what fn returns is the answer."""

    def __init__(self, fn):
        self.fn = fn

    def inference(self, request):
        item = {name: bytearray(data) for name, data in request.inputs.items()}
        out = self.fn([item], self.context)
        if out is None or (isinstance(out, (list, tuple)) and len(out) == 0):
            raise HandlerError("workflow function %s returned no output" % self.fn.__name__, 500)
        if not isinstance(out, (list, tuple)):
            raise HandlerError("workflow function %s must return a list, one answer per request; it returned %s"
                               % (self.fn.__name__, type(out).__name__), 500)
        return out[0]


def _decode_input(data, content_type):
    """An input as TorchServe's backend hands it to a handler (decode_input_request): JSON
    parsed, text as a str, anything else as a bytearray."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    try:
        if ctype == "application/json":
            return json.loads(bytes(data).decode("utf-8"))
        if ctype.startswith("text/"):
            return bytes(data).decode("utf-8")
    except ValueError:
        pass
    return bytearray(data)


class TorchServeHandler(BaseHandler):
    """Runs a handler written for TorchServe: entry(data, context) for a batch of requests
    (the model's batch_size at most), data a list of dicts of each request's inputs by name,
    decoded as TorchServe decodes them, and what it returns a list of the answers in the same
    order; a request alone gets the first item. At load, init(context) if given, else
    entry(None, context), as TorchServe initialises a function entry point. An exception
    fails the batch with TorchServe's 503 "Prediction failed" (a PredictionException with its
    own code)."""

    def __init__(self, entry, init=None):
        self.entry, self.init = entry, init

    def initialize(self, context):
        super().initialize(context)
        context.model_yaml_config = context.yaml_config  # TorchServe gives handlers the whole file
        if self.init is not None:
            self.init(context)
        else:
            self.entry(None, context)

    def inference(self, request):
        return self.inference_batch([request])[0]

    def inference_batch(self, requests):
        data = [{name: _decode_input(body, request.content_types.get(name)) for name, body in request.inputs.items()}
                for request in requests]
        try:
            out = self.entry(data, self.context)
        except (HandlerError, PredictionException):
            raise
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            raise HandlerError("Prediction failed: %s: %s" % (type(e).__name__, e), 503)
        if not isinstance(out, (list, tuple)) or len(out) == 0:
            what = "an empty list" if isinstance(out, (list, tuple)) else type(out).__name__
            raise HandlerError("Invalid model predict output: the handler must return a list, one answer per "
                               "request; it returned %s" % what, 503)
        if len(requests) > 1 and len(out) != len(requests):
            raise HandlerError("Invalid model predict output: number of batch response mismatched: %d answers for a "
                               "batch of %d requests" % (len(out), len(requests)), 503)
        return out

    def describe(self, request):
        """The handler's describe_handle() (TorchServe's BaseHandler and its subclasses), which
        TorchServe asks for GET /models/{name}?customized=true; None without one."""
        describe_handle = getattr(getattr(self.entry, "__self__", None), "describe_handle", None)
        return describe_handle() if callable(describe_handle) else None


class _NodeArg:
    """An input or output as onnxruntime's NodeArg describes it."""

    def __init__(self, info):
        self.name = info["name"]
        self.shape = [None if d is None or d < 0 else d for d in (info.get("shape") or [])]
        self.type = "tensor(%s)" % {"float32": "float", "float64": "double"}.get(info.get("dtype"), info.get("dtype"))


class ModelSession:
    """A TorchServe handler's self.model for the archive's ONNX model, which ts runs:
    onnxruntime.InferenceSession's run, get_inputs and get_outputs (context.run_model)."""

    def __init__(self, context):
        self.context = context

    def get_inputs(self):
        return [_NodeArg(i) for i in self.context.inputs]

    def get_outputs(self):
        return [_NodeArg(o) for o in self.context.outputs]

    def run(self, output_names, input_feed, run_options=None):
        outputs = self.context.run_model(input_feed)
        return [outputs[name] for name in (output_names or [o["name"] for o in self.context.outputs])]


def load_label_mapping(path):
    """TorchServe's ts.utils.util.load_label_mapping: the JSON file at path as {class index:
    label}, a label given as a list being its last item (ImageNet's [synset, name]), or
    {"object_type_names": [labels]} by position; None when there is no such file."""
    if not os.path.isfile(path):
        print("%s is missing: answers will not name classes" % path, file=sys.stderr)
        return None
    with open(path) as f:
        mapping = json.load(f)
    if not isinstance(mapping, dict):
        raise ValueError("%s must be a JSON object of class index to label" % path)
    if isinstance(mapping.get("object_type_names"), list):
        return {str(k): v for k, v in enumerate(mapping["object_type_names"])}
    labels = {}
    for key, value in mapping.items():
        label = value[-1] if isinstance(value, list) and value else value
        if not isinstance(label, str):
            raise ValueError("%s: the label of class %s is neither a string nor a list ending with one" % (path, key))
        labels[key] = label
    return labels


def list_classes_from_module(module, parent_class=None):
    """TorchServe's ts.utils.util.list_classes_from_module: the classes defined in module (not
    those it imports), those derived from parent_class when given, as handlers use it to find
    the model class of a model file."""
    classes = [member for _, member in inspect.getmembers(module, inspect.isclass) if member.__module__ == module.__name__]
    if parent_class is not None:
        classes = [c for c in classes if issubclass(c, parent_class)]
    return classes


def map_class_to_label(probs, mapping=None, lbl_classes=None):
    """TorchServe's ts.utils.util.map_class_to_label: for each row of probs (a list of lists),
    {label: probability} over its classes (lbl_classes' row, else 0, 1, ...), a class named by
    mapping when given, else by its index as a string."""
    if not isinstance(probs, list):
        raise ValueError("map_class_to_label takes a list of rows of probabilities (tolist() first)")
    if mapping is not None and not isinstance(mapping, dict):
        raise ValueError("map_class_to_label's mapping must be a dict")
    answers = []
    for k, row in enumerate(probs):
        classes = lbl_classes[k] if lbl_classes is not None else range(len(row))
        answers.append({(mapping[str(c)] if mapping is not None else str(c)): p for c, p in zip(classes, row)})
    return answers


def timed(method):
    """TorchServe's ts.handler_utils.timer.timed: decorates a handler's method to report its
    time in milliseconds as the metric ts_handler_<method> when model-config.yaml's handler
    section says profile: true."""
    def timed_method(self, *args, **kwargs):
        handler_config = (self.context.model_yaml_config or {}).get("handler") or {}
        if not handler_config.get("profile"):
            return method(self, *args, **kwargs)
        start = time.perf_counter()
        result = method(self, *args, **kwargs)
        self.context.metrics.add_time("ts_handler_" + method.__name__, (time.perf_counter() - start) * 1000)
        return result
    return timed_method


class TorchServeBaseHandler:
    """ts.torch_handler.base_handler.BaseHandler for handlers written for TorchServe, when
    TorchServe is not installed: initialize sets self.model to the archive's ONNX model, run
    by ts (ModelSession, onnxruntime's API, as TorchServe's BaseHandler gives an .onnx model),
    self.model_pt_path to its file, self.mapping to its index_to_name.json (load_label_mapping)
    and self.model_yaml_config; handle is preprocess, inference, postprocess (explain_handle,
    which calls the handler's get_insights, for an explanation), timed (HandlerTime). The
    defaults: the request's body as an array, the model run on the first input, the first
    output's rows."""

    def __init__(self):
        self.model, self.context, self.manifest, self.initialized = None, None, None, False
        self.map_location, self.device, self.explain, self.mapping = "cpu", None, False, None
        self.model_pt_path, self.target, self.profiler_args = None, 0, {}

    def initialize(self, context):
        self.context, self.manifest = context, context.manifest
        self.model_yaml_config = context.model_yaml_config
        model_dir = context.system_properties.get("model_dir") or "."
        serialized = (self.manifest.get("model") or {}).get("serializedFile")
        self.model_pt_path = os.path.join(model_dir, serialized) if serialized else None
        self.model = ModelSession(context) if context.inputs else None
        self.mapping = load_label_mapping(os.path.join(model_dir, "index_to_name.json"))
        self.initialized = True

    @timed
    def preprocess(self, data):
        bodies = [row.get("data", row.get("body")) for row in data]
        if len(bodies) > 1 and all(isinstance(b, list) for b in bodies):  # a batch: the requests' rows, in order
            return numpy.concatenate([numpy.asarray(b) for b in bodies]) if numpy is not None else [r for b in bodies for r in b]
        body = bodies[0]
        return numpy.asarray(body) if numpy is not None and isinstance(body, list) else body

    @timed
    def inference(self, data, *args, **kwargs):
        if self.model is None:
            raise HandlerError("the archive has no ONNX model for BaseHandler.inference to run", 500)
        feed = data if isinstance(data, dict) else {self.model.get_inputs()[0].name: data}
        return self.model.run(None, feed)

    @timed
    def postprocess(self, data):
        first = data[0] if isinstance(data, (list, tuple)) else data
        return first.tolist() if hasattr(first, "tolist") else first

    def handle(self, data, context):
        start = time.perf_counter()
        self.context = context
        preprocessed = self.preprocess(data)
        if context.get_request_header(0, "explain") == "True":
            self.explain = True
            output = self.explain_handle(preprocessed, data)
        else:
            output = self.postprocess(self.inference(preprocessed))
        context.metrics.add_time("HandlerTime", round((time.perf_counter() - start) * 1000, 2), None, "ms")
        return output

    def explain_handle(self, data_preprocess, raw_data):
        """An explanation: the handler's get_insights(preprocessed, the request's data, its
        target (default 0)), as TorchServe's."""
        if not callable(getattr(self, "get_insights", None)):
            raise HandlerError("this handler does not explain: it defines no get_insights", 501)
        row = raw_data[0] if raw_data else {}
        inputs = row.get("data") or row.get("body") if isinstance(row, dict) else None
        target = (row.get("target") if isinstance(row, dict) else None) or 0
        return self.get_insights(data_preprocess, inputs, target)

    def describe_handle(self):
        """What describes the model beyond its own metadata (customizedMetadata): None."""
        return None

    def get_device(self):
        return self.device


def _vision_modules():
    """numpy and PIL's Image, which TorchServe's vision handlers need here (torchvision's
    transforms are done with them)."""
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if numpy is None or Image is None:
        raise HandlerError("TorchServe's vision handlers need numpy and Pillow in the handler's Python "
                           "(apt-get install python3-numpy python3-pil, or pip install numpy pillow)", 500)
    return numpy, Image


class ImageTransform:
    """torchvision's Resize(resize) (the shorter side), CenterCrop(crop), ToTensor and
    Normalize(mean, std) with numpy and PIL: an image to a float32 array [channels, height,
    width] (RGB); resize or crop None leaves that step out, mean None the normalisation."""

    def __init__(self, resize=None, crop=None, mean=None, std=None):
        self.resize, self.crop, self.mean, self.std = resize, crop, mean, std

    def __call__(self, image):
        np, Image = _vision_modules()
        image = image.convert("RGB")
        if self.resize:
            w, h = image.size
            if w <= h:
                size = (self.resize, int(self.resize * h / w))
            else:
                size = (int(self.resize * w / h), self.resize)
            image = image.resize(size, Image.BILINEAR)
        if self.crop:
            w, h = image.size
            left, top = int(round((w - self.crop) / 2.0)), int(round((h - self.crop) / 2.0))
            image = image.crop((left, top, left + self.crop, top + self.crop))
        pixels = np.asarray(image, dtype=np.float32) / 255.0
        if self.mean is not None:
            pixels = (pixels - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))


IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

# TorchServe's ImageNet preprocessing, its image classifier's and segmenter's
IMAGENET_TRANSFORM = ImageTransform(256, 224, IMAGENET_MEAN, IMAGENET_STD)


class TorchServeVisionHandler(TorchServeBaseHandler):
    """ts.torch_handler.vision_handler.VisionHandler, for an ONNX model: preprocess reads each
    request's image (its bytes, or base64 text) and makes it an array with image_processing
    (a callable: the subclass's, torchvision's transforms too when torch is installed), or
    takes a nested list of numbers as it is; the arrays are stacked, one row a request."""

    image_processing = ImageTransform()

    def preprocess(self, data):
        np, Image = _vision_modules()
        images = []
        for row in data:
            image = (row.get("data") or row.get("body")) if isinstance(row, dict) else row
            if isinstance(image, str):
                image = base64.b64decode(image)
            if isinstance(image, (bytes, bytearray)):
                image = self.image_processing(Image.open(io.BytesIO(image)))
                if hasattr(image, "numpy") and not isinstance(image, np.ndarray):  # a torch tensor
                    image = image.numpy()
            images.append(np.asarray(image, dtype=np.float32))
        return np.stack(images)


def _first_output(data):
    """A model's first output as an array (BaseHandler.inference answers them all)."""
    return numpy.asarray(data[0] if isinstance(data, (list, tuple)) else data, dtype=numpy.float64)


def _softmax(x, axis):
    e = numpy.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class TorchServeImageClassifier(TorchServeVisionHandler):
    """ts.torch_handler.image_classifier.ImageClassifier, for an ONNX model: ImageNet's
    preprocessing (resize 256, crop 224, normalise), then the first output's softmax and its
    topk classes (5; fewer when the model has fewer) named by index_to_name.json."""

    topk = 5
    image_processing = IMAGENET_TRANSFORM

    def set_max_result_classes(self, topk):
        self.topk = topk

    def get_max_result_classes(self):
        return self.topk

    def postprocess(self, data):
        probs = _softmax(_first_output(data), axis=1)
        classes = numpy.argsort(-probs, axis=1, kind="stable")[:, :min(self.topk, probs.shape[1])]
        return map_class_to_label(numpy.take_along_axis(probs, classes, axis=1).tolist(), self.mapping, classes.tolist())


class TorchServeImageSegmenter(TorchServeVisionHandler):
    """ts.torch_handler.image_segmenter.ImageSegmenter, for an ONNX model: ImageNet's
    preprocessing, then for each pixel of the output named out (else the first) its class
    (as a float) and probability, [height][width][2] a request."""

    image_processing = IMAGENET_TRANSFORM

    def postprocess(self, data):
        if isinstance(data, dict):
            data = data.get("out", next(iter(data.values())))
        elif isinstance(data, (list, tuple)) and self.model is not None:
            names = [o.name for o in self.model.get_outputs()]
            data = data[names.index("out")] if "out" in names else data[0]
        probs = _softmax(numpy.asarray(data, dtype=numpy.float64), axis=1)
        return numpy.stack([probs.argmax(axis=1).astype(numpy.float64), probs.max(axis=1)], axis=3).tolist()


class TorchServeObjectDetector(TorchServeVisionHandler):
    """ts.torch_handler.object_detector.ObjectDetector, for an ONNX model exported from a
    torchvision detector: each image (ToTensor only) run alone (as [3, height, width], or a
    batch of one for a model that takes batches); its outputs made torchvision's {"boxes", "labels",
    "scores"} (by name, else in that order) for postprocess, which answers, for each image,
    [{label: box, "score": score}] for the scores of threshold (0.5) or more, labels named by
    index_to_name.json."""

    image_processing = ImageTransform()
    threshold = 0.5

    def inference(self, data, *args, **kwargs):
        if self.model is None:
            raise HandlerError("the archive has no ONNX model for ObjectDetector.inference to run", 500)
        first = self.model.get_inputs()[0]
        names = [o.name for o in self.model.get_outputs()]
        keys = {}
        for key, words in (("boxes", ("box",)), ("labels", ("label", "class")), ("scores", ("score",))):
            found = [n for n in names if any(w in n.lower() for w in words)]
            keys[key] = found[0] if found else (names[len(keys)] if len(keys) < len(names) else None)
        if None in keys.values():
            raise HandlerError("ObjectDetector needs a model answering boxes, labels and scores; this one answers %s" % names, 500)
        rows = []
        for image in data:  # one image a run (ts batches the runs of requests together)
            outputs = self.model.run(None, {first.name: image if len(first.shape) == 3 else image[None]})
            row = {key: numpy.asarray(outputs[names.index(name)]) for key, name in keys.items()}
            if row["boxes"].ndim == 3:  # a batch of one
                row = {key: value[0] for key, value in row.items()}
            rows.append(row)
        return rows

    def postprocess(self, data):
        result = []
        for row in data:
            keep = row["scores"] >= self.threshold
            boxes, classes, scores = row["boxes"][keep].tolist(), row["labels"][keep].tolist(), row["scores"][keep].tolist()
            result.append([{(self.mapping[str(int(c))] if self.mapping else str(int(c))): box, "score": score}
                           for c, box, score in zip(classes, boxes, scores)])
        return result


def _install_torchserve_modules():
    """Lets a handler written for TorchServe import what ts provides of its package (unless
    TorchServe itself is installed): ts.torch_handler.base_handler.BaseHandler, and for images
    (with numpy and Pillow) vision_handler.VisionHandler, image_classifier.ImageClassifier,
    image_segmenter.ImageSegmenter and object_detector.ObjectDetector,
    ts.utils.util's PredictionException, load_label_mapping, map_class_to_label and
    list_classes_from_module,
    ts.handler_utils.utils.send_intermediate_predict_response (and at its older home,
    ts.protocol.otf_message_handler, where many streaming handlers import it), ts.handler_utils.timer.timed,
    ts.metrics.metric_type_enum.MetricTypes, ts.metrics.dimension.Dimension and
    ts.context's Context and RequestProcessor."""
    try:
        import ts  # noqa: F401  (the real package)
        return
    except ImportError:
        pass
    names = ("ts", "ts.utils", "ts.utils.util", "ts.handler_utils", "ts.handler_utils.utils", "ts.handler_utils.timer",
             "ts.torch_handler", "ts.torch_handler.base_handler", "ts.torch_handler.vision_handler",
             "ts.torch_handler.image_classifier", "ts.torch_handler.image_segmenter", "ts.torch_handler.object_detector",
             "ts.metrics", "ts.metrics.metric_type_enum",
             "ts.metrics.dimension", "ts.context", "ts.protocol", "ts.protocol.otf_message_handler")
    mods = {}
    for name in names:
        mods[name] = types.ModuleType(name)
        mods[name].__path__ = []  # a package, so that its submodules import
        sys.modules[name] = mods[name]
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(mods[parent], child, mods[name])
    mods["ts.utils.util"].PredictionException = PredictionException
    mods["ts.utils.util"].load_label_mapping = load_label_mapping
    mods["ts.utils.util"].map_class_to_label = map_class_to_label
    mods["ts.utils.util"].list_classes_from_module = list_classes_from_module
    mods["ts.handler_utils.timer"].timed = timed
    mods["ts.handler_utils.utils"].send_intermediate_predict_response = send_intermediate_predict_response
    mods["ts.protocol.otf_message_handler"].send_intermediate_predict_response = send_intermediate_predict_response
    mods["ts.torch_handler.base_handler"].BaseHandler = TorchServeBaseHandler
    mods["ts.torch_handler.vision_handler"].VisionHandler = TorchServeVisionHandler
    mods["ts.torch_handler.image_classifier"].ImageClassifier = TorchServeImageClassifier
    mods["ts.torch_handler.image_segmenter"].ImageSegmenter = TorchServeImageSegmenter
    mods["ts.torch_handler.object_detector"].ObjectDetector = TorchServeObjectDetector
    mods["ts.metrics.metric_type_enum"].MetricTypes = MetricTypes
    mods["ts.metrics.dimension"].Dimension = Dimension
    mods["ts.context"].Context = Context  # for type annotations
    mods["ts.context"].RequestProcessor = RequestProcessor


class _PrintsToStderr:
    """sys.stdout while a handler file loads: what it prints goes to stderr, which ts logs,
    while its buffer is the protocol's (the run of an older copy of this kit in the archive
    takes sys.stdout.buffer)."""

    def __init__(self, protocol):
        self.buffer = protocol

    def write(self, text):
        return sys.stderr.write(text)

    def flush(self):
        sys.stderr.flush()

    def __getattr__(self, attr):
        return getattr(sys.stderr, attr)


def serve_file(path, name=None):
    """Serves the Python handler file at path. A ts handler (one that imports ts_handler and
    calls its run, as under `if __name__ == "__main__"`) runs as the main program and serves as
    always. A file written for TorchServe is imported as TorchServe imports it, as a module
    named after the file (so its `__main__` block, a local test, does not run), and its entry
    point serves, found as TorchServe finds it: the function name (default handle), else the
    file's one class, instantiated, whose initialize(context) runs at load and whose
    handle(data, context) answers."""
    here = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, here)
    sys.argv = [path] + ([name] if name else [])
    if importlib.util.find_spec("ts_handler") is None and __name__ in sys.modules:
        sys.modules["ts_handler"] = sys.modules[__name__]  # the archive need not hold the kit
    _install_torchserve_modules()
    sys.stdout = _PrintsToStderr(_protocol_stdout())  # what the file prints must not reach ts
    if _runs_itself(path):
        namespace = runpy.run_path(path, run_name="__main__")
        if not sys.stdin.buffer.peek(1):
            return  # a ts handler served until its input ended
        module = types.SimpleNamespace(**namespace)  # it did not call run after all: its __name__ is "__main__"
    else:
        module = _import_file(path)
    entry = getattr(module, name or "handle", None)
    if callable(entry) and not inspect.isclass(entry):
        run(lambda: TorchServeHandler(entry))
        return
    if name:
        sys.exit("%s has no function %s" % (os.path.basename(path), name))
    classes = [c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == module.__name__]
    if len(classes) != 1 or not callable(getattr(classes[0], "handle", None)):
        sys.exit("%s: expected a function handle(data, context), or only one class, with a handle method, "
                 "as TorchServe does; or a ts handler that calls run (docs/custom-handlers.md)" % os.path.basename(path))
    instance = classes[0]()
    run(lambda: TorchServeHandler(instance.handle, getattr(instance, "initialize", None) or (lambda context: None)))


def _runs_itself(path):
    """Whether the Python file at path is a ts handler: it imports ts_handler and, outside its
    functions and classes (at the top or under `if __name__ == "__main__"`), calls a run."""
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), filename=path)
    imports_kit, calls_run = False, False
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import) and any(alias.name == "ts_handler" for alias in node.names):
            imports_kit = True
        elif isinstance(node, ast.ImportFrom) and node.module == "ts_handler":
            imports_kit = True
        elif isinstance(node, ast.Call):
            fn = node.func
            calls_run = calls_run or (isinstance(fn, ast.Name) and fn.id == "run") or (isinstance(fn, ast.Attribute) and fn.attr == "run")
        todo.extend(ast.iter_child_nodes(node))
    return imports_kit and calls_run


def _import_file(path):
    """Imports the Python file at path as the module named after it, as TorchServe imports a
    handler (unless a module of that name is already imported: it stays)."""
    module_name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(module_name, module)
    spec.loader.exec_module(module)
    return module


def run_function(path, name):
    """Serves the function name of the Python file at path (a workflow's function node)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))  # its own imports
    module = _import_file(path)
    fn = getattr(module, name, None)
    if not callable(fn):
        sys.exit("%s has no function %s" % (os.path.basename(path), name))
    run(lambda: FunctionHandler(fn))
