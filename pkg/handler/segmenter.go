package handler

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"

	"github.com/tsserve/ts/pkg/tensor"
)

// imageSegmenter is TorchServe's image_segmenter: an image in, a class for every pixel out,
// as [H][W][2] (class index, probability), or a PNG mask (palette index = class) when the
// client asks for image/png.
type imageSegmenter struct {
	spec   imageSpec
	output int // index of the output holding per-pixel scores
	// scoresLast: the output is [1, H, W, classes] (a model taking NHWC images), unless
	// the output's shape says otherwise (scoreLayout); classMap: it is [1, H, W] of class
	// indexes (the argmax taken inside the model); noBatch: the scores have no batch
	// dimension, as the image has none.
	scoresLast, classMap, noBatch bool
	softmax                       string
	labels                        labels
	// toImage: the mask is resampled (nearest) to the image's own size (mask_size: image)
	// rather than answered at the model's output size (model, TorchServe's)
	toImage bool
}

// segmenterMaxSide bounds the images the segmenter feeds at their own size (a model with
// dynamic height and width): its answer has a class and a probability per pixel, and at
// 520 × 520 pixels at most (torchvision's segmentation weights are evaluated at 520) that
// JSON stays within TorchServe's default max_response_size of 6.5 MB, where a photo at
// 2048 pixels would make some 50 MB and take seconds to compute on a CPU.
const segmenterMaxSide = 520

func newImageSegmenter(m *Model) (Handler, error) {
	c := config(m.Config)
	spec, err := modelImageSpec("image_segmenter", m, c, config{"max_size": segmenterMaxSide}, ownSize)
	if err != nil {
		return nil, err
	}
	h := &imageSegmenter{spec: spec}
	if h.output, err = c.output(m.Outputs, "out"); err != nil {
		return nil, err
	}
	switch out := m.Outputs[h.output]; len(out.Shape) {
	case 4:
		h.scoresLast = spec.nhwc
	case 3:
		// one image's scores when the model takes one image and answers floats, else a map
		h.noBatch = spec.noBatch && out.DType.IsFloat()
		h.classMap = !h.noBatch
	case 2:
		if out.DType.IsFloat() {
			return nil, fmt.Errorf("image_segmenter reads an output [H, W] as one image's class map, of integers; %s is %s", out.Name, out.DType)
		}
		h.classMap = true // one image's class map with no batch dimension (the model squeezed it)
	default:
		return nil, fmt.Errorf("image_segmenter needs an output [N, classes, H, W] ([N, H, W, classes] for NHWC images) or a class map [N, H, W] or [H, W]; %s is %s", out.Name, tensor.ShapeString(out.Shape))
	}
	if h.softmax, err = c.softmaxMode(defaultActivation(m.Dir)); err != nil {
		return nil, err
	}
	if h.labels, err = loadLabels(m.Dir, m.Metadata); err != nil {
		return nil, err
	}
	switch size, err := c.string("mask_size", "model"); {
	case err != nil:
		return nil, err
	case size == "image":
		h.toImage = true
	case size != "model":
		return nil, fmt.Errorf("handler setting mask_size: want model or image, got %q", size)
	}
	return h, nil
}

func (h *imageSegmenter) Preprocess(_ context.Context, req *Request) ([]*tensor.Tensor, error) {
	t, size, err := h.spec.requestTensor(req)
	if err != nil {
		return nil, err
	}
	req.State = size
	return []*tensor.Tensor{t}, nil
}

// segmentation is a per-pixel class map.
type segmentation struct {
	h, w    int
	classes []uint8
	probs   []float32
}

// scoreLayout reads a score output of shape [1, a, b, c] for an image fed at fed's size: its
// classes, height and width, and whether its classes come last ([1, H, W, classes]): the
// layout whose spatial dimensions have the image's aspect, when only one has (an NCHW model
// may answer NHWC scores, and an output may be a fraction of the image's size), else the
// image input's layout.
func (h *imageSegmenter) scoreLayout(shape []int64, fed imageSize) (classes, height, width int, last bool) {
	last = h.scoresLast
	if fed.fedW > 0 && fed.fedH > 0 {
		first := sameAspect(shape[2], shape[3], fed.fedH, fed.fedW) // [1, classes, H, W]
		if other := sameAspect(shape[1], shape[2], fed.fedH, fed.fedW); first != other {
			last = other // [1, H, W, classes]
		}
	}
	if last {
		return int(shape[3]), int(shape[1]), int(shape[2]), true
	}
	return int(shape[1]), int(shape[2]), int(shape[3]), false
}

// sameAspect reports whether a grid of rows × cols has the aspect of an image h × w, within
// a tenth (a fraction of the image's size rounds its sides).
func sameAspect(rows, cols int64, h, w int) bool {
	if rows <= 0 || cols <= 0 {
		return false
	}
	r := float64(rows) / float64(cols) * float64(w) / float64(h)
	return r > 0.9 && r < 1.1
}

// segment reads the per-pixel classes of an output for an image fed at fed's size.
func (h *imageSegmenter) segment(out *tensor.Tensor, fed imageSize) (*segmentation, error) {
	v, err := out.Float64s()
	if err != nil {
		return nil, err
	}
	if h.classMap {
		if len(out.Shape) == 2 { // [H, W]: one image's
			return classMap(append([]int64{1}, out.Shape...), v)
		}
		if !out.DType.IsFloat() || len(out.Shape) != 3 || holdsClassIndexes(v) {
			return classMap(out.Shape, v)
		}
		// floats that are not class indexes: a score per pixel, one channel squeezed out (a
		// binary mask or a matte [N, H, W]), read as [N, 1, H, W]
		out = &tensor.Tensor{DType: out.DType, Shape: []int64{out.Shape[0], 1, out.Shape[1], out.Shape[2]}, Data: out.Data}
	}
	if h.noBatch {
		out = &tensor.Tensor{DType: out.DType, Shape: append([]int64{1}, out.Shape...), Data: out.Data}
	}
	if len(out.Shape) != 4 || out.Shape[0] != 1 {
		return nil, fmt.Errorf("segmentation output has shape %s, want [1, classes, H, W]", tensor.ShapeString(out.Shape))
	}
	c, hh, ww, last := h.scoreLayout(out.Shape, fed)
	if c > 256 || (c < 1 && hh*ww > 0) {
		return nil, fmt.Errorf("segmentation output of shape %s has %d classes; 1 to 256 are supported", tensor.ShapeString(out.Shape), c)
	}
	s := &segmentation{h: hh, w: ww, classes: make([]uint8, hh*ww), probs: make([]float32, hh*ww)}
	scores := make([]float64, c)
	plane := hh * ww
	for p := 0; p < plane; p++ {
		for k := 0; k < c; k++ {
			if last {
				scores[k] = v[p*c+k]
			} else {
				scores[k] = v[k*plane+p]
			}
		}
		probs := probabilities(scores, h.softmax)
		best := 0
		for k := range probs {
			if probs[k] > probs[best] || math.IsNaN(probs[best]) && !math.IsNaN(probs[k]) {
				best = k
			}
		}
		s.classes[p], s.probs[p] = uint8(best), float32(probs[best])
	}
	return s, nil
}

// holdsClassIndexes reports whether the values of a floating-point map [N, H, W] are class
// indexes (an argmax cast to floats): all of them, and some above 1. Values 0 and 1 alone read
// the same either way.
func holdsClassIndexes(v []float64) bool {
	above1 := false
	for _, x := range v {
		if !isClassIndex(x) {
			return false
		}
		above1 = above1 || x > 1
	}
	return above1
}

// isClassIndex reports whether x can be a class map's value: a whole number 0-255.
func isClassIndex(x float64) bool { return x >= 0 && x <= 255 && x == math.Trunc(x) }

// classMap reads the values v of an output [1, H, W] (shape) of class indexes: each pixel's
// class, with probability 1.
func classMap(shape []int64, v []float64) (*segmentation, error) {
	if len(shape) != 3 || shape[0] != 1 {
		return nil, fmt.Errorf("segmentation output has shape %s, want a class map [1, H, W]", tensor.ShapeString(shape))
	}
	hh, ww := int(shape[1]), int(shape[2])
	s := &segmentation{h: hh, w: ww, classes: make([]uint8, hh*ww), probs: make([]float32, hh*ww)}
	for p, x := range v {
		if !isClassIndex(x) {
			return nil, fmt.Errorf("segmentation class map holds %v; want class indexes 0-255", x)
		}
		s.classes[p], s.probs[p] = uint8(x), 1
	}
	return s, nil
}

// palette gives each class a distinct colour; the PNG's palette index is the class.
func palette(n int) color.Palette {
	p := make(color.Palette, n)
	for i := range p {
		if i == 0 {
			p[i] = color.RGBA{0, 0, 0, 255}
			continue
		}
		// spread hues around the colour wheel
		r := uint8((i * 97) % 256)
		g := uint8((i*57 + 80) % 256)
		b := uint8((i*151 + 160) % 256)
		p[i] = color.RGBA{r, g, b, 255}
	}
	return p
}

func (h *imageSegmenter) Postprocess(_ context.Context, req *Request, outputs []*tensor.Tensor) (*Response, error) {
	size, ok := req.State.(imageSize)
	s, err := h.segment(outputs[h.output], size)
	if err != nil {
		return nil, err
	}
	if h.toImage && ok && size.w > 0 && size.h > 0 {
		s = s.resample(size)
	}
	if strings.Contains(req.Header.Get("Accept"), "image/png") {
		n := 1
		for _, c := range s.classes {
			n = max(n, int(c)+1)
		}
		img := image.NewPaletted(image.Rect(0, 0, s.w, s.h), palette(max(n, len(h.labels))))
		copy(img.Pix, s.classes)
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			return nil, err
		}
		return &Response{Body: b.Bytes(), ContentType: "image/png"}, nil
	}
	// TorchServe's shape: [H][W][2] of (class index, probability)
	b := make([]byte, 0, s.h*s.w*16)
	b = append(b, '[')
	for y := 0; y < s.h; y++ {
		if y > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for x := 0; x < s.w; x++ {
			if x > 0 {
				b = append(b, ',')
			}
			p := y*s.w + x
			b = fmt.Appendf(b, "[%d.0,", s.classes[p])
			b = append(appendFloat(b, float64(s.probs[p]), 32), ']')
		}
		b = append(b, ']')
	}
	b = append(b, "]\n"...)
	return &Response{Body: b, ContentType: "application/json"}, nil
}

// resample maps the mask onto the image's own pixels (nearest neighbour): each pixel takes
// the class of the point of the model's output it falls on, through where the image lies in
// what the model was fed (all of it, unless letterboxed).
func (s *segmentation) resample(size imageSize) *segmentation {
	c := size.region()
	if size.fedW <= 0 || size.fedH <= 0 || c.Empty() {
		return s
	}
	out := &segmentation{h: size.h, w: size.w, classes: make([]uint8, size.w*size.h), probs: make([]float32, size.w*size.h)}
	// output pixels per fed pixel: the model's mask may be smaller than its input (SegFormer's is a quarter)
	kx, ky := float64(s.w)/float64(size.fedW), float64(s.h)/float64(size.fedH)
	for y := 0; y < size.h; y++ {
		fy := float64(c.Min.Y) + (float64(y)+0.5)*float64(c.Dy())/float64(size.h)
		sy := min(s.h-1, max(0, int(fy*ky)))
		for x := 0; x < size.w; x++ {
			fx := float64(c.Min.X) + (float64(x)+0.5)*float64(c.Dx())/float64(size.w)
			sx := min(s.w-1, max(0, int(fx*kx)))
			out.classes[y*size.w+x], out.probs[y*size.w+x] = s.classes[sy*s.w+sx], s.probs[sy*s.w+sx]
		}
	}
	return out
}
