// `xlir train` as a library call: read the pairs, split off validation (seeded, stratified by
// language) or read it from its own file, settle the language weights, open the model head,
// train (contrastive.ts) and write the model folder. Defaults follow the paper where it says:
// AdamW weight decay 0.01, lr 3e-5 for InfoNCE / 1e-5 for triplet, batch 128, 3 epochs, 128 tokens,
// temperature 0.05 (sentence-transformers' scale 20), last layer trained.
//
// The exported model holds the best weights by validation MRR (over all validation queries), as
// transformers' load_best_model_at_end; without validation, the last ones. `<output>/training`
// keeps the log, loss.svg, the checkpoint, the language weights and the run's settings.

import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isNllbE5Folder } from "../models/nllb-e5-folder.ts";
import { Rng } from "../models/random.ts";
import { type ResolveOptions, resolveModel } from "../weights/hub.ts";
import { trainContrastive, type ContrastiveResult, type ValFigures } from "./contrastive.ts";
import { encoderHead } from "./encoder-head.ts";
import { UNDETERMINED } from "../text/langid.ts";
import { LangWeights, type Weighting } from "./lang-weights.ts";
import type { LoopHooks, TrainerOptions } from "./loop.ts";
import { lossSpec, type Similarity } from "./losses.ts";
import type { ModelHead } from "./model-head.ts";
import { nllbE5Head } from "./nllb-e5-head.ts";
import { parseTrainable } from "./model-head.ts";
import { loadPairs, type PairExample } from "./pairs.ts";

export type LossName = "infonce" | "weighted-infonce" | "triplet";

export interface FineTuneConfig extends TrainerOptions {
  model: string;
  data: string[];
  output: string;
  loss?: LossName;
  /** Weights for weighted-infonce (required there; refused with the other losses). */
  weighting?: Weighting;
  similarity?: Similarity;
  temperature?: number;
  symmetric?: boolean;
  distance?: "euclidean" | "cosine";
  margin?: number;
  /** "full", "last:N" (default last:1, the paper's) or "lora". */
  trainable?: string;
  lora?: { r?: number; alpha?: number; dropout?: number };
  /** Hard negatives per example (default: as many as every example has). */
  negatives?: number;
  epochs?: number;
  /** Overrides epochs. */
  steps?: number;
  maxLength?: number;
  /** Rows per GradCache chunk; omitted: the whole batch in one graph. */
  gradCache?: number;
  valSplit?: number;
  val?: string[];
  threads?: number;
  /** Language of rows that carry none ("auto": detected). */
  lang?: string;
  hub?: ResolveOptions;
  warn?: (msg: string) => void;
}

export interface FineTuneResult extends ContrastiveResult {
  /** Language -> weight used (weighted-infonce). */
  langWeights: Record<string, number> | null;
  trainSize: number;
  valSize: number;
}

/** Seeded split, stratified by language: `fraction` of each language's examples (at least 1 of a language with 2+) to validation. */
export function splitByLanguage(
  examples: readonly PairExample[],
  fraction: number,
  seed: number,
): { train: PairExample[]; val: PairExample[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`--val-split must be in [0, 1), got ${fraction}`);
  const byLang = new Map<string, number[]>();
  examples.forEach((e, i) => {
    const l = e.lang ?? UNDETERMINED;
    byLang.set(l, [...(byLang.get(l) ?? []), i]);
  });
  const isVal = new Set<number>();
  const rng = new Rng(seed * 31 + 7);
  for (const lang of [...byLang.keys()].sort()) {
    const idx = byLang.get(lang)!;
    const n = fraction === 0 ? 0 : Math.max(idx.length > 1 ? 1 : 0, Math.round(idx.length * fraction));
    rng
      .permutation(idx.length)
      .slice(0, n)
      .forEach((j) => isVal.add(idx[j]));
  }
  return {
    train: examples.filter((_, i) => !isVal.has(i)),
    val: examples.filter((_, i) => isVal.has(i)),
  };
}

/** NLLB-E5 folders train their projection + LoRA; other encoders what --trainable says (default last:1). */
async function openHead(cfg: FineTuneConfig, seed: number): Promise<ModelHead> {
  const dir = await resolveModel(cfg.model, cfg.hub);
  const nllbE5 = isNllbE5Folder(dir);
  const trainable = parseTrainable(cfg.trainable ?? (nllbE5 ? "lora" : "last:1"), cfg.lora);
  if (nllbE5) return nllbE5Head(dir, { trainable, seed, maxLength: cfg.maxLength });
  return encoderHead(cfg.model, {
    trainable,
    seed,
    maxLength: cfg.maxLength ?? 128,
    hub: cfg.hub,
    warn: cfg.warn,
  });
}

export async function fineTune(
  cfg: FineTuneConfig,
  hooks: LoopHooks<ValFigures> & {
    onStart?: (info: {
      train: number;
      val: number;
      steps: number;
      langWeights: Record<string, number> | null;
      trainable: string;
    }) => void;
  } = {},
): Promise<FineTuneResult> {
  const lossName = cfg.loss ?? "infonce";
  const seed = cfg.seed ?? 42;
  const batchSize = cfg.batchSize ?? 128;
  if (lossName === "weighted-infonce" && !cfg.weighting)
    throw new Error(
      "--loss weighted-infonce needs weights: --lang-weights sw=2,..., --low-resource bn,sw [--low-resource-weight 2], or --lang-weighting inverse-frequency|loss-based",
    );
  if (lossName !== "weighted-infonce" && cfg.weighting)
    throw new Error(`language weights apply to --loss weighted-infonce only, not ${lossName}`);
  const spec = lossSpec(lossName, {
    sim: cfg.similarity,
    temperature: cfg.temperature,
    symmetric: cfg.symmetric,
    distance: cfg.distance,
    margin: cfg.margin,
  });

  // data, all read and checked before anything is created
  const readOpts = cfg.lang ? { defaultLang: cfg.lang } : {};
  const all = await loadPairs(cfg.data, readOpts);
  const { train, val } = cfg.val?.length
    ? { train: all, val: await loadPairs(cfg.val, readOpts) }
    : splitByLanguage(all, cfg.valSplit ?? 0.1, seed);
  const fewest = Math.min(...train.map((e) => e.negatives.length));
  const k = cfg.negatives ?? fewest;
  if (k > fewest) {
    const short = train.find((e) => e.negatives.length < k)!;
    throw new Error(
      `${short.where}: ${short.negatives.length} hard negative(s), fewer than --negatives ${k}; mine more with xlir mine or lower --negatives`,
    );
  }
  if (spec.kind === "triplet" && k < 1)
    throw new Error(
      `--loss triplet needs a hard negative for every example (${train.find((e) => !e.negatives.length)!.where} has none); add "negatives" or run xlir mine`,
    );
  if (train.length < batchSize)
    throw new Error(
      `${train.length} training pairs are fewer than one batch of ${batchSize}; give more data or a smaller --batch-size`,
    );
  const stepsPerEpoch = Math.floor(train.length / (batchSize * (cfg.gradAccum ?? 1)));
  const steps = cfg.steps ?? Math.max(1, stepsPerEpoch * (cfg.epochs ?? 3));
  const trainLangs = train.map((e) => e.lang ?? UNDETERMINED);
  const weights = cfg.weighting ? new LangWeights(cfg.weighting, trainLangs) : null;
  const head = await openHead(cfg, seed);
  try {
    const dir = join(cfg.output, "training");
    mkdirSync(dir, { recursive: true });
    const settings = {
      model: cfg.model,
      data: cfg.data.map((f) => [f, statSync(f).size]),
      val: cfg.val?.map((f) => [f, statSync(f).size]) ?? cfg.valSplit ?? 0.1,
      loss: spec,
      weighting: cfg.weighting ?? null,
      trainable: head.describe,
      lora: cfg.lora ?? null,
      negatives: k,
      steps,
      batchSize,
      gradAccum: cfg.gradAccum ?? 1,
      lr: cfg.lr ?? (spec.kind === "triplet" ? 1e-5 : 3e-5),
      warmupSteps: cfg.warmupSteps ?? null,
      weightDecay: cfg.weightDecay ?? 0.01,
      maxGradNorm: cfg.maxGradNorm ?? 1,
      maxLength: cfg.maxLength ?? null,
      seed,
    };
    const langWeights = weights?.table(trainLangs) ?? null;
    hooks.onStart?.({ train: train.length, val: val.length, steps, langWeights, trainable: head.describe });
    writeFileSync(join(dir, "run.json"), JSON.stringify({ ...settings, langWeights }, null, 2) + "\n");
    const r = await trainContrastive(
      head,
      {
        loss: spec,
        weights,
        train,
        val,
        negatives: k,
        steps,
        batchSize,
        gradAccum: cfg.gradAccum,
        lr: settings.lr,
        warmupSteps: cfg.warmupSteps,
        weightDecay: settings.weightDecay,
        maxGradNorm: cfg.maxGradNorm,
        seed,
        evalEvery: cfg.evalEvery ?? Math.max(1, Math.floor(steps / 10)),
        checkpointEvery: cfg.checkpointEvery,
        gradCache: cfg.gradCache ?? null,
        threads: cfg.threads,
        dir,
        resume: cfg.resume,
        fingerprint: settings,
      },
      hooks,
    );
    if (!r.interrupted) head.save(cfg.output, r.best);
    return {
      ...r,
      langWeights: weights?.table(trainLangs) ?? null,
      trainSize: train.length,
      valSize: val.length,
    };
  } finally {
    head.close();
  }
}
