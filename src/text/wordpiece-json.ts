// tokenizer.json objects for a given word list: the tiny tokenizers that tests and benchmarks
// build for random checkpoints (no downloads). Real checkpoints bring their own tokenizer.json.

import { writeFileSync } from "node:fs";
import { join } from "node:path";

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

export const ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"];
export const ROBERTA_POST = {
  type: "RobertaProcessing",
  sep: ["</s>", 2],
  cls: ["<s>", 0],
  trim_offsets: true,
  add_prefix_space: false,
};

/**
 * Writes tokenizer.json and tokenizer_config.json of an XLM-R-style whole-word tokenizer into `dir`:
 * <s> <pad> </s> <unk> at 0..3, then `words`, then `<mask>` when `mask`. Returns the vocabulary size.
 */
export function writeRobertaWordTokenizer(
  dir: string,
  words: readonly string[],
  o: { maxLength?: number; mask?: boolean } = {},
): number {
  const tokenizer = wordPieceJson(
    ROBERTA_SPECIALS,
    o.mask ? [...words, "<mask>"] : words,
    "<unk>",
    ROBERTA_POST,
  );
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  const config = {
    model_max_length: o.maxLength ?? 512,
    bos_token: "<s>",
    eos_token: "</s>",
    pad_token: "<pad>",
    unk_token: "<unk>",
    ...(o.mask ? { mask_token: "<mask>" } : {}),
  };
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
  return Object.keys((tokenizer as { model: { vocab: object } }).model.vocab).length;
}
