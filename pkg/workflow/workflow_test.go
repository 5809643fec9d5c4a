package workflow

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/handler"
)

// TorchServe's own examples: a sequential pipeline and a parallel one.
const sequential = `
models:
    #global model params
    min-workers: 1
    max-workers: 4
    batch-size: 3
    max-batch-delay : 5000
    retry-attempts : 3
    timeout-ms : 5000
    m1:
       url : model1.mar #local or public URI
       min-workers: 1   #override the global params
       max-workers: 2
       batch-size: 4
    m2:
       url : model2.mar

dag:
  pre_processing : [m1]
  m1 : [m2]
  m2 : [postprocessing]
`

const parallel = `
models:
    min-workers: 1
    max-workers: 1
    batch-size: 4
    max-batch-delay: 100
    retry-attempts: 5
    timeout-ms: 300000
    nmt_en_de:
      url: TransformerEn2De.mar
    nmt_en_fr:
      url: TransformerEn2Fr.mar
dag:
  pre_processing: [nmt_en_de, nmt_en_fr]
  nmt_en_de: [aggregate_func]
  nmt_en_fr: [aggregate_func]
`

func TestParseSpec(t *testing.T) {
	s, err := ParseSpec([]byte(sequential))
	if err != nil {
		t.Fatal(err)
	}
	if s.Start != "pre_processing" || !slices.Equal(s.Order, []string{"pre_processing", "m1", "m2", "postprocessing"}) {
		t.Errorf("start %s, order %v", s.Start, s.Order)
	}
	if want := (Settings{MinWorkers: 1, MaxWorkers: 4, BatchSize: 3, MaxBatchDelay: 5000, RetryAttempts: 3, TimeoutMS: 5000}); s.Global != want {
		t.Errorf("global %+v, want %+v", s.Global, want)
	}
	m1 := s.Nodes["m1"]
	if m1.URL != "model1.mar" || m1.IsFunction() || m1.Settings.MaxWorkers != 2 || m1.Settings.BatchSize != 4 || m1.Settings.MaxBatchDelay != 5000 {
		t.Errorf("m1 %+v", m1)
	}
	if m2 := s.Nodes["m2"]; m2.Settings != s.Global {
		t.Errorf("m2 settings %+v, want the global ones", m2.Settings)
	}
	pre := s.Nodes["pre_processing"]
	if !pre.IsFunction() || pre.Settings.BatchSize != 1 || pre.Settings.MaxWorkers != 1 || pre.Settings.TimeoutMS != 5000 || pre.Settings.RetryAttempts != 3 {
		t.Errorf("function node %+v", pre)
	}
	if want := "{pre_processing=[m1], m1=[m2], m2=[postprocessing]}"; s.DAG != want {
		t.Errorf("DAG %q, want %q", s.DAG, want)
	}
	if !slices.Equal(s.Functions(), []string{"pre_processing", "postprocessing"}) || !slices.Equal(s.Leaves(), []string{"postprocessing"}) {
		t.Errorf("functions %v, leaves %v", s.Functions(), s.Leaves())
	}

	p, err := ParseSpec([]byte(parallel))
	if err != nil {
		t.Fatal(err)
	}
	if agg := p.Nodes["aggregate_func"]; !slices.Equal(agg.Parents, []string{"nmt_en_de", "nmt_en_fr"}) || p.Order[len(p.Order)-1] != "aggregate_func" {
		t.Errorf("aggregate parents %v, order %v", agg.Parents, p.Order)
	}
}

func TestParseSpecRefuses(t *testing.T) {
	for _, tc := range []struct{ name, spec, want string }{
		{"not yaml", "models: [", "not valid YAML"},
		{"no dag", "models:\n  m1:\n    url: a.mar\n", "has no dag"},
		{"two starts", "dag:\n  a: [c]\n  b: [c]\n", "exactly one start node"},
		{"loop", "dag:\n  s: [a]\n  a: [b]\n  b: [a]\n", "not acyclic: a, b"},
		{"self loop", "dag:\n  a: [a]\n", "feeds itself"},
		{"model without url", "models:\n  m1:\n    batch-size: 2\ndag:\n  m1: []\n", "models.m1 has no url"},
		{"bad setting", "models:\n  batch-size: many\n  m1:\n    url: a.mar\ndag:\n  m1: []\n", `models.batch-size: "many" is not a whole number`},
		{"zero batch", "models:\n  m1:\n    url: a.mar\n    batch-size: 0\ndag:\n  m1: []\n", "out of range"},
		{"unknown model setting", "models:\n  m1:\n    url: a.mar\n    workers: 2\ndag:\n  m1: []\n", "models.m1.workers: unknown setting"},
		{"unknown global", "models:\n  workers: 2\ndag:\n  m1: []\n", "unknown setting"},
		{"model not in dag", "models:\n  m1:\n    url: a.mar\n  m2:\n    url: b.mar\ndag:\n  m1: []\n", "models.m2 is not in the dag"},
		{"bad node name", "dag:\n  \"a/b\": []\n", `node "a/b"`},
		{"dag not a list", "dag:\n  a: {b: c}\n", "dag.a: list the names"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.spec))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// describe writes what a node received, so that the test sees the data flow.
func describe(in []handler.Input) string {
	var parts []string
	for _, x := range in {
		parts = append(parts, x.Name+":"+string(x.Data))
	}
	return strings.Join(parts, ",")
}

func TestRunDataFlow(t *testing.T) {
	s, err := ParseSpec([]byte(parallel))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]string{}
	out, err := s.Run(context.Background(), []handler.Input{{Name: "data", Data: []byte("hello")}}, func(ctx context.Context, n *Node, in []handler.Input) (handler.Input, error) {
		mu.Lock()
		seen[n.Name] = describe(in)
		mu.Unlock()
		return handler.Input{Data: []byte(n.Name + "(" + describe(in) + ")"), ContentType: "text/plain"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"pre_processing": "data:hello",
		"nmt_en_de":      "body:pre_processing(data:hello)",
		"nmt_en_fr":      "body:pre_processing(data:hello)",
		"aggregate_func": "nmt_en_de:nmt_en_de(body:pre_processing(data:hello)),nmt_en_fr:nmt_en_fr(body:pre_processing(data:hello))",
	}
	for node, w := range want {
		if seen[node] != w {
			t.Errorf("%s received %q, want %q", node, seen[node], w)
		}
	}
	if len(out) != 1 || out[0].Node != "aggregate_func" || !strings.HasPrefix(string(out[0].Body), "aggregate_func(") || out[0].ContentType != "text/plain" {
		t.Errorf("outputs %+v", out)
	}
}

func TestRunBranchesInParallel(t *testing.T) {
	s, err := ParseSpec([]byte(parallel))
	if err != nil {
		t.Fatal(err)
	}
	// each branch waits until both are running: a run that called them one after the other
	// would time out here
	var both sync.WaitGroup
	both.Add(2)
	_, err = s.Run(context.Background(), nil, func(ctx context.Context, n *Node, in []handler.Input) (handler.Input, error) {
		if strings.HasPrefix(n.Name, "nmt_") {
			both.Done()
			waited := make(chan struct{})
			go func() { both.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(5 * time.Second):
				return handler.Input{}, errors.New("the other branch did not start")
			}
		}
		return handler.Input{Data: []byte("{}")}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRunFailures(t *testing.T) {
	spec := "models:\n  retry-attempts: 2\n  timeout-ms: 100\n  m:\n    url: m.mar\ndag:\n  pre: [m]\n  m: [post]\n"
	s, err := ParseSpec([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		fail      func(attempt int32) error
		wantCalls int32
		wantCode  int
		wantMsg   string
	}{
		{"server error retried then given up", func(int32) error { return apierror.Internal("boom") }, 3, 500, "workflow node m failed after 3 attempts: boom"},
		{"busy, retried then given up", func(int32) error {
			return apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable, "queue full")
		}, 3, 503, "failed after 3 attempts: queue full"},
		{"server error retried then passes", func(a int32) error {
			if a < 2 {
				return errors.New("flaky")
			}
			return nil
		}, 2, 0, ""},
		{"client error not retried", func(int32) error { return apierror.BadRequest("not an image") }, 1, 400, "workflow node m: not an image"},
		{"timeout retried", func(int32) error { time.Sleep(300 * time.Millisecond); return nil }, 3, 500, "failed after 3 attempts: no answer within its timeout-ms (100 ms)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls, post atomic.Int32
			_, err := s.Run(context.Background(), nil, func(ctx context.Context, n *Node, in []handler.Input) (handler.Input, error) {
				switch n.Name {
				case "m":
					if err := tc.fail(calls.Add(1)); err != nil {
						return handler.Input{}, err
					}
				case "post":
					post.Add(1)
				}
				return handler.Input{Data: []byte("ok")}, nil
			})
			if calls.Load() != tc.wantCalls {
				t.Errorf("m called %d times, want %d", calls.Load(), tc.wantCalls)
			}
			if tc.wantCode == 0 {
				if err != nil || post.Load() != 1 {
					t.Fatalf("err %v, post called %d times", err, post.Load())
				}
				return
			}
			var e *apierror.Error
			if !errors.As(err, &e) || e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantMsg) {
				t.Fatalf("error %v, want %d with %q", err, tc.wantCode, tc.wantMsg)
			}
			if post.Load() != 0 {
				t.Error("the node after the failed one ran")
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	s, err := ParseSpec([]byte("dag:\n  a: [b]\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = s.Run(ctx, nil, func(ctx context.Context, n *Node, in []handler.Input) (handler.Input, error) {
		cancel() // the client went away while a ran
		<-ctx.Done()
		return handler.Input{}, ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestAnswer(t *testing.T) {
	one, ctype, _ := Answer([]Output{{Node: "a", Body: []byte("raw bytes"), ContentType: "text/plain"}})
	if string(one) != "raw bytes" || ctype != "text/plain" {
		t.Errorf("one leaf: %q, %s", one, ctype)
	}
	if _, ctype, _ := Answer([]Output{{Node: "a", Body: []byte("{}")}}); ctype != "application/json" {
		t.Errorf("one leaf with no content type: %s, want TorchServe's application/json", ctype)
	}
	two, ctype, err := Answer([]Output{{Node: "a", Body: []byte(`{"x": 1}`)}, {Node: "b", Body: []byte("text")}})
	if err != nil || ctype != "application/json" {
		t.Fatal(err, ctype)
	}
	if want := "{\n  \"a\": {\n    \"x\": 1\n  },\n  \"b\": \"text\"\n}\n"; string(two) != want {
		t.Errorf("two leaves: %s, want %s", two, want)
	}
}
