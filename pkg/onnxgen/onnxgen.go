// Package onnxgen writes synthetic ONNX models for tests and benchmarks, in pure Go, so
// large or slow models need not be committed.
package onnxgen

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

func tag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendTag(b, num, typ)
}

func str(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(tag(b, num, protowire.BytesType), s)
}

func msg(b []byte, num protowire.Number, m []byte) []byte {
	return protowire.AppendBytes(tag(b, num, protowire.BytesType), m)
}

func varint(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(tag(b, num, protowire.VarintType), v)
}

// valueInfo is a float32 tensor [batch, dim] (a dynamic first dimension).
func valueInfo(name string, dim int) []byte {
	shape := msg(nil, 1, str(nil, 2, "batch"))
	shape = msg(shape, 1, varint(nil, 1, uint64(dim)))
	tt := varint(nil, 1, 1) // FLOAT
	tt = msg(tt, 2, shape)
	vi := str(nil, 1, name)
	return msg(vi, 2, msg(nil, 1, tt))
}

func node(op string, inputs []string, output string, attrs ...[]byte) []byte {
	var n []byte
	for _, in := range inputs {
		n = str(n, 1, in)
	}
	n = str(n, 2, output)
	n = str(n, 4, op)
	for _, a := range attrs {
		n = msg(n, 5, a)
	}
	return n
}

// Spec describes a model y = chain(x) of depth MatMul+Tanh steps sharing one dim×dim weight
// (depth 0: a single Gemm from dim to out, as a plain classifier layer). Weights are drawn
// from N(0, 1/dim) so activations stay bounded.
type Spec struct {
	Dim   int // input width
	Out   int // output width (Gemm); 0 = Dim
	Depth int // MatMul+Tanh steps before the Gemm
	Seed  uint64
}

// Write writes the model to path; weights are streamed, never held whole.
func Write(path string, s Spec) error {
	if s.Out == 0 {
		s.Out = s.Dim
	}
	var nodes [][]byte
	prev := "x"
	for i := 0; i < s.Depth; i++ {
		mm, th := fmt.Sprintf("mm%d", i), fmt.Sprintf("h%d", i)
		nodes = append(nodes, node("MatMul", []string{prev, "W"}, mm), node("Tanh", []string{mm}, th))
		prev = th
	}
	transB := varint(str(nil, 1, "transB"), 3, 1)
	transB = varint(transB, 20, 2) // AttributeProto.INT
	nodes = append(nodes, node("Gemm", []string{prev, "G"}, "y", transB))

	type init struct {
		name       string
		rows, cols int
	}
	inits := []init{{"G", s.Out, s.Dim}}
	if s.Depth > 0 {
		inits = append(inits, init{"W", s.Dim, s.Dim})
	}
	initHead := func(in init) []byte {
		h := varint(nil, 1, uint64(in.rows))
		h = varint(h, 1, uint64(in.cols))
		h = varint(h, 2, 1) // FLOAT
		h = str(h, 8, in.name)
		h = tag(h, 9, protowire.BytesType)
		return protowire.AppendVarint(h, uint64(4*in.rows*in.cols))
	}
	var graphHead []byte
	for _, n := range nodes {
		graphHead = msg(graphHead, 1, n)
	}
	graphTail := str(nil, 2, "onnxgen")
	graphTail = msg(graphTail, 11, valueInfo("x", s.Dim))
	graphTail = msg(graphTail, 12, valueInfo("y", s.Out))
	graphLen := len(graphHead) + len(graphTail)
	for _, in := range inits {
		l := len(initHead(in)) + 4*in.rows*in.cols
		graphLen += len(tag(nil, 5, protowire.BytesType)) + protowire.SizeVarint(uint64(l)) + l
	}
	head := varint(nil, 1, 8) // ir_version
	head = msg(head, 8, varint(nil, 2, 13))
	head = str(head, 2, "onnxgen")
	head = tag(head, 7, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(graphLen))

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(head)
	w.Write(graphHead)
	rng := rand.New(rand.NewPCG(s.Seed, 7))
	var buf [4]byte
	for _, in := range inits {
		h := initHead(in)
		l := len(h) + 4*in.rows*in.cols
		w.Write(protowire.AppendVarint(tag(nil, 5, protowire.BytesType), uint64(l)))
		w.Write(h)
		scale := 1 / math.Sqrt(float64(in.cols))
		for i := 0; i < in.rows*in.cols; i++ {
			bits := math.Float32bits(float32(rng.NormFloat64() * scale))
			buf[0], buf[1], buf[2], buf[3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
			w.Write(buf[:])
		}
	}
	w.Write(graphTail)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
