package registry

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Snapshot is what is registered, saved so a restarted server can restore it (TorchServe's
// model snapshot).
type Snapshot struct {
	Created string          `json:"created"`
	Models  []SnapshotModel `json:"models"`
}

// SnapshotModel is one version in a snapshot.
type SnapshotModel struct {
	Name            string `json:"modelName"`
	Version         string `json:"modelVersion"`
	URL             string `json:"modelUrl"`
	Handler         string `json:"handler,omitempty"`
	Default         bool   `json:"defaultVersion,omitempty"`
	MinWorkers      int    `json:"minWorkers"`
	MaxWorkers      int    `json:"maxWorkers"`
	BatchSize       int    `json:"batchSize"`
	MaxBatchDelay   int    `json:"maxBatchDelay"`
	ResponseTimeout int    `json:"responseTimeout"`
	SplitWeight     int    `json:"splitWeight,omitempty"`
	// PreferredBatchSizes are kept when a register request gave them (a Triton load's
	// configuration); model-config.yaml's come back with the archive.
	PreferredBatchSizes []int `json:"preferredBatchSizes,omitempty"`
}

// Snapshot lists every registered version with its settings, but the nodes of workflows.
func (r *Registry) Snapshot() Snapshot {
	snap := Snapshot{Created: time.Now().UTC().Format(time.RFC3339), Models: []SnapshotModel{}}
	for _, e := range r.List() {
		for _, v := range e.Versions {
			if v.Workflow != "" {
				continue // workflows are not in snapshots, as in TorchServe
			}
			s := v.Settings()
			m := SnapshotModel{
				Name: v.Name, Version: v.Version, URL: v.URL, Handler: v.Handler, Default: v.Version == e.DefaultVersion,
				MinWorkers: s.MinWorkers, MaxWorkers: s.MaxWorkers, BatchSize: s.BatchSize,
				MaxBatchDelay: s.MaxBatchDelay, ResponseTimeout: s.ResponseTimeout, SplitWeight: e.Split[v.Version],
			}
			if s.Sources["preferredBatchSizes"] == FromRegister {
				m.PreferredBatchSizes = s.PreferredBatchSizes
			}
			snap.Models = append(snap.Models, m)
		}
	}
	return snap
}

// SnapshotWriter saves snapshots to a file, each whole or not at all (write, sync, rename).
type SnapshotWriter struct {
	Path string
	mu   sync.Mutex
}

// Save writes the registry's current snapshot.
func (w *SnapshotWriter) Save(r *Registry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := json.MarshalIndent(r.Snapshot(), "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(w.Path), 0o755); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(w.Path), "."+filepath.Base(w.Path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), w.Path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// ReadSnapshot reads a saved snapshot; a missing file is an empty snapshot.
func ReadSnapshot(path string) (*Snapshot, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return &Snapshot{}, nil
	}
	if err != nil {
		return nil, err
	}
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return &s, nil
}
