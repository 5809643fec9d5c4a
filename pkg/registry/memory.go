package registry

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// memAvailable is the memory the system can give without swapping, in bytes (Linux's
// MemAvailable), or -1 where unknown.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1
	}
	return parseMemAvailable(b)
}

// parseMemAvailable reads MemAvailable from /proc/meminfo's text; -1 if absent.
func parseMemAvailable(meminfo []byte) int64 {
	s := bufio.NewScanner(bytes.NewReader(meminfo))
	for s.Scan() {
		f := bytes.Fields(s.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemAvailable:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}
