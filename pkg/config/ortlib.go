package config

import (
	"os"
	"path/filepath"
	"runtime"
)

// EnvORTLib names the ONNX Runtime shared library to load (same as --ort-lib).
const EnvORTLib = "TS_ORT_LIB"

// SetupDir is the folder `make setup` fills with ONNX Runtime (<repo>/.ort). The Makefile
// sets it at link time; when it is empty, ts looks for a .ort folder above the working
// directory and above the executable.
var SetupDir = ""

// LibraryCandidate is a place to look for the ONNX Runtime library and where it came from.
type LibraryCandidate struct {
	Path   string
	Source string
}

// ORTPlatform is the set-up sub-folder for this OS and architecture, e.g. "linux-x64".
func ORTPlatform() string {
	arch := runtime.GOARCH
	if arch == "amd64" {
		arch = "x64"
	}
	return runtime.GOOS + "-" + arch
}

// ORTLibraryNames are the file names of the library on this OS, preferred first.
func ORTLibraryNames() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{"libonnxruntime.dylib"}
	case "windows":
		return []string{"onnxruntime.dll"}
	}
	return []string{"libonnxruntime.so.1", "libonnxruntime.so"}
}

// ORTCandidates lists where to find ONNX Runtime, in order: the --ort-lib flag, TS_ORT_LIB,
// beside the executable, the set-up folder. A library named by the flag or the variable is
// the only candidate: ts never silently swaps a library the user chose for another.
func ORTCandidates(flag string) []LibraryCandidate {
	if flag != "" {
		return []LibraryCandidate{{flag, "--ort-lib"}}
	}
	if env := os.Getenv(EnvORTLib); env != "" {
		return []LibraryCandidate{{env, EnvORTLib}}
	}
	var out []LibraryCandidate
	exeDir := ""
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		exeDir = filepath.Dir(exe)
		for _, n := range ORTLibraryNames() {
			out = append(out, LibraryCandidate{filepath.Join(exeDir, n), "beside the executable"})
		}
	}
	for _, dir := range setupDirs(exeDir) {
		out = append(out, LibraryCandidate{filepath.Join(dir, ORTPlatform(), ORTLibraryNames()[0]), "set-up folder"})
	}
	return out
}

// setupDirs returns SetupDir, or else the nearest .ort folders above the working directory
// and the executable.
func setupDirs(exeDir string) []string {
	if SetupDir != "" {
		return []string{SetupDir}
	}
	var dirs []string
	seen := map[string]bool{}
	starts := []string{exeDir}
	if wd, err := os.Getwd(); err == nil {
		starts = append([]string{wd}, starts...)
	}
	for _, start := range starts {
		for dir := start; dir != "" && dir != "."; dir = filepath.Dir(dir) {
			cand := filepath.Join(dir, ".ort")
			if st, err := os.Stat(cand); err == nil && st.IsDir() {
				if !seen[cand] {
					seen[cand] = true
					dirs = append(dirs, cand)
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if len(dirs) == 0 {
		dirs = append(dirs, ".ort") // named in the error message so users see where set-up puts it
	}
	return dirs
}

// Environment variables of the ts client commands (ts register, list, infer, ...).
const (
	// EnvHost is the server's inference API, like OLLAMA_HOST: host[:port] or http(s)://host[:port].
	EnvHost = "TS_HOST"
	// EnvManagementHost and EnvMetricsHost override the addresses derived from EnvHost.
	EnvManagementHost = "TS_MANAGEMENT_HOST"
	EnvMetricsHost    = "TS_METRICS_HOST"
	// EnvToken is sent as a bearer token.
	EnvToken = "TS_TOKEN"
	// EnvForceTTY makes the CLI write for a terminal even into a pipe (for tests).
	EnvForceTTY = "TS_FORCE_TTY"
	// EnvLogFormat is the log's format, text or json (--log-format), for every command.
	EnvLogFormat = "TS_LOG_FORMAT"
)

// Log formats (--log-format, TS_LOG_FORMAT).
const (
	LogText = "text" // slog's key=value lines
	LogJSON = "json" // a JSON object a line, for log collectors
)

// EnvMallocMmapThreshold is glibc's own variable for the size from which allocations get
// their own mappings. When it is set, ts leaves the C allocator as the user configured it.
const EnvMallocMmapThreshold = "MALLOC_MMAP_THRESHOLD_"

// DefaultMallocMmapThreshold is glibc's initial threshold (128 KiB), which ts keeps fixed
// instead of letting glibc raise it (engine.SetMmapThreshold explains why).
const DefaultMallocMmapThreshold = 128 << 10

// MallocMmapThreshold is the threshold ts fixes before loading ONNX Runtime: 0 (leave the
// allocator alone) when MALLOC_MMAP_THRESHOLD_ is set.
func MallocMmapThreshold() int {
	if os.Getenv(EnvMallocMmapThreshold) != "" {
		return 0
	}
	return DefaultMallocMmapThreshold
}
