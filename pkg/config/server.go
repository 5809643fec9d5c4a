package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Server holds the settings of `ts serve`, named after TorchServe's config.properties keys.
type Server struct {
	InferenceAddress       string   // inference_address
	ManagementAddress      string   // management_address
	MetricsAddress         string   // metrics_address
	ModelStore             string   // model_store
	LoadModels             []string // load_models / --models: "all", "file.mar" or "name=file.mar"
	DefaultWorkersPerModel int      // default_workers_per_model
	MaxRequestSize         int64    // max_request_size, bytes
	ORTLib                 string   // --ort-lib
}

// DefaultServer returns TorchServe's defaults (127.0.0.1:8080/8081/8082, 6,553,500-byte
// request limit) and one worker per model.
func DefaultServer() Server {
	return Server{
		InferenceAddress:       "http://127.0.0.1:8080",
		ManagementAddress:      "http://127.0.0.1:8081",
		MetricsAddress:         "http://127.0.0.1:8082",
		DefaultWorkersPerModel: 1,
		MaxRequestSize:         6_553_500,
	}
}

// ModelToLoad is one entry of load_models resolved against the model store.
type ModelToLoad struct {
	Name string // "" = the manifest's name
	File string // as given (a name in the model store)
	Path string // on disk
}

// ModelsToLoad resolves load_models: "all" loads every archive in the model store,
// "name=file.mar" names a model, "file.mar" uses the manifest's name. Entries may be
// comma-separated.
func (s Server) ModelsToLoad(list func(dir string) ([]string, error)) ([]ModelToLoad, error) {
	var out []ModelToLoad
	for _, item := range s.LoadModels {
		for _, entry := range strings.Split(item, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			if s.ModelStore == "" {
				return nil, fmt.Errorf("load_models %q needs a model store (--model-store)", entry)
			}
			if entry == "all" {
				files, err := list(s.ModelStore)
				if err != nil {
					return nil, fmt.Errorf("model store: %w", err)
				}
				for _, f := range files {
					out = append(out, ModelToLoad{File: f, Path: filepath.Join(s.ModelStore, f)})
				}
				continue
			}
			name, file, hasName := strings.Cut(entry, "=")
			if !hasName {
				name, file = "", entry
			}
			if !filepath.IsLocal(file) || strings.ContainsAny(file, `/\`) {
				return nil, fmt.Errorf("load_models %q: give a file name inside the model store", entry)
			}
			out = append(out, ModelToLoad{Name: name, File: file, Path: filepath.Join(s.ModelStore, file)})
		}
	}
	return out, nil
}
