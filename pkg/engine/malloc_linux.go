//go:build linux && cgo

package engine

/*
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
static int ts_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }
#else
static int ts_set_mmap_threshold(int bytes) { return 0; }
#endif
*/
import "C"

// SetMmapThreshold fixes the size from which the C allocator (glibc) serves allocations
// with their own mappings, and so returns them to the system when they are freed. glibc
// otherwise raises this threshold each time such a block is freed, up to 32 MiB, after which
// the large buffers ONNX Runtime frees (the model read while a session is created, a
// run's working buffers) stay in the process for good: serving ResNet-18 then holds about
// 190 MB instead of about 105 MB, and a second worker's concurrent runs keep their own
// copy of those buffers. It reports whether the allocator took the setting (false where
// the C library is not glibc). Call it before Init.
func SetMmapThreshold(bytes int) bool {
	return C.ts_set_mmap_threshold(C.int(bytes)) == 1
}
