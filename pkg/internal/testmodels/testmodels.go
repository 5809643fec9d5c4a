// Package testmodels packs archives of generated models for the tests of several packages.
package testmodels

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/onnxgen"
)

// SlowArchive packs a generated model named "slow", with the tensor handler, into a temporary
// folder and returns the archive's path. It takes x float32[batch,512] to y float32[batch,2]
// through 800 layers: about a second for 128 rows on the project's machine.
func SlowArchive(t testing.TB) string {
	t.Helper()
	model := filepath.Join(t.TempDir(), "slow.onnx")
	if err := onnxgen.Write(model, onnxgen.Spec{Dim: 512, Out: 2, Depth: 800}); err != nil {
		t.Fatal(err)
	}
	res, err := archive.Pack(context.Background(), archive.PackOptions{ModelName: "slow", SerializedFile: model, Handler: "tensor", ExportPath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return res.Path
}
