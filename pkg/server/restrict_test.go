package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tsserve/ts/pkg/api/grpc/inferencepb"
	"github.com/tsserve/ts/pkg/api/grpc/managementpb"
	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// TestAPIGroups: every route of the three REST APIs, with the API group a restriction of it
// names (testdata/golden/api_groups.txt), and every gRPC method in a group.
func TestAPIGroups(t *testing.T) {
	ts := emptyServer(t, map[string]string{"disable_token_authorization": "false", "key_file": filepath.Join(t.TempDir(), "key_file.json"),
		"enable_shared_memory": "true"})
	var b strings.Builder
	for _, api := range []struct {
		name   string
		routes func() *router
	}{{Inference, ts.srv.inferenceRoutes}, {Management, ts.srv.managementRoutes}, {Metrics, ts.srv.metricsRoutes}} {
		rt := api.routes()
		for _, p := range rt.patterns {
			group := apiGroup(p)
			if api.name == Metrics {
				group = "" // the metrics API is never restricted
			}
			fmt.Fprintf(&b, "%-10s %-60s %s\n", api.name, p, group)
		}
	}
	golden(t, "api_groups.txt", []byte(b.String())) // -update rewrites it: read its diff

	for _, api := range []string{GRPCInference, GRPCManagement} {
		gs, err := ts.srv.grpcServer(api)
		if err != nil {
			t.Fatal(err)
		}
		for service, info := range gs.GetServiceInfo() {
			if strings.HasPrefix(service, "grpc.reflection.") {
				continue
			}
			for _, m := range info.Methods {
				full := "/" + service + "/" + m.Name
				if g := grpcGroups[full]; !slices.Contains(config.APIGroups, g) {
					t.Errorf("gRPC method %s is in no API group", full)
				}
			}
		}
	}
}

// TestRestrictedAPIs follows Triton's --http-restricted-api and --grpc-restricted-protocol:
// a restricted group's routes answer 403 (gRPC: UNAVAILABLE) with Triton's message unless
// the request carries the header with its value; other groups, the metrics API and the
// other protocol are not restricted by them.
func TestRestrictedAPIs(t *testing.T) {
	ts := emptyServer(t, map[string]string{
		"http_restricted_api":      "model-repository,model-config:admin-key=s3cret;inference:infer-key=k",
		"grpc_restricted_protocol": "health,model-repository:admin=g",
	})
	inf, mgmt := ts.inference.URL, ts.management.URL
	setosa, _ := os.ReadFile(testenv.Path("samples/iris/setosa.json"))
	admin, wrong, infer := []string{"admin-key", "s3cret"}, []string{"admin-key", "s3cre"}, []string{"infer-key", "k"}
	for _, c := range []struct {
		name, method, url string
		body              []byte
		header            []string
		code              int
		want              string
	}{
		{"register, no header", "POST", mgmt + "/models?url=iris.mar&synchronous=true&initial_workers=1", nil, nil, 403, `"message": "This API is restricted, expecting header 'admin-key'"`},
		{"register, wrong value", "POST", mgmt + "/models?url=iris.mar&synchronous=true&initial_workers=1", nil, wrong, 403, `"type": "ForbiddenException"`},
		{"register, another group's header", "POST", mgmt + "/models?url=iris.mar&synchronous=true&initial_workers=1", nil, infer, 403, `expecting header 'admin-key'`},
		{"register", "POST", mgmt + "/models?url=iris.mar&synchronous=true&initial_workers=1", nil, admin, 200, `registered`},
		{"scale, no header", "PUT", mgmt + "/models/iris?min_worker=2", nil, nil, 403, `expecting header 'admin-key'`},
		{"list: metadata", "GET", mgmt + "/models", nil, nil, 200, `"modelName": "iris"`},
		{"describe: metadata", "GET", mgmt + "/models/iris", nil, nil, 200, `"modelName": "iris"`},
		{"ping: health", "GET", inf + "/ping", nil, nil, 200, `Healthy`},
		{"v2 ready: health", "GET", inf + "/v2/health/ready", nil, nil, 200, ``},
		{"v2 metadata", "GET", inf + "/v2/models/iris", nil, nil, 200, `"name": "iris"`},
		{"v2 config, no header", "GET", inf + "/v2/models/iris/config", nil, nil, 403, `"error": "This API is restricted, expecting header 'admin-key'"`},
		{"v2 config", "GET", inf + "/v2/models/iris/config", nil, admin, 200, `"name": "iris"`},
		{"v2 index, no header", "POST", inf + "/v2/repository/index", nil, nil, 403, `"error": "This API is restricted`},
		{"v2 index", "POST", inf + "/v2/repository/index", nil, admin, 200, `"iris"`},
		{"v2 stats: statistics", "GET", inf + "/v2/models/stats", nil, nil, 200, `"model_stats"`},
		{"predict, no header", "POST", inf + "/predictions/iris", setosa, nil, 403, `expecting header 'infer-key'`},
		{"predict, admin header", "POST", inf + "/predictions/iris", setosa, admin, 403, `expecting header 'infer-key'`},
		{"predict", "POST", inf + "/predictions/iris", setosa, infer, 200, `"probabilities"`},
		{"legacy predict, no header", "POST", inf + "/iris/predict", setosa, nil, 403, `expecting header 'infer-key'`},
		{"legacy predict", "POST", inf + "/iris/predict", setosa, infer, 200, `"probabilities"`},
		{"v2 infer, no header", "POST", inf + "/v2/models/iris/infer", []byte(`{"inputs":[]}`), nil, 403, `expecting header 'infer-key'`},
		{"kserve v1 predict, no header", "POST", inf + "/v1/models/iris:predict", []byte(`{"instances":[]}`), nil, 403, `expecting header 'infer-key'`},
		{"unknown path: still 404", "GET", inf + "/nowhere", nil, nil, 404, `ResourceNotFoundException`},
		{"metrics: never restricted", "GET", ts.metrics.URL + "/metrics", nil, nil, 200, `ts_inference_requests_total`},
	} {
		code, body, _, err := send(c.method, c.url, c.body, c.header...)
		if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: %d %s, want %d with %s", c.name, code, body, c.code, c.want)
		}
	}

	// gRPC: its own rules and header (triton-grpc-protocol-<key>); the HTTP API's rules do
	// not apply to calls that run through its routes
	ctx := context.Background()
	conn := grpcDial(t, ts, GRPCInference)
	withKey := metadata.AppendToOutgoingContext(ctx, "triton-grpc-protocol-admin", "g")
	refused := func(what string, err error) {
		t.Helper()
		if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "This protocol is restricted, expecting header 'triton-grpc-protocol-admin'" {
			t.Errorf("%s: %v, want UNAVAILABLE with Triton's message", what, err)
		}
	}
	health := healthgrpc.NewHealthClient(conn)
	_, err := health.Check(ctx, &healthgrpc.HealthCheckRequest{})
	refused("health check, no metadata", err)
	_, err = health.Check(metadata.AppendToOutgoingContext(ctx, "triton-grpc-protocol-admin", "x"), &healthgrpc.HealthCheckRequest{})
	refused("health check, wrong value", err)
	if res, err := health.Check(withKey, &healthgrpc.HealthCheckRequest{}); err != nil || res.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
		t.Errorf("health check with the metadata: %v %v", res, err)
	}
	oip := oippb.NewGRPCInferenceServiceClient(conn)
	_, err = oip.ServerLive(ctx, &oippb.ServerLiveRequest{})
	refused("ServerLive", err)
	_, err = inferencepb.NewInferenceAPIsServiceClient(conn).Ping(ctx, nil)
	refused("TorchServe's Ping", err)
	_, err = oip.RepositoryIndex(ctx, &oippb.RepositoryIndexRequest{})
	refused("RepositoryIndex", err)
	if idx, err := oip.RepositoryIndex(withKey, &oippb.RepositoryIndexRequest{}); err != nil || len(idx.GetModels()) == 0 {
		t.Errorf("RepositoryIndex with the metadata (the HTTP route's header not asked): %v %v", idx, err)
	}
	// inference is restricted over HTTP only
	if pred, err := inferencepb.NewInferenceAPIsServiceClient(conn).Predictions(ctx, &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": setosa}}); err != nil || !strings.Contains(string(pred.GetPrediction()), "probabilities") {
		t.Errorf("Predictions over gRPC: %v %v", pred, err)
	}
	if cfg, err := oip.ModelConfig(ctx, &oippb.ModelConfigRequest{Name: "iris"}); err != nil || cfg.GetConfig().GetName() != "iris" {
		t.Errorf("ModelConfig over gRPC: %v %v", cfg, err)
	}
	stream, err := inferencepb.NewInferenceAPIsServiceClient(conn).StreamPredictions(ctx, &inferencepb.PredictionsRequest{ModelName: "iris", Input: map[string][]byte{"data": setosa}})
	if err == nil {
		_, err = stream.Recv()
	}
	if err != nil {
		t.Errorf("StreamPredictions over gRPC: %v", err)
	}
	mgmtConn := managementpb.NewManagementAPIsServiceClient(grpcDial(t, ts, GRPCManagement))
	_, err = mgmtConn.UnregisterModel(ctx, &managementpb.UnregisterModelRequest{ModelName: "iris"})
	refused("UnregisterModel", err)
	if _, err := mgmtConn.ListModels(ctx, &managementpb.ListModelsRequest{}); err != nil {
		t.Errorf("ListModels (metadata, not restricted): %v", err)
	}
}
