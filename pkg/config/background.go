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

// EnvNotifySocket is systemd's NOTIFY_SOCKET: the datagram socket ts serve tells READY=1 on
// once it listens (sd_notify), as a Type=notify service and ts serve --start wait for.
const EnvNotifySocket = "NOTIFY_SOCKET"

// TakeNotifySocket returns NOTIFY_SOCKET and removes it from the environment, as sd_notify
// does, so that the processes ts starts (custom handlers) do not inherit it.
func TakeNotifySocket() string {
	s := os.Getenv(EnvNotifySocket)
	os.Unsetenv(EnvNotifySocket)
	return s
}
