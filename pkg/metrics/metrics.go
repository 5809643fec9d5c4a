// Package metrics holds the Prometheus collectors of a server: TorchServe's metric names
// (so dashboards keep working) plus real histograms, served on the metrics API (:8082).
package metrics

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/respcache"
)

// Metrics are a server's collectors, on a registry of their own.
type Metrics struct {
	Registry *prometheus.Registry

	requests  *prometheus.CounterVec
	latencyUS *prometheus.CounterVec
	queueUS   *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	status    *prometheus.CounterVec
	// classes are TorchServe's Requests2XX, Requests4XX and Requests5XX
	classes map[string]prometheus.Counter
	// TorchServe's gauges: QueueTime (host), HandlerTime and PredictionTime (per model)
	queueTime, workerThreadTime prometheus.Gauge
	handlerTime                 *prometheus.GaugeVec
	predictionTime              *prometheus.GaugeVec
	batchSize                   *prometheus.HistogramVec
	runTime                     *prometheus.HistogramVec
	failures                    *prometheus.CounterVec
	hostname                    string
	system                      *systemCollector
	mu                          sync.RWMutex
	versions                    map[versionKey]*versionMetrics
	statuses                    map[statusKey][2]prometheus.Counter
	customMu                    sync.Mutex
	custom                      map[string]*customMetric
}

// New creates the collectors, with Go runtime and process collectors.
func New() *Metrics {
	host, _ := os.Hostname()
	m := &Metrics{Registry: prometheus.NewRegistry(), hostname: host, custom: map[string]*customMetric{},
		versions: map[versionKey]*versionMetrics{}, statuses: map[statusKey][2]prometheus.Counter{}, classes: map[string]prometheus.Counter{},
		system: newSystemCollector(host)}
	model := []string{"model_name", "model_version", "hostname"}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ts_inference_requests_total", Help: "Inference requests answered, by model version."}, model)
	m.latencyUS = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ts_inference_latency_microseconds", Help: "Cumulative end-to-end inference latency in microseconds."}, model)
	m.queueUS = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ts_queue_latency_microseconds", Help: "Cumulative time requests waited in the batch queue, in microseconds."}, model)
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ts_request_duration_seconds", Help: "Inference request duration, by model version and status code.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18), NativeHistogramBucketFactor: 1.1,
	}, []string{"model_name", "model_version", "code"})
	m.status = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ts_http_requests_total", Help: "HTTP responses by API and status class (TorchServe's Requests2XX/4XX/5XX)."},
		[]string{"api", "class"})
	m.batchSize = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ts_batch_size", Help: "Items per batch run by a worker.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
	}, []string{"model_name", "model_version"})
	m.runTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ts_batch_run_seconds", Help: "ONNX Runtime time per batch (a custom handler's call, for one that runs its model).",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18), NativeHistogramBucketFactor: 1.1,
	}, []string{"model_name", "model_version"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ts_batch_failures_total", Help: "Batches whose run failed."}, []string{"model_name", "model_version"})
	m.Registry.MustRegister(m.requests, m.latencyUS, m.queueUS, m.duration, m.status, m.batchSize, m.runTime, m.failures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), m.system)
	// TorchServe's frontend counters, by status class over every API, labelled as its
	// metrics.yaml declares them
	for _, class := range []string{"2XX", "4XX", "5XX"} {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "Requests" + class,
			Help:        "Torchserve prometheus counter metric with unit: Count",
			ConstLabels: prometheus.Labels{"Level": "Host", "Hostname": host}})
		m.Registry.MustRegister(c)
		m.classes[class] = c
	}
	ms := "Torchserve prometheus gauge metric with unit: Milliseconds"
	m.queueTime = prometheus.NewGauge(prometheus.GaugeOpts{Name: "QueueTime", Help: ms + " (the last batch's longest wait in the queue)",
		ConstLabels: prometheus.Labels{"Level": "Host", "Hostname": host}})
	m.handlerTime = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "HandlerTime", Help: ms + " (the model's last request, handler and run)",
		ConstLabels: prometheus.Labels{"Level": "Model", "Hostname": host}}, []string{"ModelName"})
	m.predictionTime = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "PredictionTime", Help: ms + " (the model's last batch in ONNX Runtime)",
		ConstLabels: prometheus.Labels{"Level": "Model", "Hostname": host}}, []string{"ModelName"})
	m.workerThreadTime = prometheus.NewGauge(prometheus.GaugeOpts{Name: "WorkerThreadTime", Help: ms + " (the last batch's worker time besides the model's run: stacking inputs, sharing out outputs)",
		ConstLabels: prometheus.Labels{"Level": "Host", "Hostname": host}})
	m.Registry.MustRegister(m.queueTime, m.workerThreadTime, m.handlerTime, m.predictionTime)
	return m
}

// DropSystemMetrics stops exposing TorchServe's system metrics (CPUUtilization, MemoryUsed,
// DiskUsage, ...), as its disable_system_metrics does; the host is no longer read.
func (m *Metrics) DropSystemMetrics() { m.Registry.Unregister(m.system) }

// versionMetrics are one version's series, looked up once.
type versionMetrics struct {
	requests, latencyUS, queueUS, failures prometheus.Counter
	ok, batchSize, runTime                 prometheus.Observer
	handlerTime, predictionTime            prometheus.Gauge
}

type versionKey struct{ model, version string }

// cached returns series[key], made by create the first time; lookups after that take only
// the read lock and allocate nothing (they run on every request).
func cached[K comparable, V any](mu *sync.RWMutex, series map[K]V, key K, create func() V) V {
	mu.RLock()
	v, ok := series[key]
	mu.RUnlock()
	if ok {
		return v
	}
	mu.Lock()
	defer mu.Unlock()
	if v, ok := series[key]; ok {
		return v
	}
	v = create()
	series[key] = v
	return v
}

func (m *Metrics) version(model, version string) *versionMetrics {
	return cached(&m.mu, m.versions, versionKey{model, version}, func() *versionMetrics {
		return &versionMetrics{
			requests:  m.requests.WithLabelValues(model, version, m.hostname),
			latencyUS: m.latencyUS.WithLabelValues(model, version, m.hostname),
			ok:        m.duration.WithLabelValues(model, version, "200"),
			queueUS:   m.queueUS.WithLabelValues(model, version, m.hostname),
			failures:  m.failures.WithLabelValues(model, version),
			batchSize: m.batchSize.WithLabelValues(model, version),
			runTime:   m.runTime.WithLabelValues(model, version),
			// TorchServe labels these by model alone: its versions share the series
			handlerTime:    m.handlerTime.WithLabelValues(model),
			predictionTime: m.predictionTime.WithLabelValues(model),
		}
	})
}

// Forget drops a version's series once it is gone (unregistered), as Triton drops an
// unloaded model's, so that versions that come and go do not pile up series; modelGone
// drops the model's TorchServe gauges (labelled by model alone) too.
func (m *Metrics) Forget(model, version string, modelGone bool) {
	m.mu.Lock()
	delete(m.versions, versionKey{model, version})
	m.mu.Unlock()
	labels := prometheus.Labels{"model_name": model, "model_version": version}
	for _, vec := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.requests, m.latencyUS, m.queueUS, m.duration, m.batchSize, m.runTime, m.failures} {
		vec.DeletePartialMatch(labels)
	}
	m.customMu.Lock()
	for _, c := range m.custom {
		switch {
		case c.counter != nil:
			c.counter.DeletePartialMatch(labels)
		case c.gauge != nil:
			c.gauge.DeletePartialMatch(labels)
		case c.histogram != nil:
			c.histogram.DeletePartialMatch(labels)
		}
	}
	m.customMu.Unlock()
	if modelGone {
		m.handlerTime.DeleteLabelValues(model)
		m.predictionTime.DeleteLabelValues(model)
	}
}

// Request records an answered inference request.
func (m *Metrics) Request(model, version string, code int, d time.Duration) {
	v := m.version(model, version)
	v.requests.Inc()
	v.latencyUS.Add(float64(d.Microseconds()))
	v.handlerTime.Set(float64(d.Microseconds()) / 1000)
	if code == 200 {
		v.ok.Observe(d.Seconds())
	} else {
		m.duration.WithLabelValues(model, version, strconv.Itoa(code)).Observe(d.Seconds())
	}
}

// Status records any API response by status class: ts_http_requests_total by API, and
// TorchServe's Requests2XX, Requests4XX and Requests5XX over all of them (1xx and 3xx count
// as 5XX, as TorchServe counts them).
func (m *Metrics) Status(api string, code int) {
	class := "5XX"
	switch {
	case code >= 200 && code < 300:
		class = "2XX"
	case code >= 400 && code < 500:
		class = "4XX"
	}
	counters := cached(&m.mu, m.statuses, statusKey{api, class}, func() [2]prometheus.Counter {
		return [2]prometheus.Counter{m.status.WithLabelValues(api, class), m.classes[class]}
	})
	counters[0].Inc()
	counters[1].Inc()
}

type statusKey struct{ api, class string }

// Batch records a batch a worker ran.
func (m *Metrics) Batch(model, version string, r batch.Report) {
	v := m.version(model, version)
	v.batchSize.Observe(float64(r.Items))
	v.runTime.Observe(r.Run.Seconds())
	v.predictionTime.Set(float64(r.Run.Microseconds()) / 1000)
	var q, longest int64
	for _, d := range r.Queued {
		q += d.Microseconds()
		longest = max(longest, d.Microseconds())
	}
	v.queueUS.Add(float64(q))
	m.queueTime.Set(float64(longest) / 1000)
	m.workerThreadTime.Set(float64(r.Worker.Microseconds()) / 1000)
	if r.Err != nil {
		v.failures.Inc()
	}
}

// VersionState is what the metrics API reads from a model version at each scrape.
type VersionState struct {
	Model, Version string
	Pending        int
	Workers        int
	ReadyWorkers   int
	BatchDelay     time.Duration // the batcher's last chosen delay (adaptive mode moves it)
	ArrivalRate    float64       // requests per second, moving average
	// Batching is whether requests may share a batch: false for a model that cannot batch,
	// whose batching stopped while serving, or that the adaptive mode found batching does
	// not speed up.
	Batching bool
	// BatchSpeedup is how many times faster an item runs in a batch than alone (0: not
	// measured yet).
	BatchSpeedup float64
	// WorkerNames are the workers as TorchServe names them (W-9000-model_1.0), and LoadTime
	// how long the model took to load for them (they share it).
	WorkerNames []string
	LoadTime    time.Duration
	// Cached is whether the version uses the response cache; CacheHits and CacheMisses
	// count its requests answered from it and not.
	Cached                 bool
	CacheHits, CacheMisses int64
	// HandlerProcesses is how many processes a custom handler runs (nil for other handlers),
	// and HandlerMemory their resident memory in bytes, together.
	HandlerProcesses *int
	HandlerMemory    int64
}

type versionCollector struct {
	states                                                     func() []VersionState
	pending, workers, ready, delay, arrival, batching, speedup *prometheus.Desc
	cacheHits, cacheMisses                                     *prometheus.Desc
	processes, processMemory                                   *prometheus.Desc
	// loadTime is TorchServe's WorkerLoadTime, per worker
	loadTime *prometheus.Desc
	host     string
}

// WatchVersions exposes gauges read from states at each scrape: queue length, workers,
// the batch delay in effect, the arrival rate and whether batching is on, per model version.
func (m *Metrics) WatchVersions(states func() []VersionState) {
	labels := []string{"model_name", "model_version"}
	m.Registry.MustRegister(&versionCollector{
		states:      states,
		pending:     prometheus.NewDesc("ts_queue_pending", "Requests waiting in the batch queue.", labels, nil),
		workers:     prometheus.NewDesc("ts_workers", "Workers of the model version.", labels, nil),
		ready:       prometheus.NewDesc("ts_workers_ready", "Workers ready to run batches.", labels, nil),
		delay:       prometheus.NewDesc("ts_batch_delay_seconds", "Batch delay in effect (chosen by the adaptive mode when on).", labels, nil),
		arrival:     prometheus.NewDesc("ts_arrival_rate", "Requests per second arriving at the queue (moving average).", labels, nil),
		batching:    prometheus.NewDesc("ts_batching", "1 while requests may share a batch; 0 with batch size 1, for a model that cannot batch, once batching stopped while serving, or while the adaptive mode sends requests alone because batches run no faster (describe says why).", labels, nil),
		speedup:     prometheus.NewDesc("ts_batch_speedup", "How many times faster an item runs in a batch than alone, measured (0 until both are).", labels, nil),
		cacheHits:   prometheus.NewDesc("ts_cache_hits_total", "Requests answered from the response cache (models with responseCache: true).", labels, nil),
		cacheMisses: prometheus.NewDesc("ts_cache_misses_total", "Requests of models with responseCache: true that the response cache did not hold.", labels, nil),
		processes:   prometheus.NewDesc("ts_handler_processes", "Processes a custom handler runs.", labels, nil),
		processMemory: prometheus.NewDesc("ts_handler_resident_memory_bytes", "Resident memory of a custom handler's processes, together, bytes.",
			labels, nil),
		loadTime: prometheus.NewDesc("WorkerLoadTime", "Torchserve prometheus gauge metric with unit: Milliseconds (the model's load, which its workers share)",
			[]string{"WorkerName", "Level", "Hostname"}, nil),
		host: m.hostname,
	})
}

func (c *versionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.workers, c.ready, c.delay, c.arrival, c.batching, c.speedup, c.loadTime, c.cacheHits, c.cacheMisses,
		c.processes, c.processMemory} {
		ch <- d
	}
}

func (c *versionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.states() {
		for _, g := range []struct {
			d *prometheus.Desc
			v float64
		}{{c.pending, float64(s.Pending)}, {c.workers, float64(s.Workers)}, {c.ready, float64(s.ReadyWorkers)},
			{c.delay, s.BatchDelay.Seconds()}, {c.arrival, s.ArrivalRate}, {c.batching, boolGauge(s.Batching)}, {c.speedup, s.BatchSpeedup}} {
			ch <- prometheus.MustNewConstMetric(g.d, prometheus.GaugeValue, g.v, s.Model, s.Version)
		}
		if s.HandlerProcesses != nil {
			ch <- prometheus.MustNewConstMetric(c.processes, prometheus.GaugeValue, float64(*s.HandlerProcesses), s.Model, s.Version)
			ch <- prometheus.MustNewConstMetric(c.processMemory, prometheus.GaugeValue, float64(s.HandlerMemory), s.Model, s.Version)
		}
		if s.Cached {
			ch <- prometheus.MustNewConstMetric(c.cacheHits, prometheus.CounterValue, float64(s.CacheHits), s.Model, s.Version)
			ch <- prometheus.MustNewConstMetric(c.cacheMisses, prometheus.CounterValue, float64(s.CacheMisses), s.Model, s.Version)
		}
		if s.LoadTime > 0 {
			for _, w := range s.WorkerNames {
				ch <- prometheus.MustNewConstMetric(c.loadTime, prometheus.GaugeValue, float64(s.LoadTime.Microseconds())/1000, w, "Host", c.host)
			}
		}
	}
}

// WatchCache exposes the response cache's figures, read from stats at each scrape.
func (m *Metrics) WatchCache(stats func() respcache.Stats) {
	m.Registry.MustRegister(&cacheCollector{
		stats:     stats,
		entries:   prometheus.NewDesc("ts_cache_entries", "Answers in the response cache.", nil, nil),
		bytes:     prometheus.NewDesc("ts_cache_bytes", "Memory the response cache's answers take, bytes.", nil, nil),
		maxBytes:  prometheus.NewDesc("ts_cache_max_bytes", "The response cache's size (response_cache_size), bytes.", nil, nil),
		evictions: prometheus.NewDesc("ts_cache_evictions_total", "Answers dropped from the response cache to make room.", nil, nil),
	})
}

type cacheCollector struct {
	stats                               func() respcache.Stats
	entries, bytes, maxBytes, evictions *prometheus.Desc
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.entries, c.bytes, c.maxBytes, c.evictions} {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(c.maxBytes, prometheus.GaugeValue, float64(s.MaxBytes))
	ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(s.Evictions))
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// customMetric is a metric a custom handler reports, registered on first use.
type customMetric struct {
	labels    []string // model_name, model_version, then the dimensions, sorted
	counter   *prometheus.CounterVec
	gauge     *prometheus.GaugeVec
	histogram *prometheus.HistogramVec
}

var metricName = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// Custom records a metric a custom handler reported (TorchServe's context.metrics): it is
// exposed as ts_custom_<name> with labels model_name, model_version and the dimensions.
// typ is counter (default), gauge or histogram. A name reused with other dimensions or
// another type is dropped, as Prometheus needs one shape per name.
func (m *Metrics) Custom(model, version, name, typ, unit string, value float64, dims map[string]string) error {
	full := "ts_custom_" + metricName.ReplaceAllString(strings.ToLower(name), "_")
	keys := make([]string, 0, len(dims))
	for k := range dims {
		keys = append(keys, metricName.ReplaceAllString(k, "_"))
	}
	sort.Strings(keys)
	labels := append([]string{"model_name", "model_version"}, keys...)
	typ = strings.ToLower(typ)
	if typ == "" {
		typ = "counter"
	}
	m.customMu.Lock()
	c, ok := m.custom[full]
	if !ok {
		help := fmt.Sprintf("Custom handler metric %s (%s, unit %s).", name, typ, unit)
		c = &customMetric{labels: labels}
		var col prometheus.Collector
		switch typ {
		case "counter":
			c.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: full, Help: help}, labels)
			col = c.counter
		case "gauge":
			c.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: full, Help: help}, labels)
			col = c.gauge
		case "histogram":
			c.histogram = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: full, Help: help}, labels)
			col = c.histogram
		default:
			m.customMu.Unlock()
			return fmt.Errorf("metric %s: unknown type %q (counter, gauge or histogram)", name, typ)
		}
		if err := m.Registry.Register(col); err != nil {
			m.customMu.Unlock()
			return fmt.Errorf("metric %s: %w", name, err)
		}
		m.custom[full] = c
	}
	m.customMu.Unlock()
	if !slices.Equal(c.labels, labels) {
		return fmt.Errorf("metric %s: dimensions %v differ from its first use %v", name, labels[2:], c.labels[2:])
	}
	values := []string{model, version}
	for _, k := range keys {
		for dk, dv := range dims {
			if metricName.ReplaceAllString(dk, "_") == k {
				values = append(values, dv)
			}
		}
	}
	switch {
	case c.counter != nil && typ == "counter":
		if value < 0 {
			return fmt.Errorf("metric %s: a counter cannot go down", name)
		}
		c.counter.WithLabelValues(values...).Add(value)
	case c.gauge != nil && typ == "gauge":
		c.gauge.WithLabelValues(values...).Set(value)
	case c.histogram != nil && typ == "histogram":
		c.histogram.WithLabelValues(values...).Observe(value)
	default:
		return fmt.Errorf("metric %s: reported as %s, first seen as another type", name, typ)
	}
	return nil
}
