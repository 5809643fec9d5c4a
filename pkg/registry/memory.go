package registry

import "github.com/prometheus/procfs"

// memAvailable is the memory the system can give without swapping, in bytes (Linux's
// MemAvailable), or -1 where unknown.
func memAvailable() int64 {
	return memAvailableIn(procfs.DefaultMountPoint)
}

// memAvailableIn reads MemAvailable from the proc file system mounted at root; -1 if absent.
func memAvailableIn(root string) int64 {
	fs, err := procfs.NewFS(root)
	if err != nil {
		return -1
	}
	m, err := fs.Meminfo()
	if err != nil || m.MemAvailableBytes == nil {
		return -1
	}
	return int64(*m.MemAvailableBytes)
}
