// Package server serves the HTTP APIs: inference (TorchServe's :8080), management (:8081)
// and metrics (:8082). Every error leaves through one function as TorchServe's JSON shape.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/metrics"
	"github.com/tsserve/ts/pkg/registry"
	"github.com/tsserve/ts/pkg/sharedmem"
	"github.com/tsserve/ts/pkg/trace"
)

// APIs a server answers (config's names).
const (
	Inference  = config.APIInference
	Management = config.APIManagement
	Metrics    = config.APIMetrics
)

// Options configure the APIs.
type Options struct {
	Settings *config.Settings
	Metrics  *metrics.Metrics // nil: no metrics
	Logger   *slog.Logger
	// LogLevel is Logger's level, which Triton's logging API changes (nil: it answers
	// that the level is fixed).
	LogLevel *slog.LevelVar
	// LogFormat is Logger's format, config.LogText or config.LogJSON ("": text), which
	// Triton's logging API reports.
	LogFormat string
	// Version is the server's version, for the Open Inference Protocol's GET /v2.
	Version string
	// TLS is the certificate for https:// addresses (TLSConfig's): the gRPC servers serve it
	// themselves (the REST listeners have it from Bind).
	TLS *tls.Config
	// Tracer samples requests for Triton's trace extension; the registry's should be the same
	// (nil: one from the settings, which the registry does not stamp).
	Tracer *trace.Tracer
}

// Server answers the APIs for a registry.
type Server struct {
	reg      *registry.Registry
	cfg      *config.Settings
	metrics  *metrics.Metrics
	log      *slog.Logger
	logLevel *slog.LevelVar
	// logFormat is the log's format as Triton's logging API names it: "default" (text) or "json"
	logFormat string
	version   string
	tls       *tls.Config
	tracer    *trace.Tracer

	active   atomic.Int64 // requests being answered
	draining atomic.Bool  // stopping: /ping answers Unhealthy

	auth    *tokenAuth // nil: token authorization off
	authErr error      // the key file could not be written

	wf workflows

	shm *sharedmem.Regions // nil: the shared memory extension is off

	// loadDirs are the folders of the files models were loaded from (Triton's file
	// override), by model name
	loadDirs    map[string]string
	loadDirsMu  sync.Mutex
	loadFilesMu sync.Mutex // held while files load
}

// Request ids come from a pool of random bytes, not a read per request. EnableRandPool must
// not race with NewString, so it runs once, before any server exists.
func init() { uuid.EnableRandPool() }

// New creates a server for reg.
func New(reg *registry.Registry, o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Settings == nil {
		o.Settings, _ = config.Load(config.Inputs{})
	}
	s := &Server{reg: reg, cfg: o.Settings, metrics: o.Metrics, log: o.Logger, logLevel: o.LogLevel, logFormat: tritonLogFormat(o.LogFormat), version: o.Version, tls: o.TLS, tracer: o.Tracer}
	if s.tracer == nil {
		s.tracer = trace.New(o.Settings.Trace, o.Logger)
	}
	if s.cfg.TokenAuthorization {
		s.auth, s.authErr = newTokenAuth(s.cfg.KeyFile, s.cfg.TokenExpiration)
	}
	if s.cfg.EnableSharedMemory {
		s.shm = sharedmem.New(sharedmem.Dir)
	}
	if s.metrics != nil {
		s.metrics.WatchVersions(s.versionStates)
		if c := reg.ResponseCache(); c != nil {
			s.metrics.WatchCache(c.Stats)
		}
	}
	return s
}

// versionStates feeds the per-version gauges of the metrics API.
func (s *Server) versionStates() []metrics.VersionState {
	var out []metrics.VersionState
	for _, e := range s.reg.List() {
		for _, v := range e.Versions {
			info := v.Info()
			ready := 0
			var names []string
			for _, w := range info.Workers {
				if w.State == batch.StateReady {
					ready++
				}
				names = append(names, fmt.Sprintf("W-%s-%s_%s", workerID(w.ID), v.Name, v.Version))
			}
			out = append(out, metrics.VersionState{Model: v.Name, Version: v.Version, Pending: info.Queue.Pending,
				Workers: len(info.Workers), ReadyWorkers: ready, ArrivalRate: info.Queue.ArrivalRate,
				WorkerNames: names, LoadTime: info.LoadTime,
				BatchDelay:   time.Duration(info.Queue.LastDelayMS * float64(time.Millisecond)),
				Batching:     info.Unbatchable == "" && info.Settings.BatchSize > 1 && !info.Queue.SendsAlone,
				BatchSpeedup: info.Queue.BatchSpeedup, Cached: info.Cached})
			if info.Cached {
				st := v.Statistics()
				out[len(out)-1].CacheHits, out[len(out)-1].CacheMisses = st.CacheHit.Count, st.CacheMiss.Count
			}
			if info.Processes != nil { // a custom handler's
				n := len(info.Processes)
				out[len(out)-1].HandlerProcesses = &n
				for _, p := range info.Processes {
					out[len(out)-1].HandlerMemory += residentMemory(p.PID)
				}
			}
		}
	}
	return out
}

// apiFunc is a route: it writes a successful response itself or returns an error.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// router wraps a ServeMux so that unknown paths and wrong methods answer TorchServe's JSON
// errors, and every response carries TorchServe's headers (and CORS headers when set).
// A catch-all route answers what no route takes: 405 when the path exists with another
// method, else 404; so a request costs one lookup in the mux.
type router struct {
	mux     *http.ServeMux
	s       *Server
	api     string
	headers http.Header // set on every response
	// fallback, when set, may take a request no pattern matched (nil: it does not).
	fallback func(*http.Request) apiFunc
	// patterns are the routes' patterns, in the order handled.
	patterns []string
}

func (s *Server) newRouter(api string) *router {
	rt := &router{mux: http.NewServeMux(), s: s, api: api}
	rt.headers = http.Header{
		"Pragma":        {"no-cache"},
		"Cache-Control": {"no-cache; no-store, must-revalidate, private"},
		"Expires":       {"Thu, 01 Jan 1970 00:00:00 UTC"},
	}
	if c := s.cfg; c.CORSAllowedOrigin != "" {
		rt.headers.Set("Access-Control-Allow-Origin", c.CORSAllowedOrigin)
		if c.CORSAllowedMethods != "" {
			rt.headers.Set("Access-Control-Allow-Methods", c.CORSAllowedMethods)
		}
		if c.CORSAllowedHeaders != "" {
			rt.headers.Set("Access-Control-Allow-Headers", c.CORSAllowedHeaders)
		}
	}
	rt.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if rt.fallback != nil {
			if fn := rt.fallback(r); fn != nil {
				if err := fn(w, r); err != nil {
					s.writeError(w, r, err)
				}
				return
			}
		}
		if rt.hasPath(r) {
			s.writeError(w, r, apierror.MethodNotAllowed())
			return
		}
		s.writeError(w, r, apierror.ResourceNotFound())
	})
	return rt
}

func (rt *router) handle(pattern string, fn apiFunc) {
	rt.patterns = append(rt.patterns, pattern)
	fn = rt.restrict(apiGroup(pattern), fn)
	rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			rt.s.writeError(w, r, err)
		}
	})
}

// restrict guards a route of API group group when http_restricted_api restricts it (the
// metrics API's routes are in none).
func (rt *router) restrict(group string, fn apiFunc) apiFunc {
	if r, ok := rt.s.cfg.RestrictedHTTP[group]; ok && rt.api != Metrics {
		return restricted(r, fn)
	}
	return fn
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range rt.headers {
		h[k] = v
	}
	h["X-Request-Id"] = []string{uuid.NewString()}
	start := time.Now()
	rt.s.active.Add(1)
	defer rt.s.active.Add(-1)
	sw := &statusWriter{ResponseWriter: w}
	if err := rt.s.authorize(rt.api, r); err != nil {
		rt.s.writeError(sw, r, err)
	} else {
		rt.serve(sw, r)
	}
	if rt.s.metrics != nil {
		rt.s.metrics.Status(rt.api, sw.status)
	}
	if rt.s.log.Enabled(r.Context(), slog.LevelDebug) {
		rt.s.log.Debug("access", "api", rt.api, "remote", r.RemoteAddr, "method", r.Method, "uri", r.RequestURI,
			"status", sw.status, "ms", time.Since(start).Milliseconds())
	}
}

// serve runs the request's route. A panic there (a bug, or a library's on odd input) is
// logged with its stack and answers a 500, and the server goes on; net/http alone would drop
// the connection with no answer.
func (rt *router) serve(w *statusWriter, r *http.Request) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			panic(p)
		}
		rt.s.log.Error("panic serving a request", "api", rt.api, "method", r.Method, "uri", r.RequestURI, "panic", p, "stack", string(debug.Stack()))
		if w.status == 0 {
			rt.s.writeError(w, r, apierror.New(http.StatusInternalServerError, apierror.TypeInternal, "Internal error while serving %s %s: %v", r.Method, r.URL.Path, p))
		}
	}()
	rt.mux.ServeHTTP(w, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader sends the status once: after a streamed answer's first part, the status and
// headers are on their way, and a later call (an error's) only writes its body.
func (w *statusWriter) WriteHeader(code int) {
	if code < 200 { // informational (103 Early Hints): more may follow
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.status != 0 {
		return
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

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

// statusJSON is TorchServe's {"status": "..."} answer.
func statusJSON(w http.ResponseWriter, code int, format string, args ...any) error {
	return writeJSON(w, code, map[string]string{"status": fmt.Sprintf(format, args...)})
}

// errorOf maps any error to the API error it is answered with. Client mistakes keep their
// 4xx; anything unexpected is a 500.
func errorOf(err error) *apierror.Error {
	var e *apierror.Error
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &tooBig):
		return apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeTooLarge, "request body is larger than max_request_size (%d bytes)", tooBig.Limit)
	case errors.Is(err, context.DeadlineExceeded):
		return apierror.New(http.StatusRequestTimeout, apierror.TypeRequestTimeout, "request timed out")
	case errors.Is(err, context.Canceled):
		return apierror.New(499, apierror.TypeRequestTimeout, "request cancelled by the client")
	}
	return apierror.Internal("%s", err.Error())
}

// writeError is the one place errors become responses: {"code","type","message"} with the
// matching status.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := errorOf(err)
	switch {
	case e.Type == apierror.TypeServiceUnavailable, e.Type == apierror.TypeTooManyRequests:
		// no worker, queue full, unloading: the load's answers, counted by the metrics; at
		// Error they would flood the log just when the server is busiest
		s.log.Debug("request refused", "method", r.Method, "uri", r.RequestURI, "code", e.Code, "err", e.Message)
	case e.Code >= 500:
		s.log.Error("request failed", "method", r.Method, "uri", r.RequestURI, "code", e.Code, "err", e.Message)
	default: // the client's mistake, answered to it
		s.log.Debug("request rejected", "method", r.Method, "uri", r.RequestURI, "code", e.Code, "err", e.Message)
	}
	if e.Code >= 400 {
		// as TorchServe: close the connection after an error, so a body we did not read
		// cannot be taken for the next request
		w.Header().Set("Connection", "close")
	}
	if e.Code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1") // seconds: the queue moves as fast as the model runs
	}
	var body any = e
	if isV2(r) {
		// the Open Inference Protocol's clients read {"error": message}
		body = struct {
			*apierror.Error
			V2Message string `json:"error"`
		}{e, e.Message}
	}
	if werr := writeJSON(w, e.Code, body); werr != nil {
		s.log.Debug("write error response", "err", werr)
	}
}

// Bind opens a listener for a TorchServe-style address (http://127.0.0.1:8080, or
// unix:/path for a Unix domain socket); an https:// address serves TLS with tlsConfig (from
// TLSConfig).
func Bind(address string, tlsConfig *tls.Config) (net.Listener, error) {
	if sock := config.UnixSocket(address); sock != "" {
		removeStaleSocket(sock)
		ln, err := net.Listen("unix", sock)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", address, err)
		}
		return ln, nil
	}
	ln, err := net.Listen("tcp", config.HostPort(address))
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", address, err)
	}
	if config.IsTLS(address) {
		if tlsConfig == nil {
			ln.Close()
			return nil, fmt.Errorf("listen on %s: no certificate", address)
		}
		ln = tls.NewListener(ln, tlsConfig)
	}
	return ln, nil
}

// removeStaleSocket removes a socket file that no server answers on (left by a process that
// was killed); a socket in use, or any other file, is left for Listen to refuse.
func removeStaleSocket(path string) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return
	}
	os.Remove(path)
}

// Listen opens api's listener at address, as Bind does, but for a gRPC API a plain TCP
// one: gRPC's TLS is the gRPC server's own (it negotiates HTTP/2 by ALPN).
func Listen(api, address string, tlsConfig *tls.Config) (net.Listener, error) {
	if IsGRPC(api) {
		return Bind("http://"+config.HostPort(address), nil)
	}
	return Bind(address, tlsConfig)
}

// Handlers returns the http.Handler of APIs that share one address (TorchServe lets
// inference_address and management_address be the same, as KServe's configuration has
// them): a request goes to the first API, in the order given, that has a route for its
// path and method; one that none has gets the first API's 405 or 404 (the 405 of another
// API where only it has the path).
func (s *Server) Handlers(apis ...string) (http.Handler, error) {
	if len(apis) == 1 {
		return s.Handler(apis[0])
	}
	var routers []*router
	for _, api := range apis {
		h, err := s.Handler(api)
		if err != nil {
			return nil, err
		}
		rt, ok := h.(*router)
		if !ok {
			return nil, fmt.Errorf("%s API: not a router", api)
		}
		routers = append(routers, rt)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, rt := range routers {
			if _, pattern := rt.mux.Handler(r); pattern != "/" && pattern != "" {
				rt.ServeHTTP(w, r)
				return
			}
		}
		for _, rt := range routers {
			if rt.hasPath(r) {
				rt.ServeHTTP(w, r) // its 405
				return
			}
		}
		routers[0].ServeHTTP(w, r)
	}), nil
}

// hasPath reports whether a route takes the request's path with some method.
func (rt *router) hasPath(r *http.Request) bool {
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "OPTIONS"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := rt.mux.Handler(probe); pattern != "/" && pattern != "" {
			return true
		}
	}
	return false
}

// Handler returns the http.Handler of an API.
func (s *Server) Handler(api string) (http.Handler, error) {
	if s.authErr != nil {
		return nil, s.authErr
	}
	switch api {
	case Inference:
		return s.inferenceRoutes(), nil
	case Management:
		return s.managementRoutes(), nil
	case Metrics:
		return s.metricsRoutes(), nil
	}
	return nil, fmt.Errorf("unknown API %q", api)
}

// idleTimeout closes a keep-alive connection left idle that long, so that clients that open
// connections and leave them cannot pile up file descriptors and goroutines. It is longer than
// clients' own limits (Go's: 90 s), so that they close first.
var idleTimeout = 5 * time.Minute

// Serve serves each API on its listener until ctx is done, then stops accepting new
// connections and lets requests in flight finish for up to drain.
func (s *Server) Serve(ctx context.Context, listeners map[string]net.Listener, drain time.Duration) error {
	var servers []*http.Server
	var grpcServers []*grpc.Server
	errc := make(chan error, len(listeners))
	for protocol, rs := range map[string]config.Restrictions{"http": s.cfg.RestrictedHTTP, "grpc": s.cfg.RestrictedGRPC} {
		if len(rs) > 0 {
			s.log.Info("restricted API groups: requests need the header named", "protocol", protocol, "groups", rs.String())
		}
	}
	shared := map[net.Listener][]string{} // the HTTP APIs on each listener, in a fixed order
	for _, api := range []string{Inference, Management, Metrics} {
		if ln, ok := listeners[api]; ok {
			shared[ln] = append(shared[ln], api)
		}
	}
	for api, ln := range listeners {
		if !IsGRPC(api) && shared[ln][0] != api {
			continue // served with the first API on its listener
		}
		if IsGRPC(api) {
			gs, err := s.grpcServer(api)
			if err != nil {
				return err
			}
			grpcServers = append(grpcServers, gs)
			s.log.Info("listening", "api", api, "address", s.ListenAddress(api, ln))
			go func() {
				if err := gs.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
					errc <- fmt.Errorf("%s API: %w", api, err)
				}
			}()
			continue
		}
		h, err := s.Handlers(shared[ln]...)
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: idleTimeout, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
		servers = append(servers, hs)
		for _, each := range shared[ln] {
			s.log.Info("listening", "api", each, "address", s.ListenAddress(each, ln))
		}
		api := strings.Join(shared[ln], "+")
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s API: %w", api, err)
			}
		}()
	}
	if s.shm != nil {
		defer s.shm.Close()
	}
	if s.auth != nil {
		defer s.auth.remove()
		s.log.Info("token authorization on: send the keys of the key file as Authorization: Bearer <key>", "key_file", s.cfg.KeyFile)
	}
	var err error
	select {
	case <-ctx.Done():
		s.log.Info("stopping: finishing requests in flight", "drain_timeout", drain)
	case err = <-errc:
	}
	deadline := time.Now().Add(drain)
	s.waitQuiet(deadline)
	shutdown, cancel := context.WithDeadline(context.Background(), deadline)
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
	for _, gs := range grpcServers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stopped := make(chan struct{})
			go func() {
				gs.GracefulStop()
				close(stopped)
			}()
			select {
			case <-stopped:
			case <-shutdown.Done():
				gs.Stop()
			}
		}()
	}
	wg.Wait()
	return err
}

// ListenAddress is where an API listens, as the log says it: its scheme and the listener's
// address (the port chosen for port 0).
func (s *Server) ListenAddress(api string, ln net.Listener) string {
	switch {
	case config.IsTLS(s.cfg.Listeners()[api]):
		return "https://" + ln.Addr().String()
	case ln.Addr().Network() == "unix":
		return "unix:" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}

// grpcServer is a gRPC API's server, with TLS when its address is https:// (enable_grpc_ssl)
// and its connections' age bounded when grpc_*_max_connection_age_ms says so.
func (s *Server) grpcServer(api string) (*grpc.Server, error) {
	var opts []grpc.ServerOption
	settings := s.cfg.GRPCInference
	if api == GRPCManagement {
		settings = s.cfg.GRPCManagement
	}
	if settings.MaxConnectionAge > 0 {
		// a grace of 0 is gRPC's default: calls in flight may take as long as they take
		opts = append(opts, grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: settings.MaxConnectionAge,
			MaxConnectionAgeGrace: settings.MaxConnectionAgeGrace}))
	}
	if config.IsTLS(settings.Address) {
		if s.tls == nil {
			return nil, fmt.Errorf("%s API at %s: no certificate", api, settings.Address)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls)))
	}
	return s.newGRPCServer(api, opts...)
}

// quietPeriod is how long no request may be in flight before the listeners close: clients
// of a burst whose connections wait in the accept queue are still answered.
const quietPeriod = 200 * time.Millisecond

// waitQuiet marks the server as draining (/ping turns Unhealthy, so load balancers stop
// sending) and waits until no request has been in flight for quietPeriod, or the deadline.
func (s *Server) waitQuiet(deadline time.Time) {
	s.draining.Store(true)
	quietSince := time.Now()
	for time.Now().Before(deadline) {
		if s.active.Load() > 0 {
			quietSince = time.Now()
		} else if time.Since(quietSince) >= quietPeriod {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *Server) metricsRoutes() *router {
	rt := s.newRouter(Metrics)
	rt.handle("OPTIONS /{$}", s.apiDescription(Metrics))
	rt.handle("GET /api-description", s.apiDescription(Metrics))
	if s.metrics != nil {
		h := s.metrics.Handler()
		rt.handle("GET /metrics", func(w http.ResponseWriter, r *http.Request) error {
			h.ServeHTTP(w, r)
			return nil
		})
	}
	return rt
}
