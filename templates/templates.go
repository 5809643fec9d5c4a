// Package templates holds the starting points users copy for custom handlers (python/, go/);
// ts serve embeds the Python kit to run a workflow's function nodes.
package templates

import _ "embed"

// PythonKit is python/ts_handler.py, the Python custom-handler kit.
//
//go:embed python/ts_handler.py
var PythonKit []byte
