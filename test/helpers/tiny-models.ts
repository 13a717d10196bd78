// Tiny random model folders (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)
// that tests make for themselves: BERTs with WordPiece vocabularies and NLLB-like M2M100 encoders
// with language-code tokens.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gaussian, writeRandomCheckpoint } from "../../src/models/random.ts";
import { readSafetensors, writeSafetensors } from "../../src/weights/safetensors.ts";
import {
  BERT_POST,
  BERT_SPECIALS,
  bertTokenizerConfig,
  tinyNllb,
  tinyWordPiece,
  wordPieceJson,
} from "./tiny-tokenizers.ts";

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

interface DirOptions {
  d?: number;
  layers?: number;
  seed?: number;
  parent?: string;
}

const vocabSize = (tokenizer: object) =>
  Object.keys((tokenizer as { model: { vocab: object } }).model.vocab).length;

/** A folder with a random checkpoint for `config` and the tokenizer files. */
function modelDir(
  prefix: string,
  config: Record<string, unknown>,
  tok: { tokenizer: object; config: object },
  o: DirOptions,
  seed: number,
): string {
  const dir = mkdtempSync(join(o.parent ?? tmpdir(), prefix));
  writeRandomCheckpoint(dir, config, o.seed ?? seed);
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok.tokenizer));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tok.config));
  return dir;
}

const bertConfig = (vocab: number, d: number, layers: number, heads: number, maxPositions: number) => ({
  architectures: ["BertModel"],
  model_type: "bert",
  vocab_size: vocab,
  hidden_size: d,
  num_hidden_layers: layers,
  num_attention_heads: heads,
  intermediate_size: 2 * d,
  max_position_embeddings: maxPositions,
  type_vocab_size: 2,
});

const m2m100Config = (vocab: number, d: number, layers: number, heads: number, maxPositions: number) => ({
  architectures: ["M2M100ForConditionalGeneration"],
  model_type: "m2m_100",
  vocab_size: vocab,
  d_model: d,
  encoder_layers: layers,
  encoder_attention_heads: heads,
  encoder_ffn_dim: 2 * d,
  decoder_layers: 1,
  decoder_attention_heads: heads,
  decoder_ffn_dim: 2 * d,
  max_position_embeddings: maxPositions,
  scale_embedding: true,
  pad_token_id: 1,
  bos_token_id: 0,
  eos_token_id: 2,
});

/** A BERT of hidden `d` (default 16) whose vocabulary is the tiny WordPiece one plus TINY_WORDS. */
export function tinyBertDir(o: DirOptions & { maxLength?: number } = {}): string {
  const tok = tinyWordPiece(TINY_WORDS, o.maxLength ?? 16);
  return modelDir(
    "xlir-bert-",
    bertConfig(vocabSize(tok.tokenizer), o.d ?? 16, o.layers ?? 2, 2, 64),
    tok,
    o,
    1,
  );
}

/** An NLLB-like M2M100 encoder (language codes eng_Latn, hin_Deva, zho_Hans, zho_Hant). */
export function tinyNllbDir(o: DirOptions = {}): string {
  const tok = tinyNllb();
  const vocab =
    Math.max(...(tok.tokenizer as { added_tokens: { id: number }[] }).added_tokens.map((a) => a.id)) + 1;
  return modelDir("xlir-nllb-", m2m100Config(vocab, o.d ?? 16, o.layers ?? 2, 2, 64), tok, o, 2);
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

/** An E5-like BERT (default d 32) whose WordPiece vocabulary is `words` (plus query / passage / :). */
export function wordE5Dir(words: string[], o: DirOptions = {}): string {
  const tokenizer = wordPieceJson(BERT_SPECIALS, ["query", "passage", ":", ...words], "[UNK]", BERT_POST);
  const tok = { tokenizer, config: bertTokenizerConfig(128) };
  return modelDir("xlir-e5-", bertConfig(vocabSize(tokenizer), o.d ?? 32, o.layers ?? 2, 4, 128), tok, o, 11);
}

/** An NLLB-like M2M100 (default d 48) whose vocabulary is `words` plus <s> <pad> </s> <unk> and language codes. */
export function wordNllbDir(words: string[], o: DirOptions = {}): string {
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
  const tokenizer = wordPieceJson(specials, words, "<unk>", post);
  const config = {
    model_max_length: 128,
    bos_token: "<s>",
    eos_token: "</s>",
    pad_token: "<pad>",
    unk_token: "<unk>",
    additional_special_tokens: specials.slice(4),
  };
  return modelDir(
    "xlir-nllbw-",
    m2m100Config(vocabSize(tokenizer), o.d ?? 48, o.layers ?? 2, 4, 128),
    { tokenizer, config },
    o,
    12,
  );
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
