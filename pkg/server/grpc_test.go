package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tsserve/ts/pkg/api/grpc/inferencepb"
	"github.com/tsserve/ts/pkg/api/grpc/managementpb"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// grpcClients serves ts's gRPC APIs for a test server on 127.0.0.1 and dials them, as a
// TorchServe gRPC client would.
func grpcClients(t *testing.T, ts *testServer) (inferencepb.InferenceAPIsServiceClient, managementpb.ManagementAPIsServiceClient) {
	t.Helper()
	dial := func(api string) *grpc.ClientConn {
		gs, err := ts.srv.newGRPCServer(api)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go gs.Serve(ln)
		t.Cleanup(gs.Stop)
		conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	return inferencepb.NewInferenceAPIsServiceClient(dial(GRPCInference)), managementpb.NewManagementAPIsServiceClient(dial(GRPCManagement))
}

// wantCode fails the test unless err is a gRPC status with code and a message containing msg.
func wantCode(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || !strings.Contains(st.Message(), msg) {
		t.Errorf("%s: %v, want %s containing %q", what, err, code, msg)
	}
}

// TestGRPC walks TorchServe's gRPC APIs as its clients use them: register, list, describe,
// scale, predict (the same answers as the REST API's), stream, set-default and unregister,
// and the errors TorchServe answers with their gRPC codes.
func TestGRPC(t *testing.T) {
	ctx := context.Background()
	ts := emptyServer(t, nil)
	inf, mgmt := grpcClients(t, ts)

	ping, err := inf.Ping(ctx, &emptypb.Empty{})
	if err != nil || !strings.Contains(ping.GetHealth(), `"status": "Healthy"`) {
		t.Fatalf("ping: %v %v", ping, err)
	}
	for _, url := range []string{"iris.mar", "digits.mar"} {
		res, err := mgmt.RegisterModel(ctx, &managementpb.RegisterModelRequest{Url: url, InitialWorkers: 1, Synchronous: true})
		if err != nil || !strings.Contains(res.GetMsg(), "registered with 1 initial workers") {
			t.Fatalf("register %s: %v %v", url, res, err)
		}
	}
	list, err := mgmt.ListModels(ctx, &managementpb.ListModelsRequest{Limit: 1})
	var page struct {
		Models        []struct{ ModelName string }
		NextPageToken string
	}
	if err != nil || json.Unmarshal([]byte(list.GetMsg()), &page) != nil || len(page.Models) != 1 || page.Models[0].ModelName != "digits" || page.NextPageToken != "1" {
		t.Errorf("list, limit 1: %v %v", list, err)
	}
	if _, err := mgmt.ScaleWorker(ctx, &managementpb.ScaleWorkerRequest{ModelName: "iris", MinWorker: 2, Synchronous: true}); err != nil {
		t.Errorf("scale: %v", err)
	}
	desc, err := mgmt.DescribeModel(ctx, &managementpb.DescribeModelRequest{ModelName: "iris"})
	var described []struct {
		ModelName string
		Workers   []any
	}
	if err != nil || json.Unmarshal([]byte(desc.GetMsg()), &described) != nil || len(described) != 1 || described[0].ModelName != "iris" || len(described[0].Workers) != 2 {
		t.Errorf("describe after scaling to 2: %v %v", desc, err)
	}

	// predictions: the inputs by name, as form fields; the same answer as the REST API's
	setosa, _ := os.ReadFile(testenv.Path("samples/iris/setosa.json"))
	png, _ := os.ReadFile(testenv.Path("samples/digits/3.png"))
	_, restAnswer, _, err := send("POST", ts.inference.URL+"/predictions/iris", setosa)
	if err != nil {
		t.Fatal(err)
	}
	pred, err := inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": setosa}})
	if err != nil || string(pred.GetPrediction()) != string(restAnswer) {
		t.Errorf("iris over gRPC: %q %v, want the REST answer %q", pred.GetPrediction(), err, restAnswer)
	}
	digit, err := inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "digits", ModelVersion: "1.0", Input: map[string][]byte{"data": png}})
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(digit.GetPrediction())), "{\n  \"3\": 0.9") {
		t.Errorf("digits over gRPC: %q %v", digit.GetPrediction(), err)
	}
	stream, err := inf.StreamPredictions(ctx, &inferencepb.PredictionsRequest{ModelName: "digits", Input: map[string][]byte{"data": png}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || string(first.GetPrediction()) != string(digit.GetPrediction()) {
		t.Errorf("stream: %q %v, want the prediction", first.GetPrediction(), err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("stream: a second message or %v, want its end", err)
	}

	// errors: TorchServe's messages with its gRPC codes
	_, err = inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "nope", Input: map[string][]byte{"data": png}})
	wantCode(t, "unknown model", err, codes.NotFound, "Model not found: nope")
	_, err = inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "digits", ModelVersion: "9.9", Input: map[string][]byte{"data": png}})
	wantCode(t, "unknown version", err, codes.NotFound, "Model version: 9.9 does not exist for model: digits")
	_, err = inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "digits", Input: map[string][]byte{"data": []byte("hello")}})
	wantCode(t, "not an image", err, codes.InvalidArgument, "not a supported image")
	_, err = inf.Predictions(ctx, &inferencepb.PredictionsRequest{Input: map[string][]byte{"data": png}})
	wantCode(t, "no model name", err, codes.InvalidArgument, "model_name is required")
	_, err = mgmt.RegisterModel(ctx, &managementpb.RegisterModelRequest{})
	wantCode(t, "register without url", err, codes.InvalidArgument, "Parameter url is required.")
	_, err = mgmt.SetDefault(ctx, &managementpb.SetDefaultRequest{ModelName: "iris", ModelVersion: "3.0"})
	wantCode(t, "set-default, unknown version", err, codes.NotFound, "3.0")
	_, err = mgmt.DescribeModel(ctx, &managementpb.DescribeModelRequest{ModelName: "nope"})
	wantCode(t, "describe, unknown model", err, codes.NotFound, "Model not found: nope")

	if res, err := mgmt.UnregisterModel(ctx, &managementpb.UnregisterModelRequest{ModelName: "iris"}); err != nil || !strings.Contains(res.GetMsg(), `Model \"iris\" unregistered`) {
		t.Errorf("unregister: %v %v", res, err)
	}
	_, err = inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": setosa}})
	wantCode(t, "unregistered model", err, codes.NotFound, "Model not found: iris")
}

// TestGRPCStreamPredictions2: requests on one stream are answered in order, each with the
// stream's sequence id; a failed one answers its status in the stream, which goes on.
func TestGRPCStreamPredictions2(t *testing.T) {
	ctx := context.Background()
	ts := emptyServer(t, nil)
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	inf, _ := grpcClients(t, ts)
	setosa, _ := os.ReadFile(testenv.Path("samples/iris/setosa.json"))
	virginica, _ := os.ReadFile(testenv.Path("samples/iris/virginica.json"))
	stream, err := inf.StreamPredictions2(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seq := "session-1"
	for i, body := range [][]byte{setosa, []byte("not JSON"), virginica} {
		req := &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": body}}
		if i == 0 {
			req.SequenceId = &seq
		}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	var got []*inferencepb.PredictionResponse
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res)
	}
	if len(got) != 3 {
		t.Fatalf("%d answers, want 3", len(got))
	}
	for i, res := range got {
		if res.GetSequenceId() != seq {
			t.Errorf("answer %d: sequence id %q, want %q", i, res.GetSequenceId(), seq)
		}
	}
	if !strings.Contains(string(got[0].GetPrediction()), `"probabilities"`) || got[0].Status != nil {
		t.Errorf("first answer: %q, status %v", got[0].GetPrediction(), got[0].Status)
	}
	if st := got[1].GetStatus(); st == nil || codes.Code(st.GetCode()) != codes.InvalidArgument || !strings.Contains(st.GetMessage(), "not valid JSON") {
		t.Errorf("second answer: status %v, want INVALID_ARGUMENT", st)
	}
	if !strings.Contains(string(got[2].GetPrediction()), `"probabilities"`) || got[2].Status != nil {
		t.Errorf("third answer (after a failure): %q, status %v", got[2].GetPrediction(), got[2].Status)
	}

	// with no id, the stream gets one
	stream, err = inf.StreamPredictions2(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": setosa}})
	if res, err := stream.Recv(); err != nil || !strings.HasPrefix(res.GetSequenceId(), "ts-seq-") {
		t.Errorf("no sequence id given: %q %v", res.GetSequenceId(), err)
	}
	stream.CloseSend()
}

// TestGRPCGuards: token authorization takes the keys as "authorization: Bearer" metadata
// (each API its own key); with the model API off, registering is PERMISSION_DENIED; a
// message over max_request_size is refused.
func TestGRPCGuards(t *testing.T) {
	ctx := context.Background()
	keyPath := filepath.Join(t.TempDir(), "key_file.json")
	ts := emptyServer(t, map[string]string{"disable_token_authorization": "false", "key_file": keyPath,
		"enable_model_api": "false", "max_request_size": "1000"})
	inf, mgmt := grpcClients(t, ts)
	k := readKeys(t, keyPath)
	bearer := func(key string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	_, err := inf.Ping(ctx, &emptypb.Empty{})
	wantCode(t, "ping, no key", err, codes.Unauthenticated, "Token Authorization failed")
	_, err = inf.Ping(bearer(k.Management.Key), &emptypb.Empty{})
	wantCode(t, "ping, the management key", err, codes.Unauthenticated, "Token Authorization failed")
	if res, err := inf.Ping(bearer(k.Inference.Key), &emptypb.Empty{}); err != nil || !strings.Contains(res.GetHealth(), "Healthy") {
		t.Errorf("ping, the inference key: %v %v", res, err)
	}
	_, err = mgmt.ListModels(bearer(k.Inference.Key), &managementpb.ListModelsRequest{})
	wantCode(t, "list, the inference key", err, codes.Unauthenticated, "Token Authorization failed")
	if _, err := mgmt.ListModels(bearer(k.Management.Key), &managementpb.ListModelsRequest{}); err != nil {
		t.Errorf("list, the management key: %v", err)
	}
	_, err = mgmt.RegisterModel(bearer(k.Management.Key), &managementpb.RegisterModelRequest{Url: "iris.mar"})
	wantCode(t, "register, model API off", err, codes.PermissionDenied, "")
	_, err = inf.Predictions(bearer(k.Inference.Key), &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": make([]byte, 2000)}})
	wantCode(t, "a message over max_request_size", err, codes.ResourceExhausted, "")
}

// TestGRPCCancel: a prediction whose client gives up ends with the client's deadline and
// leaves the server serving.
func TestGRPCCancel(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	inf, _ := grpcClients(t, ts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	setosa, _ := os.ReadFile(testenv.Path("samples/iris/setosa.json"))
	_, err := inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": setosa}})
	wantCode(t, "expired deadline", err, codes.DeadlineExceeded, "")
	if _, err := inf.Predictions(context.Background(), &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": setosa}}); err != nil {
		t.Errorf("the next prediction: %v", err)
	}
}
