package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// TestServeStartStop: ts serve --start runs the server in the background and returns once it
// listens (whatever its log level), its log in LOG_LOCATION; a second --start is refused while
// it runs; --stop stops it and says so, and then that none runs (exit 0); a server that cannot start is
// reported with the end of its log, and nothing is left recorded.
func TestServeStartStop(t *testing.T) {
	ts := filepath.Join(testenv.Binaries(t), "ts")
	tmp := t.TempDir()
	logs := filepath.Join(tmp, "logs")
	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(ts, args...)
		cmd.Dir = testenv.Root()
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "LOG_LOCATION="+logs) // the pid file goes to TMPDIR
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("ts %s did not return in 90s", strings.Join(args, " "))
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	addr := freeAddress(t)
	serve := []string{"serve", "--start", "--inference-address", addr, "--management-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0",
		"--grpc-inference-port", "0", "--grpc-management-port", "0"}
	out, code := run(append(serve, "samples/iris/model.onnx")...)
	m := regexp.MustCompile(`^ts serve started in the background \(pid (\d+)\), inference API on http://` + regexp.QuoteMeta(addr) + `; its log: \S+/ts_log.log; stop it with ts serve --stop\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("serve --start: exit %d\n%s", code, out)
	}
	pid, _ := strconv.Atoi(m[1])
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // if the test stops before --stop
	if out, code := run("--host", addr, "ping", "--wait", "30s"); code != 0 || out != "Healthy\n" {
		t.Fatalf("the server started in the background: ping exit %d\n%s", code, out)
	}
	if out, code := run(append(serve, "samples/iris/model.onnx")...); code != term.ExitError || !strings.Contains(out, "ts serve is already running in the background (pid "+m[1]+")") {
		t.Errorf("a second serve --start: exit %d\n%s", code, out)
	}
	if out, code := run("serve", "--stop"); code != 0 || out != "ts serve stopped (pid "+m[1]+")\n" {
		t.Fatalf("serve --stop: exit %d\n%s", code, out)
	}
	if alive(pid) {
		t.Errorf("pid %d still runs after serve --stop", pid)
	}
	if log, err := os.ReadFile(filepath.Join(logs, "ts_log.log")); err != nil || !strings.Contains(string(log), `msg="model loaded" model=model`) || !strings.Contains(string(log), "msg=stopped") {
		t.Errorf("the background server's log: %v\n%s", err, log)
	}
	if out, code := run("serve", "--stop"); code != 0 || !strings.Contains(out, "ts serve is not running in the background") {
		t.Errorf("serve --stop with none running: exit %d\n%s", code, out)
	}

	// the server says it listens on the notify socket, whatever its log level; its log in
	// JSON, as --log-format asks
	os.Remove(filepath.Join(logs, "ts_log.log"))
	for _, flags := range [][]string{{"--log-level", "error"}, {"--log-format", "json"}} {
		out, code = run(append(flags, append(serve, "samples/iris/model.onnx")...)...)
		if code != 0 || !strings.Contains(out, "inference API on http://"+addr) {
			t.Fatalf("serve --start with %v: exit %d\n%s", flags, code, out)
		}
		if out, code := run("serve", "--stop"); code != 0 {
			t.Fatalf("serve --stop: exit %d\n%s", code, out)
		}
	}
	log, _ := os.ReadFile(filepath.Join(logs, "ts_log.log"))
	if !regexp.MustCompile(`(?m)^\{"time":"[^"]+","level":"INFO","msg":"listening","api":"inference","address":"http://` + regexp.QuoteMeta(addr) + `"\}$`).Match(log) {
		t.Errorf("no JSON log line of the inference API listening:\n%s", log)
	}

	out, code = run(append(serve, "--model-store", filepath.Join(tmp, "nothere"))...)
	if code != term.ExitError || !strings.Contains(out, "the server stopped as it started (exit status 1); the end of its log") || !strings.Contains(out, "nothere not found") {
		t.Errorf("serve --start with a missing model store: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(tmp, ".ts_serve.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a server that did not start is still recorded: %v", err)
	}

	// a model given as an argument is in when --start returns; one that does not load stops
	// the server, which --start reports
	weights := filepath.Join(tmp, "weights.pt")
	os.WriteFile(weights, []byte("not a model"), 0o644)
	out, code = run(append(serve, weights)...)
	if code != term.ExitError || !strings.Contains(out, "the server stopped as it started (exit status 1)") || !strings.Contains(out, "weights.pt: not a model archive nor an ONNX model") {
		t.Errorf("serve --start with a PyTorch file: exit %d\n%s", code, out)
	}
	if out, code := run(append(serve, "samples/iris/model.onnx")...); code != 0 {
		t.Fatalf("serve --start: exit %d\n%s", code, out)
	}
	out, code = run("--host", addr, "ping") // no --wait: Healthy once the start-up models are in
	run("serve", "--stop")
	if code != 0 || out != "Healthy\n" {
		t.Errorf("ping at once after serve --start with a model: exit %d\n%s", code, out)
	}
}

// TestNotifyReady: ts serve tells a supervisor it listens as systemd's sd_notify does, also on
// a socket of the abstract namespace ("@name"); with no socket it does nothing.
func TestNotifyReady(t *testing.T) {
	name := fmt.Sprintf("@ts-notify-test-%d", os.Getpid())
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "\x00" + name[1:], Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := notifyReady(name, "http://127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatal(err)
	}
	f := notifyFields(buf[:n])
	if f["READY"] != "1" || f["STATUS"] != "inference API on http://127.0.0.1:8080" || f["MAINPID"] != strconv.Itoa(os.Getpid()) {
		t.Errorf("notified %q", buf[:n])
	}
	if err := notifyReady("", "http://127.0.0.1:8080"); err != nil {
		t.Errorf("no socket: %v", err)
	}
}
