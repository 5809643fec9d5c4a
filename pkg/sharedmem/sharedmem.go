// Package sharedmem holds the system shared memory regions clients register with the
// server (Triton's shared memory extension): a client on the same machine puts an
// inference's input tensors in a POSIX shared memory object (shm_open) and names the
// region in its request instead of sending the bytes, and may have outputs written to a
// region the same way.
package sharedmem

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
)

// Dir is where Linux keeps POSIX shared memory objects: shm_open("/name") opens Dir/name.
const Dir = "/dev/shm"

// Region is a registered region: byte_size bytes at offset in the shared memory object
// named key, as Triton's status answers it.
type Region struct {
	Name     string `json:"name"`
	Key      string `json:"key"`
	Offset   int64  `json:"offset"`
	ByteSize int64  `json:"byte_size"`
}

// Error is a client's mistake (an unknown region, a bad key, a range past a region):
// servers answer it with 400.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

func errorf(format string, args ...any) error { return &Error{fmt.Sprintf(format, args...)} }

// Regions are the registered regions, safe for concurrent use.
type Regions struct {
	dir string
	mu  sync.RWMutex // reads and writes hold it shared, so that no region is unmapped under them
	m   map[string]*mapped
}

type mapped struct {
	Region
	mem  []byte // the whole mapping, from a page boundary
	data []byte // the region within it
}

// New returns an empty set of regions whose keys name objects in dir (Dir on Linux).
func New(dir string) *Regions { return &Regions{dir: dir, m: map[string]*mapped{}} }

// Register maps byte_size bytes at offset of the object named key as the region name.
func (r *Regions) Register(name, key string, offset, byteSize int64) error {
	switch {
	case name == "":
		return errorf("a shared memory region needs a name")
	case offset < 0 || byteSize <= 0:
		return errorf("shared memory region %q: offset %d and byte_size %d must be ≥ 0 and > 0", name, offset, byteSize)
	}
	file, err := r.path(key)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[name]; ok {
		return errorf("shared memory region %q is already registered: unregister it first", name)
	}
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errorf("shared memory region %q: no shared memory object %q (shm_open it on this machine first)", name, key)
		}
		return errorf("shared memory region %q: open %q: %v", name, key, err)
	}
	defer f.Close() // the mapping outlives the descriptor
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("shared memory region %q: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return errorf("shared memory region %q: %q is not a shared memory object", name, key)
	}
	if offset+byteSize > fi.Size() || offset+byteSize < offset {
		return errorf("shared memory region %q: offset %d + byte_size %d runs past the end of %q (%d bytes)", name, offset, byteSize, key, fi.Size())
	}
	mem, data, err := mapRegion(f, offset, byteSize)
	if err != nil {
		return fmt.Errorf("shared memory region %q: map %q: %w", name, key, err)
	}
	r.m[name] = &mapped{Region: Region{Name: name, Key: key, Offset: offset, ByteSize: byteSize}, mem: mem, data: data}
	return nil
}

// path is the file of the shared memory object key ("/name" or "name"): only objects
// directly in the folder, so that a key cannot name another file of the machine.
func (r *Regions) path(key string) (string, error) {
	name := strings.TrimPrefix(key, "/")
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return "", errorf("shared memory key %q is not the name of a shared memory object (\"/name\", as shm_open takes)", key)
	}
	return filepath.Join(r.dir, name), nil
}

// Unregister unmaps the region name, or every region when name is "".
func (r *Regions) Unregister(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" {
		for n, m := range r.m {
			unmap(m.mem)
			delete(r.m, n)
		}
		return nil
	}
	m, ok := r.m[name]
	if !ok {
		return errorf("no shared memory region %q is registered", name)
	}
	unmap(m.mem)
	delete(r.m, name)
	return nil
}

// Status is the region name, or every region (by name) when name is "".
func (r *Regions) Status(name string) ([]Region, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if name != "" {
		m, ok := r.m[name]
		if !ok {
			return nil, errorf("no shared memory region %q is registered", name)
		}
		return []Region{m.Region}, nil
	}
	out := make([]Region, 0, len(r.m))
	for _, m := range r.m {
		out = append(out, m.Region)
	}
	slices.SortFunc(out, func(a, b Region) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Read copies size bytes at offset within the region name.
func (r *Regions) Read(name string, offset, size int64) (out []byte, err error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	data, err := r.span(name, offset, size)
	if err != nil {
		return nil, err
	}
	defer guard(name, &err)()
	return slices.Clone(data), nil
}

// guard turns a fault on a region's memory (its object was truncated after it was
// registered: the mapping outlives the pages) into an error instead of a crash of the
// server. Call the function it returns, deferred, after the access.
func guard(name string, err *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		if recover() != nil {
			*err = errorf("shared memory region %q: its object shrank after it was registered: unregister the region", name)
		}
	}
}

// Write copies data at offset within the region name, whose part from offset must hold at
// least size bytes; data may be shorter than size.
func (r *Regions) Write(name string, offset, size int64, data []byte) (err error) {
	if int64(len(data)) > size {
		return errorf("shared memory region %q: the output takes %d bytes, more than shared_memory_byte_size %d", name, len(data), size)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	span, err := r.span(name, offset, size)
	if err != nil {
		return err
	}
	defer guard(name, &err)()
	copy(span, data)
	return nil
}

// Check says whether size bytes at offset are within the region name.
func (r *Regions) Check(name string, offset, size int64) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, err := r.span(name, offset, size)
	return err
}

// span is size bytes at offset within the region name (mu held).
func (r *Regions) span(name string, offset, size int64) ([]byte, error) {
	m, ok := r.m[name]
	if !ok {
		return nil, errorf("no shared memory region %q is registered", name)
	}
	if offset < 0 || size < 0 || offset+size > m.ByteSize || offset+size < offset {
		return nil, errorf("shared memory region %q holds %d bytes: offset %d and byte size %d run past it", name, m.ByteSize, offset, size)
	}
	return m.data[offset : offset+size], nil
}

// Close unmaps every region.
func (r *Regions) Close() { r.Unregister("") }
