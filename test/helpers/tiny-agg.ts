// A tiny random mAggretriever folder whose tokenizer reads real text: an XLM-R masked LM with a
// whole-word WordPiece vocabulary of the given words, random heads, in the layout
// models/aggretriever-folder.ts reads. The fixture folders (aggretriever.ts) tokenize only "w<id>"
// words, so every real sentence would be <unk> and all target-language token sets the same.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { aggAlgorithm } from "../../src/models/agg-star.ts";
import type { AggMode } from "../../src/models/aggretriever.ts";
import { writeAggretrieverHeads } from "../../src/models/aggretriever-folder.ts";
import { gaussian, randomWeights } from "../../src/models/random.ts";
import { wordPieceJson } from "../../src/text/wordpiece-json.ts";
import { type Tensor, writeSafetensors } from "../../src/weights/safetensors.ts";

const SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"];
const ROBERTA_POST = {
  type: "RobertaProcessing",
  sep: ["</s>", 2],
  cls: ["<s>", 0],
  trim_offsets: true,
  add_prefix_space: false,
};

export interface TinyAggOptions {
  /** Hidden width (default 32). */
  d?: number;
  layers?: number;
  seed?: number;
  /** agg* width (default 24) and [CLS] projection width (default 8): the fixture's. */
  aggDim?: number;
  semanticDim?: number;
  /** The folder's default lexical mode (default mlm). */
  mode?: AggMode;
  parent?: string;
}

/** A temp folder: config.json, model.safetensors (LM + lm_head), the heads, tokenizer files. */
export function tinyAggDir(words: readonly string[], o: TinyAggOptions = {}): string {
  const dir = mkdtempSync(join(o.parent ?? tmpdir(), "xlir-tiny-agg-"));
  const tokenizer = wordPieceJson(SPECIALS, words, "<unk>", ROBERTA_POST);
  const vocab = Object.keys((tokenizer as { model: { vocab: object } }).model.vocab).length;
  const d = o.d ?? 32;
  const config = {
    architectures: ["XLMRobertaForMaskedLM"],
    model_type: "xlm-roberta",
    vocab_size: vocab,
    hidden_size: d,
    num_hidden_layers: o.layers ?? 2,
    num_attention_heads: 4,
    intermediate_size: 2 * d,
    max_position_embeddings: 130,
    type_vocab_size: 1,
    layer_norm_eps: 1e-5,
    pad_token_id: 1,
    bos_token_id: 0,
    eos_token_id: 2,
  };
  const seed = o.seed ?? 21;
  const weights = randomWeights(config, seed);
  const g = gaussian(seed + 1);
  const fill = (dims: number[], f: () => number): Tensor => ({
    data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, f),
    dims,
  });
  // The MLM head randomWeights (a bare encoder) leaves out; its decoder is tied to the word embeddings.
  weights.set(
    "lm_head.dense.weight",
    fill([d, d], () => g() / Math.sqrt(d)),
  );
  weights.set(
    "lm_head.dense.bias",
    fill([d], () => 0.02 * g()),
  );
  weights.set(
    "lm_head.layer_norm.weight",
    fill([d], () => 1),
  );
  weights.set(
    "lm_head.layer_norm.bias",
    fill([d], () => 0),
  );
  weights.set(
    "lm_head.bias",
    fill([vocab], () => 0.02 * g()),
  );
  writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2));
  writeSafetensors(join(dir, "model.safetensors"), weights, { metadata: { format: "pt" } });

  const semanticDim = o.semanticDim ?? 8;
  const aggDim = o.aggDim ?? 24;
  const heads = new Map<string, Tensor>([
    ["pooler.linear_q.weight", fill([semanticDim, d], () => g() / Math.sqrt(d))],
    ["pooler.linear_q.bias", fill([semanticDim], () => 0.02 * g())],
    ["TermWeightTrans.linear_q.weight", fill([1, d], () => g() / Math.sqrt(d))],
    // A positive offset: most term weights positive, as a trained head's are.
    ["TermWeightTrans.linear_q.bias", fill([1], () => 1)],
  ]);
  writeAggretrieverHeads(
    dir,
    heads,
    { semanticDim, aggDim, algorithm: aggAlgorithm(vocab) },
    { mode: o.mode ?? "mlm", lowercase: true },
  );
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({
      model_max_length: 128,
      bos_token: "<s>",
      eos_token: "</s>",
      pad_token: "<pad>",
      unk_token: "<unk>",
    }),
  );
  return dir;
}
