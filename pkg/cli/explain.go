package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tsserve/ts/pkg/cli/term"
)

// ExplainCmd is `ts explain`: which parts of each file made the model answer as it did —
// a heat map of an image's patches, each word's importance, each tensor element's
// attribution — found by hiding the parts in turn (occlusion) on the server, or in this
// process with --local.
type ExplainCmd struct {
	modelFiles  `embed:""`
	Target      string        `name:"target" placeholder:"CLASS" help:"Class to explain, an index or a label (default: the top class); for tensor models the output element's flat index (default: the largest)."`
	Patch       int           `name:"patch" placeholder:"PIXELS" help:"Side of the image patches hidden in turn (default: an eighth of the image's longer side)."`
	Baseline    string        `name:"baseline" placeholder:"NUMBER" help:"Tensor models: the value hidden elements take (default 0)."`
	Tensor      string        `name:"tensor-output" placeholder:"NAME" help:"Tensor models: the output to explain (default: the first floating-point one)."`
	Timeout     time.Duration `name:"timeout" default:"300s" help:"Give up on a request after this long (an explanation runs the model once per part)."`
	Concurrency int           `name:"concurrency" short:"c" default:"1" help:"Files explained at once."`
	Save        string        `name:"save" type:"path" placeholder:"DIR" help:"Also write each raw answer to DIR/<file>.json."`
}

func (c *ExplainCmd) Run(g *Globals) error {
	if c.Patch < 0 {
		return term.Usagef("--patch must be at least 1 pixel")
	}
	q := url.Values{}
	for k, v := range map[string]string{"target": c.Target, "baseline": c.Baseline, "output": c.Tensor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if c.Patch > 0 {
		q.Set("patch", strconv.Itoa(c.Patch))
	}
	infer := &InferCmd{modelFiles: c.modelFiles, Timeout: c.Timeout, Concurrency: c.Concurrency, Save: c.Save, explain: q}
	return infer.Run(g)
}

// renderExplanation shows an explanation: what was explained, then an image's heat map, a
// text's words or a tensor's attributions.
func renderExplanation(io *term.IO, a *answer) bool {
	if a.Target != "" {
		io.Println(fmt.Sprintf("%s %s (score %s)", io.Style(term.Bold, "explained:"), a.Target, strconv.FormatFloat(*a.Score, 'f', 4, 64)))
	}
	return renderWords(io, a.Answer) || renderAttributions(io, a.Answer) || renderHeatMap(io, a.Answer)
}

// renderWords: a text classifier's {"words", "importances"}, in the text's order, with
// bars (green for words that support the target, red for those against it); on a terminal
// the text comes first, each word coloured so.
func renderWords(io *term.IO, raw json.RawMessage) bool {
	var doc struct {
		Words       []string  `json:"words"`
		Importances []float64 `json:"importances"`
	}
	if json.Unmarshal(raw, &doc) != nil || doc.Words == nil || len(doc.Words) != len(doc.Importances) {
		return false
	}
	if io.OutTTY { // the text first, each word coloured by its importance
		words := make([]string, len(doc.Words))
		for i, w := range doc.Words {
			switch v := doc.Importances[i]; {
			case v >= 0.3:
				words[i] = io.Style(term.Good.Bold(true), w)
			case v > 0.05:
				words[i] = io.Style(term.Good, w)
			case v <= -0.3:
				words[i] = io.Style(term.Bad.Bold(true), w)
			case v < -0.05:
				words[i] = io.Style(term.Bad, w)
			default:
				words[i] = io.Style(term.Faint, w)
			}
		}
		io.Println(strings.Join(words, " "))
	}
	var rows [][]string
	for i, w := range doc.Words {
		rows = append(rows, []string{w, strconv.FormatFloat(doc.Importances[i], 'f', 3, 64), signedBar(io, doc.Importances[i], 1, 20)})
	}
	if !io.OutTTY {
		for i := range rows {
			rows[i] = rows[i][:2]
		}
	}
	io.Table([]string{"WORD", "IMPORTANCE", ""}, rows)
	return true
}

// renderAttributions: a tensor model's explanation, per input the elements that matter
// most (all of them for a few).
func renderAttributions(io *term.IO, raw json.RawMessage) bool {
	var doc struct {
		Target struct {
			Output string `json:"output"`
		} `json:"target"`
		Attributions []struct {
			Name  string    `json:"name"`
			Shape []int64   `json:"shape"`
			Data  []float64 `json:"data"`
		} `json:"attributions"`
	}
	if json.Unmarshal(raw, &doc) != nil || doc.Attributions == nil || doc.Target.Output == "" {
		return false
	}
	const shown = 16
	var rows [][]string
	for _, in := range doc.Attributions {
		scale := 0.0
		for _, v := range in.Data {
			scale = math.Max(scale, math.Abs(v))
		}
		idx := make([]int, len(in.Data))
		for i := range idx {
			idx[i] = i
		}
		if len(idx) > shown { // the largest, by size
			sort.SliceStable(idx, func(i, j int) bool { return math.Abs(in.Data[idx[i]]) > math.Abs(in.Data[idx[j]]) })
			idx = idx[:shown]
		}
		for _, i := range idx {
			rows = append(rows, []string{in.Name, elementIndex(in.Shape, i), strconv.FormatFloat(in.Data[i], 'g', 4, 64), signedBar(io, in.Data[i], scale, 20)})
		}
	}
	if !io.OutTTY {
		for i := range rows {
			rows[i] = rows[i][:3]
		}
	}
	io.Table([]string{"INPUT", "ELEMENT", "ATTRIBUTION", ""}, rows)
	return true
}

// elementIndex writes flat index i of a tensor of shape as its indexes, [0,2].
func elementIndex(shape []int64, i int) string {
	parts := make([]string, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		n := max(int(shape[d]), 1)
		parts[d] = strconv.Itoa(i % n)
		i /= n
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// heatCols and heatRows bound a heat map's cells (each two characters wide).
const (
	heatCols = 32
	heatRows = 16
)

// renderHeatMap: an image classifier's attributions, nested like the model's input for one
// image ([C][H][W], [H][W][C], or [H][W] for grey images with no channel dimension), as a
// map of cells: the darker, the more the patch supports the target (red where it speaks
// against it; - and = when piped).
func renderHeatMap(io *term.IO, raw json.RawMessage) bool {
	var nested [][][]float64
	if json.Unmarshal(raw, &nested) != nil {
		var grey [][]float64
		if json.Unmarshal(raw, &grey) != nil {
			return false
		}
		nested = [][][]float64{grey} // one channel
	}
	if len(nested) == 0 || len(nested[0]) == 0 || len(nested[0][0]) == 0 {
		return false
	}
	d0, d1, d2 := len(nested), len(nested[0]), len(nested[0][0])
	// channels lead when the first dimension is a few (1 to 4) and the last is not fewer:
	// [3][224][224], [1][4][4]; [224][224][3] has them last
	channelsFirst := d0 <= 4 && (d2 > 4 || d0 <= d2)
	h, w := d0, d1
	if channelsFirst {
		h, w = d1, d2
	}
	grid := make([][]float64, h)
	for y := range grid {
		grid[y] = make([]float64, w)
		for x := range grid[y] {
			if channelsFirst {
				for c := range d0 {
					if y < len(nested[c]) && x < len(nested[c][y]) {
						grid[y][x] += nested[c][y][x] / float64(d0)
					}
				}
			} else if y < len(nested) && x < len(nested[y]) {
				for _, v := range nested[y][x] {
					grid[y][x] += v / float64(len(nested[y][x]))
				}
			}
		}
	}
	// cells two characters wide are about square: keep the image's aspect
	f := min(float64(heatCols)/float64(w), float64(heatRows)/float64(h), 1)
	rows, cols := max(1, int(math.Round(float64(h)*f))), max(1, int(math.Round(float64(w)*f)))
	cells := make([][]float64, rows)
	scale := 0.0
	for r := range cells {
		cells[r] = make([]float64, cols)
		for c := range cells[r] {
			y0, y1 := r*h/rows, max((r+1)*h/rows, r*h/rows+1)
			x0, x1 := c*w/cols, max((c+1)*w/cols, c*w/cols+1)
			sum := 0.0
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					sum += grid[y][x]
				}
			}
			cells[r][c] = sum / float64((y1-y0)*(x1-x0))
			scale = math.Max(scale, math.Abs(cells[r][c]))
		}
	}
	io.Println(fmt.Sprintf("attributions over the %d×%d image (%d×%d cells; darker supports the target more, %s against it)",
		w, h, cols, rows, map[bool]string{true: "red", false: "- and ="}[io.OutTTY]))
	shades := []string{"  ", "░░", "▒▒", "▓▓", "██"}
	against := []string{"  ", "--", "--", "==", "=="}
	var b strings.Builder
	for r, row := range cells {
		if r > 0 {
			b.WriteByte('\n')
		}
		for _, v := range row {
			level := 0
			if scale > 0 {
				level = min(int(math.Round(math.Abs(v)/scale*4)), 4)
			}
			switch {
			case v >= 0:
				b.WriteString(io.Style(term.Good, shades[level]))
			case io.OutTTY:
				b.WriteString(io.Style(term.Bad, shades[level]))
			default:
				b.WriteString(against[level])
			}
		}
	}
	io.Println(b.String())
	return true
}

// signedBar is a bar of up to width cells for v out of scale: green for a positive v, red
// for a negative one (tables drop bars when piped).
func signedBar(io *term.IO, v, scale float64, width int) string {
	if scale <= 0 {
		return ""
	}
	n := int(math.Round(math.Abs(v) / scale * float64(width)))
	if v < 0 {
		return io.Style(term.Bad, strings.Repeat("█", n))
	}
	return io.Style(term.Good, strings.Repeat("█", n))
}
