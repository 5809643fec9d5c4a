//go:build !unix

package handlerkit

import "os"

// protocolStdout is stdout, which the handler must leave to the protocol.
func protocolStdout() (*os.File, error) { return os.Stdout, nil }
