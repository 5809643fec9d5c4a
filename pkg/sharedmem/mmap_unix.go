//go:build unix

package sharedmem

import (
	"os"
	"syscall"
)

// mapRegion maps size bytes at offset of f, shared and writable: the mapping starts at the
// page boundary before offset (mmap's rule), data is the region within it.
func mapRegion(f *os.File, offset, size int64) (mem, data []byte, err error) {
	page := int64(os.Getpagesize())
	start := offset / page * page
	mem, err = syscall.Mmap(int(f.Fd()), start, int(offset-start+size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return mem, mem[offset-start:], nil
}

func unmap(mem []byte) { syscall.Munmap(mem) }
