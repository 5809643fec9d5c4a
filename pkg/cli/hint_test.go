package cli

import "testing"

// TestClosest: a name a typo away from one of the server's models suggests it (case aside,
// at most a third of its letters changed); one far from all suggests none.
func TestClosest(t *testing.T) {
	names := []string{"det", "digits", "iris", "resnet50", "seg", "text"}
	tests := []struct{ asked, want string }{
		{"digts", "digits"},
		{"digit", "digits"},
		{"Iris", "iris"},
		{"segg", "seg"},
		{"resnet-50", "resnet50"},
		{"resnet18", "resnet50"},
		{"rsenet50", "resnet50"}, // a swap: two edits in eight letters
		{"rexxxx50", ""},
		{"xyz", ""},
		{"", ""},
		{"sge", ""}, // a swap is two edits: too many for three letters
	}
	for _, tt := range tests {
		if got := closest(tt.asked, names); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.asked, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "abc", 3}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"été", "ete", 2}, {"same", "same", 0}} {
		if got := editDistance(tt.a, tt.b); got != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}
