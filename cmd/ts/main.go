// Command ts serves ONNX models and manages running servers.
package main

import (
	"os"

	"github.com/tsserve/ts/pkg/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
