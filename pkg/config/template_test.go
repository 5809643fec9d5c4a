package config

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite templates/config.properties")

// configTemplate renders templates/config.properties, the starting point users copy: every
// key, its help and flag, commented out at its default.
func configTemplate() string {
	var b strings.Builder
	comment := func(text string) {
		line := "#"
		for _, word := range strings.Fields(text) {
			if len(line)+1+len(word) > 95 {
				b.WriteString(line + "\n")
				line = "#"
			}
			line += " " + word
		}
		b.WriteString(line + "\n")
	}
	comment("config.properties for ts serve, in TorchServe's format: every setting ts reads, commented out at its default. " +
		"Uncomment and change what you need, then run ts serve --ts-config config.properties (or name the file in $TS_CONFIG_FILE, " +
		"or leave it in the current folder). ts serve's flags win over this file, and with enable_envvars_config=true so do " +
		"TS_<KEY> environment variables. ts serve --print-config shows the values in effect and where each came from; " +
		"docs/serve.md says more. (Made from pkg/config's keys: go test ./pkg/config -run TestConfigTemplate -update.)")
	for _, k := range Keys {
		b.WriteString("\n")
		help := k.Help
		if k.Flag != "" {
			help += " (ts serve --" + k.Flag + ")"
		}
		comment(help)
		b.WriteString("#" + k.Name + "=" + k.Default + "\n")
	}
	b.WriteString("\n")
	comment("TorchServe's keys for what ts does not have (its JVM, Netty, Python workers, metrics modes) are accepted and " +
		"ignored, with a warning: " + strings.Join(slices.Sorted(maps.Keys(unsupported)), ", ") + ".")
	return b.String()
}

// TestConfigTemplate: templates/config.properties is the template of pkg/config's keys
// (-update rewrites it), and uncommented as it stands it sets every key to its default.
func TestConfigTemplate(t *testing.T) {
	path := testenv.Path("templates/config.properties")
	want := configTemplate()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("templates/config.properties is not pkg/config's keys: go test ./pkg/config -run TestConfigTemplate -update")
	}
	var uncommented strings.Builder
	for line := range strings.Lines(want) {
		if rest, ok := strings.CutPrefix(line, "#"); ok && !strings.HasPrefix(rest, " ") {
			line = rest
		}
		uncommented.WriteString(line)
	}
	file := filepath.Join(t.TempDir(), "config.properties")
	os.WriteFile(file, []byte(uncommented.String()), 0o644)
	s, err := Load(Inputs{ConfigFile: file})
	if err != nil {
		t.Fatalf("the template uncommented: %v", err)
	}
	defaults, err := Load(Inputs{ConfigFile: os.DevNull})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys {
		if s.values[k.Name] != defaults.values[k.Name] || s.Source(k.Name) != "file "+file {
			t.Errorf("%s: %q from %s, want the default %q from the file", k.Name, s.values[k.Name], s.Source(k.Name), defaults.values[k.Name])
		}
	}
	if len(s.Warnings) > 0 {
		t.Errorf("warnings: %q", s.Warnings)
	}
}
