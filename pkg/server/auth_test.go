package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/certs"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

func readKeys(t *testing.T, path string) keyFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var k keyFile
	if err := json.Unmarshal(b, &k); err != nil || k.Inference.Key == "" || k.Management.Key == "" || k.API.Key == "" {
		t.Fatalf("key file: %v %s", err, b)
	}
	return k
}

func call(t *testing.T, method, url, key string) (int, string) {
	t.Helper()
	var header []string
	if key != "" {
		header = []string{"Authorization", "Bearer " + key}
	}
	status, b, _, err := send(method, url, nil, header...)
	if err != nil {
		t.Fatal(err)
	}
	return status, string(b)
}

// TestTokenAuthorization follows TorchServe's token authorization: keys in key_file.json
// (0600), 400 InvalidKeyException without the right key, API descriptions and metrics open,
// /token with the API key makes a new key, keys expire, the file goes at stop.
func TestTokenAuthorization(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "key_file.json")
	ts := emptyServer(t, map[string]string{"disable_token_authorization": "false", "key_file": keyPath, "token_expiration_min": "5"})
	st, err := os.Stat(keyPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, st)
	}
	k := readKeys(t, keyPath)
	if len(k.Inference.Key) != 8 || k.Inference.Key == k.Management.Key {
		t.Errorf("keys %+v", k)
	}
	exp, err := time.Parse(time.RFC3339Nano, k.Inference.Expiration)
	if err != nil || exp.Before(time.Now().Add(4*time.Minute)) || exp.After(time.Now().Add(6*time.Minute)) {
		t.Errorf("expiration time %q: %v", k.Inference.Expiration, err)
	}
	inf, mgmt := ts.inference.URL, ts.management.URL
	for _, c := range []struct {
		name, method, url, key string
		code                   int
	}{
		{"ping, no key", "GET", inf + "/ping", "", 400},
		{"ping, wrong key", "GET", inf + "/ping", "nope", 400},
		{"ping, management key", "GET", inf + "/ping", k.Management.Key, 400},
		{"ping, inference key", "GET", inf + "/ping", k.Inference.Key, 200},
		{"inference description", "OPTIONS", inf + "/", "", 200},
		{"management description", "GET", mgmt + "/api-description", "", 200},
		{"list, inference key", "GET", mgmt + "/models", k.Inference.Key, 400},
		{"list, management key", "GET", mgmt + "/models", k.Management.Key, 200},
		{"metrics, no key", "GET", ts.metrics.URL + "/metrics", "", 200},
		{"token, management key", "GET", mgmt + "/token?type=inference", k.Management.Key, 400},
		{"token, bad type", "GET", mgmt + "/token?type=metrics", k.API.Key, 400},
	} {
		code, body := call(t, c.method, c.url, c.key)
		if code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.code)
		}
		if c.code == 400 && (!strings.Contains(body, `"InvalidKeyException"`) || !strings.Contains(body, "Token Authorization failed")) {
			t.Errorf("%s: %s", c.name, body)
		}
	}

	// a new inference key: the old one stops working, the management key is untouched
	if code, body := call(t, "GET", mgmt+"/token?type=inference", k.API.Key); code != 200 {
		t.Fatalf("token: %d %s", code, body)
	}
	k2 := readKeys(t, keyPath)
	if k2.Inference.Key == k.Inference.Key || k2.Management.Key != k.Management.Key || k2.API.Key != k.API.Key {
		t.Fatalf("after /token: %+v, before %+v", k2, k)
	}
	if code, _ := call(t, "GET", inf+"/ping", k.Inference.Key); code != 400 {
		t.Errorf("old inference key still works: %d", code)
	}
	if code, _ := call(t, "GET", inf+"/ping", k2.Inference.Key); code != 200 {
		t.Errorf("new inference key: %d", code)
	}

	// expired keys fail
	ts.srv.auth.mu.Lock()
	ts.srv.auth.now = func() time.Time { return time.Now().Add(6 * time.Minute) }
	ts.srv.auth.mu.Unlock()
	if code, _ := call(t, "GET", mgmt+"/models", k.Management.Key); code != 400 {
		t.Errorf("expired management key: %d", code)
	}
}

// TestTokenAuthorizationOff: by default no key is asked for, and there is no /token.
func TestTokenAuthorizationOff(t *testing.T) {
	ts := emptyServer(t, nil)
	if code, body := call(t, "GET", ts.inference.URL+"/ping", ""); code != 200 {
		t.Errorf("ping: %d %s", code, body)
	}
	if code, _ := call(t, "GET", ts.management.URL+"/token?type=inference", "x"); code != 404 {
		t.Errorf("/token without token authorization: %d", code)
	}
}

// TestTLS: an https:// address serves TLS with the PEM certificate and key.
func TestTLS(t *testing.T) {
	certFile, keyFile, err := testenv.SelfSigned(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(certFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	if _, err := config.Load(config.Inputs{Flags: map[string]string{"inference_address": "https://127.0.0.1:0", "certificate_file": certFile}}); err == nil ||
		!strings.Contains(err.Error(), "private_key_file") {
		t.Errorf("a certificate without its key: %v", err)
	}
	cfg, err := config.Load(config.Inputs{Flags: map[string]string{"inference_address": "https://127.0.0.1:0",
		"certificate_file": certFile, "private_key_file": keyFile}})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := client.Get("https://" + addr + "/api-description")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil {
		t.Errorf("over TLS: %v %v", res.Status, res.TLS)
	}
	if _, err := http.Get("https://" + addr + "/api-description"); err == nil {
		t.Error("a client that does not trust the certificate connected")
	}

	bad := *cfg
	bad.PrivateKeyFile = certFile
	if _, err := TLSConfig(&bad, quiet); err == nil {
		t.Error("a certificate as its own key was accepted")
	}
}

// serveTLS serves the inference API of cfg (its address https://) over TLS as ts serve does,
// until the test ends; it returns the address it listens on.
func serveTLS(t *testing.T, cfg *config.Settings) string {
	t.Helper()
	tlsConfig, err := TLSConfig(cfg, quiet)
	if err != nil || tlsConfig == nil {
		t.Fatalf("TLSConfig: %v", err)
	}
	ln, err := Bind(cfg.InferenceAddress, tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := New(nil, Options{Settings: cfg, Logger: quiet}).Handler(Inference)
	hs := &http.Server{Handler: h, ErrorLog: slog.NewLogLogger(quiet.Handler(), slog.LevelError)} // the refused handshakes
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// peerChain connects to addr over TLS trusting the PEM certificates in caFile (or, with
// caFile "", pinning the certificate by its SHA-256) and returns the certificates the server
// showed.
func peerChain(t *testing.T, addr, caFile, sha256 string) ([]*x509.Certificate, error) {
	t.Helper()
	c := &tls.Config{}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		c.RootCAs = x509.NewCertPool()
		c.RootCAs.AppendCertsFromPEM(b)
	} else {
		c.InsecureSkipVerify = true // pinned below instead
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if got := certs.Fingerprint(&x509.Certificate{Raw: raw[0]}); got != sha256 {
				return fmt.Errorf("certificate %s, want %s", got, sha256)
			}
			return nil
		}
	}
	conn, err := tls.Dial("tcp", addr, c)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates, nil
}

// TestKeystore: TorchServe's keystore, keystore_pass (default changeit) and keystore_type
// serve a PKCS#12 keystore's key and chain, made by Java's keytool or OpenSSL, before
// certificate_file; a JKS keystore, a wrong password or a missing file is refused, saying
// what to do; with no keystore nor certificate, a self-signed certificate made at start is
// served and logged with its fingerprint, as TorchServe serves one.
func TestKeystore(t *testing.T) {
	dir := testenv.Path("pkg/server/testdata/keystores")
	otherCert, otherKey, err := testenv.SelfSigned(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	https := map[string]string{"inference_address": "https://127.0.0.1:0"}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(https)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name     string
		flags    map[string]string
		trust    string // the PEM file a client trusts
		chainLen int
		err      string
	}{
		{"keytool, the default password", with("keystore", dir+"/keystore.p12"), dir + "/keystore.pem", 1, ""},
		{"keytool, before certificate_file", with("keystore", dir+"/keystore.p12", "certificate_file", otherCert, "private_key_file", otherKey),
			dir + "/keystore.pem", 1, ""},
		{"OpenSSL, a chain", with("keystore", dir+"/chain.p12", "keystore_pass", "s3cret", "keystore_type", "pkcs12"), dir + "/ca.pem", 2, ""},
		{"a wrong password", with("keystore", dir+"/chain.p12"), "", 0, "the password (keystore_pass) is not its password"},
		{"a JKS keystore", with("keystore", dir+"/keystore.jks"), "", 0, "is a Java JKS keystore; ts reads PKCS12 keystores: convert it with keytool -importkeystore"},
		{"no such file", with("keystore", dir+"/none.p12"), "", 0, "keystore: open " + dir + "/none.p12"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.Load(config.Inputs{Flags: c.flags, Env: []string{}})
			if err != nil {
				t.Fatal(err)
			}
			tlsConfig, err := TLSConfig(cfg, quiet)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("TLSConfig: %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || tlsConfig == nil {
				t.Fatalf("TLSConfig: %v", err)
			}
			chain, err := peerChain(t, serveTLS(t, cfg), c.trust, "")
			if err != nil {
				t.Fatalf("a client trusting %s: %v", filepath.Base(c.trust), err)
			}
			if len(chain) != c.chainLen || chain[0].Subject.CommonName != "localhost" {
				t.Errorf("served %d certificates, the first for %q; want %d, for localhost", len(chain), chain[0].Subject.CommonName, c.chainLen)
			}
		})
	}
	if _, err := config.Load(config.Inputs{Flags: with("keystore", dir+"/keystore.jks", "keystore_type", "JKS"), Env: []string{}}); err == nil ||
		!strings.Contains(err.Error(), `keystore_type (from flag): "JKS": ts reads PKCS12 keystores`) {
		t.Errorf("keystore_type JKS: %v", err)
	}

	t.Run("self-signed", func(t *testing.T) {
		cfg, err := config.Load(config.Inputs{Flags: https, Env: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		var logged bytes.Buffer
		tlsConfig, err := TLSConfig(cfg, slog.New(slog.NewTextHandler(&logged, nil)))
		if err != nil {
			t.Fatal(err)
		}
		leaf := tlsConfig.Certificates[0].Leaf
		if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
			t.Error(err)
		}
		if err := leaf.VerifyHostname("localhost"); err != nil {
			t.Error(err)
		}
		sum := certs.Fingerprint(leaf)
		if !strings.Contains(logged.String(), "self-signed certificate") || !strings.Contains(logged.String(), "sha256="+sum) {
			t.Errorf("log: %s", logged.String())
		}
		ln, err := Bind(cfg.InferenceAddress, tlsConfig)
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: slog.NewLogLogger(quiet.Handler(), slog.LevelError)}
		go hs.Serve(ln)
		defer hs.Close()
		if _, err := peerChain(t, ln.Addr().String(), "", sum); err != nil {
			t.Errorf("a client pinning the logged fingerprint: %v", err)
		}
		if _, err := http.Get("https://" + ln.Addr().String() + "/"); err == nil {
			t.Error("a client that does not trust the self-signed certificate connected")
		}
	})
}
