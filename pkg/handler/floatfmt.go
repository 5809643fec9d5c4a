package handler

import (
	"math"
	"strconv"
)

// formatFloat32 prints a float32 at its own precision (0.1, not 0.10000000149011612).
func formatFloat32(f float32) string {
	return strconv.FormatFloat(float64(f), 'g', -1, 32)
}

// finite reports whether v is a number JSON can hold: neither NaN nor infinite (a model
// may answer either).
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
