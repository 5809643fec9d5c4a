package registry

import (
	"slices"
	"strings"
	"testing"
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
		{"TorchServe's keys ts lacks", "continuousBatching: true\nparallelType: pp\nminWorkers: 1\n",
			[]string{"continuousBatching is TorchServe's continuous batching", "parallelType is TorchServe's model parallelism"}},
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
