package term

import (
	"strconv"
	"strings"
	"unicode"
)

// Printable is s with its control characters escaped as Go writes them (\n, \t, \x1b,
// \x00): a name a model or a server chose (an input called "a\nb") can neither break a
// line of output, and with it a script's parsing, nor drive the terminal.
func Printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
