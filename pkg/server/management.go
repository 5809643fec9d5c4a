package server

import (
	"net/http"
	"strconv"

	"github.com/tsserve/ts/pkg/registry"
	"github.com/tsserve/ts/pkg/tensor"
)

func (s *Server) managementRoutes() http.Handler {
	rt := s.newRouter("management")
	rt.handle("GET /models", s.listModels)
	rt.handle("GET /models/{model}", s.describeModel)
	rt.handle("GET /models/{model}/{version}", s.describeModel)
	return rt
}

type modelRef struct {
	ModelName string `json:"modelName"`
	ModelURL  string `json:"modelUrl"`
}

// listModels answers GET /models as TorchServe does: default versions, sorted by name,
// paged with limit (default and maximum 100) and next_page_token (an offset).
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 || limit > 100 {
		limit = 100
	}
	offset, err := strconv.Atoi(q.Get("next_page_token"))
	if err != nil || offset < 0 {
		offset = 0
	}
	entries := s.reg.List()
	res := struct {
		NextPageToken string     `json:"nextPageToken,omitempty"`
		Models        []modelRef `json:"models"`
	}{Models: []modelRef{}}
	for i := offset; i < len(entries) && i < offset+limit; i++ {
		e := entries[i]
		url := ""
		for _, v := range e.Versions {
			if v.Version == e.DefaultVersion {
				url = v.URL
			}
		}
		res.Models = append(res.Models, modelRef{ModelName: e.Name, ModelURL: url})
	}
	if offset+limit < len(entries) {
		res.NextPageToken = strconv.Itoa(offset + limit)
	}
	return writeJSON(w, http.StatusOK, res)
}

// Description is one element of GET /models/{name}: TorchServe's fields, then ts's own.
type Description struct {
	ModelName       string   `json:"modelName"`
	ModelVersion    string   `json:"modelVersion"`
	ModelURL        string   `json:"modelUrl"`
	Runtime         string   `json:"runtime"`
	MinWorkers      int      `json:"minWorkers"`
	MaxWorkers      int      `json:"maxWorkers"`
	BatchSize       int      `json:"batchSize"`
	MaxBatchDelay   int      `json:"maxBatchDelay"`
	LoadedAtStartup bool     `json:"loadedAtStartup"`
	Workers         []Worker `json:"workers"`
	// ts's additions
	Default  bool          `json:"default"`
	Handler  string        `json:"handler"`
	Digest   string        `json:"archiveSha256"`
	LoadedAt string        `json:"loadedAt"`
	LoadMS   int64         `json:"loadTimeMs"`
	Provider string        `json:"executionProvider"`
	Inputs   []tensor.Info `json:"inputs"`
	Outputs  []tensor.Info `json:"outputs"`
}

// Worker is a worker in a description.
type Worker struct {
	ID        string `json:"id"`
	StartTime string `json:"startTime"`
	Status    string `json:"status"`
	GPU       bool   `json:"gpu"`
}

const timeLayout = "2006-01-02T15:04:05.000Z"

func describe(v *registry.Version, isDefault bool) Description {
	d := Description{
		ModelName: v.Name, ModelVersion: v.Version, ModelURL: v.URL, Runtime: v.Manifest.Runtime,
		MinWorkers: v.Workers, MaxWorkers: v.Workers, BatchSize: 1, MaxBatchDelay: 100,
		Default: isDefault, Handler: v.Handler, Digest: v.Digest,
		LoadedAt: v.LoadedAt.UTC().Format(timeLayout), LoadMS: v.LoadTime.Milliseconds(),
		Provider: v.Provider, Inputs: v.Inputs, Outputs: v.Outputs,
	}
	for i := 0; i < v.Workers; i++ {
		d.Workers = append(d.Workers, Worker{ID: strconv.Itoa(9000 + i), StartTime: v.LoadedAt.UTC().Format(timeLayout), Status: "READY"})
	}
	return d
}

// describeModel answers GET /models/{model}[/{version}|/all] with a JSON array.
func (s *Server) describeModel(w http.ResponseWriter, r *http.Request) error {
	name, version := r.PathValue("model"), r.PathValue("version")
	def, err := s.reg.Get(name, "")
	if err != nil {
		return err
	}
	var out []Description
	if version == "all" {
		for _, e := range s.reg.List() {
			if e.Name != name {
				continue
			}
			for _, v := range e.Versions {
				out = append(out, describe(v, v == def))
			}
		}
	} else {
		v, err := s.reg.Get(name, version)
		if err != nil {
			return err
		}
		out = append(out, describe(v, v == def))
	}
	return writeJSON(w, http.StatusOK, out)
}
