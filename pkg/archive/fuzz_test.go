package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// FuzzReader feeds arbitrary bytes to the reader as a .mar, .tar.gz or .tar.zst: it must
// never panic, never write outside its destination, and agree with Verify. The seed corpus
// is in testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "torchserve.mar")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		src := filepath.Join(root, "in.mar")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		lim := Limits{MaxSize: 64 << 20, MaxRatio: 1000, MaxFiles: 1000}
		dest := filepath.Join(root, "sub", "out")
		_, verr := Verify(context.Background(), src, lim)
		_, eerr := Extract(context.Background(), src, dest, lim)
		if (verr == nil) != (eerr == nil) {
			t.Fatalf("verify says %v, extract says %v", verr, eerr)
		}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && p != root && !strings.HasPrefix(p, filepath.Join(root, "sub")) && p != src {
				t.Fatalf("wrote outside the destination: %s", p)
			}
			return nil
		})
		if eerr != nil {
			if _, err := os.Stat(dest); err == nil {
				t.Fatalf("failed extraction left %s", dest)
			}
		}
	})
}
