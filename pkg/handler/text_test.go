package handler

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

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
	hf, err := newHFTokenizer(testenv.Path("samples/text/tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	vocab, err := newVocabTokenizer(testenv.Path("samples/text/vocab.txt"), true)
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

func TestWordPiece(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/vocab.txt", []byte("[PAD]\n[UNK]\n[CLS]\nplay\n##ing\n##ed\nun\n##play\n!\n"), 0o644)
	tok, err := newVocabTokenizer(dir+"/vocab.txt", true)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tok.Encode("Playing unplayed xyz!")
	if want := []int64{3, 4, 6, 7, 5, 1, 8}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	os.WriteFile(dir+"/bad.txt", []byte("a\nb\n"), 0o644)
	if _, err := newVocabTokenizer(dir+"/bad.txt", true); err == nil {
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
	for name, body := range map[string]string{"raw": "rain and wind today", "json": `{"text": "rain and wind today"}`, "json string": `"rain and wind today"`} {
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
	long := strings.Repeat("rain ", 50)
	in, _ := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte(long)}}})
	if in[0].Shape[1] != 8 {
		t.Errorf("not truncated: %v", in[0].Shape)
	}
	for name, body := range map[string]string{"empty": "   ", "bad json": `{"text": `, "no text": `{"title": "x"}`, "not utf-8": "\xff\xfe"} {
		_, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte(body)}}})
		var ae *apierror.Error
		if !errors.As(err, &ae) || ae.Code != 400 {
			t.Errorf("%s: %v, want a 400", name, err)
		}
	}
}
