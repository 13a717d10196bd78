// Tiny random model folders (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)
// that tests make for themselves: a BERT with a WordPiece vocabulary and an NLLB-like M2M100 encoder
// with a Unigram vocabulary and language-code tokens.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gaussian, writeRandomCheckpoint } from "../../src/models/random.ts";
import { readSafetensors, writeSafetensors } from "../../src/weights/safetensors.ts";
import { tinyNllb, tinyWordPiece } from "./tiny-tokenizers.ts";

export const TINY_WORDS = [
  "query",
  "passage",
  ":",
  "cat",
  "dog",
  "sat",
  "on",
  "mat",
  "ran",
  "far",
  "big",
  "small",
];

function writeTokenizer(dir: string, t: { tokenizer: object; config: object }): void {
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(t.tokenizer));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(t.config));
}

/** A BERT (BertModel layout) of hidden `d` whose vocabulary is the tiny WordPiece one plus TINY_WORDS. */
export function tinyBertDir(
  opts: { d?: number; layers?: number; maxLength?: number; seed?: number; parent?: string } = {},
): string {
  const dir = mkdtempSync(join(opts.parent ?? tmpdir(), "xlir-bert-"));
  const tok = tinyWordPiece(TINY_WORDS, opts.maxLength ?? 16);
  const vocab = Object.keys((tok.tokenizer as { model: { vocab: object } }).model.vocab).length;
  const d = opts.d ?? 16;
  writeRandomCheckpoint(
    dir,
    {
      architectures: ["BertModel"],
      model_type: "bert",
      vocab_size: vocab,
      hidden_size: d,
      num_hidden_layers: opts.layers ?? 2,
      num_attention_heads: 2,
      intermediate_size: 2 * d,
      max_position_embeddings: 64,
      type_vocab_size: 2,
    },
    opts.seed ?? 1,
  );
  writeTokenizer(dir, tok);
  return dir;
}

/** An NLLB-like M2M100 encoder (language codes eng_Latn, hin_Deva, zho_Hans, zho_Hant). */
export function tinyNllbDir(
  opts: { d?: number; layers?: number; seed?: number; parent?: string } = {},
): string {
  const dir = mkdtempSync(join(opts.parent ?? tmpdir(), "xlir-nllb-"));
  const tok = tinyNllb();
  const t = tok.tokenizer as { added_tokens: { id: number }[] };
  const vocab = Math.max(...t.added_tokens.map((a) => a.id)) + 1;
  const d = opts.d ?? 16;
  writeRandomCheckpoint(
    dir,
    {
      architectures: ["M2M100ForConditionalGeneration"],
      model_type: "m2m_100",
      vocab_size: vocab,
      d_model: d,
      encoder_layers: opts.layers ?? 2,
      encoder_attention_heads: 2,
      encoder_ffn_dim: 2 * d,
      decoder_layers: 1,
      decoder_attention_heads: 2,
      decoder_ffn_dim: 2 * d,
      max_position_embeddings: 64,
      scale_embedding: true,
      pad_token_id: 1,
      bos_token_id: 0,
      eos_token_id: 2,
    },
    opts.seed ?? 2,
  );
  writeTokenizer(dir, tok);
  return dir;
}

/** Lower-cased words and punctuation of `texts`, most frequent first (what BertPreTokenizer splits). */
export function wordsOf(texts: readonly string[], max: number): string[] {
  const counts = new Map<string, number>();
  for (const t of texts)
    for (const w of t.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [])
      counts.set(w, (counts.get(w) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, max)
    .map(([w]) => w);
}

const added = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** A whole-word WordPiece tokenizer.json: `specials` first (as added tokens), then `words`. */
function wordTokenizer(specials: string[], words: string[], unk: string, post: object): object {
  const vocab = [...new Set([...specials, ...words])];
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((t, i) => added(i, t)),
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

/** An E5-like BERT whose WordPiece vocabulary is `words` (plus [CLS] query / passage : [SEP]). */
export function wordE5Dir(
  words: string[],
  opts: { d?: number; layers?: number; seed?: number; parent?: string } = {},
): string {
  const dir = mkdtempSync(join(opts.parent ?? tmpdir(), "xlir-e5-"));
  const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  const tokenizer = wordTokenizer(specials, ["query", "passage", ":", ...words], "[UNK]", {
    type: "BertProcessing",
    sep: ["[SEP]", 3],
    cls: ["[CLS]", 2],
  });
  const vocab = Object.keys((tokenizer as { model: { vocab: object } }).model.vocab).length;
  const d = opts.d ?? 32;
  writeRandomCheckpoint(
    dir,
    {
      architectures: ["BertModel"],
      model_type: "bert",
      vocab_size: vocab,
      hidden_size: d,
      num_hidden_layers: opts.layers ?? 2,
      num_attention_heads: 4,
      intermediate_size: 2 * d,
      max_position_embeddings: 128,
      type_vocab_size: 2,
    },
    opts.seed ?? 11,
  );
  writeTokenizer(dir, {
    tokenizer,
    config: {
      model_max_length: 128,
      pad_token: "[PAD]",
      unk_token: "[UNK]",
      cls_token: "[CLS]",
      sep_token: "[SEP]",
      mask_token: "[MASK]",
    },
  });
  return dir;
}

/** An NLLB-like M2M100 whose vocabulary is `words` plus <s> <pad> </s> <unk> and language codes. */
export function wordNllbDir(
  words: string[],
  opts: { d?: number; layers?: number; seed?: number; parent?: string } = {},
): string {
  const dir = mkdtempSync(join(opts.parent ?? tmpdir(), "xlir-nllbw-"));
  const specials = ["<s>", "<pad>", "</s>", "<unk>", "eng_Latn", "hin_Deva", "fra_Latn", "deu_Latn"];
  const post = {
    type: "TemplateProcessing",
    single: [
      { SpecialToken: { id: "eng_Latn", type_id: 0 } },
      { Sequence: { id: "A", type_id: 0 } },
      { SpecialToken: { id: "</s>", type_id: 0 } },
    ],
    pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 0 } }],
    special_tokens: {
      eng_Latn: { id: "eng_Latn", ids: [4], tokens: ["eng_Latn"] },
      "</s>": { id: "</s>", ids: [2], tokens: ["</s>"] },
    },
  };
  const tokenizer = wordTokenizer(specials, words, "<unk>", post);
  const vocab = Object.keys((tokenizer as { model: { vocab: object } }).model.vocab).length;
  const d = opts.d ?? 48;
  writeRandomCheckpoint(
    dir,
    {
      architectures: ["M2M100ForConditionalGeneration"],
      model_type: "m2m_100",
      vocab_size: vocab,
      d_model: d,
      encoder_layers: opts.layers ?? 2,
      encoder_attention_heads: 4,
      encoder_ffn_dim: 2 * d,
      decoder_layers: 1,
      decoder_attention_heads: 4,
      decoder_ffn_dim: 2 * d,
      max_position_embeddings: 128,
      scale_embedding: true,
      pad_token_id: 1,
      bos_token_id: 0,
      eos_token_id: 2,
    },
    opts.seed ?? 12,
  );
  writeTokenizer(dir, {
    tokenizer,
    config: {
      model_max_length: 128,
      bos_token: "<s>",
      eos_token: "</s>",
      pad_token: "<pad>",
      unk_token: "<unk>",
      additional_special_tokens: specials.slice(4),
    },
  });
  return dir;
}

/**
 * Make the E5-like word embeddings a fixed linear image of the NLLB-like ones for every word both
 * vocabularies share (E5[w] = M NLLB[w], M random [d_e5, d_nllb] with variance 1/d_nllb). Trained
 * encoders' embedding spaces are related like this through meaning; two unrelated random tables
 * of thousands of words could never be joined by one linear projection, which would make a tiny
 * distillation test measure the vocabulary size instead of the training.
 */
export function relateEmbeddings(e5Dir: string, nllbDir: string, seed = 5): void {
  const e5Tok = JSON.parse(readFileSync(join(e5Dir, "tokenizer.json"), "utf8")).model.vocab as Record<
    string,
    number
  >;
  const nTok = JSON.parse(readFileSync(join(nllbDir, "tokenizer.json"), "utf8")).model.vocab as Record<
    string,
    number
  >;
  const e5 = readSafetensors(join(e5Dir, "model.safetensors"));
  const nllb = readSafetensors(join(nllbDir, "model.safetensors"));
  const we = e5.get("embeddings.word_embeddings.weight")!;
  const wn = nllb.get("model.shared.weight")!;
  const [dE, dN] = [we.dims[1], wn.dims[1]];
  const g = gaussian(seed);
  const m = Float32Array.from({ length: dE * dN }, () => g() / Math.sqrt(dN));
  for (const [w, i] of Object.entries(e5Tok)) {
    const j = nTok[w];
    if (j === undefined || w.startsWith("[")) continue;
    for (let a = 0; a < dE; a++) {
      let s = 0;
      for (let b = 0; b < dN; b++) s += m[a * dN + b] * wn.data[j * dN + b];
      we.data[i * dE + a] = s;
    }
  }
  writeSafetensors(join(e5Dir, "model.safetensors"), e5, { metadata: { format: "pt" } });
}
