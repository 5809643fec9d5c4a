package respcache

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

func floats(shape []int64, values ...float32) *tensor.Tensor { return tensor.New(shape, values) }

// Keys differ with anything that can change an answer: the owner, an element type, a shape,
// a value, a string, the number or order of inputs; and only then.
func TestKeyOf(t *testing.T) {
	x := floats([]int64{1, 2}, 1, 2)
	base := KeyOf(1, []*tensor.Tensor{x})
	if KeyOf(1, []*tensor.Tensor{floats([]int64{1, 2}, 1, 2)}) != base {
		t.Fatal("the same inputs give another key")
	}
	asInts := tensor.New([]int64{1, 1}, []int64{int64(x.Data[0]) | int64(x.Data[1])<<8}) // other type, same byte count
	asInts.Data = x.Data
	for name, other := range map[string]Key{
		"owner":        KeyOf(2, []*tensor.Tensor{x}),
		"value":        KeyOf(1, []*tensor.Tensor{floats([]int64{1, 2}, 1, 3)}),
		"shape":        KeyOf(1, []*tensor.Tensor{floats([]int64{2, 1}, 1, 2)}),
		"element type": KeyOf(1, []*tensor.Tensor{{DType: tensor.Int32, Shape: []int64{1, 2}, Data: x.Data}}),
		"one more":     KeyOf(1, []*tensor.Tensor{x, x}),
		"strings":      KeyOf(1, []*tensor.Tensor{tensor.NewStrings([]int64{2}, []string{"ab", "c"})}),
		"no inputs":    KeyOf(1, nil),
	} {
		if other == base {
			t.Errorf("another %s gives the same key", name)
		}
	}
	// strings are delimited: "ab","c" is not "a","bc"
	if KeyOf(1, []*tensor.Tensor{tensor.NewStrings([]int64{2}, []string{"ab", "c"})}) == KeyOf(1, []*tensor.Tensor{tensor.NewStrings([]int64{2}, []string{"a", "bc"})}) {
		t.Error(`["ab" "c"] and ["a" "bc"] share a key`)
	}
	order := []*tensor.Tensor{floats([]int64{1}, 1), floats([]int64{1}, 2)}
	if KeyOf(1, order) == KeyOf(1, []*tensor.Tensor{order[1], order[0]}) {
		t.Error("inputs in another order share a key")
	}
}

// Get returns what Put kept, as copies: changing what was put or what was got changes
// nothing in the cache.
func TestPutGet(t *testing.T) {
	c := New(1 << 20)
	k := KeyOf(1, []*tensor.Tensor{floats([]int64{1}, 5)})
	if _, ok := c.Get(k); ok {
		t.Fatal("an empty cache hits")
	}
	out := []*tensor.Tensor{floats([]int64{1, 2}, 0.25, 0.75), tensor.New([]int64{}, []int64{7}), tensor.NewStrings([]int64{1}, []string{"cat"})}
	c.Put(k, 1, out)
	out[0].Data[0] ^= 0xff
	out[2].Strings[0] = "dog"
	for round := range 2 {
		got, ok := c.Get(k)
		if !ok {
			t.Fatalf("round %d: no hit", round)
		}
		if v, _ := tensor.Values[float32](got[0]); fmt.Sprint(v) != "[0.25 0.75]" || len(got[1].Shape) != 0 || got[1].DType != tensor.Int64 || got[2].Strings[0] != "cat" {
			t.Errorf("round %d: got %v, shape %#v, %q", round, v, got[1].Shape, got[2].Strings)
		}
		got[0].Data[0] ^= 0xff
		got[2].Strings[0] = "bird"
	}
	if s := c.Stats(); s.Entries != 1 || s.Bytes != sizeOf(out) || s.Evictions != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Over its size, the cache drops the least recently used answers first; an answer larger
// than the cache is not kept; Drop removes one owner's answers only.
func TestEviction(t *testing.T) {
	answer := floats([]int64{100}, make([]float32, 100)...) // 400 bytes of data
	size := sizeOf([]*tensor.Tensor{answer})
	c := New(3 * size)
	key := func(i int) Key { return KeyOf(uint64(i%2), []*tensor.Tensor{floats([]int64{1}, float32(i))}) }
	for i := range 3 {
		c.Put(key(i), uint64(i%2), []*tensor.Tensor{answer})
	}
	c.Get(key(0)) // 0 is now the most recent: 1 goes first
	c.Put(key(3), 1, []*tensor.Tensor{answer})
	for i, want := range []bool{true, false, true, true} {
		if _, ok := c.Get(key(i)); ok != want {
			t.Errorf("answer %d kept: %v, want %v", i, ok, want)
		}
	}
	if s := c.Stats(); s.Entries != 3 || s.Bytes != 3*size || s.Evictions != 1 || s.MaxBytes != 3*size {
		t.Errorf("stats %+v", s)
	}
	huge := floats([]int64{1000}, make([]float32, 1000)...)
	c.Put(KeyOf(9, nil), 9, []*tensor.Tensor{huge})
	if _, ok := c.Get(KeyOf(9, nil)); ok || c.Stats().Entries != 3 {
		t.Errorf("an answer larger than the cache is kept (%+v)", c.Stats())
	}
	c.Drop(1) // answers 1 and 3 were owner 1's
	for i, want := range []bool{true, false, true, false} {
		if _, ok := c.Get(key(i)); ok != want {
			t.Errorf("after Drop(1): answer %d kept: %v, want %v", i, ok, want)
		}
	}
	if s := c.Stats(); s.Entries != 2 || s.Bytes != 2*size {
		t.Errorf("after Drop: %+v", s)
	}
}

// Concurrent use (go test -race) keeps the accounting right.
func TestConcurrent(t *testing.T) {
	answer := []*tensor.Tensor{floats([]int64{10}, make([]float32, 10)...)}
	c := New(50 * sizeOf(answer))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := KeyOf(uint64(g), []*tensor.Tensor{floats([]int64{1}, float32(i%80))})
				if _, ok := c.Get(k); !ok {
					c.Put(k, uint64(g), answer)
				}
				if i%100 == 0 {
					c.Drop(uint64((g + 1) % 8))
				}
			}
		}()
	}
	wg.Wait()
	s := c.Stats()
	if s.Bytes != int64(s.Entries)*sizeOf(answer) || s.Bytes > s.MaxBytes {
		t.Errorf("stats %+v", s)
	}
}
