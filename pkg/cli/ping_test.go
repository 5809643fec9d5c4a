package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/client"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// pinged is one run of ts ping.
type pinged struct {
	code        int
	out, errOut string
	took        time.Duration
}

func ping(args ...string) pinged {
	var out, errOut bytes.Buffer
	start := time.Now()
	code := Main(append([]string{"ping"}, args...), &out, &errOut)
	return pinged{code, out.String(), errOut.String(), time.Since(start)}
}

// freeAddress is a 127.0.0.1 address nothing listens on (for now).
func freeAddress(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestPingWait: ts ping --wait waits for a server that is not there yet and exits 0 once it
// is Healthy; with no server it gives up after the wait (exit 3, saying how long it waited);
// a server that refuses the token ends the wait at once (exit 5).
func TestPingWait(t *testing.T) {
	addr := freeAddress(t)
	if p := ping("--host", addr); p.code != term.ExitUnreachable || p.took > 5*time.Second {
		t.Fatalf("ping with no server: exit %d after %s, want %d at once\n%s", p.code, p.took, term.ExitUnreachable, p.errOut)
	}
	p := ping("--host", addr, "--wait", "400ms")
	if p.code != term.ExitUnreachable || p.took < 400*time.Millisecond || p.took > 10*time.Second {
		t.Fatalf("ping --wait 400ms with no server: exit %d after %s, want %d after 400ms\n%s", p.code, p.took, term.ExitUnreachable, p.errOut)
	}
	if want := fmt.Sprintf("ts: ping http://%s for 400ms: cannot reach http://%s (connection refused)", addr, addr); !strings.HasPrefix(p.errOut, want) {
		t.Errorf("stderr = %q, want it to start %q", p.errOut, want)
	}
	// on a terminal, a bar shows the time waited, cleared at the end
	t.Setenv(config.EnvForceTTY, "1")
	if p := ping("--host", addr, "--wait", "300ms"); p.code != term.ExitUnreachable || !strings.Contains(p.errOut, "\rwaiting for http://"+addr+" ") || !strings.Contains(p.errOut, "\r\033[K") {
		t.Errorf("ping --wait on a terminal: exit %d, stderr %q", p.code, p.errOut)
	}
	t.Setenv(config.EnvForceTTY, "")
	if p := ping("--wait", "-1s"); p.code != term.ExitUsage {
		t.Errorf("ping --wait -1s: exit %d, want %d\n%s", p.code, term.ExitUsage, p.errOut)
	}

	// the server starts while ping waits for it
	done := make(chan pinged, 1)
	go func() { done <- ping("--host", addr, "-o", "json", "--wait", "60s") }()
	time.Sleep(500 * time.Millisecond)
	select {
	case p := <-done:
		t.Fatalf("ping --wait 60s returned before the server started: exit %d\n%s%s", p.code, p.out, p.errOut)
	default:
	}
	srv := testenv.StartServer(t, "--inference-address", addr, "samples/iris/model.onnx", "--handler", "tensor")
	select {
	case p := <-done:
		if p.code != 0 || !strings.Contains(p.out, `"status": "Healthy"`) {
			t.Fatalf("ping --wait once the server started: exit %d\n%s%s", p.code, p.out, p.errOut)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("ping --wait 60s had not returned 90s later\n%s", srv.Log())
	}

	// a refused token: waiting would not change it
	keys := filepath.Join(t.TempDir(), "key_file.json")
	auth := testenv.StartServer(t, "--token-auth", "--key-file", keys)
	if p := ping("--host", auth.Inference, "--wait", "60s"); p.code != term.ExitAuth || p.took > 10*time.Second {
		t.Errorf("ping --wait 60s without the key: exit %d after %s, want %d at once\n%s", p.code, p.took, term.ExitAuth, p.errOut)
	}
}

// TestPingAgain: which failures ping --wait asks again after.
func TestPingAgain(t *testing.T) {
	refused := &client.UnreachableError{URL: "127.0.0.1:1", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}
	untrusted := &client.UnreachableError{URL: "127.0.0.1:1", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}
	tests := []struct {
		name  string
		err   error
		again bool
	}{
		{"answered, not Healthy", nil, true},
		{"connection refused", refused, true},
		{"wrapped", fmt.Errorf("ping: %w", refused), true},
		{"untrusted certificate", untrusted, false},
		{"503 from a proxy", &client.Error{Code: 503, Message: "Service Unavailable"}, true},
		{"token refused", &client.Error{Code: 401, Message: "Token Authorization failed"}, false},
		{"not found", &client.Error{Code: 404, Message: "not found"}, false},
		{"something else", errors.New("bad address"), false},
	}
	for _, tt := range tests {
		if got := pingAgain(tt.err); got != tt.again {
			t.Errorf("%s: pingAgain = %v, want %v", tt.name, got, tt.again)
		}
	}
}

// TestParseDuration: duration flags take Go's durations or a number of seconds; anything else
// (or a number too large for a duration) is refused.
func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "30", want: 30 * time.Second},
		{in: "0.25", want: 250 * time.Millisecond},
		{in: "0", want: 0},
		{in: "abc", bad: true},
		{in: "1e300", bad: true},
		{in: "NaN", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
	if p := ping("--host", freeAddress(t), "--wait", "0.3"); p.code != term.ExitUnreachable || p.took < 300*time.Millisecond {
		t.Errorf("ping --wait 0.3 (seconds): exit %d after %s", p.code, p.took)
	}
}
