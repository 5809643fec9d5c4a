package normalizer

// Nmt is Hugging Face's Nmt normaliser (SentencePiece's nmt_nfkc rules, before NFKC): it
// removes ASCII control characters and makes the other code points SentencePiece counts as
// whitespace a space (ts patch 9: upstream had none, and a tokenizer.json naming it did not
// load).
type Nmt struct{}

// NewNmt returns the Nmt normaliser.
func NewNmt() *Nmt { return &Nmt{} }

// Normalize implements Normalizer.
func (Nmt) Normalize(n *NormalizedString) (*NormalizedString, error) {
	n = n.Filter(func(r rune) bool {
		switch {
		case r >= 0x01 && r <= 0x08, r == 0x0B, r >= 0x0E && r <= 0x1F, r == 0x7F, r == 0x8F, r == 0x9F:
			return false
		}
		return true
	})
	return n.Map(func(r rune) rune {
		switch {
		case r == 0x09, r == 0x0A, r == 0x0C, r == 0x0D, r == 0x1680, r >= 0x200B && r <= 0x200F,
			r == 0x2028, r == 0x2029, r == 0x2581, r == 0xFEFF, r == 0xFFFD:
			return ' '
		}
		return r
	}), nil
}
