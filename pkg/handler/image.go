package handler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // register decoders
	_ "image/jpeg"
	_ "image/png"
	"math"
	"slices"
	"strings"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"

	"github.com/tsserve/ts/pkg/tensor"
)

// MaxImagePixels refuses decompression bombs: PIL's default limit, which TorchServe keeps.
const MaxImagePixels = 89_478_485

// ImageNet statistics, torchvision's defaults for 3-channel models.
var (
	imagenetMean = []float64{0.485, 0.456, 0.406}
	imagenetStd  = []float64{0.229, 0.224, 0.225}
)

// imageSpec says how an image becomes a model input.
type imageSpec struct {
	input   tensor.Info
	nhwc    bool // layout [N,H,W,C] instead of [N,C,H,W]
	noBatch bool // the input is one image, [C,H,W] or [H,W,C], with no batch dimension
	// noChannel: the input is grey images with no channel dimension, [N,H,W] (Keras's
	// MNIST models, through tf2onnx)
	noChannel bool
	flat      bool // the input is the image's values in one row, [N,C×H×W] (or [C×H×W])
	channels  int  // 1 (grayscale), 3 (RGB) or 4 (RGBA: the image's alpha fourth)
	bgr       bool // channel order BGR instead of RGB
	height    int  // model input size: the crop; 0 (and width 0): each image's own size
	width     int
	maxSide   int // an image fed at its own size is scaled down to fit maxSide × maxSide
	resize    int // shorter side before the centre crop; 0 resizes straight to height×width
	// letterbox scales the image to fit height×width, its aspect kept, centred on grey
	// (114) padding, as Ultralytics' YOLO models are trained and run
	letterbox bool
	mean      []float64
	std       []float64
	scale     float64 // pixel values are divided by this first (255 → [0,1])
}

// modelImageSpec is newImageSpec for a model whose one input is the image; handler names
// the handler in the error when the model has other inputs. The settings come from c (the
// handler's section of model-config.yaml), else the archive's Hugging Face
// preprocessor_config.json, else defaults (the handler's own, then newImageSpec's).
func modelImageSpec(handler string, m *Model, c, defaults config, dynamicSide int) (imageSpec, error) {
	if len(m.Inputs) != 1 {
		return imageSpec{}, fmt.Errorf("%s needs a model with one image input, this one has %d inputs", handler, len(m.Inputs))
	}
	hf, err := hfImageSettings(m.Dir)
	if err != nil {
		return imageSpec{}, err
	}
	if ultralytics(m.Metadata) {
		// Ultralytics' models take pixels scaled to [0, 1], not normalised, at the size they
		// were exported for (imgsz; what a model with dynamic height and width is fed); its
		// classifiers resize the shorter side to that size before the centre crop (no 256 → 224)
		defaults = mergeConfig(defaults, config{"mean": []any{0.0}, "std": []any{1.0}})
		if side := ultralyticsSize(m.Metadata["imgsz"]); side > 0 {
			defaults["size"] = side
			if m.Metadata["task"] == "classify" {
				defaults["resize"] = side
			}
		}
	}
	return newImageSpec(m.Inputs[0], c, mergeConfig(defaults, hf), dynamicSide)
}

// ultralyticsSize reads the square side of Ultralytics' metadata "imgsz" ("[224, 224]"); 0
// for anything else.
func ultralyticsSize(imgsz string) int {
	var h, w int
	if _, err := fmt.Sscanf(strings.ReplaceAll(imgsz, " ", ""), "[%d,%d]", &h, &w); err != nil || h != w || h <= 0 {
		return 0
	}
	return h
}

// ultralytics reports whether the ONNX metadata says Ultralytics exported the model.
func ultralytics(metadata map[string]string) bool {
	return metadata["author"] == "Ultralytics" || strings.HasPrefix(metadata["description"], "Ultralytics ")
}

// The side of the square an image is resized to for a model whose height and width are both
// dynamic, unless the size setting says otherwise: ImageNet's crop for classifiers, YOLO's
// training size for its detectors, and each image's own size (0) for torchvision's detectors
// and segmenters, which resize inside the model, as TorchServe feeds them.
const (
	classifierSide = 224
	yoloSide       = 640
	ownSize        = 0
)

// newImageSpec derives the preprocessing from the model's image input and the handler's
// settings (layout, channels, channel_order, size, resize, mean, std, scale). Defaults:
// the layout and channel count from the input's shape, torchvision's Resize(256) +
// CenterCrop(224) for 224-pixel (or dynamic) inputs and a direct resize otherwise, ImageNet
// mean/std for RGB inputs and none for grayscale, pixel values scaled to [0, 1] for float
// inputs and left as 0–255 for integer inputs. A model whose height and width are both
// dynamic gets squares of dynamicSide (ownSize: each image at its own size). fallback holds
// settings that c lacks; its size yields to the model's fixed height and width.
func newImageSpec(in tensor.Info, c, fallback config, dynamicSide int) (imageSpec, error) {
	settings := c
	c = mergeConfig(fallback, c)
	s := imageSpec{input: in}
	shape := in.Shape
	isChannels := func(d int64) bool { return d == 1 || d == 3 || d == 4 }
	errShape := fmt.Errorf("input %s: an image model takes an input [N,C,H,W] or [N,H,W,C] (or one image, [C,H,W] or [H,W,C]), grey images [N,H,W], or a flattened square image [N,H×W] or [N,3×H×W]", in)
	switch len(shape) {
	case 4:
	case 3:
		if shape[0] < 0 && !isChannels(shape[2]) { // grey images [N,H,W]: read as [N,1,H,W]
			s.noChannel = true
			shape = []int64{shape[0], 1, shape[1], shape[2]}
			break
		}
		// one image (torchvision's detection models take [3,H,W]): read it as [1,...]
		s.noBatch = true
		shape = append([]int64{1}, shape...)
	case 1, 2: // a flattened image, as MNIST's classic models take [N,784]
		s.flat, s.noBatch = true, len(shape) == 1
		var ok bool
		if shape, ok = unflatten(shape[len(shape)-1]); !ok {
			return s, errShape
		}
	default:
		return s, errShape
	}
	layout, err := c.string("layout", "")
	if err != nil {
		return s, err
	}
	switch strings.ToUpper(layout) {
	case "NCHW":
	case "NHWC":
		s.nhwc = !s.noChannel // [N,H,W] has no channel dimension to place
	case "":
		// a flattened RGB image is read as PyTorch flattens [3,H,W]; layout: NHWC for Keras's order
		s.nhwc = !s.flat && !isChannels(shape[1]) && isChannels(shape[3])
	default:
		return s, fmt.Errorf("handler setting layout: want NCHW or NHWC, got %q", layout)
	}
	if s.flat && s.nhwc { // unflatten reads [1,C,H,W]
		shape = []int64{1, shape[2], shape[3], shape[1]}
	}
	ch, hd, wd := shape[1], shape[2], shape[3]
	if s.nhwc {
		hd, wd, ch = shape[1], shape[2], shape[3]
	}
	defChannels := 3 // RGB unless the model says one channel, or four (RGBA)
	if ch == 1 || ch == 4 {
		defChannels = int(ch)
	}
	if s.channels, err = c.int("channels", defChannels); err != nil {
		return s, err
	}
	if s.channels != 1 && s.channels != 3 && s.channels != 4 {
		return s, fmt.Errorf("input %s: images have 1, 3 or 4 channels (grey, RGB, RGBA), the model wants %d", in, s.channels)
	}
	if ch > 0 && int(ch) != s.channels {
		return s, fmt.Errorf("input %s: the model takes %d channels, the handler makes %d; images have 1, 3 or 4 channels (grey, RGB, RGBA): set the layout (NCHW or NHWC) or channels handler setting", in, ch, s.channels)
	}
	order, err := c.string("channel_order", "RGB")
	if err != nil {
		return s, err
	}
	switch strings.ToUpper(order) {
	case "RGB":
	case "BGR":
		s.bgr = true
	default:
		return s, fmt.Errorf("handler setting channel_order: want RGB or BGR, got %q", order)
	}
	size := dynamicSide
	if hd > 0 && wd > 0 && hd != wd {
		s.height, s.width = int(hd), int(wd)
	} else {
		sizes := c
		switch {
		case hd > 0:
			size, sizes = int(hd), settings
		case wd > 0:
			size, sizes = int(wd), settings
		}
		if size, err = sizes.int("size", size); err != nil {
			return s, err
		}
		if size < 0 || (size == 0 && (hd > 0 || wd > 0)) {
			return s, fmt.Errorf("handler setting size: want a side in pixels, or 0 (each image at its own size) for a model whose height and width are both dynamic; got %d for input %s", size, in)
		}
		s.height, s.width = size, size
	}
	if s.maxSide, err = c.int("max_size", maxOwnSide); err != nil {
		return s, err
	}
	if s.maxSide < 1 {
		return s, fmt.Errorf("handler setting max_size: want the longest side in pixels of an image fed at its own size, got %d", s.maxSide)
	}
	defResize := 0
	if s.height == 224 && s.width == 224 {
		defResize = 256
	}
	if s.resize, err = c.int("resize", defResize); err != nil {
		return s, err
	}
	if s.letterbox, err = c.bool("letterbox", false); err != nil {
		return s, err
	}
	defMean, defStd := []float64{0}, []float64{1}
	switch s.channels {
	case 3:
		defMean, defStd = imagenetMean, imagenetStd
	case 4: // ImageNet's for the colours, the alpha as it is
		defMean, defStd = append(slices.Clone(imagenetMean), 0), append(slices.Clone(imagenetStd), 1)
	}
	defScale := 255.0
	if !in.DType.IsFloat() {
		defMean, defStd, defScale = []float64{0}, []float64{1}, 1
	}
	if s.mean, err = c.floats("mean", defMean); err != nil {
		return s, err
	}
	if s.std, err = c.floats("std", defStd); err != nil {
		return s, err
	}
	if s.scale, err = c.float("scale", defScale); err != nil {
		return s, err
	}
	for _, v := range [][]float64{s.mean, s.std} {
		if len(v) != 1 && len(v) != s.channels {
			return s, fmt.Errorf("handler settings mean and std need 1 or %d values", s.channels)
		}
	}
	for _, v := range s.std {
		if v == 0 {
			return s, errors.New("handler setting std: values must not be 0")
		}
	}
	if s.scale == 0 {
		return s, errors.New("handler setting scale: must not be 0")
	}
	return s, nil
}

// unflatten reads the length of a flattened image: a square grayscale image (784 = 28×28)
// or a square RGB one (3×32×32) of at least 8×8 pixels (fewer values are a table's
// features, not an image), as the shape [1, C, side, side].
func unflatten(n int64) ([]int64, bool) {
	for _, c := range []int64{1, 3} {
		if n <= 0 || n%c != 0 {
			continue
		}
		side := int64(math.Round(math.Sqrt(float64(n / c))))
		if side*side*c == n && side >= 8 {
			return []int64{1, c, side, side}, true
		}
	}
	return nil, false
}

// decodeImage decodes JPEG, PNG, WebP, GIF or BMP bytes (or their base64 text), refusing
// images over MaxImagePixels before decoding them.
func decodeImage(data []byte) (image.Image, error) {
	if len(data) == 0 {
		return nil, badInput("the request has no image: send JPEG, PNG, WebP, GIF or BMP bytes as the body or as a form field")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if raw, ok := decodeBase64(data); ok {
			return decodeImage(raw)
		}
		if text, ok := jsonImage(data); ok {
			if raw, ok := decodeBase64([]byte(text)); ok {
				return decodeImage(raw)
			}
			return nil, badInput("the JSON body's image is not base64 text")
		}
		var list []any
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' && json.Unmarshal(t, &list) == nil && len(list) != 1 {
			return nil, badInput("send one image per request, not %d in a JSON array: concurrent requests are batched together", len(list))
		}
		return nil, badInput("input is not a supported image (JPEG, PNG, WebP, GIF or BMP): %v", err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels || cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, badInput("image is %dx%d pixels; the limit is %d pixels", cfg.Width, cfg.Height, MaxImagePixels)
	}
	img, err := decodeGuarded(data)
	if err != nil {
		return nil, badInput("cannot decode %s image: %v", format, err)
	}
	if b := img.Bounds(); b.Empty() { // a GIF's frame may be empty where its screen is not
		return nil, badInput("%s image has no pixels: its picture is %dx%d", format, b.Dx(), b.Dy())
	}
	return img, nil
}

// decodeGuarded is image.Decode, with a decoder's panic on malformed data (the codecs are
// third-party code fed by clients) turned into an error: the client's mistake is a 400.
func decodeGuarded(data []byte) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("malformed image (%v)", p)
		}
	}()
	img, _, err = image.Decode(bytes.NewReader(data))
	return img, err
}

// jsonImage finds the base64 text of an image in a JSON body: a JSON string (as TorchServe's
// vision handlers take it) or an object's "data" or "b64" field (as clients of TensorFlow
// Serving send it), alone or as a JSON array's one item.
func jsonImage(data []byte) (string, bool) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || (trimmed[0] != '"' && trimmed[0] != '{' && trimmed[0] != '[') {
		return "", false
	}
	var doc any
	if json.Unmarshal(trimmed, &doc) != nil {
		return "", false
	}
	if list, ok := doc.([]any); ok && len(list) == 1 { // a JSON array of one image
		doc = list[0]
	}
	switch d := doc.(type) {
	case string:
		return d, true
	case map[string]any:
		for _, key := range []string{"data", "b64"} {
			if s, ok := d[key].(string); ok {
				return s, true
			}
		}
	}
	return "", false
}

// decodeBase64 accepts base64 text (TorchServe's handlers take it too).
func decodeBase64(data []byte) ([]byte, bool) {
	text := strings.TrimSpace(string(data))
	if len(text) < 16 {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
		if raw, err := enc.DecodeString(text); err == nil {
			return raw, true
		}
	}
	return nil, false
}

// requestTensor decodes the request's image and makes the model's input tensor from it; it
// also returns the image's own size, the size the model is fed (the prepared image's) and
// where the image lies in it.
func (s imageSpec) requestTensor(req *Request) (t *tensor.Tensor, size imageSize, err error) {
	in, ok := req.Data()
	if !ok {
		return nil, size, badInput("the request has no image: send JPEG, PNG, WebP, GIF or BMP bytes as the body or as a form field")
	}
	img, err := decodeImage(in.Data)
	if err != nil {
		return nil, size, err
	}
	prepared, content := s.prepare(img)
	if t, err = s.tensor(prepared); err != nil {
		return nil, size, err
	}
	own, fed := img.Bounds().Size(), prepared.Bounds().Size()
	return t, imageSize{w: own.X, h: own.Y, fedW: fed.X, fedH: fed.Y, content: content}, nil
}

// imageSize remembers the original image's size, the size the model saw, and where the
// image lies in what it saw (all of it, unless letterboxed), for mapping boxes back.
type imageSize struct {
	w, h, fedW, fedH int
	content          image.Rectangle
}

// region is where the image lies in what the model was fed: content when letterboxed, else
// all of it.
func (z imageSize) region() image.Rectangle {
	if z.content.Empty() {
		return image.Rect(0, 0, z.fedW, z.fedH)
	}
	return z.content
}

// toImage maps a point of the image fed to the model back to the original image.
func (z imageSize) toImage(x, y float64) (float64, float64) {
	c := z.region()
	return (x - float64(c.Min.X)) * float64(z.w) / float64(c.Dx()), (y - float64(c.Min.Y)) * float64(z.h) / float64(c.Dy())
}

// inputs is requestTensor as a handler's Preprocess returns it.
func (s imageSpec) inputs(req *Request) ([]*tensor.Tensor, error) {
	t, _, err := s.requestTensor(req)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{t}, nil
}

// maxOwnSide bounds an image fed at its own size, unless the max_size setting says
// otherwise: a larger one is scaled down to fit, its aspect kept (a 50-megapixel photo would
// make a 600 MB float tensor and more in the model; torchvision's detectors scale to 1333
// pixels inside anyway).
const maxOwnSide = 2048

// prepare resizes and centre-crops (or letterboxes) an image to the model's input size, or
// leaves it at its own size, within maxSide; content is where the image lies in the
// result when letterboxed (empty otherwise: all of it).
func (s imageSpec) prepare(img image.Image) (prepared image.Image, content image.Rectangle) {
	if s.height == 0 {
		if b := img.Bounds(); max(b.Dx(), b.Dy()) > s.maxSide {
			return imaging.Fit(img, s.maxSide, s.maxSide, imaging.Linear), content
		}
		return img, content
	}
	b := img.Bounds()
	if s.letterbox {
		return letterbox(img, s.width, s.height)
	}
	if s.resize <= 0 {
		return imaging.Resize(img, s.width, s.height, imaging.Linear), content
	}
	// torchvision Resize(int): the shorter side becomes resize, keeping the aspect ratio
	w, h := b.Dx(), b.Dy()
	var nw, nh int
	if w <= h {
		nw, nh = s.resize, int(float64(s.resize)*float64(h)/float64(w))
	} else {
		nw, nh = int(float64(s.resize)*float64(w)/float64(h)), s.resize
	}
	resized := imaging.Resize(img, nw, nh, imaging.Linear)
	// torchvision CenterCrop: offsets rounded half to even, as Python's round()
	top := int(math.RoundToEven(float64(nh-s.height) / 2))
	left := int(math.RoundToEven(float64(nw-s.width) / 2))
	return imaging.Crop(resized, image.Rect(left, top, left+s.width, top+s.height)), content
}

// letterboxGrey is the padding Ultralytics' letterbox uses.
var letterboxGrey = color.NRGBA{R: 114, G: 114, B: 114, A: 255}

// letterbox scales img to fit width×height, its aspect kept, and centres it on grey, as
// Ultralytics' LetterBox does (the padding split with its rounding).
func letterbox(img image.Image, width, height int) (image.Image, image.Rectangle) {
	b := img.Bounds()
	scale := math.Min(float64(width)/float64(b.Dx()), float64(height)/float64(b.Dy()))
	nw, nh := max(1, int(math.Round(float64(b.Dx())*scale))), max(1, int(math.Round(float64(b.Dy())*scale)))
	left := int(math.Round(float64(width-nw)/2 - 0.1))
	top := int(math.Round(float64(height-nh)/2 - 0.1))
	canvas := imaging.New(width, height, letterboxGrey)
	content := image.Rect(left, top, left+nw, top+nh)
	return imaging.Paste(canvas, imaging.Resize(img, nw, nh, imaging.Linear), content.Min), content
}

// tensor converts a prepared image into a [1, ...] input tensor ([...] for a model that
// takes one image with no batch dimension).
func (s imageSpec) tensor(img image.Image) (*tensor.Tensor, error) {
	nrgba := imaging.Clone(img) // *image.NRGBA with bounds at the origin
	h, w := nrgba.Rect.Dy(), nrgba.Rect.Dx()
	if s.height != 0 && (h != s.height || w != s.width) {
		return nil, fmt.Errorf("prepared image is %dx%d, want %dx%d", w, h, s.width, s.height)
	}
	c := s.channels
	out := make([]float64, c*h*w)
	for y := 0; y < h; y++ {
		row := nrgba.Pix[y*nrgba.Stride:]
		for x := 0; x < w; x++ {
			p := row[x*4 : x*4+4]
			for ch := 0; ch < c; ch++ {
				var v float64
				if c == 1 {
					// ITU-R 601-2 luma, as PIL's convert("L")
					v = (float64(p[0])*299 + float64(p[1])*587 + float64(p[2])*114) / 1000
				} else if ch == 3 {
					v = float64(p[3]) // alpha, not premultiplied (255 for an opaque image)
				} else if s.bgr {
					v = float64(p[2-ch])
				} else {
					v = float64(p[ch])
				}
				v = (v/s.scale - pick(s.mean, ch)) / pick(s.std, ch)
				if s.nhwc {
					out[(y*w+x)*c+ch] = v
				} else {
					out[ch*h*w+y*w+x] = v
				}
			}
		}
	}
	shape := []int64{1, int64(c), int64(h), int64(w)}
	if s.nhwc {
		shape = []int64{1, int64(h), int64(w), int64(c)}
	}
	if s.flat {
		shape = []int64{1, int64(c * h * w)}
	}
	if s.noChannel {
		shape = []int64{1, int64(h), int64(w)}
	}
	if s.noBatch {
		shape = shape[1:]
	}
	if !s.input.DType.IsFloat() {
		for i, v := range out {
			out[i] = math.Round(math.Max(0, math.Min(255, v)))
		}
	}
	t, err := tensor.FromFloat64s(s.input.DType, shape, out)
	if err != nil {
		return nil, fmt.Errorf("build %s input: %w", s.input.Name, err)
	}
	return t, nil
}

func pick(v []float64, i int) float64 {
	if len(v) == 1 {
		return v[0]
	}
	return v[i]
}
