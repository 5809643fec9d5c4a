package handler

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/tokenizer/model/bpe"
	"github.com/sugarme/tokenizer/model/unigram"
	"github.com/sugarme/tokenizer/model/wordpiece"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/tensor"
)

// TestTokenizersMatchPython: both tokenizer paths give the ids the sample's Python script
// trained with.
func TestTokenizersMatchPython(t *testing.T) {
	b, err := os.ReadFile(testenv.Path("samples/text/reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var refs []struct {
		Text     string
		InputIDs []int64 `json:"input_ids"`
		Mask     []int64 `json:"attention_mask"`
	}
	if err := json.Unmarshal(b, &refs); err != nil {
		t.Fatal(err)
	}
	const maxLen = 32 // the sample's max_length, as make_model.py truncates
	hf, err := newHFTokenizer(testenv.Path("samples/text/tokenizer.json"), maxLen)
	if err != nil {
		t.Fatal(err)
	}
	vocab, err := newVocabTokenizer(testenv.Path("samples/text/vocab.txt"), true, maxLen)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []textTokenizer{hf, vocab} {
		if tok.PadID() != 0 {
			t.Errorf("%T pad id %d", tok, tok.PadID())
		}
		for _, r := range refs {
			got, err := tok.Encode(r.Text)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, m := range r.Mask {
				n += int(m)
			}
			if !slices.Equal(got, r.InputIDs[:n]) {
				t.Errorf("%T: %q → %v, want %v", tok, r.Text, got, r.InputIDs[:n])
			}
		}
	}
}

// vocabFrom writes a vocab.txt of the given lines and reads it as a lowercasing WordPiece
// tokenizer keeping maxLen tokens.
func vocabFrom(t testing.TB, lines string, maxLen int) *hfTokenizer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vocab.txt")
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := newVocabTokenizer(path, true, maxLen)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestWordPiece(t *testing.T) {
	tok := vocabFrom(t, "[PAD]\n[UNK]\n[CLS]\nplay\n##ing\n##ed\nun\n##play\n!\n", 16)
	got, _ := tok.Encode("Playing unplayed xyz!")
	if want := []int64{3, 4, 6, 7, 5, 1, 8}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// with [CLS] and [SEP] (BERT's vocab.txt), each text is [CLS] ... [SEP], and a long one is
	// cut before [SEP], as BertTokenizer truncates
	for _, c := range []struct {
		maxLen int
		want   []int64
	}{{16, []int64{2, 4, 5, 6, 3}}, {4, []int64{2, 4, 5, 3}}} {
		bert := vocabFrom(t, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nplay\n##ing\n!\n", c.maxLen)
		if got, _ := bert.Encode("Playing!"); !slices.Equal(got, c.want) {
			t.Errorf("max length %d: got %v, want %v", c.maxLen, got, c.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newVocabTokenizer(bad, true, 16); err == nil {
		t.Error("a vocabulary without [UNK] was accepted")
	}
}

func TestTextClassifierPreprocess(t *testing.T) {
	m := &Model{Dir: testenv.Path("samples/text"), Config: map[string]any{"max_length": 8},
		Inputs: []tensor.Info{{Name: "input_ids", DType: tensor.Int64, Shape: []int64{-1, -1}}, {Name: "attention_mask", DType: tensor.Int64, Shape: []int64{-1, -1}}}}
	h, err := newTextClassifier(m)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"raw": "rain and wind today", "json": `{"text": "rain and wind today"}`, "json string": `"rain and wind today"`,
		"a JSON array of one string": `["rain and wind today"]`} {
		in, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte(body)}}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ids, _ := tensor.Values[int64](in[0])
		mask, _ := tensor.Values[int64](in[1])
		if !slices.Equal(in[0].Shape, []int64{1, 8}) || !slices.Equal(mask, []int64{1, 1, 1, 1, 0, 0, 0, 0}) || ids[4] != 0 || ids[0] == 1 {
			t.Errorf("%s: ids %v mask %v", name, ids, mask)
		}
	}
	if _, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte("[rain] and wind")}}}); err != nil {
		t.Errorf("text that starts with a bracket: %v", err)
	}
	long := strings.Repeat("rain ", 50)
	in, _ := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte(long)}}})
	if in[0].Shape[1] != 8 {
		t.Errorf("not truncated: %v", in[0].Shape)
	}
	// a JSON array of several texts (or none) was tokenised as the array's own text
	for name, body := range map[string]string{"empty": "   ", "bad json": `{"text": `, "no text": `{"title": "x"}`, "not utf-8": "\xff\xfe",
		"a JSON array of two texts": `["rain today", "a goal"]`, "an empty JSON array": "[]"} {
		_, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte(body)}}})
		var ae *apierror.Error
		if !errors.As(err, &ae) || ae.Code != 400 {
			t.Errorf("%s: %v, want a 400", name, err)
		}
	}
}

// TestHFTokenizerFiles: a tokenizer.json's post-processor adds its special tokens and keeps
// them when a long text is truncated to max_length; a file the reader cannot use is an
// error, not a panic (the reader asserts the fields it expects).
func TestHFTokenizerFiles(t *testing.T) {
	const vocab = `{"type": "WordLevel", "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4, "b": 5}, "unk_token": "[UNK]"}`
	bert := `{"model": ` + vocab + `, "pre_tokenizer": {"type": "Whitespace"},
		"post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}}`
	cases := []struct {
		name   string
		file   string
		maxLen int
		want   []int64
		err    string
	}{
		{"special tokens", bert, 16, []int64{2, 4, 5, 4, 3}, ""},
		{"truncated, special tokens kept", bert, 4, []int64{2, 4, 5, 3}, ""},
		{"a post-processor missing fields", `{"model": ` + vocab + `, "post_processor": {"type": "RobertaProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}}`, 16, nil, "not a tokenizer.json this reader understands"},
		{"not JSON", `{"model": `, 16, nil, "read "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokenizer.json")
			if err := os.WriteFile(path, []byte(c.file), 0o644); err != nil {
				t.Fatal(err)
			}
			tok, err := newHFTokenizer(path, c.maxLen)
			if failsAs(t, err, c.err) {
				return
			}
			got, err := tok.Encode("a b a")
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("Encode = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

// TestTextClassifierInputs: the text classifier feeds each input it knows by name (token
// types all 0, positions 0…n-1, int32 where the model wants it) and refuses at load a model
// with an input it would not know how to feed.
func TestTextClassifierInputs(t *testing.T) {
	seq := func(name string, dt tensor.DType) tensor.Info {
		return tensor.Info{Name: name, DType: dt, Shape: []int64{-1, -1}}
	}
	m := &Model{Dir: testenv.Path("samples/text"), Config: map[string]any{"max_length": 4}, Inputs: []tensor.Info{
		seq("input_ids", tensor.Int64), seq("token_type_ids", tensor.Int64), seq("position_ids", tensor.Int32), seq("attention_mask", tensor.Int64)}}
	h, err := newTextClassifier(m)
	if err != nil {
		t.Fatal(err)
	}
	in, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte("rain today")}}})
	if err != nil {
		t.Fatal(err)
	}
	types, _ := tensor.Values[int64](in[1])
	positions, _ := tensor.Values[int32](in[2])
	mask, _ := tensor.Values[int64](in[3])
	if !slices.Equal(types, []int64{0, 0, 0, 0}) || !slices.Equal(positions, []int32{0, 1, 2, 3}) || !slices.Equal(mask, []int64{1, 1, 0, 0}) {
		t.Errorf("token types %v, positions %v, mask %v", types, positions, mask)
	}
	// as TensorFlow's exporters name them (tf2onnx: "input_ids:0"; a SavedModel's signature:
	// "serving_default_input_ids:0"), in another order
	m.Inputs = []tensor.Info{seq("serving_default_attention_mask:0", tensor.Int64), seq("input_ids:0", tensor.Int64)}
	h, err = newTextClassifier(m)
	if err != nil {
		t.Fatal(err)
	}
	if in, err = h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte("rain today")}}}); err != nil {
		t.Fatal(err)
	}
	if mask, _ := tensor.Values[int64](in[0]); !slices.Equal(mask, []int64{1, 1, 0, 0}) {
		t.Errorf("TensorFlow's names: the first input, the mask, is %v", mask)
	}
	// one text with no batch dimension, [sequence]: tensors [max_length]; every input alike
	one := func(name string, dims ...int64) tensor.Info {
		return tensor.Info{Name: name, DType: tensor.Int64, Shape: dims}
	}
	m.Inputs = []tensor.Info{one("input_ids", 4), one("attention_mask", -1)}
	if h, err = newTextClassifier(m); err != nil {
		t.Fatal(err)
	}
	if in, err = h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte("rain today")}}}); err != nil {
		t.Fatal(err)
	}
	if mask, _ := tensor.Values[int64](in[1]); !slices.Equal(in[0].Shape, []int64{4}) || !slices.Equal(mask, []int64{1, 1, 0, 0}) {
		t.Errorf("[sequence] inputs: ids of shape %v, mask %v", in[0].Shape, mask)
	}
	m.Inputs = []tensor.Info{one("input_ids", 4), one("attention_mask", 1, 4)}
	if _, err := newTextClassifier(m); err == nil || !strings.Contains(err.Error(), "(or [sequence], for every input)") {
		t.Errorf("inputs of two ranks: %v", err)
	}
	m.Inputs = []tensor.Info{seq("serving_default_attention_mask:0", tensor.Int64), seq("input_ids:0", tensor.Int64)}
	m.Inputs = append(m.Inputs, seq("pixel_values", tensor.Float32))
	if _, err := newTextClassifier(m); err == nil || !strings.Contains(err.Error(), "the model also takes pixel_values") {
		t.Errorf("a model with an input the handler cannot feed: %v", err)
	}
	for name, want := range map[string]string{"input_ids": "input_ids", "Input_IDs:0": "input_ids", "serving_default_mask:12": "mask", "ids:": "ids:", "a:b": "a:b"} {
		if got := textInputRole(name); got != want {
			t.Errorf("textInputRole(%q) = %q, want %q", name, got, want)
		}
	}
}

// Long texts and long words: WordPiece makes a word over 100 characters [UNK] (as
// BertTokenizer does; splitting it took time cubic in its length); a text is cut to what its
// kept tokens can cover (at least 1024 characters), which changes no token kept but those
// after a word of more characters than that, itself one [UNK].
func TestTokenizersLongText(t *testing.T) {
	bert := vocabFrom(t, "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n##a\nplay\n##ing\n", 128)
	for _, c := range []struct {
		text string
		want []int64
	}{
		{strings.Repeat("a", 100), slices.Concat([]int64{2, 4}, slices.Repeat([]int64{5}, 99), []int64{3})},
		{strings.Repeat("a", 101), []int64{2, 1, 3}},
		{strings.Repeat("a", 1000) + " playing", []int64{2, 1, 6, 7, 3}},
		{strings.Repeat("a", 100000) + " playing", []int64{2, 1, 3}}, // the cut falls in the word
		{strings.Repeat("playing ", 100000), slices.Concat([]int64{2}, slices.Repeat([]int64{6, 7}, 63), []int64{3})},
	} {
		if got, _ := bert.Encode(c.text); !slices.Equal(got, c.want) {
			t.Errorf("vocab.txt: %.20q... (%d characters): %v, want %v", c.text, len(c.text), got, c.want)
		}
	}
	// 800 KB: only the words the kept tokens can cover are read, as many for 100000 words as
	// for 1000
	long, short := strings.Repeat("Playing ", 100000), strings.Repeat("Playing ", 1000)
	if allocs, want := testing.AllocsPerRun(2, func() { bert.Encode(long) }), testing.AllocsPerRun(2, func() { bert.Encode(short) }); allocs > want*1.05 {
		t.Errorf("vocab.txt: %.0f allocations for a text of 100000 words, %.0f for 1000: the whole text was read", allocs, want)
	}

	files := map[string]string{
		"wordpiece.json": `{"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
			"vocab": {"[PAD]": 0, "[UNK]": 1, "a": 2, "##a": 3, "b": 4, "##b": 5, "play": 6, "##ing": 7}},
			"pre_tokenizer": {"type": "Whitespace"}}`,
		"bpe.json": `{"model": {"type": "BPE", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1, "b": 2, "ab": 3, "aa": 4, "abab": 5},
			"merges": ["a b", "a a", "ab ab"]}, "pre_tokenizer": {"type": "Whitespace"}}`,
	}
	dir := t.TempDir()
	paths := []string{testenv.Path("samples/text/tokenizer.json")}
	for name, content := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		paths = append(paths, filepath.Join(dir, name))
	}
	texts := []string{
		strings.Repeat("the game was a great win for the home team ", 1000),
		strings.Repeat("ab", 20000),
		strings.Repeat("a", 90) + strings.Repeat(" ", 100000) + strings.Repeat("b ", 2000),
		strings.Repeat("aab ", 300) + strings.Repeat("b", 3000) + " a",
	}
	for _, p := range paths {
		for _, maxLen := range []int{8, 128} {
			cut, err := newHFTokenizer(p, maxLen)
			if err != nil {
				t.Fatal(err)
			}
			whole, _ := newHFTokenizer(p, maxLen)
			whole.limit = math.MaxInt
			for _, text := range texts {
				got, err := cut.Encode(text)
				want, _ := whole.Encode(text)
				if err != nil || len(got) != min(len(want), maxLen) || !slices.Equal(got, want[:len(got)]) {
					t.Errorf("%s, max_length %d, %.20q... (%d characters): cut %v (%v), whole %v",
						filepath.Base(p), maxLen, text, len(text), got, err, want)
				}
			}
		}
	}
	if got := cutText(" ab  cd ef", 4); got != " ab  cd " {
		t.Errorf("cutText at 4 characters: %q", got)
	}
}

// ts's patch 1 of the tokenizer library: a BPE word grows by appending, where each symbol
// copied the whole word (a 100 KB word took minutes).
func TestBPEWordAppends(t *testing.T) {
	allocs := testing.AllocsPerRun(3, func() {
		w := bpe.NewWord()
		for i := range 10000 {
			w.Add(i%7, 1)
		}
		if n := len(w.Symbols); n != 10000 || w.Symbols[0].Next != 1 || w.Symbols[n-1].Prev != n-2 || w.Symbols[n-1].Next != -1 {
			t.Fatalf("word of %d symbols, links %+v %+v", n, w.Symbols[0], w.Symbols[n-1])
		}
	})
	if allocs > 100 {
		t.Errorf("adding 10000 symbols to a word: %.0f allocations, want a slice growing (< 100)", allocs)
	}
}

// ts's patch 4 of the tokenizer library: the BPE cache keeps only words under 256 bytes, as
// Hugging Face's does, so distinct long words cannot pile up in it.
func TestBPECacheKeepsShortWords(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/bpe.json", []byte(`{"model": {"type": "BPE", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1, "b": 2, "ab": 3},
		"merges": ["a b"]}, "pre_tokenizer": {"type": "Whitespace"}}`), 0o644)
	tok, err := newHFTokenizer(dir+"/bpe.json", 1024)
	if err != nil {
		t.Fatal(err)
	}
	var cache *bpe.Cache
	switch m := tok.tk.GetModel().(type) {
	case *bpe.BPE:
		cache = m.Cache
	case bpe.BPE:
		cache = m.Cache
	default:
		t.Fatalf("model %T, want BPE", m)
	}
	for _, text := range []string{"ab", "abab", strings.Repeat("ab", 200), strings.Repeat("ba", 300)} {
		if ids, err := tok.Encode(text); err != nil || len(ids) == 0 {
			t.Fatalf("%.10q...: %v, %v", text, ids, err)
		}
	}
	if n := cache.GetSize(); n != 2 {
		t.Errorf("the cache holds %d words, want the 2 short ones", n)
	}
}

// ts's patch 5 of the tokenizer library: the Unigram cache (SentencePiece models: T5,
// ALBERT, XLM-R) keeps words under 256 bytes, 10000 at most; it kept every word.
func TestUnigramCacheBounded(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/unigram.json", []byte(`{"model": {"type": "Unigram", "unk_id": 0,
		"vocab": [["<unk>", 0.0], ["a", -1.0], ["b", -2.0], ["ab", -0.5]]}, "pre_tokenizer": {"type": "Whitespace"}}`), 0o644)
	tok, err := newHFTokenizer(dir+"/unigram.json", 1024)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := tok.tk.GetModel().(*unigram.Unigram)
	if !ok {
		t.Fatalf("model %T, want Unigram", tok.tk.GetModel())
	}
	texts := []string{strings.Repeat("ab", 200)} // 400 bytes: not kept
	var words []string
	for i := range 10050 { // distinct words under 256 bytes, 50 a text
		words = append(words, strings.Repeat("a", i%100+1)+strings.Repeat("b", i/100+1))
		if len(words) == 50 {
			texts, words = append(texts, strings.Join(words, " ")), nil
		}
	}
	for _, text := range texts {
		if ids, err := tok.Encode(text); err != nil || len(ids) == 0 {
			t.Fatalf("%.10q...: %v, %v", text, ids, err)
		}
	}
	if n := m.CacheSize(); n != 10000 {
		t.Errorf("the cache holds %d words after 10050 short ones and a long one, want 10000", n)
	}
}

// FuzzTokenizers: any text (valid UTF-8, as requestText lets through) tokenises without error into at most max_length ids of the
// vocabulary, with both readers (vocab.txt, tokenizer.json) and BPE and Unigram models.
func FuzzTokenizers(f *testing.F) {
	for _, s := range []string{"", "the team won", "Playing!", strings.Repeat("ab", 300), "é\u0301 \x00\xff", "[CLS] [SEP] [UNK]", "\u3000\u200b a\tb\nc"} {
		f.Add(s)
	}
	dir := f.TempDir()
	os.WriteFile(dir+"/bpe.json", []byte(`{"model": {"type": "BPE", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1, "b": 2, "ab": 3, "abab": 4},
		"merges": ["a b", "ab ab"]}, "pre_tokenizer": {"type": "Whitespace"}}`), 0o644)
	os.WriteFile(dir+"/unigram.json", []byte(`{"model": {"type": "Unigram", "unk_id": 0,
		"vocab": [["<unk>", 0.0], ["a", -1.0], ["b", -2.0], ["ab", -0.5]]}, "pre_tokenizer": {"type": "Whitespace"}}`), 0o644)
	const maxLen = 16
	vocab := vocabFrom(f, "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n##a\nb\n##b\nplay\n##ing\n!\n", maxLen)
	toks := map[string]textTokenizer{"vocab.txt": vocab}
	sizes := map[string]int64{"vocab.txt": 11}
	for name, p := range map[string]string{"sample": testenv.Path("samples/text/tokenizer.json"), "bpe": dir + "/bpe.json", "unigram": dir + "/unigram.json"} {
		tok, err := newHFTokenizer(p, maxLen)
		if err != nil {
			f.Fatal(err)
		}
		toks[name], sizes[name] = tok, int64(tok.tk.GetVocabSize(true))
	}
	f.Fuzz(func(t *testing.T, text string) {
		text = strings.ToValidUTF8(text, "\uFFFD") // requestText refuses invalid UTF-8
		for name, tok := range toks {
			ids, err := tok.Encode(text)
			if err != nil {
				t.Fatalf("%s: %q: %v", name, text, err)
			}
			if len(ids) > maxLen {
				t.Fatalf("%s: %q: %d ids, more than %d", name, text, len(ids), maxLen)
			}
			for _, id := range ids {
				if id < 0 || id >= sizes[name] {
					t.Fatalf("%s: %q: id %d outside the vocabulary of %d", name, text, id, sizes[name])
				}
			}
		}
	})
}

// ts's patch 6 of the tokenizer library: lowercasing a rune whose lower case is longer in
// UTF-8 ("Ⱦ", 2 bytes, is "ⱦ", 3) keeps the alignments, so the text tokenises as its
// lower-case form does (it panicked in a later split: found by FuzzTokenizers).
func TestLowercaseChangesLength(t *testing.T) {
	tok, err := newHFTokenizer(testenv.Path("samples/text/tokenizer.json"), 32)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tok.Encode("ȾȾ the Team won Ⱥ cup!")
	want, _ := tok.Encode("ⱦⱦ the team won ⱥ cup!")
	if err != nil || !slices.Equal(got, want) || len(want) < 6 {
		t.Errorf("got %v (%v), want %v", got, err, want)
	}
}

// FuzzTextClassifier: whatever a request's body and content type, the text classifier gives
// [1, max_length] ids and mask, or a 4xx error.
func FuzzTextClassifier(f *testing.F) {
	m := &Model{Dir: testenv.Path("samples/text"), Config: map[string]any{"max_length": 8},
		Inputs: []tensor.Info{{Name: "input_ids", DType: tensor.Int64, Shape: []int64{-1, -1}}, {Name: "attention_mask", DType: tensor.Int64, Shape: []int64{-1, -1}}}}
	h, err := newTextClassifier(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("text/plain", []byte("rain and wind today"))
	f.Add("application/json", []byte(`{"text": "rain and wind today"}`))
	f.Add("application/json", []byte(`"rain"`))
	f.Add("", []byte(`{"data": ["a", "b"]}`))
	f.Add("application/json", []byte(`[{"inputs": "x"}]`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		in, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", ContentType: contentType, Data: body}}})
		if err != nil {
			var ae *apierror.Error
			if !errors.As(err, &ae) || ae.Code >= 500 {
				t.Fatalf("%q: %v, want a 4xx error", body, err)
			}
			return
		}
		if len(in) != 2 || !slices.Equal(in[0].Shape, []int64{1, 8}) || !slices.Equal(in[1].Shape, []int64{1, 8}) {
			t.Fatalf("%q: inputs %v", body, in)
		}
	})
}

// ts's patch 7 of the tokenizer library: its failures panic, which ts recovers into errors,
// where they called log.Fatal, which would have ended the whole server (here, the test
// binary, with no test failing).
func TestTokenizerFailuresPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("reading a missing WordPiece vocabulary did not panic")
		}
	}()
	wordpiece.WordPiece{}.ReadFiles(filepath.Join(t.TempDir(), "missing.txt"))
}

// BenchmarkHFTokenizer tokenises a text of about 2,200 characters (some 440 words) with the
// sample's tokenizer.json (lowercased, split at spaces and punctuation).
func BenchmarkHFTokenizer(b *testing.B) {
	h, err := newHFTokenizer(testenv.Path("samples/text/tokenizer.json"), 512)
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("The match went on, and the players ran fast in the rain! ", 40)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Encode(text); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTokenizersMatchHuggingFace: the tokenizer.json reader gives the ids Hugging Face's own
// tokenizers library gives (testdata/tokenizers/reference.json, made by make_reference.js
// with its Node binding) for 36 texts (accents, CJK, emoji, scripts without spaces, Unicode
// spaces and controls, ligatures, a long word, special tokens) and 15 tokenizers: the
// text sample's WordLevel, WordPiece with BertNormalizer and with NFD + StripAccents +
// Lowercase, trained WordPiece (with BERT's special tokens), byte-level BPE (and RoBERTa's,
// its special tokens and post-processor), Unigram (Nmt + NFKC, Metaspace), and BPEs with byte
// fallback and fused unknowns, an end-of-word suffix, a continuing-subword prefix, and
// Llama 3's (a Split by a look-around expression, ByteLevel without its own), a WordLevel
// split at a literal string, one replacing by an expression, and one through Strip, NFC,
// Prepend, WhitespaceSplit, Punctuation, Digits and UnicodeScripts. A vocab.txt of the two BERT WordPieces' vocabularies gives the
// same ids (BertTokenizer's).
func TestTokenizersMatchHuggingFace(t *testing.T) {
	b, err := os.ReadFile(testenv.Path("pkg/handler/testdata/tokenizers/reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	type hfCase struct {
		Text   string
		IDs    []int64 `json:"ids"`
		Tokens []string
	}
	var reference map[string][]hfCase
	if err := json.Unmarshal(b, &reference); err != nil {
		t.Fatal(err)
	}
	if len(reference) != 15 {
		t.Fatalf("reference.json holds %d tokenizers, want 15", len(reference))
	}
	check := func(name string, h *hfTokenizer, cases []hfCase) {
		for _, c := range cases {
			got, err := h.Encode(c.Text)
			if err != nil {
				t.Errorf("%s %q: %v", name, c.Text, err)
				continue
			}
			if !slices.Equal(got, c.IDs) && !(len(got) == 0 && len(c.IDs) == 0) {
				var tokens []string
				for _, id := range got {
					tokens = append(tokens, h.Token(id))
				}
				t.Errorf("%s %q:\n got %q\nwant %q (Hugging Face's)", name, c.Text, tokens, c.Tokens)
			}
		}
	}
	for name, cases := range reference {
		p := testenv.Path("pkg/handler/testdata/tokenizers", name)
		if name == "tokenizer.json" {
			p = testenv.Path("samples/text/tokenizer.json")
		}
		h, err := newHFTokenizer(p, 4096)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		check(name, h, cases)
		if name != "wordpiece.json" && name != "wordpiece_trained.json" {
			continue
		}
		vocab := make([]string, h.tk.GetVocabSize(true))
		for tok, id := range h.tk.GetVocab(true) {
			vocab[id] = tok
		}
		check(name+" as vocab.txt", vocabFrom(t, strings.Join(vocab, "\n")+"\n", 4096), cases)
	}
}
