package term

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"charm.land/lipgloss/v2"
	"charm.land/lipgloss/v2/table"
	"github.com/charmbracelet/colorprofile"
	xterm "github.com/charmbracelet/x/term"
	"go.yaml.in/yaml/v3"
)

// IO is where a command writes: it knows whether each stream is a terminal and which colours
// it may use (NO_COLOR and CLICOLOR_FORCE are honoured). Tables and colour go to terminals
// only; pipes get tab-separated lines.
type IO struct {
	Out    io.Writer
	Err    io.Writer
	OutTTY bool
	ErrTTY bool
	// Format is the -o flag: text, json or yaml.
	Format string

	profile colorprofile.Profile
	mu      sync.Mutex
}

// New inspects the streams. forceTTY treats both as terminals (for tests of the TTY output).
func New(stdout, stderr io.Writer, env []string, forceTTY bool) *IO {
	isTTY := func(w io.Writer) bool {
		f, ok := w.(*os.File)
		return forceTTY || (ok && xterm.IsTerminal(f.Fd()))
	}
	o := &IO{Out: stdout, Err: stderr, OutTTY: isTTY(stdout), ErrTTY: isTTY(stderr), Format: "text"}
	o.profile = colorprofile.Detect(stdout, env)
	if forceTTY && o.profile == colorprofile.NoTTY {
		o.profile = colorprofile.Ascii
	}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" {
			o.profile = colorprofile.NoTTY // no colour and no bold or faint either
		}
	}
	return o
}

// Color reports whether colours may be used on stdout.
func (o *IO) Color() bool { return o.profile > colorprofile.Ascii }

// Println writes a line to stdout, downsampling styles to what the terminal takes.
func (o *IO) Println(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	w := &colorprofile.Writer{Forward: o.Out, Profile: o.profile}
	fmt.Fprintln(w, s)
}

// Style renders s with st when stdout is a terminal, plain otherwise.
func (o *IO) Style(st lipgloss.Style, s string) string {
	if !o.OutTTY {
		return s
	}
	return st.Render(s)
}

// Styles used across commands.
var (
	Bold   = lipgloss.NewStyle().Bold(true)
	Faint  = lipgloss.NewStyle().Faint(true)
	Accent = lipgloss.NewStyle().Foreground(lipgloss.Color("6"))
	Good   = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	Bad    = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
)

// Table prints rows: a bordered table with a header on a terminal, tab-separated lines
// without a header when piped. Cells show control characters escaped (Printable), but
// those of a column with no header, which holds a drawing of ts's own (a styled bar).
func (o *IO) Table(header []string, rows [][]string) {
	printable := make([][]string, len(rows))
	for i, r := range rows {
		printable[i] = make([]string, len(r))
		for j, cell := range r {
			if j < len(header) && header[j] == "" {
				printable[i][j] = cell
				continue
			}
			printable[i][j] = Printable(cell)
		}
	}
	rows = printable
	if !o.OutTTY {
		for _, r := range rows {
			fmt.Fprintln(o.Out, strings.Join(r, "\t"))
		}
		return
	}
	t := table.New().Border(lipgloss.RoundedBorder()).BorderStyle(Faint).Headers(header...).Rows(rows...).
		StyleFunc(func(row, col int) lipgloss.Style {
			s := lipgloss.NewStyle().Padding(0, 1)
			if row == table.HeaderRow {
				return s.Bold(true)
			}
			return s
		})
	o.Println(t.Render())
}

// KeyValues prints aligned "key  value" lines (keys styled on a terminal; values with
// control characters escaped, Printable).
func (o *IO) KeyValues(pairs [][2]string) {
	width := 0
	for _, p := range pairs {
		width = max(width, len(p[0]))
	}
	for _, p := range pairs {
		o.Println(o.Style(Bold, fmt.Sprintf("%-*s", width, p[0])) + "  " + Printable(p[1]))
	}
}

// Data prints v as JSON or YAML when -o asks for it and reports whether it did.
func (o *IO) Data(v any) (bool, error) {
	switch o.Format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return true, err
		}
		_, err = fmt.Fprintln(o.Out, string(b))
		return true, err
	case "yaml":
		// through JSON, so YAML keys are the JSON field names
		b, err := json.Marshal(v)
		if err != nil {
			return true, err
		}
		var generic any
		if err := json.Unmarshal(b, &generic); err != nil {
			return true, err
		}
		y, err := yaml.Marshal(generic)
		if err != nil {
			return true, err
		}
		_, err = o.Out.Write(y)
		return true, err
	}
	return false, nil
}

// Progress draws a progress bar on stderr when it is a terminal; otherwise nothing.
type Progress struct {
	o     *IO
	label string
	total int64
	last  int
}

// NewProgress starts a bar for total units.
func (o *IO) NewProgress(label string, total int64) *Progress {
	return &Progress{o: o, label: label, total: total, last: -1}
}

// Set moves the bar to done units.
func (p *Progress) Set(done int64) {
	if !p.o.ErrTTY || p.total <= 0 {
		return
	}
	pct := int(100 * done / p.total)
	if pct == p.last {
		return
	}
	p.last = pct
	const width = 30
	fill := width * pct / 100
	p.o.mu.Lock()
	fmt.Fprintf(p.o.Err, "\r%s %s%s %3d%%", p.label, strings.Repeat("█", fill), strings.Repeat("░", width-fill), pct)
	p.o.mu.Unlock()
}

// Done clears the bar.
func (p *Progress) Done() {
	if p.o.ErrTTY && p.last >= 0 {
		p.o.mu.Lock()
		fmt.Fprint(p.o.Err, "\r\033[K")
		p.o.mu.Unlock()
	}
}
