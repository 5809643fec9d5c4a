// Package server serves the HTTP APIs: inference (TorchServe's :8080) and management
// (:8081). Every error leaves through one function as TorchServe's JSON shape.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/registry"
)

// Options configure the APIs.
type Options struct {
	// MaxRequestSize caps request bodies in bytes (TorchServe's max_request_size).
	MaxRequestSize int64
	Logger         *slog.Logger
}

// Server answers the inference and management APIs for a registry.
type Server struct {
	reg  *registry.Registry
	opts Options
	log  *slog.Logger
}

// New creates a server for reg.
func New(reg *registry.Registry, o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxRequestSize <= 0 {
		o.MaxRequestSize = 6_553_500
	}
	return &Server{reg: reg, opts: o, log: o.Logger}
}

// apiFunc is a route: it writes a successful response itself or returns an error.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// router wraps a ServeMux so that unknown paths and wrong methods answer TorchServe's JSON
// errors, and every response carries TorchServe's headers.
type router struct {
	mux *http.ServeMux
	s   *Server
	api string
}

func (s *Server) newRouter(api string) *router {
	return &router{mux: http.NewServeMux(), s: s, api: api}
}

func (rt *router) handle(pattern string, fn apiFunc) {
	rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			rt.s.writeError(w, r, err)
		}
	})
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("x-request-id", uuid.NewString())
	h.Set("Pragma", "no-cache")
	h.Set("Cache-Control", "no-cache; no-store, must-revalidate, private")
	h.Set("Expires", "Thu, 01 Jan 1970 00:00:00 UTC")
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	if _, pattern := rt.mux.Handler(r); pattern == "" {
		// Unknown path or wrong method: ask the mux which, answer in JSON.
		probe := &statusWriter{ResponseWriter: discardWriter{header: http.Header{}}}
		rt.mux.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			rt.s.writeError(sw, r, apierror.MethodNotAllowed())
		} else {
			rt.s.writeError(sw, r, apierror.ResourceNotFound())
		}
	} else {
		rt.mux.ServeHTTP(sw, r)
	}
	rt.s.log.Debug("access", "api", rt.api, "remote", r.RemoteAddr, "method", r.Method, "uri", r.RequestURI,
		"status", sw.status, "ms", time.Since(start).Milliseconds())
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// writeJSON writes v pretty-printed, as TorchServe's Gson does.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeError is the one place errors become responses: {"code","type","message"} with the
// matching status. Client mistakes keep their 4xx; anything unexpected is a 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *apierror.Error
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &tooBig):
		e = apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeTooLarge, "request body is larger than max_request_size (%d bytes)", tooBig.Limit)
	case errors.Is(err, context.DeadlineExceeded):
		e = apierror.New(http.StatusGatewayTimeout, apierror.TypeRequestTimeout, "request timed out")
	case errors.Is(err, context.Canceled):
		e = apierror.New(499, apierror.TypeRequestTimeout, "request cancelled by the client")
	default:
		e = apierror.Internal("%s", err.Error())
		s.log.Error("request failed", "method", r.Method, "uri", r.RequestURI, "err", err)
	}
	if e.Code >= 400 {
		// TorchServe closes the connection on errors; a client that sent a body we did not
		// read would otherwise see its next request misparsed.
		w.Header().Set("Connection", "close")
	}
	if werr := writeJSON(w, e.Code, e); werr != nil {
		s.log.Debug("write error response", "err", werr)
	}
}

// Listener is one API to serve on one address.
type Listener struct {
	API     string // "inference" or "management"
	Address string // TorchServe style: http://host:port, or host:port
}

// Bind opens a listener for a TorchServe-style address (http://127.0.0.1:8080).
func Bind(address string) (net.Listener, error) {
	addr := address
	if rest, ok := strings.CutPrefix(addr, "http://"); ok {
		addr = rest
	} else if strings.HasPrefix(addr, "https://") {
		return nil, fmt.Errorf("address %s: TLS is not supported yet", address)
	}
	addr = strings.TrimSuffix(addr, "/")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", address, err)
	}
	return ln, nil
}

// Handler returns the http.Handler of an API.
func (s *Server) Handler(api string) (http.Handler, error) {
	switch api {
	case "inference":
		return s.inferenceRoutes(), nil
	case "management":
		return s.managementRoutes(), nil
	}
	return nil, fmt.Errorf("unknown API %q", api)
}

// Serve serves each API on its listener until ctx is done, then stops accepting and
// drains requests in flight for up to drain.
func (s *Server) Serve(ctx context.Context, listeners map[string]net.Listener, drain time.Duration) error {
	var servers []*http.Server
	errc := make(chan error, len(listeners))
	for api, ln := range listeners {
		h, err := s.Handler(api)
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
		servers = append(servers, hs)
		s.log.Info("listening", "api", api, "address", "http://"+ln.Addr().String())
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s API: %w", api, err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutdown, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	var wg sync.WaitGroup
	for _, hs := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if serr := hs.Shutdown(shutdown); serr != nil {
				hs.Close()
			}
		}()
	}
	wg.Wait()
	return err
}
