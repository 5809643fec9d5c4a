package server

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/api/grpc/inferencepb"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// statefulServer serves pkg/handler/testdata/stateful.py as the model "stateful", with the
// model-config.yaml given.
func statefulServer(t *testing.T, yaml string) *testServer {
	t.Helper()
	ts := emptyServer(t, nil)
	ts.registerArchive(t, archive.PackOptions{ModelName: "stateful", Handler: testenv.Path("pkg/handler/testdata/stateful.py"),
		ExtraFiles: []string{testenv.Path("templates/python/ts_handler.py")}, ConfigFile: modelConfig(t, yaml)}, "")
	return ts
}

type sumAnswer struct {
	Sum      int
	Pid      int
	Sequence string
}

// sendInSequence posts value to the stateful model with the sequence headers given (name,
// value pairs) and returns the answer and the sequence id header of the response.
func sendInSequence(t *testing.T, ts *testServer, value int, header ...string) (sumAnswer, string) {
	t.Helper()
	status, b, h, err := send("POST", ts.inference.URL+"/predictions/stateful", []byte(fmt.Sprint(value)), header...)
	var a sumAnswer
	if err != nil || status != 200 || json.Unmarshal(b, &a) != nil {
		t.Fatalf("%d %s %v", status, b, err)
	}
	return a, h.Get("ts_request_sequence_id")
}

// TestStatefulSequences: TorchServe's sequence batching test, on two handler processes:
// each sequence's requests reach the process that keeps its sum, so two sequences sent at
// once each get their own running sums (1 4 9 16 25 and 2 6 12 20 30).
func TestStatefulSequences(t *testing.T) {
	ts := statefulServer(t, "minWorkers: 2\nmaxWorkers: 2\nsequenceBatching: true\nmaxNumSequence: 3\nsequenceMaxIdleMSec: 60000\n")
	exchange{"described", "GET", "/models/stateful", "", nil, 200, "", `"maxNumSequence": 3`}.run(t, ts.management.URL)

	var wg sync.WaitGroup
	sums := make([][]string, 2)
	pids := make([]map[int]bool, 2)
	for s := range 2 {
		wg.Go(func() {
			pids[s] = map[int]bool{}
			for i := range 5 {
				a, id := sendInSequence(t, ts, 2*i+s+1, "ts_request_sequence_id", fmt.Sprintf("seq_%d", s))
				if id != fmt.Sprintf("seq_%d", s) || a.Sequence != id {
					t.Errorf("sequence %q answered as %q (header %q)", fmt.Sprintf("seq_%d", s), a.Sequence, id)
				}
				sums[s] = append(sums[s], fmt.Sprint(a.Sum))
				pids[s][a.Pid] = true
			}
		})
	}
	wg.Wait()
	if got := strings.Join(sums[0], " "); got != "1 4 9 16 25" {
		t.Errorf("seq_0: %s", got)
	}
	if got := strings.Join(sums[1], " "); got != "2 6 12 20 30" {
		t.Errorf("seq_1: %s", got)
	}
	if len(pids[0]) != 1 || len(pids[1]) != 1 {
		t.Errorf("a sequence's requests went to several processes: %v", pids)
	}
	// describe lists the handler's processes, and shows them as TorchServe's workers
	_, body, _, err := send("GET", ts.management.URL+"/models/stateful", nil)
	var described []api.Description
	if err != nil || json.Unmarshal(body, &described) != nil || len(described) != 1 {
		t.Fatalf("describe: %s %v", body, err)
	}
	listed := map[int]bool{}
	for i, p := range described[0].Processes {
		listed[p.PID] = true
		if p.MemoryUsage <= 0 || i >= len(described[0].Workers) || described[0].Workers[i].PID != p.PID ||
			described[0].Workers[i].MemoryUsage <= 0 {
			t.Errorf("process %d: %+v, workers %+v", i, p, described[0].Workers)
		}
	}
	for s := range 2 {
		for pid := range pids[s] {
			if !listed[pid] {
				t.Errorf("describe's processes %+v lack seq_%d's %d", described[0].Processes, s, pid)
			}
		}
	}
	// and the metrics API counts them, with their memory
	_, metricsText, _, err := send("GET", ts.metrics.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	count := regexp.MustCompile(`(?m)^ts_handler_processes\{model_name="stateful",model_version="1\.0"\} (\d+)$`).FindSubmatch(metricsText)
	memory := regexp.MustCompile(`(?m)^ts_handler_resident_memory_bytes\{model_name="stateful",model_version="1\.0"\} ([0-9.e+]+)$`).FindSubmatch(metricsText)
	if count == nil || string(count[1]) != fmt.Sprint(len(described[0].Processes)) || memory == nil || string(memory[1]) == "0" {
		t.Errorf("metrics: processes %q, memory %q, want %d processes and their memory", count, memory, len(described[0].Processes))
	}

	// no sequence id: a new one, answered in the header, which the next request carries on
	a, id := sendInSequence(t, ts, 5)
	if !strings.HasPrefix(id, "ts-seq-") || a.Sequence != id || a.Sum != 5 {
		t.Fatalf("new sequence %q: %+v", id, a)
	}
	if a, _ := sendInSequence(t, ts, 2, "ts_request_sequence_id", id); a.Sum != 7 {
		t.Errorf("carried on: %+v", a)
	}
	// seq_0, seq_1 and this one are open: maxNumSequence 3 refuses a fourth
	exchange{"a fourth sequence", "POST", "/predictions/stateful", "", []byte("1"), 503, "ServiceUnavailableException", "3 open sequences, its maxNumSequence"}.run(t, ts.inference.URL)
	// the end header ends one: a new sequence may open
	if a, _ := sendInSequence(t, ts, 1, "ts_request_sequence_id", id, "ts_request_sequence_end", "true"); a.Sum != 8 {
		t.Errorf("last of the sequence: %+v", a)
	}
	if a, _ := sendInSequence(t, ts, 1, "ts_request_sequence_id", "seq_new"); a.Sum != 1 {
		t.Errorf("a new sequence: %+v", a)
	}
	// the start header begins a sequence afresh
	if a, _ := sendInSequence(t, ts, 3, "ts_request_sequence_id", "seq_0", "ts_request_sequence_start", "true"); a.Sum != 3 {
		t.Errorf("restarted: %+v", a)
	}

	// over gRPC: a StreamPredictions2 stream is one sequence (its id generated here)
	c, _ := grpcClients(t, ts)
	for _, seq := range []string{"seq_0", "seq_1", "seq_new"} {
		sendInSequence(t, ts, 0, "ts_request_sequence_id", seq, "ts_request_sequence_end", "true")
	}
	stream, err := c.StreamPredictions2(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var reqs []*inferencepb.PredictionsRequest
	for _, v := range []string{"1", "2", "3"} {
		reqs = append(reqs, &inferencepb.PredictionsRequest{ModelName: "stateful", Input: map[string][]byte{"body": []byte(v)}})
	}
	var got []int
	for _, res := range exchangeAll(t, stream, reqs) {
		var a sumAnswer
		json.Unmarshal(res.GetPrediction(), &a)
		if a.Sequence != res.GetSequenceId() {
			t.Errorf("answer of sequence %q in stream %q", a.Sequence, res.GetSequenceId())
		}
		got = append(got, a.Sum)
	}
	if fmt.Sprint(got) != "[1 3 6]" {
		t.Errorf("gRPC stream sums %v", got)
	}
	// a unary call with no sequence id opens one, and answers its id for the next call
	one, err := c.Predictions(context.Background(), &inferencepb.PredictionsRequest{ModelName: "stateful", Input: map[string][]byte{"body": []byte("4")}})
	if err != nil || !strings.HasPrefix(one.GetSequenceId(), "ts-seq-") {
		t.Fatalf("unary: %v, %v", one, err)
	}
	unaryID := one.GetSequenceId()
	two, err := c.Predictions(context.Background(), &inferencepb.PredictionsRequest{ModelName: "stateful", SequenceId: &unaryID, Input: map[string][]byte{"body": []byte("1")}})
	var a2 sumAnswer
	if err != nil || json.Unmarshal(two.GetPrediction(), &a2) != nil || a2.Sum != 5 || two.GetSequenceId() != unaryID {
		t.Errorf("unary, same sequence: %v, %v", two, err)
	}
}

// TestSequenceIdle: a sequence idle for sequenceMaxIdleMSec ends, and makes room for another.
func TestSequenceIdle(t *testing.T) {
	ts := statefulServer(t, "minWorkers: 1\nmaxWorkers: 1\nsequenceBatching: true\nmaxNumSequence: 1\nsequenceMaxIdleMSec: 1500\n")
	sendInSequence(t, ts, 1, "ts_request_sequence_id", "a")
	exchange{"a second sequence", "POST", "/predictions/stateful", "", []byte("1"), 503, "ServiceUnavailableException", "maxNumSequence"}.run(t, ts.inference.URL)
	time.Sleep(1800 * time.Millisecond)
	if a, _ := sendInSequence(t, ts, 2, "ts_request_sequence_id", "b"); a.Sum != 2 {
		t.Errorf("after a idled out: %+v", a)
	}
}

// TestSequenceJobQueue: while a request of a sequence is answered, maxSequenceJobQueueSize
// (TorchServe's default 1) more of it may wait; one more is refused at once, saying why, and
// other sequences go on.
func TestSequenceJobQueue(t *testing.T) {
	ts := statefulServer(t, "minWorkers: 1\nmaxWorkers: 1\nsequenceBatching: true\nmaxNumSequence: 2\n")
	exchange{"described", "GET", "/models/stateful", "", nil, 200, "", `"maxSequenceJobQueueSize": 1,`}.run(t, ts.management.URL)
	post := func(body string, out chan<- sent) {
		status, b, _, err := send("POST", ts.inference.URL+"/predictions/stateful", []byte(body), "ts_request_sequence_id", "busy")
		out <- sent{status: status, body: b, err: err}
	}
	slow := make(chan sent, 1)
	go post("slow 1", slow) // answered after a second
	time.Sleep(150 * time.Millisecond)
	more := make(chan sent, 3)
	for range 3 {
		go post("2", more)
	}
	got := map[int]int{}
	for range 3 {
		r := <-more
		got[r.status]++
		if r.status == 503 && !strings.Contains(string(r.body), "sequence busy has its maxSequenceJobQueueSize (1) of requests waiting") {
			t.Errorf("refused: %s", r.body)
		}
		if got[503] == 2 && got[200] == 0 { // the other one waits, counted in the model's queue
			exchange{"one waiting", "GET", "/models/stateful", "", nil, 200, "", `"pendingRequests": 1`}.run(t, ts.management.URL)
		}
	}
	if got[200] != 1 || got[503] != 2 {
		t.Errorf("three more requests of a busy sequence: statuses %v, want one that waited (200) and two refused (503)", got)
	}
	if r := <-slow; r.status != 200 || !strings.Contains(string(r.body), `"sum": 1,`) {
		t.Errorf("the slow request: %d %s %v", r.status, r.body, r.err)
	}
	if a, _ := sendInSequence(t, ts, 0, "ts_request_sequence_id", "busy"); a.Sum != 3 {
		t.Errorf("the sequence after: %+v, want the slow request's 1 and the waiting one's 2", a)
	}
	if a, _ := sendInSequence(t, ts, 5, "ts_request_sequence_id", "other"); a.Sum != 5 {
		t.Errorf("another sequence: %+v", a)
	}
}

// TestSequenceBatches: TorchServe's sequence batching with a batch size above 1, on two
// handler processes: a batch holds requests of several sequences, never two of one, each
// sequence's requests reach the process that keeps its sum, in order, and each gets its
// own running sum; maxNumSequence and the end header hold as for requests sent alone.
func TestSequenceBatches(t *testing.T) {
	ts := emptyServer(t, nil)
	ts.registerArchive(t, archive.PackOptions{ModelName: "stateful", Handler: testenv.Path("pkg/handler/testdata/torchserve_stateful.py"),
		ConfigFile: modelConfig(t, "minWorkers: 2\nmaxWorkers: 2\nbatchSize: 4\nmaxBatchDelay: 300\nsequenceBatching: true\nmaxNumSequence: 5\nmaxSequenceJobQueueSize: 2\n")}, "")
	type answer struct {
		Sum      int
		Pid      int
		Sequence string
		Batch    []string
	}
	post := func(value int, header ...string) (answer, int, []byte) {
		status, b, _, err := send("POST", ts.inference.URL+"/predictions/stateful", []byte(fmt.Sprint(value)), header...)
		var a answer
		if err != nil || (status == 200 && json.Unmarshal(b, &a) != nil) {
			t.Errorf("%d %s %v", status, b, err)
		}
		return a, status, b
	}
	var (
		mu      sync.Mutex
		batches [][]string
	)
	check := func(a answer) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, a.Batch)
		if !slices.Contains(a.Batch, a.Sequence) || len(slices.Compact(slices.Sorted(slices.Values(a.Batch)))) != len(a.Batch) {
			t.Errorf("%s answered in a batch of %v: want its own sequence in it, once, and no sequence twice", a.Sequence, a.Batch)
		}
	}
	// four sequences, each sending five requests one after another, all at once
	var wg sync.WaitGroup
	sums := make([][]int, 4)
	pids := make([]map[int]bool, 4)
	for s := range 4 {
		wg.Go(func() {
			pids[s] = map[int]bool{}
			for range 5 {
				a, status, b := post(s+1, "ts_request_sequence_id", fmt.Sprintf("seq_%d", s))
				if status != 200 {
					t.Errorf("seq_%d: %d %s", s, status, b)
					return
				}
				check(a)
				sums[s] = append(sums[s], a.Sum)
				pids[s][a.Pid] = true
			}
		})
	}
	// two requests of one more sequence at once: they never share a batch, and add up
	var twins []answer
	for range 2 {
		wg.Go(func() {
			a, status, b := post(10, "ts_request_sequence_id", "twins")
			if status != 200 {
				t.Errorf("twins: %d %s", status, b)
				return
			}
			check(a)
			mu.Lock()
			twins = append(twins, a)
			mu.Unlock()
		})
	}
	wg.Wait()
	for s := range 4 {
		want := []int{s + 1, 2 * (s + 1), 3 * (s + 1), 4 * (s + 1), 5 * (s + 1)}
		if !slices.Equal(sums[s], want) {
			t.Errorf("seq_%d sums %v, want %v", s, sums[s], want)
		}
		if len(pids[s]) != 1 {
			t.Errorf("seq_%d went to several processes: %v", s, pids[s])
		}
	}
	if len(twins) == 2 && twins[0].Sum+twins[1].Sum != 30 {
		t.Errorf("two requests of one sequence at once: sums %d and %d, want 10 and 20", twins[0].Sum, twins[1].Sum)
	}
	largest := 0
	for _, b := range batches {
		largest = max(largest, len(b))
	}
	if largest < 2 {
		t.Errorf("no batch held two sequences: %v", batches)
	}
	// five sequences are open: a sixth is refused at once
	if _, status, b := post(1, "ts_request_sequence_id", "sixth"); status != 503 || !strings.Contains(string(b), "5 open sequences, its maxNumSequence") {
		t.Errorf("a sixth sequence: %d %s, want 503 naming maxNumSequence", status, b)
	}
	// the end header ends one (after its answer): a new one may open
	if a, _, _ := post(1, "ts_request_sequence_id", "seq_0", "ts_request_sequence_end", "true"); a.Sum != 6 {
		t.Errorf("the last of seq_0: %+v", a)
	}
	if a, status, b := post(7, "ts_request_sequence_id", "sixth"); status != 200 || a.Sum != 7 {
		t.Errorf("a new sequence once one ended: %d %s", status, b)
	}
	// the start header begins a sequence afresh
	if a, _, _ := post(3, "ts_request_sequence_id", "seq_1", "ts_request_sequence_start", "true"); a.Sum != 3 {
		t.Errorf("seq_1 begun afresh: %+v", a)
	}
	// four requests of a sequence at once, to a model whose batch waits 3 s for company: the
	// first waits in the queue, maxSequenceJobQueueSize 2 lets one more of its sequence wait
	// there, and the others are refused
	ts.registerArchive(t, archive.PackOptions{ModelName: "flood", Handler: testenv.Path("pkg/handler/testdata/torchserve_stateful.py"),
		ConfigFile: modelConfig(t, "minWorkers: 1\nmaxWorkers: 1\nbatchSize: 4\nmaxBatchDelay: 3000\nsequenceBatching: true\nmaxSequenceJobQueueSize: 2\n")}, "")
	statuses := make(chan int, 4)
	for range 4 {
		wg.Go(func() {
			status, _, _, _ := send("POST", ts.inference.URL+"/predictions/flood", []byte("1"), "ts_request_sequence_id", "flood")
			statuses <- status
		})
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[200] != 2 || got[503] != 2 {
		t.Errorf("four requests of one sequence at once: statuses %v, want two answered and two refused", got)
	}
}
