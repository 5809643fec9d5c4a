package engine

import (
	"fmt"

	"github.com/prometheus/procfs"
	ort "github.com/yalue/onnxruntime_go"
)

// MemAvailable is the memory the system can give without swapping, in bytes (Linux's
// MemAvailable), or -1 where unknown.
func MemAvailable() int64 {
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

// copyCheckFrom is the size from which an output ONNX Runtime allocated is checked against
// the memory left before it is copied into Go memory (checkOutputCopy); memAvailable gives
// that memory. Both are variables for tests.
var (
	copyCheckFrom int64 = 256 << 20
	memAvailable        = MemAvailable
)

// checkOutputCopy refuses to copy an output of this many bytes into Go memory when the copy
// would take more than half the memory left: a model may answer what an input sized (an
// int64 n for ConstantOfShape [n, n]), and a copy that exhausts the machine's memory would
// end the server and every model on it. The run fails with ErrOutOfResources (507) instead.
func checkOutputCopy(bytes int64) error {
	if bytes < copyCheckFrom {
		return nil
	}
	if avail := memAvailable(); avail >= 0 && bytes > avail/2 {
		return resourceError(fmt.Sprintf("out of memory: the model's output of %d bytes would take more than half the memory left (%d bytes) to copy", bytes, avail))
	}
	return nil
}

func init() { ort.OutputCopyCheck = checkOutputCopy }
