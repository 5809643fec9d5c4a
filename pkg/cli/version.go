package cli

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
)

// VersionCmd is `ts version`.
type VersionCmd struct{}

// Run prints ts's version, then ONNX Runtime's version, library path and execution
// providers (or why the library could not be loaded).
func (c *VersionCmd) Run(g *Globals) error {
	lib, err := g.InitEngine()
	doc := map[string]any{"version": VersionString(), "go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH}
	if lib != nil {
		doc["onnxruntime"] = lib
	}
	if done, derr := g.IO().Data(doc); done {
		return errors.Join(err, derr)
	}
	fmt.Fprintf(g.Stdout(), "ts %s (%s, %s/%s)\n", VersionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.Stdout(), "ONNX Runtime %s (%s)\nexecution providers: %s\n", lib.Version, lib.Path, strings.Join(lib.Providers, ", "))
	return nil
}
