package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tsserve/ts/pkg/cli/term"
)

// TraceCmd is `ts trace [MODEL]`: the running server's trace settings (Triton's trace
// extension), shown or changed, globally or for a model.
type TraceCmd struct {
	Model        string   `arg:"" optional:"" predictor:"model" placeholder:"MODEL" help:"A model's settings (its own over the global ones); none: the global ones."`
	Level        []string `name:"level" placeholder:"LEVEL,..." help:"OFF, or TIMESTAMPS and/or TENSORS."`
	Rate         *int     `name:"rate" placeholder:"N" help:"Trace one request in N."`
	Count        *int     `name:"count" placeholder:"N" help:"Traces to take, then stop (-1: no end)."`
	LogFrequency *int     `name:"log-frequency" placeholder:"N" help:"Write the traces to the trace file's next part each N traces (0: when the server stops)."`
	Clear        bool     `name:"clear" help:"Clear the model's own settings: it follows the global ones again."`
}

func (c *TraceCmd) Run(g *Globals) error {
	if c.Clear && c.Model == "" {
		return term.Usagef("--clear clears a model's own settings: name the model")
	}
	change := map[string]any{}
	if c.Clear {
		for _, k := range []string{"trace_level", "trace_rate", "trace_count", "log_frequency"} {
			change[k] = nil
		}
	}
	if c.Level != nil {
		change["trace_level"] = c.Level
	}
	for key, v := range map[string]*int{"trace_rate": c.Rate, "trace_count": c.Count, "log_frequency": c.LogFrequency} {
		if v != nil {
			change[key] = strconv.Itoa(*v)
		}
	}
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	var s map[string]any
	if len(change) == 0 {
		s, err = cl.TraceSettings(ctx, c.Model)
	} else {
		s, err = cl.SetTraceSettings(ctx, c.Model, change)
	}
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	io := g.IO()
	if ok, err := io.Data(s); ok {
		return err
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs [][2]string
	for _, k := range keys {
		value := fmt.Sprint(s[k])
		if list, ok := s[k].([]any); ok {
			parts := make([]string, len(list))
			for i, x := range list {
				parts[i] = fmt.Sprint(x)
			}
			value = strings.Join(parts, ",")
		}
		if value == "" {
			value = "-"
		}
		pairs = append(pairs, [2]string{k, value})
	}
	io.KeyValues(pairs)
	return nil
}
