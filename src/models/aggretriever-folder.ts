// An Aggretriever model folder, in the layout of the reference code (castorini/dhr,
// jacklin64/multilingual_dhr) with its pickles as safetensors:
//   config.json, model.safetensors        the masked LM (…ForMaskedLM), tokenizer files
//   pooler.safetensors + pooler_config.json                    [CLS] projection, linear_q.*
//   TermWeightTrans.safetensors + TermWeightTrans_config.json   term weight, linear_q.*
//   aggretriever_config.json (optional)   agg_dim (default 640), agg_mode (default mlm) and
//                                         lowercase (default true: the paper lowercases all text)
// Only tied heads are read (one tower for queries and passages, the papers' setting); the
// reference code's `linear_p` copy of a tied head is ignored.
//
// A plain masked LM (xlm-roberta-base, bert-base-multilingual-cased) becomes an Aggretriever with
// fresh heads, initialised as the reference code's nn.Linear layers are: in memory when training
// starts from it (`xlir train --head agg --model xlm-roberta-base`), or as a folder (initAggretriever)
// to evaluate the untrained starting point.

import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Tensor, readSafetensors, writeSafetensors } from "../weights/safetensors.ts";
import { aggAlgorithm } from "./agg-star.ts";
import { AGG_MODES, type AggMode, type AggSpec, POOLER, TERM_WEIGHT } from "./aggretriever.ts";
import { mlmHead } from "./bert.ts";
import { Checkpoint, tensorSource, type WeightSource } from "./checkpoint.ts";
import { Rng } from "./random.ts";

export const AGG_CONFIG = "aggretriever_config.json";
const HEAD_FILES = { [POOLER]: "pooler", [TERM_WEIGHT]: "TermWeightTrans" } as const;

/** The folder's own defaults, as aggretriever_config.json records them. */
export interface AggDefaults {
  mode: AggMode;
  lowercase: boolean;
}

export const isAggretrieverFolder = (dir: string) =>
  existsSync(join(dir, "pooler_config.json")) && existsSync(join(dir, "TermWeightTrans_config.json"));

export interface LoadedAggretriever {
  dir: string;
  ck: Checkpoint;
  /** The heads by graph name (pooler.linear_q.weight, ...). */
  heads: Map<string, Tensor>;
  spec: AggSpec;
  defaults: AggDefaults;
  /** Config and weight files, for the model's fingerprint. */
  files: { configs: string[]; weights: string[] };
  close(): void;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${path}: not readable JSON (${(e as Error).message}); restore the file from the model`, {
      cause: e,
    });
  }
}

export function readAggretrieverFolder(dir: string): LoadedAggretriever {
  const heads = new Map<string, Tensor>();
  const configs = [join(dir, "config.json"), join(dir, AGG_CONFIG)];
  const weights = [join(dir, "model.safetensors")];
  for (const [graphName, file] of Object.entries(HEAD_FILES)) {
    const cfg = readJson(join(dir, `${file}_config.json`));
    if (cfg.tied === false)
      throw new Error(
        `${join(dir, `${file}_config.json`)}: untied heads (separate query and passage towers) are not supported; train with tied heads (untie_encoder false)`,
      );
    const path = join(dir, `${file}.safetensors`);
    if (!existsSync(path))
      throw new Error(
        `${path} is missing: convert the reference code's ${file}.pt to safetensors (see the README's mAggretriever section)`,
      );
    const t = readSafetensors(path);
    for (const part of ["weight", "bias"]) {
      const x = t.get(`linear_q.${part}`);
      if (!x) throw new Error(`${path}: no tensor "linear_q.${part}" (keys: ${[...t.keys()].join(", ")})`);
      heads.set(`${graphName}.${part}`, x);
    }
    configs.push(join(dir, `${file}_config.json`));
    weights.push(path);
  }
  const extra = existsSync(join(dir, AGG_CONFIG)) ? readJson(join(dir, AGG_CONFIG)) : {};
  const mode = (extra.agg_mode ?? "mlm") as AggMode;
  if (!AGG_MODES.includes(mode))
    throw new Error(
      `${join(dir, AGG_CONFIG)}: agg_mode "${String(mode)}" is not one of ${AGG_MODES.join(", ")}`,
    );
  const aggDim = Number(extra.agg_dim ?? 640);
  if (!Number.isInteger(aggDim) || aggDim < 1)
    throw new Error(
      `${join(dir, AGG_CONFIG)}: agg_dim must be a positive integer, got ${String(extra.agg_dim)}`,
    );
  const ck = Checkpoint.open(dir);
  const pooler = heads.get(`${POOLER}.weight`)!;
  if (
    pooler.dims[1] !== ck.config.hidden ||
    heads.get(`${TERM_WEIGHT}.weight`)!.dims.join() !== `1,${ck.config.hidden}`
  ) {
    ck.close();
    throw new Error(
      `${dir}: the heads' input width does not match the model's hidden size ${ck.config.hidden}; the heads belong to another model`,
    );
  }
  return loaded(
    dir,
    ck,
    heads,
    aggDim,
    { mode, lowercase: extra.lowercase === undefined ? true : Boolean(extra.lowercase) },
    { configs, weights },
  );
}

function loaded(
  dir: string,
  ck: Checkpoint,
  heads: Map<string, Tensor>,
  aggDim: number,
  defaults: AggDefaults,
  files = { configs: [join(dir, "config.json")], weights: [join(dir, "model.safetensors")] },
): LoadedAggretriever {
  const semanticDim = heads.get(`${POOLER}.weight`)!.dims[0];
  return {
    dir,
    ck,
    heads,
    spec: { semanticDim, aggDim, algorithm: aggAlgorithm(ck.config.vocabSize) },
    defaults,
    files,
    close: () => ck.close(),
  };
}

/** How a plain masked LM becomes an Aggretriever: the papers' sizes and settings unless told. */
export interface AggInit {
  /** Width of the [CLS] projection (default 128). */
  semanticDim?: number;
  /** Width of agg* (default 640). */
  aggDim?: number;
  /** Lexical mode recorded as the folder's default (default mlm). */
  mode?: AggMode;
  /** Lowercase all text (default true, as the paper). */
  lowercase?: boolean;
  /** Seed of the heads' initialisation (default 42). */
  seed?: number;
}

/**
 * The two heads as PyTorch initialises nn.Linear (the reference code's LinearPooler): weight
 * kaiming-uniform with a = sqrt(5) and bias uniform, both in ±1/sqrt(in_features).
 */
export function freshAggretrieverHeads(
  hidden: number,
  semanticDim: number,
  seed: number,
): Map<string, Tensor> {
  const rng = new Rng(seed);
  const bound = 1 / Math.sqrt(hidden);
  const uniform = (n: number) => Float32Array.from({ length: n }, () => (2 * rng.next() - 1) * bound);
  const heads = new Map<string, Tensor>();
  for (const [name, out] of [
    [POOLER, semanticDim],
    [TERM_WEIGHT, 1],
  ] as const) {
    heads.set(`${name}.weight`, { data: uniform(out * hidden), dims: [out, hidden] });
    heads.set(`${name}.bias`, { data: uniform(out), dims: [out] });
  }
  return heads;
}

function positiveInt(x: number, what: string): number {
  if (!Number.isInteger(x) || x < 1) throw new Error(`${what} must be a positive integer, got ${x}`);
  return x;
}

/**
 * An Aggretriever folder as it is; any other folder must be a masked LM, which gets fresh heads
 * from `init` (refused without it: the folder is not an Aggretriever).
 */
export function openAggretriever(dir: string, init?: AggInit): LoadedAggretriever {
  if (isAggretrieverFolder(dir)) return readAggretrieverFolder(dir);
  if (!init)
    throw new Error(
      `${dir} is not an Aggretriever folder (no pooler_config.json / TermWeightTrans_config.json); train one from a masked LM with xlir train --head agg`,
    );
  const semanticDim = positiveInt(init.semanticDim ?? 128, "--semantic-dim");
  const aggDim = positiveInt(init.aggDim ?? 640, "--agg-dim");
  const ck = Checkpoint.open(dir);
  try {
    const cfg = ck.config;
    const head = cfg.family === "m2m100" ? null : mlmHead(cfg);
    if (!head || !ck.has(`${head.dense}.weight`) || !ck.has(head.bias))
      throw new Error(
        `${dir}: no masked-LM head (${head ? `${head.bias.replace(/\.bias$/, "")}.* missing` : "an m2m_100 encoder"}); Aggretriever starts from a …ForMaskedLM checkpoint such as xlm-roberta-base or bert-base-multilingual-cased`,
      );
    return loaded(dir, ck, freshAggretrieverHeads(cfg.hidden, semanticDim, init.seed ?? 42), aggDim, {
      mode: init.mode ?? "mlm",
      lowercase: init.lowercase ?? true,
    });
  } catch (e) {
    ck.close();
    throw e;
  }
}

/**
 * Writes `outDir` as an Aggretriever folder: the masked LM's files (copied) and fresh heads, the
 * untrained starting point of `xlir train --head agg` with the same seed.
 */
export function initAggretriever(mlmDir: string, outDir: string, init: AggInit = {}): void {
  if (isAggretrieverFolder(mlmDir))
    throw new Error(`${mlmDir} is already an Aggretriever folder; train or embed with it as it is`);
  if (existsSync(outDir) && readdirSync(outDir).length)
    throw new Error(`${outDir} exists and is not empty; give a new folder`);
  const fresh = openAggretriever(mlmDir, init);
  try {
    mkdirSync(outDir, { recursive: true });
    // a hub cache holds symlinks: copy what they point to
    cpSync(mlmDir, outDir, { recursive: true, dereference: true });
    writeAggretrieverHeads(outDir, fresh.heads, fresh.spec, fresh.defaults);
  } finally {
    fresh.close();
  }
}

export const headSource = (heads: Map<string, Tensor>): WeightSource =>
  tensorSource(heads, "aggretriever heads");

/** Writes the heads and aggretriever_config.json into `dir` (the LM's own files are the caller's). */
export function writeAggretrieverHeads(
  dir: string,
  heads: Map<string, Tensor>,
  spec: AggSpec,
  defaults: AggDefaults,
): void {
  for (const [graphName, file] of Object.entries(HEAD_FILES)) {
    const w = heads.get(`${graphName}.weight`)!;
    const b = heads.get(`${graphName}.bias`)!;
    writeSafetensors(
      join(dir, `${file}.safetensors`),
      { "linear_q.weight": w, "linear_q.bias": b },
      { metadata: { format: "pt" } },
    );
    writeFileSync(
      join(dir, `${file}_config.json`),
      JSON.stringify({ input_dim: w.dims[1], output_dim: w.dims[0], tied: true }) + "\n",
    );
  }
  writeFileSync(
    join(dir, AGG_CONFIG),
    JSON.stringify(
      { agg_dim: spec.aggDim, agg_mode: defaults.mode, lowercase: defaults.lowercase, similarity: "dot" },
      null,
      2,
    ) + "\n",
  );
}
