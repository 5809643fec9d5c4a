package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// torchServeNames, with systemMetrics, are the metrics that carry TorchServe's names: in the text format they are
// written as TorchServe's Java client writes them, labels in TorchServe's order with a
// trailing comma and values with a decimal point (Requests2XX{Level="Host",Hostname="h",} 8.0),
// which TorchServe's API tests match.
var torchServeNames = map[string]bool{
	"Requests2XX": true, "Requests4XX": true, "Requests5XX": true,
	"ts_inference_requests_total": true, "ts_inference_latency_microseconds": true, "ts_queue_latency_microseconds": true,
	"QueueTime": true, "HandlerTime": true, "PredictionTime": true, "WorkerLoadTime": true,
}

// torchServeName reports whether a metric carries TorchServe's name.
func torchServeName(name string) bool {
	return torchServeNames[name] || slices.ContainsFunc(systemMetrics, func(m systemMetric) bool { return m.name == name })
}

// labelOrder is TorchServe's order of its labels (dimensions first, the host last).
var labelOrder = []string{"WorkerName", "ModelName", "model_name", "model_version", "Level", "Hostname", "hostname"}

// Handler serves the metrics in the format the scraper asks for (text, OpenMetrics,
// protobuf). TorchServe's filter name[]=NAME (repeatable) keeps only those metrics.
func (m *Metrics) Handler() http.Handler {
	full := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: m.Registry})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		names := r.URL.Query()["name[]"]
		var g prometheus.Gatherer = m.Registry
		if len(names) > 0 {
			g = prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
				families, err := m.Registry.Gather()
				return slices.DeleteFunc(families, func(f *dto.MetricFamily) bool { return !slices.Contains(names, f.GetName()) }), err
			})
		}
		if expfmt.NegotiateAccept(r.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...).FormatType() != expfmt.TypeTextPlain {
			if len(names) == 0 {
				full.ServeHTTP(w, r)
			} else {
				promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true}).ServeHTTP(w, r)
			}
			return
		}
		families, err := g.Gather()
		if err != nil {
			http.Error(w, "gather metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		writeText(w, families)
	})
}

// writeText writes families in the text format: TorchServe's as its Java client does, the
// others as client_golang does.
func writeText(w io.Writer, families []*dto.MetricFamily) error {
	b := bufio.NewWriter(w)
	for _, f := range families {
		if !torchServeName(f.GetName()) || (f.GetType() != dto.MetricType_COUNTER && f.GetType() != dto.MetricType_GAUGE) {
			if _, err := expfmt.MetricFamilyToText(b, f); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", f.GetName(), escapeHelp(f.GetHelp()), f.GetName(), strings.ToLower(f.GetType().String()))
		for _, s := range f.GetMetric() {
			labels := slices.Clone(s.GetLabel())
			slices.SortStableFunc(labels, func(a, b *dto.LabelPair) int { return rank(a.GetName()) - rank(b.GetName()) })
			b.WriteString(f.GetName())
			b.WriteByte('{')
			for _, l := range labels {
				fmt.Fprintf(b, "%s=\"%s\",", l.GetName(), labelEscaper.Replace(l.GetValue()))
			}
			b.WriteString("} ")
			v := s.GetGauge().GetValue()
			if f.GetType() == dto.MetricType_COUNTER {
				v = s.GetCounter().GetValue()
			}
			b.WriteString(javaDouble(v))
			b.WriteByte('\n')
		}
	}
	return b.Flush()
}

// rank is a label's place in TorchServe's order (labels it does not know go first, by name).
func rank(name string) int {
	if i := slices.Index(labelOrder, name); i >= 0 {
		return i
	}
	return -1
}

// javaDouble writes a value as Java's Double.toString does for the values metrics take: a
// decimal point always (8.0), +Inf, -Inf and NaN as Prometheus spells them.
func javaDouble(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// labelEscaper escapes a label value as the text format wants: backslash, quote, newline.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}
