package cli

import (
	"bytes"
	"testing"

	"github.com/tsserve/ts/pkg/cli/term"
)

// renderTensors summarises every element type the tensor handler writes: numbers (NaN as
// null; integers whole, as written, floats to 4 digits), bools and strings, which are neither
// summed nor ranged.
func TestRenderTensors(t *testing.T) {
	answer := `{"outputs":[
		{"name":"y:0","shape":[1,3],"dtype":"float32","data":[0.5,null,-2]},
		{"name":"big","shape":[2],"dtype":"uint64","data":[1,18446744073709551614]},
		{"name":"positive","shape":[1,2],"dtype":"bool","data":[true,false]},
		{"name":"label","shape":[1],"dtype":"string","data":["cat\tdog"]},
		{"name":"none","shape":[0,3],"dtype":"float32","data":[]},
		{"name":"long","shape":[8],"dtype":"int64","data":[1,2,3,9,5,6,7,8]},
		{"name":"ids","shape":[3],"dtype":"int64","data":[123456,-9007199254740993,65535]},
		{"name":"wide","shape":[2],"dtype":"float64","data":[123456,1e300]}]}`
	var out bytes.Buffer // piped: tab-separated, no header
	if !renderTensors(term.New(&out, &out, nil, false), []byte(answer)) {
		t.Fatal("renderTensors did not take the answer")
	}
	want := "y:0\tfloat32\t[1,3]\t0.5 NaN -2\t-2\t0.5\t0\n" +
		"big\tuint64\t[2]\t1 18446744073709551614\t1\t18446744073709551614\t1\n" +
		"positive\tbool\t[1,2]\ttrue false\t\t\t\n" +
		"label\tstring\t[1]\t\"cat\\tdog\"\t\t\t\n" +
		"none\tfloat32\t[0,3]\t\t\t\t\n" +
		"long\tint64\t[8]\t1 2 3 9 5 6 …\t1\t9\t3\n" +
		"ids\tint64\t[3]\t123456 -9007199254740993 65535\t-9007199254740993\t123456\t0\n" +
		"wide\tfloat64\t[2]\t1.235e+05 1e+300\t1.235e+05\t1e+300\t1\n"
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
