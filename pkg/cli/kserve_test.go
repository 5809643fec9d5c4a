package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// kserveStorage lays out what KServe's storage initializer puts in /mnt/models for the
// TorchServe runtime: model-store/iris.mar and config/config.properties as KServe writes it
// (inference and management on 8085, the model in model_snapshot).
func kserveStorage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := archive.Pack(context.Background(), archive.PackOptions{ModelName: "iris", SerializedFile: testenv.Path("samples/iris/model.onnx"),
		Handler: "tensor", ExportPath: filepath.Join(dir, "model-store")}); err != nil {
		t.Fatal(err)
	}
	config := `inference_address=http://0.0.0.0:8085
management_address=http://0.0.0.0:8085
metrics_address=http://0.0.0.0:8082
grpc_inference_port=7070
enable_metrics_api=true
metrics_format=prometheus
number_of_netty_threads=4
job_queue_size=10
enable_envvars_config=true
install_py_dep_per_model=true
model_store=/mnt/models/model-store
model_snapshot={"name":"startup.cfg","modelCount":1,"models":{"iris":{"1.0":{"defaultVersion":true,"marName":"iris.mar","minWorkers":1,"maxWorkers":1,"batchSize":1,"maxBatchDelay":10,"responseTimeout":120}}}}
`
	os.MkdirAll(filepath.Join(dir, "config"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "config", "config.properties"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestKServeServingRuntime: the ClusterServingRuntime in templates/kserve starts ts with
// arguments it takes, on storage laid out as KServe lays it out for TorchServe, and the
// model answers KServe's v1 and v2 protocols on the inference address (here a free port
// instead of 8080), with /ping (its readiness probe) healthy.
func TestKServeServingRuntime(t *testing.T) {
	b, err := os.ReadFile(testenv.Path("templates/kserve/servingruntime.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rt struct {
		Kind string
		Spec struct {
			ProtocolVersions []string `yaml:"protocolVersions"`
			Containers       []struct {
				Name           string
				Args           []string
				ReadinessProbe struct {
					HTTPGet struct {
						Path string
						Port int
					} `yaml:"httpGet"`
				} `yaml:"readinessProbe"`
			}
		}
	}
	if err := yaml.Unmarshal(b, &rt); err != nil {
		t.Fatal(err)
	}
	if rt.Kind != "ClusterServingRuntime" || len(rt.Spec.Containers) != 1 || rt.Spec.Containers[0].Name != "kserve-container" {
		t.Fatalf("runtime: %+v", rt)
	}
	c := rt.Spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" || c.ReadinessProbe.HTTPGet.Path != "/ping" || c.ReadinessProbe.HTTPGet.Port != 8080 {
		t.Fatalf("container: %+v", c)
	}
	if !strings.Contains(strings.Join(c.Args, " "), "--inference-address=http://0.0.0.0:8080") {
		t.Errorf("the inference API is not on 8080, KServe's port: %v", c.Args)
	}
	storage := kserveStorage(t)
	var args []string
	for _, a := range c.Args[1:] {
		a = strings.ReplaceAll(a, "/mnt/models", storage)
		if name, _, ok := strings.Cut(a, "="); ok && strings.HasSuffix(name, "-address") {
			a = name + "=127.0.0.1:0" // free ports for the test
		}
		args = append(args, a)
	}
	srv := testenv.StartServer(t, args...)
	if err := srv.AwaitHealthy(); err != nil {
		t.Fatal(err)
	}
	post := func(path, body string) string {
		t.Helper()
		res, err := http.Post(srv.Inference+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, b)
		}
		return string(b)
	}
	if got := post("/v1/models/iris:predict", `{"instances": [[5.1, 3.5, 1.4, 0.2]]}`); !strings.Contains(got, `"predictions"`) {
		t.Errorf("v1: %s", got)
	}
	var v2 struct {
		Outputs []struct{ Name string } `json:"outputs"`
	}
	got := post("/v2/models/iris/infer", `{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`)
	if err := json.Unmarshal([]byte(got), &v2); err != nil || len(v2.Outputs) != 1 || v2.Outputs[0].Name != "probabilities" {
		t.Errorf("v2: %s", got)
	}
	for _, want := range []string{"v1", "v2"} {
		if !strings.Contains(strings.Join(rt.Spec.ProtocolVersions, ","), want) {
			t.Errorf("protocolVersions %v lack %s", rt.Spec.ProtocolVersions, want)
		}
	}
}

// TestDockerfileCommand: the image's default command (templates/docker/Dockerfile) is one
// ts serve takes: its flags parse and its settings resolve.
func TestDockerfileCommand(t *testing.T) {
	b, err := os.ReadFile(testenv.Path("templates/docker/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var entry, cmd []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			json.Unmarshal([]byte(v), &entry)
		}
		if v, ok := strings.CutPrefix(line, "CMD "); ok {
			json.Unmarshal([]byte(v), &cmd)
		}
	}
	if len(entry) != 1 || entry[0] != "ts" || len(cmd) == 0 || cmd[0] != "serve" {
		t.Fatalf("ENTRYPOINT %v, CMD %v", entry, cmd)
	}
	storage := kserveStorage(t)
	args := []string{"--ort-lib", "/nonexistent"} // --print-config loads no library
	for _, a := range cmd {
		args = append(args, strings.ReplaceAll(a, "/mnt/models", storage))
	}
	var out, errs bytes.Buffer
	if code := Main(append(args, "--print-config"), &out, &errs); code != 0 {
		t.Fatalf("ts %v: exit %d: %s", args, code, errs.String())
	}
	for _, want := range []string{`(?m)^inference_address += http://0\.0\.0\.0:8080 +# --inference-address`, `(?m)^load_models += all +# --models`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("print-config lacks %s:\n%s", want, out.String())
		}
	}
}

// TestSystemdUnit: the systemd unit (templates/systemd/ts.service) waits for the readiness
// ts serve notifies (Type=notify) and starts ts serve with flags it takes: they parse and
// their settings resolve (the config file the unit names stands in for by an empty one).
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(testenv.Path("templates/systemd/ts.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			unit[k] = v
		}
	}
	if unit["Type"] != "notify" {
		t.Errorf("Type=%s, want notify (ts serve sends READY=1)", unit["Type"])
	}
	command := strings.Fields(unit["ExecStart"])
	if len(command) < 2 || filepath.Base(command[0]) != "ts" || command[1] != "serve" {
		t.Fatalf("ExecStart=%s", unit["ExecStart"])
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "config.properties")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--ort-lib", "/nonexistent"} // --print-config loads no library
	for _, a := range command[1:] {
		a = strings.ReplaceAll(a, "/etc/ts/config.properties", empty)
		args = append(args, strings.ReplaceAll(a, "/var/lib/ts", dir))
	}
	var out, errs bytes.Buffer
	if code := Main(append(args, "--print-config"), &out, &errs); code != 0 {
		t.Fatalf("ts %v: exit %d: %s", args, code, errs.String())
	}
	for _, want := range []string{`(?m)^model_store += \S+/model-store +# --model-store`, `(?m)^load_models += all +# --models`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("print-config lacks %s:\n%s", want, out.String())
		}
	}
}
