package handler

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

func TestTokEqTmp(t *testing.T) {
	texts := []string{"", "The team WON the Final!", "Café naïve résumé Ⱦ ÉCOLE", "日本語のテキスト 中文 text", "emoji 😀👍 ok", "a\tb\nc  d\u00a0e\u3000f", strings.Repeat("Playing FOOTBALL in the rain, ", 50), "ßẞ İstanbul ǅ ﬁ", "x\u0301y\u0308z", "[CLS] hello [SEP]"}
	out := map[string]any{}
	for _, p := range []string{testenv.Path("samples/text/tokenizer.json"), "/tmp/tokeq/wordpiece.json", "/tmp/tokeq/seqnorm.json"} {
		h, err := newHFTokenizer(p, 4096)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			enc, err := h.tk.EncodeSingle(s, true)
			if err != nil {
				out[p+"|"+s] = err.Error()
				continue
			}
			out[p+"|"+s] = map[string]any{"ids": enc.GetIds(), "tokens": enc.GetTokens(), "offsets": enc.GetOffsets(), "words": enc.GetWords()}
		}
	}
	b, _ := json.MarshalIndent(out, "", " ")
	os.WriteFile(os.Getenv("TOKEQ_OUT"), b, 0o644)
}
