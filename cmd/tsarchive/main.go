// Command tsarchive packs ONNX models into model archives for ts serve.
package main

import (
	"os"

	"github.com/tsserve/ts/pkg/cli/archivecmd"
)

func main() {
	os.Exit(archivecmd.Main(os.Args[1:], os.Stdout, os.Stderr))
}
