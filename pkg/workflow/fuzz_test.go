package workflow

import (
	"testing"
)

// FuzzParseSpec: no specification makes ParseSpec panic, and one it accepts is a DAG with
// one start node whose order lists every node after its parents.
func FuzzParseSpec(f *testing.F) {
	for _, seed := range []string{sequential, parallel, "dag:\n  a: [b]\n", "dag:\n  a: [a]\n", "models: &a [*a]\ndag: {}\n", "dag:\n  a: [b, c]\n  b: [d]\n  c: [d]\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSpec(b)
		if err != nil {
			return
		}
		if len(s.Order) != len(s.Nodes) || s.Order[0] != s.Start || len(s.Nodes[s.Start].Parents) != 0 {
			t.Fatalf("start %s, order %v, %d nodes", s.Start, s.Order, len(s.Nodes))
		}
		seen := map[string]bool{}
		for _, name := range s.Order {
			for _, p := range s.Nodes[name].Parents {
				if !seen[p] {
					t.Fatalf("%s comes before its parent %s in %v", name, p, s.Order)
				}
			}
			seen[name] = true
		}
		if len(s.Leaves()) == 0 {
			t.Fatalf("no leaf in %v", s.Order)
		}
	})
}
