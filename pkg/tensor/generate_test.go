package tensor

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestGenerate: zeros without a random source; with one, floats in [0, 1), integers 0 or 1,
// strings of lowercase letters; and the binary layout reads back as the same tensor.
func TestGenerate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shape := []int64{2, 3}
	for _, dt := range []DType{Float32, Float64, Float16, Int64, Int32, Uint8, Bool, String} {
		t.Run(dt.String(), func(t *testing.T) {
			zero, err := Generate(dt, shape, nil)
			if err != nil {
				t.Fatal(err)
			}
			random, err := Generate(dt, shape, rng)
			if err != nil {
				t.Fatal(err)
			}
			if random.DType != dt || !slices.Equal(random.Shape, shape) || random.Len() != 6 {
				t.Fatalf("got %v %v (%d elements)", random.DType, random.Shape, random.Len())
			}
			if dt == String {
				for i, s := range random.Strings {
					if zero.Strings[i] != "" || len(s) != RandomStringLength || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz") != "" {
						t.Errorf("strings %q, zeros %q", random.Strings, zero.Strings)
					}
				}
			} else {
				zs, _ := zero.Float64s()
				rs, _ := random.Float64s()
				distinct := map[float64]bool{}
				for i, v := range rs {
					distinct[v] = true
					if zs[i] != 0 || v < 0 || v >= 1 && !(v == 1 && !dt.IsFloat()) {
						t.Errorf("values %v, zeros %v", rs, zs)
						break
					}
				}
				if len(distinct) < 2 {
					t.Errorf("six random values are all %v", rs[0])
				}
			}
			back, err := FromBinary(dt, shape, random.Binary())
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(back, random) {
				t.Errorf("binary round trip: %+v, want %+v", back, random)
			}
		})
	}
	if _, err := Generate(Float32, []int64{-1, 2}, nil); err == nil {
		t.Error("a negative dimension was accepted")
	}
}
