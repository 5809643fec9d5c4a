// Package enginetest starts ONNX Runtime for the tests of packages that run models.
// (It is apart from testenv because engine's own tests import testenv.)
package enginetest

import (
	"fmt"
	"os"
	"testing"

	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
)

// Main loads ONNX Runtime from where ts would find it, as ts does, then runs the tests;
// without the library it says how to get it and exits 1. Call it from TestMain.
func Main(m *testing.M) {
	if _, err := engine.InitTuned(config.ORTCandidates(""), config.MallocMmapThreshold()); err != nil {
		fmt.Fprintln(os.Stderr, "these tests need ONNX Runtime (run 'make setup'):", err)
		os.Exit(1)
	}
	engine.SetRuntimeLogging(false) // as ts serves: the tests' failing runs need not print
	os.Exit(m.Run())
}
