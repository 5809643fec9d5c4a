package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/onnx"
	"github.com/tsserve/ts/pkg/tensor"
	ort "github.com/yalue/onnxruntime_go"
)

// badLibEnv makes the test binary try to load the library it names and exit, so that load
// failures are checked in a fresh process (a process loads ONNX Runtime once).
const badLibEnv = "TS_ENGINE_TEST_LOAD_ONLY"

func TestMain(m *testing.M) {
	if path := os.Getenv(badLibEnv); path != "" {
		_, err := Init([]Candidate{{Path: path, Source: "test"}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	if model := os.Getenv(arenaChildEnv); model != "" {
		arenaChild(model, os.Getenv("TS_ENGINE_TEST_ARENA_MODE"))
	}
	if model := os.Getenv(rssChildEnv); model != "" {
		rssChild(model, os.Getenv("TS_ENGINE_TEST_RSS_TUNED") == "true")
	}
	if _, err := Init(config.ORTCandidates("")); err != nil {
		fmt.Fprintln(os.Stderr, "engine tests need ONNX Runtime (run 'make setup'):", err)
		os.Exit(1)
	}
	SetRuntimeLogging(false) // as ts serves: the tests' failing runs need not print
	os.Exit(m.Run())
}

func mustLoad(t *testing.T, path string, o Options) *Session {
	t.Helper()
	s, err := Load(path, o)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// closeTo reports whether got matches want within tol, relative to want's size (absolute below 1).
func closeTo(t *testing.T, name string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if !slices.Equal(got.Shape, want.Shape) || got.DType != want.DType {
		t.Fatalf("%s: got %s%v, want %s%v", name, got.DType, got.Shape, want.DType, want.Shape)
	}
	g, _ := got.Float64s()
	w, _ := want.Float64s()
	for i := range w {
		if math.Abs(g[i]-w[i]) > tol*math.Max(1, math.Abs(w[i])) {
			t.Fatalf("%s[%d] = %v, want %v (tolerance %g)", name, i, g[i], w[i], tol)
		}
	}
}

func argmaxRows(t *testing.T, x *tensor.Tensor) []int {
	v, err := x.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	cols := int(x.Shape[1])
	var out []int
	for r := 0; r < int(x.Shape[0]); r++ {
		row := v[r*cols : (r+1)*cols]
		out = append(out, slices.Index(row, slices.Max(row)))
	}
	return out
}

func TestSamplesMatchReference(t *testing.T) {
	cases := []struct {
		model, ref string
		tol        float64
	}{
		{"samples/digits/model.onnx", "samples/digits/reference.json", 1e-5},
		{"samples/iris/model.onnx", "samples/iris/reference.json", 1e-5},
		// float16 weights, inputs and outputs: agree to float16 precision
		{"samples/digits/model_fp16.onnx", "samples/digits/reference_fp16.json", 2e-3},
	}
	for _, c := range cases {
		t.Run(filepath.Base(filepath.Dir(c.model))+"/"+filepath.Base(c.model), func(t *testing.T) {
			s := mustLoad(t, testenv.Path(c.model), Options{})
			ref, err := testenv.LoadReference(testenv.Path(c.ref))
			if err != nil {
				t.Fatal(err)
			}
			var in []*tensor.Tensor
			for _, i := range s.Inputs() {
				in = append(in, ref.Inputs[i.Name])
			}
			out, err := s.Run(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range s.Outputs() {
				closeTo(t, o.Name, out[i], ref.Outputs[o.Name], c.tol)
			}
			if got := argmaxRows(t, out[0]); !slices.Equal(got, ref.Labels) {
				t.Errorf("predicted %v, labels %v", got, ref.Labels)
			}
		})
	}
}

func TestFP16AgreesWithFP32(t *testing.T) {
	f32 := mustLoad(t, testenv.Path("samples/digits/model.onnx"), Options{})
	f16 := mustLoad(t, testenv.Path("samples/digits/model_fp16.onnx"), Options{})
	if f16.Inputs()[0].DType != tensor.Float16 || f16.Outputs()[0].DType != tensor.Float16 {
		t.Fatalf("fp16 sample has %s inputs and %s outputs", f16.Inputs()[0].DType, f16.Outputs()[0].DType)
	}
	ref, err := testenv.LoadReference(testenv.Path("samples/digits/reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	x := ref.Inputs["input"]
	half, err := x.Convert(tensor.Float16)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f32.Run(context.Background(), []*tensor.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f16.Run(context.Background(), []*tensor.Tensor{half})
	if err != nil {
		t.Fatal(err)
	}
	if pa, pb := argmaxRows(t, a[0]), argmaxRows(t, b[0]); !slices.Equal(pa, pb) {
		t.Errorf("fp32 predicts %v, fp16 %v", pa, pb)
	}
}

func TestSignature(t *testing.T) {
	s := mustLoad(t, testenv.Path("samples/digits/model.onnx"), Options{})
	want := []string{"input: float32[-1,1,8,8]"}
	var got []string
	for _, i := range s.Inputs() {
		got = append(got, i.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("inputs %v, want %v", got, want)
	}
	if o := s.Outputs(); len(o) != 1 || o[0].String() != "logits: float32[-1,10]" {
		t.Errorf("outputs %v", o)
	}
}

// TestElementTypes feeds every supported element type through the identity model, with
// names containing ':' and an int64 scalar.
func TestElementTypes(t *testing.T) {
	s := mustLoad(t, "testdata/alltypes.onnx", Options{})
	values := map[tensor.DType][]float64{
		tensor.Float32: {1.5, -2.25, 3e10, 0, 1, 2},
		tensor.Float16: {1.5, -2.25, 65504, 0, 1, 2},
		tensor.Float64: {1.5, -2.25, 3e100, 0, 1, 2},
		tensor.Int64:   {1, -2, 1 << 53, 0, 1, 2},
		tensor.Int32:   {1, -2, math.MaxInt32, 0, 1, 2},
		tensor.Int8:    {1, -2, -128, 127, 1, 2},
		tensor.Uint8:   {1, 2, 255, 0, 1, 2},
		tensor.Bool:    {1, 0, 1, 1, 0, 0},
	}
	var in []*tensor.Tensor
	for _, i := range s.Inputs() {
		if i.Name == "k" {
			in = append(in, tensor.New([]int64{}, []int64{21}))
			continue
		}
		x, err := tensor.FromFloat64s(i.DType, []int64{2, 3}, values[i.DType])
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, x)
	}
	// outputs allocated in Go memory before the run (their shapes follow the batch), then by
	// ONNX Runtime and copied out (float16's through onnxruntime_go's custom data tensor)
	for _, ortAllocates := range []bool{false, true} {
		s.noPrealloc.Store(ortAllocates)
		out, err := s.Run(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(values)+1 {
			t.Fatalf("got %d outputs", len(out))
		}
		for i, o := range s.Outputs() {
			if o.Name == "k_twice" {
				if v, _ := tensor.Values[int64](out[i]); len(out[i].Shape) != 0 || len(v) != 1 || v[0] != 42 {
					t.Errorf("k_twice = %v shape %v, want scalar 42", v, out[i].Shape)
				}
				continue
			}
			if !strings.HasPrefix(o.Name, "y:") {
				t.Fatalf("unexpected output %q", o.Name)
			}
			want, _ := tensor.FromFloat64s(o.DType, []int64{2, 3}, values[o.DType])
			closeTo(t, fmt.Sprintf("%s (ONNX Runtime allocates: %v)", o.Name, ortAllocates), out[i], want, 0)
		}
	}
}

func TestInputErrors(t *testing.T) {
	s := mustLoad(t, testenv.Path("samples/digits/model.onnx"), Options{})
	good := tensor.New([]int64{1, 1, 8, 8}, make([]float32, 64))
	cases := []struct {
		name string
		in   []*tensor.Tensor
		want string
	}{
		{"no inputs", nil, "takes 1 inputs"},
		{"wrong type", []*tensor.Tensor{tensor.New([]int64{1, 1, 8, 8}, make([]float64, 64))}, "must be float32, got float64"},
		{"wrong rank", []*tensor.Tensor{tensor.New([]int64{1, 64}, make([]float32, 64))}, "must have shape [-1,1,8,8], got [1,64]"},
		{"wrong dim", []*tensor.Tensor{tensor.New([]int64{1, 1, 8, 7}, make([]float32, 56))}, "must have shape [-1,1,8,8]"},
		{"short data", []*tensor.Tensor{{DType: tensor.Float32, Shape: []int64{2, 1, 8, 8}, Data: good.Data}}, "needs 512 bytes"},
		{"empty batch", []*tensor.Tensor{tensor.New([]int64{0, 1, 8, 8}, []float32{})}, "is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Run(context.Background(), c.in)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want an InputError containing %q", err, c.want)
			}
		})
	}
}

// TestNamedDimensions checks that dimensions sharing a symbolic name across inputs must
// agree (ONNX Runtime would fail deep in the graph, or not at all), and that a request that
// keeps them equal runs.
func TestNamedDimensions(t *testing.T) {
	s := mustLoad(t, "testdata/masked.onnx", Options{})
	ids := func(rows, cols int64) *tensor.Tensor {
		return tensor.New([]int64{rows, cols}, make([]int32, rows*cols))
	}
	mask := func(rows, cols int64) *tensor.Tensor {
		return tensor.NewBool([]int64{rows, cols}, make([]bool, rows*cols))
	}
	cases := []struct {
		name string
		in   []*tensor.Tensor
		want string // "" when the run must succeed
	}{
		{"same", []*tensor.Tensor{ids(2, 3), mask(2, 3)}, ""},
		{"seq differs", []*tensor.Tensor{ids(1, 3), mask(1, 2)}, `dimension "seq" must be the same size in every input: "ids" has 3 (shape [1,3]), "mask" has 2 (shape [1,2])`},
		{"batch differs", []*tensor.Tensor{ids(2, 3), mask(1, 3)}, `dimension "batch" must be the same size in every input: "ids" has 2`},
		// empty in a dynamic dimension after the first (no tokens): it runs, its output empty
		{"no tokens", []*tensor.Tensor{ids(2, 0), mask(2, 0)}, ""},
		{"no rows", []*tensor.Tensor{ids(0, 3), mask(0, 3)}, `input "ids" is empty (shape [0,3])`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := s.Run(context.Background(), c.in)
			if c.want == "" {
				if err != nil || len(out) != 1 || !slices.Equal(out[0].Shape, c.in[0].Shape) {
					t.Fatalf("Run = %v, %v; want one output of shape %v", out, err, c.in[0].Shape)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want an InputError containing %q", err, c.want)
			}
		})
	}
}

// TestZeroDimension: a model that fixes a dimension at 0 takes the empty tensor it asks
// for (as ONNX Runtime does), and still not one without rows or one of another size.
func TestZeroDimension(t *testing.T) {
	s := mustLoad(t, "testdata/zerodim.onnx", Options{})
	out, err := s.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{2, 0}, []float32{})})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := out[0].Float64s(); err != nil || !slices.Equal(got, []float64{2, 0}) {
		t.Errorf("y = %v, %v; want [2 0]", got, err)
	}
	for _, in := range []*tensor.Tensor{
		tensor.New([]int64{0, 0}, []float32{}),
		tensor.New([]int64{1, 1}, []float32{1}),
	} {
		var ie *InputError
		if _, err := s.Run(context.Background(), []*tensor.Tensor{in}); !errors.As(err, &ie) {
			t.Errorf("shape %v: error %v, want an InputError", in.Shape, err)
		}
	}
}

// TestNulInName: a name holding a NUL character loads in ONNX Runtime but fails every run
// ("input name cannot be empty": its C API ends the name there); it is refused at load.
func TestNulInName(t *testing.T) {
	if _, err := Load("testdata/nulname.onnx", Options{}); err == nil || !strings.Contains(err.Error(), `"x\x00y" holds a NUL character`) {
		t.Errorf("Load: %v, want a refusal naming the NUL character", err)
	}
}

// TestExternalData: a model whose weights are in a file beside it runs, also opened through
// links in another folder (as ts links a bare .onnx file or a Triton folder it serves from
// where it is): ONNX Runtime refuses data that resolves outside the folder of the path it
// opens ("escapes model directory"), so the model is opened where it really is, and data
// that lies elsewhere under another name is given to ONNX Runtime from memory.
func TestExternalData(t *testing.T) {
	links := t.TempDir()
	for _, f := range []string{"external.onnx", "external.onnx.data"} {
		abs, _ := filepath.Abs(filepath.Join("testdata", f))
		if err := os.Symlink(abs, filepath.Join(links, f)); err != nil {
			t.Fatal(err)
		}
	}
	// the model in a folder, its data a link to a file of another name elsewhere (a Hugging
	// Face cache's blob, which could not be linked in hard from another file system): ONNX
	// Runtime refuses to read data outside the model's folder, so ts gives it from memory
	apart, blobs := t.TempDir(), t.TempDir()
	for src, dst := range map[string]string{"testdata/external.onnx": filepath.Join(apart, "external.onnx"), "testdata/external.onnx.data": filepath.Join(blobs, "9c1e")} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(blobs, "9c1e"), filepath.Join(apart, "external.onnx.data")); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"testdata/external.onnx", filepath.Join(links, "external.onnx"), filepath.Join(apart, "external.onnx")} {
		s, err := Load(path, Options{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out, err := s.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{1, 0, 0, 1})})
		s.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// x W for W = 0, 0.1, ... 1.1 row by row: rows 0 and 3 summed
		if got, _ := tensor.Values[float32](out[0]); len(got) != 3 || math.Abs(float64(got[0])-0.9) > 1e-6 || math.Abs(float64(got[2])-1.3) > 1e-6 {
			t.Errorf("%s: y = %v, want [0.9 1.1 1.3]", path, got)
		}
	}
}

// TestNoInputs runs a model that takes no inputs: its output comes from an initializer.
func TestNoInputs(t *testing.T) {
	s := mustLoad(t, "testdata/constant.onnx", Options{})
	if len(s.Inputs()) != 0 {
		t.Fatalf("inputs %v, want none", s.Inputs())
	}
	out, err := s.Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := out[0].Float64s()
	if err != nil || !slices.Equal(got, []float64{3.5, -1}) {
		t.Errorf("y = %v, %v; want [3.5 -1]", got, err)
	}
}

// TestConcurrentRuns checks that one session shared by many goroutines gives each caller
// exactly the answer a serial run gives.
func TestConcurrentRuns(t *testing.T) {
	s := mustLoad(t, testenv.Path("samples/digits/model.onnx"), Options{IntraOpThreads: 1})
	ref, err := testenv.LoadReference(testenv.Path("samples/digits/reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	all, _ := tensor.Values[float32](ref.Inputs["input"])
	batch := func(start, n int) *tensor.Tensor {
		return tensor.New([]int64{int64(n), 1, 8, 8}, all[start*64:(start+n)*64])
	}
	type job struct{ start, n int }
	var jobs []job
	for n := 1; n <= 8; n++ {
		for start := 0; start+n <= 16; start += 3 {
			jobs = append(jobs, job{start, n})
		}
	}
	serial := make([][]float32, len(jobs))
	for i, j := range jobs {
		out, err := s.Run(context.Background(), []*tensor.Tensor{batch(j.start, j.n)})
		if err != nil {
			t.Fatal(err)
		}
		serial[i], _ = tensor.Values[float32](out[0])
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for round := 0; round < 20; round++ {
				i := (g*7 + round*3) % len(jobs)
				out, err := s.Run(context.Background(), []*tensor.Tensor{batch(jobs[i].start, jobs[i].n)})
				if err != nil {
					errs <- err
					return
				}
				got, _ := tensor.Values[float32](out[0])
				if !slices.Equal(got, serial[i]) {
					errs <- fmt.Errorf("goroutine %d job %v: concurrent result differs from serial", g, jobs[i])
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLoadBytes(t *testing.T) {
	b, err := os.ReadFile(testenv.Path("samples/iris/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadBytes(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})})
	if err != nil {
		t.Fatal(err)
	}
	if got := argmaxRows(t, out[0]); got[0] != 0 {
		t.Errorf("iris setosa predicted as class %d", got[0])
	}
	if _, err := LoadBytes([]byte("not a model"), Options{}); err == nil {
		t.Error("loading garbage bytes succeeded")
	}
	if _, err := LoadBytes(nil, Options{}); err == nil {
		t.Error("loading no bytes succeeded")
	}
}

func TestOptions(t *testing.T) {
	model := testenv.Path("samples/iris/model.onnx")
	for _, level := range []string{"disable", "basic", "extended", "all"} {
		s := mustLoad(t, model, Options{OptLevel: level, IntraOpThreads: 2, InterOpThreads: 1, Spinning: true})
		if s.Provider() != "cpu" {
			t.Errorf("provider %q", s.Provider())
		}
	}
	for _, bad := range []Options{{OptLevel: "max"}, {Provider: "tpu"}, {Provider: "cuda:x"}, {Provider: "cpu:1"}} {
		if _, err := Load(model, bad); err == nil {
			t.Errorf("Load with %+v succeeded", bad)
		}
	}
}

// TestExecutionOptions: parallel execution with inter-op threads starts ONNX Runtime's
// inter-op pool (threads the process did not have), sequential execution does not (a few
// threads the Go runtime may start meanwhile are allowed for); every combination with the
// memory arena and pattern off answers as the defaults do.
func TestExecutionOptions(t *testing.T) {
	model := testenv.Path("samples/iris/model.onnx")
	threads := func() int {
		entries, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	in := tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})
	want, err := mustLoad(t, model, Options{IntraOpThreads: 1}).Run(context.Background(), []*tensor.Tensor{in})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{IntraOpThreads: 1, InterOpThreads: 8, ExecutionMode: "sequential"},
		{IntraOpThreads: 1, InterOpThreads: 8, ExecutionMode: "Parallel"},
		{IntraOpThreads: 1, NoMemArena: true, NoMemPattern: true},
		{IntraOpThreads: 1, InterOpThreads: 2, ExecutionMode: "parallel", NoMemArena: true},
	} {
		before := threads()
		s := mustLoad(t, model, o)
		added := threads() - before
		parallel := strings.EqualFold(o.ExecutionMode, "parallel")
		switch {
		case parallel && added < o.InterOpThreads-1:
			t.Errorf("%+v: %d threads started, want the inter-op pool's %d", o, added, o.InterOpThreads-1)
		case !parallel && added >= 3:
			t.Errorf("%+v: %d threads started, want none (intra-op 1, no inter-op pool)", o, added)
		}
		got, err := s.Run(context.Background(), []*tensor.Tensor{in})
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		g, _ := got[0].Float32s()
		w, _ := want[0].Float32s()
		if len(g) == 0 || !slices.Equal(g, w) {
			t.Errorf("%+v: %v, want %v", o, g, w)
		}
	}
	if _, err := Load(model, Options{ExecutionMode: "concurrent"}); err == nil || !strings.Contains(err.Error(), "want sequential or parallel") {
		t.Errorf("unknown execution mode: %v", err)
	}
	// a shrinkage list naming a device without an arena would fail every run: refused
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{ArenaShrinkage: "cpu:0", NoMemArena: true}, `memory arena shrinkage "cpu:0": the CPU memory arena is off`},
		{Options{ArenaShrinkage: "cpu:1"}, "the CPU is device cpu:0"},
		{Options{ArenaShrinkage: "cpu:0;gpu:0"}, "the model runs on cpu, not on gpu:0"},
		{Options{ArenaShrinkage: "cpu0"}, "want devices such as cpu:0 or gpu:1"},
	} {
		if _, err := Load(model, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error saying %q", c.o, err, c.want)
		}
	}
	for _, c := range []struct {
		devices, provider string
		noArena, ok       bool
	}{
		{"cpu:0;gpu:1", "cuda:1", false, true},
		{"gpu:0", "tensorrt", true, true},
		{"gpu:0", "cuda:1", false, false},
		{"cpu:0;gpu:0", "cuda:0", true, false},
		{"", "cpu", true, true},
	} {
		if err := CheckArenaShrinkageFits(c.devices, c.provider, c.noArena); (err == nil) != c.ok {
			t.Errorf("shrinking %q on %s (arena off %v): %v", c.devices, c.provider, c.noArena, err)
		}
	}
	// session configuration entries reach ONNX Runtime: forcing its own ORT format fails to
	// load an ONNX file; an entry it knows and accepts loads
	if _, err := Load(model, Options{SessionConfig: map[string]string{"session.load_model_format": "ORT"}}); err == nil {
		t.Error("an ONNX model loaded with session.load_model_format ORT: the entry was not set")
	}
	if s, err := Load(model, Options{SessionConfig: map[string]string{"session.set_denormal_as_zero": "1", "session.disable_prepacking": "1"}}); err != nil {
		t.Errorf("session configuration entries: %v", err)
	} else {
		if _, err := s.Run(context.Background(), []*tensor.Tensor{in}); err != nil {
			t.Errorf("a run with session configuration entries: %v", err)
		}
		s.Close()
	}
	s := mustLoad(t, model, Options{ArenaShrinkage: "cpu:0"})
	if _, err := s.Run(context.Background(), []*tensor.Tensor{in}); err != nil {
		t.Errorf("a run shrinking the CPU arena: %v", err)
	}
}

func TestProviders(t *testing.T) {
	lib := Loaded()
	if lib.Version != "1.24.1" || !slices.Contains(lib.Providers, "cpu") {
		t.Fatalf("library %+v", lib)
	}
	model := testenv.Path("samples/iris/model.onnx")
	s, err := Load(model, Options{Provider: "cuda:0"})
	if slices.Contains(lib.Providers, "cuda") {
		if err != nil || s.Provider() != "cuda:0" {
			t.Fatalf("cuda listed but unusable: %v", err)
		}
		s.Close()
		return
	}
	if err == nil || !strings.Contains(err.Error(), "not available") {
		t.Fatalf("cuda on a CPU-only library: err = %v", err)
	}
	s = mustLoad(t, model, Options{Provider: "cuda:0", ProviderFallback: true})
	if s.Provider() != "cpu" {
		t.Errorf("fallback provider %q, want cpu", s.Provider())
	}
}

func TestCancelledRun(t *testing.T) {
	s := mustLoad(t, testenv.Path("samples/iris/model.onnx"), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Run(ctx, []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestBadLibrary loads missing and wrong libraries in child processes: each must fail with a
// one-line error naming what it tried, never crash.
func TestBadLibrary(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "libonnxruntime.so")
	if err := os.WriteFile(text, []byte("not a library\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// a real shared library that is not ONNX Runtime
	notORT := ""
	for _, p := range []string{"/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/aarch64-linux-gnu/libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1"} {
		if _, err := os.Stat(p); err == nil {
			notORT = p
			break
		}
	}
	cases := map[string]string{
		"missing":   filepath.Join(dir, "nope.so"),
		"not a lib": text,
		"folder":    dir,
	}
	if notORT != "" {
		cases["other lib"] = notORT
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), badLibEnv+"="+path)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("exit %v, want 3; output:\n%s", err, out)
			}
			msg := strings.TrimSpace(string(out))
			if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "cannot load ONNX Runtime: tried "+path) || !strings.Contains(msg, "make setup") {
				t.Errorf("message is not one helpful line:\n%s", msg)
			}
		})
	}
}

// TestWrongDeclaredShape: outputs allocated from the declared shapes do not break a model
// whose real output shape differs; the run is retried with ONNX Runtime allocating.
func TestWrongDeclaredShape(t *testing.T) {
	s := mustLoad(t, "testdata/liar.onnx", Options{})
	for i := 0; i < 2; i++ {
		out, err := s.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 3}, []float32{1, 2, 3})})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := tensor.Values[float32](out[0]); !slices.Equal(out[0].Shape, []int64{2, 3}) || !slices.Equal(v, []float32{1, 2, 3, 1, 2, 3}) {
			t.Errorf("run %d: %v %v", i, out[0].Shape, v)
		}
	}
	if !s.noPrealloc.Load() {
		t.Error("outputs are still allocated from the declared shapes, which the model does not follow")
	}
}

// TestPassThroughOutput: an output that is the graph's input itself (passthrough.onnx) comes
// back holding the input's values, run after run (ONNX Runtime ignores a buffer given for
// such an output: allocated in advance, it came back as zeros).
func TestPassThroughOutput(t *testing.T) {
	s := mustLoad(t, "testdata/passthrough.onnx", Options{})
	for i, x := range [][]float32{{1, 2, 3, 4, 5, 6}, {-1, 0, 0.5, 7, 8, 9}} {
		out, err := s.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{2, 3}, x)})
		if err != nil {
			t.Fatal(err)
		}
		same, _ := tensor.Values[float32](out[0])
		plusOne, _ := tensor.Values[float32](out[1])
		want := make([]float32, len(x))
		for k, v := range x {
			want[k] = v + 1
		}
		if !slices.Equal(same, x) || !slices.Equal(out[0].Shape, []int64{2, 3}) || !slices.Equal(plusOne, want) {
			t.Errorf("run %d: x %v %v, y %v; want x %v, y %v", i, out[0].Shape, same, plusOne, x, want)
		}
	}
}

// TestFailedRunKeepsPrealloc: a run that fails on its values (an id past lookup.onnx's
// table) fails without preallocation too; the session keeps allocating its outputs.
func TestFailedRunKeepsPrealloc(t *testing.T) {
	s := mustLoad(t, "testdata/lookup.onnx", Options{})
	bad := tensor.New([]int64{1, 4}, []int64{1, 2, 3, 10})
	if _, err := s.Run(context.Background(), []*tensor.Tensor{bad}); err == nil || !strings.Contains(err.Error(), "indices element out of data bounds") {
		t.Fatalf("run with an id past the table: %v", err)
	}
	if s.noPrealloc.Load() {
		t.Error("a run that failed on its values turned output preallocation off")
	}
	out, err := s.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []int64{0, 1, 2, 9})})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := tensor.Values[float32](out[0]); !slices.Equal(out[0].Shape, []int64{1, 4, 2}) || !slices.Equal(v, []float32{0, 1, 2, 3, 4, 5, 18, 19}) {
		t.Errorf("got %v %v", out[0].Shape, v)
	}
}

// TestKernelRefusal: a run that fails inside an operator on what the input holds (an id past
// lookup.onnx's table: ONNX Runtime's INVALID_ARGUMENT; two rows for onerow.onnx's fixed
// reshape: its RUNTIME_EXCEPTION) is an *InputError that names the operator and says why,
// without ONNX Runtime's source locations; other failures are not.
func TestKernelRefusal(t *testing.T) {
	cases := []struct {
		model string
		input *tensor.Tensor
		want  string // "" : not an input error
	}{
		{"lookup", tensor.New([]int64{1, 4}, []int64{1, 2, 3, 10}),
			"the model cannot run on this input: its Gather operator failed: indices element out of data bounds, idx=10 must be within the inclusive range [-10,9]"},
		{"onerow", tensor.New([]int64{2, 3}, make([]float32, 6)),
			"the model cannot run on this input: its Reshape operator failed: The input tensor cannot be reshaped to the requested shape. Input shape:{2,3}, requested shape:{1,3}"},
		{"hungry", tensor.New([]int64{1}, []int64{1_000_000_000_000}), ""},
	}
	for _, c := range cases {
		s := mustLoad(t, "testdata/"+c.model+".onnx", Options{})
		_, err := s.Run(context.Background(), []*tensor.Tensor{c.input})
		var ie *InputError
		switch {
		case err == nil:
			t.Errorf("%s: the run did not fail", c.model)
		case c.want == "" && errors.As(err, &ie):
			t.Errorf("%s: %v is an input error", c.model, err)
		case c.want != "" && (!errors.As(err, &ie) || ie.Msg != c.want):
			t.Errorf("%s: %#v\nwant the input error %q", c.model, err, c.want)
		}
	}
	kernel := "Non-zero status code returned while running Add node. Name:'/layer.0/Add' Status Message: "
	for _, c := range []struct {
		err  error
		want string
	}{
		{&ort.StatusError{Code: ort.ErrorCodeRuntimeException, Message: kernel + "/onnxruntime_src/onnxruntime/core/providers/cpu/math/element_wise_ops.h:540 void onnxruntime::BroadcastIterator::Init(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 2 by 3\n"},
			`the model cannot run on this input: its Add operator (node "/layer.0/Add") failed: Attempting to broadcast an axis by a dimension other than 1. 2 by 3`},
		{fmt.Errorf("Error running network: %w", &ort.StatusError{Code: ort.ErrorCodeFail, Message: kernel + "concat.cc:154 PrepareForCompute Non concat axis dimensions must match"}),
			`the model cannot run on this input: its Add operator (node "/layer.0/Add") failed: Non concat axis dimensions must match`},
		{&ort.StatusError{Code: ort.ErrorCodeEPFail, Message: kernel + "the provider failed"}, ""},
		{&ort.StatusError{Code: ort.ErrorCodeInvalidArgument, Message: "Got invalid dimensions for input: x"}, ""},
		{errors.New(kernel + "no status code"), ""},
	} {
		if got := kernelRefusal(c.err); got != c.want {
			t.Errorf("kernelRefusal(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestOutOfResources: a run that ONNX Runtime cannot allocate memory for (hungry.onnx asked
// for a 4 TB buffer) fails with ErrOutOfResources, which TorchServe answers 507; other
// failures do not; the session serves the next run.
func TestOutOfResources(t *testing.T) {
	s := mustLoad(t, "testdata/hungry.onnx", Options{})
	_, err := s.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1}, []int64{1_000_000_000_000})})
	if !errors.Is(err, ErrOutOfResources) || !strings.Contains(err.Error(), "Failed to allocate memory") {
		t.Fatalf("run asking for 4 TB: %v, want ErrOutOfResources", err)
	}
	out, err := s.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1}, []int64{1000})})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := tensor.Values[float32](out[0]); !slices.Equal(v, []float32{1000}) {
		t.Errorf("sum of 1000 ones: %v", v)
	}
	lookup := mustLoad(t, "testdata/lookup.onnx", Options{})
	if _, err := lookup.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []int64{1, 2, 3, 10})}); err == nil || errors.Is(err, ErrOutOfResources) {
		t.Errorf("an id past the table: %v, want an error that is not ErrOutOfResources", err)
	}
	for msg, want := range map[string]bool{
		"CUDA failure 2: out of memory ; GPU=0 ; hostname=x ; expr=cudaMalloc((void**)&p, size);": true,
		"CUDNN failure 4: CUDNN_STATUS_ALLOC_FAILED":                                              true,
		"std::bad_alloc": true,
		"Non-zero status code returned while running Gather node. indices element out of data bounds": false,
		"Got invalid dimensions for input: x for the following indices":                               false,
	} {
		if got := outOfResources(msg); got != want {
			t.Errorf("outOfResources(%q) = %v, want %v", msg, got, want)
		}
	}
}

// TestSequenceOfMaps: a classifier as skl2onnx exports it (zipmap.onnx) serves its label and
// its probabilities, the sequence of maps as a tensor [rows, classes]; a sequence of tensors
// (seqtensors.onnx) is left out, with a warning, and the model runs for its tensor.
func TestSequenceOfMaps(t *testing.T) {
	s := mustLoad(t, "testdata/zipmap.onnx", Options{})
	out, err := s.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{2, 3}, []float32{1, 2, 3, 3, 2, 1})})
	if err != nil {
		t.Fatal(err)
	}
	if labels, _ := tensor.Values[int64](out[0]); !slices.Equal(labels, []int64{2, 0}) {
		t.Errorf("labels %v, want [2 0]", labels)
	}
	e := func(x float64) float64 { return math.Exp(x) / (math.Exp(1) + math.Exp(2) + math.Exp(3)) }
	want := tensor.New([]int64{2, 3}, []float32{float32(e(1)), float32(e(2)), float32(e(3)), float32(e(3)), float32(e(2)), float32(e(1))})
	if diff := tensor.Differ(out[1], want, 1e-6, 1e-5); diff != "" {
		t.Errorf("probabilities %v: %s", out[1].Shape, diff)
	}

	log, logger := testenv.NewLog()
	s = mustLoad(t, "testdata/seqtensors.onnx", Options{Logger: logger})
	if len(s.Outputs()) != 1 || s.Outputs()[0].Name != "y" {
		t.Fatalf("outputs %v, want y only", s.Outputs())
	}
	if !strings.Contains(log.String(), `output \"parts\" is a sequence of tensors, not a tensor`) {
		t.Errorf("no warning in the log:\n%s", log)
	}
	if out, err = s.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 3}, []float32{1, 2, 3})}); err != nil || len(out) != 1 {
		t.Errorf("run: %v, %d outputs", err, len(out))
	}
}

// TestAnyShape: a model that declares no shape for its input (norank.onnx) accepts tensors
// of any rank, and the output's shape is what ONNX Runtime computes.
func TestAnyShape(t *testing.T) {
	s := mustLoad(t, "testdata/norank.onnx", Options{})
	if !s.Inputs()[0].AnyShape() || !s.Outputs()[0].AnyShape() {
		t.Fatalf("signature %v %v, want any shape", s.Inputs(), s.Outputs())
	}
	for _, x := range []*tensor.Tensor{
		tensor.New([]int64{2, 2}, []float32{1, -2, 3, -4}),
		tensor.New([]int64{3}, []float32{-1, 0, 5}),
		tensor.New([]int64{1, 1, 2}, []float32{-7, 7}),
	} {
		out, err := s.Run(context.Background(), []*tensor.Tensor{x})
		if err != nil {
			t.Fatalf("%v: %v", x.Shape, err)
		}
		in, _ := tensor.Values[float32](x)
		got, _ := tensor.Values[float32](out[0])
		for i := range in {
			if want := max(in[i], 0); got[i] != want {
				t.Errorf("%v: element %d is %v, want %v", x.Shape, i, got[i], want)
			}
		}
		if !slices.Equal(out[0].Shape, x.Shape) {
			t.Errorf("output shape %v, want %v", out[0].Shape, x.Shape)
		}
	}
}

// TestConvertWeightsFP16: a float32 model with float16 weights (pkg/onnx) is half the size,
// keeps float32 inputs and outputs, and predicts the same classes.
func TestConvertWeightsFP16(t *testing.T) {
	src := testenv.Path("samples/digits/model.onnx")
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	dst := filepath.Join(t.TempDir(), "half.onnx")
	out, _ := os.Create(dst)
	stats, err := onnx.ConvertWeightsFP16(f, st.Size(), out)
	out.Close()
	if err != nil {
		t.Fatal(err)
	}
	half, _ := os.Stat(dst)
	if stats.Converted < 4 || half.Size() > st.Size()*6/10 {
		t.Errorf("converted %d weights, %d → %d bytes", stats.Converted, st.Size(), half.Size())
	}
	f32 := mustLoad(t, src, Options{})
	f16 := mustLoad(t, dst, Options{})
	if f16.Inputs()[0].DType != tensor.Float32 || f16.Outputs()[0].DType != tensor.Float32 {
		t.Errorf("inputs/outputs changed type: %v %v", f16.Inputs(), f16.Outputs())
	}
	ref, _ := testenv.LoadReference(testenv.Path("samples/digits/reference.json"))
	a, err := f32.Run(context.Background(), []*tensor.Tensor{ref.Inputs["input"]})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f16.Run(context.Background(), []*tensor.Tensor{ref.Inputs["input"]})
	if err != nil {
		t.Fatal(err)
	}
	if pa, pb := argmaxRows(t, a[0]), argmaxRows(t, b[0]); !slices.Equal(pa, pb) {
		t.Errorf("float32 weights predict %v, float16 weights %v", pa, pb)
	}
	closeTo(t, "logits", b[0], a[0], 5e-2)
}

// TestLoadFailureMessage: a model ONNX Runtime cannot read (IR version 99) fails to load
// with its reason, without the C++ source location and function ONNX Runtime puts first.
func TestLoadFailureMessage(t *testing.T) {
	_, err := Load("testdata/newir.onnx", Options{})
	if err == nil || !strings.Contains(err.Error(), "failed: Unsupported model IR version: 99, max supported IR version:") ||
		strings.Contains(err.Error(), "onnxruntime_src") || strings.Contains(err.Error(), "onnxruntime::Model::Model(") {
		t.Errorf("load: %v", err)
	}
	// a location followed by a plain function name and a message with parentheses is kept
	kept := "failed:/onnxruntime_src/onnxruntime/core/concat.cc:154 PrepareForCompute axes must match (2 and 3) here"
	if got := sourceFrame.ReplaceAllString(kept, " "); got != kept {
		t.Errorf("%q became %q", kept, got)
	}
}

// TestCustomOperatorDomain: a model using an operator from a custom operator library (here
// onnxruntime-extensions' ai.onnx.contrib) fails to load, saying why; pkg/onnx sees the domain
// before it is loaded.
func TestCustomOperatorDomain(t *testing.T) {
	_, err := Load("testdata/contrib.onnx", Options{})
	if err == nil || !strings.Contains(err.Error(), "StringRegexReplace") || !strings.Contains(err.Error(), "custom operator library") {
		t.Fatalf("load: %v", err)
	}
	m, err := onnx.ReadFile("testdata/contrib.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if m.Opset != 13 || !slices.Equal(m.Domains, []string{"ai.onnx.contrib"}) || !strings.Contains(m.CustomDomainsNote(), "ai.onnx.contrib") {
		t.Errorf("opset %d, domains %q, note %q", m.Opset, m.Domains, m.CustomDomainsNote())
	}
	zipmap, err := onnx.ReadFile("testdata/zipmap.onnx") // ai.onnx.ml: ONNX Runtime's own
	if err != nil {
		t.Fatal(err)
	}
	if zipmap.Opset != 13 || !slices.Equal(zipmap.Domains, []string{"ai.onnx.ml"}) || zipmap.CustomDomainsNote() != "" {
		t.Errorf("zipmap: opset %d, domains %q, note %q", zipmap.Opset, zipmap.Domains, zipmap.CustomDomainsNote())
	}
}
