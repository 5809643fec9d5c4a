package handlerkit

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
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

// serveFrames serves frames to h as ts would send them and answers the frames h writes.
func serveFrames(t *testing.T, h Handler, frames ...*Frame) []*Frame {
	t.Helper()
	var in bytes.Buffer
	for _, f := range frames {
		if err := WriteFrame(&in, f); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := Serve(h, &in, &out); err != nil {
		t.Fatal(err)
	}
	var written []*Frame
	for {
		f, err := ReadFrame(&out)
		if err == io.EOF {
			return written
		}
		if err != nil {
			t.Fatal(err)
		}
		written = append(written, f)
	}
}

// TestSendIntermediate: the parts go out as "intermediate" frames with the request's id,
// before its response.
func TestSendIntermediate(t *testing.T) {
	var got []string
	for _, f := range serveFrames(t, streamer{}, &Frame{Type: "init", ID: 1, Model: &FrameModel{Name: "m"}}, &Frame{Type: "handle", ID: 2, Request: &FrameRequest{ID: "r", SequenceID: "s1"}}) {
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

// doubler runs "the model" through ts: its answer is the outputs' first value, or the error.
type doubler struct{ streamer }

func (doubler) Inference(ctx *Context, r *Request) (*Response, error) {
	x := tensor.New([]int64{1}, []float32{3})
	out, err := ctx.RunModel(map[string]*tensor.Tensor{"x": x})
	if err != nil {
		return nil, err
	}
	v, err := tensor.Values[float32](out["y"])
	if err != nil {
		return nil, err
	}
	return JSON(map[string]any{"y": v})
}

// TestRunModel: RunModel sends a "run" frame with the inputs and the request's id, and
// answers the outputs ts sends back, or the error ts answers with its code.
func TestRunModel(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(doubler{}, inR, outW); outW.Close() }()
	send := func(f *Frame) {
		if err := WriteFrame(inW, f); err != nil {
			t.Fatal(err)
		}
	}
	read := func(want string) *Frame {
		f, err := ReadFrame(outR)
		if err != nil || f.Type != want {
			t.Fatalf("read %v (%v), want a %s frame", f, err, want)
		}
		return f
	}
	send(&Frame{Type: "init", ID: 1, Model: &FrameModel{Name: "m"}})
	read("ready")
	for _, fail := range []bool{false, true} {
		send(&Frame{Type: "handle", ID: 2, Request: &FrameRequest{ID: "r"}})
		run := read("run")
		if run.ID != 2 || len(run.Blobs) != 1 || run.Blobs[0].Name != "x" || run.Blobs[0].DType != "float32" {
			t.Fatalf("run frame %+v", run)
		}
		if fail {
			send(&Frame{Type: "error", ID: 2, Code: 400, Message: "input x: wrong shape"})
			res := read("error")
			if res.Code != 400 || res.Message != "input x: wrong shape" {
				t.Errorf("a refused run answered %+v", res)
			}
			continue
		}
		y := tensor.New([]int64{1}, []float32{6})
		send(&Frame{Type: "outputs", ID: 2, Blobs: []Blob{{Name: "y", DType: "float32", Shape: []int64{1}}}, Data: [][]byte{y.Data}})
		res := read("response")
		if !bytes.Contains(res.Data[0], []byte(`6`)) {
			t.Errorf("response %s, want the model's 6", res.Data[0])
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// warmer runs the model in Initialize (a warm-up) and keeps what it answered.
type warmer struct {
	streamer
	warm *[]float32
}

func (w warmer) Initialize(ctx *Context) error {
	out, err := ctx.RunModel(map[string]*tensor.Tensor{"x": tensor.New([]int64{1}, []float32{3})})
	if err != nil {
		return err
	}
	*w.warm, err = tensor.Values[float32](out["y"])
	return err
}

// TestRunModelInInitialize: RunModel works in Initialize too: its "run" frame carries the
// init frame's id, and the handler is ready once ts answered it.
func TestRunModelInInitialize(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var warm []float32
	done := make(chan error, 1)
	go func() { done <- Serve(warmer{warm: &warm}, inR, outW); outW.Close() }()
	if err := WriteFrame(inW, &Frame{Type: "init", ID: 1, Model: &FrameModel{Name: "m"}}); err != nil {
		t.Fatal(err)
	}
	run, err := ReadFrame(outR)
	if err != nil || run.Type != "run" || run.ID != 1 || len(run.Blobs) != 1 || run.Blobs[0].Name != "x" {
		t.Fatalf("read %+v (%v), want the init's run frame", run, err)
	}
	y := tensor.New([]int64{1}, []float32{6})
	if err := WriteFrame(inW, &Frame{Type: "outputs", ID: 1, Blobs: []Blob{{Name: "y", DType: "float32", Shape: []int64{1}}}, Data: [][]byte{y.Data}}); err != nil {
		t.Fatal(err)
	}
	if ready, err := ReadFrame(outR); err != nil || ready.Type != "ready" || ready.ID != 1 {
		t.Fatalf("read %+v (%v), want ready", ready, err)
	}
	if len(warm) != 1 || warm[0] != 6 {
		t.Errorf("the warm-up got %v, want the model's 6", warm)
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestStrayStdout: once the protocol has its copy of stdout, what the handler prints (and a
// child process writes to its inherited stdout) goes to stderr, not into the protocol. The
// test runs itself in a child process, whose streams it can read.
func TestStrayStdout(t *testing.T) {
	if os.Getenv("TS_KIT_STDOUT_CHILD") == "1" {
		out, err := protocolStdout()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("a stray print")
		child := exec.Command("echo", "a child's print")
		child.Stdout = os.Stdout // file descriptor 1
		if err := child.Run(); err != nil {
			os.Exit(1)
		}
		fmt.Fprint(out, "protocol")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStrayStdout$")
	cmd.Env = append(os.Environ(), "TS_KIT_STDOUT_CHILD=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	if stdout.String() != "protocol" || !strings.Contains(stderr.String(), "a stray print\n") || !strings.Contains(stderr.String(), "a child's print\n") {
		t.Errorf("stdout %q, stderr %q: want only the protocol's bytes on stdout, the prints on stderr", stdout.String(), stderr.String())
	}
}

// TestFrameTensors: tensors of every kind cross a frame written and read as they are, strings
// (each with its length first) and empty ones included; a blob that does not hold what its
// shape needs is an error naming it.
func TestFrameTensors(t *testing.T) {
	f := &Frame{Type: "tensors"}
	want := map[string]*tensor.Tensor{
		"floats":  tensor.New([]int64{2, 2}, []float32{1, -2.5, 3, 4}),
		"ints":    tensor.New([]int64{3}, []int64{1, -1, 1 << 40}),
		"scalar":  tensor.New([]int64{}, []float64{0.5}),
		"strings": tensor.NewStrings([]int64{2, 2}, []string{"a", "", "wörld ✓", strings.Repeat("x", 300)}),
		"none":    tensor.NewStrings([]int64{0}, nil),
		"bytes":   tensor.New([]int64{2}, []uint8{0, 255}),
	}
	for name, tt := range want {
		f.AddTensor(name, tt)
	}
	var buf bytes.Buffer
	if err := WriteFrame(&buf, f); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFrame(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tensors, err := tensorsOf(got)
	if err != nil || len(tensors) != len(want) {
		t.Fatalf("read %d tensors (%v), want %d", len(tensors), err, len(want))
	}
	for name, w := range want {
		if !tensor.Equal(tensors[name], w) {
			t.Errorf("%s: read %s %v %q, wrote %s %v %q", name, tensors[name].DType, tensors[name].Shape, tensors[name].Strings, w.DType, w.Shape, w.Strings)
		}
	}
	short := &Frame{Blobs: []Blob{{Name: "text", DType: "string", Shape: []int64{2}}}, Data: [][]byte{{1, 0, 0, 0, 'a'}}}
	if _, err := short.Tensor(0); err == nil || !strings.Contains(err.Error(), `tensor "text"`) {
		t.Errorf("a string blob one element short: %v", err)
	}
}

// described describes its model by the request's describe header.
type described struct{ streamer }

func (described) Describe(_ *Context, r *Request) (any, error) {
	return map[string]any{"labels": []string{"a", "b"}, "header": r.Headers.Get("describe")}, nil
}

// TestDescribe: a "describe" frame answers the handler's Describe as JSON, or null for a
// handler without one (the ONNX model's metadata answers then).
func TestDescribe(t *testing.T) {
	header := http.Header{}
	header.Set("describe", "True") // as ts sends it
	frame := &Frame{Type: "describe", ID: 3, Request: &FrameRequest{Headers: header}}
	for _, c := range []struct {
		h    Handler
		want string
	}{
		{described{}, `{"header":"True","labels":["a","b"]}`},
		{streamer{}, `null`},
	} {
		reply := answer(c.h, &Context{}, frame, false, false)
		if reply.Type != "response" || len(reply.Data) != 1 || string(reply.Data[0]) != c.want {
			t.Errorf("%T: %+v %q, want a response %s", c.h, reply, reply.Data, c.want)
		}
	}
}

// batcher answers each request of a batch with its body and place, after a part each; a
// body "short" answers one response too few.
type batcher struct{ streamer }

func (batcher) InferenceBatch(ctx *Context, rs []*Request) ([]*Response, error) {
	if err := ctx.SendIntermediate(&Response{}); err == nil {
		return nil, fmt.Errorf("SendIntermediate in a batch was accepted")
	}
	var out []*Response
	for i, r := range rs {
		if err := ctx.SendIntermediateTo(i, &Response{Body: []byte(fmt.Sprintf("part %d;", i)), ContentType: "text/plain"}); err != nil {
			return nil, err
		}
		if string(r.Data()) == "short" {
			continue
		}
		out = append(out, &Response{Body: []byte(fmt.Sprintf("%s at %d of %d (%s)", r.Data(), i, len(rs), r.Headers.Get("X-Tag"))), Status: 200 + i})
	}
	return out, nil
}

// TestBatches: a BatchInferencer says so when ready and answers a "batch" frame with a
// "responses" reply, a reply and a body per request in their order, after parts each
// addressed to its request; one answer too few fails the batch with a 500, as the Python
// kit's inference_batch does.
func TestBatches(t *testing.T) {
	batch := func(id int64, bodies ...string) *Frame {
		f := &Frame{Type: "batch", ID: id}
		for i, b := range bodies {
			f.Requests = append(f.Requests, FrameRequest{ID: b, Headers: http.Header{"X-Tag": {"tag " + b}}})
			f.Blobs = append(f.Blobs, Blob{Name: "body", Item: i})
			f.Data = append(f.Data, []byte(b))
		}
		return f
	}
	var got []string
	for _, f := range serveFrames(t, batcher{}, &Frame{Type: "init", ID: 1}, batch(2, "a", "b", "c"), batch(3, "a", "short")) {
		line := fmt.Sprintf("%d %s", f.ID, f.Type)
		switch f.Type {
		case "ready":
			line += fmt.Sprintf(" batch=%v", f.Batch)
		case "intermediate":
			line += fmt.Sprintf(" item %d %s %q", f.Blobs[0].Item, f.Blobs[0].ContentType, f.Data[0])
		case "responses":
			for i, b := range f.Blobs {
				line += fmt.Sprintf(" [%d %d %q]", b.Item, f.Replies[i].Status, f.Data[i])
			}
		case "error":
			line += fmt.Sprintf(" %d %s", f.Code, f.Message)
		}
		got = append(got, line)
	}
	want := []string{
		"1 ready batch=true",
		`2 intermediate item 0 text/plain "part 0;"`, `2 intermediate item 1 text/plain "part 1;"`, `2 intermediate item 2 text/plain "part 2;"`,
		`2 responses [0 200 "a at 0 of 3 (tag a)"] [1 201 "b at 1 of 3 (tag b)"] [2 202 "c at 2 of 3 (tag c)"]`,
		`3 intermediate item 0 text/plain "part 0;"`, `3 intermediate item 1 text/plain "part 1;"`,
		"3 error 500 InferenceBatch must answer one response per request: 1 for a batch of 2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if reply := answer(streamer{}, &Context{}, batch(4, "a"), true, false); reply.Type != "error" || !strings.Contains(reply.Message, "does not take batches") {
		t.Errorf("a batch to a handler without InferenceBatch: %+v", reply)
	}
}

// stepper answers the first request of a batch with More (a step of its generation), with a
// header of its own, and the others as last answers.
type stepper struct{ streamer }

func (stepper) InferenceBatch(ctx *Context, rs []*Request) ([]*Response, error) {
	out := []*Response{{Body: []byte("step"), More: true, Headers: map[string]string{"X-Step": "1"}}}
	for range rs[1:] {
		out = append(out, &Response{Body: []byte("last")})
	}
	return out, nil
}

// TestMore: an InferenceBatch answer with More tells ts, by TorchServe's ts_stream_next
// header, that more of its request's answer is to come (continuous batching); its own
// headers stay, and the other answers carry no such header.
func TestMore(t *testing.T) {
	f := &Frame{Type: "batch", ID: 2, Requests: []FrameRequest{{ID: "a"}, {ID: "b"}},
		Blobs: []Blob{{Name: "body", Item: 0}, {Name: "body", Item: 1}}, Data: [][]byte{[]byte("a"), []byte("b")}}
	reply := answer(stepper{}, &Context{}, f, true, false)
	if reply.Type != "responses" || len(reply.Replies) != 2 {
		t.Fatalf("%+v", reply)
	}
	if h := reply.Replies[0].Headers; h["ts_stream_next"] != "true" || h["X-Step"] != "1" {
		t.Errorf("the answer with More: headers %v", h)
	}
	if h := reply.Replies[1].Headers; h["ts_stream_next"] != "" {
		t.Errorf("a last answer: headers %v", h)
	}
}
