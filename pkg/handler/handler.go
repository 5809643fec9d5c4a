// Package handler turns requests into model inputs and model outputs into responses. It
// holds the Handler interface and the built-in handlers (image_classifier, tensor, ...);
// custom handlers run as external processes.
package handler

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/tensor"
)

// Input is one named part of a request: the raw body is named "body"; multipart form
// fields keep their names.
type Input struct {
	Name        string
	ContentType string
	Data        []byte
}

// Request is one inference request as a handler sees it.
type Request struct {
	ID     string
	Inputs []Input
	// Header holds the HTTP request headers.
	Header http.Header
	// Query holds the URL's query parameters.
	Query url.Values
	// State carries what Preprocess wants Postprocess to know (an image's size, ...).
	State any
	// Stream, when set, receives the parts of the answer a custom handler sends before its
	// last (TorchServe's send_intermediate_predict_response), as they come: a streaming
	// client's. When nil, those parts are joined, in order, in front of the last one.
	Stream func(part []byte, contentType string) error
	// Sequence is the request's sequence id, for a stateful model (sequenceBatching): a
	// custom handler's requests of one sequence go to the same process. SequenceEnd ends
	// the sequence after this request, SequenceStart begins it afresh.
	Sequence      string
	SequenceStart bool
	SequenceEnd   bool
}

// Data returns the request's main payload, as TorchServe's handlers pick it: the input
// named "data", else "body", else the first input.
func (r *Request) Data() (Input, bool) {
	for _, name := range []string{"data", "body"} {
		for _, in := range r.Inputs {
			if in.Name == name {
				return in, true
			}
		}
	}
	if len(r.Inputs) > 0 {
		return r.Inputs[0], true
	}
	return Input{}, false
}

// Response is what a handler answers for one request.
type Response struct {
	Body        []byte
	ContentType string
	// Status is the HTTP status; 0 means 200.
	Status int
	// Header holds more response headers (nil: none).
	Header http.Header
}

// Handler prepares a model's inputs and reads its outputs. Both methods run on the
// request's own goroutine and must be safe for concurrent use.
type Handler interface {
	// Preprocess builds the model's inputs for one request, in the order of Model.Inputs.
	// For models with a batch dimension, dimension 0 counts the request's items (usually 1).
	Preprocess(ctx context.Context, req *Request) ([]*tensor.Tensor, error)
	// Postprocess turns the request's share of the model's outputs (in the order of
	// Model.Outputs) into its response.
	Postprocess(ctx context.Context, req *Request, outputs []*tensor.Tensor) (*Response, error)
}

// Model is what a handler knows about the model it serves.
type Model struct {
	Name     string
	Version  string
	Dir      string // the archive's files
	Manifest *archive.Manifest
	// Handler is the handler's name: the manifest's, or the one the registration asked for.
	Handler string
	Inputs  []tensor.Info
	Outputs []tensor.Info
	// Config is the "handler" section of the archive's model-config.yaml; YAML the whole
	// file (nil without one).
	Config map[string]any
	YAML   map[string]any
	// Metadata is the ONNX model's metadata_props (nil when it has none, or no model).
	Metadata map[string]string
	// Workers, Timeout and StartupTimeout size a custom handler's process pool.
	Workers        int
	Timeout        time.Duration
	StartupTimeout time.Duration
	// MaxRetry is how long a custom handler's processes may keep failing (from the first
	// failure with no success since) and still be started again: TorchServe's
	// maxRetryTimeoutInSec (0: never started again after a failure).
	MaxRetry time.Duration
	// MaxSequences is how many sequences of a stateful model may be open at once (0: the
	// model is not stateful), SequenceIdle how long one may be idle before it ends (0:
	// never), and SequenceQueue how many requests of one sequence may wait while another of
	// it is answered (TorchServe's maxSequenceJobQueueSize; 0: no bound).
	MaxSequences  int
	SequenceIdle  time.Duration
	SequenceQueue int
	// ContinuousBatching is TorchServe's continuous batching (a handler that takes batches,
	// BatchSize 1 or more): an answer the handler marks as not the last (the header
	// ts_stream_next: true, which its stopping criteria set) goes to the client as a part,
	// and the request goes again in the next batch, to the same process, with the requests
	// that came meanwhile.
	ContinuousBatching bool
	// BatchSize is how many requests a custom handler that runs inference itself gets at
	// once when its process takes batches (TorchServe's batch_size; 1: one at a time),
	// gathered for up to MaxBatchDelay; QueueSize bounds the requests waiting for a batch
	// (job_queue_size; 0: no bound).
	BatchSize     int
	MaxBatchDelay time.Duration
	QueueSize     int
	// OnBatch, when set, hears of each call that a custom handler that runs inference itself
	// answers requests with (a batch, or one request): their waits for it and its run, for
	// the metrics and statistics the ONNX Runtime batches feed.
	OnBatch func(batch.Report)
	// MaxResponse is the largest answer the server sends (max_response_size; 0: no limit):
	// the tensor handler refuses outputs too large for it before writing them.
	MaxResponse int64
	// Run runs the archive's ONNX model on tensors in the order of Inputs, batched with the
	// version's other requests, for a custom handler that runs inference itself and asks for
	// the model (a "run" frame); nil when there is no model to run.
	Run func(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// Factory creates a handler for a model.
type Factory func(m *Model) (Handler, error)

// TensorHandler is the name of the built-in handler that takes and answers raw tensors.
const TensorHandler = "tensor"

var builtins = map[string]Factory{
	"image_classifier": newImageClassifier,
	"image_segmenter":  newImageSegmenter,
	"object_detector":  newObjectDetector,
	"text_classifier":  newTextClassifier,
	TensorHandler:      newTensorHandler,
}

// imageSettings are the image handlers' shared settings (imageSpec).
var imageSettings = []string{"layout", "channels", "channel_order", "size", "resize", "letterbox", "mean", "std", "scale"}

// settings lists the model-config.yaml handler settings each built-in handler reads.
var settings = map[string][]string{
	"image_classifier": slices.Concat(imageSettings, []string{"output", "topk", "softmax"}),
	"image_segmenter":  slices.Concat(imageSettings, []string{"mask_size", "output", "softmax"}),
	"object_detector":  slices.Concat(imageSettings, []string{"output_format", "threshold", "nms", "nms_iou", "max_detections", "boxes", "labels", "scores", "count", "box_format", "normalized_boxes", "activation", "background", "anchors", "xy_scale"}),
	"text_classifier":  {"max_length", "output", "topk", "softmax", "tokenizer", "vocab", "lowercase"},
	TensorHandler:      {},
}

// UnknownSettings lists, sorted, the keys of a model-config.yaml handler section that the
// built-in handler name does not read: typos, or another handler's settings. Custom
// handlers read what they like (nil).
func UnknownSettings(name string, cfg map[string]any) (unknown, known []string) {
	known, ok := settings[name]
	if !ok {
		return nil, nil
	}
	for k := range cfg {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	return unknown, known
}

// IsBuiltin reports whether name is a built-in handler.
func IsBuiltin(name string) bool {
	_, ok := builtins[name]
	return ok
}

// Names lists the built-in handlers available.
func Names() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New creates the named built-in handler for m.
func New(name string, m *Model) (Handler, error) {
	f, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("unknown handler %q (built-in handlers: %s)", name, strings.Join(Names(), ", "))
	}
	return f(m)
}

// badInput is the 400 a handler returns for a client mistake.
func badInput(format string, args ...any) error {
	return apierror.BadRequest(format, args...)
}
