// Package testenv helps tests find the repository's sample models and their reference
// outputs.
package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

// Root is the repository's root folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Path joins parts under the repository's root.
func Path(parts ...string) string {
	return filepath.Join(append([]string{Root()}, parts...)...)
}

// Reference is a sample's saved inputs and the outputs its exporter computed for them.
type Reference struct {
	Inputs  map[string]*tensor.Tensor
	Outputs map[string]*tensor.Tensor
	Labels  []int
}

type refTensor struct {
	Shape []int64   `json:"shape"`
	DType string    `json:"dtype"`
	Data  []float64 `json:"data"`
}

// LoadReference reads a reference.json written by samples/common.py.
func LoadReference(path string) (*Reference, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Inputs  map[string]refTensor `json:"inputs"`
		Outputs map[string]refTensor `json:"outputs"`
		Labels  []int                `json:"labels"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ref := &Reference{Inputs: map[string]*tensor.Tensor{}, Outputs: map[string]*tensor.Tensor{}, Labels: doc.Labels}
	for dst, src := range map[*map[string]*tensor.Tensor]map[string]refTensor{&ref.Inputs: doc.Inputs, &ref.Outputs: doc.Outputs} {
		for name, rt := range src {
			dt, err := tensor.ParseDType(rt.DType)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, name, err)
			}
			t, err := tensor.FromFloat64s(dt, rt.Shape, rt.Data)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, name, err)
			}
			(*dst)[name] = t
		}
	}
	return ref, nil
}

// FileServer serves one file's bytes at path over HTTP on 127.0.0.1 (404 for any other
// path), as a remote archive for registration from a URL; it stops with the test.
func FileServer(t testing.TB, path string, body []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}
