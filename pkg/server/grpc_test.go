package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tsserve/ts/pkg/api/grpc/inferencepb"
	"github.com/tsserve/ts/pkg/api/grpc/managementpb"
	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// grpcDial serves a gRPC API of a test server on 127.0.0.1 and dials it, as a gRPC client
// would.
func grpcDial(t *testing.T, ts *testServer, api string) *grpc.ClientConn {
	t.Helper()
	gs, err := ts.srv.grpcServer(api)
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

// grpcClients are TorchServe's gRPC clients of a test server.
func grpcClients(t *testing.T, ts *testServer) (inferencepb.InferenceAPIsServiceClient, managementpb.ManagementAPIsServiceClient) {
	t.Helper()
	return inferencepb.NewInferenceAPIsServiceClient(grpcDial(t, ts, GRPCInference)), managementpb.NewManagementAPIsServiceClient(grpcDial(t, ts, GRPCManagement))
}

// exchangeAll sends every request on a bidirectional stream, closes the client's side, and
// returns the answers until the server ends the stream.
func exchangeAll[Req, Res any](t *testing.T, stream grpc.BidiStreamingClient[Req, Res], reqs []*Req) []*Res {
	t.Helper()
	for _, req := range reqs {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	var answers []*Res
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return answers
		}
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, res)
	}
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
	// gRPC's synchronous is a plain bool: false (unset) does not wait, as in TorchServe, where
	// the REST API waits unless told not to.
	async, err := mgmt.RegisterModel(ctx, &managementpb.RegisterModelRequest{Url: "iris.mar", ModelName: "iris-async", InitialWorkers: 1})
	if err != nil || !strings.Contains(async.GetMsg(), "Processing worker updates...") {
		t.Fatalf("register without synchronous: %v %v", async, err)
	}
	if _, err := mgmt.UnregisterModel(ctx, &managementpb.UnregisterModelRequest{ModelName: "iris-async"}); err != nil {
		t.Fatalf("unregister iris-async: %v", err)
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
	_, err = inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "digits", ModelVersion: "..", Input: map[string][]byte{"data": png}})
	wantCode(t, "version ..", err, codes.InvalidArgument, `".." is not a model name or version`)
	_, err = mgmt.DescribeModel(ctx, &managementpb.DescribeModelRequest{ModelName: "."})
	wantCode(t, "describe model .", err, codes.InvalidArgument, `"." is not a model name or version`)
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
	var reqs []*inferencepb.PredictionsRequest
	for i, body := range [][]byte{setosa, []byte("not JSON"), virginica} {
		reqs = append(reqs, &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": body}})
		if i == 0 {
			reqs[i].SequenceId = &seq
		}
	}
	got := exchangeAll(t, stream, reqs)
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
// (each API its own key), but for the health service (probes send none); with the model API
// off, registering is PERMISSION_DENIED; a message over max_request_size is refused.
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
	// the health service answers probes, which send no key
	if res, err := healthgrpc.NewHealthClient(grpcDial(t, ts, GRPCInference)).Check(ctx, &healthgrpc.HealthCheckRequest{}); err != nil || res.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
		t.Errorf("health check, no key: %v, %v", res.GetStatus(), err)
	}
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

// TestGRPCOpenInference: the Open Inference Protocol's gRPC service (Triton's clients') on
// the gRPC inference API: health, metadata, and inference with typed contents or raw
// contents for every datatype, the answers those of the REST form.
func TestGRPCOpenInference(t *testing.T) {
	ctx := context.Background()
	ts := emptyServer(t, nil)
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	ts.registerArchive(t, archive.PackOptions{ModelName: "alltypes", SerializedFile: testenv.Path("pkg/engine/testdata/alltypes.onnx"), Handler: "tensor"}, "initial_workers=1")
	oip := oippb.NewGRPCInferenceServiceClient(grpcDial(t, ts, GRPCInference))

	if res, err := oip.ServerLive(ctx, &oippb.ServerLiveRequest{}); err != nil || !res.GetLive() {
		t.Errorf("live: %v %v", res, err)
	}
	if res, err := oip.ServerReady(ctx, &oippb.ServerReadyRequest{}); err != nil || !res.GetReady() {
		t.Errorf("ready: %v %v", res, err)
	}
	if res, err := oip.ServerMetadata(ctx, &oippb.ServerMetadataRequest{}); err != nil || res.GetName() != "ts" || !slices.Contains(res.GetExtensions(), "binary_tensor_data") {
		t.Errorf("server metadata: %v %v", res, err)
	}
	// tritonclient's compression_algorithm="gzip": the server package installs the codec (the
	// test imports none, so none is there unless the server's import put it)
	if encoding.GetCompressor("gzip") == nil {
		t.Error("no gzip codec installed: gzip-compressed calls fail with Unimplemented")
	}
	if res, err := oip.ServerMetadata(ctx, &oippb.ServerMetadataRequest{}, grpc.UseCompressor("gzip")); err != nil || res.GetName() != "ts" {
		t.Errorf("a gzip-compressed call: %v %v", res, err)
	}
	meta, err := oip.ModelMetadata(ctx, &oippb.ModelMetadataRequest{Name: "iris"})
	if err != nil || meta.GetPlatform() != "onnxruntime_onnx" || len(meta.GetInputs()) != 1 || meta.GetInputs()[0].GetName() != "features" ||
		meta.GetInputs()[0].GetDatatype() != "FP32" || fmt.Sprint(meta.GetInputs()[0].GetShape()) != "[-1 4]" || fmt.Sprint(meta.GetVersions()) != "[1.0]" {
		t.Errorf("model metadata: %v %v", meta, err)
	}
	if res, err := oip.ModelReady(ctx, &oippb.ModelReadyRequest{Name: "iris", Version: "1.0"}); err != nil || !res.GetReady() {
		t.Errorf("model ready: %v %v", res, err)
	}
	exchange{"register digits, no workers", "POST", "/models?url=digits.mar&initial_workers=0&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	if res, err := oip.ModelReady(ctx, &oippb.ModelReadyRequest{Name: "digits"}); err != nil || res.GetReady() {
		t.Errorf("model ready, no workers: %v %v, want not ready", res, err)
	}
	_, err = oip.ModelReady(ctx, &oippb.ModelReadyRequest{Name: "iris", Version: ".."})
	wantCode(t, "model ready, version ..", err, codes.InvalidArgument, `".." is not a model name or version`)
	_, err = oip.ModelReady(ctx, &oippb.ModelReadyRequest{Name: "nope"})
	wantCode(t, "model ready, unknown model", err, codes.NotFound, "Model not found: nope")

	// iris: typed contents and raw contents give the REST form's answer
	flowers := []float32{5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3}
	_, restBody, _, err := send("POST", ts.inference.URL+"/v2/models/iris/infer",
		[]byte(`{"inputs":[{"name":"features","shape":[2,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2,6.7,3.0,5.2,2.3]}]}`))
	var rest struct{ Outputs []struct{ Data []float32 } }
	if err != nil || json.Unmarshal(restBody, &rest) != nil || len(rest.Outputs) != 1 {
		t.Fatalf("REST answer %s: %v", restBody, err)
	}
	typed := &oippb.ModelInferRequest{ModelName: "iris", Id: "req-1", Inputs: []*oippb.ModelInferRequest_InferInputTensor{
		{Name: "features", Datatype: "FP32", Shape: []int64{2, 4}, Contents: &oippb.InferTensorContents{Fp32Contents: flowers}}}}
	raw := &oippb.ModelInferRequest{ModelName: "iris", ModelVersion: "1.0", Inputs: []*oippb.ModelInferRequest_InferInputTensor{
		{Name: "features", Datatype: "FP32", Shape: []int64{2, 4}}}, RawInputContents: [][]byte{float32Bytes(flowers...)}}
	for name, req := range map[string]*oippb.ModelInferRequest{"typed contents": typed, "raw contents": raw} {
		res, err := oip.ModelInfer(ctx, req)
		if err != nil || res.GetModelName() != "iris" || res.GetModelVersion() != "1.0" || res.GetId() != req.GetId() || len(res.GetOutputs()) != 1 {
			t.Fatalf("%s: %v %v", name, res, err)
		}
		o := res.GetOutputs()[0]
		if o.GetName() != "probabilities" || o.GetDatatype() != "FP32" || fmt.Sprint(o.GetShape()) != "[2 3]" ||
			string(res.GetRawOutputContents()[0]) != string(float32Bytes(rest.Outputs[0].Data...)) {
			t.Errorf("%s: output %v %v, want the REST form's %v", name, o, res.GetRawOutputContents(), rest.Outputs[0].Data)
		}
	}
	// Triton's classification extension: the top 2 classes as BYTES
	cls := &oippb.ModelInferRequest{ModelName: "iris", Inputs: typed.Inputs, Outputs: []*oippb.ModelInferRequest_InferRequestedOutputTensor{
		{Name: "probabilities", Parameters: map[string]*oippb.InferParameter{"classification": {ParameterChoice: &oippb.InferParameter_Int64Param{Int64Param: 2}}}}}}
	res, err := oip.ModelInfer(ctx, cls)
	if err != nil || res.GetOutputs()[0].GetDatatype() != "BYTES" || fmt.Sprint(res.GetOutputs()[0].GetShape()) != "[2 2]" {
		t.Fatalf("classification: %v %v", res, err)
	}
	if first := res.GetRawOutputContents()[0]; len(first) < 4 || !strings.HasSuffix(string(first[4:4+binary.LittleEndian.Uint32(first)]), ":0") {
		t.Errorf("classification of a setosa: %q, want its top class 0 first", first)
	}

	// every datatype through alltypes' Identity outputs, typed contents (FP16 raw: it has none)
	contents := map[string]*oippb.InferTensorContents{
		"FP32": {Fp32Contents: []float32{1.5, -2, 3, 4, 5, 6}}, "FP64": {Fp64Contents: []float64{1e300, -2, 3, 4, 5, 6}},
		"INT64": {Int64Contents: []int64{1 << 60, -2, 3, 4, 5, 6}}, "INT32": {IntContents: []int32{-1 << 30, 2, 3, 4, 5, 6}},
		"INT8": {IntContents: []int32{-128, 127, 3, 4, 5, 6}}, "UINT8": {UintContents: []uint32{255, 0, 3, 4, 5, 6}},
		"BOOL": {BoolContents: []bool{true, false, true, true, false, false}},
	}
	names := map[string]string{"FP32": "float32", "FP16": "float16", "FP64": "float64", "INT64": "int64", "INT32": "int32", "INT8": "int8", "UINT8": "uint8", "BOOL": "bool"}
	req := &oippb.ModelInferRequest{ModelName: "alltypes"}
	var rawInputs [][]byte
	want := map[string][]byte{}
	for _, dt := range []string{"FP32", "FP16", "FP64", "INT64", "INT32", "INT8", "UINT8", "BOOL"} {
		in := &oippb.ModelInferRequest_InferInputTensor{Name: "x:" + names[dt], Datatype: dt, Shape: []int64{2, 3}, Contents: contents[dt]}
		if dt == "FP16" {
			in.Contents = nil
		} else if want["y:"+names[dt]], err = rawContents(in); err != nil {
			t.Fatal(err)
		}
		req.Inputs = append(req.Inputs, in)
	}
	want["y:float16"] = []byte{0, 0x3c, 0, 0x40, 0, 0x42, 0, 0x44, 0, 0x45, 0, 0x46} // 1, 2, 3, 4, 5, 6
	req.Inputs = append(req.Inputs, &oippb.ModelInferRequest_InferInputTensor{Name: "k", Datatype: "INT64", Shape: []int64{}, Contents: &oippb.InferTensorContents{Int64Contents: []int64{21}}})
	want["k_twice"] = binary.LittleEndian.AppendUint64(nil, 42)
	// typed contents for all but FP16 are not allowed beside raw ones: send them all raw
	for _, in := range req.Inputs {
		b := binary.LittleEndian.AppendUint64(nil, 21) // k
		if in.GetName() != "k" {
			b = want["y:"+in.GetName()[2:]]
		}
		rawInputs = append(rawInputs, b)
	}
	withFP16 := &oippb.ModelInferRequest{ModelName: "alltypes", RawInputContents: rawInputs}
	for _, in := range req.Inputs {
		withFP16.Inputs = append(withFP16.Inputs, &oippb.ModelInferRequest_InferInputTensor{Name: in.GetName(), Datatype: in.GetDatatype(), Shape: in.GetShape()})
	}
	res, err = oip.ModelInfer(ctx, withFP16)
	if err != nil || len(res.GetOutputs()) != len(want) {
		t.Fatalf("alltypes, raw contents: %v %v", res, err)
	}
	for i, o := range res.GetOutputs() {
		if string(res.GetRawOutputContents()[i]) != string(want[o.GetName()]) {
			t.Errorf("alltypes output %s (%s): %v, want %v", o.GetName(), o.GetDatatype(), res.GetRawOutputContents()[i], want[o.GetName()])
		}
	}
	// FP16 has no typed contents: a request that gives it none is refused, naming the input
	_, err = oip.ModelInfer(ctx, req)
	wantCode(t, "FP16 without contents", err, codes.InvalidArgument, "float16")

	// errors
	_, err = oip.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "iris", Inputs: []*oippb.ModelInferRequest_InferInputTensor{
		{Name: "features", Datatype: "FP32", Shape: []int64{2, 4}, Contents: &oippb.InferTensorContents{Fp32Contents: flowers[:4]}}}})
	wantCode(t, "too few values", err, codes.InvalidArgument, "needs 32 bytes, got 16")
	_, err = oip.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "iris", Inputs: raw.Inputs, RawInputContents: [][]byte{{1}, {2}}})
	wantCode(t, "raw contents for two inputs", err, codes.InvalidArgument, "raw_input_contents holds 2 tensors for 1 inputs")
	_, err = oip.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "nope", Inputs: typed.Inputs})
	wantCode(t, "unknown model", err, codes.NotFound, "Model not found: nope")
	// Triton's schedule-policy parameters come through as the REST form's (tritonclient's
	// infer(priority=, timeout=) sends them as int64_param)
	param := func(n int64) *oippb.InferParameter {
		return &oippb.InferParameter{ParameterChoice: &oippb.InferParameter_Int64Param{Int64Param: n}}
	}
	_, err = oip.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "iris", Inputs: typed.Inputs,
		Parameters: map[string]*oippb.InferParameter{"priority": param(1), "timeout": param(-1)}})
	wantCode(t, "a negative timeout", err, codes.InvalidArgument, "parameter timeout must be a time in microseconds")
	if _, err = oip.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "iris", Inputs: typed.Inputs,
		Parameters: map[string]*oippb.InferParameter{"priority": param(1), "timeout": param(500000)}}); err != nil {
		t.Errorf("priority and timeout on a model without a queue policy (both ignored, as Triton): %v", err)
	}
}

// TestRawContents: typed contents are laid out as the binary tensor data extension's bytes.
func TestRawContents(t *testing.T) {
	for _, c := range []struct {
		datatype string
		contents *oippb.InferTensorContents
		want     []byte
	}{
		{"BOOL", &oippb.InferTensorContents{BoolContents: []bool{true, false}}, []byte{1, 0}},
		{"INT8", &oippb.InferTensorContents{IntContents: []int32{-128, 127}}, []byte{0x80, 0x7f}},
		{"INT16", &oippb.InferTensorContents{IntContents: []int32{-2}}, []byte{0xfe, 0xff}},
		{"INT32", &oippb.InferTensorContents{IntContents: []int32{1 << 24}}, []byte{0, 0, 0, 1}},
		{"INT64", &oippb.InferTensorContents{Int64Contents: []int64{-1}}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"UINT8", &oippb.InferTensorContents{UintContents: []uint32{255}}, []byte{255}},
		{"UINT16", &oippb.InferTensorContents{UintContents: []uint32{0x1234}}, []byte{0x34, 0x12}},
		{"UINT32", &oippb.InferTensorContents{UintContents: []uint32{0x01020304}}, []byte{4, 3, 2, 1}},
		{"UINT64", &oippb.InferTensorContents{Uint64Contents: []uint64{1}}, []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{"FP32", &oippb.InferTensorContents{Fp32Contents: []float32{1.5}}, []byte{0, 0, 0xc0, 0x3f}},
		{"FP64", &oippb.InferTensorContents{Fp64Contents: []float64{-2}}, []byte{0, 0, 0, 0, 0, 0, 0, 0xc0}},
		{"BYTES", &oippb.InferTensorContents{BytesContents: [][]byte{[]byte("ab"), {}}}, []byte{2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0}},
	} {
		got, err := rawContents(&oippb.ModelInferRequest_InferInputTensor{Name: "x", Datatype: c.datatype, Contents: c.contents})
		if err != nil || string(got) != string(c.want) {
			t.Errorf("%s: %v %v, want %v", c.datatype, got, err, c.want)
		}
	}
	if _, err := rawContents(&oippb.ModelInferRequest_InferInputTensor{Name: "x", Datatype: "FP16"}); err == nil {
		t.Error("FP16 contents accepted")
	}
}

// TestGRPCMaxConnectionAge: with grpc_inference_max_connection_age_ms and its grace, a
// connection is closed once that old, a stream on it then ended, as TorchServe's keys ask
// (load balancers spread clients so); the client's next call opens a new connection.
func TestGRPCMaxConnectionAge(t *testing.T) {
	ctx := context.Background()
	ts := emptyServer(t, map[string]string{"grpc_inference_max_connection_age_ms": "200", "grpc_inference_max_connection_age_grace_ms": "100"})
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	inf, _ := grpcClients(t, ts)
	setosa, _ := os.ReadFile(testenv.Path("samples/iris/setosa.json"))
	stream, err := inf.StreamPredictions2(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": setosa}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := stream.Recv() // nothing more is sent: only the server's closing ends it
		ended <- err
	}()
	select {
	case err := <-ended:
		wantCode(t, "the stream past the connection's age and grace", err, codes.Unavailable, "")
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was still open 5 s after the connection's age (200 ms) and grace (100 ms)")
	}
	if _, err := inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": setosa}}); err != nil {
		t.Errorf("the next call, on a new connection: %v", err)
	}
}

// TestGRPCReflection: each gRPC API lists its services through gRPC's server reflection, as
// grpcurl asks, so no .proto file is needed to call them.
func TestGRPCReflection(t *testing.T) {
	ts := emptyServer(t, nil)
	for api, want := range map[string][]string{
		GRPCInference:  {"grpc.health.v1.Health", "inference.GRPCInferenceService", "org.pytorch.serve.grpc.inference.InferenceAPIsService"},
		GRPCManagement: {"grpc.health.v1.Health", "org.pytorch.serve.grpc.management.ManagementAPIsService"},
	} {
		stream, err := reflectionpb.NewServerReflectionClient(grpcDial(t, ts, api)).ServerReflectionInfo(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		res, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range res.GetListServicesResponse().GetService() {
			if !strings.HasPrefix(s.GetName(), "grpc.reflection.") {
				got = append(got, s.GetName())
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s lists %v, want %v", api, got, want)
		}
	}
}

// TestGRPCTritonExtensions: Triton's calls beyond KServe v2 on the gRPC inference API, each
// the REST form's: streamed inference, the model configuration, statistics, and the
// repository's index, load and unload.
func TestGRPCTritonExtensions(t *testing.T) {
	ctx := context.Background()
	ts := emptyServer(t, nil)
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true&batch_size=4&max_batch_delay=7", "", nil, 200, "", ""}.run(t, ts.management.URL)
	oip := oippb.NewGRPCInferenceServiceClient(grpcDial(t, ts, GRPCInference))
	flowers := []float32{5.1, 3.5, 1.4, 0.2}
	infer := func(id string, values []float32) *oippb.ModelInferRequest {
		return &oippb.ModelInferRequest{ModelName: "iris", Id: id, Inputs: []*oippb.ModelInferRequest_InferInputTensor{
			{Name: "features", Datatype: "FP32", Shape: []int64{1, 4}, Contents: &oippb.InferTensorContents{Fp32Contents: values}}}}
	}

	stream, err := oip.ModelStreamInfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var answers []string
	for _, res := range exchangeAll(t, stream, []*oippb.ModelInferRequest{infer("a", flowers), infer("b", flowers[:2]), infer("c", flowers)}) {
		answers = append(answers, res.GetInferResponse().GetId()+"|"+res.GetErrorMessage())
	}
	if len(answers) != 3 || answers[0] != "a|" || !strings.HasPrefix(answers[1], "|") || !strings.Contains(answers[1], "needs 16 bytes, got 8") || answers[2] != "c|" {
		t.Errorf("streamed answers %q: want a, an error, c", answers)
	}

	cfg, err := oip.ModelConfig(ctx, &oippb.ModelConfigRequest{Name: "iris"})
	c := cfg.GetConfig()
	if err != nil || c.GetName() != "iris" || c.GetPlatform() != "onnxruntime_onnx" || c.GetMaxBatchSize() != 4 || len(c.GetInput()) != 1 ||
		c.GetInput()[0].GetDataType() != oippb.DataType_TYPE_FP32 || fmt.Sprint(c.GetInput()[0].GetDims()) != "[4]" ||
		c.GetDynamicBatching().GetMaxQueueDelayMicroseconds() != 7000 || c.GetInstanceGroup()[0].GetKind() != oippb.ModelInstanceGroup_KIND_CPU ||
		c.GetInstanceGroup()[0].GetCount() != 1 || c.GetVersionPolicy().GetLatest().GetNumVersions() != 1 ||
		c.GetParameters()["enable_mem_arena"].GetStringValue() != "1" || c.GetParameters()["execution_mode"].GetStringValue() != "0" {
		t.Errorf("model config: %v %v", cfg, err)
	}
	_, err = oip.ModelConfig(ctx, &oippb.ModelConfigRequest{Name: "nope"})
	wantCode(t, "config of an unknown model", err, codes.NotFound, "Model not found: nope")

	stats, err := oip.ModelStatistics(ctx, &oippb.ModelStatisticsRequest{Name: "iris"})
	if err != nil || len(stats.GetModelStats()) != 1 || stats.GetModelStats()[0].GetInferenceCount() != 2 ||
		stats.GetModelStats()[0].GetInferenceStats().GetSuccess().GetCount() != 2 || stats.GetModelStats()[0].GetInferenceStats().GetComputeInfer().GetNs() == 0 {
		t.Errorf("statistics after 2 inferences (and a request refused before the model): %v %v", stats, err)
	}
	if all, err := oip.ModelStatistics(ctx, &oippb.ModelStatisticsRequest{}); err != nil || len(all.GetModelStats()) != 1 {
		t.Errorf("every model's statistics: %v %v", all, err)
	}

	if _, err := oip.RepositoryModelLoad(ctx, &oippb.RepositoryModelLoadRequest{ModelName: "digits"}); err != nil {
		t.Fatalf("load digits: %v", err)
	}
	index, err := oip.RepositoryIndex(ctx, &oippb.RepositoryIndexRequest{Ready: true})
	var names []string
	for _, m := range index.GetModels() {
		names = append(names, m.GetName()+" "+m.GetVersion()+" "+m.GetState())
	}
	if err != nil || fmt.Sprint(names) != "[digits 1.0 READY iris 1.0 READY]" {
		t.Errorf("index: %v %v", names, err)
	}
	if _, err := oip.RepositoryModelUnload(ctx, &oippb.RepositoryModelUnloadRequest{ModelName: "digits"}); err != nil {
		t.Errorf("unload digits: %v", err)
	}
	_, err = oip.ModelReady(ctx, &oippb.ModelReadyRequest{Name: "digits"})
	wantCode(t, "digits after unloading", err, codes.NotFound, "Model not found: digits")
	_, err = oip.RepositoryModelLoad(ctx, &oippb.RepositoryModelLoadRequest{ModelName: "nothing"})
	wantCode(t, "load a model the store lacks", err, codes.NotFound, "no nothing.mar")
}

// TestGRPCHealth: each gRPC port answers gRPC's standard health service, as Kubernetes'
// gRPC probes ask it: SERVING for the port and each of its services by name, NOT_FOUND for
// a service it does not serve, and NOT_SERVING once the server stops; a watch gets the
// status, then NOT_SERVING as the server stops, and ends.
func TestGRPCHealth(t *testing.T) {
	ctx := context.Background()
	ts := emptyServer(t, nil)
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	services := map[string][]string{
		GRPCInference:  {"", "inference.GRPCInferenceService", "org.pytorch.serve.grpc.inference.InferenceAPIsService"},
		GRPCManagement: {"", "org.pytorch.serve.grpc.management.ManagementAPIsService"},
	}
	clients := map[string]healthgrpc.HealthClient{}
	for api, names := range services {
		clients[api] = healthgrpc.NewHealthClient(grpcDial(t, ts, api))
		for _, name := range names {
			res, err := clients[api].Check(ctx, &healthgrpc.HealthCheckRequest{Service: name})
			if err != nil || res.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
				t.Errorf("%s: Check(%q) = %v, %v; want SERVING", api, name, res.GetStatus(), err)
			}
		}
		_, err := clients[api].Check(ctx, &healthgrpc.HealthCheckRequest{Service: "no.such.Service"})
		wantCode(t, api+": an unknown service", err, codes.NotFound, "no.such.Service")
	}
	watch, err := clients[GRPCInference].Watch(ctx, &healthgrpc.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := watch.Recv(); err != nil || res.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
		t.Fatalf("watch: first %v, %v; want SERVING", res.GetStatus(), err)
	}
	ts.srv.draining.Store(true) // what a stop does first
	if res, err := watch.Recv(); err != nil || res.GetStatus() != healthgrpc.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch as the server stops: %v, %v; want NOT_SERVING", res.GetStatus(), err)
	}
	if _, err := watch.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("watch after the stop: %v, want its end", err)
	}
	for api := range services {
		if res, err := clients[api].Check(ctx, &healthgrpc.HealthCheckRequest{}); err != nil || res.GetStatus() != healthgrpc.HealthCheckResponse_NOT_SERVING {
			t.Errorf("%s while stopping: %v, %v; want NOT_SERVING", api, res.GetStatus(), err)
		}
	}
}
