package server

import (
	"context"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// grpcHealth is gRPC's standard health service (grpc.health.v1.Health) on each gRPC port,
// which Kubernetes' gRPC probes, grpc-health-probe and gRPC clients' health checking ask.
// The inference port is SERVING while GET /ping answers 200 (Healthy or Partial Healthy) and
// NOT_SERVING when /ping says Unhealthy (no model ready, or the server stopping); the
// management port is SERVING until the server stops. It answers for the whole port ("") and
// for each of the port's services by name; it needs no API key, as a probe sends none.
type grpcHealth struct {
	healthgrpc.UnimplementedHealthServer
	s *Server
	// models: the port's status follows the models' (the inference port)
	models   bool
	services []string
}

// healthPoll is how often Watch looks at the status again.
const healthPoll = time.Second

// newGRPCHealth is the health service of a gRPC server whose services (but the health and
// reflection services) gs lists.
func (s *Server) newGRPCHealth(gs *grpc.Server, models bool) *grpcHealth {
	h := &grpcHealth{s: s, models: models}
	for name := range gs.GetServiceInfo() {
		h.services = append(h.services, name)
	}
	return h
}

// status is the port's status for service ("": the whole port).
func (h *grpcHealth) status(service string) healthgrpc.HealthCheckResponse_ServingStatus {
	switch {
	case service != "" && !slices.Contains(h.services, service):
		return healthgrpc.HealthCheckResponse_SERVICE_UNKNOWN
	case h.s.draining.Load(), h.models && h.s.reg.Health() == "Unhealthy":
		return healthgrpc.HealthCheckResponse_NOT_SERVING
	}
	return healthgrpc.HealthCheckResponse_SERVING
}

// Check answers the status now; a service the port does not serve is NOT_FOUND, as the
// protocol asks.
func (h *grpcHealth) Check(_ context.Context, in *healthgrpc.HealthCheckRequest) (*healthgrpc.HealthCheckResponse, error) {
	st := h.status(in.GetService())
	if st == healthgrpc.HealthCheckResponse_SERVICE_UNKNOWN {
		return nil, status.Errorf(codes.NotFound, "unknown service %q", in.GetService())
	}
	return &healthgrpc.HealthCheckResponse{Status: st}, nil
}

// Watch sends the status, then each change of it, until the client goes or the server
// stops (its last status then NOT_SERVING), so that watches do not hold up a graceful stop.
func (h *grpcHealth) Watch(in *healthgrpc.HealthCheckRequest, stream grpc.ServerStreamingServer[healthgrpc.HealthCheckResponse]) error {
	last := healthgrpc.HealthCheckResponse_ServingStatus(-1)
	for {
		st := h.status(in.GetService())
		if st != last {
			if err := stream.Send(&healthgrpc.HealthCheckResponse{Status: st}); err != nil {
				return err
			}
			last = st
		}
		if h.s.draining.Load() {
			return nil
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-time.After(healthPoll):
		}
	}
}
