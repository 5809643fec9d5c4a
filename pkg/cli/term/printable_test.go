package term

import (
	"bytes"
	"errors"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"input_ids", "input_ids"},
		{`a"b\c`, `a"b\c`}, // printable: as it is
		{"emoji😀 ünï", "emoji😀 ünï"},
		{"new\nline", `new\nline`},
		{"tab\there", `tab\there`},
		{"\x1b[2Jcleared", `\x1b[2Jcleared`},
		{"nul\x00", `nul\x00`},
		{"\u0085next", `\u0085next`},
	} {
		if got := Printable(c.in); got != c.want {
			t.Errorf("Printable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestOutputsEscapeControls: tables, key-value lines and error lines show control characters
// escaped, one line per row.
func TestOutputsEscapeControls(t *testing.T) {
	var out bytes.Buffer
	o := &IO{Out: &out}
	o.Table([]string{"name", ""}, [][]string{{"a\nb"}, {"c\td", "\x1b[36m█\x1b[m"}}) // a column with no header: ts's own drawing
	o.KeyValues([][2]string{{"input", "x\x1b[31m float32[N,2]"}})
	want := "a\\nb\nc\\td\t\x1b[36m█\x1b[m\ninput  x\\x1b[31m float32[N,2]\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	var errOut bytes.Buffer
	Report(&errOut, "ts", errors.New("input \"a\nb\x00\" is missing"))
	if want := "ts: input \"a b\\x00\" is missing\n"; errOut.String() != want {
		t.Errorf("error line %q, want %q", errOut.String(), want)
	}
}
