// Package engine runs ONNX models with ONNX Runtime through onnxruntime_go. It is the only
// package that uses cgo: it loads the shared library, creates sessions and moves tensors
// in and out of them.
package engine

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/tsserve/ts/pkg/config"
)

// Candidate is a place to look for the ONNX Runtime library; config.ORTCandidates lists them.
type Candidate = config.LibraryCandidate

// Library describes the ONNX Runtime library in use.
type Library struct {
	Path      string   `json:"path"`
	Source    string   `json:"source"`
	Version   string   `json:"version"`
	Providers []string `json:"providers"`
}

// LoadError says that no candidate library could be loaded: what was tried, why each failed,
// and how to fix it, in one line.
type LoadError struct {
	Tried []string
}

func (e *LoadError) Error() string {
	tried := "no library path was given"
	if len(e.Tried) > 0 {
		tried = "tried " + strings.Join(e.Tried, "; ")
	}
	return "cannot load ONNX Runtime: " + tried +
		"; run 'make setup' to fetch it, or point --ort-lib or TS_ORT_LIB at libonnxruntime.so (1.24 or newer)"
}

var (
	initMu  sync.Mutex
	current *Library
)

// Init loads the first candidate that works and initialises the ONNX Runtime environment.
// It is safe to call more than once: after a success it returns the library already loaded.
// Explicit choices (--ort-lib, TS_ORT_LIB) should be passed alone, so a library the user
// named is never silently replaced by another.
func Init(candidates []Candidate) (*Library, error) {
	initMu.Lock()
	defer initMu.Unlock()
	if current != nil {
		return current, nil
	}
	var tried []string
	for _, c := range candidates {
		if err := tryLoad(c.Path); err != nil {
			tried = append(tried, fmt.Sprintf("%s (%s): %v", c.Path, c.Source, err))
			continue
		}
		current = &Library{Path: c.Path, Source: c.Source, Version: ort.GetVersion(), Providers: probeProviders()}
		return current, nil // probeProviders leaves the log level at runtimeLogLevel
	}
	return nil, &LoadError{Tried: tried}
}

// InitTuned is Init after SetMmapThreshold(mmapThreshold), as ts serves; a threshold of 0
// leaves the C allocator alone.
func InitTuned(candidates []Candidate, mmapThreshold int) (*Library, error) {
	if mmapThreshold > 0 {
		SetMmapThreshold(mmapThreshold)
	}
	return Init(candidates)
}

// Loaded returns the library Init loaded, or nil.
func Loaded() *Library {
	initMu.Lock()
	defer initMu.Unlock()
	return current
}

func tryLoad(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no such file")
		}
		return err
	}
	if st.IsDir() {
		return errors.New("is a folder, not a library file")
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return errors.New(oneLine(err.Error()))
	}
	_ = ort.DisableTelemetry()
	return nil
}

// runtimeLogLevel is the least severe of ONNX Runtime's own log lines that it prints.
var runtimeLogLevel ort.LoggingLevel = ort.LoggingLevelError

// SetRuntimeLogging sets which of ONNX Runtime's own log lines reach stderr, outside ts's
// log: with verbose, its warnings and errors; otherwise only fatal ones, since every error of
// a load or a run is returned, and so logged by ts and answered to the client, anyway.
func SetRuntimeLogging(verbose bool) error {
	initMu.Lock()
	defer initMu.Unlock()
	runtimeLogLevel = ort.LoggingLevelFatal
	if verbose {
		runtimeLogLevel = ort.LoggingLevelWarning
	}
	if current == nil {
		return nil
	}
	return ort.SetEnvironmentLogLevel(runtimeLogLevel)
}

// oneLine folds a multi-line library message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// probeProviders lists the execution providers the loaded library can use, by asking for
// each on a throw-away set of session options. CPU is always there.
func probeProviders() []string {
	// A missing provider is the normal case here: keep ONNX Runtime from logging it.
	_ = ort.SetEnvironmentLogLevel(ort.LoggingLevelFatal)
	defer ort.SetEnvironmentLogLevel(runtimeLogLevel)
	providers := []string{"cpu"}
	probes := []struct {
		name string
		add  func(*ort.SessionOptions) error
	}{
		{"cuda", func(o *ort.SessionOptions) error {
			c, err := ort.NewCUDAProviderOptions()
			if err != nil {
				return err
			}
			defer c.Destroy()
			return o.AppendExecutionProviderCUDA(c)
		}},
		{"tensorrt", func(o *ort.SessionOptions) error {
			t, err := ort.NewTensorRTProviderOptions()
			if err != nil {
				return err
			}
			defer t.Destroy()
			return o.AppendExecutionProviderTensorRT(t)
		}},
	}
	for _, p := range probes {
		opts, err := ort.NewSessionOptions()
		if err != nil {
			continue
		}
		if p.add(opts) == nil {
			providers = append(providers, p.name)
		}
		opts.Destroy()
	}
	return providers
}
