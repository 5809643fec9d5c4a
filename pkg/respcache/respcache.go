// Package respcache is ts's response cache (Triton's): the answers of models that ask for it,
// the output tensors of a model version's run for given input tensors, kept in memory up to
// a size in bytes, the least recently used dropped first. One cache serves every model.
package respcache

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/tsserve/ts/pkg/tensor"
)

// Key names an answer: a hash of the model version (its owner id) and the input tensors.
type Key [sha256.Size]byte

// Overheads counted in an entry's size beside its tensors' data, so that many tiny answers
// cannot grow the cache far past its size: the entry, its key and list element, and each
// tensor's header.
const (
	entryOverhead  = 160
	tensorOverhead = 96
)

// Cache is a response cache, safe for concurrent use.
type Cache struct {
	mu        sync.Mutex
	lru       *simplelru.LRU[Key, *entry]
	max, size int64
	evictions int64
}

type entry struct {
	owner   uint64
	outputs []*tensor.Tensor
	size    int64
}

// Stats are a cache's figures.
type Stats struct {
	Entries   int   `json:"entries"`
	Bytes     int64 `json:"bytes"`
	MaxBytes  int64 `json:"maxBytes"`
	Evictions int64 `json:"evictions"` // entries dropped to make room
}

// New returns a cache of at most maxBytes (at least 1).
func New(maxBytes int64) *Cache {
	c := &Cache{max: max(maxBytes, 1)}
	c.lru, _ = simplelru.NewLRU(math.MaxInt, func(_ Key, e *entry) { c.size -= e.size }) // bounded by bytes, not entries
	return c
}

// KeyOf is the key of a run of owner's model on inputs: each input's element type, shape
// and values, in order.
func KeyOf(owner uint64, inputs []*tensor.Tensor) Key {
	h := sha256.New()
	var buf [8]byte
	word := func(n uint64) {
		binary.LittleEndian.PutUint64(buf[:], n)
		h.Write(buf[:])
	}
	word(owner)
	word(uint64(len(inputs)))
	for _, t := range inputs {
		word(uint64(t.DType))
		word(uint64(len(t.Shape)))
		for _, d := range t.Shape {
			word(uint64(d))
		}
		word(uint64(len(t.Data)))
		h.Write(t.Data)
		word(uint64(len(t.Strings)))
		for _, s := range t.Strings {
			word(uint64(len(s)))
			h.Write([]byte(s))
		}
	}
	var k Key
	h.Sum(k[:0])
	return k
}

// Get returns a copy of the answer under k, if the cache holds it.
func (c *Cache) Get(k Key) ([]*tensor.Tensor, bool) {
	c.mu.Lock()
	e, ok := c.lru.Get(k)
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	return clone(e.outputs), true // e.outputs never change: copied outside the lock
}

// Put keeps a copy of owner's answer under k, dropping the least recently used answers to
// make room; an answer larger than the whole cache is not kept.
func (c *Cache) Put(k Key, owner uint64, outputs []*tensor.Tensor) {
	e := &entry{owner: owner, outputs: clone(outputs), size: sizeOf(outputs)}
	if e.size > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lru.Contains(k) { // the same inputs give the same answer: keep the one there
		return
	}
	for c.size+e.size > c.max {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
		c.evictions++
	}
	c.lru.Add(k, e)
	c.size += e.size
}

// Drop removes owner's answers (its model version is gone).
func (c *Cache) Drop(owner uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.lru.Keys() {
		if e, ok := c.lru.Peek(k); ok && e.owner == owner {
			c.lru.Remove(k)
		}
	}
}

// Stats returns the cache's figures.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Entries: c.lru.Len(), Bytes: c.size, MaxBytes: c.max, Evictions: c.evictions}
}

// sizeOf is what an answer costs the cache, in bytes.
func sizeOf(outputs []*tensor.Tensor) int64 {
	size := int64(entryOverhead)
	for _, t := range outputs {
		size += tensorOverhead + 8*int64(len(t.Shape)) + int64(len(t.Data)) + 16*int64(len(t.Strings))
		for _, s := range t.Strings {
			size += int64(len(s))
		}
	}
	return size
}

// clone copies tensors, so that neither the cache nor its callers see the others' changes.
func clone(ts []*tensor.Tensor) []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(ts))
	for i, t := range ts {
		out[i] = &tensor.Tensor{DType: t.DType, Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data), Strings: slices.Clone(t.Strings)}
	}
	return out
}
