package registry

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/onnxgen"
	"github.com/tsserve/ts/pkg/tensor"
)

// The warm-up's inputs: a model that batches gets the run's batch size first and 1 for its
// other dynamic dimensions, unless shapes gives them; one that does not gets its declared
// shape; zero data is zeros, false and "", random data numbers in [0, 1), integers 0 or 1.
func TestWarmupInputs(t *testing.T) {
	image := tensor.Info{Name: "image:0", DType: tensor.Uint8, Shape: []int64{-1, -1, -1, 3}}
	ids := tensor.Info{Name: "ids", DType: tensor.Int64, Shape: []int64{-1, -1}}
	mask := tensor.Info{Name: "mask", DType: tensor.Bool, Shape: []int64{-1, -1}}
	text := tensor.Info{Name: "text", DType: tensor.String, Shape: []int64{-1}}
	half := tensor.Info{Name: "half", DType: tensor.Float16, Shape: []int64{-1, 2}}
	fixed := tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{1, 4}}
	scalar := tensor.Info{Name: "n", DType: tensor.Int64, Shape: []int64{}}
	anyShape := tensor.Info{Name: "any", DType: tensor.Float64}
	for _, c := range []struct {
		name      string
		w         Warmup
		infos     []tensor.Info
		batchable bool
		batch     int
		want      [][]int64
	}{
		{"batch first, others 1", Warmup{}, []tensor.Info{image, ids, mask, text, half}, true, 4,
			[][]int64{{4, 1, 1, 3}, {4, 1}, {4, 1}, {4}, {4, 2}}},
		{"shapes after the batch", Warmup{Shapes: map[string][]int64{"image:0": {32, 48, 3}, "ids": {7}}}, []tensor.Info{image, ids}, true, 2,
			[][]int64{{2, 32, 48, 3}, {2, 7}}},
		{"no batch: the declared shape", Warmup{}, []tensor.Info{fixed, scalar}, false, 0, [][]int64{{1, 4}, {}}},
		{"no batch: whole shapes", Warmup{Shapes: map[string][]int64{"any": {2, 5}, "ids": {3, 9}}}, []tensor.Info{anyShape, ids}, false, 0,
			[][]int64{{2, 5}, {3, 9}}},
	} {
		for _, data := range []string{"", WarmupZero, WarmupRandom} {
			w := c.w
			w.Data = data
			got, err := w.inputs(c.infos, c.batchable, c.batch, nil, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Errorf("%s, %q data: %v", c.name, data, err)
				continue
			}
			for i, ts := range got {
				info := c.infos[i]
				if ts.DType != info.DType || !slices.Equal(ts.Shape, c.want[i]) {
					t.Errorf("%s, %q data: input %s is %s%v, want %s%v", c.name, data, info.Name, ts.DType, ts.Shape, info.DType, c.want[i])
					continue
				}
				checkWarmupValues(t, c.name+", "+info.Name, ts, data == WarmupRandom)
			}
		}
	}
}

// checkWarmupValues checks a warm-up tensor's values: all zero (false, "") or, for random
// data, in range and not all the same when there are several.
func checkWarmupValues(t *testing.T, what string, ts *tensor.Tensor, random bool) {
	t.Helper()
	if ts.DType == tensor.String {
		for _, s := range ts.Strings {
			if random != (len(s) == tensor.RandomStringLength) || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz") != "" {
				t.Errorf("%s: string %q (random %v)", what, s, random)
			}
		}
		return
	}
	values, err := ts.Float64s()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	distinct := map[float64]bool{}
	for _, v := range values {
		distinct[v] = true
		if v < 0 || v >= 1 && !(v == 1 && !ts.DType.IsFloat()) || !random && v != 0 {
			t.Errorf("%s: value %v (random %v)", what, v, random)
		}
	}
	if random && len(values) >= 8 && len(distinct) == 1 {
		t.Errorf("%s: random data all %v", what, values[0])
	}
}

// Warm-ups that cannot run are refused when the model registers (400), with the reason.
func TestWarmupRefused(t *testing.T) {
	r := newRegistry(t, Defaults{})
	for _, c := range []struct{ model, yaml, want string }{
		{"manyout", "warmup: {runs: 1, data: ones}\n", `warmup.data must be "zero" or "random", got "ones"`},
		{"manyout", "warmup: {runs: -1}\n", "warmup.runs must be between 0 and 1000, got -1"},
		{"manyout", "warmup: {runs: 1, batchSizes: [0]}\n", "warmup.batchSizes: 0 is not between 1 and 4096"},
		{"manyout", "warmup: {runs: 1, shapes: {x: [3]}}\n", `warmup.shapes names "x", which is not an input of the model (its inputs: x:0)`},
		{"manyout", "warmup: {runs: 1, shapes: {\"x:0\": [4]}}\n", "warmup.shapes.x:0: dimension 1 is fixed at 3 in [-1,3], got 4"},
		{"manyout", "warmup: {runs: 1, shapes: {\"x:0\": [2, 3]}}\n", "warmup.shapes.x:0 must give its dimensions after the batch dimension (the model batches), 1 of them for [-1,3]; got 2"},
		{"norank", "warmup: 1\n", `warmup: input "x" has no declared shape: give it one in warmup.shapes`},
		{"norank", "warmup: {runs: 1, shapes: {x: [-2, 3]}}\n", `warmup: input "x": shape [-2,3] is not valid`},
		{"norank", "warmup: {runs: 1, shapes: {x: [100000, 100000]}}\n", "holds 10000000000 elements, over the warm-up's limit"},
		{"manyout", "batchSize: 1000\nwarmup: {runs: 1, batchSizes: [1, 100000000]}\n", "warmup.batchSizes: 100000000 is not between 1 and 4096"},
		{"masked", "batchSize: 4096\nwarmup: {runs: 1, shapes: {ids: [100000], mask: [100000]}}\n", `warmup: input "ids": shape [4096,100000] holds 409600000 elements, over the warm-up's limit of 268435456`},
		{"manyout", "warmup: [1, 2]\n", "cannot unmarshal"},
	} {
		path := modelArchive(t, c.model, "1.0", testenv.Path("pkg/engine/testdata/"+c.model+".onnx"), c.yaml)
		_, err := r.Register(context.Background(), Spec{Path: path, Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
		var ae *apierror.Error
		if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest || !strings.Contains(ae.Message, c.want) {
			t.Errorf("%s with %q: %v, want a 400 saying %q", c.model, c.yaml, err, c.want)
		}
	}
}

// The warm-up runs before the model serves, at each batch size, on the data asked for: a
// model that cannot run a batch of 3 (onerow.onnx) fails to load when the warm-up runs one,
// with the run that failed named; warm-up runs do not count as served requests.
func TestWarmupRuns(t *testing.T) {
	v, log := registerTestModel(t, "lookup", "batchSize: 4\nwarmup: {runs: 2, data: random}\n")
	info := v.Info()
	if info.State != StateReady || info.Settings.Warmup == nil || info.Settings.Sources["warmup"] != FromYAML {
		t.Fatalf("state %s, warm-up %+v from %s", info.State, info.Settings.Warmup, info.Settings.Sources["warmup"])
	}
	if got := info.Settings.Warmup.RunBatchSizes(true, info.Settings.BatchSize); !slices.Equal(got, []int{1, 4}) {
		t.Errorf("default batch sizes %v, want [1 4] (1 and batchSize)", got)
	}
	if info.WarmupTime <= 0 || info.WarmupTime > info.LoadTime {
		t.Errorf("warm-up took %v of a load of %v", info.WarmupTime, info.LoadTime)
	}
	if s := v.Statistics(); s.InferenceCount != 0 || s.ExecutionCount != 0 {
		t.Errorf("warm-up runs counted as served: %+v", s)
	}
	if !strings.Contains(log.String(), `msg="model warmed up" model=lookup version=1.0 runs=2 batch_sizes="[1 4]" data=random`) {
		t.Errorf("no warm-up in the log:\n%s", log)
	}
	res, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(`[[1, 2, 3, 9]]`)}}}, 0)
	if err != nil || !strings.Contains(string(res.Body), `"shape":[1,4,2]`) {
		t.Errorf("after the warm-up: %v %s", err, res.Body)
	}

	r := newRegistry(t, Defaults{})
	for i, c := range []struct{ yaml, want string }{
		{"warmup: {runs: 2, batchSizes: [1, 3]}\n", "warm-up run 1 of 2 on zero data, inputs of shape [3,3] failed"},
		{"warmup: {runs: 2, batchSizes: [1]}\n", ""},
		{"warmup: 0\nbatchSize: 3\n", ""}, // off
	} {
		version := strconv.Itoa(i + 1)
		path := modelArchive(t, "onerow", version, testenv.Path("pkg/engine/testdata/onerow.onnx"), c.yaml)
		v, err := r.Register(context.Background(), Spec{Path: path, Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case c.want == "" && i == 2 && v.Settings().Warmup != nil:
			t.Errorf("warmup: 0 leaves a warm-up: %+v", v.Settings().Warmup)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want an error saying %q", c.yaml, err, c.want)
		case c.want != "":
			if _, err := r.Get("onerow", version); err == nil {
				t.Errorf("%q: a model whose warm-up failed is still registered", c.yaml)
			}
		}
	}
}

// A warm-up longer than startupTimeout fails the load, and says so; the same model loads
// within it without the warm-up.
func TestWarmupPastStartupTimeout(t *testing.T) {
	model := filepath.Join(t.TempDir(), "slow.onnx")
	if err := onnxgen.Write(model, onnxgen.Spec{Dim: 512, Out: 2, Depth: 100}); err != nil { // a tenth of a second a run of 128 rows, or more
		t.Fatal(err)
	}
	r := newRegistry(t, Defaults{})
	register := func(version, yaml string) error {
		_, err := r.Register(context.Background(), Spec{Path: modelArchive(t, "slow", version, model, yaml), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
		return err
	}
	if err := register("1.0", "startupTimeout: 1\n"); err != nil {
		t.Fatalf("without the warm-up: %v", err)
	}
	start := time.Now()
	err := register("2.0", "startupTimeout: 1\nwarmup: {runs: 200, batchSizes: [128]}\n")
	if err == nil || !strings.Contains(err.Error(), "loading and warming up took longer than startupTimeout (1s)") {
		t.Errorf("%v, want the startup timeout", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the load failed after %v, not at the timeout (1 s)", took)
	}
}

// Inputs whose dynamic dimensions share a name (masked.onnx's ids and mask, [batch, seq])
// take the size shapes gives one of them; sizes that disagree fail the warm-up's run.
func TestWarmupSharedDimensions(t *testing.T) {
	r := newRegistry(t, Defaults{})
	for i, c := range []struct{ yaml, want string }{
		{"batchSize: 2\nwarmup: {runs: 1, shapes: {ids: [5]}}\n", ""},
		{"batchSize: 2\nwarmup: {runs: 1, shapes: {ids: [5], mask: [4]}}\n", "warm-up run 1 of 1 on zero data, inputs of shape [1,5], [1,4] failed"},
	} {
		path := modelArchive(t, "masked", strconv.Itoa(i+1), testenv.Path("pkg/engine/testdata/masked.onnx"), c.yaml)
		v, err := r.Register(context.Background(), Spec{Path: path, Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case c.want == "":
			w := v.Settings().Warmup
			mask := v.Inputs[slices.IndexFunc(v.Inputs, func(in tensor.Info) bool { return in.Name == "mask" })]
			if shape, err := w.Shape(mask, v.Inputs, true, 2); err != nil || fmt.Sprint(shape) != "[2 5]" {
				t.Errorf("mask's warm-up shape %v %v, want [2 5] (ids' sequence)", shape, err)
			}
		case err == nil || !strings.Contains(err.Error(), c.want):
			t.Errorf("%q: %v, want an error saying %q", c.yaml, err, c.want)
		}
	}
}

// A warm-up input may come from a file of the archive (Triton's input_data_file): one
// sample, repeated for larger batches. lookup.onnx's ids index a table of 10 rows: a file
// whose ids are valid warms the model up, one with an id past the table fails the load (zero
// or random data would not); files that are not one sample, or not in the archive, are 400s.
func TestWarmupFiles(t *testing.T) {
	r := newRegistry(t, Defaults{})
	ids := func(values ...int64) string {
		p := filepath.Join(t.TempDir(), "ids.bin")
		b := make([]byte, 0, 8*len(values))
		for _, v := range values {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for i, c := range []struct {
		file, yaml, want string
	}{
		{ids(1, 2, 3, 9), "batchSize: 4\nwarmup: {runs: 1, files: {ids: ids.bin}}\n", ""},
		{ids(1, 2, 3, 99), "batchSize: 4\nwarmup: {runs: 1, files: {ids: ids.bin}}\n", "warm-up run 1 of 1 on zero data and ids from ids.bin, inputs of shape [1,4] failed"},
		{ids(1, 2, 3), "warmup: {runs: 1, files: {ids: ids.bin}}\n", `warmup.files.ids: "ids.bin" is not one sample of ids: int64[1,4] needs 32 bytes, got 24`},
		{ids(1, 2, 3, 4), "warmup: {runs: 1, files: {ids: nothing.bin}}\n", `warmup.files.ids: "nothing.bin" is not a file of the archive`},
		{ids(1, 2, 3, 4), "warmup: {runs: 1, files: {ids: ../../etc/passwd}}\n", "is not a file of the archive"},
		{ids(1, 2, 3, 4), "warmup: {runs: 1, files: {x: ids.bin}}\n", `warmup.files names "x", which is not an input of the model`},
	} {
		yaml := filepath.Join(t.TempDir(), "model-config.yaml")
		os.WriteFile(yaml, []byte(c.yaml), 0o644)
		res, err := archive.Pack(context.Background(), archive.PackOptions{ModelName: "lookup", Version: strconv.Itoa(i + 1), SerializedFile: testenv.Path("pkg/engine/testdata/lookup.onnx"),
			Handler: "tensor", ConfigFile: yaml, ExtraFiles: []string{c.file}, ExportPath: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		v, err := r.Register(context.Background(), Spec{Path: res.Path, Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case c.want == "" && v.Info().WarmupTime <= 0:
			t.Errorf("%q: no warm-up ran", c.yaml)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want an error saying %q", c.yaml, err, c.want)
		}
	}
}
