// tokenizer.json objects for a given word list: the tiny tokenizers that tests and benchmarks
// build for random checkpoints (no downloads). Real checkpoints bring their own tokenizer.json.

/** An added-token entry of tokenizer.json. */
export const addedToken = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/**
 * A whole-word WordPiece tokenizer.json with BERT's normaliser (lower-casing) and pre-tokenizer:
 * `specials` first as added tokens, then `words` (duplicates dropped), unknown words -> `unk`.
 */
export function wordPieceJson(
  specials: readonly string[],
  words: readonly string[],
  unk: string,
  post: object,
): object {
  const vocab = [...new Set([...specials, ...words])];
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((t, i) => addedToken(i, t)),
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: post,
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: unk,
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((w, i) => [w, i])),
    },
  };
}

export const BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
export const BERT_POST = { type: "BertProcessing", sep: ["[SEP]", 3], cls: ["[CLS]", 2] };
