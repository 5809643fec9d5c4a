package pretokenizer

import (
	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/normalizer"
)

type Whitespace struct{}

func NewWhitespace() *Whitespace {
	return new(Whitespace)
}

func DefaultWhitespace() *Whitespace {
	return new(Whitespace)
}

// Implement tokenizer.PreTokenizer for Whitespace

var _ tokenizer.PreTokenizer = new(Whitespace)

// whitespaceGaps is what lies between the words (\w+|[^\w\s]+, Unicode's classes: ts patch
// 9), compiled once (ts patch 8: upstream compiled it for every split, a tenth of the time).
var whitespaceGaps = normalizer.NewInvertPattern(normalizer.NewRegexpPattern(`[` + normalizer.WordClass + `]+|[^` + normalizer.WordClass + normalizer.SpaceClass + `]+`))

func (p *Whitespace) PreTokenize(pretokenized *tokenizer.PreTokenizedString) (*tokenizer.PreTokenizedString, error) {
	pretok := pretokenized.Split(func(noop int, normalized *normalizer.NormalizedString) []tokenizer.SplitIdx {
		splits := normalized.Split(whitespaceGaps, normalizer.RemovedBehavior)

		var splitIdxs []tokenizer.SplitIdx
		for _, s := range splits {
			normalized := s
			splitIdx := tokenizer.SplitIdx{Normalized: &normalized, Tokens: nil}
			splitIdxs = append(splitIdxs, splitIdx)
		}

		return splitIdxs
	})

	return pretok, nil
}

type WhitespaceSplit struct{}

func NewWhitespaceSplit() *WhitespaceSplit {
	return new(WhitespaceSplit)
}

// Implement tokenizer.PreTokenizer for WhitespaceSplit

var _ tokenizer.PreTokenizer = new(WhitespaceSplit)

func (p *WhitespaceSplit) PreTokenize(pretokenized *tokenizer.PreTokenizedString) (*tokenizer.PreTokenizedString, error) {
	pretok := pretokenized.Split(func(noop int, normalized *normalizer.NormalizedString) []tokenizer.SplitIdx {
		isWhitespace := normalizer.NewFnPattern(normalizer.IsWhitespace)
		splits := normalized.Split(isWhitespace, normalizer.RemovedBehavior)

		var splitIdxs []tokenizer.SplitIdx
		for _, s := range splits {
			normalized := s
			splitIdx := tokenizer.SplitIdx{Normalized: &normalized, Tokens: nil}
			splitIdxs = append(splitIdxs, splitIdx)
		}

		return splitIdxs
	})

	return pretok, nil
}
