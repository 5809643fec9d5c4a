package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/tsserve/ts/pkg/onnx"
	"github.com/tsserve/ts/pkg/tensor"
)

// Options are the per-session settings.
type Options struct {
	// IntraOpThreads and InterOpThreads size ONNX Runtime's thread pools; 0 lets it choose.
	// The inter-op pool exists only in parallel execution.
	IntraOpThreads int
	InterOpThreads int
	// ExecutionMode is "sequential" (the default: one operator at a time) or "parallel"
	// (independent branches of the graph at once, on the inter-op threads).
	ExecutionMode string
	// NoMemArena turns off ONNX Runtime's CPU memory arena (buffers are freed after each
	// run instead of kept for the next); NoMemPattern turns off its memory pattern
	// (buffers planned from the shapes of earlier runs).
	NoMemArena   bool
	NoMemPattern bool
	// SessionConfig are ONNX Runtime session configuration entries
	// (onnxruntime_session_options_config_keys.h: "session.disable_prepacking": "1" ...),
	// set after ts's own, which they may override.
	SessionConfig map[string]string
	// ArenaShrinkage names the devices whose memory arena gives back, after each run, the
	// memory that run took and no longer uses (ONNX Runtime's run option
	// memory.enable_memory_arena_shrinkage: "cpu:0", "gpu:0", separated by ";"); "" none.
	ArenaShrinkage string
	// Spinning lets idle pool threads spin waiting for work: lower latency, but idle
	// workers burn CPU. Off by default.
	Spinning bool
	// OptLevel is the graph optimisation level: "disable", "basic", "extended" or "all" (default).
	OptLevel string
	// Provider is the execution provider: "cpu" (default), "cuda", "cuda:N", "tensorrt[:N]".
	Provider string
	// ProviderFallback, when the provider cannot be used, logs a warning and runs on CPU
	// instead of failing.
	ProviderFallback bool
	// Logger receives the load's warnings (provider fallback, outputs left out); nil means
	// slog.Default().
	Logger *slog.Logger
}

// logger is Logger, or slog's default.
func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// ErrClosed is the error of a run on a session closed or being unloaded (StopRuns).
var ErrClosed = errors.New("the model was unloaded")

// ErrOutOfResources marks a run that failed for want of memory (ONNX Runtime could not
// allocate a buffer, a CUDA error): TorchServe answers those 507.
var ErrOutOfResources = errors.New("out of resources")

// outOfResources reports whether ONNX Runtime's error message says a run lacked memory or
// its GPU failed. TorchServe's rule is a Python MemoryError or a message naming CUDA; ONNX
// Runtime's arena, allocators and CUDA provider word theirs as matched here.
func outOfResources(msg string) bool {
	if strings.Contains(msg, "CUDA") || strings.Contains(msg, "CUDNN") || strings.Contains(msg, "CUBLAS") {
		return true
	}
	lower := strings.ToLower(msg)
	for _, s := range []string{"failed to allocate memory", "out of memory", "bad_alloc", "alloc_failed"} {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return false
}

// resourceError is a run's error that is ErrOutOfResources.
type resourceError string

func (e resourceError) Error() string        { return string(e) }
func (e resourceError) Is(target error) bool { return target == ErrOutOfResources }

// kernelRefusal words a run's failure inside one of the model's operators (an id past an
// embedding table, k larger than the axis, free dimensions that do not broadcast) as a
// refusal of the input; "" for other failures. ONNX Runtime checked the graph when it loaded
// it, and Check the inputs' names, types, ranks and declared dimensions: what still fails in
// an operator follows from the input's values or free dimensions, a client's mistake, so it
// gets a 400 that says why rather than a 5xx that invites the same request again.
func kernelRefusal(err error) string {
	var se *ort.StatusError
	if !errors.As(err, &se) {
		return ""
	}
	switch se.Code {
	case ort.ErrorCodeFail, ort.ErrorCodeInvalidArgument, ort.ErrorCodeRuntimeException:
	default:
		return ""
	}
	m := kernelFailure.FindStringSubmatch(oneLine(se.Message))
	if m == nil {
		return ""
	}
	op, name, why := m[1], m[2], m[3]
	if _, after, ok := strings.Cut(why, " was false. "); ok {
		why = after // ORT_ENFORCE's "file:line function condition was false. message"
	}
	why = sourcePrefix.ReplaceAllString(why, "")
	node := op + " operator"
	if name != "" {
		node = fmt.Sprintf("%s operator (node %q)", op, name)
	}
	return fmt.Sprintf("the model cannot run on this input: its %s failed: %s", node, why)
}

var (
	// kernelFailure matches ONNX Runtime's message for an operator that failed during a run.
	kernelFailure = regexp.MustCompile(`^Non-zero status code returned while running (\S+) node\. Name:'([^']*)' Status Message: (.+)$`)
	// sourcePrefix matches the source location some of its messages start with
	// ("concat.cc:154 PrepareForCompute ").
	sourcePrefix = regexp.MustCompile(`^\S+\.(?:cc|cpp|h|cu):\d+ \S+ `)
	// sourceFrame matches the source location and C++ function that a message about a
	// model that failed to load holds before what went wrong ("/onnxruntime_src/.../
	// model.cc:181 onnxruntime::Model::Model(onnx::ModelProto&&, ...) "): a name with "::"
	// just before its parameters, so that a message's own words in parentheses stay.
	sourceFrame = regexp.MustCompile(`/\S+\.(?:cc|cpp|h|cu):\d+ (?:[\w<>*&,~:]+ )*[\w<>*&~]*::[\w<>*&~:]*\([^()]*\) `)
)

// InputError is a problem with the tensors a caller passed to Run: a client mistake, not a
// server failure.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// Session is a loaded model. Run may be called from many goroutines at once.
type Session struct {
	s        *ort.DynamicAdvancedSession
	inputs   []tensor.Info
	outputs  []tensor.Info
	provider string
	// batchInput[i] is the input whose first dimension output i's first dimension follows
	// (same symbolic name), or -1.
	batchInput []int
	// passThrough[i] is whether output i is one of the graph's inputs, handed back as it
	// came: ONNX Runtime ignores an output buffer given for it, so it allocates that one.
	passThrough []bool
	// sameDims groups the inputs' dynamic dimensions that share a symbolic name ("batch",
	// "seq"): ONNX means them to be the same size, so a request must give them one.
	sameDims   [][]dimRef
	noPrealloc atomic.Bool
	runMu      sync.RWMutex // runs hold it shared; Close takes it to wait for them
	stopping   atomic.Bool  // StopRuns was called
	running    atomic.Int32 // runs holding the session
	runs       atomic.Int64 // runs started

	watchMu sync.Mutex
	watches []*runWatch // kept for the next runs
	// arenaShrinkage is Options.ArenaShrinkage, set on each run's options
	arenaShrinkage string
}

// arenaShrinkageKey is ONNX Runtime's run option for Options.ArenaShrinkage.
const arenaShrinkageKey = "memory.enable_memory_arena_shrinkage"

// CheckArenaShrinkage reports whether devices is a list of devices for
// Options.ArenaShrinkage: "cpu:N" or "gpu:N", separated by ";" ("" none).
func CheckArenaShrinkage(devices string) error {
	if devices == "" {
		return nil
	}
	for _, d := range strings.Split(devices, ";") {
		kind, id, ok := strings.Cut(d, ":")
		n, err := strconv.Atoi(id)
		if !ok || (kind != "cpu" && kind != "gpu") || err != nil || n < 0 {
			return fmt.Errorf("memory arena shrinkage %q: want devices such as cpu:0 or gpu:1, separated by ;", devices)
		}
	}
	return nil
}

// ParseProvider splits "cuda:1" into ("cuda", 1). A bare name means device 0.
func ParseProvider(p string) (name string, device int, err error) {
	p = strings.ToLower(strings.TrimSpace(p))
	if p == "" {
		return "cpu", 0, nil
	}
	name, dev, hasDev := strings.Cut(p, ":")
	switch name {
	case "cpu", "cuda", "tensorrt":
	default:
		return "", 0, fmt.Errorf("unknown execution provider %q (want cpu, cuda[:N] or tensorrt[:N])", p)
	}
	if hasDev {
		device, err = strconv.Atoi(dev)
		if err != nil || device < 0 {
			return "", 0, fmt.Errorf("bad device number in execution provider %q", p)
		}
		if name == "cpu" {
			return "", 0, fmt.Errorf("the cpu execution provider takes no device number: %q", p)
		}
	}
	return name, device, nil
}

var optLevels = map[string]ort.GraphOptimizationLevel{
	"":         ort.GraphOptimizationLevelEnableAll,
	"all":      ort.GraphOptimizationLevelEnableAll,
	"extended": ort.GraphOptimizationLevelEnableExtended,
	"basic":    ort.GraphOptimizationLevelEnableBasic,
	"disable":  ort.GraphOptimizationLevelDisableAll,
	"none":     ort.GraphOptimizationLevelDisableAll,
}

// CheckOptLevel reports whether level names a graph optimisation level (Options.OptLevel).
func CheckOptLevel(level string) error {
	if _, ok := optLevels[strings.ToLower(level)]; !ok {
		return fmt.Errorf("unknown graph optimisation level %q (want disable, basic, extended or all)", level)
	}
	return nil
}

var executionModes = map[string]ort.ExecutionMode{
	"":           ort.ExecutionModeSequential,
	"sequential": ort.ExecutionModeSequential,
	"parallel":   ort.ExecutionModeParallel,
}

// CheckExecutionMode reports whether mode names an execution mode (Options.ExecutionMode).
func CheckExecutionMode(mode string) error {
	if _, ok := executionModes[strings.ToLower(mode)]; !ok {
		return fmt.Errorf("unknown execution mode %q (want sequential or parallel)", mode)
	}
	return nil
}

// CheckArenaShrinkageFits reports whether a session on provider, with or without the CPU
// arena, has an arena on each device devices (Options.ArenaShrinkage) names: ONNX Runtime
// fails every run otherwise.
func CheckArenaShrinkageFits(devices, provider string, noArena bool) error {
	if devices == "" {
		return nil
	}
	name, device, err := ParseProvider(provider)
	if err != nil {
		return err
	}
	for _, d := range strings.Split(devices, ";") {
		switch {
		case d == "cpu:0" && noArena:
			return fmt.Errorf("memory arena shrinkage %q: the CPU memory arena is off", devices)
		case d == "cpu:0":
		case strings.HasPrefix(d, "cpu:"):
			return fmt.Errorf("memory arena shrinkage %q: the CPU is device cpu:0", devices)
		case name == "cpu":
			return fmt.Errorf("memory arena shrinkage %q: the model runs on cpu, not on %s", devices, d)
		case d != fmt.Sprintf("gpu:%d", device):
			return fmt.Errorf("memory arena shrinkage %q: the model runs on %s, not on %s", devices, provider, d)
		}
	}
	return nil
}

// sessionOptions builds ONNX Runtime options; the caller destroys them.
func sessionOptions(o Options, withProvider bool) (*ort.SessionOptions, string, error) {
	if err := CheckOptLevel(o.OptLevel); err != nil {
		return nil, "", err
	}
	if err := CheckExecutionMode(o.ExecutionMode); err != nil {
		return nil, "", err
	}
	if err := CheckArenaShrinkage(o.ArenaShrinkage); err != nil {
		return nil, "", err
	}
	level, mode := optLevels[strings.ToLower(o.OptLevel)], executionModes[strings.ToLower(o.ExecutionMode)]
	name, device, err := ParseProvider(o.Provider)
	if err != nil {
		return nil, "", err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, "", fmt.Errorf("create session options: %w", err)
	}
	fail := func(err error) (*ort.SessionOptions, string, error) {
		so.Destroy()
		return nil, "", err
	}
	if err := so.SetGraphOptimizationLevel(level); err != nil {
		return fail(err)
	}
	if err := so.SetExecutionMode(mode); err != nil {
		return fail(err)
	}
	if o.NoMemArena {
		if err := so.SetCpuMemArena(false); err != nil {
			return fail(err)
		}
	}
	if o.NoMemPattern {
		if err := so.SetMemPattern(false); err != nil {
			return fail(err)
		}
	}
	if o.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return fail(err)
		}
	}
	if o.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(o.InterOpThreads); err != nil {
			return fail(err)
		}
	}
	spin := "0"
	if o.Spinning {
		spin = "1"
	}
	for _, key := range []string{"session.intra_op.allow_spinning", "session.inter_op.allow_spinning"} {
		if err := so.AddSessionConfigEntry(key, spin); err != nil {
			return fail(err)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(o.SessionConfig)) {
		if err := so.AddSessionConfigEntry(key, o.SessionConfig[key]); err != nil {
			return fail(fmt.Errorf("session configuration entry %q: %w", key, err))
		}
	}
	if !withProvider || name == "cpu" {
		return so, "cpu", nil
	}
	if err := appendProvider(so, name, device); err != nil {
		if !o.ProviderFallback {
			return fail(fmt.Errorf("execution provider %s is not available in this ONNX Runtime library (%s); "+
				"use a build with it (--ort-lib) or choose cpu", o.Provider, oneLine(err.Error())))
		}
		o.logger().Warn("execution provider not available, running on CPU", "provider", o.Provider, "err", oneLine(err.Error()))
		return so, "cpu", nil
	}
	return so, fmt.Sprintf("%s:%d", name, device), nil
}

func appendProvider(so *ort.SessionOptions, name string, device int) error {
	dev := map[string]string{"device_id": strconv.Itoa(device)}
	switch name {
	case "cuda":
		c, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return err
		}
		defer c.Destroy()
		if err := c.Update(dev); err != nil {
			return err
		}
		return so.AppendExecutionProviderCUDA(c)
	case "tensorrt":
		t, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return err
		}
		defer t.Destroy()
		if err := t.Update(dev); err != nil {
			return err
		}
		return so.AppendExecutionProviderTensorRT(t)
	}
	return fmt.Errorf("unknown provider %s", name)
}

// Load reads a model file and creates a session for it.
func Load(path string, o Options) (*Session, error) {
	m, graphErr := onnx.ReadFile(path)
	var outside []string
	if graphErr == nil {
		path = externalDataHome(path, m.ExternalData)
		outside = outsideData(path, m.ExternalData)
	}
	return load(o, func() (*onnx.Model, error) { return m, graphErr },
		func(so *ort.SessionOptions) ([]ort.InputOutputInfo, []ort.InputOutputInfo, error) {
			release, err := giveData(so, path, outside)
			if err != nil {
				return nil, nil, err
			}
			defer release()
			return ort.GetInputOutputInfoWithOptions(path, so)
		}, func(in, out []string, so *ort.SessionOptions) (*ort.DynamicAdvancedSession, error) {
			release, err := giveData(so, path, outside)
			if err != nil {
				return nil, err
			}
			defer release()
			return ort.NewDynamicAdvancedSession(path, in, out, so)
		})
}

// outsideData are the external data files of the model at path (data, as the model names
// them) that resolve outside the model's folder: links to files elsewhere that could not be
// linked in hard (another file system), whose data ONNX Runtime refuses to read there.
func outsideData(path string, data []string) []string {
	home, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return nil
	}
	var outside []string
	for _, f := range data {
		real, err := filepath.EvalSymlinks(filepath.Join(filepath.Dir(path), filepath.FromSlash(f)))
		if err != nil {
			continue // missing: ONNX Runtime says so
		}
		if rel, err := filepath.Rel(home, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			outside = append(outside, f)
		}
	}
	return outside
}

// giveData maps the external data files outside (beside the model at path, as the model
// names them) into memory and hands them to ONNX Runtime through so, which reads the
// initializers from there instead of refusing the files; release unmaps them once the
// session is created (ONNX Runtime has copied what it needs).
func giveData(so *ort.SessionOptions, path string, outside []string) (release func(), err error) {
	var maps [][]byte
	release = func() {
		for _, m := range maps {
			syscall.Munmap(m)
		}
	}
	for _, f := range outside {
		m, err := mapFile(filepath.Join(filepath.Dir(path), filepath.FromSlash(f)))
		if err != nil {
			release()
			return nil, fmt.Errorf("external data %s: %w", f, err)
		}
		maps = append(maps, m)
	}
	if err := so.AddExternalInitializersFromFilesInMemory(outside, maps); err != nil {
		release()
		return nil, fmt.Errorf("external data: %s", oneLine(err.Error()))
	}
	return release, nil
}

// mapFile maps a file into memory, read-only (nil for an empty file).
func mapFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return nil, nil
	}
	return syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
}

// externalDataHome is the path ONNX Runtime opens a model at: where a link to it points,
// when the model's external data files (data, as the model names them) lie there too. ONNX
// Runtime refuses external data that resolves outside the folder of the path it opens, so a
// model linked into another folder with its data (a bare .onnx file or a Triton folder
// served from where it is, whose files ts links) must be opened where it really is.
func externalDataHome(path string, data []string) string {
	if len(data) == 0 {
		return path
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil || real == path {
		return path
	}
	for _, f := range data {
		linked, err1 := filepath.EvalSymlinks(filepath.Join(filepath.Dir(path), filepath.FromSlash(f)))
		beside, err2 := filepath.EvalSymlinks(filepath.Join(filepath.Dir(real), filepath.FromSlash(f)))
		if err1 != nil || err2 != nil || linked != beside {
			return path
		}
	}
	return real
}

// LoadBytes creates a session from a model held in memory.
func LoadBytes(model []byte, o Options) (*Session, error) {
	if len(model) == 0 {
		return nil, errors.New("read model: no model bytes")
	}
	return load(o, func() (*onnx.Model, error) { return onnx.Read(bytes.NewReader(model), int64(len(model))) },
		func(*ort.SessionOptions) ([]ort.InputOutputInfo, []ort.InputOutputInfo, error) {
			return ort.GetInputOutputInfoWithONNXData(model)
		}, func(in, out []string, so *ort.SessionOptions) (*ort.DynamicAdvancedSession, error) {
			return ort.NewDynamicAdvancedSessionWithONNXData(model, in, out, so)
		})
}

// load reads the signature with pkg/onnx (no second session, and it knows the names of
// dynamic dimensions), falling back to ONNX Runtime's reading when that fails.
func load(o Options, graph func() (*onnx.Model, error),
	info func(*ort.SessionOptions) ([]ort.InputOutputInfo, []ort.InputOutputInfo, error),
	create func(in, out []string, so *ort.SessionOptions) (*ort.DynamicAdvancedSession, error),
) (*Session, error) {
	if Loaded() == nil {
		return nil, errors.New("ONNX Runtime is not loaded (engine.Init was not called)")
	}
	s := &Session{}
	var unserved []onnx.NonTensor
	if m, err := graph(); err == nil && validSignature(m) {
		s.inputs, s.outputs, unserved = m.Inputs, m.Outputs, m.Unserved
	} else {
		cheap, _, err := sessionOptions(Options{OptLevel: "disable", IntraOpThreads: 1, InterOpThreads: 1}, false)
		if err != nil {
			return nil, err
		}
		ins, outs, err := info(cheap)
		cheap.Destroy()
		if err != nil {
			return nil, fmt.Errorf("read model: %s", oneLine(err.Error()))
		}
		for _, i := range ins {
			ti, err := infoOf(i)
			if err != nil {
				return nil, fmt.Errorf("input %q: %w", i.Name, err)
			}
			s.inputs = append(s.inputs, ti)
		}
		for _, i := range outs {
			if i.OrtValueType != ort.ONNXTypeTensor {
				unserved = append(unserved, onnx.NonTensor{Name: i.Name, Kind: kindOf(i.OrtValueType)})
				continue
			}
			ti, err := infoOf(i)
			if err != nil {
				return nil, fmt.Errorf("output %q: %w", i.Name, err)
			}
			s.outputs = append(s.outputs, ti)
		}
		if len(s.outputs) == 0 {
			return nil, errors.New("read model: no output is a tensor")
		}
	}
	for _, n := range unserved { // the session runs for the tensor outputs only
		o.logger().Warn(n.Note())
	}
	for _, t := range slices.Concat(s.inputs, s.outputs) {
		if strings.ContainsRune(t.Name, 0) { // ONNX Runtime takes names as C strings: every run would fail
			return nil, fmt.Errorf("read model: the name %q holds a NUL character, which ONNX Runtime cannot take in a run", t.Name)
		}
	}
	s.batchInput = make([]int, len(s.outputs))
	s.passThrough = make([]bool, len(s.outputs))
	for i, out := range s.outputs {
		s.passThrough[i] = slices.ContainsFunc(s.inputs, func(in tensor.Info) bool { return in.Name == out.Name })
		s.batchInput[i] = -1
		if len(out.DimNames) == 0 || out.DimNames[0] == "" {
			continue
		}
		for k, in := range s.inputs {
			if len(in.DimNames) > 0 && in.DimNames[0] == out.DimNames[0] && len(in.Shape) > 0 && in.Shape[0] < 0 {
				s.batchInput[i] = k
				break
			}
		}
	}
	s.sameDims = namedDims(s.inputs)
	so, provider, err := sessionOptions(o, true)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	if err := CheckArenaShrinkageFits(o.ArenaShrinkage, provider, o.NoMemArena); err != nil {
		return nil, err
	}
	s.provider, s.arenaShrinkage = provider, o.ArenaShrinkage
	s.s, err = create(names(s.inputs), names(s.outputs), so)
	if err != nil {
		msg := sourceFrame.ReplaceAllString(oneLine(err.Error()), " ")
		if strings.Contains(msg, "is not a registered function/op") {
			msg += " (the model uses an operator this ONNX Runtime does not have: one from a custom operator library, " +
				"such as onnxruntime-extensions' ai.onnx.contrib, which ts does not load, or one newer than its opsets)"
		}
		return nil, fmt.Errorf("create session: %s", msg)
	}
	return s, nil
}

// dimRef is one dimension of one input.
type dimRef struct{ input, dim int }

// namedDims groups the dynamic dimensions of inputs by their symbolic name, keeping the
// names given to more than one dimension, in the order they first appear.
func namedDims(inputs []tensor.Info) [][]dimRef {
	var order []string
	byName := map[string][]dimRef{}
	for i, in := range inputs {
		for d, name := range in.DimNames {
			if name == "" || d >= len(in.Shape) || in.Shape[d] >= 0 {
				continue
			}
			if _, seen := byName[name]; !seen {
				order = append(order, name)
			}
			byName[name] = append(byName[name], dimRef{i, d})
		}
	}
	var groups [][]dimRef
	for _, name := range order {
		if len(byName[name]) > 1 {
			groups = append(groups, byName[name])
		}
	}
	return groups
}

// validSignature: every input and output is a tensor of a known type. (A shape the file
// leaves out stays open: ONNX Runtime would report it as a scalar's.)
func validSignature(m *onnx.Model) bool {
	for _, infos := range [][]tensor.Info{m.Inputs, m.Outputs} {
		for _, i := range infos {
			if !i.DType.Valid() {
				return false
			}
		}
	}
	return len(m.Outputs) > 0
}

// kindOf words an ONNX Runtime value type as onnx.NonTensor's Kind does.
func kindOf(t ort.ONNXType) string {
	switch t {
	case ort.ONNXTypeSequence:
		return "a sequence"
	case ort.ONNXTypeMap:
		return "a map"
	case ort.ONNXTypeSparseTensor:
		return "a sparse tensor"
	case ort.ONNXTypeOptional:
		return "an optional"
	}
	return "a value of another kind"
}

func infoOf(i ort.InputOutputInfo) (tensor.Info, error) {
	if i.OrtValueType != ort.ONNXTypeTensor {
		return tensor.Info{}, fmt.Errorf("is a %s; only tensors are supported", i.OrtValueType)
	}
	dt := tensor.DType(i.DataType)
	if !dt.Valid() {
		return tensor.Info{}, fmt.Errorf("element type %s is not supported", i.DataType)
	}
	return tensor.Info{Name: i.Name, DType: dt, Shape: append([]int64{}, i.Dimensions...)}, nil
}

func names(infos []tensor.Info) []string {
	out := make([]string, len(infos))
	for i, x := range infos {
		out[i] = x.Name
	}
	return out
}

// Inputs describes the model's inputs, in the order Run takes them.
func (s *Session) Inputs() []tensor.Info { return s.inputs }

// Outputs describes the model's outputs, in the order Run returns them.
func (s *Session) Outputs() []tensor.Info { return s.outputs }

// Provider is the execution provider the session runs on, e.g. "cpu" or "cuda:0".
func (s *Session) Provider() string { return s.provider }

// Close frees the session once the runs in flight have returned; later runs fail with
// ErrClosed.
func (s *Session) Close() error {
	s.runMu.Lock() // waits for the runs in flight: ONNX Runtime must not lose the session under them
	defer s.runMu.Unlock()
	if s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	s.closeWatches()
	return err
}

// StopRuns stops the runs in flight, which fail with ErrClosed (a run with no context to
// watch and no time limit finishes), and makes later runs fail at once: for a model being
// unloaded while requests still run. Close still waits for the runs to return.
func (s *Session) StopRuns() {
	s.stopping.Store(true)
	runWatchdog.stop(s)
}

// Check reports whether inputs (in the order of Inputs) fit the model: their count, element
// types, ranks and fixed dimensions, and that dimensions sharing a symbolic name agree. The
// error is an *InputError naming what was expected.
func (s *Session) Check(inputs []*tensor.Tensor) error {
	if len(inputs) != len(s.inputs) {
		return inputErrorf("model takes %d inputs (%s), got %d", len(s.inputs), strings.Join(names(s.inputs), ", "), len(inputs))
	}
	for i, t := range inputs {
		want := s.inputs[i]
		if t == nil {
			return inputErrorf("input %q is missing", want.Name)
		}
		if t.DType != want.DType {
			return inputErrorf("input %q must be %s, got %s", want.Name, want.DType, t.DType)
		}
		if want.AnyShape() {
			continue // the model declares no shape: ONNX Runtime checks what it needs
		}
		if len(t.Shape) != len(want.Shape) {
			return inputErrorf("input %q must have shape %s, got %s", want.Name, tensor.ShapeString(want.Shape), tensor.ShapeString(t.Shape))
		}
		for d, n := range want.Shape {
			if (n >= 0 && t.Shape[d] != n) || t.Shape[d] < 0 {
				return inputErrorf("input %q must have shape %s, got %s", want.Name, tensor.ShapeString(want.Shape), tensor.ShapeString(t.Shape))
			}
		}
		n, err := tensor.NumElements(t.Shape)
		if err != nil {
			return inputErrorf("input %q: %v", want.Name, err)
		}
		if n == 0 && !want.EmptyAllowed(t.Shape) {
			return inputErrorf("input %q is empty (shape %s)", want.Name, tensor.ShapeString(t.Shape))
		}
		if t.DType == tensor.String {
			if int64(len(t.Strings)) != n {
				return inputErrorf("input %q: shape %s holds %d strings, got %d", want.Name, tensor.ShapeString(t.Shape), n, len(t.Strings))
			}
		} else if int64(len(t.Data)) != n*int64(t.DType.Size()) {
			return inputErrorf("input %q: shape %s needs %d bytes of %s, got %d", want.Name, tensor.ShapeString(t.Shape), n*int64(t.DType.Size()), t.DType, len(t.Data))
		}
	}
	for _, group := range s.sameDims {
		first := group[0]
		size := inputs[first.input].Shape[first.dim]
		for _, r := range group[1:] {
			if got := inputs[r.input].Shape[r.dim]; got != size {
				a, b := s.inputs[first.input], s.inputs[r.input]
				return inputErrorf("dimension %q must be the same size in every input: %q has %d (shape %s), %q has %d (shape %s)",
					a.DimNames[first.dim], a.Name, size, tensor.ShapeString(inputs[first.input].Shape), b.Name, got, tensor.ShapeString(inputs[r.input].Shape))
			}
		}
	}
	return nil
}

// Run runs the model once on inputs given in the order of Inputs and returns the outputs in
// the order of Outputs. Cancelling ctx stops a run in progress (within watchInterval).
func (s *Session) Run(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return s.RunFor(ctx, 0, inputs)
}

// RunFor is Run with a time limit (0: none): a run still going after limit stops with
// context.DeadlineExceeded. It costs less than giving Run a context with a deadline, which
// matters on a server's hot path. The run stops within watchInterval of its end.
func (s *Session) RunFor(ctx context.Context, limit time.Duration, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := s.Check(inputs); err != nil {
		return nil, err
	}
	var deadline time.Time
	if limit > 0 {
		deadline = time.Now().Add(limit)
	}
	s.runMu.RLock()
	defer s.runMu.RUnlock()
	if s.s == nil || s.stopping.Load() {
		return nil, ErrClosed
	}
	s.running.Add(1)
	defer s.running.Add(-1)
	s.runs.Add(1)
	return s.run(ctx, deadline, inputs, !s.noPrealloc.Load())
}

// Running is the number of runs under way on the session.
func (s *Session) Running() int { return int(s.running.Load()) }

// Runs is the number of runs the session has started.
func (s *Session) Runs() int64 { return s.runs.Load() }

// run is RunFor's run, with the session held; prealloc allocates the outputs whose shapes
// are known beforehand.
func (s *Session) run(ctx context.Context, deadline time.Time, inputs []*tensor.Tensor, prealloc bool) ([]*tensor.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if past(deadline, time.Now()) {
		return nil, context.DeadlineExceeded
	}
	in := make([]ort.Value, len(inputs))
	defer func() {
		for _, v := range in {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, t := range inputs {
		v, err := toValue(t)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", s.inputs[i].Name, err)
		}
		in[i] = v
	}
	out := make([]ort.Value, len(s.outputs))
	defer func() {
		for _, v := range out {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	// Outputs whose shape is known from the inputs are allocated here, in Go memory: ONNX
	// Runtime writes into them, and nothing is copied afterwards.
	result := make([]*tensor.Tensor, len(s.outputs))
	for i, shape := range s.outputShapes(inputs, prealloc) {
		if shape == nil {
			continue
		}
		t, err := tensor.FromBytes(s.outputs[i].DType, shape, make([]byte, s.outputSize(i, shape)))
		if err != nil {
			continue
		}
		v, err := toValue(t)
		if err != nil {
			continue
		}
		out[i], result[i] = v, t
	}
	var runOpts *ort.RunOptions
	// a run needs run options to be stopped, or to shrink the arena; Done allocates a
	// channel: ask only when neither a deadline nor the shrinkage needs them anyway
	if s.arenaShrinkage != "" || !deadline.IsZero() || ctx.Done() != nil {
		w, err := s.watch(ctx, deadline)
		if err != nil {
			return nil, fmt.Errorf("create run options: %w", err)
		}
		defer s.unwatch(w)
		runOpts = w.ro
		if s.stopping.Load() { // StopRuns came before the watchdog knew this run
			return nil, ErrClosed
		}
	}
	if err := s.s.RunWithOptions(in, out, runOpts); err != nil {
		if s.stopping.Load() {
			return nil, ErrClosed
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if past(deadline, time.Now()) {
			return nil, context.DeadlineExceeded
		}
		if slices.ContainsFunc(result, func(t *tensor.Tensor) bool { return t != nil }) {
			// The model's outputs may not follow its declared shapes: run again with ONNX
			// Runtime allocating them; if that succeeds, it allocates them from now on. (A run
			// that fails anyway, e.g. on one request's bad values, changes nothing.)
			out, err := s.run(ctx, deadline, inputs, false)
			if err == nil {
				s.noPrealloc.Store(true)
			}
			return out, err
		}
		msg := "run model: " + oneLine(err.Error())
		if outOfResources(msg) {
			return nil, resourceError(msg)
		}
		if refusal := kernelRefusal(err); refusal != "" {
			return nil, &InputError{Msg: refusal}
		}
		return nil, errors.New(msg)
	}
	for i, v := range out {
		if result[i] != nil {
			continue
		}
		t, err := fromValue(v)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", s.outputs[i].Name, err)
		}
		result[i] = t
	}
	return result, nil
}

// outputShapes gives, for each output, its shape when it can be known before the run: all
// dimensions fixed, or a first dimension named like an input's first dimension (the batch,
// as exporters write it) with the others fixed. nil when unknown, and all nil without prealloc.
func (s *Session) outputShapes(inputs []*tensor.Tensor, prealloc bool) [][]int64 {
	shapes := make([][]int64, len(s.outputs))
	if !prealloc {
		return shapes
	}
	for i, o := range s.outputs {
		if o.DType == tensor.String || len(o.Shape) == 0 || s.passThrough[i] {
			continue
		}
		shape := append([]int64(nil), o.Shape...)
		if shape[0] < 0 {
			in := s.batchInput[i]
			if in < 0 || len(inputs[in].Shape) == 0 {
				continue
			}
			shape[0] = inputs[in].Shape[0]
		}
		known := true
		for _, d := range shape[1:] {
			known = known && d >= 0
		}
		if known {
			shapes[i] = shape
		}
	}
	return shapes
}

func (s *Session) outputSize(i int, shape []int64) int64 {
	n, _ := tensor.NumElements(shape)
	return n * int64(s.outputs[i].DType.Size())
}

// toValue wraps a tensor for ONNX Runtime without copying its data.
func toValue(t *tensor.Tensor) (ort.Value, error) {
	shape := ort.NewShape(t.Shape...)
	if t.DType == tensor.String {
		st, err := ort.NewStringTensor(shape)
		if err != nil {
			return nil, err
		}
		if err := st.SetContents(t.Strings); err != nil {
			st.Destroy()
			return nil, err
		}
		return st, nil
	}
	return ort.NewCustomDataTensor(shape, t.Data, ort.TensorElementDataType(t.DType))
}

// fromValue copies an output ONNX Runtime allocated into a tensor.
func fromValue(v ort.Value) (*tensor.Tensor, error) {
	shape := []int64(v.GetShape())
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		return tensor.New(shape, x.GetData()), nil
	case *ort.Tensor[float64]:
		return tensor.New(shape, x.GetData()), nil
	case *ort.Tensor[int8]:
		return tensor.New(shape, x.GetData()), nil
	case *ort.Tensor[int16]:
		return tensor.New(shape, x.GetData()), nil
	case *ort.Tensor[int32]:
		return tensor.New(shape, x.GetData()), nil
	case *ort.Tensor[int64]:
		return tensor.New(shape, x.GetData()), nil
	case *ort.Tensor[uint8]:
		return tensor.New(shape, x.GetData()), nil
	case *ort.Tensor[uint16]:
		return tensor.New(shape, x.GetData()), nil
	case *ort.Tensor[uint32]:
		return tensor.New(shape, x.GetData()), nil
	case *ort.Tensor[uint64]:
		return tensor.New(shape, x.GetData()), nil
	case *ort.Tensor[bool]:
		b := x.GetData()
		data := make([]byte, len(b))
		copy(data, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b)))
		return &tensor.Tensor{DType: tensor.Bool, Shape: shape, Data: data}, nil
	case *ort.CustomDataTensor: // float16 and the like: its data is already a copy in Go memory
		return tensor.FromBytes(tensor.DType(x.DataType()), shape, x.GetData())
	case *ort.StringTensor:
		s, err := x.GetContents()
		if err != nil {
			return nil, err
		}
		return tensor.NewStrings(shape, s), nil
	case *ort.Sequence:
		return fromMaps(x)
	}
	return nil, fmt.Errorf("output of type %T is not supported", v)
}

// fromMaps turns a sequence of maps with the same keys (skl2onnx's ZipMap: one map from
// class to probability per row) into a tensor [rows, keys] of the maps' values, columns in
// the order of the keys (ONNX Runtime's maps are ordered by key).
func fromMaps(seq *ort.Sequence) (*tensor.Tensor, error) {
	values, err := seq.GetValues()
	if err != nil {
		return nil, err
	}
	var rows []*tensor.Tensor
	var keys *tensor.Tensor
	for i, v := range values {
		m, ok := v.(*ort.Map)
		if !ok {
			return nil, fmt.Errorf("a sequence of %T is not supported", v)
		}
		k, vals, err := m.GetKeysAndValues()
		if err != nil {
			return nil, err
		}
		kt, err := fromValue(k)
		if err != nil {
			return nil, fmt.Errorf("map %d's keys: %w", i, err)
		}
		if keys == nil {
			keys = kt
		} else if !tensor.Equal(kt, keys) {
			return nil, fmt.Errorf("map %d's keys differ from map 0's: cannot make a tensor", i)
		}
		row, err := fromValue(vals)
		if err != nil {
			return nil, fmt.Errorf("map %d's values: %w", i, err)
		}
		row.Shape = append([]int64{1}, row.Shape...) // [keys] → one row
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, errors.New("an empty sequence of maps")
	}
	return tensor.Concat(rows)
}
