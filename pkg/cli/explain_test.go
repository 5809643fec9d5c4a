package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/cli/term"
)

// renderExplanation, piped: the target line, then a text's words in order with their
// importances, a tensor's largest attributions (16 of many, by size), or an image's map with
// shades for support and - or = against.
func TestRenderExplanation(t *testing.T) {
	score := 0.9
	many := `{"target":{"output":"y","index":0,"value":1},"baseline":0,"attributions":[{"name":"x","shape":[2,10],"data":[` +
		strings.Repeat("0.001,", 19) + `-5]}]}`
	for _, c := range []struct {
		name, answer string
		want         []string // lines, in order
	}{
		{"text", `{"words":["[CLS]","rain","today","[SEP]"],"importances":[0.1,0.9,-0.4,0],"target":"weather","probability":0.9}`,
			[]string{"explained: weather (score 0.9000)", "[CLS]\t0.100", "rain\t0.900", "today\t-0.400", "[SEP]\t0.000"}},
		{"tensor", `{"target":{"output":"y","index":1,"value":0.9},"baseline":0,"attributions":[{"name":"x","shape":[1,3],"data":[0.5,-0.25,0]}]}`,
			[]string{"explained: weather (score 0.9000)", "x\t[0,0]\t0.5", "x\t[0,1]\t-0.25", "x\t[0,2]\t0"}},
		{"many tensor elements: the largest first", many,
			[]string{"explained: weather (score 0.9000)", "x\t[1,9]\t-5", "x\t[0,0]\t0.001"}},
		{"image [C][H][W]", `[[[1,0.5,0,0,0],[0,0,0,0,-1]]]`,
			[]string{"explained: weather (score 0.9000)", "attributions over the 5×2 image (5×2 cells; darker supports the target more, - and = against it)", "██▒▒      ", "        =="}},
		{"image [H][W][C]", `[[[1,1,1],[0,0,0]],[[0,0,0],[0,0,0]],[[0,0,0],[0,0,0]],[[0,0,0],[0,0,0]],[[0,0,0],[-0.5,-0.5,-0.5]]]`,
			[]string{"explained: weather (score 0.9000)", "attributions over the 2×5 image (2×5 cells; darker supports the target more, - and = against it)", "██  ", "    ", "  --"}},
		{"a wide image keeps its aspect", `[[` + strings.Repeat(`[`+strings.Repeat("1,", 63)+`1],`, 1) + `[` + strings.Repeat("1,", 63) + `1]]]`,
			[]string{"explained: weather (score 0.9000)", "attributions over the 64×2 image (32×1 cells; darker supports the target more, - and = against it)", strings.Repeat("██", 32)}},
		{"image [1][4][4]", `[[[1,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,1]]]`,
			[]string{"explained: weather (score 0.9000)", "attributions over the 4×4 image (4×4 cells; darker supports the target more, - and = against it)", "██      ", "      ██"}},
		{"grey image [H][W], no channel dimension", `[[1,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,1]]`,
			[]string{"explained: weather (score 0.9000)", "attributions over the 4×4 image (4×4 cells; darker supports the target more, - and = against it)", "██      ", "      ██"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			a := &answer{Target: "weather", Score: &score, Answer: []byte(c.answer)}
			if !renderExplanation(term.New(&out, &out, nil, false), a) {
				t.Fatal("not rendered")
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			at := 0
			for _, want := range c.want {
				for at < len(lines) && lines[at] != want {
					at++
				}
				if at == len(lines) {
					t.Fatalf("no line %q (in order) in:\n%s", want, out.String())
				}
			}
			if c.name == "many tensor elements: the largest first" && len(lines) != 17 {
				t.Errorf("%d lines, want the target and 16 elements:\n%s", len(lines), out.String())
			}
		})
	}
}

// On a terminal a text's explanation starts with the text itself, word by word, before the
// table.
func TestRenderWordsOnTerminal(t *testing.T) {
	var out bytes.Buffer
	score := 0.9
	a := &answer{Target: "weather", Score: &score, Answer: []byte(`{"words":["rain","and","wind"],"importances":[0.9,0,-0.4]}`)}
	if !renderExplanation(term.New(&out, &out, []string{"NO_COLOR=1"}, true), a) {
		t.Fatal("not rendered")
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 3 || lines[1] != "rain and wind" || !strings.Contains(out.String(), "IMPORTANCE") {
		t.Errorf("on a terminal:\n%s", out.String())
	}
}
