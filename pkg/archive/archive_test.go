package archive

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

func TestRoundTripSmoke(t *testing.T) {
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			res, err := Pack(context.Background(), PackOptions{
				ModelName: "digits", SerializedFile: testenv.Path("samples/digits/model.onnx"), Handler: "image_classifier",
				ExtraFiles: []string{testenv.Path("samples/digits/index_to_name.json")}, ExportPath: dir, Format: f,
			})
			if err != nil {
				t.Fatal(err)
			}
			m, err := Verify(context.Background(), res.Path, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if m.Model.ModelName != "digits" || len(m.Files) != 2 || m.Signature.Inputs[0].Name != "input" {
				t.Errorf("manifest %+v", m)
			}
			o, err := Open(context.Background(), res.Path, filepath.Join(dir, "tmp"), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(o.Path("index_to_name.json")); err != nil {
				t.Error(err)
			}
			o.Close()
		})
	}
}
