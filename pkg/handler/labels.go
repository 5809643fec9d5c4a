package handler

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// LabelsFile is where classifiers find their class names, as in TorchServe.
const LabelsFile = "index_to_name.json"

// labels maps class indexes to names.
type labels map[int]string

// loadLabels reads index_to_name.json from the model folder: {"0": "cat"},
// {"0": ["n02123045", "tabby"]} (the last element is the name) or
// {"object_type_names": ["cat", ...]}. A missing file gives no labels.
func loadLabels(dir string) (labels, error) {
	b, err := os.ReadFile(filepath.Join(dir, LabelsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
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

// name is the label of class i, or its index when there is none.
func (l labels) name(i int) string {
	if n, ok := l[i]; ok {
		return n
	}
	return strconv.Itoa(i)
}
