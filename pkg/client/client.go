// Package client is a Go client of ts's REST APIs (and TorchServe's, which they follow):
// inference, management and metrics. The ts command line talks to servers only through it,
// and other programs can use it too.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tsserve/ts/pkg/api"
)

// Default ports, as TorchServe's.
const (
	InferencePort  = 8080
	ManagementPort = 8081
	MetricsPort    = 8082
)

// Client talks to one server.
type Client struct {
	Inference  *url.URL
	Management *url.URL
	Metrics    *url.URL
	// Tokens, when set, are sent as "Authorization: Bearer <token>" (TorchServe's key file
	// has one per API).
	InferenceToken  string
	ManagementToken string
	// Header is sent with every request (a restricted API's header, as Triton's
	// --http-restricted-api asks); a request's own headers win.
	Header    http.Header
	HTTP      *http.Client
	UserAgent string
}

// Options configure New.
type Options struct {
	// Host is the inference API: "127.0.0.1", "127.0.0.1:8080", ":8080", "http://host:port",
	// "https://host" (like OLLAMA_HOST). Empty means http://127.0.0.1:8080.
	Host string
	// Management and Metrics default to Host's scheme and host name with TorchServe's ports.
	Management string
	Metrics    string
	// Token is sent to both APIs; ManagementToken and InferenceToken override it.
	Token           string
	InferenceToken  string
	ManagementToken string
	// Insecure skips TLS verification; CAFile adds a certificate authority.
	Insecure bool
	CAFile   string
	// CertFile and KeyFile are a PEM client certificate and its key, for servers that ask
	// for one (mutual TLS).
	CertFile, KeyFile string
	Timeout           time.Duration
	// Header is sent with every request.
	Header http.Header
}

// New builds a client from addresses given as people type them.
func New(o Options) (*Client, error) {
	inf, err := ParseHost(o.Host, InferencePort)
	if err != nil {
		return nil, fmt.Errorf("host %q: %w", o.Host, err)
	}
	derive := func(s string, port int) (*url.URL, error) {
		if s != "" {
			return ParseHost(s, port)
		}
		if socketPath(inf.Hostname()) != "" {
			// a socket serves one API: the others at TorchServe's default addresses
			return ParseHost("", port)
		}
		u := *inf
		u.Host = net.JoinHostPort(inf.Hostname(), strconv.Itoa(port))
		return &u, nil
	}
	c := &Client{Inference: inf, UserAgent: "ts-client", Header: o.Header}
	if c.Management, err = derive(o.Management, ManagementPort); err != nil {
		return nil, fmt.Errorf("management host %q: %w", o.Management, err)
	}
	if c.Metrics, err = derive(o.Metrics, MetricsPort); err != nil {
		return nil, fmt.Errorf("metrics host %q: %w", o.Metrics, err)
	}
	c.InferenceToken, c.ManagementToken = firstOf(o.InferenceToken, o.Token), firstOf(o.ManagementToken, o.Token)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dialer()
	// keep a connection per request in flight (ts infer -c, ts perf), not net/http's 2
	tr.MaxIdleConnsPerHost = tr.MaxIdleConns
	// answers come uncompressed: a server that compresses on Accept-Encoding (ts's /v2 as
	// Triton's) would otherwise spend CPU on it, which ts perf would count as the server's
	tr.DisableCompression = true
	if proxy := tr.Proxy; proxy != nil {
		tr.Proxy = func(r *http.Request) (*url.URL, error) {
			if socketPath(r.URL.Hostname()) != "" {
				return nil, nil // a socket is never behind a proxy
			}
			return proxy(r)
		}
	}
	if o.Insecure || o.CAFile != "" || o.CertFile != "" {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: o.Insecure}
		if o.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("client certificate: %w", err)
			}
			tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
		}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %s holds no PEM certificate", o.CAFile)
			}
			tr.TLSClientConfig.RootCAs = pool
		}
	}
	c.HTTP = &http.Client{Transport: tr, Timeout: o.Timeout}
	return c, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// unixHostSuffix ends the host of a URL that stands for a Unix domain socket: the socket's
// path, hex-encoded (a URL's host cannot hold a path), which the client's dialer decodes.
const unixHostSuffix = ".unix-socket"

// socketPath is the Unix domain socket a host from ParseHost stands for, or "" for TCP.
func socketPath(host string) string {
	enc, ok := strings.CutSuffix(host, unixHostSuffix)
	if !ok {
		return ""
	}
	path, err := hex.DecodeString(enc)
	if err != nil {
		return ""
	}
	return string(path)
}

// Address shows a server URL as people type it: unix:/path for a Unix domain socket (then
// the request's path after a space), else the URL with any password hidden.
func Address(u *url.URL) string {
	if sock := socketPath(u.Hostname()); sock != "" {
		return strings.TrimSpace("unix:" + sock + " " + u.Path)
	}
	return u.Redacted()
}

// dialer connects to TCP addresses, and to Unix domain sockets for hosts from ParseHost.
func dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			if sock := socketPath(host); sock != "" {
				return d.DialContext(ctx, "unix", sock)
			}
		}
		return d.DialContext(ctx, network, addr)
	}
}

// ParseHost reads "host", "host:port", ":port", "http(s)://host[:port]" with a default port,
// or "unix:/path" for a Unix domain socket.
func ParseHost(s string, defaultPort int) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = "127.0.0.1"
	}
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return nil, errors.New("want unix:/path/to/socket")
		}
		return &url.URL{Scheme: "http", Host: hex.EncodeToString([]byte(path)) + unixHostSuffix}, nil
	}
	scheme := "http"
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, s = strings.ToLower(s[:i]), s[i+3:]
		if scheme != "http" && scheme != "https" {
			return nil, fmt.Errorf("scheme %q: want http or https", scheme)
		}
	}
	s = strings.TrimSuffix(s, "/")
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), ""
		if scheme == "https" {
			port = "443"
		}
	}
	if port == "" {
		port = strconv.Itoa(defaultPort)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return nil, fmt.Errorf("bad port %q", port)
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}, nil
}

// Error is an error answer from the server, in TorchServe's shape.
type Error struct {
	Code    int
	Type    string
	Message string
	URL     string
}

// apiError reads an error answer: TorchServe's JSON shape, or whatever text came.
func apiError(res *http.Response, body []byte, url string) *Error {
	var a api.Error
	e := &Error{URL: url, Code: res.StatusCode}
	if json.Unmarshal(body, &a) == nil && a.Message != "" {
		e.Type, e.Message = a.Type, a.Message
		if a.Code != 0 {
			e.Code = a.Code
		}
		return e
	}
	e.Message = strings.TrimSpace(string(body))
	if e.Message == "" {
		e.Message = res.Status
	}
	return e
}

func (e *Error) Error() string { return e.Message }

// StatusCode is the HTTP status.
func (e *Error) StatusCode() int { return e.Code }

// UnreachableError says the server could not be reached at all.
type UnreachableError struct {
	URL string
	// API is the API that was called: "inference", "management" or "metrics".
	API string
	Err error
}

// api names the API at base, one of the client's.
func (c *Client) api(base *url.URL) string {
	switch base {
	case c.Management:
		return "management"
	case c.Metrics:
		return "metrics"
	}
	return "inference"
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s (%s)", e.URL, reason(e.Err))
}

// reason is the innermost cause of a network error: "connection refused" rather than
// the request, the address and the system call around it.
func reason(err error) string {
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return "its certificate is not trusted: " + cert.Err.Error()
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Err.Error()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Err + ": " + dns.Name
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// newRequest is a request with the client's headers, then header's, its User-Agent and, when
// token is set, its bearer token.
func (c *Client) newRequest(ctx context.Context, method, target string, body io.Reader, header http.Header, token string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	for _, h := range []http.Header{c.Header, header} {
		for k, v := range h {
			req.Header[k] = v
		}
	}
	req.Header.Set("User-Agent", c.UserAgent)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// do sends a request and returns the body of a 2xx answer, or an *Error.
func (c *Client) do(ctx context.Context, method string, base *url.URL, token, path string, query url.Values, body io.Reader, header http.Header) (*http.Response, []byte, error) {
	return c.doParts(ctx, method, base, token, path, query, body, header, nil)
}

// doParts is do; when onPart is set and a 2xx answer comes in parts (chunked, no length), it
// also receives the body's bytes as they arrive, with the answer's content type.
func (c *Client) doParts(ctx context.Context, method string, base *url.URL, token, path string, query url.Values, body io.Reader, header http.Header, onPart func(part []byte, contentType string)) (*http.Response, []byte, error) {
	for _, seg := range strings.Split(path, "/") {
		if err := api.CheckSegment(seg); err != nil {
			return nil, nil, err
		}
	}
	u := *base
	u.Path, u.RawPath = path, path // path's segments are escaped already
	if unescaped, err := url.PathUnescape(path); err == nil {
		u.Path = unescaped
	}
	u.RawQuery = query.Encode()
	req, err := c.newRequest(ctx, method, u.String(), body, header, token)
	if err != nil {
		return nil, nil, err
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, nil, fmt.Errorf("%s %s: %w", method, Address(&u), err)
		}
		return nil, nil, &UnreachableError{URL: Address(base), API: c.api(base), Err: err}
	}
	defer res.Body.Close()
	var r io.Reader = res.Body
	if onPart != nil && res.StatusCode < 300 && res.ContentLength < 0 {
		r = partReader{res.Body, func(p []byte) { onPart(p, res.Header.Get("Content-Type")) }}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read answer from %s: %w", Address(&u), err)
	}
	if res.StatusCode >= 300 {
		return res, b, apiError(res, b, Address(&u))
	}
	return res, b, nil
}

// mgmt calls the management API with a JSON body (nil: none) and reads its JSON answer
// into out (nil: not read).
func (c *Client) mgmt(ctx context.Context, method, path string, query url.Values, body []byte, out any) error {
	return c.callJSON(ctx, c.Management, c.ManagementToken, method, path, query, body, out)
}

// callJSON calls an API at base with a JSON body (nil: none) and reads its JSON answer into
// out (nil: not read).
func (c *Client) callJSON(ctx context.Context, base *url.URL, token, method, path string, query url.Values, body []byte, out any) error {
	var r io.Reader
	h := http.Header{}
	if body != nil {
		r = bytes.NewReader(body)
		h.Set("Content-Type", "application/json")
	}
	_, b, err := c.do(ctx, method, base, token, path, query, r, h)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %v", method, path, err)
		}
	}
	return nil
}

// Ping returns the server's health: Healthy, Partial Healthy or Unhealthy.
func (c *Client) Ping(ctx context.Context) (string, error) {
	_, b, err := c.do(ctx, http.MethodGet, c.Inference, c.InferenceToken, "/ping", nil, nil, nil)
	var s api.Status
	if jerr := json.Unmarshal(b, &s); jerr == nil && s.Status != "" {
		return s.Status, nil // Unhealthy comes with a 500: still an answer
	}
	return "", err
}

// LogSettings returns the server's log settings (GET /v2/logging).
func (c *Client) LogSettings(ctx context.Context) (*api.LogSettings, error) {
	return c.logging(ctx, http.MethodGet, nil)
}

// SetLogSettings replaces the server's log settings (POST /v2/logging) and returns them as
// the server now has them.
func (c *Client) SetLogSettings(ctx context.Context, s api.LogSettings) (*api.LogSettings, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return c.logging(ctx, http.MethodPost, b)
}

func (c *Client) logging(ctx context.Context, method string, body []byte) (*api.LogSettings, error) {
	var s api.LogSettings
	return &s, c.callJSON(ctx, c.Inference, c.InferenceToken, method, "/v2/logging", nil, body, &s)
}

// ListModels returns one page of GET /models.
func (c *Client) ListModels(ctx context.Context, limit int, pageToken string) (*api.ModelList, error) {
	var l api.ModelList
	return &l, c.mgmt(ctx, http.MethodGet, "/models", pageQuery(limit, pageToken), nil, &l)
}

// AllModels follows every page of GET /models.
func (c *Client) AllModels(ctx context.Context) ([]api.ModelRef, error) {
	return allPages(func(token string) ([]api.ModelRef, string, error) {
		page, err := c.ListModels(ctx, 100, token)
		if err != nil {
			return nil, "", err
		}
		return page.Models, page.NextPageToken, nil
	})
}

// allPages gathers a paged list: page returns the items after token and the next token
// ("" after the last page).
func allPages[T any](page func(token string) ([]T, string, error)) ([]T, error) {
	var out []T
	token := ""
	for {
		items, next, err := page(token)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		token = next
	}
}

// pageQuery is a list's paging parameters (zero values are not sent).
func pageQuery(limit int, pageToken string) url.Values {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if pageToken != "" {
		q.Set("next_page_token", pageToken)
	}
	return q
}

// Describe returns GET /models/{name}[/{version}]; version "all" gives every version.
func (c *Client) Describe(ctx context.Context, name, version string) ([]api.Description, error) {
	var d []api.Description
	return d, c.mgmt(ctx, http.MethodGet, modelPath(name, version), nil, nil, &d)
}

// Labels returns the class names of a version's model ("": the default version), by class
// index in decimal, from its description's customizedMetadata (GET /models/{m}[/{v}]?customized=true);
// nil when it names none (a custom handler's description says what it says instead).
func (c *Client) Labels(ctx context.Context, name, version string) (map[string]string, error) {
	var d []api.Description
	if err := c.mgmt(ctx, http.MethodGet, modelPath(name, version), url.Values{"customized": {"true"}}, nil, &d); err != nil {
		return nil, err
	}
	if len(d) == 0 {
		return nil, nil
	}
	var m api.ModelMetadata
	if json.Unmarshal(d[0].CustomizedMetadata, &m) != nil {
		return nil, nil
	}
	return m.Labels, nil
}

func modelPath(name, version string) string {
	p := "/models/" + url.PathEscape(name)
	if version != "" {
		p += "/" + url.PathEscape(version)
	}
	return p
}

// RegisterOptions are POST /models's parameters; zero values are not sent.
type RegisterOptions struct {
	URL            string
	Name           string
	Version        string // model_version (ts's own parameter)
	Handler        string
	Runtime        string
	BatchSize      int
	MaxBatchDelay  int // ms
	InitialWorkers *int
	Synchronous    bool
	ResponseTime   int // response_timeout, s
	StartupTimeout int
}

func (o RegisterOptions) query() url.Values {
	q := url.Values{"url": {o.URL}}
	set := func(k string, v int) {
		if v > 0 {
			q.Set(k, strconv.Itoa(v))
		}
	}
	if o.Name != "" {
		q.Set("model_name", o.Name)
	}
	if o.Handler != "" {
		q.Set("handler", o.Handler)
	}
	if o.Version != "" {
		q.Set("model_version", o.Version)
	}
	if o.Runtime != "" {
		q.Set("runtime", o.Runtime)
	}
	set("batch_size", o.BatchSize)
	set("max_batch_delay", o.MaxBatchDelay)
	set("response_timeout", o.ResponseTime)
	set("startup_timeout", o.StartupTimeout)
	if o.InitialWorkers != nil {
		q.Set("initial_workers", strconv.Itoa(*o.InitialWorkers))
	}
	q.Set("synchronous", strconv.FormatBool(o.Synchronous))
	return q
}

// Register is POST /models.
func (c *Client) Register(ctx context.Context, o RegisterOptions) (string, error) {
	var s api.Status
	err := c.mgmt(ctx, http.MethodPost, "/models", o.query(), nil, &s)
	return s.Status, err
}

// Upload sends a local archive to the server's upload endpoint (POST /models/upload, off
// unless the server enables it) and registers it. progress, when set, is told the bytes
// sent so far.
func (c *Client) Upload(ctx context.Context, archive string, o RegisterOptions, progress func(sent, total int64)) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return "", fmt.Errorf("%s is a folder: upload a .mar, .tar.gz or .tar.zst file", archive)
	}
	var body io.Reader = f
	if progress != nil {
		body = &progressReader{r: f, total: st.Size(), report: progress}
	}
	q := o.query()
	q.Del("url")
	q.Set("filename", baseName(archive))
	// Expect: 100-continue: a server that refuses the archive on its size (max_upload_size)
	// says so before any of it is sent.
	h := http.Header{"Content-Type": {"application/octet-stream"}, "Content-Length": {strconv.FormatInt(st.Size(), 10)},
		"Expect": {"100-continue"}}
	u := *c.Management
	u.Path, u.RawQuery = "/models/upload", q.Encode()
	req, err := c.newRequest(ctx, http.MethodPost, u.String(), body, h, c.ManagementToken)
	if err != nil {
		return "", err
	}
	req.ContentLength = st.Size()
	_, b, err := c.send(ctx, req, c.Management)
	if err != nil {
		return "", err
	}
	var s api.Status
	json.Unmarshal(b, &s)
	return s.Status, nil
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// send is do for a prepared request.
func (c *Client) send(ctx context.Context, req *http.Request, base *url.URL) (*http.Response, []byte, error) {
	res, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, &UnreachableError{URL: Address(base), API: c.api(base), Err: err}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return res, b, apiError(res, b, Address(req.URL))
	}
	return res, b, nil
}

type progressReader struct {
	r      io.Reader
	sent   int64
	total  int64
	report func(sent, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.sent += int64(n)
	p.report(p.sent, p.total)
	return n, err
}

// Unregister is DELETE /models/{name}[/{version}].
func (c *Client) Unregister(ctx context.Context, name, version string) (string, error) {
	var s api.Status
	err := c.mgmt(ctx, http.MethodDelete, modelPath(name, version), nil, nil, &s)
	return s.Status, err
}

// Load loads a model from the server's model store (Triton's repository load, POST
// /v2/repository/models/{name}/load on the inference API), and returns once it serves: a
// model that is loaded is loaded again from what the store holds now, its new version
// taking over from the one serving, which answers meanwhile.
func (c *Client) Load(ctx context.Context, name string) error {
	return c.callJSON(ctx, c.Inference, c.InferenceToken, http.MethodPost, "/v2/repository/models/"+url.PathEscape(name)+"/load", nil, nil, nil)
}

// Scale is PUT /models/{name}[/{version}].
func (c *Client) Scale(ctx context.Context, name, version string, minWorkers, maxWorkers int, sync bool) (string, error) {
	q := url.Values{"min_worker": {strconv.Itoa(minWorkers)}, "synchronous": {strconv.FormatBool(sync)}}
	if maxWorkers > 0 {
		q.Set("max_worker", strconv.Itoa(maxWorkers))
	}
	var s api.Status
	err := c.mgmt(ctx, http.MethodPut, modelPath(name, version), q, nil, &s)
	return s.Status, err
}

// SetDefault is PUT /models/{name}/{version}/set-default.
func (c *Client) SetDefault(ctx context.Context, name, version string) (string, error) {
	var s api.Status
	err := c.mgmt(ctx, http.MethodPut, modelPath(name, version)+"/set-default", nil, nil, &s)
	return s.Status, err
}

// Split returns a model's traffic split.
func (c *Client) Split(ctx context.Context, name string) (*api.Split, error) {
	var s api.Split
	return &s, c.mgmt(ctx, http.MethodGet, modelPath(name, "")+"/split", nil, nil, &s)
}

// SetSplit sets a model's traffic split (version → weight); nil removes it.
func (c *Client) SetSplit(ctx context.Context, name string, weights map[string]int) (*api.Split, error) {
	if len(weights) == 0 {
		return &api.Split{ModelName: name, Weights: map[string]int{}}, c.mgmt(ctx, http.MethodDelete, modelPath(name, "")+"/split", nil, nil, nil)
	}
	body, _ := json.Marshal(weights)
	var s api.Split
	return &s, c.mgmt(ctx, http.MethodPut, modelPath(name, "")+"/split", nil, body, &s)
}

// Prediction is an inference answer.
type Prediction struct {
	Body        []byte
	ContentType string
	// Version is the version that answered (X-TS-Model-Version).
	Version string
	// Target and Score, on explanations, are what was explained and its score on the
	// request's own input (X-TS-Explain-Target, X-TS-Explain-Score).
	Target string
	Score  float64
	// Sequence is a stateful model's sequence the request was a step of
	// (api.HeaderSequenceID): the one it named, or the one it started.
	Sequence string
}

// PredictOptions are optional inference settings.
type PredictOptions struct {
	Version     string
	ContentType string
	Accept      string
	Priority    string
	RouteKey    string
	// Query holds query parameters (an explanation's target, patch ...).
	Query url.Values
	// Header holds more request headers (a stateful model's ts_request_sequence_id ...).
	Header http.Header
	// OnPart, when set, receives an answer the server streams (a custom handler's parts,
	// chunked) as it arrives, with its content type; the Prediction still holds it whole.
	OnPart func(part []byte, contentType string)
}

// Predict is POST /predictions/{name}[/{version}] with body as the request body.
func (c *Client) Predict(ctx context.Context, name string, body []byte, o PredictOptions) (*Prediction, error) {
	return c.infer(ctx, "/predictions/", name, body, o)
}

// Explain is POST /explanations/{name}[/{version}]: how much each part of the input
// (an image's patches, a text's tokens, a tensor's elements) supports the answer.
func (c *Client) Explain(ctx context.Context, name string, body []byte, o PredictOptions) (*Prediction, error) {
	return c.infer(ctx, "/explanations/", name, body, o)
}

// infer posts body to a model under route (/predictions/ or /explanations/).
func (c *Client) infer(ctx context.Context, route, name string, body []byte, o PredictOptions) (*Prediction, error) {
	h := http.Header{}
	if o.ContentType != "" {
		h.Set("Content-Type", o.ContentType)
	}
	if o.Accept != "" {
		h.Set("Accept", o.Accept)
	}
	for k, vs := range o.Header {
		h[k] = vs
	}
	if o.Priority != "" {
		h.Set(api.HeaderPriority, o.Priority)
	}
	if o.RouteKey != "" {
		h.Set(api.HeaderRouteKey, o.RouteKey)
	}
	p := route + url.PathEscape(name)
	if o.Version != "" {
		p += "/" + url.PathEscape(o.Version)
	}
	res, b, err := c.doParts(ctx, http.MethodPost, c.Inference, c.InferenceToken, p, o.Query, bytes.NewReader(body), h, o.OnPart)
	if err != nil {
		return nil, err
	}
	return NewPrediction(b, res.Header.Get("Content-Type"), res.Header.Get(api.HeaderModelVersion), res.Header), nil
}

// partReader passes on the bytes it reads as they come.
type partReader struct {
	r      io.Reader
	onPart func([]byte)
}

func (p partReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.onPart(b[:n])
	}
	return n, err
}

// NewPrediction is an answer with its body, type and version, and what an explanation's
// headers say (X-TS-Explain-Target, X-TS-Explain-Score; none for a prediction).
func NewPrediction(body []byte, contentType, version string, h http.Header) *Prediction {
	p := &Prediction{Body: body, ContentType: contentType, Version: version, Target: h.Get(api.HeaderExplainTarget), Sequence: h.Get(api.HeaderSequenceID)}
	p.Score, _ = strconv.ParseFloat(h.Get(api.HeaderExplainScore), 64)
	return p
}

// ListWorkflows returns one page of GET /workflows.
func (c *Client) ListWorkflows(ctx context.Context, limit int, pageToken string) (*api.WorkflowList, error) {
	var l api.WorkflowList
	return &l, c.mgmt(ctx, http.MethodGet, "/workflows", pageQuery(limit, pageToken), nil, &l)
}

// AllWorkflows follows every page of GET /workflows.
func (c *Client) AllWorkflows(ctx context.Context) ([]api.WorkflowRef, error) {
	return allPages(func(token string) ([]api.WorkflowRef, string, error) {
		page, err := c.ListWorkflows(ctx, 100, token)
		if err != nil {
			return nil, "", err
		}
		return page.Workflows, page.NextPageToken, nil
	})
}

// DescribeWorkflow is GET /workflows/{name}.
func (c *Client) DescribeWorkflow(ctx context.Context, name string) ([]api.WorkflowDescription, error) {
	var d []api.WorkflowDescription
	return d, c.mgmt(ctx, http.MethodGet, "/workflows/"+url.PathEscape(name), nil, nil, &d)
}

// RegisterWorkflowOptions are POST /workflows's parameters; zero values are not sent.
type RegisterWorkflowOptions struct {
	URL             string
	Name            string // workflow_name (default: the archive's)
	ResponseTimeout int    // s, for each of its models
	StartupTimeout  int    // s
}

// RegisterWorkflow is POST /workflows: the workflow's models are registered and their
// workers started before the answer.
func (c *Client) RegisterWorkflow(ctx context.Context, o RegisterWorkflowOptions) (string, error) {
	q := url.Values{"url": {o.URL}}
	if o.Name != "" {
		q.Set("workflow_name", o.Name)
	}
	if o.ResponseTimeout > 0 {
		q.Set("response_timeout", strconv.Itoa(o.ResponseTimeout))
	}
	if o.StartupTimeout > 0 {
		q.Set("startup_timeout", strconv.Itoa(o.StartupTimeout))
	}
	var s api.Status
	err := c.mgmt(ctx, http.MethodPost, "/workflows", q, nil, &s)
	return s.Status, err
}

// UnregisterWorkflow is DELETE /workflows/{name}.
func (c *Client) UnregisterWorkflow(ctx context.Context, name string) (string, error) {
	var s api.Status
	err := c.mgmt(ctx, http.MethodDelete, "/workflows/"+url.PathEscape(name), nil, nil, &s)
	return s.Status, err
}

// PredictWorkflow is POST /wfpredict/{name}: body through the workflow's DAG (o.Version is
// not used: workflows have none).
func (c *Client) PredictWorkflow(ctx context.Context, name string, body []byte, o PredictOptions) (*Prediction, error) {
	o.Version = ""
	return c.infer(ctx, "/wfpredict/", name, body, o)
}

// RawMetrics returns GET /metrics in Prometheus text format.
func (c *Client) RawMetrics(ctx context.Context) ([]byte, error) {
	_, b, err := c.do(ctx, http.MethodGet, c.Metrics, "", "/metrics", nil, nil, http.Header{"Accept": {"text/plain"}})
	return b, err
}
