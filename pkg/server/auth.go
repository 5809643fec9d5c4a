package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tsserve/ts/pkg/apierror"
)

// tokenAuth is TorchServe's token authorization: at start the server writes key_file.json
// (mode 0600) with an inference key, a management key (each valid for
// token_expiration_min) and an API key that never expires and only serves to make new keys
// with GET /token?type=inference|management. Every inference and management request but
// the API descriptions must carry its API's key as "Authorization: Bearer <key>"; the
// metrics API needs none. The file is removed when the server stops.
type tokenAuth struct {
	path string
	ttl  time.Duration
	now  func() time.Time

	mu     sync.Mutex
	keys   map[string]*expiringKey // Inference, Management
	apiKey string
}

type expiringKey struct {
	key     string
	expires time.Time
}

// keyFile is key_file.json, TorchServe's layout.
type keyFile struct {
	Management keyEntry `json:"management"`
	Inference  keyEntry `json:"inference"`
	API        struct {
		Key string `json:"key"`
	} `json:"API"`
}

type keyEntry struct {
	Key        string `json:"key"`
	Expiration string `json:"expiration time"`
}

// errInvalidKey is TorchServe's answer to a missing, wrong or expired key (400, not 401).
func errInvalidKey() error {
	return apierror.New(http.StatusBadRequest, apierror.TypeInvalidKey,
		"Token Authorization failed. Token either incorrect, expired, or not provided correctly")
}

func newTokenAuth(path string, ttl time.Duration) (*tokenAuth, error) {
	a := &tokenAuth{path: path, ttl: ttl, now: time.Now, keys: map[string]*expiringKey{}}
	var err error
	if a.apiKey, err = newKey(); err != nil {
		return nil, err
	}
	for _, api := range []string{Inference, Management} {
		if err := a.renew(api); err != nil {
			return nil, err
		}
	}
	if err := a.write(); err != nil {
		return nil, err
	}
	return a, nil
}

// newKey is 6 random bytes in URL-safe base64 (8 characters), as TorchServe's keys.
func newKey() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a key: %w", err)
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

func (a *tokenAuth) renew(api string) error {
	k, err := newKey()
	if err != nil {
		return err
	}
	a.keys[api] = &expiringKey{key: k, expires: a.now().Add(a.ttl)}
	return nil
}

// write replaces the key file whole (a temporary file renamed over it).
func (a *tokenAuth) write() error {
	var f keyFile
	f.Inference = keyEntry{a.keys[Inference].key, a.keys[Inference].expires.UTC().Format(time.RFC3339Nano)}
	f.Management = keyEntry{a.keys[Management].key, a.keys[Management].expires.UTC().Format(time.RFC3339Nano)}
	f.API.Key = a.apiKey
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(a.path), ".key_file-*") // mode 0600
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), a.path)
	}
	if err != nil {
		return fmt.Errorf("key file %s: %w", a.path, err)
	}
	return nil
}

// remove deletes the key file (at stop).
func (a *tokenAuth) remove() { os.Remove(a.path) }

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authorize lets a request through when token authorization is off, when it needs no key,
// or when it carries its API's key.
func (s *Server) authorize(api string, r *http.Request) error {
	if s.auth == nil || api == Metrics || exempt(r) {
		return nil
	}
	return s.auth.check(api, r)
}

// check verifies the request's key for api.
func (a *tokenAuth) check(api string, r *http.Request) error {
	got := bearer(r)
	a.mu.Lock()
	k := a.keys[api]
	ok := k != nil && got != "" && same(got, k.key) && a.now().Before(k.expires)
	a.mu.Unlock()
	if !ok {
		return errInvalidKey()
	}
	return nil
}

// exempt reports whether a request is answered without a key: the API descriptions, and
// /token, which checks the API key itself.
func exempt(r *http.Request) bool {
	return (r.Method == http.MethodOptions && r.URL.Path == "/") || r.URL.Path == "/api-description" || r.URL.Path == "/token"
}

// rotate is /token?type=inference|management on the management API: with the API key as
// bearer, that API gets a new key (and a new expiry), written to the key file.
func (a *tokenAuth) rotate(w http.ResponseWriter, r *http.Request) error {
	api := r.URL.Query().Get("type")
	a.mu.Lock()
	defer a.mu.Unlock()
	if got := bearer(r); got == "" || !same(got, a.apiKey) || (api != Inference && api != Management) {
		return errInvalidKey()
	}
	if err := a.renew(api); err != nil {
		return err
	}
	if err := a.write(); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
