package testenv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/client"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Binaries builds ts and tsarchive once per test process and returns the folder holding
// them. tsarchive is built with CGO_ENABLED=0, as it is released.
func Binaries(t testing.TB) string {
	t.Helper()
	dir, err := BuildBinaries()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// BuildBinaries is Binaries for callers without a testing.TB.
func BuildBinaries() (string, error) {
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "ts-bin-*")
		if buildErr != nil {
			return
		}
		for _, b := range []struct{ pkg, cgo string }{{"./cmd/ts", "1"}, {"./cmd/tsarchive", "0"}} {
			cmd := exec.Command("go", "build", "-o", buildDir, b.pkg)
			cmd.Dir = Root()
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	return buildDir, buildErr
}

// Server is a `ts serve` process started by a test.
type Server struct {
	Cmd        *exec.Cmd
	Inference  string // http://127.0.0.1:port
	Management string
	Metrics    string
	// GRPCInference and GRPCManagement are the gRPC APIs' addresses (unless --no-grpc).
	GRPCInference, GRPCManagement string
	log                           *lockedBuffer
	done                          chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) add(s string) {
	l.mu.Lock()
	l.b.WriteString(s)
	l.mu.Unlock()
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listeningRE = regexp.MustCompile(`msg=listening api=(\w+) address=(\S+)`)

// StartServer runs `ts serve` with args (on random free 127.0.0.1 ports unless the args
// give addresses) and waits until its APIs listen. The server is stopped when the
// test ends.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	s, err := Launch(args...)
	if s != nil {
		t.Cleanup(func() { s.Stop(t) })
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Launch is StartServer for callers without a testing.TB; the caller stops the server
// with Shutdown.
func Launch(args ...string) (*Server, error) {
	dir, err := BuildBinaries()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "ts")
	joined := strings.Join(args, " ")
	if !strings.Contains(joined, "--inference-address") {
		args = append(args, "--inference-address", "127.0.0.1:0")
	}
	if !strings.Contains(joined, "--management-address") {
		args = append(args, "--management-address", "127.0.0.1:0")
	}
	if !strings.Contains(joined, "--metrics-address") {
		args = append(args, "--metrics-address", "127.0.0.1:0")
	}
	off := func(api string) bool { // --no-grpc, or Triton's --allow-grpc=false (http, metrics)
		return strings.Contains(joined, "--no-"+api) || strings.Contains(joined, "--allow-"+api+"=false")
	}
	http, grpc, metrics := !off("http"), !off("grpc"), !off("metrics")
	if grpc && !strings.Contains(joined, "--grpc-inference-port") {
		args = append(args, "--grpc-inference-port", "0")
	}
	if grpc && !strings.Contains(joined, "--grpc-management-port") {
		args = append(args, "--grpc-management-port", "0")
	}
	if !strings.Contains(joined, "--log-format") { // the listening lines below are read as text
		args = append(args, "--log-format", "text")
	}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Dir = Root()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Cmd: cmd, log: &lockedBuffer{}, done: make(chan error, 1)}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		closed := false
		for sc.Scan() {
			line := sc.Text()
			s.log.add(line + "\n")
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				s.log.mu.Lock()
				switch m[1] {
				case "inference":
					s.Inference = m[2]
				case "management":
					s.Management = m[2]
				case "metrics":
					s.Metrics = m[2]
				case "grpc_inference":
					s.GRPCInference = m[2]
				case "grpc_management":
					s.GRPCManagement = m[2]
				}
				ready := (!http || s.Inference != "" && s.Management != "") && (!metrics || s.Metrics != "") &&
					(!grpc || s.GRPCInference != "" && s.GRPCManagement != "")
				s.log.mu.Unlock()
				if ready && !closed {
					close(found)
					closed = true
				}
			}
		}
		io.Copy(io.Discard, stderr)
		s.done <- cmd.Wait()
	}()
	select {
	case <-found:
		return s, nil
	case err := <-s.done:
		s.done <- err
		return s, fmt.Errorf("ts serve exited before listening: %v\n%s", err, s.Log())
	case <-time.After(30 * time.Second):
		return s, fmt.Errorf("ts serve did not start listening in 30s\n%s", s.Log())
	}
}

// Log returns what the server has logged so far.
func (s *Server) Log() string { return s.log.String() }

// Stop sends SIGTERM and waits for the process to exit, returning its exit error.
func (s *Server) Stop(t testing.TB) error {
	err := s.Shutdown()
	if err == context.DeadlineExceeded {
		t.Errorf("ts serve did not stop within 30s of SIGTERM\n%s", s.Log())
	}
	return err
}

// Shutdown sends SIGTERM and waits up to 30s for the process to exit (then kills it and
// returns context.DeadlineExceeded), returning its exit error.
func (s *Server) Shutdown() error {
	if s.Cmd.ProcessState != nil {
		return nil
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-ctx.Done():
		s.Cmd.Process.Kill()
		return ctx.Err()
	}
}

// RemoveBinaries deletes what Binaries built; call it from TestMain after m.Run.
func RemoveBinaries() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// WaitHealthy polls /ping until the server reports Healthy (its start-up models are loaded).
func (s *Server) WaitHealthy(t testing.TB) {
	t.Helper()
	if err := s.AwaitHealthy(); err != nil {
		t.Fatal(err)
	}
}

// AwaitHealthy is WaitHealthy for callers without a testing.TB.
func (s *Server) AwaitHealthy() error {
	// the test's own server: its certificate need not be checked here
	c, err := client.New(client.Options{Host: s.Inference, Insecure: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if status, err := c.Ping(context.Background()); err == nil && status == "Healthy" {
			return nil
		}
	}
	return fmt.Errorf("ts serve did not become Healthy within 30s\n%s", s.Log())
}
