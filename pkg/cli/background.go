package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/config"
)

// Waits of ts serve --start and --stop.
const (
	// startWait is how long --start waits for the server it started to listen.
	startWait = 60 * time.Second
	// stopWait is how long --stop waits for the server to stop: its requests in flight
	// finish first (drain_timeout, 30 s by default).
	stopWait = 2 * time.Minute
)

// listeningInference is the log line of a server whose inference API listens.
var listeningInference = regexp.MustCompile(`msg=listening api=inference address=(\S+)`)

// startInBackground is ts serve --start, as TorchServe's: it runs ts serve again with the
// same arguments, detached from the terminal, its log going to config.BackgroundLog, records
// its process in config.PIDFile for --stop, and returns once the server listens (its models
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
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	offset, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		logFile.Close()
		return fmt.Errorf("log: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		logFile.Close()
		return fmt.Errorf("find the ts executable: %w", err)
	}
	cmd := exec.Command(exe, withoutFlag(g.args, "start")...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // not stopped with the terminal
	err = cmd.Start()
	logFile.Close()
	if err != nil {
		return fmt.Errorf("start ts serve: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		cmd.Process.Signal(syscall.SIGTERM)
		return fmt.Errorf("record the server's process: %w", err)
	}
	io := g.IO()
	deadline := time.Now().Add(startWait)
	for {
		logged := readFrom(logPath, offset)
		if m := listeningInference.FindSubmatch(logged); m != nil {
			io.Println(fmt.Sprintf("ts serve started in the background (pid %d), inference API on %s; its log: %s; stop it with ts serve --stop", cmd.Process.Pid, m[1], logPath))
			return nil
		}
		select {
		case err := <-exited:
			os.Remove(pidFile)
			return fmt.Errorf("the server stopped as it started (%v); its log (%s) ends:\n%s", err, logPath, lastLines(readFrom(logPath, offset), 10))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			io.Println(fmt.Sprintf("ts serve started in the background (pid %d) but does not listen yet after %s; its log: %s", cmd.Process.Pid, startWait, logPath))
			return nil
		}
	}
}

// stopBackground is ts serve --stop, as TorchServe's: it stops the server ts serve --start
// started (SIGTERM: requests in flight finish) and waits until it has stopped.
func stopBackground(g *Globals) error {
	pidFile := config.PIDFile()
	pid, ok := backgroundServer(pidFile)
	if !ok {
		os.Remove(pidFile) // a server that stopped by itself leaves it
		return term.WithCode(term.ExitNotFound, errors.New("ts serve is not running in the background (ts serve --start starts it)"))
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

// readFrom is the file's content from offset on (nil when it cannot be read).
func readFrom(path string, offset int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(f)
	return b
}

// lastLines is the last n lines of b.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
