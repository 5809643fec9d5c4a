package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/sharedmem"
)

// Triton's shared memory extension, on the inference port: clients on this machine register
// regions of POSIX shared memory objects, then name them in inference requests (the input
// and output parameters shared_memory_region, shared_memory_byte_size and
// shared_memory_offset) instead of sending tensors. Off unless enable_shared_memory: a
// region can hold any shared memory object of the server's user. CUDA shared memory needs
// a GPU build of Triton's client libraries: its status is empty and registering fails.

func (s *Server) sharedMemoryRoutes(rt *router) {
	rt.handle("GET /v2/systemsharedmemory/status", s.shmStatus)
	rt.handle("GET /v2/systemsharedmemory/region/{region}/status", s.shmStatus)
	rt.handle("POST /v2/systemsharedmemory/region/{region}/register", s.shmRegister)
	rt.handle("POST /v2/systemsharedmemory/unregister", s.shmUnregister)
	rt.handle("POST /v2/systemsharedmemory/region/{region}/unregister", s.shmUnregister)
	rt.handle("GET /v2/cudasharedmemory/status", func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, http.StatusOK, []any{})
	})
	rt.handle("GET /v2/cudasharedmemory/region/{region}/status", func(w http.ResponseWriter, r *http.Request) error {
		return apierror.BadRequest("no CUDA shared memory region %q is registered", r.PathValue("region"))
	})
	rt.handle("POST /v2/cudasharedmemory/region/{region}/register", func(w http.ResponseWriter, r *http.Request) error {
		return apierror.BadRequest("CUDA shared memory is not supported by ts: use system shared memory (/v2/systemsharedmemory)")
	})
	rt.handle("POST /v2/cudasharedmemory/unregister", func(w http.ResponseWriter, r *http.Request) error { return writeEmpty(w) })
	rt.handle("POST /v2/cudasharedmemory/region/{region}/unregister", func(w http.ResponseWriter, r *http.Request) error {
		return apierror.BadRequest("no CUDA shared memory region %q is registered", r.PathValue("region"))
	})
}

// regions are the registered system shared memory regions, or an error when the extension
// is off.
func (s *Server) regions() (*sharedmem.Regions, error) {
	if s.shm == nil {
		return nil, apierror.BadRequest("system shared memory is off: start ts serve with --shared-memory (enable_shared_memory=true)")
	}
	return s.shm, nil
}

// sharedMemory is what inference requests read and write their regions through; nil (no
// region may be named) when the extension is off.
func (s *Server) sharedMemory() handler.SharedMemory {
	if s.shm == nil {
		return nil
	}
	return s.shm
}

// shmError answers a client's mistake (an unknown region, a bad key or range) with 400.
func shmError(err error) error {
	var e *sharedmem.Error
	if errors.As(err, &e) {
		return apierror.BadRequest("%v", err)
	}
	return err
}

func (s *Server) shmStatus(w http.ResponseWriter, r *http.Request) error {
	regions, err := s.regions()
	if err != nil {
		return err
	}
	status, err := regions.Status(r.PathValue("region"))
	if err != nil {
		return shmError(err)
	}
	return writeJSON(w, http.StatusOK, status)
}

func (s *Server) shmRegister(w http.ResponseWriter, r *http.Request) error {
	regions, err := s.regions()
	if err != nil {
		return err
	}
	var body struct {
		Key      *string `json:"key"`
		Offset   int64   `json:"offset"`
		ByteSize *int64  `json:"byte_size"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return apierror.BadRequest(`register a region with {"key": "/name", "offset": 0, "byte_size": N}: %v`, err)
	}
	if body.Key == nil || body.ByteSize == nil {
		return apierror.BadRequest(`register a region with {"key": "/name", "offset": 0, "byte_size": N}: "key" and "byte_size" are required`)
	}
	if err := regions.Register(r.PathValue("region"), *body.Key, body.Offset, *body.ByteSize); err != nil {
		return shmError(err)
	}
	s.log.Info("shared memory region registered", "region", r.PathValue("region"), "key", *body.Key, "offset", body.Offset, "byte_size", *body.ByteSize)
	return writeEmpty(w)
}

func (s *Server) shmUnregister(w http.ResponseWriter, r *http.Request) error {
	regions, err := s.regions()
	if err != nil {
		return err
	}
	if err := regions.Unregister(r.PathValue("region")); err != nil {
		return shmError(err)
	}
	return writeEmpty(w)
}

// writeEmpty answers 200 with no body, as Triton's shared memory calls do.
func writeEmpty(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusOK)
	return nil
}
