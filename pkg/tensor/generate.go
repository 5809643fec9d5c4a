package tensor

import (
	"encoding/binary"
	"math/rand/v2"
)

// RandomStringLength is the length of the strings Generate makes.
const RandomStringLength = 8

// Generate makes a tensor of the given type and shape to feed a model without real data
// (warm-up runs, load tests): zeros (empty strings) when rng is nil, else random values:
// floating-point in [0, 1), integers 0 or 1 (valid as indices, masks and bools), strings of
// RandomStringLength lowercase letters.
func Generate(dt DType, shape []int64, rng *rand.Rand) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if dt == String {
		values := make([]string, n)
		if rng != nil {
			for j := range values {
				letters := make([]byte, RandomStringLength)
				for k := range letters {
					letters[k] = 'a' + byte(rng.IntN(26))
				}
				values[j] = string(letters)
			}
		}
		return NewStrings(shape, values), nil
	}
	values := make([]float64, n)
	if rng != nil {
		for j := range values {
			if dt.IsFloat() {
				values[j] = rng.Float64()
			} else {
				values[j] = float64(rng.IntN(2))
			}
		}
	}
	return FromFloat64s(dt, shape, values)
}

// Binary is the tensor in the binary tensor data layout FromBinary reads: its Data, or for
// strings each element's length in 4 little-endian bytes and then its bytes.
func (t *Tensor) Binary() []byte {
	if t.DType != String {
		return t.Data
	}
	var b []byte
	for _, s := range t.Strings {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}
