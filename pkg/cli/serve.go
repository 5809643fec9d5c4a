package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/registry"
	"github.com/tsserve/ts/pkg/server"
)

// ServeCmd is `ts serve`.
type ServeCmd struct {
	ModelStore        string   `name:"model-store" type:"path" placeholder:"DIR" help:"Folder of model archives (TorchServe's model_store)."`
	Models            []string `name:"models" placeholder:"NAME=FILE.mar" help:"Models to load at start: all, FILE.mar or NAME=FILE.mar (repeat the flag or separate with commas)."`
	InferenceAddress  string   `name:"inference-address" placeholder:"ADDR" help:"Inference API address (default http://127.0.0.1:8080)."`
	ManagementAddress string   `name:"management-address" placeholder:"ADDR" help:"Management API address (default http://127.0.0.1:8081)."`
	Workers           int      `name:"workers" placeholder:"N" help:"Workers per model (default 1)."`
	Provider          string   `name:"provider" default:"cpu" help:"Execution provider: cpu, cuda[:N] or tensorrt[:N]."`
	ProviderFallback  bool     `name:"provider-fallback" help:"Run on CPU, with a warning, when the execution provider is not available."`
	IntraOpThreads    int      `name:"intra-op-threads" placeholder:"N" help:"ONNX Runtime intra-op threads per session (default: ONNX Runtime's choice)."`
}

func (c *ServeCmd) settings() config.Server {
	s := config.DefaultServer()
	if c.ModelStore != "" {
		s.ModelStore = c.ModelStore
	}
	s.LoadModels = c.Models
	if c.InferenceAddress != "" {
		s.InferenceAddress = c.InferenceAddress
	}
	if c.ManagementAddress != "" {
		s.ManagementAddress = c.ManagementAddress
	}
	if c.Workers > 0 {
		s.DefaultWorkersPerModel = c.Workers
	}
	return s
}

// Run serves until SIGINT or SIGTERM, then drains requests in flight and exits.
func (c *ServeCmd) Run(g *Globals) error {
	log := g.Logger()
	s := c.settings()
	lib, err := g.InitEngine()
	if err != nil {
		return err
	}
	log.Info("ONNX Runtime loaded", "version", lib.Version, "path", lib.Path, "providers", strings.Join(lib.Providers, ","))
	if _, _, err := engine.ParseProvider(c.Provider); err != nil {
		return err
	}
	toLoad, err := s.ModelsToLoad(listArchives)
	if err != nil {
		return err
	}
	listeners := map[string]net.Listener{}
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	for api, addr := range map[string]string{"inference": s.InferenceAddress, "management": s.ManagementAddress} {
		ln, err := server.Bind(addr)
		if err != nil {
			return err
		}
		listeners[api] = ln
	}

	tmp, err := os.MkdirTemp("", "ts-models-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	reg := registry.New(registry.Options{
		TempDir: tmp,
		Logger:  log,
		Engine: engine.Options{
			Provider: c.Provider, ProviderFallback: c.ProviderFallback,
			IntraOpThreads: c.IntraOpThreads, Logger: log,
		},
	})
	defer reg.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	loadAll(ctx, reg, toLoad, s.DefaultWorkersPerModel, log)
	srv := server.New(reg, server.Options{MaxRequestSize: s.MaxRequestSize, Logger: log})
	err = srv.Serve(ctx, listeners, 30*time.Second)
	log.Info("stopped")
	return err
}

// loadAll loads the start-up models in parallel; a model that fails is logged and skipped.
func loadAll(ctx context.Context, reg *registry.Registry, models []config.ModelToLoad, workers int, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, m := range models {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := reg.Register(ctx, registry.Spec{Path: m.Path, URL: m.File, Name: m.Name, Workers: workers})
			if err != nil {
				log.Error("model failed to load", "file", m.File, "err", err)
			}
		}()
	}
	wg.Wait()
}

// listArchives lists the model archives in a model store: .mar, .tar.gz, .tar.zst files and
// folders holding a manifest.
func listArchives(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(dir, name, filepath.FromSlash(archive.ManifestPath))); err == nil {
				out = append(out, name)
			}
			continue
		}
		for _, ext := range []string{".mar", ".tar.gz", ".tgz", ".tar.zst"} {
			if strings.HasSuffix(name, ext) {
				out = append(out, name)
				break
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no model archives in %s", dir)
	}
	return out, nil
}
