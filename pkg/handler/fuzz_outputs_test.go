package handler

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"image/png"
	"math"
	"net/http"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/tensor"
)

// FuzzModelOutputs feeds the built-in handlers' answer paths whatever a model might answer:
// the declared outputs filled with arbitrary values (NaN, infinities, huge and negative
// numbers, class and box indexes out of range) and, where a dimension is dynamic, sizes the
// fuzzer picks. A handler may refuse such outputs with an error, but never panics, and what it
// answers is valid JSON (a segmenter's PNG mask, asked for, a PNG).
func FuzzModelOutputs(f *testing.F) {
	nan := math.Float32bits(float32(math.NaN()))
	seed := func(vals ...float32) []byte {
		b := []byte{3, 5}
		for _, v := range vals {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	f.Add(seed(0.5, 0.9, 10, 10, 20, 20, 0.99, 1, 2))
	f.Add(seed(float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(nan), -1, 3e38, -3e38))
	f.Add([]byte{0, 0})
	f.Add([]byte{255, 255, 0x7f, 0xc0, 0, 0, 0x7f, 0x80, 0, 0})

	rgb := tensor.Info{Name: "images", DType: tensor.Float32, Shape: []int64{1, 3, 32, 32}}
	dyn := tensor.Info{Name: "images", DType: tensor.Float32, Shape: []int64{1, 3, -1, -1}}
	ids := []tensor.Info{{Name: "input_ids", DType: tensor.Int64, Shape: []int64{-1, 8}}}
	f32 := func(name string, shape ...int64) tensor.Info {
		return tensor.Info{Name: name, DType: tensor.Float32, Shape: shape}
	}
	i64 := func(name string, shape ...int64) tensor.Info {
		return tensor.Info{Name: name, DType: tensor.Int64, Shape: shape}
	}
	type target struct {
		name string
		h    Handler
		outs []tensor.Info
	}
	var targets []target
	for _, c := range []struct {
		handler string
		m       *Model
	}{
		{"image_classifier", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("logits", -1, 10)}}},
		{"image_classifier", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{{Name: "q", DType: tensor.Uint8, Shape: []int64{-1, 10}}}}},
		{"image_classifier", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{i64("label", -1)}}},
		{"image_classifier", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("binary", -1, 1)}}},
		{"image_classifier", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("multi", -1, 4)}, Config: config{"softmax": "sigmoid"}}},
		{"image_segmenter", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("out", 1, 3, -1, -1)}}},
		{"image_segmenter", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{i64("out", 1, -1, -1)}}},
		{"image_segmenter", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("out", 1, -1, -1)}}},
		{"image_segmenter", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("out", 1, 1, 8, 8)}, Config: config{"mask_size": "image"}}},
		{"object_detector", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("output0", 1, -1, 7)}, Config: config{"output_format": "yolo"}}},
		{"object_detector", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("output0", 1, 6, -1)}, Config: config{"output_format": "yolov8", "threshold": 0.01}}},
		{"object_detector", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("output0", 1, -1, 6)}, Config: config{"output_format": "end2end"}}},
		{"object_detector", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("output", -1, 7)}}},
		{"object_detector", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("rows", -1, 6), {Name: "count", DType: tensor.Int32, Shape: []int64{-1}}}}},
		{"object_detector", &Model{Inputs: []tensor.Info{dyn}, Outputs: []tensor.Info{f32("boxes", -1, 4), i64("labels", -1), f32("scores", -1)}}},
		{"object_detector", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("boxes", 1, -1, 4), f32("scores", 1, -1, 3)}}},
		{"object_detector", &Model{Inputs: []tensor.Info{dyn}, Outputs: []tensor.Info{f32("logits", 1, -1, 4), f32("pred_boxes", 1, -1, 4)}}},
		{"object_detector", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("boxes", 1, -1, 4), f32("scores", 1, 2, -1), i64("selected", -1, 3)}}},
		{"object_detector", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("grid", 1, 125, 2, 2)}}},
		{"object_detector", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{f32("h1", 1, 2, 2, 3, 85), f32("h2", 1, 1, 1, 3, 85), f32("h3", 1, 1, 1, 3, 85)}}},
	} {
		c.m.Dir = f.TempDir()
		h, err := New(c.handler, c.m)
		if err != nil {
			f.Fatalf("%s %v: %v", c.handler, names(c.m.Outputs), err)
		}
		targets = append(targets, target{c.handler, h, c.m.Outputs})
	}
	textOuts := []tensor.Info{f32("logits", -1, 3)}
	text, err := newTextClassifier(&Model{Dir: testenv.Path("samples/text"), Inputs: ids, Outputs: textOuts})
	if err != nil {
		f.Fatal(err)
	}
	targets = append(targets, target{"text_classifier", text, textOuts})

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		// the first two bytes size the dynamic dimensions (0-15); the rest are the values
		sizes, values := [2]int64{int64(data[0] % 16), int64(data[1] % 16)}, data[2:]
		next := 0
		word := func() uint32 {
			if len(values) < 4 {
				return 0
			}
			w := binary.LittleEndian.Uint32(values[next%(len(values)-3):])
			next += 4
			return w
		}
		for _, tg := range targets {
			outs := make([]*tensor.Tensor, len(tg.outs))
			for i, o := range tg.outs {
				shape := make([]int64, len(o.Shape))
				n := 1
				for d, s := range o.Shape {
					if s < 0 {
						s = sizes[d%2]
					}
					shape[d] = s
					n *= int(s)
				}
				switch o.DType {
				case tensor.Float32:
					v := make([]float32, n)
					for k := range v {
						v[k] = math.Float32frombits(word())
					}
					outs[i] = tensor.New(shape, v)
				case tensor.Uint8:
					v := make([]uint8, n)
					for k := range v {
						v[k] = uint8(word())
					}
					outs[i] = tensor.New(shape, v)
				case tensor.Int32:
					v := make([]int32, n)
					for k := range v {
						v[k] = int32(int16(word()))
					}
					outs[i] = tensor.New(shape, v)
				default:
					v := make([]int64, n)
					for k := range v {
						v[k] = int64(int16(word())) // small indexes, in range or not, and negative ones
					}
					outs[i] = tensor.New(shape, v)
				}
			}
			req := &Request{Header: http.Header{}, State: imageSize{w: 64, h: 48, fedW: 32, fedH: 32}}
			if tg.name == "text_classifier" {
				req.State = nil
			}
			if tg.name == "image_segmenter" && data[0]&16 != 0 {
				req.Header.Set("Accept", "image/png") // the mask as a PNG
			}
			res, err := tg.h.Postprocess(context.Background(), req, outs)
			if err != nil {
				continue // refused: a 500 naming the model's output, not a panic
			}
			if res.ContentType == "image/png" {
				if _, err := png.Decode(bytes.NewReader(res.Body)); err != nil {
					t.Fatalf("%s %v answered a PNG that does not decode: %v", tg.name, names(tg.outs), err)
				}
				continue
			}
			if !json.Valid(res.Body) {
				var shapes []string
				for _, o := range outs {
					shapes = append(shapes, tensor.ShapeString(o.Shape))
				}
				t.Fatalf("%s %v answered invalid JSON for outputs of shapes %v: %.300s", tg.name, names(tg.outs), shapes, res.Body)
			}
		}
	})
}
