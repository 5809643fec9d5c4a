package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/cli/archivecmd"
)

// completionFiles maps each committed completion script to the program and shell that
// writes it (`make completions`).
var completionFiles = []struct{ file, prog, shell string }{
	{"ts.bash", "ts", "bash"}, {"_ts", "ts", "zsh"}, {"ts.fish", "ts", "fish"},
	{"tsarchive.bash", "tsarchive", "bash"}, {"_tsarchive", "tsarchive", "zsh"}, {"tsarchive.fish", "tsarchive", "fish"},
}

func completionScript(t *testing.T, prog, shell string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	main := Main
	if prog == "tsarchive" {
		main = archivecmd.Main
	}
	if code := main([]string{"completion", shell}, &out, &errOut); code != 0 {
		t.Fatalf("%s completion %s: exit %d: %s", prog, shell, code, errOut.String())
	}
	return out.String()
}

// TestCompletionFilesCurrent: the scripts in completions/ are what the binaries write now.
func TestCompletionFilesCurrent(t *testing.T) {
	for _, c := range completionFiles {
		committed, err := os.ReadFile(filepath.Join("..", "..", "completions", c.file))
		if err != nil {
			t.Fatalf("%v (run make completions)", err)
		}
		if string(committed) != completionScript(t, c.prog, c.shell) {
			t.Errorf("completions/%s is stale: run make completions", c.file)
		}
	}
}

// needShell returns the path of shell; CI must have it (.ci/run installs zsh and fish, and
// sets TS_NO_COMPLETION_SHELLS when it cannot), elsewhere the test is skipped with a note.
func needShell(t *testing.T, shell string) string {
	t.Helper()
	p, err := exec.LookPath(shell)
	if err != nil {
		if os.Getenv("CI") != "" && os.Getenv("TS_NO_COMPLETION_SHELLS") == "" {
			t.Fatalf("%s is not installed; CI needs it to test the %s completions", shell, shell)
		}
		t.Skipf("%s is not installed (apt-get install %s); its completions are not exercised", shell, shell)
	}
	return p
}

// completionCases are words typed so far (the last is the one being completed) and
// candidates that must, and must not, be offered.
var completionCases = []struct {
	prog    string
	line    []string
	want    []string
	notWant []string
}{
	{"ts", []string{"reg"}, []string{"register"}, []string{"unregister"}},
	{"ts", []string{""}, []string{"serve", "register", "describe", "infer", "list"}, []string{"completion"}},
	{"ts", []string{"describe", "--o"}, []string{"--output"}, nil},
	{"ts", []string{"-o", ""}, []string{"text", "json", "yaml"}, []string{"serve"}},
	{"ts", []string{"--log-level", "w"}, []string{"warn"}, []string{"debug"}},
	{"ts", []string{"register", "--"}, []string{"--batch-size", "--workers", "--host"}, []string{"--concurrency"}},
	{"ts", []string{"-o", "json", "infer", "--c"}, []string{"--concurrency"}, []string{"--batch-size"}},
	{"ts", []string{"ls", "--"}, []string{"--host"}, []string{"--workers"}},
	{"ts", []string{"register", "--no-"}, []string{"--no-sync"}, nil},
	{"ts", []string{"serve", "--no-e"}, []string{"--no-enable-model-api"}, nil},
	{"ts", []string{"serve", "--model-store", "comp"}, []string{"completion_test.go"}, nil},
	{"tsarchive", []string{"--"}, []string{"--model-name", "--serialized-file", "--handler"}, nil},
	{"tsarchive", []string{"ins"}, []string{"inspect"}, nil},
	{"tsarchive", []string{"--archive-format", ""}, []string{"default", "no-archive", "tgz"}, nil},
	{"tsarchive", []string{"verify", "comp"}, []string{"completion_test.go"}, nil},
}

func checkCandidates(t *testing.T, label string, got []string, want, notWant []string) {
	t.Helper()
	set := map[string]bool{}
	for _, g := range got {
		set[strings.TrimSpace(strings.SplitN(g, "\t", 2)[0])] = true
	}
	for _, w := range want {
		if !set[w] {
			t.Errorf("%s: %q not offered; got %q", label, w, got)
		}
	}
	for _, w := range notWant {
		if set[w] {
			t.Errorf("%s: %q offered; got %q", label, w, got)
		}
	}
}

// TestBashCompletion runs the generated bash script's completion function in bash.
func TestBashCompletion(t *testing.T) {
	bash := needShell(t, "bash")
	dir := t.TempDir()
	for _, prog := range []string{"ts", "tsarchive"} {
		os.WriteFile(filepath.Join(dir, prog+".bash"), []byte(completionScript(t, prog, "bash")), 0o644)
	}
	for _, c := range completionCases {
		words := append([]string{c.prog}, c.line...)
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		script := "source " + filepath.Join(dir, c.prog+".bash") + "\n" +
			"COMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
			"COMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n" +
			"_" + c.prog + "\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		out, err := exec.Command(bash, "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("bash %v: %v\n%s", words, err, out)
		}
		checkCandidates(t, "bash "+strings.Join(words, " "), strings.Split(strings.TrimSpace(string(out)), "\n"), c.want, c.notWant)
	}
}

// TestFishCompletion asks fish itself (complete -C) what it would offer.
func TestFishCompletion(t *testing.T) {
	fish := needShell(t, "fish")
	dir := t.TempDir()
	for _, prog := range []string{"ts", "tsarchive"} {
		os.WriteFile(filepath.Join(dir, prog+".fish"), []byte(completionScript(t, prog, "fish")), 0o644)
	}
	for _, c := range completionCases {
		line := c.prog + " " + strings.Join(c.line, " ")
		script := "source " + filepath.Join(dir, c.prog+".fish") + "; complete -C '" + line + "'"
		out, err := exec.Command(fish, "--no-config", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("fish %q: %v\n%s", line, err, out)
		}
		checkCandidates(t, "fish "+line, strings.Split(strings.TrimSpace(string(out)), "\n"), c.want, c.notWant)
	}
}

// TestZshCompletionParses: zsh accepts the script (zsh -n) and defines the function when
// sourced after compinit.
func TestZshCompletionParses(t *testing.T) {
	zsh := needShell(t, "zsh")
	dir := t.TempDir()
	for _, prog := range []string{"ts", "tsarchive"} {
		file := filepath.Join(dir, "_"+prog)
		os.WriteFile(file, []byte(completionScript(t, prog, "zsh")), 0o644)
		if out, err := exec.Command(zsh, "-n", file).CombinedOutput(); err != nil {
			t.Fatalf("zsh -n _%s: %v\n%s", prog, err, out)
		}
		script := "autoload -U compinit && compinit -u -D; source " + file + "; whence -w _" + prog + "; print -r -- $_comps[" + prog + "]"
		out, err := exec.Command(zsh, "-f", "-c", script).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "_"+prog+": function") || !strings.HasSuffix(strings.TrimSpace(string(out)), "_"+prog) {
			t.Fatalf("zsh did not register _%s: %v\n%s", prog, err, out)
		}
	}
}
