// Makes the tokenizer.json files of this folder and reference.json, what Hugging Face's own
// tokenizers library (its Node binding, the npm package tokenizers, Rust inside) answers for
// texts that exercise normalisers, pre-tokenisers and models: pkg/handler's
// TestTokenizersMatchHuggingFace checks ts's reader against it. Run it here with
//
//   npm install --no-save tokenizers@0.23.2 && node make_reference.js && rm -rf node_modules
//
// It trains a byte-level BPE (GPT-2; and RoBERTa's, with its special tokens and
// post-processor), a SentencePiece-style Unigram (Nmt + NFKC, Metaspace) and a BERT WordPiece
// (with its special tokens) on corpus.txt, and writes by hand a WordPiece over the
// text sample's vocabulary, the same with NFD + StripAccents + Lowercase, and BPEs with
// Llama's byte fallback and unknown-token fusing, with CLIP's end-of-word suffix, with a
// continuing-subword prefix, and Llama 3's: a Split by its regular expression (look-around,
// Oniguruma's dialect), then ByteLevel without its own expression, ignore_merges; and a
// WordLevel split at a string, one whose normaliser replaces by an expression, and one through
// the other pre-tokenisers and normalisers.
const t = require('tokenizers');
const fs = require('fs');
const path = require('path');

const here = __dirname;
const out = (name) => path.join(here, name);
const corpus = [out('corpus.txt')];

function edit(name, fn) {
  const doc = JSON.parse(fs.readFileSync(out(name), 'utf8'));
  fn(doc);
  fs.writeFileSync(out(name), JSON.stringify(doc));
}

function save(name, doc) {
  fs.writeFileSync(out(name), JSON.stringify(doc));
  t.Tokenizer.fromFile(out(name)); // Hugging Face reads it
}

const cls = (ids) => ({
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
  pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
  special_tokens: { '[CLS]': { id: '[CLS]', ids: [ids['[CLS]']], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [ids['[SEP]']], tokens: ['[SEP]'] } },
});

function vocabOf(tokens) {
  const v = {};
  for (const tok of tokens) if (!(tok in v)) v[tok] = Object.keys(v).length;
  return v;
}

// trained: byte-level BPE, Unigram, WordPiece
const bpe = new t.Tokenizer(t.BPE.empty());
bpe.setPreTokenizer(t.byteLevelPreTokenizer(false, true));
bpe.train(corpus);
bpe.save(out('bpe_bytelevel.json'));

const roberta = new t.Tokenizer(t.BPE.empty());
roberta.setPreTokenizer(t.byteLevelPreTokenizer(false, true));
roberta.addSpecialTokens(['<s>', '<pad>', '</s>', '<unk>']);
roberta.addAddedTokens([new t.AddedToken('<mask>', true, { leftStrip: true })]);
roberta.train(corpus);
roberta.save(out('bpe_roberta.json'));
edit('bpe_roberta.json', (d) => { // the special tokens first in the model's vocabulary, as RoBERTa's
  const specials = d.added_tokens.map((a) => a.content);
  const trained = Object.entries(d.model.vocab).sort((a, b) => a[1] - b[1]).map((e) => e[0]);
  d.model.vocab = vocabOf([...specials, ...trained]);
  for (const a of d.added_tokens) a.id = d.model.vocab[a.content];
  d.post_processor = { type: 'RobertaProcessing', sep: ['</s>', d.model.vocab['</s>']], cls: ['<s>', d.model.vocab['<s>']], trim_offsets: true, add_prefix_space: false };
});

const uni = new t.Tokenizer(t.Unigram.empty());
uni.setNormalizer(t.sequenceNormalizer([t.nmt(), t.nfkcNormalizer()]));
uni.setPreTokenizer(t.metaspacePreTokenizer());
uni.train(corpus);
uni.save(out('unigram.json'));
edit('unigram.json', (d) => { d.model.vocab.unshift(['<unk>', 0.0]); d.model.unk_id = 0; });

const wpt = new t.Tokenizer(t.WordPiece.empty());
wpt.setNormalizer(t.bertNormalizer());
wpt.setPreTokenizer(t.bertPreTokenizer());
wpt.train(corpus);
wpt.save(out('wordpiece_trained.json'));
edit('wordpiece_trained.json', (d) => {
  const trained = Object.entries(d.model.vocab).sort((a, b) => a[1] - b[1]).map((e) => e[0]);
  d.model.vocab = vocabOf(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...trained]);
  d.post_processor = cls(d.model.vocab);
  d.added_tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((content) => ({
    id: d.model.vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
});

// by hand, over the text sample's vocabulary
const sample = fs.readFileSync(path.join(here, '../../../../samples/text/vocab.txt'), 'utf8').split('\n').filter((l) => l);
const wpVocab = vocabOf([...sample, '[CLS]', '[SEP]', '[MASK]', '##s', '##ing', '##ed', 'play', 'foot', '##ball', 'rain', 'the', 'caf', '##e', 'na', '##iv', 'é', 'ⱦ']);
const bert = { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true };
const wordpiece = (normalizer, preTokenizer) => ({
  version: '1.0', truncation: null, padding: null, normalizer, pre_tokenizer: preTokenizer,
  added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((content) => ({ // as bert-base-uncased's
    id: wpVocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  post_processor: cls(wpVocab), decoder: null,
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: wpVocab },
});
save('wordpiece.json', wordpiece(bert, { type: 'BertPreTokenizer' }));
save('seqnorm.json', wordpiece({ type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, { type: 'Lowercase' }] }, { type: 'Whitespace' }));

// BPEs by hand: Llama's byte fallback and fused unknowns; CLIP's end-of-word suffix; a
// continuing-subword prefix
const bytes = Array.from({ length: 256 }, (_, b) => '<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>');
const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
const bpeDoc = (model, normalizer, preTokenizer) => ({
  version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer, pre_tokenizer: preTokenizer, post_processor: null, decoder: null,
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, ...model },
});
save('bpe_bytefallback.json', bpeDoc({
  unk_token: '<unk>', fuse_unk: true, byte_fallback: true,
  vocab: vocabOf(['<unk>', ...bytes, '▁', ...letters, 'th', '▁th', '▁the', 'in', 'ing', 'er']),
  merges: [['t', 'h'], ['▁', 'th'], ['▁th', 'e'], ['i', 'n'], ['in', 'g'], ['e', 'r']],
}, { type: 'Lowercase' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }));
save('bpe_fused.json', bpeDoc({
  unk_token: '<unk>', fuse_unk: true,
  vocab: vocabOf(['<unk>', ...letters, 'th', 'the']),
  merges: [['t', 'h'], ['th', 'e']],
}, null, { type: 'Whitespace' }));
save('bpe_suffix.json', bpeDoc({
  unk_token: '<unk>', end_of_word_suffix: '</w>',
  vocab: vocabOf(['<unk>', ...letters, ...letters.map((l) => l + '</w>'), 'th', 'the</w>', 'in', 'ng</w>', 'ing</w>']),
  merges: [['t', 'h'], ['th', 'e</w>'], ['n', 'g</w>'], ['i', 'ng</w>'], ['i', 'n']],
}, { type: 'Lowercase' }, { type: 'Whitespace' }));
save('bpe_prefix.json', bpeDoc({
  unk_token: '<unk>', continuing_subword_prefix: '##',
  vocab: vocabOf(['<unk>', ...letters, ...letters.map((l) => '##' + l), 'th', '##he', 'the', '##in', '##ing']),
  merges: [['t', '##h'], ['th', '##e'], ['##i', '##n'], ['##in', '##g']],
}, { type: 'Lowercase' }, { type: 'Whitespace' }));

const llama3Split = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
save('bpe_llama3.json', {
  ...bpeDoc({
    ignore_merges: true,
    vocab: vocabOf([...t.byteLevelAlphabet(), 'Ġt', 'Ġth', 'Ġthe', 'th', 'the', 'in', 'ing', 'hello', 'Ġhello']),
    merges: [['Ġ', 't'], ['Ġt', 'h'], ['Ġth', 'e'], ['t', 'h'], ['th', 'e'], ['i', 'n'], ['in', 'g']],
  }, null, { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { Regex: llama3Split }, behavior: 'Isolated', invert: false },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  ] }),
});

// a WordLevel whose normaliser replaces by an expression and by a string
save('wordlevel_replace.json', {
  version: '1.0', truncation: null, padding: null, added_tokens: [], post_processor: null, decoder: null,
  normalizer: { type: 'Sequence', normalizers: [
    { type: 'Replace', pattern: { Regex: '\\s{2,}|[0-9]+' }, content: ' # ' },
    { type: 'Replace', pattern: { String: '-' }, content: ' ' },
    { type: 'Lowercase' },
  ] },
  pre_tokenizer: { type: 'WhitespaceSplit' },
  model: { type: 'WordLevel', unk_token: '<unk>', vocab: vocabOf(['<unk>', '#', 'the', 'team', 'won', 'fans', 'hello', 'world', 'and', 'spaces', 'before', 'after']) },
});

// a WordLevel through the other pre-tokenisers and normalisers
save('wordlevel_misc.json', {
  version: '1.0', truncation: null, padding: null, added_tokens: [], post_processor: null, decoder: null,
  normalizer: { type: 'Sequence', normalizers: [{ type: 'Strip', strip_left: true, strip_right: true }, { type: 'NFC' }, { type: 'Prepend', prepend: '_' }] },
  pre_tokenizer: { type: 'Sequence', pretokenizers: [
    { type: 'WhitespaceSplit' }, { type: 'Punctuation', behavior: 'Isolated' }, { type: 'Digits', individual_digits: true }, { type: 'UnicodeScripts' },
  ] },
  model: { type: 'WordLevel', unk_token: '<unk>', vocab: vocabOf(['<unk>', '_The', 'team', 'WON', 'the', '!', '.', ',', '1', '2', '3', '4', '5', '_hello', 'world', '_', "'", 'Final']) },
});

// a WordLevel split at a string (a literal: "." splits at full stops alone)
save('wordlevel_split.json', {
  version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: { type: 'Lowercase' }, post_processor: null, decoder: null,
  pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { String: '.' }, behavior: 'Isolated', invert: false }, { type: 'WhitespaceSplit' }] },
  model: { type: 'WordLevel', unk_token: '<unk>', vocab: vocabOf(['<unk>', '.', 'the', 'team', 'won', 'a', 'b', 'c', 'd', 'e', 'f', 'x', 'y', 'z', 'ok', 'hello', 'world']) },
});

const texts = [
  '', 'The team WON the Final!', 'Café naïve résumé Ⱦ ÉCOLE', '日本語のテキスト 中文 text',
  'a\tb\nc  d\u00a0e\u3000f', 'ßẞ İstanbul ǅ ﬁ', 'x\u0301y\u0308z', 'Emoji 😀👍🏽 ok 👨‍👩‍👧', 'Fußball-Fans jubelten: 2:1!',
  '¿Quién ganó? ¡El niño!', 'Погода сегодня хорошая.', 'Ο καιρός ΣΗΜΕΡΑ.', "İstanbul'da yağmur", '12,345.67 and 3.14159 ½ ² Ⅻ',
  '  leading and trailing  ', 'tabs\tand\nnewlines\r\nhere', 'ＡＢＣ full width', 'Ⓐ circled 🄰', "don't can't it's we'll",
  'hello   world', 'ctrl\u0001chars\u007f and\u200bzero\ufeffwidth', 'thing things thinking the thin', 'السلام عليكم', 'שלום עולם',
  'สวัสดีครับ', 'नमस्ते दुनिया', '“quotes” ‘single’ — dashes – …', 'https://example.org/a?b=c user@example.org',
  'unknown ×÷ symbols ∑∫', 'ﬀ ﬃ ligatures and ℌ𝔢𝔩𝔩𝔬', 'A'.repeat(120) + ' long word',
  '[CLS] the [MASK] won [SEP]', 'The <mask> won, <s>really</s>!', 'Hello<mask>world <pad>',
  "HELLO hello the thing  \n\n  12345 I'M YOU'LL x", 'spaces   before\t\tand after   ',
];
const reference = {};
(async () => {
  const names = ['../../../../samples/text/tokenizer.json', 'wordpiece.json', 'seqnorm.json', 'wordpiece_trained.json', 'bpe_bytelevel.json',
    'bpe_roberta.json', 'unigram.json', 'bpe_bytefallback.json', 'bpe_fused.json', 'bpe_suffix.json', 'bpe_prefix.json', 'bpe_llama3.json', 'wordlevel_split.json', 'wordlevel_replace.json', 'wordlevel_misc.json'];
  for (const name of names) {
    const tk = t.Tokenizer.fromFile(out(name));
    const cases = [];
    for (const text of texts) {
      const enc = await tk.encode(text);
      cases.push({ text, ids: enc.getIds(), tokens: enc.getTokens() });
    }
    reference[path.basename(name)] = cases;
  }
  fs.writeFileSync(out('reference.json'), JSON.stringify(reference, null, 1) + '\n');
})().catch((e) => { console.error(e); process.exit(1); });
