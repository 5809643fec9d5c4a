package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// hostSample is one reading of the host, in bytes and percent.
type hostSample struct {
	cpuPercent                           float64
	memUsed, memAvailable, memPercent    float64
	diskUsed, diskAvailable, diskPercent float64
}

// systemCollector exposes TorchServe's system metrics, read at each scrape (TorchServe
// samples them every minute): CPUUtilization, MemoryUsed, MemoryAvailable,
// MemoryUtilization, DiskUsage, DiskAvailable and DiskUtilization, in TorchServe's units
// (percent, megabytes, gigabytes) and with its labels Level="Host" and Hostname.
type systemCollector struct {
	host    string
	sampler hostSampler
	descs   map[string]*prometheus.Desc
}

// systemMetric is a system metric: its name, help in TorchServe's words, and value in its
// units.
type systemMetric struct {
	name, help string
	value      func(s hostSample) float64
}

// systemMetrics are the system metrics' names, help in TorchServe's words, and values in
// its units.
var systemMetrics = []systemMetric{
	{"CPUUtilization", "Torchserve prometheus gauge metric with unit: Percent (CPU busy since the previous scrape)", func(s hostSample) float64 { return s.cpuPercent }},
	{"MemoryUsed", "Torchserve prometheus gauge metric with unit: Megabytes", func(s hostSample) float64 { return s.memUsed / mb }},
	{"MemoryAvailable", "Torchserve prometheus gauge metric with unit: Megabytes", func(s hostSample) float64 { return s.memAvailable / mb }},
	{"MemoryUtilization", "Torchserve prometheus gauge metric with unit: Percent", func(s hostSample) float64 { return s.memPercent }},
	{"DiskUsage", "Torchserve prometheus gauge metric with unit: Gigabytes (the root file system)", func(s hostSample) float64 { return s.diskUsed / gb }},
	{"DiskAvailable", "Torchserve prometheus gauge metric with unit: Gigabytes (the root file system)", func(s hostSample) float64 { return s.diskAvailable / gb }},
	{"DiskUtilization", "Torchserve prometheus gauge metric with unit: Percent (the root file system)", func(s hostSample) float64 { return s.diskPercent }},
}

const mb, gb = 1 << 20, 1 << 30

func newSystemCollector(host string) *systemCollector {
	c := &systemCollector{host: host, descs: map[string]*prometheus.Desc{}}
	for _, m := range systemMetrics {
		c.descs[m.name] = prometheus.NewDesc(m.name, m.help, []string{"Level", "Hostname"}, nil)
	}
	return c
}

func (c *systemCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *systemCollector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.sampler.sample()
	if err != nil {
		return // no /proc (another OS, a sandbox): the system metrics are left out
	}
	for _, m := range systemMetrics {
		ch <- prometheus.MustNewConstMetric(c.descs[m.name], prometheus.GaugeValue, m.value(s), "Host", c.host)
	}
}
