package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/client"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/registry"
)

// InferCmd is `ts infer`: files (or - for stdin) to a model, answers shown readably — a
// top-k table for classifiers, boxes for detectors, a summary for tensors. With --local the
// archive runs in this process, no server needed (for CI smoke tests of a fresh archive).
type InferCmd struct {
	modelFiles  `embed:""`
	Timeout     time.Duration `name:"timeout" default:"60s" help:"Give up on a request after this long."`
	Accept      string        `name:"accept" placeholder:"TYPE" help:"Accept header (e.g. image/png for a segmentation mask)."`
	Concurrency int           `name:"concurrency" short:"c" default:"4" help:"Requests in flight at once when sending many files."`
	Save        string        `name:"save" type:"path" placeholder:"DIR" help:"Also write each raw answer to DIR/<file>.<ext> (binary answers such as PNG masks always need it)."`

	// explain, when not nil, asks for explanations instead of predictions, with these
	// query parameters (ts explain).
	explain url.Values
	// workflow, when set, sends the requests through that workflow (ts workflow infer).
	workflow string
	// perf says the model and files are ts perf's (for messages).
	perf bool
	// onPart, when set, prints a text answer the server streams as it comes (one request,
	// text output); streamed says it did.
	onPart   func(part []byte, contentType string)
	streamed atomic.Bool
	headers  http.Header // --header (a global flag, which the client sends with every request), parsed: for --local runs and the sequence hint
	// classNames, when set, gives the model's class names by index in decimal (nil: none
	// known), asked once, for answers that give classes by index (a segmenter's mask)
	classNames func() map[string]string
}

// modelFiles are the arguments and flags ts infer and ts explain share: the model (or an
// archive with --local), the files, and the version.
type modelFiles struct {
	Model   string   `arg:"" optional:"" placeholder:"MODEL|ARCHIVE" predictor:"model" help:"Model name (model/version for a version), or with --local an archive, a bare .onnx file or a Triton model folder; may be left out when the server has one model."`
	Files   []string `arg:"" optional:"" placeholder:"FILE" help:"Images, text files, JSON tensors; - reads stdin."`
	Data    []string `name:"data" short:"d" sep:"none" placeholder:"TEXT" help:"A request given on the command line, text or JSON, sent as is (after the files); repeatable."`
	Local   bool     `name:"local" help:"Run MODEL, an archive, in this process instead of on a server."`
	Handler string   `name:"handler" placeholder:"NAME" help:"With --local: the handler to run the model with instead of its archive's (a bare .onnx file or a Triton model: tensor unless given)."`
	Version string   `name:"version" placeholder:"VERSION" help:"Model version (default: the default version, or the traffic split)."`
}

// answer is one file's result.
type answer struct {
	File        string  `json:"file,omitempty"`
	Data        *string `json:"data,omitempty"` // the request, for --data
	Version     string  `json:"version,omitempty"`
	ContentType string  `json:"contentType,omitempty"`
	// Sequence is a stateful model's sequence the request was a step of.
	Sequence string `json:"sequence,omitempty"`
	// Target and Score are what an explanation explained and its score.
	Target string          `json:"target,omitempty"`
	Score  *float64        `json:"score,omitempty"`
	Answer json.RawMessage `json:"answer,omitempty"`
	// Text is an answer of plain text (text/*, UTF-8).
	Text  *string `json:"text,omitempty"`
	Saved string  `json:"saved,omitempty"`
	Error string  `json:"error,omitempty"`
	body  []byte
	err   error
	// streamed: the answer was printed as it came (a streamed text answer)
	streamed bool
}

// predictor runs one request, on a server or locally.
type predictor func(ctx context.Context, body []byte, contentType string) (*client.Prediction, error)

func (c *InferCmd) Run(g *Globals) error {
	ctx, stop := commandContext()
	defer stop()
	headers, err := parseHeaders(g.Header)
	if err != nil {
		return err
	}
	c.headers = headers
	predict, closeFn, err := c.predictor(ctx, g)
	if err != nil {
		return err
	}
	defer closeFn()
	io := g.IO()
	requests := c.requests()
	answers := make([]*answer, len(requests))
	if len(requests) == 1 && g.Output == "text" && c.explain == nil && c.Save == "" {
		// a text answer the server streams (a custom handler's parts) is shown as it comes
		c.onPart = func(part []byte, contentType string) {
			if strings.HasPrefix(contentType, "text/") {
				io.Out.Write(part)
				c.streamed.Store(true)
			}
		}
	}
	var bar *term.Progress
	if len(requests) > 8 { // a bar for batches of files, not for a few
		bar = io.NewProgress(map[string]string{"infer": "inferring", "explain": "explaining", "workflow infer": "inferring"}[c.command()], int64(len(requests)))
	}
	var mu sync.Mutex
	finished := int64(0)
	sem := make(chan struct{}, max(c.Concurrency, 1))
	var wg sync.WaitGroup
	for i, r := range requests {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			answers[i] = c.one(ctx, predict, r)
			mu.Lock()
			finished++
			if bar != nil {
				bar.Set(finished)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if bar != nil {
		bar.Done()
	}
	failed := 0
	for _, a := range answers {
		if a.Error != "" {
			failed++
		}
	}
	if g.Output != "text" {
		var v any = answers
		if len(answers) == 1 {
			v = answers[0]
		}
		if _, err := io.Data(v); err != nil {
			return err
		}
	} else {
		for i, a := range answers {
			if len(answers) == 1 && a.err != nil {
				break // the error alone, on stderr
			}
			if len(answers) > 1 {
				if i > 0 {
					io.Println("")
				}
				io.Println(io.Style(term.Bold, a.label()))
			}
			render(io, a, c.classNames)
			if a.Sequence != "" && c.headers.Get(api.HeaderSequenceID) == "" { // the server started it
				fmt.Fprintf(io.Err, "sequence %s started: continue it with -H '%s: %s'\n", a.Sequence, api.HeaderSequenceID, a.Sequence)
			}
		}
	}
	if failed > 0 {
		var first error
		for _, a := range answers {
			if a.err != nil {
				first = a.err
				break
			}
		}
		if len(answers) == 1 {
			return first
		}
		return fmt.Errorf("%d of %d requests failed; first: %w", failed, len(answers), first)
	}
	return nil
}

// command is the command's name in messages: infer, explain, workflow infer or perf.
func (c *InferCmd) command() string {
	switch {
	case c.perf:
		return "perf"
	case c.explain != nil:
		return "explain"
	case c.workflow != "":
		return "workflow infer"
	}
	return "infer"
}

// request is one request to send: a file's contents (or stdin's), or --data's text (the
// n-th, from 1).
type request struct {
	file string
	data *string
	n    int
}

// requests lists the files, then the --data texts.
func (c *InferCmd) requests() []request {
	var rs []request
	for _, f := range c.Files {
		rs = append(rs, request{file: f})
	}
	for i := range c.Data {
		rs = append(rs, request{data: &c.Data[i], n: i + 1})
	}
	return rs
}

// read returns the request's body and its content type: a file's guessed from its name,
// --data's JSON when it parses as JSON, else plain text.
func (r request) read() ([]byte, string, error) {
	switch {
	case r.data != nil:
		if json.Valid([]byte(*r.data)) {
			return []byte(*r.data), "application/json", nil
		}
		return []byte(*r.data), "text/plain; charset=utf-8", nil
	case r.file == "-":
		b, err := io.ReadAll(os.Stdin)
		return b, "", err
	}
	b, err := os.ReadFile(r.file)
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w (to send text or JSON itself, use --data)", err)
	}
	return b, contentType(r.file), err
}

// pickModel handles `ts infer FILE...` without a model: when the first argument is a local
// file and not one of the server's models, it is a file, and the model is the server's only
// one (or the user is asked to name one of them). With --data alone the model may be left
// out too.
func (c *InferCmd) pickModel(ctx context.Context, cl *client.Client) error {
	st, err := os.Stat(c.Model)
	if c.Model == "" || c.Model == "-" || (err == nil && st.Mode().IsRegular()) {
		names, err := serverModels(ctx, cl)
		if err != nil {
			return fmt.Errorf("list models: %w", err)
		}
		if slices.Contains(names, c.Model) {
			return nil // a model named like the file: the model it is
		}
		switch len(names) {
		case 1:
			if c.Model != "" {
				c.Files = append([]string{c.Model}, c.Files...)
			}
			c.Model = names[0]
		case 0:
			return term.Usagef("the server has no models: register one first (ts register ARCHIVE)")
		default:
			rest := c.Model
			if rest == "" {
				rest = "..."
			}
			return term.Usagef("which model? the server has %s: ts %s MODEL %s", strings.Join(names, ", "), c.command(), rest)
		}
	}
	return nil
}

// predictor picks the server, or loads the archive in this process.
func (c *InferCmd) predictor(ctx context.Context, g *Globals) (predictor, func(), error) {
	if !c.Local {
		if c.Handler != "" {
			return nil, nil, term.Usagef("--handler is for --local: on a server, register the model with its handler (ts register --handler)")
		}
		cl, err := g.Client()
		if err != nil {
			return nil, nil, err
		}
		if c.workflow != "" {
			return func(ctx context.Context, body []byte, ctype string) (*client.Prediction, error) {
				ctx, cancel := context.WithTimeout(ctx, c.Timeout)
				defer cancel()
				return cl.PredictWorkflow(ctx, c.workflow, body, client.PredictOptions{ContentType: ctype, Accept: c.Accept, OnPart: c.onPart})
			}, func() {}, nil
		}
		if err := c.pickModel(ctx, cl); err != nil {
			return nil, nil, err
		}
		if len(c.Files) == 0 && len(c.Data) == 0 {
			if filepath.Ext(c.Model) != "" || strings.ContainsRune(c.Model, os.PathSeparator) {
				// `ts infer cat.jpg` where cat.jpg is not there: say so, not "no files"
				return nil, nil, term.Usagef("no file %s here; to send one: ts %s [MODEL] FILE... (- reads stdin; --data TEXT sends TEXT)", c.Model, c.command())
			}
			return nil, nil, term.Usagef("no files: ts %s %s FILE... (- reads stdin; --data TEXT sends TEXT)", c.command(), c.Model)
		}
		name, version := splitRef(c.Model)
		if c.Version != "" {
			version = c.Version
		}
		c.classNames = sync.OnceValue(func() map[string]string {
			// from the management API, which may be out of reach: then the indexes show
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			names, _ := cl.Labels(ctx, name, version)
			return names
		})
		return func(ctx context.Context, body []byte, ctype string) (*client.Prediction, error) {
			ctx, cancel := context.WithTimeout(ctx, c.Timeout)
			defer cancel()
			o := client.PredictOptions{Version: version, ContentType: ctype, Accept: c.Accept, Query: c.explain, OnPart: c.onPart}
			if c.explain != nil {
				return cl.Explain(ctx, name, body, o)
			}
			return cl.Predict(ctx, name, body, o)
		}, func() {}, nil
	}
	if c.Model == "" {
		return nil, nil, term.Usagef("no archive: ts %s --local ARCHIVE FILE...", c.command())
	}
	if len(c.Files) == 0 && len(c.Data) == 0 {
		return nil, nil, term.Usagef("no files: ts %s --local ARCHIVE FILE... (- reads stdin; --data TEXT sends TEXT)", c.command())
	}
	if _, err := g.InitEngine(); err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp("", "ts-local-*")
	if err != nil {
		return nil, nil, err
	}
	reg := registry.New(registry.Options{TempDir: tmp, Logger: g.quietLogger()})
	one := 1
	v, err := reg.Register(ctx, registry.Spec{Path: c.Model, URL: filepath.Base(c.Model), Version: c.Version, Handler: c.Handler, Synchronous: true,
		Overrides: registry.Overrides{InitialWorkers: &one}})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, fmt.Errorf("load %s: %w", c.Model, err)
	}
	closeFn := func() {
		reg.Close(context.Background())
		os.RemoveAll(tmp)
	}
	c.classNames = sync.OnceValue(func() map[string]string {
		labels, _ := v.Labels()
		return handler.IndexToName(labels)
	})
	return func(ctx context.Context, body []byte, ctype string) (*client.Prediction, error) {
		ctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		h := map[string][]string{}
		for k, vs := range c.headers {
			h[http.CanonicalHeaderKey(k)] = vs
		}
		if ctype != "" {
			h["Content-Type"] = []string{ctype}
		}
		if c.Accept != "" {
			h["Accept"] = []string{c.Accept}
		}
		req := &handler.Request{ID: "local", Header: h, Query: c.explain,
			Inputs: []handler.Input{{Name: "body", ContentType: ctype, Data: body}}}
		infer := v.Infer
		if c.explain != nil {
			infer = v.Explain
		}
		res, err := infer(ctx, req, 0)
		if err != nil {
			return nil, err
		}
		return client.NewPrediction(res.Body, res.ContentType, v.Version, res.Header), nil
	}, closeFn, nil
}

// contentType guesses a file's type from its name.
func contentType(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return "application/json"
	case ".txt":
		return "text/plain"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	}
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	return ""
}

func (c *InferCmd) one(ctx context.Context, predict predictor, r request) *answer {
	a := &answer{File: r.file, Data: r.data}
	body, ctype, err := r.read()
	if err != nil {
		a.fail(err)
		return a
	}
	p, err := predict(ctx, body, ctype)
	if err != nil {
		a.fail(fmt.Errorf("%s: %w", a.label(), err))
		return a
	}
	a.Version, a.ContentType, a.Sequence, a.body = p.Version, p.ContentType, p.Sequence, p.Body
	if c.explain != nil {
		a.Target, a.Score = p.Target, &p.Score
	}
	a.streamed = c.streamed.Load()
	switch {
	case json.Valid(p.Body):
		a.Answer = json.RawMessage(bytes.TrimSpace(p.Body))
	case strings.HasPrefix(p.ContentType, "text/") && utf8.Valid(p.Body):
		text := string(p.Body)
		a.Text = &text
	}
	if c.Save != "" || (a.Answer == nil && a.Text == nil) {
		dir := c.Save
		if dir == "" {
			dir = "."
		}
		ext := ".out"
		if exts, _ := mime.ExtensionsByType(strings.Split(p.ContentType, ";")[0]); len(exts) > 0 {
			ext = exts[len(exts)-1]
		}
		base := filepath.Base(r.file)
		switch {
		case r.data != nil:
			base = fmt.Sprintf("data%d", r.n)
		case r.file == "-":
			base = "stdin"
		}
		out := filepath.Join(dir, base+ext)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			a.fail(err)
			return a
		}
		if err := os.WriteFile(out, p.Body, 0o644); err != nil {
			a.fail(err)
			return a
		}
		a.Saved = out
	}
	return a
}

// label names the answer's request for people: the file, or --data's text (its first line,
// shortened).
func (a *answer) label() string {
	if a.Data == nil {
		return a.File
	}
	text, _, cut := strings.Cut(*a.Data, "\n")
	if r := []rune(text); len(r) > 40 {
		text, cut = string(r[:40]), true
	}
	if cut {
		text += "…"
	}
	return `"` + text + `"`
}

func (a *answer) fail(err error) {
	a.Error, a.err = err.Error(), err
}

// render shows an answer for people; classNames (nil: none) names the classes an answer
// gives by index.
func render(io *term.IO, a *answer, classNames func() map[string]string) {
	if a.Error != "" {
		io.Println(io.Style(term.Bad, "error: ") + a.Error)
		return
	}
	switch {
	case a.Text != nil && a.streamed: // printed as it came
		if !strings.HasSuffix(*a.Text, "\n") {
			io.Println("")
		}
	case a.Text != nil:
		io.Println(strings.TrimSuffix(*a.Text, "\n"))
	case a.Answer == nil:
		io.Println(fmt.Sprintf("%s answer (%d bytes) saved to %s", a.ContentType, len(a.body), a.Saved))
	case a.Score != nil && renderExplanation(io, a):
	case renderScores(io, a.Answer), renderDetections(io, a.Answer), renderTensors(io, a.Answer), renderMask(io, a.Answer, classNames):
	default:
		var pretty bytes.Buffer
		if json.Indent(&pretty, a.Answer, "", "  ") != nil {
			pretty.Write(a.Answer)
		}
		io.Println(pretty.String())
	}
	if a.Saved != "" && (a.Answer != nil || a.Text != nil) {
		io.Println(io.Style(term.Faint, "saved to "+a.Saved))
	}
}

// renderScores: a classifier's {label: probability}, highest first, with bars.
func renderScores(io *term.IO, raw json.RawMessage) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	type row struct {
		label string
		p     *float64 // nil: null, a model's NaN
	}
	var rows []row
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return false
		}
		var v *float64
		if err := dec.Decode(&v); err != nil {
			return false
		}
		rows = append(rows, row{k.(string), v})
	}
	if len(rows) == 0 {
		return false
	}
	sort.SliceStable(rows, func(i, j int) bool { // highest first, nulls last
		if rows[i].p == nil || rows[j].p == nil {
			return rows[j].p == nil && rows[i].p != nil
		}
		return *rows[i].p > *rows[j].p
	})
	var out [][]string
	for _, r := range rows {
		if r.p == nil {
			out = append(out, []string{r.label, "NaN", ""}) // as renderTensors shows null
			continue
		}
		bar := strings.Repeat("█", int(math.Round(*r.p*20)))
		out = append(out, []string{r.label, strconv.FormatFloat(*r.p, 'f', 4, 64), io.Style(term.Accent, bar)})
	}
	if !io.OutTTY {
		for i := range out {
			out[i] = out[i][:2]
		}
	}
	io.Table([]string{"LABEL", "PROBABILITY", ""}, out)
	return true
}

// renderDetections: a detector's [{label: [x1, y1, x2, y2], "score": s}].
func renderDetections(io *term.IO, raw json.RawMessage) bool {
	var dets []map[string]json.RawMessage
	if json.Unmarshal(raw, &dets) != nil {
		return false
	}
	var rows [][]string
	for _, d := range dets {
		var score float64
		if json.Unmarshal(d["score"], &score) != nil || len(d) != 2 {
			return false
		}
		for k, v := range d {
			if k == "score" {
				continue
			}
			var box [4]float64
			if json.Unmarshal(v, &box) != nil {
				return false
			}
			rows = append(rows, []string{k, strconv.FormatFloat(score, 'f', 3, 64),
				fmt.Sprintf("%.1f,%.1f,%.1f,%.1f", box[0], box[1], box[2], box[3])})
		}
	}
	if len(rows) == 0 && string(raw) != "[]" {
		return false
	}
	if len(rows) == 0 {
		io.Println("nothing found")
		return true
	}
	io.Table([]string{"LABEL", "SCORE", "BOX x1,y1,x2,y2"}, rows)
	return true
}

// renderMask: a segmenter's [H][W][class, probability] answer as the share of pixels of
// each class, with the classes' names where the model gives them (classNames; nil: none)
// (the mask itself: --accept image/png --save DIR).
func renderMask(io *term.IO, raw json.RawMessage, classNames func() map[string]string) bool {
	var mask [][][2]float64
	if json.Unmarshal(raw, &mask) != nil || len(mask) == 0 || len(mask[0]) == 0 {
		return false
	}
	counts := map[int]int{}
	conf := map[int]float64{}
	total := 0
	for _, row := range mask {
		for _, px := range row {
			c := int(px[0])
			counts[c]++
			conf[c] += px[1]
			total++
		}
	}
	classes := make([]int, 0, len(counts))
	for c := range counts {
		classes = append(classes, c)
	}
	sort.Ints(classes)
	var names map[string]string
	if classNames != nil {
		names = classNames()
	}
	header := []string{"CLASS", "PIXELS", "SHARE", "MEAN PROBABILITY"}
	if len(names) > 0 {
		header = slices.Insert(header, 1, "NAME")
	}
	var rows [][]string
	for _, c := range classes {
		row := []string{strconv.Itoa(c), strconv.Itoa(counts[c]),
			fmt.Sprintf("%.1f%%", 100*float64(counts[c])/float64(total)), fmt.Sprintf("%.3f", conf[c]/float64(counts[c]))}
		if len(names) > 0 {
			row = slices.Insert(row, 1, names[strconv.Itoa(c)])
		}
		rows = append(rows, row)
	}
	if io.OutTTY {
		io.Println(fmt.Sprintf("mask %dx%d", len(mask[0]), len(mask)))
	}
	io.Table(header, rows)
	return true
}

// renderTensors: the tensor handler's outputs, summarised: the first values, and for numbers
// the range and the index of the largest (NaN, written as null, left out of those). Integer
// outputs (labels, token ids, counts) are written whole, as the server wrote them.
func renderTensors(io *term.IO, raw json.RawMessage) bool {
	var doc struct {
		Outputs []struct {
			Name  string  `json:"name"`
			Shape []int64 `json:"shape"`
			DType string  `json:"dtype"`
			Data  []any   `json:"data"`
		} `json:"outputs"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // an int64 beyond 2^53 stays as written
	if dec.Decode(&doc) != nil || len(doc.Outputs) == 0 {
		return false
	}
	var rows [][]string
	for _, o := range doc.Outputs {
		whole := strings.HasPrefix(o.DType, "int") || strings.HasPrefix(o.DType, "uint")
		head := o.Data[:min(len(o.Data), 6)]
		parts := make([]string, len(head))
		for i, v := range head {
			parts[i] = valueText(v, whole)
		}
		first := strings.Join(parts, " ")
		if len(o.Data) > len(head) {
			first += " …"
		}
		var lo, hi json.Number
		best := -1
		loX, hiX := math.Inf(1), math.Inf(-1)
		for i, v := range o.Data {
			n, ok := v.(json.Number)
			if !ok {
				continue
			}
			x, err := n.Float64()
			if err != nil {
				continue
			}
			if x < loX {
				loX, lo = x, n
			}
			if x > hiX {
				hiX, hi, best = x, n, i
			}
		}
		row := []string{o.Name, o.DType, shapeText(o.Shape), first, "", "", ""}
		if best >= 0 {
			row[4], row[5], row[6] = valueText(lo, whole), valueText(hi, whole), strconv.Itoa(best)
		}
		rows = append(rows, row)
	}
	io.Table([]string{"OUTPUT", "DTYPE", "SHAPE", "VALUES", "MIN", "MAX", "ARGMAX"}, rows)
	return true
}

// valueText writes one tensor element of the tensor handler's JSON: a number (whole: as
// written, else to 4 significant digits), a bool, a string (quoted), or null (a NaN).
func valueText(v any, whole bool) string {
	switch x := v.(type) {
	case json.Number:
		if whole {
			return x.String()
		}
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return strconv.FormatFloat(f, 'g', 4, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		if r := []rune(x); len(r) > 40 {
			x = string(r[:40]) + "…"
		}
		return strconv.Quote(x)
	case nil:
		return "NaN"
	}
	return fmt.Sprint(v)
}

func shapeText(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
