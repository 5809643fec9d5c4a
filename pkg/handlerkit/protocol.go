package handlerkit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/tsserve/ts/pkg/tensor"
)

// Package handlerkit is the custom handler protocol of ts, and a kit for writing custom
// handlers in Go (templates/go shows one).
//
// ts and a handler process exchange frames over the process's stdin and stdout. A frame is
// a 4-byte big-endian length, a JSON header of that length, then the raw bytes of the blobs
// the header lists (tensors, request bodies, response bodies), one after another: tensors
// travel as raw little-endian bytes (strings each with its length first), never as base64
// or JSON numbers. docs/custom-handlers.md describes the messages.

// MaxHeader bounds a frame's JSON header; MaxPayload its blobs.
const (
	MaxHeader  = 16 << 20
	MaxPayload = 1 << 30
)

// Blob describes one raw part of a frame's payload.
type Blob struct {
	Name        string  `json:"name,omitempty"`
	Size        int64   `json:"size"`
	ContentType string  `json:"content_type,omitempty"`
	DType       string  `json:"dtype,omitempty"`
	Shape       []int64 `json:"shape,omitempty"`
	// Item is the request of a batch the blob belongs to (its index in Frame.Requests, or
	// in Frame.Replies for an answer's parts and bodies).
	Item int `json:"item,omitempty"`
}

// Frame is one message.
type Frame struct {
	Type    string          `json:"type"`
	ID      int64           `json:"id,omitempty"`
	Blobs   []Blob          `json:"blobs,omitempty"`
	Request *FrameRequest   `json:"request,omitempty"`
	State   json.RawMessage `json:"state,omitempty"`
	Model   *FrameModel     `json:"model,omitempty"`
	// Requests are the requests of a "batch" frame, each with its blobs (Blob.Item).
	Requests []FrameRequest `json:"requests,omitempty"`

	// replies
	Inference   bool              `json:"inference,omitempty"` // ready: the handler runs the model itself
	Batch       bool              `json:"batch,omitempty"`     // ready: the handler takes "batch" frames
	Status      int               `json:"status,omitempty"`
	ContentType string            `json:"content_type,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"` // a response's own headers
	Code        int               `json:"code,omitempty"`
	Message     string            `json:"message,omitempty"`
	Metrics     []Metric          `json:"metrics,omitempty"`
	// Replies answer a "batch" frame ("responses"), one per request in its order, each body
	// the blob whose Item is its index.
	Replies []FrameReply `json:"replies,omitempty"`

	Data [][]byte `json:"-"` // the blobs' bytes
}

// AddTensor appends t to the frame as a blob named name: its raw little-endian elements, or
// for strings each element's length in 4 little-endian bytes and then its bytes (the Open
// Inference Protocol's binary tensor data layout).
func (f *Frame) AddTensor(name string, t *tensor.Tensor) {
	f.Blobs = append(f.Blobs, Blob{Name: name, DType: t.DType.String(), Shape: t.Shape})
	f.Data = append(f.Data, t.Binary())
}

// Tensor reads the frame's blob i as a tensor (AddTensor's layout).
func (f *Frame) Tensor(i int) (*tensor.Tensor, error) {
	b := f.Blobs[i]
	dt, err := tensor.ParseDType(b.DType)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", b.Name, err)
	}
	t, err := tensor.FromBinary(dt, b.Shape, f.Data[i])
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", b.Name, err)
	}
	return t, nil
}

// FrameRequest is the request a frame is about.
type FrameRequest struct {
	ID string `json:"id"`
	// SequenceID is a stateful model's sequence the request belongs to ("" for none).
	SequenceID string              `json:"sequence_id,omitempty"`
	Headers    map[string][]string `json:"headers,omitempty"`
	Query      map[string][]string `json:"query,omitempty"`
}

// FrameReply is the answer to one request of a batch.
type FrameReply struct {
	Status      int               `json:"status,omitempty"`
	ContentType string            `json:"content_type,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
}

// FrameModel is what the init frame says about the model.
type FrameModel struct {
	Name       string         `json:"name"`
	Version    string         `json:"version"`
	Dir        string         `json:"model_dir"`
	Manifest   any            `json:"manifest"`
	Inputs     any            `json:"inputs"`
	Outputs    any            `json:"outputs"`
	Config     map[string]any `json:"config,omitempty"` // model-config.yaml's handler section
	YAML       map[string]any `json:"yaml,omitempty"`   // the whole model-config.yaml
	Properties map[string]any `json:"properties"`
}

// Metric is a custom metric a handler reports with a reply.
type Metric struct {
	Name       string            `json:"name"`
	Value      float64           `json:"value"`
	Unit       string            `json:"unit,omitempty"`
	Type       string            `json:"type,omitempty"` // counter (default), gauge, histogram
	Dimensions map[string]string `json:"dimensions,omitempty"`
}

// WriteFrame writes one frame; the blobs' sizes are set from Data.
func WriteFrame(w io.Writer, f *Frame) error {
	if len(f.Blobs) != len(f.Data) {
		return errors.New("frame blobs and data disagree")
	}
	for i := range f.Blobs {
		f.Blobs[i].Size = int64(len(f.Data[i]))
	}
	head, err := json.Marshal(f)
	if err != nil {
		return err
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(head)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	for _, d := range f.Data {
		if _, err := w.Write(d); err != nil {
			return err
		}
	}
	return nil
}

// ErrGarbage is a frame that does not follow the protocol.
var ErrGarbage = errors.New("the handler wrote something that is not a protocol frame")

// ReadFrame reads one frame and its blobs.
func ReadFrame(r io.Reader) (*Frame, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size == 0 || size > MaxHeader {
		return nil, fmt.Errorf("%w (header length %d)", ErrGarbage, size)
	}
	head := make([]byte, size)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	f := &Frame{}
	if err := json.Unmarshal(head, f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGarbage, err)
	}
	var total int64
	for _, b := range f.Blobs {
		if b.Size < 0 || b.Size > MaxPayload-total {
			return nil, fmt.Errorf("%w (blob of %d bytes)", ErrGarbage, b.Size)
		}
		total += b.Size
	}
	for _, b := range f.Blobs {
		d := make([]byte, b.Size)
		if _, err := io.ReadFull(r, d); err != nil {
			return nil, err
		}
		f.Data = append(f.Data, d)
	}
	return f, nil
}
