package cli

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

// parseServe parses a ts serve command line as ts does.
func parseServe(t *testing.T, args ...string) *ServeCmd {
	t.Helper()
	var c tsCLI
	c.stdout, c.stderr = io.Discard, io.Discard
	parser, err := newParser(&c, func(int) { t.Fatalf("ts serve %v exited", args) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(append([]string{"serve"}, args...)); err != nil {
		t.Fatalf("ts serve %v: %v", args, err)
	}
	return &c.Serve
}

// TestTritonSettings: tritonserver's flags that have a ts setting give it (named by the flag
// in --print-config), those that do not are warned of, and one ts cannot read is an error.
func TestTritonSettings(t *testing.T) {
	for _, c := range []struct {
		name     string
		args     []string
		want     map[string]string // setting: value (and, for all, the flag named)
		warnings []string
		err      string
	}{
		{"the response cache", []string{"--cache-config", "local,size=1048576"}, map[string]string{"response_cache_size": "1048576"}, nil, ""},
		{"the older cache flag", []string{"--response-cache-byte-size", "4096"}, map[string]string{"response_cache_size": "4096"}, nil, ""},
		{"another cache", []string{"--cache-config", "redis,host=localhost"}, map[string]string{},
			[]string{"--cache-config redis,host=localhost is not applied by ts (its response cache is local"}, ""},
		{"a cache setting misread", []string{"--cache-config", "local"}, nil, nil, `--cache-config "local": want CACHE,SETTING=VALUE`},
		{"traces", []string{"--trace-config", "level=TIMESTAMPS", "--trace-config", "level=TENSORS", "--trace-config", "triton,file=/tmp/t.json",
			"--trace-config", "rate=100", "--trace-config", "count=10", "--trace-config", "log-frequency=5", "--trace-config", "mode=triton"},
			map[string]string{"trace_level": "TIMESTAMPS,TENSORS", "trace_file": "/tmp/t.json", "trace_rate": "100", "trace_count": "10", "trace_log_frequency": "5"}, nil, ""},
		{"OpenTelemetry traces", []string{"--trace-config", "opentelemetry,url=localhost:4318"}, map[string]string{},
			[]string{"--trace-config opentelemetry,url=localhost:4318 is not applied by ts"}, ""},
		{"a trace setting unknown", []string{"--trace-config", "depth=3"}, nil, nil, `--trace-config "depth=3": ts knows level, rate`},
		{"gRPC over TLS", []string{"--grpc-use-ssl=true", "--grpc-server-cert", "c.pem", "--grpc-server-key", "k.pem"},
			map[string]string{"enable_grpc_ssl": "true", "certificate_file": "c.pem", "private_key_file": "k.pem"}, nil, ""},
		{"mutual TLS", []string{"--grpc-use-ssl-mutual=true", "--grpc-root-cert", "ca.pem"},
			map[string]string{"enable_grpc_ssl": "true", "client_ca_file": "ca.pem"}, nil, ""},
		{"mutual TLS without its authority", []string{"--grpc-use-ssl-mutual=true"}, nil, nil, "--grpc-use-ssl-mutual asks clients for a certificate that --grpc-root-cert signed"},
		{"flags not applied", []string{"--http-thread-count", "8", "--pinned-memory-pool-byte-size=0", "--cuda-memory-pool-byte-size", "0:0",
			"--cuda-memory-pool-byte-size", "1:0", "--allow-gpu-metrics", "false", "--id", "triton"}, map[string]string{},
			[]string{"--id triton is not applied by ts (the server's identity is ts's, GET /v2); ignored",
				"--http-thread-count 8 is not applied by ts (each connection is served on a goroutine of its own); ignored",
				"--allow-gpu-metrics false is not applied by ts", "--pinned-memory-pool-byte-size 0 is not applied by ts",
				"--cuda-memory-pool-byte-size 0:0 is not applied", "--cuda-memory-pool-byte-size 1:0 is not applied"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := parseServe(t, c.args...)
			f, names := map[string]string{}, map[string]string{}
			warnings, err := cmd.tritonSettings(f, names)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f) != len(c.want) {
				t.Errorf("settings %v, want %v", f, c.want)
			}
			for k, v := range c.want {
				if f[k] != v || !strings.HasPrefix(names[k], "--") {
					t.Errorf("%s = %q (named %q), want %q", k, f[k], names[k], v)
				}
			}
			if len(warnings) != len(c.warnings) {
				t.Fatalf("warnings %q, want %d", warnings, len(c.warnings))
			}
			joined := strings.Join(warnings, "\n")
			for _, w := range c.warnings {
				if !strings.Contains(joined, w) {
					t.Errorf("warnings %q, want one with %q", warnings, w)
				}
			}
		})
	}
}

// TestTritonLogLevel: --log-verbose logs debug records; --log-info, --log-warning and
// --log-error turn levels off from the lowest up; none given keeps --log-level.
func TestTritonLogLevel(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "warn"}, // --log-level warn below
		{[]string{"--log-verbose=1"}, "debug"},
		{[]string{"--log-info=true"}, "info"},
		{[]string{"--log-info=false"}, "warn"},
		{[]string{"--log-info=false", "--log-warning=false"}, "error"},
		{[]string{"--log-info=false", "--log-warning=false", "--log-error=false"}, logOff},
	} {
		g := &Globals{LogLevel: "warn"}
		parseServe(t, c.args...).tritonLogLevel(g)
		if g.LogLevel != c.want {
			t.Errorf("%v: level %q, want %q", c.args, g.LogLevel, c.want)
		}
	}
}

// TestServeLogFile: --log-file appends the server's log to the file, nothing to stderr;
// Triton's --log-info=false leaves the information out, and all three levels off leave the
// file empty.
func TestServeLogFile(t *testing.T) {
	ts := filepath.Join(testenv.Binaries(t), "ts")
	for _, c := range []struct {
		name        string
		args        []string
		has, hasNot string
	}{
		{"info", nil, "msg=listening api=inference", ""},
		{"warnings only", []string{"--log-info=false", "--http-thread-count", "4"}, "level=WARN msg=\"--http-thread-count 4 is not applied by ts", "level=INFO"},
		{"nothing", []string{"--log-info=false", "--log-warning=false", "--log-error=false", "--http-thread-count", "4"}, "", "level="},
	} {
		t.Run(c.name, func(t *testing.T) {
			logFile := filepath.Join(t.TempDir(), "server.log")
			addr := freeAddress(t)
			cmd := exec.Command(ts, append([]string{"serve", "--log-file", logFile, "--inference-address", addr, "--management-address", "127.0.0.1:0",
				"--metrics-address", "127.0.0.1:0", "--no-grpc"}, c.args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			deadline := time.Now().Add(30 * time.Second)
			for {
				res, err := http.Get("http://" + addr + "/ping")
				if err == nil {
					res.Body.Close()
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not listening in 30s: %v\n%s", err, stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			var exit *exec.ExitError
			if err := cmd.Wait(); err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			b, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			log := string(b)
			if stderr.Len() != 0 {
				t.Errorf("stderr: %s", stderr.String())
			}
			if c.has != "" && !strings.Contains(log, c.has) || c.has == "" && log != "" {
				t.Errorf("log file, want %q:\n%s", c.has, log)
			}
			if c.hasNot != "" && strings.Contains(log, c.hasNot) {
				t.Errorf("log file has %q:\n%s", c.hasNot, log)
			}
		})
	}
}
