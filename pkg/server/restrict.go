package server

import (
	"context"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tsserve/ts/pkg/api/grpc/inferencepb"
	"github.com/tsserve/ts/pkg/api/grpc/managementpb"
	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/config"
)

// Triton's restricted APIs (http_restricted_api, grpc_restricted_protocol): the routes of a
// restricted API group answer only requests that carry the group's header with its value,
// else 403 (over gRPC: UNAVAILABLE), with Triton's message. Each route belongs to the group
// Triton gives its path; TorchServe's routes join the group of their Triton equivalent
// (apiGroup), so that a restriction cannot be gone round through the other API. The metrics
// API and /token (which checks its own key) belong to none.

// apiGroup is the API group (config.APIGroups) of a REST route, by its pattern; "" for none.
func apiGroup(pattern string) string {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	last := path[strings.LastIndex(path, "/")+1:]
	switch {
	case path == "/token":
		return ""
	case path == "/ping", strings.HasPrefix(path, "/v2/health/"), last == "ready",
		method == http.MethodGet && strings.HasPrefix(path, "/v1/models/"): // KServe v1's readiness
		return "health"
	case strings.Contains(path, "sharedmemory/"):
		return "shared-memory"
	case strings.HasPrefix(path, "/v2/repository/"):
		return "model-repository"
	case strings.HasPrefix(path, "/v2/") && last == "config":
		return "model-config"
	case strings.HasPrefix(path, "/v2/") && last == "stats":
		return "statistics"
	case strings.HasSuffix(path, "/trace/setting"):
		return "trace"
	case path == "/v2/logging":
		return "logging"
	case strings.HasPrefix(path, "/predictions/"), strings.HasPrefix(path, "/explanations/"),
		strings.HasPrefix(path, "/wfpredict/"), path == "/invocations", last == "invoke",
		strings.HasPrefix(path, "/v1/models/"), // POST: KServe v1's predict and explain
		strings.HasPrefix(path, "/v2/") && (last == "infer" || last == "explain" || strings.HasPrefix(last, "generate")):
		return "inference"
	case strings.HasPrefix(path, "/models"), strings.HasPrefix(path, "/workflows"):
		if method == http.MethodGet {
			return "metadata" // TorchServe's list and describe
		}
		return "model-repository" // register, unregister, scale, set-default, split
	}
	return "metadata" // the server's and models' metadata, the API descriptions, KServe v1's list
}

// viaGRPC marks a REST request made for a gRPC call (serveREST), which the gRPC API's own
// restrictions (restrictGRPC) have let through.
type viaGRPC struct{}

// restricted wraps a route of a restricted API group: a request without the header and
// value of r is refused, as Triton's.
func restricted(r config.Restriction, fn apiFunc) apiFunc {
	return func(w http.ResponseWriter, req *http.Request) error {
		if req.Context().Value(viaGRPC{}) == nil && req.Header.Get(r.Header) != r.Value {
			return apierror.New(http.StatusForbidden, apierror.TypeForbidden, "This API is restricted, expecting header '%s'", r.Header)
		}
		return fn(w, req)
	}
}

// grpcGroups are the API groups of the gRPC methods (the reflection service's are in none).
var grpcGroups = map[string]string{
	inferencepb.InferenceAPIsService_Ping_FullMethodName:                   "health",
	inferencepb.InferenceAPIsService_Predictions_FullMethodName:            "inference",
	inferencepb.InferenceAPIsService_StreamPredictions_FullMethodName:      "inference",
	inferencepb.InferenceAPIsService_StreamPredictions2_FullMethodName:     "inference",
	managementpb.ManagementAPIsService_DescribeModel_FullMethodName:        "metadata",
	managementpb.ManagementAPIsService_ListModels_FullMethodName:           "metadata",
	managementpb.ManagementAPIsService_RegisterModel_FullMethodName:        "model-repository",
	managementpb.ManagementAPIsService_ScaleWorker_FullMethodName:          "model-repository",
	managementpb.ManagementAPIsService_SetDefault_FullMethodName:           "model-repository",
	managementpb.ManagementAPIsService_UnregisterModel_FullMethodName:      "model-repository",
	oippb.GRPCInferenceService_ServerLive_FullMethodName:                   "health",
	oippb.GRPCInferenceService_ServerReady_FullMethodName:                  "health",
	oippb.GRPCInferenceService_ModelReady_FullMethodName:                   "health",
	oippb.GRPCInferenceService_ServerMetadata_FullMethodName:               "metadata",
	oippb.GRPCInferenceService_ModelMetadata_FullMethodName:                "metadata",
	oippb.GRPCInferenceService_ModelInfer_FullMethodName:                   "inference",
	oippb.GRPCInferenceService_ModelStreamInfer_FullMethodName:             "inference",
	oippb.GRPCInferenceService_ModelConfig_FullMethodName:                  "model-config",
	oippb.GRPCInferenceService_ModelStatistics_FullMethodName:              "statistics",
	oippb.GRPCInferenceService_RepositoryIndex_FullMethodName:              "model-repository",
	oippb.GRPCInferenceService_RepositoryModelLoad_FullMethodName:          "model-repository",
	oippb.GRPCInferenceService_RepositoryModelUnload_FullMethodName:        "model-repository",
	oippb.GRPCInferenceService_SystemSharedMemoryStatus_FullMethodName:     "shared-memory",
	oippb.GRPCInferenceService_SystemSharedMemoryRegister_FullMethodName:   "shared-memory",
	oippb.GRPCInferenceService_SystemSharedMemoryUnregister_FullMethodName: "shared-memory",
	oippb.GRPCInferenceService_CudaSharedMemoryStatus_FullMethodName:       "shared-memory",
	oippb.GRPCInferenceService_CudaSharedMemoryRegister_FullMethodName:     "shared-memory",
	oippb.GRPCInferenceService_CudaSharedMemoryUnregister_FullMethodName:   "shared-memory",
	oippb.GRPCInferenceService_LogSettings_FullMethodName:                  "logging",
	oippb.GRPCInferenceService_TraceSetting_FullMethodName:                 "trace",
	healthgrpc.Health_Check_FullMethodName:                                 "health", // as Triton's health group
	healthgrpc.Health_Watch_FullMethodName:                                 "health",
	healthgrpc.Health_List_FullMethodName:                                  "health",
}

// restrictGRPC are the gRPC server's options that refuse calls of restricted groups without
// their metadata, as Triton's: UNAVAILABLE.
func restrictGRPC(rs config.Restrictions) []grpc.ServerOption {
	if len(rs) == 0 {
		return nil
	}
	check := func(ctx context.Context, method string) error {
		if r, ok := rs[grpcGroups[method]]; ok {
			md, _ := metadata.FromIncomingContext(ctx)
			if got := md.Get(r.Header); len(got) == 0 || got[0] != r.Value {
				return status.Errorf(codes.Unavailable, "This protocol is restricted, expecting header '%s'", r.Header)
			}
		}
		return nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			if err := check(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return next(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
			if err := check(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return next(srv, ss)
		}),
	}
}
