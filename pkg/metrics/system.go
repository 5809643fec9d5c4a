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

// systemMetrics are the names, units and help of the system metrics, in TorchServe's words.
var systemMetrics = []struct{ name, help string }{
	{"CPUUtilization", "Torchserve prometheus gauge metric with unit: Percent (CPU busy since the previous scrape)"},
	{"MemoryUsed", "Torchserve prometheus gauge metric with unit: Megabytes"},
	{"MemoryAvailable", "Torchserve prometheus gauge metric with unit: Megabytes"},
	{"MemoryUtilization", "Torchserve prometheus gauge metric with unit: Percent"},
	{"DiskUsage", "Torchserve prometheus gauge metric with unit: Gigabytes (the root file system)"},
	{"DiskAvailable", "Torchserve prometheus gauge metric with unit: Gigabytes (the root file system)"},
	{"DiskUtilization", "Torchserve prometheus gauge metric with unit: Percent (the root file system)"},
}

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
	const mb, gb = 1 << 20, 1 << 30
	for name, v := range map[string]float64{
		"CPUUtilization": s.cpuPercent, "MemoryUsed": s.memUsed / mb, "MemoryAvailable": s.memAvailable / mb,
		"MemoryUtilization": s.memPercent, "DiskUsage": s.diskUsed / gb, "DiskAvailable": s.diskAvailable / gb,
		"DiskUtilization": s.diskPercent,
	} {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v, "Host", c.host)
	}
}
