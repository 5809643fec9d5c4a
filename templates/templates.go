// Package templates holds the starting points users copy: custom handlers (python/, go/),
// model-config.yaml (every model setting) and config.properties (every server setting, made
// from pkg/config's keys), a container image (docker/), a KServe runtime (kserve/) and a
// systemd unit (systemd/); ts serve embeds the Python kit to run a workflow's function nodes.
package templates

import _ "embed"

// PythonKit is python/ts_handler.py, the Python custom-handler kit.
//
//go:embed python/ts_handler.py
var PythonKit []byte
