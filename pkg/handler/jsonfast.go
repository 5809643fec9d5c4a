package handler

import (
	"encoding/json"
	"unicode/utf8"
	"unsafe"
)

// Reading JSON tensors fast. encoding/json decodes a JSON array into []any with every number
// boxed on its own (a string and an interface each): an image tensor of 150,528 numbers takes
// ~50 ms and 300,000 allocations that way, most of a request's time. fastDecode reads the
// documents it can (no escapes or invalid UTF-8 in strings, nesting under maxFastDepth)
// into the tree encoding/json makes, except that an array of numbers is jsonNumbers: their
// text in one slice. Anything else is left to encoding/json (decodeJSON), whose errors and
// readings stay the ones requests get.

// jsonNumbers is a JSON array of numbers (one or more) as fastDecode reads it: each number's
// text, exact, as json.Number keeps it. Code that takes decoded arrays reads it with asList
// (cold paths) or natively (tensors).
type jsonNumbers []json.Number

// maxFastDepth is the nesting fastDecode reads; deeper documents go to encoding/json.
const maxFastDepth = 1000

// asList is a decoded JSON array as []any, whichever way it was decoded.
func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case jsonNumbers:
		list := make([]any, len(x))
		for i, n := range x {
			list[i] = n
		}
		return list, true
	}
	return nil, false
}

// fastDecode reads data as one JSON value, as decodeJSON would (numbers as json.Number),
// with arrays of numbers as jsonNumbers; ok is false for what it leaves to encoding/json:
// invalid JSON, more than one value, strings with escapes or invalid UTF-8, deep nesting.
func fastDecode(data []byte) (v any, ok bool) {
	p := fastParser{b: append([]byte(nil), data...)} // the strings point into this copy
	if v, ok = p.value(0); !ok {
		return nil, false
	}
	p.space()
	return v, p.i == len(p.b)
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips white space and reports the byte there (0 at the end).
func (p *fastParser) next() byte {
	p.space()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *fastParser) value(depth int) (any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	switch c := p.next(); {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		n, ok := p.number()
		return n, ok
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *fastParser) literal(word string) bool {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return false
	}
	p.i += len(word)
	return true
}

func (p *fastParser) object(depth int) (any, bool) {
	p.i++ // {
	m := map[string]any{}
	if p.next() == '}' {
		p.i++
		return m, true
	}
	for {
		if p.next() != '"' {
			return nil, false
		}
		k, ok := p.str()
		if !ok || p.next() != ':' {
			return nil, false
		}
		p.i++
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		m[k] = v
		switch p.next() {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, true
		default:
			return nil, false
		}
	}
}

func (p *fastParser) array(depth int) (any, bool) {
	p.i++ // [
	if p.next() == ']' {
		p.i++
		return []any{}, true
	}
	if nums, ok := p.numberRun(); ok {
		return nums, true
	}
	list := []any{}
	for {
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		list = append(list, v)
		switch p.next() {
		case ',':
			p.i++
		case ']':
			p.i++
			return list, true
		default:
			return nil, false
		}
	}
}

// numberRun reads the rest of an array (after its '[') when it holds numbers and nothing
// else; otherwise it leaves the parser where it was. A first pass counts
// the numbers, so that the second fills a slice of the right size (growing one by appends
// would copy it over and over).
func (p *fastParser) numberRun() (jsonNumbers, bool) {
	start := p.i
	count := func(nums *jsonNumbers) int {
		n := 0
		for {
			c := p.next()
			if c != '-' && (c < '0' || c > '9') {
				return -1
			}
			num, ok := p.number()
			if !ok {
				return -1
			}
			if nums != nil {
				*nums = append(*nums, num)
			}
			n++
			switch p.next() {
			case ',':
				p.i++
			case ']':
				p.i++
				return n
			default:
				return -1
			}
		}
	}
	n := count(nil)
	p.i = start
	if n < 0 {
		return nil, false
	}
	nums := make(jsonNumbers, 0, n)
	count(&nums)
	return nums, true
}

// number reads a number as JSON writes them: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *fastParser) number() (json.Number, bool) {
	start, b := p.i, p.b
	i := p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return "", false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return "", false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return "", false
		}
	}
	p.i = i
	return json.Number(unsafe.String(&b[start], i-start)), true
}

// str reads a string with no escapes, its bytes valid UTF-8 (encoding/json reads the others:
// it decodes escapes and replaces invalid bytes).
func (p *fastParser) str() (string, bool) {
	p.i++ // "
	start, ascii := p.i, true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := ""
			if p.i > start {
				if !ascii && !utf8.Valid(p.b[start:p.i]) {
					return "", false
				}
				s = unsafe.String(&p.b[start], p.i-start)
			}
			p.i++
			return s, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

// isList reports whether v is a decoded JSON array.
func isList(v any) bool {
	switch v.(type) {
	case []any, jsonNumbers:
		return true
	}
	return false
}

// listHead is a decoded JSON array's length and first element.
func listHead(v any) (n int, first any, ok bool) {
	switch x := v.(type) {
	case []any:
		if len(x) > 0 {
			first = x[0]
		}
		return len(x), first, true
	case jsonNumbers:
		if len(x) > 0 {
			first = x[0]
		}
		return len(x), first, true
	}
	return 0, nil, false
}

// leafList holds a tensor's JSON values in row-major order: as numbers while they all are
// numbers (no value boxed), as any values once one is not.
type leafList struct {
	nums  []json.Number
	vals  []any // once mixed
	mixed bool
}

func (l *leafList) add(v any) {
	if !l.mixed {
		if n, ok := v.(json.Number); ok {
			l.nums = append(l.nums, n)
			return
		}
		l.vals = make([]any, len(l.nums), len(l.nums)+1)
		for i, n := range l.nums {
			l.vals[i] = n
		}
		l.nums, l.mixed = nil, true
	}
	l.vals = append(l.vals, v)
}

func (l *leafList) addNumbers(ns jsonNumbers) {
	if !l.mixed {
		if l.nums == nil {
			l.nums = ns[:len(ns):len(ns)] // a flat array: no copy (appending later copies, ns stays as it is)
			return
		}
		l.nums = append(l.nums, ns...)
		return
	}
	for _, n := range ns {
		l.vals = append(l.vals, n)
	}
}

func (l *leafList) len() int {
	if l.mixed {
		return len(l.vals)
	}
	return len(l.nums)
}

// at is value i (a number boxed: for messages and the other types).
func (l *leafList) at(i int) any {
	if l.mixed {
		return l.vals[i]
	}
	return l.nums[i]
}

// number is value i when it is a number.
func (l *leafList) number(i int) (json.Number, bool) {
	if l.mixed {
		n, ok := l.vals[i].(json.Number)
		return n, ok
	}
	return l.nums[i], true
}
