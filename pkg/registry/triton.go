package registry

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/seqbatch"
	"github.com/tsserve/ts/pkg/tensor"
)

// FromTritonConfig is where a Triton model's settings came from.
const FromTritonConfig = "config.pbtxt"

// tritonSettings reads the settings of a Triton model's config.pbtxt as model-config.yaml's
// (docs/serve.md#triton-model-repositories):
//   - max_batch_size with dynamic_batching: batchSize; without dynamic_batching Triton runs
//     each request alone (batchSize 1);
//   - sequence_batching: sequenceBatching (describe's stateful), and its
//     max_sequence_idle_microseconds as sequenceMaxIdleMSec (1 s when not given, as Triton's);
//     with max_batch_size: batchSize, and the oldest strategy's
//     max_queue_delay_microseconds and preferred_batch_size as dynamic_batching's (the
//     direct strategy's delay only with a minimum_slot_utilization, as Triton waits);
//   - dynamic_batching: max_queue_delay_microseconds as maxBatchDelay (rounded up to whole
//     milliseconds), preferred_batch_size as preferredBatchSizes, default_queue_policy's
//     max_queue_size as jobQueueSize, default_timeout_microseconds as maxQueueTime
//     (rounded up likewise), timeout_action as maxQueueTimeAction and
//     allow_timeout_override as allowQueueTimeOverride; priority_queue_policy as
//     priorityQueuePolicies, at the priority each level runs at (TritonPriority); with
//     priority levels, max_queue_size bounds each level as in Triton (a priority policy
//     for each level, the whole queue their sum);
//   - instance_group: its instances (count, times the GPUs listed) as the workers; KIND_CPU
//     as deviceType cpu, KIND_GPU (or GPUs listed) as deviceType gpu with the GPUs as
//     deviceIds;
//   - the onnxruntime backend's parameters intra_op_thread_count, inter_op_thread_count,
//     execution_mode, enable_mem_arena, enable_mem_pattern and
//     memory.enable_memory_arena_shrinkage: intraOpThreads, interOpThreads, executionMode,
//     memArena, memPattern and memArenaShrinkage (onnxRuntimeParameters);
//   - optimization { graph { level } }: graphOptimization (the onnxruntime backend's -1
//     basic, 1 extended, 2 disable; 0 or none all);
//   - response_cache { enable: true }: responseCache;
//   - model_warmup: the warm-up (its samples' batch sizes, the most runs a sample asks for,
//     random data when any input asks for it, dims as shapes, input_data_file from the
//     model folder's warmup/).
func tritonSettings(c *oippb.ModelConfig) (*modelYAML, error) {
	y := &modelYAML{source: FromTritonConfig}
	ms := func(us uint64) *int {
		n := int((us + 999) / 1000)
		return &n
	}
	if db := c.GetDynamicBatching(); db != nil && c.GetMaxBatchSize() > 0 {
		n := int(c.GetMaxBatchSize())
		y.BatchSize = &n
		y.MaxBatchDelay = ms(db.GetMaxQueueDelayMicroseconds())
		for _, p := range db.GetPreferredBatchSize() {
			y.PreferredBatchSizes = append(y.PreferredBatchSizes, int(p))
		}
		if q := db.GetDefaultQueuePolicy(); q != nil {
			if q.GetMaxQueueSize() > 0 {
				n := int(q.GetMaxQueueSize())
				y.JobQueueSize = &n
			}
			if q.GetDefaultTimeoutMicroseconds() > 0 {
				y.MaxQueueTime = ms(q.GetDefaultTimeoutMicroseconds())
			}
			action := queueTimeAction(q)
			override := q.GetAllowTimeoutOverride()
			y.MaxQueueTimeAction, y.AllowQueueTimeOverride = &action, &override
		}
		policies := db.GetPriorityQueuePolicy()
		for level := range policies {
			if level < 1 || level > uint64(db.GetPriorityLevels()) {
				return nil, fmt.Errorf("%s: priority_queue_policy for level %d, but priority_levels is %d", FromTritonConfig, level, db.GetPriorityLevels())
			}
		}
		policy := func(q *oippb.ModelQueuePolicy) PriorityQueuePolicy {
			return PriorityQueuePolicy{JobQueueSize: int(q.GetMaxQueueSize()), MaxQueueTime: *ms(q.GetDefaultTimeoutMicroseconds()),
				MaxQueueTimeAction: queueTimeAction(q), AllowQueueTimeOverride: q.GetAllowTimeoutOverride()}
		}
		// Triton bounds each level's queue: default_queue_policy's max_queue_size applies to
		// every level without its own policy, and the whole queue holds what the levels may
		// (unbounded when one is)
		defaultBounded := db.GetDefaultQueuePolicy().GetMaxQueueSize() > 0
		bounded, whole := true, 0
		for level := uint64(1); level <= uint64(db.GetPriorityLevels()); level++ {
			q, own := policies[level]
			if !own && !defaultBounded {
				bounded = false
				continue
			}
			if !own {
				q = db.GetDefaultQueuePolicy()
			}
			if y.PriorityQueuePolicies == nil {
				y.PriorityQueuePolicies = map[int]PriorityQueuePolicy{}
			}
			y.PriorityQueuePolicies[levelPriority(db, int64(level))] = policy(q)
			if q.GetMaxQueueSize() == 0 {
				bounded = false
			}
			whole += int(q.GetMaxQueueSize())
		}
		switch {
		case db.GetPriorityLevels() == 0:
		case bounded:
			y.JobQueueSize = &whole
		default:
			y.JobQueueSize = nil // the server's job_queue_size
		}
	}
	if sb := c.GetSequenceBatching(); sb != nil {
		stateful, idle := true, seqbatch.DefaultIdle
		if us := sb.GetMaxSequenceIdleMicroseconds(); us > 0 {
			idle = time.Duration(min(us, math.MaxInt64/1000)) * time.Microsecond
		}
		y.SequenceBatching, y.SequenceMaxIdleMSec = &stateful, ms(uint64(idle/time.Microsecond))
	}
	if sb := c.GetSequenceBatching(); sb != nil && c.GetMaxBatchSize() > 0 {
		// the requests of different sequences batch as a dynamic batcher's (seqbatch)
		n := int(c.GetMaxBatchSize())
		y.BatchSize = &n
		switch oldest, direct := sb.GetOldest(), sb.GetDirect(); {
		case oldest != nil:
			y.MaxBatchDelay = ms(oldest.GetMaxQueueDelayMicroseconds())
			for _, p := range oldest.GetPreferredBatchSize() {
				y.PreferredBatchSizes = append(y.PreferredBatchSizes, int(p))
			}
		case direct.GetMinimumSlotUtilization() > 0: // Triton waits only then
			y.MaxBatchDelay = ms(direct.GetMaxQueueDelayMicroseconds())
		}
	}
	if groups := c.GetInstanceGroup(); len(groups) > 0 {
		n := 0
		kinds := map[string]bool{}
		var ids []int
		for _, g := range groups {
			count := max(int(g.GetCount()), 1)
			if gpus := len(g.GetGpus()); gpus > 0 {
				count *= gpus
			}
			n += count
			switch {
			case g.GetKind() == oippb.ModelInstanceGroup_KIND_CPU:
				kinds[DeviceCPU] = true
			case g.GetKind() == oippb.ModelInstanceGroup_KIND_GPU || len(g.GetGpus()) > 0:
				kinds[DeviceGPU] = true
				for _, id := range g.GetGpus() {
					if !slices.Contains(ids, int(id)) {
						ids = append(ids, int(id))
					}
				}
			}
		}
		y.MinWorkers, y.MaxWorkers = &n, &n
		switch {
		case kinds[DeviceCPU] && kinds[DeviceGPU]:
			return nil, fmt.Errorf("%s: instance_group has both KIND_CPU and KIND_GPU instances: ts runs a model version on one device", FromTritonConfig)
		case kinds[DeviceCPU]:
			kind := DeviceCPU
			y.DeviceType = &kind
		case kinds[DeviceGPU]:
			kind := DeviceGPU
			y.DeviceType, y.DeviceIDs = &kind, ids
		}
	}
	if err := onnxRuntimeParameters(c.GetParameters(), y); err != nil {
		return nil, err
	}
	if level := c.GetOptimization().GetGraph().GetLevel(); level != 0 {
		name, ok := tritonGraphLevels[level]
		if !ok {
			return nil, fmt.Errorf("%s: optimization graph level %d: the onnxruntime backend takes -1 (basic), 1 (extended) or 2 (none)", FromTritonConfig, level)
		}
		y.GraphOptimization = &name
	}
	if c.GetResponseCache().GetEnable() {
		on := true
		y.ResponseCache = &on
	}
	if samples := c.GetModelWarmup(); len(samples) > 0 {
		w := &Warmup{Data: WarmupZero}
		for _, s := range samples {
			w.Runs = max(w.Runs, int(s.GetCount()), 1)
			if b := int(s.GetBatchSize()); b > 0 && !slices.Contains(w.BatchSizes, b) {
				w.BatchSizes = append(w.BatchSizes, b)
			}
			for name, in := range s.GetInputs() {
				if in.GetRandomData() {
					w.Data = WarmupRandom
				}
				if dims := in.GetDims(); len(dims) > 0 {
					if w.Shapes == nil {
						w.Shapes = map[string][]int64{}
					}
					w.Shapes[name] = dims
				}
				if f := in.GetInputDataFile(); f != "" {
					if w.Files == nil {
						w.Files = map[string]string{}
					}
					w.Files[name] = "warmup/" + f
				}
			}
		}
		y.Warmup = w
	}
	return y, nil
}

// tritonParameters are the config.pbtxt parameters ts reads: the onnxruntime backend's
// session options (onnxRuntimeParameters) and ts's own handler.
var tritonParameters = []string{paramIntraOpThreads, paramInterOpThreads, paramExecutionMode,
	paramMemArena, paramMemPattern, paramArenaShrinkage, useDeviceAllocatorKey, "handler"}

// The onnxruntime backend's parameters that ts reads (onnxRuntimeParameters) and answers
// (Settings.TritonParameters).
const (
	paramIntraOpThreads = "intra_op_thread_count"
	paramInterOpThreads = "inter_op_thread_count"
	paramExecutionMode  = "execution_mode"
	paramMemArena       = "enable_mem_arena"
	paramMemPattern     = "enable_mem_pattern"
	paramArenaShrinkage = "memory.enable_memory_arena_shrinkage"
	// useDeviceAllocatorKey is the one session configuration entry the backend takes as a
	// parameter.
	useDeviceAllocatorKey = "session.use_device_allocator_for_initializers"
)

// The onnxruntime backend's graph optimisation levels and execution modes, as ts's
// graphOptimization and executionMode.
var (
	tritonGraphLevels    = map[int32]string{-1: "basic", 1: "extended", 2: "disable"}
	tritonExecutionModes = map[string]string{"0": "sequential", "1": "parallel"}
)

// TritonGraphLevel is graphOptimization as the onnxruntime backend's optimization graph
// level; none for all, which Triton's configurations leave out.
func (s Settings) TritonGraphLevel() (int32, bool) {
	for level, name := range tritonGraphLevels {
		if strings.EqualFold(s.GraphOptimization, name) || (name == "disable" && strings.EqualFold(s.GraphOptimization, "none")) {
			return level, true
		}
	}
	return 0, false
}

// TritonParameters are the ONNX Runtime session options in effect as the onnxruntime
// backend's parameters (config.pbtxt's), with the intra-op threads the session runs with.
func (s Settings) TritonParameters(intraOpThreads int) map[string]string {
	flag := func(on bool) string {
		if on {
			return "1"
		}
		return "0"
	}
	params := map[string]string{
		paramExecutionMode: flag(s.ExecutionMode == "parallel"),
		paramMemArena:      flag(s.MemArena),
		paramMemPattern:    flag(s.MemPattern),
	}
	if intraOpThreads > 0 {
		params[paramIntraOpThreads] = strconv.Itoa(intraOpThreads)
	}
	if s.InterOpThreads > 0 {
		params[paramInterOpThreads] = strconv.Itoa(s.InterOpThreads)
	}
	if s.MemArenaShrinkage != "" {
		params[paramArenaShrinkage] = s.MemArenaShrinkage
	}
	if v, ok := s.SessionConfig[useDeviceAllocatorKey]; ok {
		params[useDeviceAllocatorKey] = v
	}
	return params
}

// onnxRuntimeParameters reads the onnxruntime backend's parameters of a config.pbtxt:
// intra_op_thread_count and inter_op_thread_count (0: ONNX Runtime's choice),
// execution_mode (0 sequential, 1 parallel), enable_mem_arena and enable_mem_pattern (1 or
// 0, as Triton's backends read a boolean: also true/false, on/off),
// memory.enable_memory_arena_shrinkage (its devices, "cpu:0;gpu:0") and
// session.use_device_allocator_for_initializers (a session configuration entry).
func onnxRuntimeParameters(params map[string]*oippb.ModelParameter, y *modelYAML) error {
	value := func(key string) (string, bool) {
		p, ok := params[key]
		return strings.TrimSpace(p.GetStringValue()), ok
	}
	count := func(key string, dst **int) error {
		v, ok := value(key)
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: parameter %s %q is not a count of threads", FromTritonConfig, key, v)
		}
		if n > 0 {
			*dst = &n
		}
		return nil
	}
	flag := func(key string, dst **bool) error {
		v, ok := value(key)
		if !ok {
			return nil
		}
		var on bool
		switch strings.ToLower(v) {
		case "1", "true", "on":
			on = true
		case "0", "false", "off":
		default:
			return fmt.Errorf("%s: parameter %s %q is not 1 or 0", FromTritonConfig, key, v)
		}
		*dst = &on
		return nil
	}
	if err := errors.Join(count(paramIntraOpThreads, &y.IntraOpThreads), count(paramInterOpThreads, &y.InterOpThreads),
		flag(paramMemArena, &y.MemArena), flag(paramMemPattern, &y.MemPattern)); err != nil {
		return err
	}
	if v, ok := value(paramArenaShrinkage); ok {
		y.MemArenaShrinkage = &v
	}
	if v, ok := value(useDeviceAllocatorKey); ok {
		y.SessionConfig = map[string]string{useDeviceAllocatorKey: v}
	}
	if v, ok := value(paramExecutionMode); ok {
		mode, known := tritonExecutionModes[v]
		if !known {
			return fmt.Errorf("%s: parameter execution_mode %q: the onnxruntime backend takes 0 (sequential) or 1 (parallel)", FromTritonConfig, v)
		}
		y.ExecutionMode = &mode
	}
	return nil
}

// tritonUnapplied says what of a config.pbtxt ts reads but does not apply, for the log: the
// onnxruntime backend's other parameters, and execution accelerators (ts runs every model
// on the server's execution provider).
func tritonUnapplied(c *oippb.ModelConfig) []string {
	var notes []string
	for _, key := range slices.Sorted(maps.Keys(c.GetParameters())) {
		if !slices.Contains(tritonParameters, key) {
			notes = append(notes, fmt.Sprintf("parameter %q is not applied", key))
		}
	}
	if n := c.GetSequenceBatching().GetOldest().GetMaxCandidateSequences(); n > 0 {
		notes = append(notes, fmt.Sprintf("sequence_batching: max_candidate_sequences %d is not applied: every sequence runs at once, none waits in a backlog (ONNX Runtime keeps no state in a batch slot)", n))
	}
	accel := c.GetOptimization().GetExecutionAccelerators()
	for _, a := range slices.Concat(accel.GetGpuExecutionAccelerator(), accel.GetCpuExecutionAccelerator()) {
		notes = append(notes, fmt.Sprintf("execution accelerator %q is not applied: models run on the server's execution provider (ts serve --provider)", a.GetName()))
	}
	return notes
}

// queueTimeAction is a Triton queue policy's timeout_action as maxQueueTimeAction.
func queueTimeAction(q *oippb.ModelQueuePolicy) string {
	if q.GetTimeoutAction() == oippb.ModelQueuePolicy_DELAY {
		return QueueTimeDelay
	}
	return QueueTimeReject
}

// checkTritonIO checks the inputs and outputs config.pbtxt names against the model's, as
// Triton does: a name the model does not have, or another element type, is refused.
func checkTritonIO(c *oippb.ModelConfig, inputs, outputs []tensor.Info) error {
	type tensorDecl struct {
		name string
		typ  oippb.DataType
	}
	check := func(what string, declared []tensorDecl, have []tensor.Info) error {
		for _, d := range declared {
			i := slices.IndexFunc(have, func(t tensor.Info) bool { return t.Name == d.name })
			if i < 0 {
				return fmt.Errorf("%s: %s %q is not one of the model's (%s)", FromTritonConfig, what, d.name, strings.Join(tensor.Names(have), ", "))
			}
			if d.typ == oippb.DataType_TYPE_INVALID {
				continue
			}
			if got := have[i].DType; d.typ.DType() != got {
				return fmt.Errorf("%s: %s %q: data_type %s, but the model's is %s", FromTritonConfig, what, d.name, d.typ, got.V2Name())
			}
		}
		return nil
	}
	var ins, outs []tensorDecl
	for _, in := range c.GetInput() {
		ins = append(ins, tensorDecl{in.GetName(), in.GetDataType()})
	}
	for _, out := range c.GetOutput() {
		outs = append(outs, tensorDecl{out.GetName(), out.GetDataType()})
	}
	if err := check("input", ins, inputs); err != nil {
		return err
	}
	return check("output", outs, outputs)
}

// takesImages tells whether a model's one input looks like a batch of images ([N,C,H,W] or
// [N,H,W,C] with 1 or 3 channels), which the image handlers read from image files.
func takesImages(inputs []tensor.Info) bool {
	if len(inputs) != 1 || len(inputs[0].Shape) != 4 {
		return false
	}
	in := inputs[0]
	channels := func(d int64) bool { return d == 1 || d == 3 }
	return (in.DType.IsFloat() || in.DType == tensor.Uint8) && (channels(in.Shape[1]) || channels(in.Shape[3]))
}

// TritonPriority is the priority a request asking for Triton's priority level p (1 the
// highest; the request parameter priority) runs at, for a version whose config.pbtxt gives
// dynamic_batching priority_levels: its default_priority_level runs at 0, as a request
// that asks for none, and each level above it one higher. A level of 0 or past
// priority_levels is the default one, as in Triton. ok is false for other versions, which
// Triton does not prioritise either (ts's X-TS-Priority header does).
func (v *Version) TritonPriority(p int64) (priority int, ok bool) {
	db := v.TritonConfig().GetDynamicBatching()
	levels, def := int64(db.GetPriorityLevels()), int64(db.GetDefaultPriorityLevel())
	if levels == 0 {
		return 0, false
	}
	if p < 1 || p > levels {
		p = def
	}
	return levelPriority(db, p), true
}

// levelPriority is the ts priority a Triton priority level (1 the highest) runs at: the
// default level at 0, each level above it one higher.
func levelPriority(db *oippb.ModelDynamicBatching, level int64) int {
	return int(int64(db.GetDefaultPriorityLevel()) - level)
}

// tritonEnsembleIO are the inputs and outputs an ensemble's config.pbtxt declares: each with
// its data_type and dims, after a batch dimension when max_batch_size is above 0.
func tritonEnsembleIO(c *oippb.ModelConfig) (inputs, outputs []tensor.Info, err error) {
	info := func(what, name string, typ oippb.DataType, dims []int64) (tensor.Info, error) {
		dt := typ.DType()
		if dt == tensor.Invalid {
			return tensor.Info{}, fmt.Errorf("%s: the ensemble's %s %q needs a data_type", FromTritonConfig, what, name)
		}
		shape := slices.Clone(dims)
		if c.GetMaxBatchSize() > 0 {
			shape = append([]int64{-1}, shape...)
		}
		return tensor.Info{Name: name, DType: dt, Shape: shape}, nil
	}
	for _, in := range c.GetInput() {
		t, err := info("input", in.GetName(), in.GetDataType(), in.GetDims())
		if err != nil {
			return nil, nil, err
		}
		inputs = append(inputs, t)
	}
	for _, out := range c.GetOutput() {
		t, err := info("output", out.GetName(), out.GetDataType(), out.GetDims())
		if err != nil {
			return nil, nil, err
		}
		outputs = append(outputs, t)
	}
	if len(inputs) == 0 || len(outputs) == 0 {
		return nil, nil, fmt.Errorf("%s: an ensemble declares its inputs and outputs (input [...] and output [...])", FromTritonConfig)
	}
	return inputs, outputs, nil
}
