package server

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/sharedmem"
)

// shmObject creates a POSIX shared memory object (a file in /dev/shm, as shm_open makes
// one) of size bytes, removed at the end of the test; it returns its key.
func shmObject(t *testing.T, size int) (key, path string) {
	t.Helper()
	name := fmt.Sprintf("ts-test-%d-%s", os.Getpid(), strings.NewReplacer("/", "-").Replace(t.Name()))
	path = filepath.Join(sharedmem.Dir, name)
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return "/" + name, path
}

// TestSystemSharedMemory: Triton's system shared memory extension over HTTP. A client
// registers regions of a shared memory object, sends an inference whose input is in one
// region and asks for its output in another (at an offset): the input is read from there,
// the output written there (the same numbers as a plain request's), and the answer holds
// its place but no data. Status, unregistering, and the client's mistakes (400s).
func TestSystemSharedMemory(t *testing.T) {
	ts := emptyServer(t, map[string]string{"enable_shared_memory": "true"})
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	key, path := shmObject(t, 64)
	if err := os.WriteFile(path, append(float32Bytes(5.1, 3.5, 1.4, 0.2), make([]byte, 48)...), 0o600); err != nil {
		t.Fatal(err)
	}
	base := ts.inference.URL
	for _, e := range []exchange{
		{"register in", "POST", "/v2/systemsharedmemory/region/in/register", "application/json", []byte(`{"key": "` + key + `", "offset": 0, "byte_size": 16}`), 200, "", ""},
		{"register out", "POST", "/v2/systemsharedmemory/region/out/register", "application/json", []byte(`{"key": "` + key + `", "offset": 32, "byte_size": 32}`), 200, "", ""},
		{"a name taken", "POST", "/v2/systemsharedmemory/region/in/register", "application/json", []byte(`{"key": "` + key + `", "byte_size": 4}`), 400, "BadRequestException", `"error": "shared memory region \"in\" is already registered`},
		{"past the object", "POST", "/v2/systemsharedmemory/region/big/register", "application/json", []byte(`{"key": "` + key + `", "offset": 60, "byte_size": 8}`), 400, "BadRequestException", "runs past the end"},
		{"a path for a key", "POST", "/v2/systemsharedmemory/region/x/register", "application/json", []byte(`{"key": "/../../etc/passwd", "byte_size": 8}`), 400, "BadRequestException", "is not the name of a shared memory object"},
		{"no byte_size", "POST", "/v2/systemsharedmemory/region/x/register", "application/json", []byte(`{"key": "` + key + `"}`), 400, "BadRequestException", `"key\" and \"byte_size\" are required`},
		{"unknown region status", "GET", "/v2/systemsharedmemory/region/nope/status", "", nil, 400, "BadRequestException", `no shared memory region \"nope\" is registered`},
		{"CUDA status", "GET", "/v2/cudasharedmemory/status", "", nil, 200, "", "[]"},
		{"CUDA register", "POST", "/v2/cudasharedmemory/region/g/register", "application/json", []byte(`{"raw_handle": {"b64": ""}, "device_id": 0, "byte_size": 8}`), 400, "BadRequestException", "CUDA shared memory is not supported"},
		{"the extension listed", "GET", "/v2", "", nil, 200, "", `"system_shared_memory"`},
	} {
		e.run(t, base)
	}

	var regions []sharedmem.Region
	getJSON(t, base+"/v2/systemsharedmemory/status", &regions)
	if got := fmt.Sprint(regions); got != fmt.Sprintf("[{in %s 0 16} {out %s 32 32}]", key, key) {
		t.Errorf("status %s", got)
	}
	getJSON(t, base+"/v2/systemsharedmemory/region/out/status", &regions)
	if len(regions) != 1 || regions[0].Name != "out" {
		t.Errorf("status of out: %v", regions)
	}

	_, plain, _ := v2Infer(t, base+"/v2/models/iris/infer", `{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}`, nil)
	var probabilities []float32
	for _, v := range plain.Outputs[0].Data {
		probabilities = append(probabilities, float32(v.(float64)))
	}
	want := float32Bytes(probabilities...)
	status, body, _, err := send("POST", base+"/v2/models/iris/infer", []byte(`{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","parameters":{"shared_memory_region":"in","shared_memory_byte_size":16}}],
		"outputs":[{"name":"probabilities","parameters":{"shared_memory_region":"out","shared_memory_byte_size":16,"shared_memory_offset":4}}]}`), "Content-Type", "application/json")
	if err != nil || status != 200 || strings.Contains(string(body), `"data"`) ||
		!strings.Contains(string(body), `"shape":[1,3],"parameters":{"shared_memory_region":"out","shared_memory_offset":4,"shared_memory_byte_size":12}`) {
		t.Fatalf("%d %v %s", status, err, body)
	}
	b, _ := os.ReadFile(path)
	if got := b[32+4 : 32+4+12]; !bytes.Equal(got, want) || !bytes.Equal(b[32:36], make([]byte, 4)) || !bytes.Equal(b[48:], make([]byte, 16)) {
		t.Errorf("the object's output bytes %v, want %v (a plain request's) at offset 36 only", b[32:], want)
	}

	for _, e := range []exchange{
		{"an unknown region", "POST", "/v2/models/iris/infer", "application/json", []byte(`{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","parameters":{"shared_memory_region":"nope","shared_memory_byte_size":16}}]}`),
			400, "BadRequestException", `input \"features\": no shared memory region \"nope\" is registered`},
		{"a size that is not the shape's", "POST", "/v2/models/iris/infer", "application/json", []byte(`{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","parameters":{"shared_memory_region":"in","shared_memory_byte_size":12}}]}`),
			400, "BadRequestException", `input \"features\"`},
		{"data twice", "POST", "/v2/models/iris/infer", "application/json", []byte(`{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[1,2,3,4],"parameters":{"shared_memory_region":"in","shared_memory_byte_size":16}}]}`),
			400, "BadRequestException", "send it there or in the request, not both"},
		{"no byte size", "POST", "/v2/models/iris/infer", "application/json", []byte(`{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","parameters":{"shared_memory_region":"in"}}]}`),
			400, "BadRequestException", "parameter shared_memory_byte_size must be a number of bytes"},
		{"an output region too small", "POST", "/v2/models/iris/infer", "application/json", []byte(`{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],
			"outputs":[{"name":"probabilities","parameters":{"shared_memory_region":"out","shared_memory_byte_size":8}}]}`),
			400, "BadRequestException", "the output takes 12 bytes, more than shared_memory_byte_size 8"},
		{"an output past its region", "POST", "/v2/models/iris/infer", "application/json", []byte(`{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],
			"outputs":[{"name":"probabilities","parameters":{"shared_memory_region":"out","shared_memory_byte_size":12,"shared_memory_offset":24}}]}`),
			400, "BadRequestException", "run past it"},
		{"unregister in", "POST", "/v2/systemsharedmemory/region/in/unregister", "", nil, 200, "", ""},
		{"in is gone", "POST", "/v2/models/iris/infer", "application/json", []byte(`{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","parameters":{"shared_memory_region":"in","shared_memory_byte_size":16}}]}`),
			400, "BadRequestException", `no shared memory region \"in\" is registered`},
		{"unregister all", "POST", "/v2/systemsharedmemory/unregister", "", nil, 200, "", ""},
		{"none left", "GET", "/v2/systemsharedmemory/status", "", nil, 200, "", "[]"},
	} {
		e.run(t, base)
	}

	off := emptyServer(t, nil)
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, off.management.URL)
	for _, e := range []exchange{
		{"off: register", "POST", "/v2/systemsharedmemory/region/in/register", "application/json", []byte(`{"key": "` + key + `", "byte_size": 16}`), 400, "BadRequestException", "system shared memory is off: start ts serve with --shared-memory"},
		{"off: infer", "POST", "/v2/models/iris/infer", "application/json", []byte(`{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","parameters":{"shared_memory_region":"in","shared_memory_byte_size":16}}]}`),
			400, "BadRequestException", "this server takes no shared memory"},
	} {
		e.run(t, off.inference.URL)
	}
}

// TestSystemSharedMemoryGRPC: the same over Triton's gRPC API: register, status by name,
// ModelInfer with its input and one output in shared memory (the other output's raw
// contents stay at its index), unregister.
func TestSystemSharedMemoryGRPC(t *testing.T) {
	ts := emptyServer(t, map[string]string{"enable_shared_memory": "true"})
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	oip := oippb.NewGRPCInferenceServiceClient(grpcDial(t, ts, GRPCInference))
	ctx := context.Background()
	key, path := shmObject(t, 32)
	os.WriteFile(path, append(float32Bytes(6.7, 3.0, 5.2, 2.3), make([]byte, 16)...), 0o600)
	if _, err := oip.SystemSharedMemoryRegister(ctx, &oippb.SystemSharedMemoryRegisterRequest{Name: "io", Key: key, ByteSize: 32}); err != nil {
		t.Fatal(err)
	}
	st, err := oip.SystemSharedMemoryStatus(ctx, &oippb.SystemSharedMemoryStatusRequest{Name: "io"})
	if err != nil || st.GetRegions()["io"].GetByteSize() != 32 || st.GetRegions()["io"].GetKey() != key {
		t.Fatalf("status %v %v", st, err)
	}
	region := func(offset, size int64) map[string]*oippb.InferParameter {
		return map[string]*oippb.InferParameter{
			"shared_memory_region":    {ParameterChoice: &oippb.InferParameter_StringParam{StringParam: "io"}},
			"shared_memory_byte_size": {ParameterChoice: &oippb.InferParameter_Int64Param{Int64Param: size}},
			"shared_memory_offset":    {ParameterChoice: &oippb.InferParameter_Int64Param{Int64Param: offset}},
		}
	}
	res, err := oip.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "iris",
		Inputs:  []*oippb.ModelInferRequest_InferInputTensor{{Name: "features", Datatype: "FP32", Shape: []int64{1, 4}, Parameters: region(0, 16)}},
		Outputs: []*oippb.ModelInferRequest_InferRequestedOutputTensor{{Name: "probabilities", Parameters: region(16, 16)}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetOutputs()) != 1 || len(res.GetRawOutputContents()) != 1 || len(res.GetRawOutputContents()[0]) != 0 ||
		res.GetOutputs()[0].GetParameters()["shared_memory_byte_size"].GetInt64Param() != 12 {
		t.Errorf("answer %v", res)
	}
	plain, err := oip.ModelInfer(ctx, &oippb.ModelInferRequest{ModelName: "iris",
		Inputs: []*oippb.ModelInferRequest_InferInputTensor{{Name: "features", Datatype: "FP32", Shape: []int64{1, 4}, Contents: &oippb.InferTensorContents{Fp32Contents: []float32{6.7, 3.0, 5.2, 2.3}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b[16:28], plain.GetRawOutputContents()[0]) {
		t.Errorf("shared memory holds %v, a plain request answers %v", b[16:28], plain.GetRawOutputContents()[0])
	}
	if _, err := oip.SystemSharedMemoryUnregister(ctx, &oippb.SystemSharedMemoryUnregisterRequest{}); err != nil {
		t.Fatal(err)
	}
	if st, err := oip.SystemSharedMemoryStatus(ctx, &oippb.SystemSharedMemoryStatusRequest{}); err != nil || len(st.GetRegions()) != 0 {
		t.Errorf("after unregistering: %v %v", st, err)
	}
	if _, err := oip.CudaSharedMemoryRegister(ctx, &oippb.CudaSharedMemoryRegisterRequest{Name: "g", ByteSize: 8}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("CUDA register: %v", err)
	}
}
