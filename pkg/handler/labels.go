package handler

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// LabelsFile is where classifiers find their class names, as in TorchServe.
const LabelsFile = "index_to_name.json"

// labels maps class indexes to names.
type labels map[int]string

// HFConfigFile is a Hugging Face model's config.json, whose id2label names the classes when
// the archive has no index_to_name.json.
const HFConfigFile = "config.json"

// loadLabels reads index_to_name.json from the model folder: {"0": "cat"},
// {"0": ["n02123045", "tabby"]} (the last element is the name) or
// {"object_type_names": ["cat", ...]}; without it, the id2label of a Hugging Face
// config.json; without either, the class names an Ultralytics export keeps in the ONNX
// model's metadata (metadata_props "names"). None of them gives no labels.
func loadLabels(dir string, metadata map[string]string) (labels, error) {
	b, err := os.ReadFile(filepath.Join(dir, LabelsFile))
	if errors.Is(err, fs.ErrNotExist) {
		l, err := hfLabels(dir)
		if l == nil && err == nil {
			l = ultralyticsLabels(metadata["names"])
		}
		return l, err
	}
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", LabelsFile, err)
	}
	out := labels{}
	if names, ok := raw["object_type_names"]; ok {
		var list []string
		if err := json.Unmarshal(names, &list); err != nil {
			return nil, fmt.Errorf("%s: object_type_names: %w", LabelsFile, err)
		}
		for i, n := range list {
			out[i] = n
		}
		return out, nil
	}
	for k, v := range raw {
		i, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("%s: key %q is not a class index", LabelsFile, k)
		}
		var name string
		if err := json.Unmarshal(v, &name); err != nil {
			var list []string
			if err := json.Unmarshal(v, &list); err != nil || len(list) == 0 {
				return nil, fmt.Errorf("%s: class %s: want a name or a list of names", LabelsFile, k)
			}
			name = list[len(list)-1]
		}
		out[i] = name
	}
	return out, nil
}

// ClassLabels reads a model's class names as the classifiers do: from its archive's folder
// (index_to_name.json, else a Hugging Face config.json's id2label), else from the ONNX
// model's metadata (Ultralytics' "names"); nil when it has none.
func ClassLabels(dir string, metadata map[string]string) (map[int]string, error) {
	return loadLabels(dir, metadata)
}

// IndexToName is class labels as index_to_name.json has them: by class index in decimal;
// nil when there are none.
func IndexToName(labels map[int]string) map[string]string {
	if len(labels) == 0 {
		return nil
	}
	m := make(map[string]string, len(labels))
	for i, name := range labels {
		m[strconv.Itoa(i)] = name
	}
	return m
}

// ultralyticsName is one class of the Python dict an Ultralytics export writes as the ONNX
// metadata "names": {0: 'person', 1: 'bicycle', ...} (a name with a quote in "..."), or of
// the list older YOLOv5 exports write: ['person', 'bicycle', ...].
var ultralyticsName = regexp.MustCompile(`(?:(\d+)\s*:\s*)?(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")`)

// ultralyticsLabels reads Ultralytics' names; nil for anything else.
func ultralyticsLabels(names string) labels {
	names = strings.TrimSpace(names)
	list := strings.HasPrefix(names, "[")
	if !list && !strings.HasPrefix(names, "{") {
		return nil
	}
	out := labels{}
	for k, m := range ultralyticsName.FindAllStringSubmatch(names, -1) {
		i := k
		if !list {
			var err error
			if i, err = strconv.Atoi(m[1]); err != nil {
				continue
			}
		}
		name := m[2] + m[3] // one of them matched
		out[i] = strings.NewReplacer(`\'`, `'`, `\"`, `"`, `\\`, `\`).Replace(name)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// hfLabels reads the id2label map of a Hugging Face config.json ({"0": "NEGATIVE", ...}).
// No file, or one without id2label, gives no labels.
func hfLabels(dir string) (labels, error) {
	cfg, err := readHFConfig(dir)
	if cfg == nil || len(cfg.ID2Label) == 0 {
		return nil, err
	}
	out := labels{}
	for k, name := range cfg.ID2Label {
		i, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("%s: id2label key %q is not a class index", HFConfigFile, k)
		}
		out[i] = name
	}
	return out, nil
}

// hfConfig is the part of a Hugging Face config.json the handlers read.
type hfConfig struct {
	ID2Label    map[string]string `json:"id2label"`
	ProblemType string            `json:"problem_type"`
}

// readHFConfig reads the archive's config.json; nil when it has none, or one that is not
// JSON (another tool's config.json: not ours to judge).
func readHFConfig(dir string) (*hfConfig, error) {
	b, err := os.ReadFile(filepath.Join(dir, HFConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cfg hfConfig
	if json.Unmarshal(b, &cfg) != nil {
		return nil, nil
	}
	return &cfg, nil
}

// name is the label of class i, or its index when there is none.
func (l labels) name(i int) string {
	if n, ok := l[i]; ok {
		return n
	}
	return strconv.Itoa(i)
}

// maxIndex is the largest class index named (-1: none).
func (l labels) maxIndex() int {
	top := -1
	for i := range l {
		top = max(top, i)
	}
	return top
}

// defaultActivation is the softmax setting's default: sigmoid for a Hugging Face classifier
// trained for several labels at once (config.json's problem_type
// multi_label_classification, where transformers' pipelines apply a sigmoid), else auto.
func defaultActivation(dir string) string {
	if cfg, _ := readHFConfig(dir); cfg != nil && cfg.ProblemType == "multi_label_classification" {
		return "sigmoid"
	}
	return "auto"
}
