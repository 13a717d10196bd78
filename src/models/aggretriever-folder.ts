// An Aggretriever model folder, in the layout of the reference code (castorini/dhr,
// jacklin64/multilingual_dhr) with its pickles as safetensors:
//   config.json, model.safetensors        the masked LM (…ForMaskedLM), tokenizer files
//   pooler.safetensors + pooler_config.json                    [CLS] projection, linear_q.*
//   TermWeightTrans.safetensors + TermWeightTrans_config.json   term weight, linear_q.*
//   aggretriever_config.json (optional)   agg_dim (default 640), agg_mode (default mlm) and
//                                         lowercase (default true: the paper lowercases all text)
// Only tied heads are read (one tower for queries and passages, the papers' setting); the
// reference code's `linear_p` copy of a tied head is ignored.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Tensor, readSafetensors, writeSafetensors } from "../weights/safetensors.ts";
import { aggAlgorithm } from "./agg-star.ts";
import { AGG_MODES, type AggMode, type AggSpec, POOLER, TERM_WEIGHT } from "./aggretriever.ts";
import { Checkpoint, tensorSource, type WeightSource } from "./checkpoint.ts";

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
  return {
    dir,
    ck,
    heads,
    spec: { semanticDim: pooler.dims[0], aggDim, algorithm: aggAlgorithm(ck.config.vocabSize) },
    defaults: { mode, lowercase: extra.lowercase === undefined ? true : Boolean(extra.lowercase) },
    files: { configs, weights },
    close: () => ck.close(),
  };
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
