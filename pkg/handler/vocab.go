package handler

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// maxWordRunes is the longest word WordPiece splits; a longer one is [UNK], as in
// BertTokenizer and Hugging Face's WordPiece (max_input_chars_per_word).
const maxWordRunes = 100

// newVocabTokenizer reads a vocab.txt (one token per line, its line number its id), as BERT
// models ship it, as the tokenizer.json Hugging Face makes of one (vocabTokenizerJSON).
func newVocabTokenizer(path string, lower bool, maxLen int) (*hfTokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var tokens []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		tokens = append(tokens, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	doc, err := vocabTokenizerJSON(tokens, lower, maxLen)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return parseHFTokenizer(path, doc, maxLen)
}

// vocabTokenizerJSON is the tokenizer.json of a vocabulary, its tokens by id. A BERT
// vocabulary ("##" continuation pieces, or [CLS] and [SEP]) makes BertWordPieceTokenizer's:
// BERT's normaliser (controls removed, spaces around CJK ideographs, lowercased and accents
// stripped unless lower is false), BERT's pre-tokeniser (words and each punctuation mark),
// WordPiece (a word over maxWordRunes characters [UNK]) and [CLS] … [SEP] when it has them,
// its special tokens ([PAD], [UNK], [CLS], [SEP], [MASK]) taken whole where a text holds
// them, as BertTokenizer encodes. Any other vocabulary is looked up a whole word at a time
// (WordLevel), lowercased unless lower is false, split as the Whitespace pre-tokeniser does.
func vocabTokenizerJSON(tokens []string, lower bool, maxLen int) ([]byte, error) {
	vocab := map[string]int{}
	bert := false
	for id, tok := range tokens {
		if _, dup := vocab[tok]; !dup && tok != "" {
			vocab[tok] = id
		}
		bert = bert || strings.HasPrefix(tok, "##")
	}
	unk := ""
	for _, name := range []string{"[UNK]", "<unk>", "[unk]"} {
		if _, ok := vocab[name]; ok {
			unk = name
			break
		}
	}
	if unk == "" {
		return nil, fmt.Errorf("no [UNK] token")
	}
	cls, hasCLS := vocab["[CLS]"]
	sep, hasSEP := vocab["[SEP]"]
	withSpecial := hasCLS && hasSEP && maxLen >= 2
	doc := map[string]any{"version": "1.0"}
	if bert || withSpecial {
		doc["normalizer"] = map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": lower, "lowercase": lower}
		doc["pre_tokenizer"] = map[string]any{"type": "BertPreTokenizer"}
		doc["model"] = map[string]any{"type": "WordPiece", "unk_token": unk, "continuing_subword_prefix": "##", "max_input_chars_per_word": maxWordRunes, "vocab": vocab}
		var added []any
		for _, name := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
			if id, ok := vocab[name]; ok {
				added = append(added, map[string]any{"id": id, "content": name, "special": true})
			}
		}
		doc["added_tokens"] = added
	} else {
		if lower {
			doc["normalizer"] = map[string]any{"type": "Lowercase"}
		}
		doc["pre_tokenizer"] = map[string]any{"type": "Whitespace"}
		doc["model"] = map[string]any{"type": "WordLevel", "unk_token": unk, "vocab": vocab}
	}
	if withSpecial {
		special := func(name string, id int) map[string]any {
			return map[string]any{"id": name, "ids": []int{id}, "tokens": []string{name}}
		}
		doc["post_processor"] = map[string]any{"type": "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "[CLS]", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "[SEP]", "type_id": 0}}},
			"pair":           []any{},
			"special_tokens": map[string]any{"[CLS]": special("[CLS]", cls), "[SEP]": special("[SEP]", sep)}}
	}
	return json.Marshal(doc)
}
