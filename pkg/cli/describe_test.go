package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/cli/term"
)

// describeText's lines for states a live test server rarely shows: workers failed for good,
// batching stopped while serving, settings from several sources.
func TestDescribeText(t *testing.T) {
	d := api.Description{
		ModelName: "m", ModelVersion: "1.0", MinWorkers: 2, MaxWorkers: 2, BatchSize: 8, MaxRetryTimeoutInSec: 300,
		Workers: []api.Worker{{Status: "READY"}, {Status: "ERROR"}},
		Batching: api.Batching{Unbatchable: `stopped while serving: output "y" had 16 rows for a batch of 8 items`,
			MaxQueueTime: 250, MaxQueueTimeAction: "delay", AllowQueueTimeOverride: true,
			PriorityQueuePolicies: map[int]api.QueuePolicy{1: {JobQueueSize: 3}, -1: {MaxQueueTime: 5}}},
		ExecutionProvider: "cpu", IntraOpThreads: 1, GraphOptimization: "basic",
		ExecutionMode: "parallel", InterOpThreads: 3, MemArena: new(false), MemPattern: new(true), MemArenaShrinkage: "cpu:0",
		SettingSources: map[string]string{
			"batchSize": "model-config.yaml", "maxBatchDelay": "model-config.yaml", "jobQueueSize": "job_queue_size (file config.properties)",
			"responseTimeout": "default",
		},
	}
	var out bytes.Buffer
	describeText(term.New(&out, &out, nil, false), d)
	for _, want := range []string{
		`(?m)^workers +1 ready of 2 \(min 2, max 2\); 1 failed for over 300s \(maxRetryTimeoutInSec\) and not replaced: scale to start them again$`,
		`(?m)^batching +off: stopped while serving: output "y" had 16 rows for a batch of 8 items$`,
		`(?m)^queue +.*; waits at most 250 ms, then goes behind the others \(a request may ask for less\); priorities -1, 1 have their own policy$`,
		`(?m)^runs on +cpu, 1 ONNX Runtime thread, loaded in 0 ms, graph optimisation basic, parallel execution on 3 inter-op threads, no memory arena, arena shrunk after each run \(cpu:0\)$`,
		`(?m)^set by +job_queue_size \(file config.properties\): jobQueueSize\nset by +model-config.yaml: batchSize, maxBatchDelay$`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("no line matching %s in:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "responseTimeout") {
		t.Errorf("a setting at its default is listed:\n%s", out.String())
	}

	alone := api.Description{BatchSize: 32, MaxBatchDelay: 5, Batching: api.Batching{Batchable: true, Adaptive: true,
		Stats: batch.Stats{Batches: 40, MeanBatchItems: 1.2, MeanRunMS: 61, BatchSpeedup: 0.97, SendsAlone: true}}}
	out.Reset()
	describeText(term.New(&out, &out, nil, false), alone)
	if want := `(?m)^batching +up to 32, delay 5 ms \(adaptive\); 40 batches, 1\.2 items and 61\.00 ms each on average; items run only 0\.97× faster in batches, so requests go alone$`; !regexp.MustCompile(want).MatchString(out.String()) {
		t.Errorf("no line matching %s in:\n%s", want, out.String())
	}

	custom := api.Description{Workers: []api.Worker{{Status: "READY"}, {Status: "READY"}},
		Processes: []api.Process{{PID: 41, MemoryUsage: 25_300_000, Busy: true}, {PID: 42, MemoryUsage: 24_000_000}}}
	out.Reset()
	describeText(term.New(&out, &out, nil, false), custom)
	if want := `(?m)^processes +pid 41 \(25\.3 MB, busy\), pid 42 \(24\.0 MB\)$`; !regexp.MustCompile(want).MatchString(out.String()) {
		t.Errorf("no line matching %s in:\n%s", want, out.String())
	}

	held := 3
	triton := api.Description{Ensemble: []string{"iris", "plus"}, Sequences: &held, SequenceMaxIdleMSec: 1000}
	out.Reset()
	describeText(term.New(&out, &out, nil, false), triton)
	for _, want := range []string{`(?m)^ensemble +steps run iris, plus$`, `(?m)^sequences +3 held \(idle ones end after 1000 ms\)$`,
		`(?m)^workers +none of its own: its steps' models run its requests$`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("no line matching %s in:\n%s", want, out.String())
		}
	}

	gpus := api.Description{ExecutionProvider: "cuda:0, cuda:1", IntraOpThreads: 1, LoadTimeMS: 900}
	out.Reset()
	describeText(term.New(&out, &out, nil, false), gpus)
	if want := `(?m)^runs on +cuda:0 and cuda:1 in turn, 1 ONNX Runtime thread, loaded in 900 ms$`; !regexp.MustCompile(want).MatchString(out.String()) {
		t.Errorf("no line matching %s in:\n%s", want, out.String())
	}

	limited := api.Description{BatchSize: 8, MaxBatchDelay: 5, Batching: api.Batching{Batchable: true,
		Stats: batch.Stats{Limit: 4, LimitReason: "a batch of 8 items failed where each of its requests ran alone (out of memory)"}}}
	out.Reset()
	describeText(term.New(&out, &out, nil, false), limited)
	if want := `(?m)^batching +up to 4 \(limited from 8: a batch of 8 items failed where each of its requests ran alone \(out of memory\)\), delay 5 ms$`; !regexp.MustCompile(want).MatchString(out.String()) {
		t.Errorf("no line matching %s in:\n%s", want, out.String())
	}
}
