package cli

import (
	"bytes"
	"testing"

	"github.com/tsserve/ts/pkg/cli/term"
)

// renderTensors summarises every element type the tensor handler writes: numbers (NaN as
// null), bools and strings, which are neither summed nor ranged.
func TestRenderTensors(t *testing.T) {
	answer := `{"outputs":[
		{"name":"y:0","shape":[1,3],"dtype":"float32","data":[0.5,null,-2]},
		{"name":"big","shape":[2],"dtype":"uint64","data":[1,18446744073709551614]},
		{"name":"positive","shape":[1,2],"dtype":"bool","data":[true,false]},
		{"name":"label","shape":[1],"dtype":"string","data":["cat\tdog"]},
		{"name":"none","shape":[0,3],"dtype":"float32","data":[]},
		{"name":"long","shape":[8],"dtype":"int64","data":[1,2,3,9,5,6,7,8]}]}`
	var out bytes.Buffer // piped: tab-separated, no header
	if !renderTensors(term.New(&out, &out, nil, false), []byte(answer)) {
		t.Fatal("renderTensors did not take the answer")
	}
	want := "y:0\tfloat32\t[1,3]\t0.5 NaN -2\t-2\t0.5\t0\n" +
		"big\tuint64\t[2]\t1 1.845e+19\t1\t1.845e+19\t1\n" +
		"positive\tbool\t[1,2]\ttrue false\t\t\t\n" +
		"label\tstring\t[1]\t\"cat\\tdog\"\t\t\t\n" +
		"none\tfloat32\t[0,3]\t\t\t\t\n" +
		"long\tint64\t[8]\t1 2 3 9 5 6 …\t1\t9\t3\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	if renderTensors(term.New(&out, &out, nil, false), []byte(`{"predictions":[1]}`)) {
		t.Error("renderTensors took an answer with no outputs")
	}
}

// renderScores ranks a classifier's answer highest first and shows a null probability (a
// model's NaN) as NaN, last, where it showed 0.
func TestRenderScores(t *testing.T) {
	var out bytes.Buffer // piped: tab-separated, no bars
	if !renderScores(term.New(&out, &out, nil, false), []byte(`{"cat": null, "dog": 0.25, "fox": 0.75}`)) {
		t.Fatal("renderScores did not take the answer")
	}
	if want := "fox\t0.7500\ndog\t0.2500\ncat\tNaN\n"; out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
