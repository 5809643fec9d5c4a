package config

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestORTCandidates(t *testing.T) {
	t.Setenv(EnvORTLib, "")
	if c := ORTCandidates("/flag/lib.so"); len(c) != 1 || c[0].Path != "/flag/lib.so" || c[0].Source != "--ort-lib" {
		t.Errorf("flag: %v", c)
	}
	t.Setenv(EnvORTLib, "/env/lib.so")
	if c := ORTCandidates("/flag/lib.so"); len(c) != 1 || c[0].Source != "--ort-lib" {
		t.Errorf("flag must win over %s: %v", EnvORTLib, c)
	}
	if c := ORTCandidates(""); len(c) != 1 || c[0].Path != "/env/lib.so" || c[0].Source != EnvORTLib {
		t.Errorf("env: %v", c)
	}
	t.Setenv(EnvORTLib, "")
	c := ORTCandidates("")
	var sources []string
	for _, x := range c {
		sources = append(sources, x.Source)
	}
	if len(c) < 2 || sources[0] != "beside the executable" || sources[len(sources)-1] != "set-up folder" {
		t.Errorf("default order: %v", sources)
	}
	// the set-up folder is found above the working directory (tests run in pkg/config)
	last := c[len(c)-1].Path
	if !strings.HasSuffix(last, filepath.Join(".ort", ORTPlatform(), ORTLibraryNames()[0])) {
		t.Errorf("set-up candidate %s", last)
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(last))); err != nil {
		t.Errorf("set-up folder not found from the working directory: %v", err)
	}
}

func TestModelsToLoad(t *testing.T) {
	store := t.TempDir()
	list := func(string) ([]string, error) { return []string{"a.mar", "b.mar"}, nil }
	s := Settings{ModelStore: store, LoadModels: []string{"digits=digits.mar", "iris.mar", "all"}}
	got, err := s.ModelsToLoad(list)
	if err != nil {
		t.Fatal(err)
	}
	var names, urls []string
	for _, m := range got {
		names = append(names, m.Name)
		urls = append(urls, m.URL)
	}
	if !slices.Equal(names, []string{"digits", "", "", ""}) || !slices.Equal(urls, []string{"digits.mar", "iris.mar", "a.mar", "b.mar"}) {
		t.Errorf("names %q urls %q", names, urls)
	}
	// entries are urls, checked where they are resolved (as POST /models'); a URL's own "="
	// does not make a name
	s = Settings{ModelStore: store, LoadModels: []string{"x=../secret.mar", "http://h/m.mar?a=b", "r=http://h/m.mar?a=b", "team/m.mar"}}
	got, err = s.ModelsToLoad(list)
	if err != nil {
		t.Fatal(err)
	}
	want := []ModelToLoad{{Name: "x", URL: "../secret.mar"}, {URL: "http://h/m.mar?a=b"}, {Name: "r", URL: "http://h/m.mar?a=b"}, {URL: "team/m.mar"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := (&Settings{LoadModels: []string{"a.mar"}}).ModelsToLoad(list); err == nil {
		t.Errorf("load_models without a model store accepted")
	}
}

// TorchServe's model_snapshot, as KServe's config.properties holds it: each version is
// loaded at start from its marName, with its settings (as the models key gives them,
// which wins where it sets the same version) and its default.
func TestModelSnapshot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.properties")
	os.WriteFile(file, []byte(`model_store=/mnt/models/model-store
models={"mnist": {"2.0": {"batchSize": 8}}}
model_snapshot={"name":"startup.cfg","modelCount":3,"models":{"mnist":{"1.0":{"defaultVersion":true,"marName":"mnist.mar","minWorkers":1,"maxWorkers":5,"batchSize":4,"maxBatchDelay":10,"responseTimeout":120},"2.0":{"marName":"mnist-v2.mar","batchSize":2}},"iris":{"1.0":{"defaultVersion":true,"marName":"iris.mar","minWorkers":2}}}}
`), 0o644)
	s, err := Load(Inputs{ConfigFile: file})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ModelsToLoad(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []ModelToLoad{{Name: "iris", Version: "1.0", Default: true, URL: "iris.mar"}, {Name: "mnist", Version: "1.0", Default: true, URL: "mnist.mar"}, {Name: "mnist", Version: "2.0", URL: "mnist-v2.mar"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if m := s.Models["mnist"]["1.0"]; m.BatchSize == nil || *m.BatchSize != 4 || *m.MinWorkers != 1 || *m.MaxBatchDelay != 10 {
		t.Errorf("mnist 1.0's settings %+v", m)
	}
	if m := s.Models["mnist"]["2.0"]; m.BatchSize == nil || *m.BatchSize != 8 {
		t.Errorf("models' own settings for mnist 2.0 lost: %+v", m)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("warnings %q", s.Warnings)
	}
	os.WriteFile(file, []byte(`model_store=/m
model_snapshot={"models":{"mnist":{"1.0":{"minWorkers":1}}}}
`), 0o644)
	if _, err := Load(Inputs{ConfigFile: file}); err == nil || !strings.Contains(err.Error(), "model_snapshot (from file "+file+"): model mnist version 1.0 has no marName") {
		t.Errorf("no marName: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.properties")
	os.WriteFile(file, []byte(`
inference_address=http://127.0.0.1:9080
management_address=http://127.0.0.1:9081
job_queue_size=7
model_store=$$STORE$$
number_of_netty_threads=4
no_such_key=1
models={"digits": {"1.0": {"batchSize": 8, "maxBatchDelay": 5}}}
`), 0o644)
	env := []string{"STORE=/models", "TS_JOB_QUEUE_SIZE=9", "TS_MANAGEMENT_ADDRESS=http://127.0.0.1:7081"}
	s, err := Load(Inputs{ConfigFile: file, Env: env, Flags: map[string]string{"inference_address": "127.0.0.1:1234"}})
	if err != nil {
		t.Fatal(err)
	}
	// env vars only apply with enable_envvars_config
	if s.JobQueueSize != 7 || s.ManagementAddress != "http://127.0.0.1:9081" || s.InferenceAddress != "127.0.0.1:1234" || s.ModelStore != "/models" {
		t.Errorf("%+v", s)
	}
	if s.Source("inference_address") != "--inference-address" || s.Source("job_queue_size") != "file "+file || s.Source("metrics_address") != "default" {
		t.Errorf("sources %q %q %q", s.Source("inference_address"), s.Source("job_queue_size"), s.Source("metrics_address"))
	}
	if len(s.Warnings) != 2 || !strings.Contains(strings.Join(s.Warnings, "|"), "number_of_netty_threads is not supported") {
		t.Errorf("warnings %q", s.Warnings)
	}
	if *s.Models["digits"]["1.0"].BatchSize != 8 {
		t.Errorf("models %+v", s.Models)
	}
	s, err = Load(Inputs{ConfigFile: file, Env: append(env, "TS_ENABLE_ENVVARS_CONFIG=true")})
	if err != nil {
		t.Fatal(err)
	}
	if s.JobQueueSize != 9 || s.ManagementAddress != "http://127.0.0.1:7081" || s.Source("job_queue_size") != "env TS_JOB_QUEUE_SIZE" {
		t.Errorf("env: %d %s %s", s.JobQueueSize, s.ManagementAddress, s.Source("job_queue_size"))
	}
	var out strings.Builder
	s.Print(&out)
	for _, want := range []string{"job_queue_size", "= 9", "# env TS_JOB_QUEUE_SIZE", "# default", "# warning: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("print-config lacks %q:\n%s", want, out.String())
		}
	}
}

func TestInvalidValues(t *testing.T) {
	cases := map[string]string{
		"job_queue_size":                        "many",
		"enable_model_api":                      "yes please",
		"inference_address":                     "ftp://127.0.0.1:8443",
		"management_address":                    "localhost",
		"metrics_address":                       "unix:",
		"models":                                "{not json",
		"allowed_urls":                          "http://(unclosed",
		"max_request_size":                      "-5",
		"default_workers_per_model":             "1000000",
		"intra_op_threads":                      "5000",
		"certificate_file":                      "c.pem", // with no private_key_file
		"grpc_inference_port":                   "70000",
		"grpc_management_address":               "http://127.0.0.1",
		"grpc_management_max_connection_age_ms": "-1",
		"number_of_gpu":                         "-1",
		"service_envelope":                      "soap",
		"client_ca_file":                        "ca.pem", // with no certificate of the server's
		"job_queue_full_status":                 "500",
	}
	for key, v := range cases {
		_, err := Load(Inputs{Flags: map[string]string{key: v}})
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%s: error %v does not name the key", key, v, err)
		}
	}
	for key, v := range map[string]string{"default_workers_per_model": "1024", "intra_op_threads": "1024", "inference_address": "unix:/run/ts/inference.sock", "service_envelope": "KServeV2"} {
		if _, err := Load(Inputs{Flags: map[string]string{key: v}}); err != nil {
			t.Errorf("%s=%s, the limit itself: %v", key, v, err)
		}
	}
	if _, err := Load(Inputs{Flags: map[string]string{"enable_http": "false", "enable_grpc": "false"}}); err == nil ||
		!strings.Contains(err.Error(), "enable_http (from --http): false leaves the gRPC APIs to serve") {
		t.Errorf("neither HTTP nor gRPC: %v", err)
	}
	if _, err := Load(Inputs{ConfigFile: filepath.Join(t.TempDir(), "missing.properties")}); err == nil {
		t.Error("a missing --ts-config file was accepted")
	}
	s, err := Load(Inputs{Env: []string{}})
	if err != nil || s.DefaultWorkersPerModel < 1 || s.EnableModelAPI != true || len(s.AllowedURLs) != 0 {
		t.Errorf("defaults: %+v %v", s, err)
	}
}

// TestNumberOfGPU: number_of_gpu counts the GPUs the models go round; unset, the GPUs the
// NVIDIA driver lists (a folder each), none without the driver.
func TestNumberOfGPU(t *testing.T) {
	dir := t.TempDir()
	for _, gpu := range []string{"0000:17:00.0", "0000:65:00.0", "0000:ca:00.0"} {
		os.Mkdir(filepath.Join(dir, gpu), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "README"), nil, 0o644) // not a GPU
	defer func(old string) { NVIDIAGPUs = old }(NVIDIAGPUs)
	NVIDIAGPUs = dir
	s, err := Load(Inputs{Env: []string{}})
	if err != nil || s.NumberOfGPU != 3 {
		t.Errorf("three GPUs listed by the driver: %d %v", s.NumberOfGPU, err)
	}
	s, err = Load(Inputs{Env: []string{}, Flags: map[string]string{"number_of_gpu": "1"}})
	if err != nil || s.NumberOfGPU != 1 {
		t.Errorf("number_of_gpu=1: %d %v", s.NumberOfGPU, err)
	}
	NVIDIAGPUs = filepath.Join(dir, "none")
	if s, err := Load(Inputs{Env: []string{}}); err != nil || s.NumberOfGPU != 0 {
		t.Errorf("no NVIDIA driver: %d %v", s.NumberOfGPU, err)
	}
}

// TestGRPCAddresses: TorchServe's gRPC keys, a host and a port each, make the gRPC APIs'
// addresses; enable_grpc_ssl makes them https://; enable_grpc=false leaves them empty.
func TestGRPCAddresses(t *testing.T) {
	for _, c := range []struct {
		name           string
		flags          map[string]string
		inference, mgr string
	}{
		{"defaults", nil, "http://127.0.0.1:7070", "http://127.0.0.1:7071"},
		{"hosts and ports", map[string]string{"grpc_inference_address": "0.0.0.0", "grpc_inference_port": "9070",
			"grpc_management_address": "::1", "grpc_management_port": "0"}, "http://0.0.0.0:9070", "http://[::1]:0"},
		{"TLS", map[string]string{"enable_grpc_ssl": "true", "certificate_file": "c.pem", "private_key_file": "k.pem"},
			"https://127.0.0.1:7070", "https://127.0.0.1:7071"},
		{"off", map[string]string{"enable_grpc": "false"}, "", ""},
	} {
		s, err := Load(Inputs{Flags: c.flags, Env: []string{}})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if s.GRPCInference.Address != c.inference || s.GRPCManagement.Address != c.mgr {
			t.Errorf("%s: %q, %q, want %q, %q", c.name, s.GRPCInference.Address, s.GRPCManagement.Address, c.inference, c.mgr)
		}
	}
	s, err := Load(Inputs{Flags: map[string]string{"grpc_inference_max_connection_age_ms": "1500", "grpc_inference_max_connection_age_grace_ms": "250"}, Env: []string{}})
	if err != nil || s.GRPCInference.MaxConnectionAge != 1500*time.Millisecond || s.GRPCInference.MaxConnectionAgeGrace != 250*time.Millisecond ||
		s.GRPCManagement.MaxConnectionAge != 0 {
		t.Errorf("connection ages: %+v, %+v (%v)", s.GRPCInference, s.GRPCManagement, err)
	}
}

func TestMallocMmapThresholdLeavesTheUsersSetting(t *testing.T) {
	t.Setenv(EnvMallocMmapThreshold, "")
	if got := MallocMmapThreshold(); got != DefaultMallocMmapThreshold {
		t.Errorf("without %s: %d, want %d", EnvMallocMmapThreshold, got, DefaultMallocMmapThreshold)
	}
	t.Setenv(EnvMallocMmapThreshold, "1048576")
	if got := MallocMmapThreshold(); got != 0 {
		t.Errorf("with %s set: %d, want 0 (leave glibc as the user set it)", EnvMallocMmapThreshold, got)
	}
}

// TestAddressPorts: Triton's --http-address, --http-port and --metrics-port replace the host
// or port of the address, the rest kept from wherever it came, and --print-config names both
// sources.
func TestAddressPorts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.properties")
	os.WriteFile(file, []byte("inference_address=http://0.0.0.0:9080/\nmetrics_address=unix:/run/ts/metrics.sock\n"), 0o644)
	port := func(key string, p int, flag string) map[string]AddressPart {
		return map[string]AddressPart{key: {Port: &p, Flag: flag}}
	}
	cases := []struct {
		name        string
		in          Inputs
		key         string
		want, from  string
		errContains string
	}{
		{"default host", Inputs{Parts: port("inference_address", 8000, "--http-port")},
			"inference_address", "http://127.0.0.1:8000", "--http-port", ""},
		{"the file's host", Inputs{ConfigFile: file, Parts: port("inference_address", 8000, "--http-port")},
			"inference_address", "http://0.0.0.0:8000", "file " + file + ", then --http-port", ""},
		{"the flag's address", Inputs{Flags: map[string]string{"metrics_address": "https://[::1]:9443"}, Parts: port("metrics_address", 8002, "--metrics-port")},
			"metrics_address", "https://[::1]:8002", "--metrics-address, then --metrics-port", ""},
		{"plain host:port", Inputs{Flags: map[string]string{"metrics_address": "localhost:9082"}, Parts: port("metrics_address", 8002, "--metrics-port")},
			"metrics_address", "localhost:8002", "--metrics-address, then --metrics-port", ""},
		{"a unix socket", Inputs{ConfigFile: file, Parts: port("metrics_address", 8002, "--metrics-port")},
			"", "", "", "--metrics-port: metrics_address (from file " + file + "): unix:/run/ts/metrics.sock is a Unix socket, which has no host or port"},
		{"a host", Inputs{ConfigFile: file, Parts: map[string]AddressPart{"inference_address": {Host: "::", Flag: "--http-address"}}},
			"inference_address", "http://[::]:9080", "file " + file + ", then --http-address", ""},
		{"a host and a port", Inputs{Parts: map[string]AddressPart{"inference_address": {Host: "0.0.0.0", Port: new(8000), Flag: "--http-address and --http-port"}}},
			"inference_address", "http://0.0.0.0:8000", "--http-address and --http-port", ""},
		{"not a port", Inputs{Parts: port("inference_address", 70000, "--http-port")},
			"", "", "", "--http-port: inference_address (from default): 70000 is not a port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.in.Env = []string{}
			s, err := Load(c.in)
			if c.errContains != "" {
				if err == nil || !strings.Contains(err.Error(), c.errContains) {
					t.Fatalf("error %v, want one with %q", err, c.errContains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Value(c.key) != c.want || s.Source(c.key) != c.from {
				t.Errorf("%s = %q from %q, want %q from %q", c.key, s.Value(c.key), s.Source(c.key), c.want, c.from)
			}
		})
	}
}

func TestRestrictions(t *testing.T) {
	s, err := Load(Inputs{Flags: map[string]string{
		"http_restricted_api":      "model-repository,model-config:admin-key=s3cr=t ; inference:infer-key=abc",
		"grpc_restricted_protocol": "health:probe=1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantHTTP := Restrictions{"model-repository": {"admin-key", "s3cr=t"}, "model-config": {"admin-key", "s3cr=t"}, "inference": {"infer-key", "abc"}}
	if len(s.RestrictedHTTP) != len(wantHTTP) {
		t.Errorf("http: %v", s.RestrictedHTTP)
	}
	for g, r := range wantHTTP {
		if s.RestrictedHTTP[g] != r {
			t.Errorf("http %s: %v, want %v", g, s.RestrictedHTTP[g], r)
		}
	}
	if got := s.RestrictedHTTP.String(); got != "inference:infer-key model-config:admin-key model-repository:admin-key" {
		t.Errorf("String: %q", got)
	}
	if r := s.RestrictedGRPC["health"]; len(s.RestrictedGRPC) != 1 || r != (Restriction{"triton-grpc-protocol-probe", "1"}) {
		t.Errorf("grpc: %v", s.RestrictedGRPC)
	}
	var out strings.Builder
	if err := s.Print(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "s3cr") || strings.Contains(out.String(), "abc") ||
		!strings.Contains(out.String(), "model-repository,model-config:admin-key=(hidden); inference:infer-key=(hidden)") {
		t.Errorf("--print-config must show the rules and hide their values:\n%s", out.String())
	}

	for rules, want := range map[string]string{
		"model-repository":                        "want GROUP,...:HEADER=VALUE",
		"model-repository:admin-key":              "want GROUP,...:HEADER=VALUE",
		"model-repository:admin-key=":             "want GROUP,...:HEADER=VALUE",
		":admin-key=x":                            "want GROUP,...:HEADER=VALUE",
		"models:admin-key=x":                      `unknown API group "models"`,
		"health:a=1;health,trace:b=2":             "API group health is restricted by another rule already",
		"health:bad header=1":                     `"bad header" is not a header name`,
		"health:k=line\nbreak":                    "the value holds characters a header cannot",
		"model-repository,,trace:admin-key=x":     `unknown API group ""`,
		"inference:x-key=1;model-config:x-key=2;": "",
		"  ;  ": "",
	} {
		_, err := Load(Inputs{Flags: map[string]string{"http_restricted_api": rules}})
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", rules, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "http_restricted_api (from flag)")):
			t.Errorf("%q: got %v, want %q", rules, err, want)
		}
	}
}

// TestListeners: the APIs a server listens on, by its settings: no metrics listener with
// enable_metrics_api=false (Triton's --allow-metrics=false), no gRPC ones with enable_grpc=false,
// no HTTP inference and management ones with enable_http=false (Triton's --allow-http=false);
// client_ca_file wants one of them over TLS.
func TestListeners(t *testing.T) {
	for _, c := range []struct {
		flags map[string]string
		want  []string
	}{
		{nil, []string{APIGRPCInference, APIGRPCManagement, APIInference, APIManagement, APIMetrics}},
		{map[string]string{"enable_metrics_api": "false"}, []string{APIGRPCInference, APIGRPCManagement, APIInference, APIManagement}},
		{map[string]string{"enable_grpc": "false", "enable_metrics_api": "false"}, []string{APIInference, APIManagement}},
		{map[string]string{"enable_http": "false"}, []string{APIGRPCInference, APIGRPCManagement, APIMetrics}},
	} {
		cfg, err := Load(Inputs{Flags: c.flags, Env: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(cfg.Listeners())); !slices.Equal(got, c.want) {
			t.Errorf("%v: listens for %v, want %v", c.flags, got, c.want)
		}
	}
	for _, c := range []struct {
		flags map[string]string
		ok    bool
	}{
		{map[string]string{"inference_address": "https://127.0.0.1:8443"}, true},
		{map[string]string{"enable_grpc_ssl": "true"}, true},
		{map[string]string{}, false},
		// the TLS listener is not one: its API is off
		{map[string]string{"metrics_address": "https://127.0.0.1:8445", "enable_metrics_api": "false"}, false},
		{map[string]string{"enable_grpc_ssl": "true", "enable_grpc": "false"}, false},
	} {
		c.flags["client_ca_file"] = "ca.pem"
		_, err := Load(Inputs{Flags: c.flags, Env: []string{}})
		if c.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "client_ca_file (from --client-ca-file): client certificates are asked over TLS") {
			t.Errorf("%v: %v", c.flags, err)
		}
	}
}
