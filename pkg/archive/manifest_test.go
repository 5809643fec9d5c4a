package archive

import (
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	cases := []struct {
		name, json  string
		wantErr     string
		wantVersion string
	}{
		{"torch-model-archiver's", `{"runtime":"python","model":{"modelName":"m","handler":"h","modelVersion":"2.0"}}`, "", "2.0"},
		{"python3", `{"runtime":"python3","model":{"modelName":"m","handler":"h","modelVersion":"1"}}`, "", "1"},
		{"no runtime", `{"model":{"modelName":"m","handler":"h"}}`, "", "1.0"},
		{"no version", `{"runtime":"onnx","model":{"modelName":"m"}}`, "", "1.0"},
		{"any runtime (the server checks it)", `{"runtime":"java","model":{"modelName":"m","handler":"h"}}`, "", "1.0"},
		{"no model name", `{"runtime":"python","model":{"handler":"h"}}`, "has no model.modelName", ""},
		{"bad model name", `{"model":{"modelName":"a:b"}}`, "invalid model name", ""},
		{"bad version", `{"model":{"modelName":"m","modelVersion":"1/2"}}`, "invalid model version", ""},
		{"file outside", `{"model":{"modelName":"m"},"files":[{"path":"../x"}]}`, "outside the archive", ""},
		{"not JSON", `{"model":`, "not valid JSON", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(c.json))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Model.ModelVersion != c.wantVersion {
				t.Errorf("version %q, want %q", m.Model.ModelVersion, c.wantVersion)
			}
		})
	}
}
