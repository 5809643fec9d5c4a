package config

import (
	"os"
	"path/filepath"
)

// EnvLogLocation is TorchServe's LOG_LOCATION: the folder of the log a server started in the
// background (ts serve --start) writes; ./logs when unset, as TorchServe's.
const EnvLogLocation = "LOG_LOCATION"

// BackgroundLog is the file a server started in the background logs to: ts_log.log, as
// TorchServe names its main log, in LOG_LOCATION.
func BackgroundLog() string {
	dir := os.Getenv(EnvLogLocation)
	if dir == "" {
		dir = "logs"
	}
	return filepath.Join(dir, "ts_log.log")
}

// PIDFile is where ts serve --start records the server it started, for ts serve --stop, in
// the temporary folder ($TMPDIR), as TorchServe keeps its .model_server.pid.
func PIDFile() string { return filepath.Join(os.TempDir(), ".ts_serve.pid") }
