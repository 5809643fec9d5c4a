package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/tsserve/ts/pkg/api/grpc/inferencepb"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// streamServer serves pkg/handler/testdata/streamer.py as the model "streamer".
// Its response timeout is 2 s.
func streamServer(t *testing.T) *testServer {
	t.Helper()
	ts := emptyServer(t, nil)
	ts.registerArchive(t, archive.PackOptions{ModelName: "streamer", Handler: testenv.Path("pkg/handler/testdata/streamer.py"),
		ExtraFiles: []string{testenv.Path("templates/python/ts_handler.py")}}, "initial_workers=1&response_timeout=2")
	return ts
}

func streamAsk(t *testing.T, parts int, waitFor string, fail bool) []byte {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"parts": parts, "wait_for": waitFor, "fail": fail})
	return b
}

// TestStreamedAnswer: a custom handler's intermediate parts reach an HTTP client as they
// come, in chunks (the first before the handler goes on: it waits for the test to have read
// it), then the last part.
func TestStreamedAnswer(t *testing.T) {
	ts := streamServer(t)
	flag := filepath.Join(t.TempDir(), "first-part-read")
	res, err := http.Post(ts.inference.URL+"/predictions/streamer", "application/json", strings.NewReader(string(streamAsk(t, 3, flag, false))))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || len(res.TransferEncoding) == 0 || res.TransferEncoding[0] != "chunked" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, transfer encoding %v, content type %q", res.StatusCode, res.TransferEncoding, res.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(res.Body)
	first := make([]byte, len("part 0 "))
	if _, err := io.ReadFull(r, first); err != nil || string(first) != "part 0 " {
		t.Fatalf("first part %q, %v", first, err)
	}
	os.WriteFile(flag, nil, 0o644) // the handler goes on
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "part 1 part 2 last" {
		t.Fatalf("rest %q, %v", rest, err)
	}

	// a failure after the first part: the status is sent; the error's JSON ends the answer
	status, body, _, err := send("POST", ts.inference.URL+"/predictions/streamer", streamAsk(t, 1, "", true))
	if err != nil || status != 200 || !strings.HasPrefix(string(body), "part 0 {") || !strings.Contains(string(body), "failed after streaming") {
		t.Errorf("failure mid-stream: %d %q %v", status, body, err)
	}
	// the process goes on
	exchange{"after", "POST", "/predictions/streamer", "", streamAsk(t, 2, "", false), 200, "", "part 0 part 1 last"}.run(t, ts.inference.URL)

	// the response timeout bounds the handler's silence, not the whole stream: three parts
	// 1 s apart take 3 s, past the timeout of 2 s
	slow := []byte(`{"parts": 3, "sleep": 1}`)
	exchange{"slow stream", "POST", "/predictions/streamer", "", slow, 200, "", "part 0 part 1 part 2 last"}.run(t, ts.inference.URL)
	// silence past it fails the request
	exchange{"silent", "POST", "/predictions/streamer", "", []byte(`{"parts": 1, "sleep": 3}`), 500, "InternalServerException", "did not answer within 2s"}.run(t, ts.inference.URL)
}

// receiveAll receives a server stream's messages until it ends.
func receiveAll(t *testing.T, stream grpc.ServerStreamingClient[inferencepb.PredictionResponse]) []*inferencepb.PredictionResponse {
	t.Helper()
	var out []*inferencepb.PredictionResponse
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

// TestStreamedAnswerGRPC: StreamPredictions sends each part as a message, then the last;
// Predictions answers the parts joined.
func TestStreamedAnswerGRPC(t *testing.T) {
	ts := streamServer(t)
	c, _ := grpcClients(t, ts)
	ctx := context.Background()
	req := &inferencepb.PredictionsRequest{ModelName: "streamer", Input: map[string][]byte{"body": streamAsk(t, 3, "", false)}}
	stream, err := c.StreamPredictions(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range receiveAll(t, stream) {
		got = append(got, string(m.GetPrediction()))
	}
	if strings.Join(got, "|") != "part 0 |part 1 |part 2 |last" {
		t.Errorf("messages %q", got)
	}
	one, err := c.Predictions(ctx, req)
	if err != nil || string(one.GetPrediction()) != "part 0 part 1 part 2 last" {
		t.Errorf("unary: %q, %v", one.GetPrediction(), err)
	}
}
