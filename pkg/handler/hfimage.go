package handler

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// HFImageProcessorFile is a Hugging Face model's preprocessor_config.json: how its image
// processor resizes, crops and normalizes images. In an archive it sets the image handlers'
// defaults, under the handler settings of model-config.yaml.
const HFImageProcessorFile = "preprocessor_config.json"

// hfImageProcessor is the part of preprocessor_config.json the image handlers use.
type hfImageProcessor struct {
	DoNormalize        *bool     `json:"do_normalize"`
	ImageMean          []float64 `json:"image_mean"`
	ImageStd           []float64 `json:"image_std"`
	DoRescale          *bool     `json:"do_rescale"`
	RescaleFactor      *float64  `json:"rescale_factor"`
	DoFlipChannelOrder bool      `json:"do_flip_channel_order"`
	DoResize           *bool     `json:"do_resize"`
	Size               hfSize    `json:"size"`
	DoCenterCrop       bool      `json:"do_center_crop"`
	CropSize           hfSize    `json:"crop_size"`
	CropPct            *float64  `json:"crop_pct"`
	DoPad              bool      `json:"do_pad"`
}

// hfSize is an image processor's size: {"height", "width"}, {"shortest_edge"} (with
// "longest_edge"), or one number (older configs).
type hfSize struct {
	Height, Width, ShortestEdge, LongestEdge int
}

func (s *hfSize) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		s.Height, s.Width, s.ShortestEdge = n, n, 0
		return nil
	}
	var m struct {
		Height       int `json:"height"`
		Width        int `json:"width"`
		ShortestEdge int `json:"shortest_edge"`
		LongestEdge  int `json:"longest_edge"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*s = hfSize{Height: m.Height, Width: m.Width, ShortestEdge: m.ShortestEdge, LongestEdge: m.LongestEdge}
	return nil
}

// hfImageSettings reads the archive's preprocessor_config.json, if it has one, as image
// handler settings (mean, std, scale, channel_order, and size and resize where the
// processor's resizing maps onto them: a centre crop after resizing the shorter side, or a
// straight resize to a square); nil without the file.
func hfImageSettings(dir string) (config, error) {
	b, err := os.ReadFile(filepath.Join(dir, HFImageProcessorFile))
	if errors.Is(err, fs.ErrNotExist) || dir == "" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p hfImageProcessor
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", HFImageProcessorFile, err)
	}
	c := config{}
	if p.DoNormalize != nil && !*p.DoNormalize {
		c["mean"], c["std"] = []any{0.0}, []any{1.0}
	} else if len(p.ImageMean) > 0 && len(p.ImageStd) > 0 {
		c["mean"], c["std"] = floatsAny(p.ImageMean), floatsAny(p.ImageStd)
	}
	switch {
	case p.DoRescale != nil && !*p.DoRescale:
		c["scale"] = 1.0
	case p.RescaleFactor != nil && *p.RescaleFactor > 0:
		c["scale"] = 1 / *p.RescaleFactor
	}
	if p.DoFlipChannelOrder {
		c["channel_order"] = "BGR"
	}
	if p.DoResize != nil && !*p.DoResize {
		return c, nil
	}
	size, crop := p.Size, p.CropSize
	switch {
	case p.DoCenterCrop && crop.Height > 0 && crop.Height == crop.Width:
		// resize the shorter side (or to a square), then crop: torchvision's Resize + CenterCrop
		c["size"] = crop.Height
		if side := max(size.ShortestEdge, min(size.Height, size.Width)); side > 0 {
			c["resize"] = side
		}
	case size.Height > 0 && size.Height == size.Width && !p.DoPad:
		c["size"], c["resize"] = size.Height, 0 // straight to the square (ViT)
	case size.ShortestEdge > 0 && size.LongestEdge == 0:
		// ConvNeXT's processor: under 384 pixels, resize the shorter side to
		// shortest_edge / crop_pct and crop shortest_edge; else resize straight
		c["size"], c["resize"] = size.ShortestEdge, 0
		if p.CropPct != nil && *p.CropPct > 0 && size.ShortestEdge < 384 {
			c["resize"] = int(float64(size.ShortestEdge) / *p.CropPct)
		}
	case size.LongestEdge > 0:
		// DETR's processors: the shorter side to shortest_edge, the longer within
		// longest_edge; ts feeds such a model each image at its own size, bounded so
		c["max_size"] = size.LongestEdge
	}
	return c, nil
}

func floatsAny(v []float64) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}
