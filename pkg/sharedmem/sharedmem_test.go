package sharedmem

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// object makes a shared memory object of size bytes (0, 1, 2, ... mod 256) in dir.
func object(t *testing.T, dir, name string, size int) string {
	t.Helper()
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A region maps its part of the object, whatever its offset (mmap wants page boundaries):
// reads see the object's bytes, writes land in it, both within the region only.
func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	path := object(t, dir, "data", 3*os.Getpagesize())
	r := New(dir)
	defer r.Close()
	offset := int64(os.Getpagesize() + 100) // not on a page boundary
	if err := r.Register("in", "/data", offset, 64); err != nil {
		t.Fatal(err)
	}
	got, err := r.Read("in", 10, 4)
	if want := []byte{byte(offset + 10), byte(offset + 11), byte(offset + 12), byte(offset + 13)}; err != nil || string(got) != string(want) {
		t.Errorf("read %v %v, want %v", got, err, want)
	}
	got[0] = 0xee // a copy: the region is untouched
	if again, _ := r.Read("in", 10, 1); again[0] == 0xee {
		t.Error("Read returned the mapping itself")
	}
	if err := r.Write("in", 60, 4, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if at := b[offset+60 : offset+64]; string(at) != string([]byte{1, 2, 3, byte(offset + 63)}) {
		t.Errorf("the object holds %v after the write", at)
	}
	for _, c := range []struct {
		what string
		err  error
		want string
	}{
		{"read past the region", func() error { _, err := r.Read("in", 60, 5); return err }(), `shared memory region "in" holds 64 bytes: offset 60 and byte size 5 run past it`},
		{"write longer than its size", r.Write("in", 0, 2, []byte{1, 2, 3}), "the output takes 3 bytes, more than shared_memory_byte_size 2"},
		{"write past the region", r.Write("in", 62, 4, []byte{1}), "run past it"},
		{"unknown region", r.Write("out", 0, 1, []byte{1}), `no shared memory region "out" is registered`},
		{"a name taken", r.Register("in", "/data", 0, 1), `shared memory region "in" is already registered`},
		{"past the object", r.Register("big", "data", int64(3*os.Getpagesize()-10), 11), "runs past the end of \"data\""},
		{"no object", r.Register("x", "/nothing", 0, 1), `no shared memory object "/nothing" (shm_open it on this machine first)`},
		{"a path", r.Register("x", "/../etc/passwd", 0, 1), "is not the name of a shared memory object"},
		{"a folder", r.Register("x", "/a/b", 0, 1), "is not the name of a shared memory object"},
		{"an empty key", r.Register("x", "/", 0, 1), "is not the name of a shared memory object"},
		{"no size", r.Register("x", "/data", 0, 0), "must be ≥ 0 and > 0"},
		{"no name", r.Register("", "/data", 0, 1), "needs a name"},
	} {
		var e *Error
		if !errors.As(c.err, &e) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want a client error saying %q", c.what, c.err, c.want)
		}
	}
}

// Status lists the regions by name; Unregister drops one, or all.
func TestStatusAndUnregister(t *testing.T) {
	dir := t.TempDir()
	object(t, dir, "data", 4096)
	r := New(dir)
	for i, name := range []string{"b", "a", "c"} {
		if err := r.Register(name, "/data", int64(i*100), 100); err != nil {
			t.Fatal(err)
		}
	}
	all, err := r.Status("")
	if err != nil || fmt.Sprint(all) != "[{a /data 100 100} {b /data 0 100} {c /data 200 100}]" {
		t.Errorf("status %v %v", all, err)
	}
	if one, err := r.Status("c"); err != nil || len(one) != 1 || one[0].Offset != 200 {
		t.Errorf("status of c: %v %v", one, err)
	}
	if err := r.Unregister("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Status("b"); err == nil {
		t.Error("b is still registered")
	}
	if err := r.Unregister("b"); err == nil {
		t.Error("unregistering b twice succeeds")
	}
	r.Unregister("")
	if all, _ := r.Status(""); len(all) != 0 {
		t.Errorf("after unregistering all: %v", all)
	}
}

// A region whose object is truncated after it was registered fails the reads and writes
// that reach past the object's new end with an error: the server does not crash.
func TestTruncatedObject(t *testing.T) {
	dir := t.TempDir()
	path := object(t, dir, "data", 2*os.Getpagesize())
	r := New(dir)
	defer r.Close()
	if err := r.Register("in", "/data", 0, int64(2*os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err := r.Read("in", int64(os.Getpagesize()), 8)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "its object shrank after it was registered") {
		t.Errorf("read: %v", err)
	}
	if err := r.Write("in", 0, 8, []byte{1}); !errors.As(err, &e) {
		t.Errorf("write: %v", err)
	}
}
