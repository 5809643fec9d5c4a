// Package complete writes bash, zsh and fish completion scripts for a kong command line.
//
// The scripts are generated from the kong model, so they always match the flags and
// commands the binary has; `make completions` writes them into completions/ and CI checks
// that the committed files are current. Positional arguments tagged predictor:"model" are
// completed with the server's model names, by running `<prog> completion models`.
package complete

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/alecthomas/kong"
)

// Shells are the shells Script writes for.
var Shells = []string{"bash", "zsh", "fish"}

// Script returns the completion script for shell ("bash", "zsh" or "fish").
func Script(shell string, app *kong.Application) (string, error) {
	spec := build(app)
	var tmpl string
	switch shell {
	case "bash":
		tmpl = bashTemplate
	case "zsh":
		tmpl = zshTemplate
	case "fish":
		tmpl = fishTemplate
	default:
		return "", fmt.Errorf("unknown shell %q (want bash, zsh or fish)", shell)
	}
	t, err := template.New(shell).Funcs(template.FuncMap{
		"join":  strings.Join,
		"fishq": fishQuote,
		"zshq":  zshQuote,
		"ident": ident,
		"pat":   casePattern,
	}).Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("completion template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, spec); err != nil {
		return "", fmt.Errorf("completion template: %w", err)
	}
	return b.String(), nil
}

// spec is what the templates need: every command path with its flags and arguments.
type spec struct {
	Prog string
	// Global holds the program's own flags, which every command takes.
	Global   *command
	Commands []*command
}

// command is one node of the command tree; Path is "" for the program itself and
// "register", "model scale", ... below it.
type command struct {
	Path  string
	Help  string
	Subs  []sub
	Flags []flag
	// Args is how to complete positional arguments: "model", "files" or "" (nothing).
	Args string
}

type sub struct {
	Name    string
	Aliases []string
	Help    string
}

type flag struct {
	Long     string
	Short    string
	Help     string
	Value    bool     // the flag takes a value
	Enum     []string // its values, when it has a fixed set
	Files    bool     // the value is a path
	Negation string   // the negated long name (no-<long>, or the tag's own), when negatable
}

// words are the spellings of f that set it: --long and -s.
func (f flag) words() []string {
	if f.Short == "" {
		return []string{"--" + f.Long}
	}
	return []string{"--" + f.Long, "-" + f.Short}
}

// ValueFlags are the flags of c that take a value, written as the shell sees them.
func (c *command) ValueFlags() []string {
	var out []string
	for _, f := range c.Flags {
		if f.Value {
			out = append(out, f.words()...)
		}
	}
	return out
}

// FlagWords are all the spellings of c's flags, negations included.
func (c *command) FlagWords() []string {
	var out []string
	for _, f := range c.Flags {
		out = append(out, f.words()...)
		if f.Negation != "" {
			out = append(out, "--"+f.Negation)
		}
	}
	return out
}

// SubWords are the names and aliases of c's subcommands.
func (c *command) SubWords() []string {
	var out []string
	for _, s := range c.Subs {
		out = append(out, s.Name)
		out = append(out, s.Aliases...)
	}
	return out
}

func build(app *kong.Application) *spec {
	s := &spec{Prog: app.Name}
	var walk func(n *kong.Node, path string)
	walk = func(n *kong.Node, path string) {
		c := &command{Path: path, Help: n.Help}
		if n.Type == kong.ApplicationNode {
			// The program's own flags work under every command; a default command that
			// takes arguments (tsarchive's pack) lends the program its flags and arguments.
			s.Global = &command{Path: "*", Flags: flagsOf(n)}
			if n.DefaultCmd != nil && n.DefaultCmd.Tag != nil && n.DefaultCmd.Tag.Default == "withargs" {
				c.Flags = flagsOf(n.DefaultCmd)
				c.Args = argsOf(n.DefaultCmd)
			}
		} else {
			c.Flags = flagsOf(n)
			c.Args = argsOf(n)
		}
		s.Commands = append(s.Commands, c)
		for _, child := range n.Children {
			if child.Hidden || child.Type != kong.CommandNode {
				continue
			}
			c.Subs = append(c.Subs, sub{Name: child.Name, Aliases: child.Aliases, Help: firstLine(child.Help)})
			walk(child, strings.TrimSpace(path+" "+child.Name))
		}
	}
	walk(app.Node, "")
	return s
}

// AllCommands are the global pseudo-command (path "*") and every command.
func (s *spec) AllCommands() []*command { return append([]*command{s.Global}, s.Commands...) }

func flagsOf(n *kong.Node) []flag {
	var out []flag
	for _, f := range n.Flags {
		if !f.Hidden {
			out = append(out, newFlag(f))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Long < out[j].Long })
	return out
}

// argsOf says how to complete n's positional arguments: "model", "model+files" (a model,
// then files), "files" or "".
func argsOf(n *kong.Node) string {
	args := ""
	for _, p := range n.Positional {
		if p.Tag != nil && p.Tag.Get("predictor") == "model" {
			args = "model"
		} else if args == "" && looksLikePath(p) {
			args = "files"
		}
	}
	if args == "model" && len(n.Positional) > 1 && looksLikePath(n.Positional[len(n.Positional)-1]) {
		args = "model+files"
	}
	return args
}

func newFlag(f *kong.Flag) flag {
	out := flag{Long: f.Name, Help: firstLine(f.Help), Value: !f.IsBool() && !f.IsCounter()}
	switch n := f.Tag.Negatable; n {
	case "":
	case "_": // kong's mark for the default negation
		out.Negation = "no-" + f.Name
	default:
		out.Negation = n
	}
	if f.Short != 0 {
		out.Short = string(f.Short)
	}
	if out.Value {
		if f.Enum != "" {
			out.Enum = f.EnumSlice()
		} else {
			out.Files = namesFiles(f.Tag)
		}
	}
	return out
}

// looksLikePath reports whether a positional argument names files.
func looksLikePath(p *kong.Positional) bool { return namesFiles(p.Tag) }

// namesFiles reports whether a value is a path: by its type, or by a placeholder such as
// FILE, DIR, PATH or ARCHIVE.
func namesFiles(t *kong.Tag) bool {
	if t == nil {
		return false
	}
	switch t.Type {
	case "path", "existingfile", "existingdir", "filecontent":
		return true
	}
	for _, word := range []string{"FILE", "DIR", "PATH", "ARCHIVE"} {
		if strings.Contains(t.PlaceHolder, word) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// fishQuote quotes s for fish's single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// zshQuote escapes s for a _describe entry inside single quotes.
func zshQuote(s string) string {
	return strings.NewReplacer(`'`, `'\''`, `:`, `\:`).Replace(s)
}

// ident turns a program name into a shell function name part.
func ident(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// casePattern is the bash/zsh case pattern matching flag word under command path; the
// program's own flags (path "*") match under every command.
func casePattern(path, word string) string {
	if path == "*" {
		return `*"|` + word + `"`
	}
	return `"` + path + "|" + word + `"`
}
