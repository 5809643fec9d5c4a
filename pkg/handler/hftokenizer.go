package handler

import (
	"bytes"
	"fmt"
	"os"
	"unicode"
	"unicode/utf8"

	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/pretrained"
)

// hfTokenizer reads a Hugging Face tokenizer.json (WordPiece, BPE, WordLevel, Unigram)
// through github.com/sugarme/tokenizer, the pure-Go reader of that format. Only local files
// are read: never its pretrained.Bert*() helpers, which download.
type hfTokenizer struct {
	tk  *tokenizer.Tokenizer
	pad int64
	// limit is how many non-space characters of a text are tokenised: twice what the
	// maxLen tokens kept can cover (each at most as long as the vocabulary's longest
	// token). The rest would be cut from the tokens anyway; tokenising it costs ~1.1 µs a
	// character (a second for a 1 MB request).
	limit int
}

// newHFTokenizer reads the tokenizer.json at path. Texts are truncated to maxLen tokens, the
// special tokens included (they stay: the text is cut, as Hugging Face's truncation does);
// padding is the handler's, so the file's own is off.
func newHFTokenizer(path string, maxLen int) (*hfTokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return parseHFTokenizer(path, b, maxLen)
}

// parseHFTokenizer is newHFTokenizer for a tokenizer.json's text, named name in errors.
func parseHFTokenizer(name string, doc []byte, maxLen int) (_ *hfTokenizer, err error) {
	defer func() {
		// the reader asserts the types of fields it expects and panics when a file lacks them
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s: not a tokenizer.json this reader understands: %v", name, p)
		}
	}()
	tk, err := pretrained.FromReader(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	tk.WithTruncation(&tokenizer.TruncationParams{MaxLength: maxLen, Strategy: tokenizer.LongestFirst})
	tk.WithPadding(nil)
	longest := 1
	for tok := range tk.GetVocab(true) {
		longest = max(longest, utf8.RuneCountInString(tok))
	}
	// at least 1024: far more than the longest word WordPiece splits (100 characters), so
	// that a word the cut falls in is [UNK] cut or not, or beyond the tokens kept
	h := &hfTokenizer{tk: tk, limit: max(2*maxLen*longest, 1024)}
	for _, name := range []string{"[PAD]", "<pad>"} {
		if id, ok := tk.TokenToId(name); ok {
			h.pad = int64(id)
			break
		}
	}
	return h, nil
}

func (h *hfTokenizer) PadID() int64 { return h.pad }

// Token is the vocabulary's token for id ("" for none).
func (h *hfTokenizer) Token(id int64) string {
	tok, _ := h.tk.IdToToken(int(id))
	return tok
}

// Encode tokenises with the file's normaliser, pre-tokeniser and post-processor (adding
// special tokens such as [CLS] and [SEP] when the file says so).
func (h *hfTokenizer) Encode(text string) (_ []int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("tokenizer failed: %v", p)
		}
	}()
	enc, err := h.tk.EncodeSingle(cutText(text, h.limit), true)
	if err != nil {
		return nil, err
	}
	ids := enc.GetIds()
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out, nil
}

// cutText is text up to its limit-th character that is not a space: a tokenizer splits
// words at spaces and drops them (or keeps a space in one token), so n tokens never need
// more than n times the longest token's characters.
func cutText(text string, limit int) string {
	n := 0
	for i, r := range text {
		if unicode.IsSpace(r) {
			continue
		}
		if n == limit {
			return text[:i]
		}
		n++
	}
	return text
}
