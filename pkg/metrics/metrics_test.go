package metrics

import (
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tsserve/ts/pkg/batch"
)

// gathered is every sample of the registry by metric name, with its labels.
func gathered(t *testing.T, m *Metrics) map[string][]*dto.Metric {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*dto.Metric{}
	for _, f := range families {
		out[f.GetName()] = f.GetMetric()
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestTorchServeStatusCounters: every API response counts in ts_http_requests_total by API
// and in TorchServe's Requests2XX, Requests4XX or Requests5XX (1xx and 3xx as 5XX), labelled
// Level="Host" and Hostname as TorchServe labels them.
func TestTorchServeStatusCounters(t *testing.T) {
	m := New()
	for _, c := range []struct {
		api  string
		code int
	}{{"inference", 200}, {"inference", 201}, {"management", 404}, {"inference", 302}, {"metrics", 200}} {
		m.Status(c.api, c.code)
	}
	host, _ := os.Hostname()
	got := gathered(t, m)
	for name, want := range map[string]float64{"Requests2XX": 3, "Requests4XX": 1, "Requests5XX": 1} {
		s := got[name]
		if len(s) != 1 || s[0].GetCounter().GetValue() != want || label(s[0], "Level") != "Host" || label(s[0], "Hostname") != host {
			t.Errorf("%s: %v, want %g with Level Host, Hostname %s", name, s, want, host)
		}
	}
	if s := got["ts_http_requests_total"]; len(s) != 4 {
		t.Errorf("ts_http_requests_total: %d series, want 4 (inference 2XX and 5XX, management 4XX, metrics 2XX)", len(s))
	}
}

// TestSystemMetrics: TorchServe's host metrics are read at each scrape, in its units.
func TestSystemMetrics(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the system metrics read /proc") // ts serves on Linux; CI runs there
	}
	m := New()
	got := gathered(t, m)
	value := func(name string) float64 {
		s := got[name]
		if len(s) != 1 || label(s[0], "Level") != "Host" {
			t.Fatalf("%s: %v", name, s)
		}
		return s[0].GetGauge().GetValue()
	}
	for _, name := range []string{"CPUUtilization", "MemoryUtilization", "DiskUtilization"} {
		if v := value(name); v < 0 || v > 100 {
			t.Errorf("%s = %g, want a percentage", name, v)
		}
	}
	if v := value("MemoryUtilization"); v <= 0 {
		t.Errorf("MemoryUtilization = %g: this process uses memory", v)
	}
	for _, name := range []string{"MemoryUsed", "MemoryAvailable", "DiskUsage", "DiskAvailable"} {
		if v := value(name); v <= 0 {
			t.Errorf("%s = %g, want more than nothing", name, v)
		}
	}
	// megabytes: this machine has more than 64 MB and less than 64 TB of memory
	if total := value("MemoryUsed") + value("MemoryAvailable"); total < 64 || total > 64<<20 {
		t.Errorf("MemoryUsed + MemoryAvailable = %g MB", total)
	}
}

// TestDropSystemMetrics: with disable_system_metrics the host's metrics are gone, the
// others stay.
func TestDropSystemMetrics(t *testing.T) {
	m := New()
	m.DropSystemMetrics()
	got := gathered(t, m)
	for _, sm := range systemMetrics {
		if _, ok := got[sm.name]; ok {
			t.Errorf("%s is still exposed", sm.name)
		}
	}
	if _, ok := got["Requests2XX"]; !ok {
		t.Error("Requests2XX went with the system metrics")
	}
}

// TestTorchServeGauges: QueueTime is the last batch's longest wait, PredictionTime its run
// and HandlerTime the model's last request, in milliseconds, labelled as TorchServe labels
// them.
func TestTorchServeGauges(t *testing.T) {
	m := New()
	m.Batch("digits", "1.0", batch.Report{Items: 2, Queued: []time.Duration{3 * time.Millisecond, 7 * time.Millisecond}, Run: 12 * time.Millisecond, Worker: 500 * time.Microsecond})
	m.Request("digits", "1.0", 200, 25*time.Millisecond)
	got := gathered(t, m)
	for name, want := range map[string]float64{"QueueTime": 7, "PredictionTime": 12, "HandlerTime": 25, "WorkerThreadTime": 0.5} {
		s := got[name]
		if len(s) != 1 || s[0].GetGauge().GetValue() != want || label(s[0], "Hostname") == "" {
			t.Errorf("%s: %v, want %g ms", name, s, want)
		}
	}
	if s := got["HandlerTime"]; len(s) == 1 && (label(s[0], "ModelName") != "digits" || label(s[0], "Level") != "Model") {
		t.Errorf("HandlerTime's labels: %v", s[0].GetLabel())
	}
}

// TestWorkerLoadTime: each worker of a loaded model version reports the model's load time as
// TorchServe's WorkerLoadTime, named as TorchServe names workers.
func TestWorkerLoadTime(t *testing.T) {
	m := New()
	m.WatchVersions(func() []VersionState {
		return []VersionState{
			{Model: "digits", Version: "1.0", WorkerNames: []string{"W-9000-digits_1.0", "W-9001-digits_1.0"}, LoadTime: 42 * time.Millisecond},
			{Model: "iris", Version: "1.0", WorkerNames: []string{"W-9000-iris_1.0"}}, // not loaded yet
		}
	})
	s := gathered(t, m)["WorkerLoadTime"]
	if len(s) != 2 {
		t.Fatalf("WorkerLoadTime: %v, want the two workers of digits", s)
	}
	for i, want := range []string{"W-9000-digits_1.0", "W-9001-digits_1.0"} {
		if label(s[i], "WorkerName") != want || label(s[i], "Level") != "Host" || s[i].GetGauge().GetValue() != 42 {
			t.Errorf("WorkerLoadTime %d: %v", i, s[i])
		}
	}
}

// TestTorchServeText: in the text format TorchServe's metrics are written as its Java client
// writes them, which TorchServe's API tests match (Requests2XX{Level="Host",Hostname="h",}
// 8.0); the output still parses as Prometheus text; name[] filters as TorchServe's does; and
// OpenMetrics is the library's.
func TestTorchServeText(t *testing.T) {
	m := New()
	m.Status("inference", 200)
	m.Request("digits", "1.0", 200, 3*time.Millisecond)
	get := func(query, accept string) string {
		t.Helper()
		req := httptest.NewRequest("GET", "/metrics"+query, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", query, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	text := get("", "")
	for _, re := range []string{
		`(?m)^Requests2XX\{Level="Host",Hostname=".*",\} \d+\.\d+$`, // TorchServe's postman test
		`(?m)^ts_inference_requests_total\{model_name="digits",model_version="1.0",hostname=".*",\} 1\.0$`,
		`(?m)^HandlerTime\{ModelName="digits",Level="Model",Hostname=".*",\} 3\.0$`,
		`(?m)^# TYPE Requests2XX counter$`,
		`(?m)^go_goroutines \d+$`, // the others as client_golang writes them
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("no line matching %s in:\n%.2000s", re, text)
		}
	}
	parser := expfmt.NewTextParser(model.LegacyValidation) // Prometheus's classic names
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil || families["Requests2XX"] == nil || families["Requests2XX"].GetMetric()[0].GetCounter().GetValue() != 1 {
		t.Errorf("the text does not parse back: %v", err)
	}
	only := get("?name[]=Requests2XX&name[]=Requests5XX", "")
	if !strings.Contains(only, "Requests2XX{") || !strings.Contains(only, "Requests5XX{") || strings.Contains(only, "Requests4XX") || strings.Contains(only, "go_") {
		t.Errorf("name[] filter:\n%s", only)
	}
	om := get("?name[]=ts_inference_requests_total", "application/openmetrics-text; version=1.0.0")
	if !strings.HasSuffix(om, "# EOF\n") || strings.Contains(om, ",}") {
		t.Errorf("OpenMetrics:\n%s", om)
	}
}

// TestTorchServeTextEscapes: label values are escaped as the text format wants.
func TestTorchServeTextEscapes(t *testing.T) {
	name, help, value := "WorkerLoadTime", "load", 1.5
	gauge := dto.MetricType_GAUGE
	ln, lv := "WorkerName", "W-\"9000\"-a\\b\nc"
	f := &dto.MetricFamily{Name: &name, Help: &help, Type: &gauge,
		Metric: []*dto.Metric{{Label: []*dto.LabelPair{{Name: &ln, Value: &lv}}, Gauge: &dto.Gauge{Value: &value}}}}
	var b strings.Builder
	if err := writeText(&b, []*dto.MetricFamily{f}); err != nil {
		t.Fatal(err)
	}
	if want := `WorkerLoadTime{WorkerName="W-\"9000\"-a\\b\nc",} 1.5`; !strings.Contains(b.String(), want) {
		t.Errorf("got:\n%s\nwant a line %s", b.String(), want)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil || families[name].GetMetric()[0].GetLabel()[0].GetValue() != lv {
		t.Errorf("does not parse back: %v", err)
	}
}

// TestForget: an unregistered version's series go (requests, latencies, batches, custom
// metrics), the other version's stay; the model's TorchServe gauges go with its last
// version; a version registered again starts from zero.
func TestForget(t *testing.T) {
	m := New()
	for _, v := range []string{"1", "2"} {
		m.Request("m", v, 200, time.Millisecond)
		m.Request("m", v, 503, time.Millisecond)
		m.Batch("m", v, batch.Report{Items: 2, Queued: []time.Duration{0, time.Millisecond}, Run: time.Millisecond})
		if err := m.Custom("m", v, "tokens", "counter", "count", 3, map[string]string{"kind": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	versions := func(name string) []string {
		var out []string
		for _, s := range gathered(t, m)[name] {
			if label(s, "model_name") == "m" || label(s, "ModelName") == "m" {
				out = append(out, label(s, "model_version"))
			}
		}
		return out
	}
	series := []string{"ts_inference_requests_total", "ts_inference_latency_microseconds", "ts_queue_latency_microseconds",
		"ts_request_duration_seconds", "ts_batch_size", "ts_batch_run_seconds", "ts_custom_tokens"}
	m.Forget("m", "1", false)
	for _, name := range series {
		if got := versions(name); strings.Contains(strings.Join(got, ","), "1") || len(got) == 0 {
			t.Errorf("%s after forgetting version 1: versions %v, want only 2", name, got)
		}
	}
	if len(versions("HandlerTime")) != 1 || len(versions("PredictionTime")) != 1 {
		t.Error("the model's gauges went with a version while another is left")
	}
	m.Forget("m", "2", true)
	for _, name := range append(series, "HandlerTime", "PredictionTime") {
		if got := versions(name); len(got) != 0 {
			t.Errorf("%s after forgetting the model: %v", name, got)
		}
	}
	m.Request("m", "1", 200, time.Millisecond)
	for _, s := range gathered(t, m)["ts_inference_requests_total"] {
		if label(s, "model_version") == "1" && s.GetCounter().GetValue() != 1 {
			t.Errorf("version 1 registered again counts %v requests, want 1", s.GetCounter().GetValue())
		}
	}
}
