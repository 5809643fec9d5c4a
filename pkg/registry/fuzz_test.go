package registry

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/ensemble"
	"github.com/tsserve/ts/pkg/seqbatch"
	"github.com/tsserve/ts/pkg/tensor"
)

// FuzzTritonConfig: whatever a config.pbtxt says, reading it into settings, checking its
// inputs and outputs and listing what is not applied end in settings or an error, never a
// panic; settings that pass are valid.
func FuzzTritonConfig(f *testing.F) {
	for _, c := range []string{
		`max_batch_size: 16 dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 2500
		 default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 300000 max_queue_size: 32 allow_timeout_override: true } }
		 instance_group [ { count: 2 kind: KIND_CPU } ] response_cache { enable: true }`,
		`max_batch_size: 4 dynamic_batching { priority_levels: 3 default_priority_level: 2
		 priority_queue_policy { key: 1 value: { max_queue_size: 2 } } }`,
		`instance_group [ { kind: KIND_GPU gpus: [ 1, 0 ] } ] parameters { key: "execution_mode" value: { string_value: "1" } }
		 parameters { key: "memory.enable_memory_arena_shrinkage" value: { string_value: "gpu:1" } }`,
		`input [ { name: "features" data_type: TYPE_FP32 dims: [ 4 ] } ] output [ { name: "probabilities" data_type: TYPE_FP32 dims: [ 3 ] } ]
		 model_warmup [ { name: "w" batch_size: 2 inputs { key: "features" value: { data_type: TYPE_FP32 dims: [ 4 ] random_data: true } } } ]`,
		`sequence_batching { max_sequence_idle_microseconds: 5000000 } optimization { graph { level: -1 } }`,
		`platform: "ensemble" input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ] output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]
		 ensemble_scheduling { step [ { model_name: "iris" input_map { key: "features" value: "IN" } output_map { key: "probabilities" value: "OUT" } } ] }`,
		`input [ { name: "features" dims: [ 2, 2 ] reshape: { shape: [ 4 ] } } ] output [ { name: "probabilities" dims: [ 3, 1 ] reshape: { shape: [ -1 ] } } ]`,
		`max_batch_size: 4 sequence_batching { oldest { max_queue_delay_microseconds: 100 preferred_batch_size: [ 2 ] }
		 control_input [ { name: "features" control [ { kind: CONTROL_SEQUENCE_READY fp32_false_true: [ 0, 1 ] } ] } ]
		 state [ { input_name: "features" output_name: "probabilities" dims: [ 3 ] initial_state [ { zero_data: true dims: [ 3 ] } ] } ] }`,
	} {
		f.Add(c)
	}
	inputs := []tensor.Info{{Name: "features", DType: tensor.Float32, Shape: []int64{-1, 4}}}
	outputs := []tensor.Info{{Name: "probabilities", DType: tensor.Float32, Shape: []int64{-1, 3}}}
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := archive.ParseTritonConfig([]byte(text))
		if err != nil {
			return // not a config.pbtxt: refused when read
		}
		_ = checkTritonIO(cfg, inputs, outputs)
		if sb := cfg.GetSequenceBatching(); sb != nil {
			_, _ = seqbatch.New("m", sb, cfg.GetMaxBatchSize() > 0, inputs, outputs, t.TempDir())
		}
		if r, shown, answered, err := newReshaper(cfg, inputs, outputs); err == nil && r != nil && (len(shown) != len(inputs) || len(answered) != len(outputs)) {
			t.Fatalf("reshaper of %q: %d inputs and %d outputs shown", text, len(shown), len(answered))
		}
		if ins, outs, err := tritonEnsembleIO(cfg); err == nil {
			_, _ = ensemble.New("e", cfg, ins, outs)
		}
		_ = tritonUnapplied(cfg)
		if y, err := tritonSettings(cfg); err == nil {
			checkResolved(t, y)
		}
	})
}

// checkResolved resolves a model's file settings, as registering does, and returns why they
// do not resolve; settings that resolve without an error (resolveSettings validates them)
// must be usable.
func checkResolved(t *testing.T, y *modelYAML) error {
	d := Defaults{RegisterWorkers: 1, StartupWorkers: 1, ResponseTimeout: 120 * time.Second, StartupTimeout: 120 * time.Second, JobQueueSize: 100}
	s, err := resolveSettings(d, nil, y, Overrides{}, true)
	if err == nil && (s.BatchSize < 1 || s.JobQueueSize < 1 || s.MaxWorkers < s.MinWorkers || s.ResponseTimeout <= 0) {
		t.Fatalf("settings %+v", s)
	}
	return err
}

// FuzzModelConfigYAML: whatever an archive's model-config.yaml says, it resolves into valid
// settings or an error, never a panic, and what handlers get of it (the handler section, the
// whole file) is JSON, as the handler protocol sends it.
func FuzzModelConfigYAML(f *testing.F) {
	for _, c := range []string{
		"minWorkers: 2\nmaxWorkers: 4\nbatchSize: 8\nmaxBatchDelay: 50\nresponseTimeout: 30\n",
		"preferredBatchSizes: [2, 4]\nbatchSize: 4\nadaptiveBatching: true\nmaxQueueTime: 100\nmaxQueueTimeAction: delay\n",
		"priorityQueuePolicies:\n  1: {jobQueueSize: 2, maxQueueTime: 10, maxQueueTimeAction: reject}\n",
		"deviceType: gpu\ndeviceIds: [1, 0]\nexecutionMode: parallel\ninterOpThreads: 2\nmemArenaShrinkage: cpu:0\nsessionConfig: {a: b}\n",
		"sequenceBatching: true\nmaxNumSequence: 4\nsequenceMaxIdleMSec: 1000\nunloadAfterIdle: 0\nhandler: {topk: 3}\n",
		"sequenceBatching: true\ncontinuousBatching: true\nbatchSize: 4\nmaxSequenceJobQueueSize: 2\n",
		"handler:\n  id2label: {0: negative, 1: positive}\n  nested: [{1.5: x, true: y}]\n",
	} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if y, err := parseModelYAML([]byte(text)); err == nil { // else refused when read
			checkResolved(t, y)
			if _, err := json.Marshal(map[string]any{"config": y.Handler, "yaml": y.All}); err != nil {
				t.Fatalf("%q: what handlers get is not JSON: %v", text, err)
			}
		}
	})
}
