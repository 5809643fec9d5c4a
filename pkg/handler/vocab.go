package handler

import (
	"bufio"
	"fmt"
	"iter"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// vocabTokenizer reads a vocab.txt (one token per line, the line number is its id), as BERT
// models ship it. Text is lower-cased (unless lowercase is false) and split into words and
// punctuation; with "##" continuation pieces in the vocabulary, words are split into the
// longest known pieces (WordPiece), otherwise looked up whole. Unknown words map to [UNK].
// When the vocabulary has [CLS] and [SEP] (BERT's), every text is [CLS] pieces [SEP], as
// BertTokenizer encodes it, truncated to maxLen tokens with both kept.
type vocabTokenizer struct {
	ids       map[string]int64
	tokens    []string // by id
	unk, pad  int64
	cls, sep  int64 // -1: the vocabulary has none
	wordPiece bool
	lower     bool
	maxLen    int
	longest   int // the longest token's length in runes ("##" left out): no piece is longer
}

// maxWordRunes is the longest word WordPiece splits; a longer one is [UNK], as in
// BertTokenizer and Hugging Face's WordPiece (max_input_chars_per_word).
const maxWordRunes = 100

func newVocabTokenizer(path string, lower bool, maxLen int) (*vocabTokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &vocabTokenizer{ids: map[string]int64{}, unk: -1, cls: -1, sep: -1, lower: lower, maxLen: maxLen}
	sc := bufio.NewScanner(f)
	var n int64
	for sc.Scan() {
		tok := strings.TrimRight(sc.Text(), "\r")
		t.tokens = append(t.tokens, tok)
		if _, dup := t.ids[tok]; !dup && tok != "" {
			t.ids[tok] = n
		}
		if strings.HasPrefix(tok, "##") {
			t.wordPiece = true
		}
		t.longest = max(t.longest, utf8.RuneCountInString(strings.TrimPrefix(tok, "##")))
		n++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, name := range []string{"[UNK]", "<unk>", "[unk]"} {
		if id, ok := t.ids[name]; ok {
			t.unk = id
			break
		}
	}
	if t.unk < 0 {
		return nil, fmt.Errorf("%s has no [UNK] token", path)
	}
	for _, name := range []string{"[PAD]", "<pad>"} {
		if id, ok := t.ids[name]; ok {
			t.pad = id
			break
		}
	}
	cls, hasCLS := t.ids["[CLS]"]
	sep, hasSEP := t.ids["[SEP]"]
	if hasCLS && hasSEP && maxLen >= 2 {
		t.cls, t.sep = cls, sep
	}
	return t, nil
}

func (t *vocabTokenizer) PadID() int64 { return t.pad }

// Token is the vocabulary's token for id ("" for none).
func (t *vocabTokenizer) Token(id int64) string {
	if id < 0 || id >= int64(len(t.tokens)) {
		return ""
	}
	return t.tokens[id]
}

// Encode splits text as Hugging Face's Whitespace pre-tokenizer does (runs of word
// characters, runs of other non-space characters) and maps the pieces to ids.
func (t *vocabTokenizer) Encode(text string) ([]int64, error) {
	var out []int64
	for word := range splitWords(text) {
		if len(out) >= t.maxLen {
			break // the rest is cut: a long text costs no more than maxLen tokens
		}
		if t.lower {
			word = strings.ToLower(word) // word by word, as BertTokenizer lowercases
		}
		if !t.wordPiece {
			out = append(out, t.lookup(word))
			continue
		}
		out = append(out, t.pieces(word)...)
	}
	if t.cls < 0 {
		return out, nil
	}
	if len(out) > t.maxLen-2 {
		out = out[:t.maxLen-2]
	}
	return append(append([]int64{t.cls}, out...), t.sep), nil
}

func (t *vocabTokenizer) lookup(s string) int64 {
	if id, ok := t.ids[s]; ok {
		return id
	}
	return t.unk
}

// pieces is WordPiece: the longest known prefix, then "##"-prefixed continuations; a word
// with an unknown part, or longer than maxWordRunes, is [UNK] as a whole.
func (t *vocabTokenizer) pieces(word string) []int64 {
	runes := []rune(word)
	if len(runes) > maxWordRunes {
		return []int64{t.unk}
	}
	var out []int64
	for start := 0; start < len(runes); {
		end := min(len(runes), start+t.longest) // no token is longer
		found := int64(-1)
		for ; end > start; end-- {
			piece := string(runes[start:end])
			if start > 0 {
				piece = "##" + piece
			}
			if id, ok := t.ids[piece]; ok {
				found = id
				break
			}
		}
		if found < 0 {
			return []int64{t.unk}
		}
		out = append(out, found)
		start = end
	}
	return out
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || unicode.Is(unicode.Mn, r)
}

// splitWords yields the words of text as the regex \w+|[^\w\s]+ finds them, one at a time
// (a caller that stops early reads no further).
func splitWords(text string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i < len(text); {
			r, n := utf8.DecodeRuneInString(text[i:])
			if unicode.IsSpace(r) {
				i += n
				continue
			}
			word := isWordRune(r)
			j := i + n
			for j < len(text) {
				r, n := utf8.DecodeRuneInString(text[j:])
				if unicode.IsSpace(r) || isWordRune(r) != word {
					break
				}
				j += n
			}
			if !yield(text[i:j]) {
				return
			}
			i = j
		}
	}
}
