//go:build linux

package metrics

import (
	"sync"
	"syscall"

	"github.com/prometheus/procfs"
)

// hostSampler reads the host's CPU, memory and root disk as TorchServe's system metrics
// report them (psutil's cpu_percent, virtual_memory and disk_usage("/")).
type hostSampler struct {
	mu             sync.Mutex
	lastBusy, last float64 // CPU seconds at the previous sample
}

// sample reads the host now; CPU utilization is since the previous sample (since boot the
// first time).
func (h *hostSampler) sample() (hostSample, error) {
	var s hostSample
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return s, err
	}
	stat, err := fs.Stat()
	if err != nil {
		return s, err
	}
	c := stat.CPUTotal
	total := c.User + c.Nice + c.System + c.Idle + c.Iowait + c.IRQ + c.SoftIRQ + c.Steal
	busy := total - c.Idle - c.Iowait
	h.mu.Lock()
	if dt := total - h.last; dt > 0 {
		s.cpuPercent = 100 * (busy - h.lastBusy) / dt
	}
	h.last, h.lastBusy = total, busy
	h.mu.Unlock()
	mem, err := fs.Meminfo()
	if err != nil {
		return s, err
	}
	if mem.MemTotal != nil && mem.MemAvailable != nil && *mem.MemTotal > 0 {
		total, avail := float64(*mem.MemTotal)*1024, float64(*mem.MemAvailable)*1024
		s.memUsed, s.memAvailable, s.memPercent = total-avail, avail, 100*(total-avail)/total
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs("/", &st); err != nil {
		return s, err
	}
	size := float64(st.Frsize)
	used, free := float64(st.Blocks-st.Bfree)*size, float64(st.Bavail)*size
	s.diskUsed, s.diskAvailable = used, free
	if used+free > 0 {
		s.diskPercent = 100 * used / (used + free)
	}
	return s, nil
}
