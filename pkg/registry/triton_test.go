package registry

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/tensor"
)

// tritonModel writes a Triton model folder named name holding the iris sample in each
// version folder, with config.pbtxt.
func tritonModel(t *testing.T, name, config string, versions ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	model, err := os.ReadFile(testenv.Path("samples/iris/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		os.MkdirAll(filepath.Join(dir, v), 0o755)
		os.WriteFile(filepath.Join(dir, v, "model.onnx"), model, 0o644)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.pbtxt"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTritonSettings: config.pbtxt's scheduling, queue, instances, cache and warm-up become
// the version's settings, each shown as coming from config.pbtxt; a register request still
// overrides them.
func TestTritonSettings(t *testing.T) {
	config := `
name: "iris"
max_batch_size: 16
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 2500
  default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 300000 max_queue_size: 32 }
}
instance_group [ { count: 2 kind: KIND_CPU }, { kind: KIND_CPU } ]
response_cache { enable: true }
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
parameters { key: "inter_op_thread_count" value: { string_value: "2" } }
parameters { key: "execution_mode" value: { string_value: "1" } }
parameters { key: "enable_mem_arena" value: { string_value: "true" } }
parameters { key: "enable_mem_pattern" value: { string_value: "off" } }
parameters { key: "memory.enable_memory_arena_shrinkage" value: { string_value: "cpu:0" } }
parameters { key: "session.use_device_allocator_for_initializers" value: { string_value: "1" } }
model_warmup [
  { name: "one" batch_size: 1 inputs { key: "features" value: { data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } } },
  { name: "many" batch_size: 8 count: 3 inputs { key: "features" value: { data_type: TYPE_FP32 dims: [ 4 ] random_data: true } } }
]`
	r := newRegistry(t, Defaults{})
	v, err := r.Register(context.Background(), Spec{Path: tritonModel(t, "iris", config, "1"), Overrides: Overrides{ResponseTimeout: ptr(9)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	s := v.Settings()
	for _, c := range []struct {
		key       string
		got, want int
	}{
		{"batchSize", s.BatchSize, 16},
		{"maxBatchDelay", s.MaxBatchDelay, 3}, // 2.5 ms, rounded up
		{"maxQueueTime", s.MaxQueueTime, 300},
		{"jobQueueSize", s.JobQueueSize, 32},
		{"minWorkers", s.MinWorkers, 3},
		{"maxWorkers", s.MaxWorkers, 3},
		{"intraOpThreads", s.IntraOpThreads, 1},
		{"interOpThreads", s.InterOpThreads, 2},
	} {
		if c.got != c.want || s.Sources[c.key] != FromTritonConfig {
			t.Errorf("%s = %d from %q, want %d from config.pbtxt", c.key, c.got, s.Sources[c.key], c.want)
		}
	}
	if s.ExecutionMode != "parallel" || !s.MemArena || s.MemPattern || s.MemArenaShrinkage != "cpu:0" || s.SessionConfig["session.use_device_allocator_for_initializers"] != "1" || s.Sources["executionMode"] != FromTritonConfig ||
		s.Sources["memArena"] != FromTritonConfig || s.Sources["memPattern"] != FromTritonConfig {
		t.Errorf("executionMode %q, memArena %v, memPattern %v, memArenaShrinkage %q, sources %v: want parallel, arena on, pattern off, cpu:0, from config.pbtxt", s.ExecutionMode, s.MemArena, s.MemPattern, s.MemArenaShrinkage, s.Sources)
	}
	if s.DeviceType != DeviceCPU || len(s.DeviceIDs) > 0 || s.Sources["deviceType"] != FromTritonConfig {
		t.Errorf("KIND_CPU: deviceType %q, deviceIds %v from %s", s.DeviceType, s.DeviceIDs, s.Sources["deviceType"])
	}
	if s.GraphOptimization != "all" || s.Sources["graphOptimization"] != FromDefault {
		t.Errorf("graphOptimization %q from %s, want all by default", s.GraphOptimization, s.Sources["graphOptimization"])
	}
	if s.MaxQueueTimeAction != QueueTimeReject || s.AllowQueueTimeOverride || s.Sources["maxQueueTimeAction"] != FromTritonConfig {
		t.Errorf("maxQueueTimeAction %q from %s, allowQueueTimeOverride %v: want reject from config.pbtxt, no override", s.MaxQueueTimeAction, s.Sources["maxQueueTimeAction"], s.AllowQueueTimeOverride)
	}
	if !slices.Equal(s.PreferredBatchSizes, []int{4, 8}) || !s.ResponseCache {
		t.Errorf("preferredBatchSizes %v, responseCache %v", s.PreferredBatchSizes, s.ResponseCache)
	}
	if s.ResponseTimeout != 9 || s.Sources["responseTimeout"] != FromRegister {
		t.Errorf("responseTimeout %d from %s: the register request's must win", s.ResponseTimeout, s.Sources["responseTimeout"])
	}
	w := s.Warmup
	if w == nil || w.Runs != 3 || !slices.Equal(w.BatchSizes, []int{1, 8}) || w.Data != WarmupRandom || !slices.Equal(w.Shapes["features"], []int64{4}) {
		t.Errorf("warm-up %+v", w)
	}
	if v.Handler != "tensor" || v.Version != "1" || v.TritonConfig().GetMaxBatchSize() != 16 {
		t.Errorf("handler %s, version %s", v.Handler, v.Version)
	}
	out, err := v.InferTensors(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})}, 0)
	if err != nil || len(out) == 0 {
		t.Fatalf("inference: %v", err)
	}

	// DELAY, and a request may ask for less
	delay := `max_batch_size: 8
dynamic_batching { default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 1500 allow_timeout_override: true } }
optimization { graph { level: 2 } }
instance_group [ { count: 1 } ]`
	v, err = r.Register(context.Background(), Spec{Path: tritonModel(t, "delay", delay, "1"), Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Settings(); s.ExecutionMode != "sequential" || !s.MemArena || !s.MemPattern || s.InterOpThreads != 0 || s.Sources["memArena"] != FromDefault {
		t.Errorf("without the parameters: executionMode %q, memArena %v, memPattern %v, interOpThreads %d from %s: want ONNX Runtime's defaults", s.ExecutionMode, s.MemArena, s.MemPattern, s.InterOpThreads, s.Sources["memArena"])
	}
	if s := v.Settings(); s.MaxQueueTime != 2 || s.MaxQueueTimeAction != QueueTimeDelay || !s.AllowQueueTimeOverride || s.Sources["allowQueueTimeOverride"] != FromTritonConfig {
		t.Errorf("DELAY policy: maxQueueTime %d, action %q, override %v from %s", s.MaxQueueTime, s.MaxQueueTimeAction, s.AllowQueueTimeOverride, s.Sources["allowQueueTimeOverride"])
	}
	// a level's own policy, at the priority the level runs at
	levels := `max_batch_size: 8
dynamic_batching { priority_levels: 3 default_priority_level: 2
  priority_queue_policy { key: 1 value: { max_queue_size: 3 default_timeout_microseconds: 49500 timeout_action: DELAY } }
  priority_queue_policy { key: 3 value: { allow_timeout_override: true default_timeout_microseconds: 1000 } } }`
	lv, err := r.Register(context.Background(), Spec{Path: tritonModel(t, "levels", levels, "1"), Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]PriorityQueuePolicy{
		1:  {JobQueueSize: 3, MaxQueueTime: 50, MaxQueueTimeAction: QueueTimeDelay},
		-1: {MaxQueueTime: 1, MaxQueueTimeAction: QueueTimeReject, AllowQueueTimeOverride: true},
	}
	if s := lv.Settings(); !maps.Equal(s.PriorityQueuePolicies, want) || s.Sources["priorityQueuePolicies"] != FromTritonConfig {
		t.Errorf("priorityQueuePolicies %v from %s, want %v", s.PriorityQueuePolicies, s.Sources["priorityQueuePolicies"], want)
	}

	// with levels, max_queue_size bounds each level (Triton's), the whole queue their sum
	perLevel := `max_batch_size: 8
dynamic_batching { priority_levels: 3 default_priority_level: 2
  default_queue_policy { max_queue_size: 4 default_timeout_microseconds: 2000 }
  priority_queue_policy { key: 1 value: { max_queue_size: 2 } } }`
	pl, err := r.Register(context.Background(), Spec{Path: tritonModel(t, "perlevel", perLevel, "1"), Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	want = map[int]PriorityQueuePolicy{
		1:  {JobQueueSize: 2, MaxQueueTimeAction: QueueTimeReject},
		0:  {JobQueueSize: 4, MaxQueueTime: 2, MaxQueueTimeAction: QueueTimeReject},
		-1: {JobQueueSize: 4, MaxQueueTime: 2, MaxQueueTimeAction: QueueTimeReject},
	}
	if s := pl.Settings(); !maps.Equal(s.PriorityQueuePolicies, want) || s.JobQueueSize != 10 || s.Sources["jobQueueSize"] != FromTritonConfig {
		t.Errorf("max_queue_size per level: policies %v, jobQueueSize %d from %s; want %v and 10", s.PriorityQueuePolicies, s.JobQueueSize, s.Sources["jobQueueSize"], want)
	}
	unbounded := strings.Replace(perLevel, "max_queue_size: 2", "max_queue_size: 0", 1)
	ub, err := r.Register(context.Background(), Spec{Path: tritonModel(t, "unbounded", unbounded, "1"), Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := ub.Settings(); s.JobQueueSize != 100 || s.Sources["jobQueueSize"] == FromTritonConfig || s.PriorityQueuePolicies[1].JobQueueSize != 0 || s.PriorityQueuePolicies[0].JobQueueSize != 4 {
		t.Errorf("a level without a bound: jobQueueSize %d from %s, policies %v; want the server's", s.JobQueueSize, s.Sources["jobQueueSize"], s.PriorityQueuePolicies)
	}

	// the onnxruntime backend's graph level 2: no optimisation; the model still serves
	if s := v.Settings(); s.GraphOptimization != "disable" || s.Sources["graphOptimization"] != FromTritonConfig {
		t.Errorf("graph level 2: graphOptimization %q from %s, want disable from config.pbtxt", s.GraphOptimization, s.Sources["graphOptimization"])
	}
	if _, err := v.InferTensors(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})}, 0); err != nil {
		t.Errorf("inference without graph optimisations: %v", err)
	}

	// KIND_GPU on GPUs 1 and 0: a session on each (on this CPU server: the CPU, as
	// TorchServe's GPU models on a host without one)
	gpus := `instance_group [ { count: 1 kind: KIND_GPU gpus: [ 1 ] }, { count: 1 kind: KIND_GPU gpus: [ 0, 1 ] } ]`
	v, err = r.Register(context.Background(), Spec{Path: tritonModel(t, "gpus", gpus, "1"), Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Settings(); s.DeviceType != DeviceGPU || !slices.Equal(s.DeviceIDs, []int{1, 0}) || s.MinWorkers != 3 {
		t.Errorf("KIND_GPU: deviceType %q, deviceIds %v, %d workers", s.DeviceType, s.DeviceIDs, s.MinWorkers)
	}
	if providers, _ := v.Settings().Providers("cpu"); !slices.Equal(providers, []string{"cuda:1", "cuda:0"}) {
		t.Errorf("KIND_GPU on GPUs 1 and 0: providers %s", providers)
	}

	// without dynamic_batching, Triton runs each request alone
	v, err = r.Register(context.Background(), Spec{Path: tritonModel(t, "alone", "max_batch_size: 16", "1"), Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Settings(); s.BatchSize != 1 || s.Sources["batchSize"] != FromDefault {
		t.Errorf("no dynamic_batching: batchSize %d from %s", s.BatchSize, s.Sources["batchSize"])
	}
}

// TestTritonRegisterAll: a Triton model folder registers every version its policy serves,
// the highest the default; a version that fails undoes the others; the inputs and outputs
// config.pbtxt declares are checked against the model's.
func TestTritonRegisterAll(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t, Defaults{})
	dir := tritonModel(t, "iris", "version_policy: { all { } }", "1", "2", "3")
	versions, err := r.RegisterAll(ctx, Spec{Path: dir, URL: "iris", Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range versions {
		got = append(got, v.Version)
	}
	if !slices.Equal(got, []string{"3", "2", "1"}) {
		t.Errorf("registered %v", got)
	}
	if e, err := r.Model("iris"); err != nil || e.DefaultVersion != "3" {
		t.Errorf("default version %q (%v), want the highest", e.DefaultVersion, err)
	}
	one, err := r.RegisterAll(ctx, Spec{Path: dir, URL: "iris", Name: "iris-one", Version: "2", Synchronous: true})
	if err != nil || len(one) != 1 || one[0].Version != "2" {
		t.Fatalf("one version asked: %v, %v", one, err)
	}

	// version 1 of this folder is not an ONNX model: 2 registers, then 1 fails and 2 goes
	bad := tritonModel(t, "half", "version_policy: { all { } }", "1", "2")
	os.WriteFile(filepath.Join(bad, "1", "model.onnx"), []byte("not a model"), 0o644)
	if _, err := r.RegisterAll(ctx, Spec{Path: bad, URL: "half", Synchronous: true}); err == nil {
		t.Fatal("a broken version registered")
	}
	if _, err := r.Model("half"); err == nil {
		t.Error("the versions registered before the broken one stayed")
	}

	for _, c := range []struct{ config, want string }{
		{`input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]`, `input "x" is not one of the model's (features)`},
		{`input [ { name: "features" data_type: TYPE_INT64 dims: [ 4 ] } ]`, "data_type TYPE_INT64, but the model's is FP32"},
		{`output [ { name: "nothing" data_type: TYPE_FP32 dims: [ 3 ] } ]`, `output "nothing"`},
		{`max_batch_size: 4 dynamic_batching { preferred_batch_size: [ 8 ] }`, "preferredBatchSizes"},
		{`parameters { key: "intra_op_thread_count" value: { string_value: "many" } }`, "not a count of threads"},
		{`parameters { key: "inter_op_thread_count" value: { string_value: "-1" } }`, `parameter inter_op_thread_count "-1" is not a count of threads`},
		{`parameters { key: "execution_mode" value: { string_value: "2" } }`, `execution_mode "2": the onnxruntime backend takes 0 (sequential) or 1 (parallel)`},
		{`parameters { key: "enable_mem_arena" value: { string_value: "yes" } }`, `parameter enable_mem_arena "yes" is not 1 or 0`},
		{`parameters { key: "memory.enable_memory_arena_shrinkage" value: { string_value: "cpu" } }`, `memArenaShrinkage (from config.pbtxt): memory arena shrinkage "cpu": want devices such as cpu:0`},
		{`max_batch_size: 4 dynamic_batching { priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 3 value: { max_queue_size: 1 } } }`, "priority_queue_policy for level 3, but priority_levels is 2"},
		{`instance_group [ { kind: KIND_CPU }, { kind: KIND_GPU } ]`, "instance_group has both KIND_CPU and KIND_GPU instances: ts runs a model version on one device"},
		{`optimization { graph { level: 3 } }`, "optimization graph level 3: the onnxruntime backend takes -1 (basic), 1 (extended) or 2 (none)"},
	} {
		_, err := r.RegisterAll(ctx, Spec{Path: tritonModel(t, "checked", c.config, "1"), URL: "checked"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.config, err, c.want)
		}
	}
}

// TestTakesImages: the models whose one input is a batch of images, for the hint that an
// image handler reads image files.
func TestTakesImages(t *testing.T) {
	for _, c := range []struct {
		in   tensor.Info
		want bool
	}{
		{tensor.Info{DType: tensor.Float32, Shape: []int64{-1, 3, 224, 224}}, true},
		{tensor.Info{DType: tensor.Uint8, Shape: []int64{-1, -1, -1, 3}}, true},
		{tensor.Info{DType: tensor.Float32, Shape: []int64{-1, 28, 28, 1}}, true},
		{tensor.Info{DType: tensor.Float32, Shape: []int64{-1, 4}}, false},
		{tensor.Info{DType: tensor.Int64, Shape: []int64{-1, 3, 8, 8}}, false},
		{tensor.Info{DType: tensor.Float32, Shape: []int64{-1, 16, 8, 8}}, false},
	} {
		if got := takesImages([]tensor.Info{c.in}); got != c.want {
			t.Errorf("%s: %v", c.in, got)
		}
	}
	two := []tensor.Info{{DType: tensor.Float32, Shape: []int64{-1, 3, 8, 8}}, {DType: tensor.Float32, Shape: []int64{-1, 2}}}
	if takesImages(two) {
		t.Error("a model with two inputs")
	}
}

// TestTritonPriority: Triton's priority levels (1 the highest) as ts's priorities (higher
// first), the default level at 0; a model without priority_levels takes none.
func TestTritonPriority(t *testing.T) {
	r := newRegistry(t, Defaults{})
	v, err := r.Register(context.Background(), Spec{Path: tritonModel(t, "iris", "max_batch_size: 4 dynamic_batching { priority_levels: 3 default_priority_level: 2 }", "1")})
	if err != nil {
		t.Fatal(err)
	}
	for level, want := range map[int64]int{1: 1, 2: 0, 3: -1, 0: 0, 9: 0} {
		if got, ok := v.TritonPriority(level); !ok || got != want {
			t.Errorf("level %d: %d %v, want %d", level, got, ok, want)
		}
	}
	plain, err := r.Register(context.Background(), Spec{Path: tritonModel(t, "plain", "max_batch_size: 4", "1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.TritonPriority(1); ok {
		t.Error("a model without priority_levels took a Triton priority")
	}
	_, err = r.Register(context.Background(), Spec{Path: tritonModel(t, "bad", "max_batch_size: 4 dynamic_batching { priority_levels: 3 }", "1")})
	if err == nil || !strings.Contains(err.Error(), "default_priority_level must be between 1 and priority_levels (3), got 0") {
		t.Errorf("levels without a default: %v", err)
	}
}

// TestModelSizeThroughLinks: a bare ONNX file's version counts the model and its external
// data, which its folder holds as links, as what a second session needs.
func TestModelSizeThroughLinks(t *testing.T) {
	r := newRegistry(t, Defaults{})
	src := testenv.Path("pkg/engine/testdata/external.onnx")
	v, err := r.Register(context.Background(), Spec{Path: src})
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, f := range []string{src, src + ".data"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		want += st.Size()
	}
	if got := v.modelSize(); got != want {
		t.Errorf("modelSize %d, want %d (the model and its external data)", got, want)
	}
}

// TestExternalDataLinked: a bare .onnx file whose weights are in external data serves, as
// the data lies beside it and as a Hugging Face cache keeps them (the model and its data
// links in a snapshot folder, each to a blob named by its hash elsewhere): ONNX Runtime
// refuses data that resolves outside the model's folder, so ts links the data in hard.
func TestExternalDataLinked(t *testing.T) {
	r := newRegistry(t, Defaults{})
	model, data := testenv.Path("pkg/engine/testdata/external.onnx"), testenv.Path("pkg/engine/testdata/external.onnx.data")
	// a Hugging Face cache: snapshots/main/<file> links to blobs/<hash>
	hfCache := func(cache string) string {
		blobs, snapshot := filepath.Join(cache, "blobs"), filepath.Join(cache, "snapshots", "main")
		for _, d := range []string{blobs, snapshot} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for src, blob := range map[string]string{model: "3f2a", data: "9c1e"} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(blobs, blob), b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(snapshot, filepath.Base(src))); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(snapshot, "external.onnx")
	}
	paths := map[string]string{"beside": model, "cache": hfCache(t.TempDir())}
	// a cache on another file system than the server's temporary folder (tmpfs), where the
	// data cannot be linked in hard beside the model
	if shm, err := os.MkdirTemp("/dev/shm", "hfcache"); err == nil {
		t.Cleanup(func() { os.RemoveAll(shm) })
		paths["othercache"] = hfCache(shm)
	} else {
		t.Logf("no cache on another file system: %v", err)
	}
	for name, path := range paths {
		v, err := r.Register(context.Background(), Spec{Path: path, Name: name, Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := v.InferTensors(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{1, 0, 0, 1})}, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, _ := tensor.Values[float32](out[0]); len(got) != 3 || math.Abs(float64(got[1])-1.1) > 1e-6 {
			t.Errorf("%s: y = %v, want [0.9 1.1 1.3]", name, got)
		}
	}
}

// TestTritonUnapplied: what ts reads from config.pbtxt without applying it is said, so that
// a Triton user is not left to guess.
func TestTritonUnapplied(t *testing.T) {
	r := newRegistry(t, Defaults{})
	config := `
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
parameters { key: "enable_mem_arena" value: { string_value: "1" } }
parameters { key: "arena_extend_strategy" value: { string_value: "1" } }
parameters { key: "session.disable_prepacking" value: { string_value: "1" } }
optimization { execution_accelerators { gpu_execution_accelerator: [ { name: "tensorrt" parameters { key: "precision_mode" value: "FP16" } } ] } }`
	v, err := r.Register(context.Background(), Spec{Path: tritonModel(t, "noted", config, "1")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`parameter "arena_extend_strategy" is not applied`,
		`parameter "session.disable_prepacking" is not applied`,
		`execution accelerator "tensorrt" is not applied: models run on the server's execution provider (ts serve --provider)`,
	}
	if got := tritonUnapplied(v.TritonConfig()); !slices.Equal(got, want) {
		t.Errorf("notes %q, want %q", got, want)
	}
	whole, err := r.Register(context.Background(), Spec{Path: tritonModel(t, "whole", `max_batch_size: 4 parameters { key: "handler" value: { string_value: "tensor" } }`, "1")})
	if err != nil {
		t.Fatal(err)
	}
	if got := tritonUnapplied(whole.TritonConfig()); len(got) != 0 {
		t.Errorf("a config ts applies whole: notes %q", got)
	}

	// a folder's versions share its config.pbtxt: its notes are logged once
	var log bytes.Buffer
	logged := New(Options{TempDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&log, nil)), Cores: 2})
	t.Cleanup(func() { logged.Close(context.Background()) })
	versions, err := logged.RegisterAll(context.Background(), Spec{Path: tritonModel(t, "three", config+" version_policy: { all { } }", "1", "2", "3")})
	if err != nil || len(versions) != 3 {
		t.Fatalf("versions %v, err %v", versions, err)
	}
	if n := strings.Count(log.String(), `arena_extend_strategy`); n != 1 {
		t.Errorf("the note on arena_extend_strategy logged %d times for three versions, want once:\n%s", n, log.String())
	}
}
