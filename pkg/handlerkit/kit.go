package handlerkit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"

	"github.com/tsserve/ts/pkg/tensor"
)

// Context is what a handler knows about its model.
type Context struct {
	Model   FrameModel
	Metrics *Metrics

	out   *bufio.Writer // the protocol's streams, for SendIntermediate and RunModel
	in    *bufio.Reader
	id    int64 // the frame being answered
	batch int   // the requests of the batch being answered (0: one request alone)
}

// RunModel runs the archive's ONNX model in ts (ONNX Runtime, batched with the model's other
// requests) from a handler that runs inference itself: inputs by the model's input names, the
// outputs by its output names. A run ts refuses (a shape the model does not take, no model in
// the archive) is an *Error with ts's code.
func (c *Context) RunModel(inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	if c.out == nil || c.in == nil || c.id == 0 {
		return nil, errors.New("RunModel: no request is being answered")
	}
	f := &Frame{Type: "run", ID: c.id}
	for name, t := range inputs {
		f.AddTensor(name, t)
	}
	if err := WriteFrame(c.out, f); err != nil {
		return nil, err
	}
	if err := c.out.Flush(); err != nil {
		return nil, err
	}
	reply, err := ReadFrame(c.in)
	if err != nil {
		return nil, fmt.Errorf("RunModel: %w", err)
	}
	switch reply.Type {
	case "outputs":
		return tensorsOf(reply)
	case "error":
		return nil, &Error{Code: reply.Code, Message: reply.Message}
	}
	return nil, fmt.Errorf("RunModel: ts answered %q", reply.Type)
}

// tensorsOf reads a frame's tensors by name.
func tensorsOf(f *Frame) (map[string]*tensor.Tensor, error) {
	out := map[string]*tensor.Tensor{}
	for i, b := range f.Blobs {
		t, err := f.Tensor(i)
		if err != nil {
			return nil, err
		}
		out[b.Name] = t
	}
	return out, nil
}

// SendIntermediate sends a part of the current request's answer now, before the rest (a
// token of a generated text, say): TorchServe's send_intermediate_predict_response. A
// streaming client (HTTP, gRPC StreamPredictions) gets each part as it is sent; others get
// the parts joined in front of the final answer.
func (c *Context) SendIntermediate(r *Response) error {
	if c.out == nil || c.id == 0 {
		return errors.New("SendIntermediate: no request is being answered")
	}
	if c.batch > 0 {
		return errors.New("SendIntermediate: a batch is being answered: SendIntermediateTo names the request")
	}
	f := responseFrame(r)
	f.Type, f.ID, f.Status = "intermediate", c.id, 0
	return c.send(f)
}

// SendIntermediateTo sends a part of the answer to the request at place item of the batch
// being answered (InferenceBatch), as SendIntermediate does for a request alone.
func (c *Context) SendIntermediateTo(item int, r *Response) error {
	if c.out == nil || c.id == 0 || c.batch == 0 {
		return errors.New("SendIntermediateTo: no batch is being answered")
	}
	if item < 0 || item >= c.batch {
		return fmt.Errorf("SendIntermediateTo: no request %d in a batch of %d", item, c.batch)
	}
	f := responseFrame(r)
	f.Blobs[0].Item, f.Blobs[0].ContentType = item, f.ContentType
	f.Type, f.ID, f.Status, f.ContentType = "intermediate", c.id, 0, ""
	return c.send(f)
}

func (c *Context) send(f *Frame) error {
	if err := WriteFrame(c.out, f); err != nil {
		return err
	}
	return c.out.Flush()
}

// Metrics collects custom metrics; they are sent with the reply to the current request and
// exposed by ts as ts_custom_<name>.
type Metrics struct{ pending []Metric }

// Add records a metric: typ is counter, gauge or histogram.
func (m *Metrics) Add(name string, value float64, unit, typ string, dims map[string]string) {
	m.pending = append(m.pending, Metric{Name: name, Value: value, Unit: unit, Type: typ, Dimensions: dims})
}

// Counter adds value to a counter.
func (m *Metrics) Counter(name string, value float64, dims map[string]string) {
	m.Add(name, value, "Count", "counter", dims)
}

// Request is one request: its inputs by name ("body" for a raw body, form fields by name).
type Request struct {
	ID string
	// SequenceID is a stateful model's sequence (sequenceBatching): its requests come to
	// this process, one at a time ("" for none).
	SequenceID   string
	Headers      http.Header
	Query        url.Values
	Inputs       map[string][]byte
	ContentTypes map[string]string
	order        []string
	// State is what Preprocess keeps for Postprocess (it travels as JSON).
	State json.RawMessage
}

// Data returns the main payload: the input named "data", else "body", else the first.
func (r *Request) Data() []byte {
	for _, n := range []string{"data", "body"} {
		if b, ok := r.Inputs[n]; ok {
			return b
		}
	}
	if len(r.order) > 0 {
		return r.Inputs[r.order[0]]
	}
	return nil
}

// Response is a handler's answer.
type Response struct {
	Body        []byte
	ContentType string
	Status      int
	Headers     map[string]string // more response headers
	// More says the answer is not the request's last (a step of what it generates): with
	// the model's continuousBatching, an InferenceBatch answer with More goes to the client
	// as a part, and the request comes again in the next batch (TorchServe's ts_stream_next).
	More bool
}

// JSON builds a JSON response.
func JSON(v any) (*Response, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return &Response{Body: append(b, '\n'), ContentType: "application/json"}, nil
}

// Error answers a request with a status (400 for a client mistake).
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Handler is a custom handler: ts runs the model between Preprocess and Postprocess.
type Handler interface {
	Initialize(ctx *Context) error
	// Preprocess turns a request into the model's inputs, by input name; it may set r.State.
	Preprocess(ctx *Context, r *Request) (map[string]*tensor.Tensor, error)
	// Postprocess turns the model's outputs, by name, into the response.
	Postprocess(ctx *Context, r *Request, outputs map[string]*tensor.Tensor) (*Response, error)
}

// Inferencer is a handler that runs the model itself: each request goes to Inference.
type Inferencer interface {
	Inference(ctx *Context, r *Request) (*Response, error)
}

// BatchInferencer is an Inferencer that takes batches: with the model's batch_size above 1,
// up to that many requests come to InferenceBatch at once (as TorchServe's handlers get
// them), which answers one response per request, in their order; an error fails them all.
// Inference still answers a request that goes alone (an explanation). A stateful model's
// batch holds one request of each sequence (Request.SequenceID).
type BatchInferencer interface {
	Inferencer
	InferenceBatch(ctx *Context, rs []*Request) ([]*Response, error)
}

// Describer is a handler that describes its model for GET /models/{name}?customized=true
// (TorchServe's describe_handle): what it answers (JSON-encoded; nil: nothing to say, the
// ONNX model's own metadata answers) becomes customizedMetadata.
type Describer interface {
	Describe(ctx *Context, r *Request) (any, error)
}

// Run serves ts's requests on stdin/stdout until stdin closes. Logs go to stderr, which ts
// logs; so does whatever the handler writes to stdout, which the protocol keeps a copy of.
func Run(h Handler) error {
	out, err := protocolStdout()
	if err != nil {
		return err
	}
	return Serve(h, os.Stdin, out)
}

// Serve is Run on any streams.
func Serve(h Handler, in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 1<<16)
	w := bufio.NewWriterSize(out, 1<<16)
	ctx := &Context{Metrics: &Metrics{}, out: w, in: r}
	_, takesOver := h.(Inferencer)
	_, batches := h.(BatchInferencer)
	for {
		f, err := ReadFrame(r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		ctx.id = f.ID
		reply := answer(h, ctx, f, takesOver, batches)
		ctx.id = 0
		reply.ID = f.ID
		if len(ctx.Metrics.pending) > 0 {
			reply.Metrics, ctx.Metrics.pending = ctx.Metrics.pending, nil
		}
		if err := WriteFrame(w, reply); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// answer handles one frame; a panic or error becomes an error frame.
func answer(h Handler, ctx *Context, f *Frame, takesOver, batches bool) (reply *Frame) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "handler panic: %v\n%s", p, debug.Stack())
			reply = &Frame{Type: "error", Code: 500, Message: fmt.Sprintf("handler panic: %v", p)}
		}
	}()
	fail := func(err error) *Frame {
		var e *Error
		if errors.As(err, &e) {
			return &Frame{Type: "error", Code: e.Code, Message: e.Message}
		}
		return &Frame{Type: "error", Code: 500, Message: err.Error()}
	}
	if f.Type == "init" {
		if f.Model != nil {
			ctx.Model = *f.Model
		}
		if err := h.Initialize(ctx); err != nil {
			return fail(err)
		}
		return &Frame{Type: "ready", Inference: takesOver, Batch: batches}
	}
	if f.Type == "batch" {
		b, ok := h.(BatchInferencer)
		if !ok {
			return fail(errors.New("this handler does not take batches"))
		}
		return answerBatch(b, ctx, f, fail)
	}
	req := &Request{Inputs: map[string][]byte{}, ContentTypes: map[string]string{}, State: f.State}
	if f.Request != nil {
		req.ID, req.SequenceID, req.Headers, req.Query = f.Request.ID, f.Request.SequenceID, f.Request.Headers, f.Request.Query
	}
	switch f.Type {
	case "preprocess", "handle":
		for i, b := range f.Blobs {
			req.Inputs[b.Name], req.ContentTypes[b.Name] = f.Data[i], b.ContentType
			req.order = append(req.order, b.Name)
		}
		if f.Type == "handle" {
			inf, ok := h.(Inferencer)
			if !ok {
				return fail(errors.New("this handler does not run inference itself"))
			}
			res, err := inf.Inference(ctx, req)
			if err != nil {
				return fail(err)
			}
			return responseFrame(res)
		}
		tensors, err := h.Preprocess(ctx, req)
		if err != nil {
			return fail(err)
		}
		out := &Frame{Type: "tensors", State: req.State}
		for name, t := range tensors {
			out.AddTensor(name, t)
		}
		return out
	case "postprocess":
		outputs, err := tensorsOf(f)
		if err != nil {
			return fail(err)
		}
		res, err := h.Postprocess(ctx, req, outputs)
		if err != nil {
			return fail(err)
		}
		return responseFrame(res)
	case "describe":
		var description any
		if d, ok := h.(Describer); ok {
			var err error
			if description, err = d.Describe(ctx, req); err != nil {
				return fail(err)
			}
		}
		body, err := json.Marshal(description)
		if err != nil {
			return fail(fmt.Errorf("description: %w", err))
		}
		return responseFrame(&Response{Body: body, ContentType: "application/json"})
	}
	return fail(fmt.Errorf("unknown message %q", f.Type))
}

// answerBatch answers a "batch" frame: its requests, each with its blobs, to InferenceBatch,
// and a "responses" reply.
func answerBatch(h BatchInferencer, ctx *Context, f *Frame, fail func(error) *Frame) *Frame {
	reqs := make([]*Request, len(f.Requests))
	for i, fr := range f.Requests {
		reqs[i] = &Request{ID: fr.ID, SequenceID: fr.SequenceID, Headers: fr.Headers, Query: fr.Query,
			Inputs: map[string][]byte{}, ContentTypes: map[string]string{}}
	}
	for i, b := range f.Blobs {
		if b.Item < 0 || b.Item >= len(reqs) {
			return fail(fmt.Errorf("a blob for request %d of a batch of %d", b.Item, len(reqs)))
		}
		r := reqs[b.Item]
		r.Inputs[b.Name], r.ContentTypes[b.Name] = f.Data[i], b.ContentType
		r.order = append(r.order, b.Name)
	}
	ctx.batch = len(reqs)
	defer func() { ctx.batch = 0 }()
	res, err := h.InferenceBatch(ctx, reqs)
	if err != nil {
		return fail(err)
	}
	if len(res) != len(reqs) {
		return fail(fmt.Errorf("InferenceBatch must answer one response per request: %d for a batch of %d", len(res), len(reqs)))
	}
	reply := &Frame{Type: "responses"}
	for i, r := range res {
		if r == nil {
			r = &Response{}
		}
		headers := r.Headers
		if r.More {
			headers = maps.Clone(headers)
			if headers == nil {
				headers = map[string]string{}
			}
			headers["ts_stream_next"] = "true"
		}
		reply.Replies = append(reply.Replies, FrameReply{Status: r.Status, ContentType: r.ContentType, Headers: headers})
		reply.Blobs = append(reply.Blobs, Blob{Item: i})
		reply.Data = append(reply.Data, r.Body)
	}
	return reply
}

func responseFrame(r *Response) *Frame {
	if r == nil {
		r = &Response{}
	}
	return &Frame{Type: "response", Status: r.Status, ContentType: r.ContentType, Headers: r.Headers, Blobs: []Blob{{}}, Data: [][]byte{r.Body}}
}
