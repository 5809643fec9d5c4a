// Command handler is a template for a ts custom handler written in Go: copy this folder,
// change the three methods, build it for the server's platform (CGO_ENABLED=0 go build -o
// handler .), and pack the binary: tsarchive --handler handler ...
//
// This one serves the iris sample: one flower per line of CSV in, the species out.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/tsserve/ts/pkg/handlerkit"
	"github.com/tsserve/ts/pkg/tensor"
)

type iris struct{}

// Initialize runs once when the process starts; ctx.Model holds the manifest, the model
// folder and the settings of model-config.yaml's handler section.
func (iris) Initialize(ctx *handlerkit.Context) error {
	fmt.Fprintf(os.Stderr, "serving %s %s from %s\n", ctx.Model.Name, ctx.Model.Version, ctx.Model.Dir)
	return nil
}

// Preprocess turns the request into the model's inputs, by name.
func (iris) Preprocess(ctx *handlerkit.Context, r *handlerkit.Request) (map[string]*tensor.Tensor, error) {
	var values []float32
	rows := 0
	for _, line := range strings.Split(strings.TrimSpace(string(r.Data())), "\n") {
		fields := strings.Split(line, ",")
		if len(fields) != 4 {
			return nil, &handlerkit.Error{Code: 400, Message: fmt.Sprintf("want four numbers per line, got %q", line)}
		}
		for _, f := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil {
				return nil, &handlerkit.Error{Code: 400, Message: fmt.Sprintf("%q is not a number", f)}
			}
			values = append(values, float32(v))
		}
		rows++
	}
	ctx.Metrics.Counter("IrisFlowers", float64(rows), nil)
	return map[string]*tensor.Tensor{"features": tensor.New([]int64{int64(rows), 4}, values)}, nil
}

var species = []string{"setosa", "versicolor", "virginica"}

// Postprocess turns the model's outputs, by name, into the response.
func (iris) Postprocess(ctx *handlerkit.Context, r *handlerkit.Request, outputs map[string]*tensor.Tensor) (*handlerkit.Response, error) {
	probs, err := outputs["probabilities"].Float64s()
	if err != nil {
		return nil, err
	}
	type answer struct {
		Species     string  `json:"species"`
		Probability float64 `json:"probability"`
	}
	var out []answer
	for i := 0; i+3 <= len(probs); i += 3 {
		best := i
		for k := i + 1; k < i+3; k++ {
			if probs[k] > probs[best] {
				best = k
			}
		}
		out = append(out, answer{species[best-i], probs[best]})
	}
	return handlerkit.JSON(out)
}

func main() {
	if err := handlerkit.Run(iris{}); err != nil {
		fmt.Fprintln(os.Stderr, "handler:", err)
		os.Exit(1)
	}
}
