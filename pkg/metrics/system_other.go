//go:build !linux

package metrics

import "errors"

// hostSampler reads nothing where /proc is not: the system metrics are left out.
type hostSampler struct{}

func (h *hostSampler) sample() (hostSample, error) {
	return hostSample{}, errors.New("system metrics are read on Linux only")
}
