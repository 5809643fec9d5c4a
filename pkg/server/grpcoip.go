package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/sharedmem"
)

// grpcOIP is the Open Inference Protocol's gRPC service (KServe v2's GRPCInferenceService,
// which Triton's clients speak), on the gRPC inference API. Each call is its REST form's
// (/v2/...) in this process; inference sends the tensors as the binary tensor data
// extension and asks every output back so, which are then the response's
// raw_output_contents.
type grpcOIP struct {
	oippb.UnimplementedGRPCInferenceServiceServer
	rest http.Handler
}

// oipPath is /v2/models/{name}[/versions/{version}] and then suffix.
func oipPath(name, version, suffix string) (string, error) {
	p, err := routePath("/v2/models/", "/versions/", "the model's name", name, version)
	return p + suffix, err
}

func (g *grpcOIP) ServerLive(ctx context.Context, _ *oippb.ServerLiveRequest) (*oippb.ServerLiveResponse, error) {
	res := &oippb.ServerLiveResponse{}
	return res, g.restMessage(ctx, http.MethodGet, "/v2/health/live", nil, res)
}

func (g *grpcOIP) ServerReady(ctx context.Context, _ *oippb.ServerReadyRequest) (*oippb.ServerReadyResponse, error) {
	res := &oippb.ServerReadyResponse{}
	return res, g.restMessage(ctx, http.MethodGet, "/v2/health/ready", nil, res, http.StatusBadRequest)
}

func (g *grpcOIP) ModelReady(ctx context.Context, in *oippb.ModelReadyRequest) (*oippb.ModelReadyResponse, error) {
	path, err := oipPath(in.GetName(), in.GetVersion(), "/ready")
	if err != nil {
		return nil, err
	}
	res := &oippb.ModelReadyResponse{}
	return res, g.restMessage(ctx, http.MethodGet, path, nil, res, http.StatusBadRequest)
}

func (g *grpcOIP) ServerMetadata(ctx context.Context, _ *oippb.ServerMetadataRequest) (*oippb.ServerMetadataResponse, error) {
	res := &oippb.ServerMetadataResponse{}
	return res, g.restMessage(ctx, http.MethodGet, "/v2", nil, res)
}

func (g *grpcOIP) ModelMetadata(ctx context.Context, in *oippb.ModelMetadataRequest) (*oippb.ModelMetadataResponse, error) {
	path, err := oipPath(in.GetName(), in.GetVersion(), "")
	if err != nil {
		return nil, err
	}
	res := &oippb.ModelMetadataResponse{}
	return res, g.restMessage(ctx, http.MethodGet, path, nil, res)
}

// ModelInfer runs the REST form's inference with every input as binary tensor data and
// every output asked back so.
func (g *grpcOIP) ModelInfer(ctx context.Context, in *oippb.ModelInferRequest) (*oippb.ModelInferResponse, error) {
	path, err := oipPath(in.GetModelName(), in.GetModelVersion(), "/infer")
	if err != nil {
		return nil, err
	}
	raw := in.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(in.GetInputs()) {
		return nil, status.Errorf(codes.InvalidArgument, "raw_input_contents holds %d tensors for %d inputs", len(raw), len(in.GetInputs()))
	}
	type jsonInput struct {
		Name       string         `json:"name"`
		Datatype   string         `json:"datatype"`
		Shape      []int64        `json:"shape"`
		Parameters map[string]any `json:"parameters"`
	}
	type jsonOutput struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters"`
	}
	doc := struct {
		ID         string         `json:"id,omitempty"`
		Parameters map[string]any `json:"parameters"`
		Inputs     []jsonInput    `json:"inputs"`
		Outputs    []jsonOutput   `json:"outputs,omitempty"`
	}{ID: in.GetId(), Parameters: jsonParameters(in.GetParameters())}
	doc.Parameters["binary_data_output"] = true
	blobs, size := make([][]byte, 0, len(in.GetInputs())), 0
	for i, t := range in.GetInputs() {
		p := jsonParameters(t.GetParameters())
		shape := t.GetShape()
		if shape == nil {
			shape = []int64{} // a scalar's
		}
		if _, shared := p["shared_memory_region"]; shared { // its data is in shared memory
			if len(raw) > 0 && len(raw[i]) > 0 || t.GetContents() != nil {
				return nil, status.Errorf(codes.InvalidArgument, "input %q: its data is in shared memory region %v; send it there or in the request, not both", t.GetName(), p["shared_memory_region"])
			}
			doc.Inputs = append(doc.Inputs, jsonInput{Name: t.GetName(), Datatype: t.GetDatatype(), Shape: shape, Parameters: p})
			continue
		}
		var data []byte
		if len(raw) > 0 {
			if t.GetContents() != nil {
				return nil, status.Errorf(codes.InvalidArgument, "input %q: contents and raw_input_contents both given; send one", t.GetName())
			}
			data = raw[i]
		} else if data, err = rawContents(t); err != nil {
			return nil, err
		}
		p["binary_data_size"] = len(data)
		doc.Inputs = append(doc.Inputs, jsonInput{Name: t.GetName(), Datatype: t.GetDatatype(), Shape: shape, Parameters: p})
		blobs, size = append(blobs, data), size+len(data)
	}
	for _, o := range in.GetOutputs() {
		p := jsonParameters(o.GetParameters())
		if _, shared := p["shared_memory_region"]; !shared {
			p["binary_data"] = true
		}
		doc.Outputs = append(doc.Outputs, jsonOutput{Name: o.GetName(), Parameters: p})
	}
	header, err := json.Marshal(doc)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	body := append(make([]byte, 0, len(header)+size), header...) // the inputs' bytes copied once
	for _, b := range blobs {
		body = append(body, b...)
	}
	a, err := serveREST(ctx, g.rest, http.MethodPost, path, bytes.NewReader(body), http.Header{
		"Content-Type":           {"application/octet-stream"},
		api.HeaderV2HeaderLength: {strconv.Itoa(len(header))},
	})
	if err != nil {
		return nil, err
	}
	if a.status >= 300 {
		return nil, a.err()
	}
	return inferResponse(a)
}

// inferResponse reads the REST form's binary answer: a JSON header, then each output's
// bytes in order.
func inferResponse(a *restAnswer) (*oippb.ModelInferResponse, error) {
	body := a.body.Bytes()
	n, err := strconv.Atoi(a.header.Get(api.HeaderV2HeaderLength))
	if err != nil || n < 0 || n > len(body) {
		n = len(body)
	}
	var doc struct {
		ModelName    string         `json:"model_name"`
		ModelVersion string         `json:"model_version"`
		ID           string         `json:"id"`
		Parameters   map[string]any `json:"parameters"`
		Outputs      []struct {
			Name       string         `json:"name"`
			Datatype   string         `json:"datatype"`
			Shape      []int64        `json:"shape"`
			Parameters map[string]any `json:"parameters"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(body[:n], &doc); err != nil {
		return nil, status.Errorf(codes.Internal, "read the inference answer: %v", err)
	}
	res := &oippb.ModelInferResponse{ModelName: doc.ModelName, ModelVersion: doc.ModelVersion, Id: doc.ID, Parameters: protoParameters(doc.Parameters)}
	rest := body[n:]
	for _, o := range doc.Outputs {
		if _, shared := o.Parameters["shared_memory_region"]; shared { // written to shared memory
			res.Outputs = append(res.Outputs, &oippb.ModelInferResponse_InferOutputTensor{Name: o.Name, Datatype: o.Datatype, Shape: o.Shape, Parameters: protoParameters(o.Parameters)})
			res.RawOutputContents = append(res.RawOutputContents, []byte{}) // keeps the others at their outputs' index
			continue
		}
		size, ok := o.Parameters["binary_data_size"].(float64)
		if !ok || size < 0 || int(size) > len(rest) {
			return nil, status.Errorf(codes.Internal, "output %q came without its binary data", o.Name)
		}
		delete(o.Parameters, "binary_data_size")
		res.Outputs = append(res.Outputs, &oippb.ModelInferResponse_InferOutputTensor{Name: o.Name, Datatype: o.Datatype, Shape: o.Shape, Parameters: protoParameters(o.Parameters)})
		res.RawOutputContents = append(res.RawOutputContents, rest[:int(size)])
		rest = rest[int(size):]
	}
	return res, nil
}

// jsonParameters are a request's parameters as the REST form's JSON values (never nil).
func jsonParameters(ps map[string]*oippb.InferParameter) map[string]any {
	out := map[string]any{}
	for k, p := range ps {
		switch v := p.GetParameterChoice().(type) {
		case *oippb.InferParameter_BoolParam:
			out[k] = v.BoolParam
		case *oippb.InferParameter_Int64Param:
			out[k] = v.Int64Param
		case *oippb.InferParameter_StringParam:
			out[k] = v.StringParam
		case *oippb.InferParameter_DoubleParam:
			out[k] = v.DoubleParam
		case *oippb.InferParameter_Uint64Param:
			out[k] = v.Uint64Param
		}
	}
	return out
}

// protoParameters are JSON parameters as the protocol's (whole numbers as int64_param).
func protoParameters(ps map[string]any) map[string]*oippb.InferParameter {
	if len(ps) == 0 {
		return nil
	}
	out := map[string]*oippb.InferParameter{}
	for k, v := range ps {
		switch v := v.(type) {
		case bool:
			out[k] = &oippb.InferParameter{ParameterChoice: &oippb.InferParameter_BoolParam{BoolParam: v}}
		case string:
			out[k] = &oippb.InferParameter{ParameterChoice: &oippb.InferParameter_StringParam{StringParam: v}}
		case float64:
			if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
				out[k] = &oippb.InferParameter{ParameterChoice: &oippb.InferParameter_Int64Param{Int64Param: int64(v)}}
			} else {
				out[k] = &oippb.InferParameter{ParameterChoice: &oippb.InferParameter_DoubleParam{DoubleParam: v}}
			}
		}
	}
	return out
}

// rawContents lays an input's typed contents out as the binary tensor data extension
// does: little-endian values of the datatype's size; BYTES elements each after its length
// in 4 bytes. FP16 and BF16 have no typed contents: they come as raw_input_contents.
func rawContents(t *oippb.ModelInferRequest_InferInputTensor) ([]byte, error) {
	c := t.GetContents()
	var b []byte
	switch t.GetDatatype() {
	case "BOOL":
		for _, v := range c.GetBoolContents() {
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	case "INT8":
		for _, v := range c.GetIntContents() {
			b = append(b, byte(int8(v)))
		}
	case "INT16":
		for _, v := range c.GetIntContents() {
			b = binary.LittleEndian.AppendUint16(b, uint16(int16(v)))
		}
	case "INT32":
		for _, v := range c.GetIntContents() {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
	case "INT64":
		for _, v := range c.GetInt64Contents() {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	case "UINT8":
		for _, v := range c.GetUintContents() {
			b = append(b, byte(v))
		}
	case "UINT16":
		for _, v := range c.GetUintContents() {
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		}
	case "UINT32":
		for _, v := range c.GetUintContents() {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
	case "UINT64":
		for _, v := range c.GetUint64Contents() {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
	case "FP32":
		for _, v := range c.GetFp32Contents() {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	case "FP64":
		for _, v := range c.GetFp64Contents() {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	case "BYTES":
		for _, v := range c.GetBytesContents() {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		}
	default:
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("input %q: datatype %q has no typed contents; send its values in raw_input_contents", t.GetName(), t.GetDatatype()))
	}
	return b, nil
}

// ModelStreamInfer answers each request of the stream in turn, as ModelInfer does; a
// failed one answers its error_message, and the stream goes on.
func (g *grpcOIP) ModelStreamInfer(stream grpc.BidiStreamingServer[oippb.ModelInferRequest, oippb.ModelStreamInferResponse]) error {
	return answerEach(stream, func(in *oippb.ModelInferRequest) *oippb.ModelStreamInferResponse {
		res := &oippb.ModelStreamInferResponse{}
		var err error
		if res.InferResponse, err = g.ModelInfer(stream.Context(), in); err != nil {
			res.ErrorMessage = status.Convert(err).Message()
		}
		return res
	})
}

// protoJSON reads the REST forms' JSON into Triton's messages, which declare only the fields
// ts answers.
var protoJSON = protojson.UnmarshalOptions{DiscardUnknown: true}

// restMessage runs a /v2 request and reads its JSON answer into m; statuses in answers
// (beside 2xx) are answers too, when their body is not an error (the protocol's 400 for "not
// ready").
func (g *grpcOIP) restMessage(ctx context.Context, method, target string, body []byte, m proto.Message, answers ...int) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	a, err := serveREST(ctx, g.rest, method, target, r, nil)
	if err != nil {
		return err
	}
	if a.status >= 300 {
		var probe map[string]any
		if !slices.Contains(answers, a.status) || json.Unmarshal(a.body.Bytes(), &probe) != nil || probe["code"] != nil {
			return a.err()
		}
	}
	if err := protoJSON.Unmarshal(a.body.Bytes(), m); err != nil {
		return status.Errorf(codes.Internal, "read the answer of %s: %v", target, err)
	}
	return nil
}

// ModelConfig is Triton's model configuration, GET /v2/models/{model}/config's.
func (g *grpcOIP) ModelConfig(ctx context.Context, in *oippb.ModelConfigRequest) (*oippb.ModelConfigResponse, error) {
	path, err := oipPath(in.GetName(), in.GetVersion(), "/config")
	if err != nil {
		return nil, err
	}
	res := &oippb.ModelConfigResponse{Config: &oippb.ModelConfig{}}
	return res, g.restMessage(ctx, http.MethodGet, path, nil, res.Config)
}

// ModelStatistics is Triton's statistics of every model, a model's versions or one version.
func (g *grpcOIP) ModelStatistics(ctx context.Context, in *oippb.ModelStatisticsRequest) (*oippb.ModelStatisticsResponse, error) {
	path := "/v2/models/stats"
	if in.GetName() != "" {
		var err error
		if path, err = oipPath(in.GetName(), in.GetVersion(), "/stats"); err != nil {
			return nil, err
		}
	}
	res := &oippb.ModelStatisticsResponse{}
	return res, g.restMessage(ctx, http.MethodGet, path, nil, res)
}

// SystemSharedMemoryStatus is the system shared memory regions' status, by name.
func (g *grpcOIP) SystemSharedMemoryStatus(ctx context.Context, in *oippb.SystemSharedMemoryStatusRequest) (*oippb.SystemSharedMemoryStatusResponse, error) {
	path, err := shmPath(in.GetName(), "status", true)
	if err != nil {
		return nil, err
	}
	b, err := callREST(ctx, g.rest, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	var regions []sharedmem.Region
	if err := json.Unmarshal(b, &regions); err != nil {
		return nil, status.Errorf(codes.Internal, "read the regions' status: %v", err)
	}
	res := &oippb.SystemSharedMemoryStatusResponse{Regions: map[string]*oippb.SystemSharedMemoryStatusResponse_RegionStatus{}}
	for _, r := range regions {
		res.Regions[r.Name] = &oippb.SystemSharedMemoryStatusResponse_RegionStatus{Name: r.Name, Key: r.Key, Offset: uint64(r.Offset), ByteSize: uint64(r.ByteSize)}
	}
	return res, nil
}

// SystemSharedMemoryRegister registers a system shared memory region.
func (g *grpcOIP) SystemSharedMemoryRegister(ctx context.Context, in *oippb.SystemSharedMemoryRegisterRequest) (*oippb.SystemSharedMemoryRegisterResponse, error) {
	path, err := shmPath(in.GetName(), "register", false)
	if err != nil {
		return nil, err
	}
	if in.GetOffset() > math.MaxInt64 || in.GetByteSize() > math.MaxInt64 {
		return nil, status.Errorf(codes.InvalidArgument, "offset and byte_size must be below 2^63")
	}
	body, _ := json.Marshal(map[string]any{"key": in.GetKey(), "offset": in.GetOffset(), "byte_size": in.GetByteSize()})
	_, err = g.restJSON(ctx, http.MethodPost, path, body)
	return &oippb.SystemSharedMemoryRegisterResponse{}, err
}

// SystemSharedMemoryUnregister unregisters a region, or all of them when no name is given.
func (g *grpcOIP) SystemSharedMemoryUnregister(ctx context.Context, in *oippb.SystemSharedMemoryUnregisterRequest) (*oippb.SystemSharedMemoryUnregisterResponse, error) {
	path, err := shmPath(in.GetName(), "unregister", true)
	if err != nil {
		return nil, err
	}
	_, err = g.restJSON(ctx, http.MethodPost, path, nil)
	return &oippb.SystemSharedMemoryUnregisterResponse{}, err
}

// shmPath is the REST path of a shared memory call: action on the region name, or on every
// region when name is "" and the call may take them all.
func shmPath(name, action string, all bool) (string, error) {
	if name == "" && all {
		return "/v2/systemsharedmemory/" + action, nil
	}
	p, err := routePath("/v2/systemsharedmemory/region/", "", "name", name, "")
	return p + "/" + action, err
}

// restJSON calls a REST route with a JSON body (or nothing) and returns its answer, or its
// error as a gRPC status.
func (g *grpcOIP) restJSON(ctx context.Context, method, target string, body []byte) ([]byte, error) {
	a, err := serveREST(ctx, g.rest, method, target, bytes.NewReader(body), http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return nil, err
	}
	if a.status >= 300 {
		return nil, a.err()
	}
	return a.body.Bytes(), nil
}

// restSettings calls a settings route of the REST API (Triton's logging and trace
// extensions): a GET when doc is empty, else a POST of doc; it answers the settings in
// effect (what names them in errors).
func (g *grpcOIP) restSettings(ctx context.Context, path string, doc map[string]any, what string) (map[string]any, error) {
	method, body := http.MethodGet, []byte(nil)
	if len(doc) > 0 {
		method = http.MethodPost
		var err error
		if body, err = json.Marshal(doc); err != nil {
			return nil, status.Errorf(codes.Internal, "%v", err)
		}
	}
	b, err := g.restJSON(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	var settings map[string]any
	if err := json.Unmarshal(b, &settings); err != nil {
		return nil, status.Errorf(codes.Internal, "read the %s: %v", what, err)
	}
	return settings, nil
}

// LogSettings changes the log settings the request gives (none: reads them) and answers them
// all, as POST /v2/logging.
func (g *grpcOIP) LogSettings(ctx context.Context, in *oippb.LogSettingsRequest) (*oippb.LogSettingsResponse, error) {
	doc := map[string]any{}
	for k, v := range in.GetSettings() {
		switch p := v.GetParameterChoice().(type) {
		case *oippb.LogSettingsRequest_SettingValue_BoolParam:
			doc[k] = p.BoolParam
		case *oippb.LogSettingsRequest_SettingValue_Uint32Param:
			doc[k] = p.Uint32Param
		case *oippb.LogSettingsRequest_SettingValue_StringParam:
			doc[k] = p.StringParam
		default:
			return nil, status.Errorf(codes.InvalidArgument, "setting %q has no value", k)
		}
	}
	settings, err := g.restSettings(ctx, "/v2/logging", doc, "log settings")
	if err != nil {
		return nil, err
	}
	res := &oippb.LogSettingsResponse{Settings: map[string]*oippb.LogSettingsResponse_SettingValue{}}
	for k, v := range settings {
		switch v := v.(type) {
		case bool:
			res.Settings[k] = &oippb.LogSettingsResponse_SettingValue{ParameterChoice: &oippb.LogSettingsResponse_SettingValue_BoolParam{BoolParam: v}}
		case float64:
			res.Settings[k] = &oippb.LogSettingsResponse_SettingValue{ParameterChoice: &oippb.LogSettingsResponse_SettingValue_Uint32Param{Uint32Param: uint32(v)}}
		case string:
			res.Settings[k] = &oippb.LogSettingsResponse_SettingValue{ParameterChoice: &oippb.LogSettingsResponse_SettingValue_StringParam{StringParam: v}}
		}
	}
	return res, nil
}

// TraceSetting changes the trace settings the request gives (none: reads them), the global
// ones or model_name's, and answers them all, as POST /v2[/models/{m}]/trace/setting; a
// setting given no value clears a model's own.
func (g *grpcOIP) TraceSetting(ctx context.Context, in *oippb.TraceSettingRequest) (*oippb.TraceSettingResponse, error) {
	path := "/v2/trace/setting"
	if m := in.GetModelName(); m != "" {
		p, err := routePath("/v2/models/", "", "model_name", m, "") // "..", say, is no model
		if err != nil {
			return nil, err
		}
		path = p + "/trace/setting"
	}
	doc := map[string]any{}
	for k, v := range in.GetSettings() {
		switch values := v.GetValue(); {
		case len(values) == 0:
			doc[k] = nil
		case k == "trace_level":
			doc[k] = values
		case len(values) == 1:
			doc[k] = values[0]
		default:
			return nil, status.Errorf(codes.InvalidArgument, "trace setting %s takes one value, got %d", k, len(values))
		}
	}
	settings, err := g.restSettings(ctx, path, doc, "trace settings")
	if err != nil {
		return nil, err
	}
	res := &oippb.TraceSettingResponse{Settings: map[string]*oippb.TraceSettingResponse_SettingValue{}}
	for k, v := range settings {
		var values []string
		switch v := v.(type) {
		case string:
			values = []string{v}
		case []any:
			for _, x := range v {
				values = append(values, fmt.Sprint(x))
			}
		}
		res.Settings[k] = &oippb.TraceSettingResponse_SettingValue{Value: values}
	}
	return res, nil
}

// CudaSharedMemoryStatus: ts has no CUDA shared memory regions.
func (g *grpcOIP) CudaSharedMemoryStatus(ctx context.Context, in *oippb.CudaSharedMemoryStatusRequest) (*oippb.CudaSharedMemoryStatusResponse, error) {
	if in.GetName() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "no CUDA shared memory region %q is registered", in.GetName())
	}
	return &oippb.CudaSharedMemoryStatusResponse{}, nil
}

// CudaSharedMemoryRegister fails: ts does not support CUDA shared memory.
func (g *grpcOIP) CudaSharedMemoryRegister(ctx context.Context, in *oippb.CudaSharedMemoryRegisterRequest) (*oippb.CudaSharedMemoryRegisterResponse, error) {
	return nil, status.Errorf(codes.InvalidArgument, "CUDA shared memory is not supported by ts: use system shared memory")
}

// CudaSharedMemoryUnregister: with no name, there is nothing to unregister.
func (g *grpcOIP) CudaSharedMemoryUnregister(ctx context.Context, in *oippb.CudaSharedMemoryUnregisterRequest) (*oippb.CudaSharedMemoryUnregisterResponse, error) {
	if in.GetName() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "no CUDA shared memory region %q is registered", in.GetName())
	}
	return &oippb.CudaSharedMemoryUnregisterResponse{}, nil
}

// RepositoryIndex lists the registered versions (ts has one repository: the name is not
// read).
func (g *grpcOIP) RepositoryIndex(ctx context.Context, in *oippb.RepositoryIndexRequest) (*oippb.RepositoryIndexResponse, error) {
	body := []byte(`{"ready": false}`)
	if in.GetReady() {
		body = []byte(`{"ready": true}`)
	}
	a, err := serveREST(ctx, g.rest, http.MethodPost, "/v2/repository/index", bytes.NewReader(body), nil)
	if err != nil {
		return nil, err
	}
	if a.status >= 300 {
		return nil, a.err()
	}
	res := &oippb.RepositoryIndexResponse{}
	models := append(append([]byte(`{"models": `), a.body.Bytes()...), '}') // the REST form answers the list alone
	if err := protoJSON.Unmarshal(models, res); err != nil {
		return nil, status.Errorf(codes.Internal, "read the repository index: %v", err)
	}
	return res, nil
}

// RepositoryModelLoad registers {model}.mar (or the like) from the model store, or from the
// files it sends, as POST /v2/repository/models/{model}/load does.
func (g *grpcOIP) RepositoryModelLoad(ctx context.Context, in *oippb.RepositoryModelLoadRequest) (*oippb.RepositoryModelLoadResponse, error) {
	var body []byte
	if len(in.GetParameters()) > 0 { // as the REST form's {"parameters": {"config": "..."}}
		params := map[string]any{}
		for k, p := range in.GetParameters() {
			switch v := p.GetParameterChoice().(type) {
			case *oippb.ModelRepositoryParameter_StringParam:
				params[k] = v.StringParam
			case *oippb.ModelRepositoryParameter_BoolParam:
				params[k] = v.BoolParam
			case *oippb.ModelRepositoryParameter_Int64Param:
				params[k] = v.Int64Param
			case *oippb.ModelRepositoryParameter_BytesParam:
				params[k] = base64.StdEncoding.EncodeToString(v.BytesParam) // a file, as the REST form sends it
			default:
				params[k] = nil
			}
		}
		var err error
		if body, err = json.Marshal(map[string]any{"parameters": params}); err != nil {
			return nil, status.Errorf(codes.Internal, "%v", err)
		}
	}
	path, err := routePath("/v2/repository/models/", "", "model_name", in.GetModelName(), "")
	if err != nil {
		return nil, err
	}
	_, err = g.restJSON(ctx, http.MethodPost, path+"/load", body)
	return &oippb.RepositoryModelLoadResponse{}, err
}

// RepositoryModelUnload unregisters every version of the model.
func (g *grpcOIP) RepositoryModelUnload(ctx context.Context, in *oippb.RepositoryModelUnloadRequest) (*oippb.RepositoryModelUnloadResponse, error) {
	return &oippb.RepositoryModelUnloadResponse{}, g.repositoryControl(ctx, in.GetModelName(), "/unload")
}

func (g *grpcOIP) repositoryControl(ctx context.Context, name, action string) error {
	path, err := routePath("/v2/repository/models/", "", "model_name", name, "")
	if err != nil {
		return err
	}
	_, err = callREST(ctx, g.rest, http.MethodPost, path+action, nil)
	return err
}
