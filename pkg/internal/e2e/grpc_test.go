package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tsserve/ts/pkg/api/grpc/inferencepb"
	"github.com/tsserve/ts/pkg/api/grpc/managementpb"
	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// TestServeGRPC drives the real `ts serve`'s gRPC APIs with a gRPC client, in plain text, over
// TLS (enable_grpc_ssl) and over mutual TLS (client_ca_file, which turns away a client with
// no certificate): register through the management API, predict through the
// inference API (the REST API's answer), and a SIGTERM that stops the gRPC listeners too.
func TestServeGRPC(t *testing.T) {
	store := t.TempDir()
	pack(t, store, "iris", "1.0", testenv.Path("samples/iris/model.onnx"))
	certFile, keyFile, err := testenv.SelfSigned(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		args  []string
		creds credentials.TransportCredentials
	}{
		{"plain", nil, insecure.NewCredentials()},
		// the test's own certificate: not checked by the client
		{"TLS", []string{"--ts-config", sslConfig(t, certFile, keyFile)}, credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})},
		// mutual TLS: the client shows a certificate the server's client CA file signed (the same one)
		{"mutual TLS", []string{"--ts-config", sslConfig(t, certFile, keyFile), "--client-ca-file", certFile},
			credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{clientCert}})},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := testenv.StartServer(t, append([]string{"--model-store", store}, c.args...)...)
			srv.WaitHealthy(t)
			scheme := "http://"
			if c.creds.Info().SecurityProtocol == "tls" {
				scheme = "https://"
			}
			if !strings.HasPrefix(srv.GRPCInference, scheme) || !strings.HasPrefix(srv.GRPCManagement, scheme) {
				t.Fatalf("gRPC addresses %q and %q, want %s", srv.GRPCInference, srv.GRPCManagement, scheme)
			}
			dial := func(address string) *grpc.ClientConn {
				conn, err := grpc.NewClient(config.HostPort(address), grpc.WithTransportCredentials(c.creds))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
				return conn
			}
			inf := inferencepb.NewInferenceAPIsServiceClient(dial(srv.GRPCInference))
			mgmt := managementpb.NewManagementAPIsServiceClient(dial(srv.GRPCManagement))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if res, err := inf.Ping(ctx, &emptypb.Empty{}); err != nil || !strings.Contains(res.GetHealth(), "Healthy") {
				t.Fatalf("ping: %v %v", res, err)
			}
			if c.name == "mutual TLS" { // a client with no certificate does not get through
				conn, err := grpc.NewClient(config.HostPort(srv.GRPCInference), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if _, err := inferencepb.NewInferenceAPIsServiceClient(conn).Ping(ctx, &emptypb.Empty{}); status.Code(err) != codes.Unavailable {
					t.Errorf("ping with no client certificate: %v, want UNAVAILABLE", err)
				}
			}
			if res, err := mgmt.RegisterModel(ctx, &managementpb.RegisterModelRequest{Url: "iris-1.0.mar", InitialWorkers: 1, Synchronous: true}); err != nil ||
				!strings.Contains(res.GetMsg(), "registered") {
				t.Fatalf("register: %v %v", res, err)
			}
			body := []byte(`{"inputs": {"features": [[5.1, 3.5, 1.4, 0.2]]}}`)
			rest := mustStatus(t, "POST", srv.Inference+"/predictions/iris", body, 200)
			res, err := inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": body}})
			if err != nil || string(res.GetPrediction()) != string(rest) {
				t.Fatalf("prediction over gRPC: %q %v, want the REST answer %q", res.GetPrediction(), err, rest)
			}
			if err := srv.Stop(t); err != nil { // SIGTERM
				t.Fatalf("ts serve exited with %v after SIGTERM\n%s", err, srv.Log())
			}
		})
	}
}

// TestServeGRPCOnly: with Triton's --allow-http=false (enable_http=false) the inference and
// management APIs listen over gRPC only, and serve there: ping, predictions, the Open
// Inference Protocol's readiness (which --strict-readiness=false gives before the models).
func TestServeGRPCOnly(t *testing.T) {
	store := t.TempDir()
	pack(t, store, "iris", "1.0", testenv.Path("samples/iris/model.onnx"))
	srv := testenv.StartServer(t, "--model-store", store, "--models", "iris=iris-1.0.mar", "--allow-http=false", "--strict-readiness=false")
	if srv.Inference != "" || srv.Management != "" || strings.Contains(srv.Log(), "api=inference ") || strings.Contains(srv.Log(), "api=management ") {
		t.Fatalf("HTTP APIs listen with --allow-http=false:\n%s", srv.Log())
	}
	conn, err := grpc.NewClient(config.HostPort(srv.GRPCInference), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res, err := oippb.NewGRPCInferenceServiceClient(conn).ServerReady(ctx, &oippb.ServerReadyRequest{}); err != nil || !res.GetReady() {
		t.Errorf("server ready: %v %v", res, err)
	}
	inf := inferencepb.NewInferenceAPIsServiceClient(conn)
	for {
		res, err := inf.Ping(ctx, &emptypb.Empty{})
		if err == nil && strings.Contains(res.GetHealth(), `"Healthy"`) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("not healthy in 30s: %v %v", res, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := inf.Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": []byte(`{"inputs": {"features": [[5.1, 3.5, 1.4, 0.2]]}}`)}})
	if err != nil || !strings.Contains(string(res.GetPrediction()), `"probabilities"`) {
		t.Fatalf("prediction over gRPC: %q %v", res.GetPrediction(), err)
	}
	if err := srv.Stop(t); err != nil {
		t.Fatalf("ts serve exited with %v after SIGTERM\n%s", err, srv.Log())
	}
}

// sslConfig writes a config.properties that serves gRPC over TLS with the certificate.
func sslConfig(t *testing.T, certFile, keyFile string) string {
	conf := filepath.Join(t.TempDir(), "config.properties")
	text := fmt.Sprintf("enable_grpc_ssl=true\ncertificate_file=%s\nprivate_key_file=%s\n", certFile, keyFile)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// TestGRPCPortTaken: the gRPC APIs are on by default, so a second server on a machine meets
// the first one's ports: ts serve stops with a last line that says how to go on.
func TestGRPCPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	bin := filepath.Join(testenv.Binaries(t), "ts")
	msg := mustFail(t, bin, nil, "serve", "--model-store", t.TempDir(), "--inference-address", "http://127.0.0.1:0", "--management-address", "http://127.0.0.1:0",
		"--metrics-address", "http://127.0.0.1:0", "--grpc-inference-port", port, "--grpc-management-port", "0")
	want := "ts: grpc_inference_address: listen on http://127.0.0.1:" + port + ": listen tcp 127.0.0.1:" + port + ": bind: address already in use (choose another --grpc-inference-port, or --no-grpc)\n"
	if !strings.HasSuffix(msg, "\n"+want) { // after the log line that ONNX Runtime loaded
		t.Errorf("stderr %q, want it to end with %q", msg, want)
	}
}
