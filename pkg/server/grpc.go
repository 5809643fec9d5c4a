package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // gzip-compressed calls, as tritonclient's compression_algorithm sends them
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/api/grpc/inferencepb"
	"github.com/tsserve/ts/pkg/api/grpc/managementpb"
	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/handler"
)

// TorchServe's gRPC APIs (its InferenceAPIsService on port 7070, ManagementAPIsService on
// 7071). Each call runs through the REST API's routes in this process — the same checks,
// token authorization, metrics and errors — and answers what the REST API answers: the
// prediction's body, the management API's JSON as text. An error's HTTP status becomes the
// gRPC code TorchServe gives it (grpcCode), with the REST error's message.
const (
	GRPCInference  = config.APIGRPCInference
	GRPCManagement = config.APIGRPCManagement
)

// IsGRPC reports whether api is one of the gRPC APIs.
func IsGRPC(api string) bool { return api == GRPCInference || api == GRPCManagement }

// newGRPCServer makes the gRPC server of a gRPC API, its messages limited to
// max_request_size as the REST API's bodies are.
func (s *Server) newGRPCServer(api string, opts ...grpc.ServerOption) (*grpc.Server, error) {
	rest := Inference
	if api == GRPCManagement {
		rest = Management
	}
	h, err := s.Handler(rest)
	if err != nil {
		return nil, err
	}
	opts = append(opts, restrictGRPC(s.cfg.RestrictedGRPC)...)
	gs := grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(int(min(s.cfg.MaxRequestSize, 1<<31-1))))...)
	if api == GRPCInference {
		inferencepb.RegisterInferenceAPIsServiceServer(gs, &grpcInference{rest: h})
		oippb.RegisterGRPCInferenceServiceServer(gs, &grpcOIP{rest: h})
	} else {
		managementpb.RegisterManagementAPIsServiceServer(gs, &grpcManagement{rest: h})
	}
	healthgrpc.RegisterHealthServer(gs, s.newGRPCHealth(gs, api == GRPCInference)) // Kubernetes' gRPC probes
	reflection.Register(gs)                                                        // clients such as grpcurl find the services without the .proto files
	return gs, nil
}

// preparedBody is the body of a REST request made for a gRPC prediction: its inputs are
// already read (readRequest takes them as they are).
type preparedBody struct{ req *handler.Request }

func (preparedBody) Read([]byte) (int, error) { return 0, io.EOF }
func (preparedBody) Close() error             { return nil }

// restAnswer is what a REST route wrote.
type restAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *restAnswer) Header() http.Header { return a.header }
func (a *restAnswer) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}
func (a *restAnswer) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.body.Write(b)
}

// serveREST runs a request through a REST API's routes in this process: the gRPC call's
// metadata become its headers (authorization included) beside header, its peer the remote
// address. body is nil, a preparedBody, or the bytes of a REST body. The request is marked
// as a gRPC call's (viaGRPC).
func serveREST(ctx context.Context, h http.Handler, method, target string, body io.Reader, header http.Header) (*restAnswer, error) {
	r, err := http.NewRequestWithContext(context.WithValue(ctx, viaGRPC{}, true), method, target, body)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	r.RequestURI = target
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for k, vs := range md {
			if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") || k == "content-type" || k == "te" {
				continue
			}
			r.Header[http.CanonicalHeaderKey(k)] = vs
		}
	}
	for k, vs := range header {
		r.Header[k] = vs
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		r.RemoteAddr = p.Addr.String()
	}
	a := &restAnswer{header: http.Header{}}
	h.ServeHTTP(a, r)
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a, nil
}

// callREST is serveREST's body, or its error as the gRPC status grpcCode gives it, with the
// REST error's message.
func callREST(ctx context.Context, h http.Handler, method, target string, prepared *handler.Request) ([]byte, error) {
	var body io.Reader
	if prepared != nil {
		body = preparedBody{prepared}
	}
	a, err := serveREST(ctx, h, method, target, body, nil)
	if err != nil {
		return nil, err
	}
	if a.status < 300 {
		return a.body.Bytes(), nil
	}
	return nil, a.err()
}

// err is a REST error answer as a gRPC status.
func (a *restAnswer) err() error {
	var e apierror.Error
	msg := strings.TrimSpace(a.body.String())
	if json.Unmarshal(a.body.Bytes(), &e) == nil && e.Message != "" {
		msg = e.Message
	}
	return status.Error(grpcCode(a.status, e.Type), msg)
}

// grpcCodes are TorchServe's gRPC codes for HTTP statuses; other 4xx are
// FAILED_PRECONDITION, anything else INTERNAL.
var grpcCodes = map[int]codes.Code{
	http.StatusBadRequest: codes.InvalidArgument, http.StatusUnauthorized: codes.Unauthenticated,
	http.StatusForbidden: codes.PermissionDenied, http.StatusMethodNotAllowed: codes.PermissionDenied,
	http.StatusNotFound: codes.NotFound, http.StatusConflict: codes.Aborted,
	http.StatusRequestEntityTooLarge: codes.ResourceExhausted, http.StatusTooManyRequests: codes.ResourceExhausted,
	http.StatusInsufficientStorage: codes.ResourceExhausted, http.StatusRequestedRangeNotSatisfiable: codes.OutOfRange,
	499: codes.Canceled, http.StatusNotImplemented: codes.Unimplemented, http.StatusServiceUnavailable: codes.Unavailable,
	http.StatusRequestTimeout: codes.DeadlineExceeded, http.StatusGatewayTimeout: codes.DeadlineExceeded,
}

// grpcCode is the gRPC code TorchServe answers for an HTTP status (grpcCodes). A refused
// API key is UNAUTHENTICATED (the REST API's 400 InvalidKeyException), and a 405, which the
// gRPC calls meet only when the model API is off, PERMISSION_DENIED, as TorchServe's.
func grpcCode(httpStatus int, errType string) codes.Code {
	if errType == apierror.TypeInvalidKey {
		return codes.Unauthenticated
	}
	if code, ok := grpcCodes[httpStatus]; ok {
		return code
	}
	if httpStatus >= 400 && httpStatus < 500 {
		return codes.FailedPrecondition
	}
	return codes.Internal
}

// modelPath is /models/{name}[/{version}] (or /predictions/...: prefix), as routePath makes it.
func modelPath(prefix, name, version string) (string, error) {
	return routePath(prefix+"/", "/", "model_name", name, version)
}

// routePath is prefix, then the name and after versionPrefix the version when there is one,
// each escaped; a call without a name (its field: field) is refused before it reaches the
// routes.
func routePath(prefix, versionPrefix, field, name, version string) (string, error) {
	if name == "" {
		return "", status.Errorf(codes.InvalidArgument, "%s is required", field)
	}
	if err := pathSegments(name, version); err != nil {
		return "", err
	}
	p := prefix + url.PathEscape(name)
	if version != "" {
		p += versionPrefix + url.PathEscape(version)
	}
	return p, nil
}

// pathSegments refuses a name or version "." or "..", which a path cannot carry as itself
// (the routes would take the path cleaned, another one).
func pathSegments(values ...string) error {
	for _, v := range values {
		if err := api.CheckSegment(v); err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
	}
	return nil
}

// withQuery appends the query's non-empty values.
func withQuery(path string, q url.Values) string {
	for k, vs := range q {
		if len(vs) == 0 || vs[0] == "" {
			delete(q, k)
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// number is a proto3 int32 as a query value: 0 (unset in proto3) is left out, so that the
// REST API applies its default.
func number(n int32) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(int(n))
}

// trueOrEmpty is a proto3 bool as a query value: false (unset in proto3) is left out.
func trueOrEmpty(b bool) string {
	if b {
		return "true"
	}
	return ""
}

// grpcInference is TorchServe's InferenceAPIsService.
type grpcInference struct {
	inferencepb.UnimplementedInferenceAPIsServiceServer
	rest http.Handler
}

// Ping answers the REST API's /ping body, {"status": "Healthy"} (or "Unhealthy", a 500 for
// REST, still an answer here).
func (g *grpcInference) Ping(ctx context.Context, _ *emptypb.Empty) (*inferencepb.TorchServeHealthResponse, error) {
	a, err := serveREST(ctx, g.rest, http.MethodGet, "/ping", nil, nil)
	if err != nil {
		return nil, err
	}
	if a.status >= 400 && a.status != http.StatusInternalServerError {
		return nil, a.err()
	}
	return &inferencepb.TorchServeHealthResponse{Health: strings.TrimSpace(a.body.String())}, nil
}

// predict runs one prediction: the request's inputs are the handler's, by name, as the
// fields of a REST form. stream, when set, receives the parts of the answer a custom
// handler sends before the last (which predict returns); otherwise they are joined in front
// of it. It also returns the request's sequence id: a stateful model's (the one given, or
// a new one), "" for other models.
func (g *grpcInference) predict(ctx context.Context, in *inferencepb.PredictionsRequest, stream func(part []byte, contentType string) error) ([]byte, string, error) {
	path, err := modelPath("/predictions", in.GetModelName(), in.GetModelVersion())
	if err != nil {
		return nil, "", err
	}
	names := make([]string, 0, len(in.GetInput()))
	for name := range in.GetInput() {
		names = append(names, name)
	}
	slices.Sort(names) // a map has no order; the handler sees the inputs sorted by name
	req := &handler.Request{Stream: stream, Sequence: in.GetSequenceId()}
	for _, name := range names {
		req.Inputs = append(req.Inputs, handler.Input{Name: name, Data: in.GetInput()[name]})
	}
	out, err := callREST(ctx, g.rest, http.MethodPost, path, req)
	return out, req.Sequence, err
}

func (g *grpcInference) Predictions(ctx context.Context, in *inferencepb.PredictionsRequest) (*inferencepb.PredictionResponse, error) {
	out, seq, err := g.predict(ctx, in, nil)
	if err != nil {
		return nil, err
	}
	res := &inferencepb.PredictionResponse{Prediction: out}
	if seq != "" {
		res.SequenceId = &seq
	}
	return res, nil
}

// StreamPredictions sends each part of the answer a custom handler streams
// (send_intermediate_predict_response) as a message when it comes, then the last part;
// other handlers' answers are one message.
func (g *grpcInference) StreamPredictions(in *inferencepb.PredictionsRequest, stream grpc.ServerStreamingServer[inferencepb.PredictionResponse]) error {
	out, _, err := g.predict(stream.Context(), in, func(part []byte, _ string) error {
		return stream.Send(&inferencepb.PredictionResponse{Prediction: part})
	})
	if err != nil {
		return err
	}
	return stream.Send(&inferencepb.PredictionResponse{Prediction: out})
}

// StreamPredictions2 answers each request of the stream in turn, with its sequence id (the
// first request's for those without one; "ts-seq-<uuid>" when the stream names none). A
// failed prediction answers its status in the stream, which goes on.
func (g *grpcInference) StreamPredictions2(stream grpc.BidiStreamingServer[inferencepb.PredictionsRequest, inferencepb.PredictionResponse]) error {
	sequence := ""
	return answerEach(stream, func(in *inferencepb.PredictionsRequest) *inferencepb.PredictionResponse {
		if in.GetSequenceId() != "" {
			sequence = in.GetSequenceId()
		} else if sequence == "" {
			sequence = "ts-seq-" + uuid.NewString()
		}
		id := sequence
		in.SequenceId = &id // a stateful model's requests of this stream are one sequence
		res := &inferencepb.PredictionResponse{SequenceId: &id}
		var err error
		if res.Prediction, _, err = g.predict(stream.Context(), in, nil); err != nil {
			st := status.Convert(err)
			res.Status = &spb.Status{Code: int32(st.Code()), Message: st.Message()}
		}
		return res
	})
}

// answerEach answers each request of a bidirectional stream in turn until the client ends
// it; a request's failure is for answer to say within its answer, so that the stream goes on.
func answerEach[Req, Res any](stream grpc.BidiStreamingServer[Req, Res], answer func(*Req) *Res) error {
	for {
		in, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(answer(in)); err != nil {
			return err
		}
	}
}

// grpcManagement is TorchServe's ManagementAPIsService: each call is the REST call of the
// same name, its JSON answer the message.
type grpcManagement struct {
	managementpb.UnimplementedManagementAPIsServiceServer
	rest http.Handler
}

func (g *grpcManagement) answer(ctx context.Context, method, target string) (*managementpb.ManagementResponse, error) {
	out, err := callREST(ctx, g.rest, method, target, nil)
	if err != nil {
		return nil, err
	}
	return &managementpb.ManagementResponse{Msg: string(out)}, nil
}

func (g *grpcManagement) DescribeModel(ctx context.Context, in *managementpb.DescribeModelRequest) (*managementpb.ManagementResponse, error) {
	path, err := modelPath("/models", in.GetModelName(), in.GetModelVersion())
	if err != nil {
		return nil, err
	}
	return g.answer(ctx, http.MethodGet, withQuery(path, url.Values{"customized": {trueOrEmpty(in.GetCustomized())}}))
}

func (g *grpcManagement) ListModels(ctx context.Context, in *managementpb.ListModelsRequest) (*managementpb.ManagementResponse, error) {
	return g.answer(ctx, http.MethodGet, withQuery("/models", url.Values{
		"limit": {number(in.GetLimit())}, "next_page_token": {number(in.GetNextPageToken())}}))
}

func (g *grpcManagement) RegisterModel(ctx context.Context, in *managementpb.RegisterModelRequest) (*managementpb.ManagementResponse, error) {
	return g.answer(ctx, http.MethodPost, withQuery("/models", url.Values{
		"url": {in.GetUrl()}, "model_name": {in.GetModelName()}, "handler": {in.GetHandler()}, "runtime": {in.GetRuntime()},
		"batch_size": {number(in.GetBatchSize())}, "max_batch_delay": {number(in.GetMaxBatchDelay())},
		"initial_workers": {number(in.GetInitialWorkers())}, "response_timeout": {number(in.GetResponseTimeout())},
		"synchronous": {strconv.FormatBool(in.GetSynchronous())}, "s3_sse_kms": {trueOrEmpty(in.GetS3SseKms())}}))
}

func (g *grpcManagement) ScaleWorker(ctx context.Context, in *managementpb.ScaleWorkerRequest) (*managementpb.ManagementResponse, error) {
	path, err := modelPath("/models", in.GetModelName(), in.GetModelVersion())
	if err != nil {
		return nil, err
	}
	return g.answer(ctx, http.MethodPut, withQuery(path, url.Values{
		"min_worker": {number(in.GetMinWorker())}, "max_worker": {number(in.GetMaxWorker())}, "number_gpu": {number(in.GetNumberGpu())},
		"synchronous": {trueOrEmpty(in.GetSynchronous())}, "timeout": {number(in.GetTimeout())}}))
}

func (g *grpcManagement) SetDefault(ctx context.Context, in *managementpb.SetDefaultRequest) (*managementpb.ManagementResponse, error) {
	path, err := modelPath("/models", in.GetModelName(), in.GetModelVersion())
	if err != nil {
		return nil, err
	}
	if in.GetModelVersion() == "" {
		// TorchServe looks the empty version up: NOT_FOUND, for the model when it is not
		// there either (its gRPC API tests send set-default so).
		if _, err := g.answer(ctx, http.MethodGet, path); err != nil {
			return nil, err
		}
		return nil, status.Error(codes.NotFound, apierror.VersionNotFound(in.GetModelName(), "").Message)
	}
	return g.answer(ctx, http.MethodPut, path+"/set-default")
}

func (g *grpcManagement) UnregisterModel(ctx context.Context, in *managementpb.UnregisterModelRequest) (*managementpb.ManagementResponse, error) {
	path, err := modelPath("/models", in.GetModelName(), in.GetModelVersion())
	if err != nil {
		return nil, err
	}
	return g.answer(ctx, http.MethodDelete, path)
}
