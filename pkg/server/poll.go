package server

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/registry"
)

// Triton's poll mode, for the model store: every repository_poll_secs the server looks at
// the archives its registered versions came from (a file or folder in the model store) and
// reloads a version whose archive changed (registry.Reload: the new one loads beside the
// old, which serves until it is ready; an archive that fails to load leaves the old one
// serving). An archive with another version is registered beside, as the model's default.
// With load_models=all, an archive that appears in the store (or changes, unregistered)
// while the server polls is registered as the ones at start were; removed archives are not
// unloaded (unregister does that), nor archives there at the first look loaded again.

// archiveStamp tells whether an archive changed: its size and last change (for a folder,
// its files' total size and latest change).
type archiveStamp struct {
	size int64
	mod  time.Time
}

func stampOf(path string) (archiveStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return archiveStamp{}, err
	}
	if !st.IsDir() {
		return archiveStamp{st.Size(), st.ModTime()}, nil
	}
	var a archiveStamp
	err = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		a.size += info.Size()
		if info.ModTime().After(a.mod) {
			a.mod = info.ModTime()
		}
		return nil
	})
	return a, err
}

// PollStore reloads, every interval until ctx ends, the versions whose archive in the model
// store changed (and, with load_models=all, registers new archives).
func (s *Server) PollStore(ctx context.Context, every time.Duration) {
	seen := map[string]archiveStamp{}
	s.pollStore(ctx, seen)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.pollStore(ctx, seen)
		}
	}
}

// pollStore compares each registered version's archive with what seen holds (by model and
// version; a version seen for the first time is only recorded) and reloads the changed ones.
func (s *Server) pollStore(ctx context.Context, seen map[string]archiveStamp) {
	if s.cfg.ModelStore == "" {
		return
	}
	reloaded := map[string]bool{} // versions sharing an archive reload it once
	registered := map[string]bool{}
	for _, e := range s.reg.List() {
		for _, v := range e.Versions {
			registered[v.URL] = true
			if v.Workflow != "" || !filepath.IsLocal(v.URL) {
				continue // a workflow's node, or an archive from outside the store
			}
			path := filepath.Join(s.cfg.ModelStore, v.URL)
			st, err := stampOf(path)
			if err != nil {
				continue // gone, or being replaced: look again next time
			}
			key := v.Name + "/" + v.Version
			old, known := seen[key]
			seen[key] = st
			if !known || old == st || reloaded[path] {
				continue
			}
			reloaded[path] = true
			// a Triton model folder reloads every version its policy serves (the new highest
			// registered as the default; those it no longer serves stay until unregistered)
			s.log.Info("model archive changed: reloading", "model", v.Name, "version", v.Version, "url", v.URL)
			if _, err := s.reg.ReloadAll(ctx, registry.Spec{Path: path, URL: v.URL, Name: v.Name, Synchronous: true}); err != nil {
				s.log.Warn("changed archive not loaded; the loaded version goes on serving", "model", v.Name, "version", v.Version, "url", v.URL, "err", err)
			}
		}
	}
	if slices.Contains(s.cfg.LoadModels, "all") {
		s.pollNew(ctx, seen, registered)
	}
}

// pollNew registers, for load_models=all, the archives of the store that no version came
// from and that appeared or changed since the last look (seen records them by "store:"
// name; the first look only records).
func (s *Server) pollNew(ctx context.Context, seen map[string]archiveStamp, registered map[string]bool) {
	_, looked := seen[storeLooked]
	seen[storeLooked] = archiveStamp{}
	names, err := archive.List(s.cfg.ModelStore)
	if err != nil {
		s.log.Warn("model store not read", "err", err)
		return
	}
	for _, name := range names {
		path := filepath.Join(s.cfg.ModelStore, name)
		st, err := stampOf(path)
		if err != nil {
			continue
		}
		key := "store:" + name
		old, known := seen[key]
		seen[key] = st // registered ones too: unregistered later, unchanged, they stay out
		if !looked || registered[name] || (known && old == st) {
			continue
		}
		s.log.Info("new archive in the model store: registering", "url", name)
		if _, err := s.reg.RegisterAll(ctx, registry.Spec{Path: path, URL: name, Startup: true, Synchronous: true}); err != nil {
			s.log.Warn("new archive not registered", "url", name, "err", err)
		}
	}
}

// storeLooked, in seen, records that the store's archives were listed once.
const storeLooked = "store looked"
