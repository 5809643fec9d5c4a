package handlerkit

import (
	"bytes"
	"io"
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

// streamer answers each request with two parts sent first, then "last".
type streamer struct{}

func (streamer) Initialize(*Context) error { return nil }
func (streamer) Preprocess(*Context, *Request) (map[string]*tensor.Tensor, error) {
	return nil, nil
}
func (streamer) Postprocess(*Context, *Request, map[string]*tensor.Tensor) (*Response, error) {
	return nil, nil
}
func (streamer) Inference(ctx *Context, r *Request) (*Response, error) {
	for _, part := range []string{"one ", "two ", r.SequenceID + " "} {
		if err := ctx.SendIntermediate(&Response{Body: []byte(part), ContentType: "text/plain"}); err != nil {
			return nil, err
		}
	}
	return &Response{Body: []byte("last")}, nil
}

// TestSendIntermediate: the parts go out as "intermediate" frames with the request's id,
// before its response.
func TestSendIntermediate(t *testing.T) {
	var in bytes.Buffer
	for _, f := range []*Frame{{Type: "init", ID: 1, Model: &FrameModel{Name: "m"}}, {Type: "handle", ID: 2, Request: &FrameRequest{ID: "r", SequenceID: "s1"}}} {
		if err := WriteFrame(&in, f); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := Serve(streamer{}, &in, &out); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		f, err := ReadFrame(&out)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body := ""
		if len(f.Data) > 0 {
			body = string(f.Data[0])
		}
		got = append(got, f.Type+":"+body)
		if f.Type != "ready" && f.ID != 2 {
			t.Errorf("%s frame with id %d, want 2", f.Type, f.ID)
		}
	}
	want := []string{"ready:", "intermediate:one ", "intermediate:two ", "intermediate:s1 ", "response:last"}
	if len(got) != len(want) {
		t.Fatalf("frames %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frames %q, want %q", got, want)
		}
	}
	if err := (&Context{}).SendIntermediate(&Response{}); err == nil {
		t.Error("a part sent outside a request was accepted")
	}
}
