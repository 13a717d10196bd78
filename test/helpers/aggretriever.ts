// Aggretriever fixture sets (shared/fixtures/aggretriever*) as model folders the tests can load:
// the fixture's weights, its agg_dim, and a tokenizer.json whose word "w<id>" is token <id>, so a
// fixture row of ids is the text of those words. Also a plain masked LM over a given word list,
// what training an Aggretriever starts from.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { AggMode } from "../../src/models/aggretriever.ts";
import { initAggretriever } from "../../src/models/aggretriever-folder.ts";
import { randomWeights } from "../../src/models/random.ts";
import { writeRobertaWordTokenizer } from "../../src/text/wordpiece-json.ts";
import { type Tensor, writeSafetensors } from "../../src/weights/safetensors.ts";
import { fixturesRoot } from "./shared.ts";

/** Every aggretriever* folder with a cases.json under the fixtures root; none is an error, not a pass. */
export function aggFixtureSets(): string[] {
  const dirs = existsSync(fixturesRoot)
    ? readdirSync(fixturesRoot, { withFileTypes: true })
        .filter((e) => e.isDirectory() && e.name.startsWith("aggretriever"))
        .map((e) => join(fixturesRoot, e.name))
        .filter((d) => existsSync(join(d, "cases.json")))
    : [];
  if (dirs.length === 0)
    throw new Error(`no aggretriever* fixture set with a cases.json under ${fixturesRoot}`);
  return dirs;
}

export interface AggFixtureConfig {
  vocab_size: number;
  agg_dim: number;
  projection_out_dim: number;
  target_language_token_ids: number[];
  special_ids: Record<string, number>;
}

/**
 * A temp model folder for the fixture set `set`: model/ as it is, aggretriever_config.json with
 * the set's agg_dim, and a word-per-id tokenizer (specials <s> <pad> </s> <unk> at 0..3).
 */
export function aggFixtureFolder(set: string, extra: Record<string, unknown> = {}): string {
  const cfg = JSON.parse(readFileSync(join(set, "aggretriever_config.json"), "utf8")) as AggFixtureConfig;
  const dir = mkdtempSync(join(tmpdir(), "xlir-agg-"));
  cpSync(join(set, "model"), dir, { recursive: true });
  writeFileSync(join(dir, "aggretriever_config.json"), JSON.stringify({ agg_dim: cfg.agg_dim, ...extra }));
  const words = Array.from({ length: cfg.vocab_size - 4 }, (_, i) => `w${i + 4}`);
  writeRobertaWordTokenizer(dir, words);
  return dir;
}

/** The text whose tokens are `ids` between the leading <s> and the trailing </s> (and padding). */
export const textOfIds = (ids: readonly number[], pad = 1) =>
  ids
    .slice(1)
    .filter((t) => t !== pad)
    .slice(0, -1)
    .map((t) => `w${t}`)
    .join(" ");

/**
 * A plain XLM-R masked LM (XLMRobertaForMaskedLM: `roberta.` keys and `lm_head.*`, as the hub's
 * checkpoints) whose whole-word WordPiece vocabulary is `words`, without Aggretriever heads: what a
 * user starts training from. Specials <s> <pad> </s> <unk> at 0..3, <mask> last.
 *
 * At unmasked positions a pretrained masked LM mostly predicts the token that is there, and
 * Aggretriever's lexical vector is built on that; a random one predicts noise, which no short
 * training undoes. So the residual path dominates the layers (sublayer outputs scaled down), the
 * MLM transform is the identity in GELU's linear range, and word embeddings (std 0.7, the tied
 * decoder) set how sharp the prediction is: the own token gets most, not all, of the probability.
 */
export function wordMlmDir(
  words: readonly string[],
  o: { d?: number; layers?: number; seed?: number; parent?: string } = {},
): string {
  const dir = mkdtempSync(join(o.parent ?? tmpdir(), "xlir-mlm-"));
  const vocab = writeRobertaWordTokenizer(dir, words, { maxLength: 128, mask: true });
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
    hidden_act: "gelu",
    pad_token_id: 1,
    bos_token_id: 0,
    eos_token_id: 2,
  };
  const seed = o.seed ?? 3;
  const scale = (t: Tensor, by: number) => t.data.forEach((x, i) => (t.data[i] = x * by));
  const weights = new Map<string, Tensor>();
  for (const [k, t] of randomWeights(config, seed)) {
    if (/output\.dense\.weight$/.test(k)) scale(t, 0.5);
    if (k === "embeddings.word_embeddings.weight") scale(t, 0.7 / 0.3);
    weights.set(k.startsWith("lm_head.") ? k : `roberta.${k}`, t);
  }
  const fill = (dims: number[], f: (i: number) => number): Tensor => ({
    data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => f(i)),
    dims,
  });
  weights.set(
    "lm_head.dense.weight",
    fill([d, d], (i) => (i % (d + 1) === 0 ? 1 : 0)),
  );
  // GELU(x + 4) ~ x + 4 over the range LayerNorm leaves, and the next LayerNorm takes the 4 off
  weights.set(
    "lm_head.dense.bias",
    fill([d], () => 4),
  );
  // the decoder is tied to the word embeddings; only its bias is stored
  weights.set(
    "lm_head.bias",
    fill([vocab], () => 0),
  );
  writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2));
  writeSafetensors(join(dir, "model.safetensors"), weights, { metadata: { format: "pt" } });
  return dir;
}

/**
 * A tiny mAggretriever folder whose tokenizer reads real text: wordMlmDir's masked LM with fresh
 * heads (initAggretriever), agg* 24 and [CLS] projection 8 wide by default, as the fixture's.
 */
export function tinyAggDir(
  words: readonly string[],
  o: {
    d?: number;
    layers?: number;
    seed?: number;
    aggDim?: number;
    semanticDim?: number;
    mode?: AggMode;
    parent?: string;
  } = {},
): string {
  const mlm = wordMlmDir(words, o);
  const dir = join(o.parent ?? tmpdir(), `xlir-tiny-agg-${basename(mlm)}`);
  try {
    initAggretriever(mlm, dir, {
      semanticDim: o.semanticDim ?? 8,
      aggDim: o.aggDim ?? 24,
      mode: o.mode ?? "mlm",
      seed: o.seed,
    });
  } finally {
    rmSync(mlm, { recursive: true, force: true });
  }
  return dir;
}
