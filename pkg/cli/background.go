package cli

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tsserve/ts/pkg/config"
)

// Waits of ts serve --start and --stop.
const (
	// startWait is how long --start waits for the server it started to be ready.
	startWait = 60 * time.Second
	// stopWait is how long --stop waits for the server to stop: its requests in flight
	// finish first (drain_timeout, 30 s by default).
	stopWait = 2 * time.Minute
)

// startInBackground is ts serve --start, as TorchServe's: it runs ts serve again with the
// same arguments, detached from the terminal, its log going to config.BackgroundLog, records
// its process in config.PIDFile for --stop, and returns once the server listens and the
// models given as arguments are in (it says so on a notify socket, as to systemd; load_models'
// may still be loading: ts ping --wait waits for them), or with the log's end if it stopped.
func startInBackground(g *Globals) error {
	pidFile := config.PIDFile()
	if pid, ok := backgroundServer(pidFile); ok {
		return fmt.Errorf("ts serve is already running in the background (pid %d): stop it with ts serve --stop", pid)
	}
	logPath := config.BackgroundLog()
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return fmt.Errorf("log folder: %w", err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644) // read back if the server stops
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	defer logFile.Close()
	offset, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the ts executable: %w", err)
	}
	dir, err := os.MkdirTemp("", "ts-start-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	defer notify.Close()
	ready := make(chan string, 1) // the server's STATUS
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := notify.ReadFromUnix(buf)
			if err != nil {
				return
			}
			if fields := notifyFields(buf[:n]); fields["READY"] == "1" {
				ready <- fields["STATUS"]
				return
			}
		}
	}()
	cmd := exec.Command(exe, withoutFlag(g.args, "start")...)
	cmd.Env = append(os.Environ(), config.EnvNotifySocket+"="+notify.LocalAddr().String())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // not stopped with the terminal
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ts serve: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		cmd.Process.Signal(syscall.SIGTERM)
		return fmt.Errorf("record the server's process: %w", err)
	}
	pid := cmd.Process.Pid
	select {
	case status := <-ready:
		g.IO().Println(fmt.Sprintf("ts serve started in the background (pid %d), %s; its log: %s; stop it with ts serve --stop", pid, status, logPath))
	case err := <-exited:
		os.Remove(pidFile)
		written, _ := io.ReadAll(io.NewSectionReader(logFile, offset, math.MaxInt64-offset))
		fmt.Fprintln(g.IO().Err, lastLines(written, 10)) // as lines: the error is one
		return fmt.Errorf("the server stopped as it started (%v); the end of its log, %s, is above", err, logPath)
	case <-time.After(startWait):
		g.IO().Println(fmt.Sprintf("ts serve started in the background (pid %d) but is not ready yet after %s (loading its models?); its log: %s", pid, startWait, logPath))
	}
	return nil
}

// notifyReady tells a supervisor that the server listens, by systemd's sd_notify protocol:
// READY=1 on the datagram socket NOTIFY_SOCKET names ("@..." in the abstract namespace),
// with the inference API's address as its STATUS. ts serve --start waits for it; so does a
// systemd service of Type=notify. No socket: nothing to do.
func notifyReady(socket, inference string) error {
	if socket == "" {
		return nil
	}
	if strings.HasPrefix(socket, "@") {
		socket = "\x00" + socket[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "READY=1\nSTATUS=inference API on %s\nMAINPID=%d\n", inference, os.Getpid())
	return err
}

// notifyFields reads an sd_notify datagram: KEY=VALUE lines.
func notifyFields(b []byte) map[string]string {
	fields := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			fields[k] = v
		}
	}
	return fields
}

// stopBackground is ts serve --stop, as TorchServe's: it stops the server ts serve --start
// started (SIGTERM: requests in flight finish) and waits until it has stopped; with none
// running, it says so and succeeds.
func stopBackground(g *Globals) error {
	pidFile := config.PIDFile()
	pid, ok := backgroundServer(pidFile)
	if !ok { // nothing to stop: done, as TorchServe's --stop (and systemctl stop) answer
		os.Remove(pidFile) // a server that stopped by itself leaves it
		g.IO().Println("ts serve is not running in the background (ts serve --start starts it)")
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop ts serve (pid %d): %w", pid, err)
	}
	for deadline := time.Now().Add(stopWait); alive(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("ts serve (pid %d) is still stopping after %s", pid, stopWait)
		}
	}
	os.Remove(pidFile)
	g.IO().Println(fmt.Sprintf("ts serve stopped (pid %d)", pid))
	return nil
}

// backgroundServer is the server pidFile records, when it still runs.
func backgroundServer(pidFile string) (int, bool) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0, false
	}
	// the number may have gone to another process since: it must be a ts serve
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && !slices.ContainsFunc(bytes.Split(cmdline, []byte{0}), func(arg []byte) bool { return string(arg) == "serve" }) {
		return 0, false
	}
	return pid, true
}

// alive reports whether process pid runs (and is not a zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: the signal's answer
	}
	// pid (comm) state ...: comm may hold spaces and parentheses; the state follows the last ')'
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// withoutFlag is args less the boolean flag --name (--name or --name=...).
func withoutFlag(args []string, name string) []string {
	var out []string
	for _, a := range args {
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// lastLines is the last n lines of b.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
