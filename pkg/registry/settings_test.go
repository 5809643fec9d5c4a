package registry

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

// TestUnappliedKeys: keys of a model-config.yaml that ts does not apply are named for the log
// (TorchServe's that ts lacks, settings spelt another way), and the handler's own keys and
// the settings ts applies are not.
func TestUnappliedKeys(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string // a substring of each note, in order
	}{
		{"settings and the handler's keys", "batchSize: 4\nmaxBatchDelay: 50\nhandler:\n  labels: x\nllm:\n  temperature: 0.7\n", nil},
		{"TorchServe's keys ts lacks", "asyncCommunication: true\nparallelType: pp\nminWorkers: 1\n",
			[]string{"asyncCommunication is TorchServe's asynchronous worker communication", "parallelType is TorchServe's model parallelism"}},
		{"settings spelt another way", "batch_size: 4\nMaxBatchDelay: 50\njob-queue-size: 3\n",
			[]string{"MaxBatchDelay is not a setting, and is left to the handler: did you mean maxBatchDelay?",
				"batch_size is not a setting, and is left to the handler: did you mean batchSize?",
				"job-queue-size is not a setting, and is left to the handler: did you mean jobQueueSize?"}},
		{"an empty file", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			y, err := parseModelYAML([]byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if len(y.unapplied) != len(c.want) || !slices.EqualFunc(y.unapplied, c.want, strings.Contains) {
				t.Errorf("notes %q, want %q", y.unapplied, c.want)
			}
		})
	}
}

// TestModelConfigTemplate: templates/model-config.yaml, the starting point users copy, names
// every setting ts applies (no key spelt another way), and uncommented as it stands it is a
// valid model-config.yaml.
func TestModelConfigTemplate(t *testing.T) {
	text, err := os.ReadFile(testenv.Path("templates/model-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var uncommented []string
	for line := range strings.Lines(string(text)) {
		if rest, ok := strings.CutPrefix(line, "#"); ok && rest != "" && rest[0] != ' ' && rest[0] != '\n' {
			line = rest // a setting: #key: value
		}
		uncommented = append(uncommented, line)
	}
	y, err := parseModelYAML([]byte(strings.Join(uncommented, "")))
	if err != nil {
		t.Fatalf("the template uncommented: %v", err)
	}
	if len(y.unapplied) > 0 {
		t.Errorf("the template names keys ts does not apply: %q", y.unapplied)
	}
	for _, key := range modelYAMLKeys() {
		if _, ok := y.All[key]; !ok {
			t.Errorf("the template lacks %s", key)
		}
	}
	if err := checkResolved(t, y); err != nil {
		t.Errorf("the template's settings: %v", err)
	}
}
