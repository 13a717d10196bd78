// Tiny random model folders (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)
// that tests make for themselves: a BERT with a WordPiece vocabulary and an NLLB-like M2M100 encoder
// with a Unigram vocabulary and language-code tokens.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeRandomCheckpoint } from "../../src/models/random.ts";
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
