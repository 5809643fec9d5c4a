//go:build !(linux && cgo)

package engine

// SetMmapThreshold does nothing here: only glibc's allocator is tuned (see malloc_linux.go).
func SetMmapThreshold(bytes int) bool { return false }
