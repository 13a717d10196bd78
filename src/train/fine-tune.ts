// `xlir train` as a library call: read the pairs, split off validation (seeded, stratified by
// language) or read it from its own file, settle the language weights, open the model head,
// train (contrastive.ts) and write the model folder. Defaults follow the paper where it says:
// AdamW weight decay 0.01, lr 3e-5 for InfoNCE / 1e-5 for triplet, batch 128, 3 epochs, 128 tokens,
// temperature 0.05 (sentence-transformers' scale 20), last layer trained.
//
// ColBERT(-XM) folders (head "colbert", or auto-detected: artifact.metadata) train
// with MaxSim InfoNCE at colbert-ai's defaults: no temperature (scale 1, plain cross-entropy over
// MaxSim scores), in-batch negatives as the folder's artifact.metadata use_ib_negatives says
// (losses.ts InBatch "separate", ColBERT-XM's; "none" when false and there are hard negatives),
// lr 3e-6, gradients clipped at norm 2 (colbert-ai's amp.py), the projection and the shared
// backbone trained (full), embeddings and X-MOD adapters frozen (colbert-head.ts). Lengths come
// from artifact.metadata (query_maxlen, doc_maxlen), so --max-length is refused. All pairs must
// select one adapter (the paper trains on English only); pairs without a language use the
// config's default_language.
//
// Aggretriever models (an Aggretriever folder, or a masked LM with head "agg", which starts with
// fresh heads) train with the mAggretriever loss only. Their defaults are those of the reference
// code, since the paper gives no others: the Aggretriever training script (castorini/dhr,
// docs/aggretriever) trains the whole LM and the heads at lr 5e-6, 8 queries a batch, each with 7
// hard negatives (train_n_passages 8; fewer when the data has fewer), passages of 128 tokens, 3
// epochs; its arguments (kept by the mAggretriever fork) warm up over 10% of the steps; weight
// decay is transformers' default 0, which the script leaves. Queries are cut at 32 tokens there;
// here one --max-length serves both.
//
// The exported model holds the best weights by validation MRR (over all validation queries), as
// transformers' load_best_model_at_end; without validation, the last ones. `<output>/training`
// keeps the log, loss.svg, the checkpoint, the language weights and the run's settings.

import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkAggVocabFits, readAggVocab } from "../encode/agg-vocab-file.ts";
import { isColbertFolder } from "../encode/colbert.ts";
import type { AggMode } from "../models/aggretriever.ts";
import { isAggretrieverFolder } from "../models/aggretriever-folder.ts";
import { isNllbE5Folder } from "../models/nllb-e5-folder.ts";
import { Rng } from "../models/random.ts";
import { type ResolveOptions, resolveModel } from "../weights/hub.ts";
import { aggretrieverHead } from "./aggretriever-head.ts";
import { colbertHead, usesInBatchNegatives } from "./colbert-head.ts";
import { trainContrastive, type ContrastiveResult, type ValFigures } from "./contrastive.ts";
import { encoderHead } from "./encoder-head.ts";
import { UNDETERMINED } from "../text/langid.ts";
import { LangWeights, type Weighting } from "./lang-weights.ts";
import type { LoopHooks, TrainerOptions } from "./loop.ts";
import { type InBatch, type LossSpec, lossSpec, type Similarity } from "./losses.ts";
import type { ModelHead } from "./model-head.ts";
import { nllbE5Head } from "./nllb-e5-head.ts";
import { parseTrainable } from "./model-head.ts";
import { loadPairs, type PairExample } from "./pairs.ts";

export type LossName = "infonce" | "weighted-infonce" | "triplet" | "aggretriever";

/** Aggretriever settings (head "agg", or an Aggretriever folder). */
export interface AggTrainOptions {
  /** Lexical prediction while training, recorded as the trained folder's default (default: the folder's; mlm for a masked LM). */
  mode?: AggMode;
  /** target mode: the training language's token set, a file from xlir agg-vocab. */
  vocab?: string;
  /** Lowercase all text (default: the folder's; true for a masked LM, as the paper). */
  lowercase?: boolean;
  /** A masked LM's fresh heads: [CLS] projection width (default 128). */
  semanticDim?: number;
  /** A masked LM's fresh heads: agg* width (default 640). */
  aggDim?: number;
}

export interface FineTuneConfig extends TrainerOptions {
  model: string;
  data: string[];
  output: string;
  /** "auto" (default): by the folder; "agg": Aggretriever, a masked LM getting fresh heads; "colbert": a ColBERT(-XM) folder. */
  head?: "auto" | "agg" | "colbert";
  agg?: AggTrainOptions;
  /** Default infonce; aggretriever for Aggretriever models (the only loss they take). */
  loss?: LossName;
  /** Weights for weighted-infonce (required there; refused with the other losses). */
  weighting?: Weighting;
  similarity?: Similarity;
  temperature?: number;
  symmetric?: boolean;
  /** InfoNCE's use of the batch (default shared; ColBERT: from artifact.metadata). */
  inBatch?: InBatch;
  distance?: "euclidean" | "cosine";
  margin?: number;
  /** "full", "last:N" (default last:1, the paper's), "lora", or for Aggretriever "heads" (default full). */
  trainable?: string;
  lora?: { r?: number; alpha?: number; dropout?: number };
  /** Hard negatives per example (default: as many as every example has; Aggretriever: at most 7). */
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

type HeadKind = "encoder" | "nllb-e5" | "agg" | "colbert";

function headKind(cfg: FineTuneConfig, dir: string): HeadKind {
  const colbert = isColbertFolder(dir);
  if (cfg.head === "colbert" && !colbert)
    throw new Error(
      `--head colbert: ${cfg.model} is not a ColBERT checkpoint (no colbert-ai artifact.metadata)`,
    );
  if (cfg.head === "agg" && colbert)
    throw new Error(
      `--head agg: ${cfg.model} is a ColBERT checkpoint; train it with --head colbert (or auto)`,
    );
  if (colbert) return "colbert";
  const nllbE5 = isNllbE5Folder(dir);
  if (cfg.head === "agg" && nllbE5)
    throw new Error(
      `--head agg: ${cfg.model} is an NLLB-E5 folder; Aggretriever starts from a masked LM (e.g. xlm-roberta-base)`,
    );
  if (cfg.head === "agg" || isAggretrieverFolder(dir)) return "agg";
  return nllbE5 ? "nllb-e5" : "encoder";
}

/** Options that belong to other heads or losses, refused rather than silently ignored. */
function checkOptions(cfg: FineTuneConfig, kind: HeadKind, dir: string, lossName: LossName): void {
  const a = cfg.agg ?? {};
  const aggGiven = (
    [
      ["--agg-mode", a.mode],
      ["--agg-vocab", a.vocab],
      ["--lowercase / --no-lowercase", a.lowercase],
      ["--semantic-dim", a.semanticDim],
      ["--agg-dim", a.aggDim],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (kind === "colbert") {
    if (lossName !== "infonce" && lossName !== "weighted-infonce")
      throw new Error(`--loss ${lossName}: ColBERT trains with MaxSim InfoNCE (infonce or weighted-infonce)`);
    if (cfg.similarity === "cos")
      throw new Error(
        `--similarity cos: ColBERT scores by MaxSim over normalised token vectors; leave it out`,
      );
    if (cfg.maxLength !== undefined)
      throw new Error(
        `--max-length: ColBERT's lengths are artifact.metadata's query_maxlen and doc_maxlen; edit those`,
      );
  } else if (cfg.inBatch !== undefined && lossName === "triplet")
    throw new Error(`--in-batch applies to InfoNCE, not the triplet loss`);
  if (kind !== "agg") {
    if (aggGiven.length)
      throw new Error(
        `${aggGiven[0][0]} applies to Aggretriever models; ${cfg.model} is not one (train a masked LM as one with --head agg)`,
      );
    if (lossName === "aggretriever")
      throw new Error(
        `--loss aggretriever needs an Aggretriever model: an Aggretriever folder, or a masked LM with --head agg`,
      );
    return;
  }
  if (lossName !== "aggretriever")
    throw new Error(
      `--loss ${lossName}: Aggretriever models train with the Aggretriever loss (--loss aggretriever, their default); leave --loss out`,
    );
  const lossOpts = (
    [
      ["--similarity", cfg.similarity],
      ["--temperature", cfg.temperature],
      ["--symmetric", cfg.symmetric || undefined],
      ["--in-batch", cfg.inBatch],
      ["--distance", cfg.distance],
      ["--margin", cfg.margin],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (lossOpts.length)
    throw new Error(
      `${lossOpts[0][0]} does not apply to the Aggretriever loss (dot products at temperature 1, as the paper); leave it out`,
    );
  if (isAggretrieverFolder(dir)) {
    const dims = aggGiven.find(([flag]) => flag === "--semantic-dim" || flag === "--agg-dim");
    if (dims)
      throw new Error(
        `${dims[0]}: ${cfg.model} is an Aggretriever folder whose heads fix the sizes; leave it out (it sizes the fresh heads of a masked LM)`,
      );
  }
}

/** The one X-MOD adapter all pairs of a ColBERT run select (the first language given; checked by the head). */
function colbertLanguage(head: ReturnType<typeof colbertHead>, examples: readonly PairExample[]): void {
  const seen = new Set<string | undefined>();
  for (const e of examples) {
    if (seen.has(e.lang)) continue;
    seen.add(e.lang);
    const a = head.adapterOf(e.lang);
    if (a !== head.adapter)
      throw new Error(
        `${e.where}: language ${e.lang ?? "(none)"} selects the ${a} adapter, other pairs ${head.adapter}; ColBERT-XM trains one adapter's pairs (the paper: English only), the others are reached zero-shot at search time`,
      );
  }
}

/** NLLB-E5 folders train their projection + LoRA, Aggretriever models everything (full), ColBERT the projection and shared layers (full), other encoders what --trainable says (default last:1). */
async function openHead(
  cfg: FineTuneConfig,
  dir: string,
  kind: HeadKind,
  seed: number,
  examples: readonly PairExample[],
): Promise<ModelHead & { semanticDim?: number }> {
  const defaultTrainable = { "nllb-e5": "lora", agg: "full", encoder: "last:1", colbert: "full" }[kind];
  const trainable = parseTrainable(cfg.trainable ?? defaultTrainable, cfg.lora);
  if (kind === "nllb-e5") return nllbE5Head(dir, { trainable, seed, maxLength: cfg.maxLength });
  if (kind === "colbert") {
    const head = colbertHead(dir, { trainable, seed, language: examples.find((e) => e.lang)?.lang });
    try {
      colbertLanguage(head, examples);
    } catch (e) {
      head.close();
      throw e;
    }
    return head;
  }
  if (kind === "agg") {
    const a = cfg.agg ?? {};
    const vocab = a.vocab === undefined ? undefined : readAggVocab(a.vocab);
    const head = aggretrieverHead(dir, {
      trainable,
      seed,
      mode: a.mode,
      vocabIds: vocab?.ids,
      lowercase: a.lowercase,
      maxLength: cfg.maxLength ?? 128,
      init: { semanticDim: a.semanticDim, aggDim: a.aggDim, mode: a.mode, lowercase: a.lowercase, seed },
    });
    try {
      if (vocab && head.mode !== "target")
        throw new Error(
          `--agg-vocab is the token set of target mode, and this run trains in ${head.mode} mode; give --agg-mode target or leave --agg-vocab out`,
        );
      if (vocab)
        checkAggVocabFits(vocab, a.vocab!, {
          id: cfg.model,
          tokenizer: head.tokenizer,
          lowercase: head.lowercase,
        });
    } catch (e) {
      head.close();
      throw e;
    }
    return head;
  }
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
      batchSize: number;
      langWeights: Record<string, number> | null;
      trainable: string;
    }) => void;
  } = {},
): Promise<FineTuneResult> {
  const seed = cfg.seed ?? 42;
  if (cfg.loss === "weighted-infonce" && !cfg.weighting)
    throw new Error(
      "--loss weighted-infonce needs weights: --lang-weights sw=2,..., --low-resource bn,sw [--low-resource-weight 2], or --lang-weighting inverse-frequency|loss-based",
    );

  // data, all read and checked before anything is created
  const readOpts = cfg.lang ? { defaultLang: cfg.lang } : {};
  const all = await loadPairs(cfg.data, readOpts);
  const { train, val } = cfg.val?.length
    ? { train: all, val: await loadPairs(cfg.val, readOpts) }
    : splitByLanguage(all, cfg.valSplit ?? 0.1, seed);

  const modelDir = await resolveModel(cfg.model, cfg.hub);
  const kind = headKind(cfg, modelDir);
  const agg = kind === "agg";
  const colbert = kind === "colbert";
  const lossName = cfg.loss ?? (agg ? "aggretriever" : "infonce");
  checkOptions(cfg, kind, modelDir, lossName);
  if (lossName !== "weighted-infonce" && cfg.weighting)
    throw new Error(`language weights apply to --loss weighted-infonce only, not ${lossName}`);
  const plainSpec =
    lossName === "aggretriever"
      ? null
      : lossSpec(lossName, {
          sim: cfg.similarity ?? (colbert ? "dot" : undefined),
          temperature: cfg.temperature ?? (colbert ? 1 : undefined),
          symmetric: cfg.symmetric,
          inBatch: cfg.inBatch,
          distance: cfg.distance,
          margin: cfg.margin,
        });
  const batchSize = cfg.batchSize ?? (agg ? 8 : 128);
  const fewest = Math.min(...train.map((e) => e.negatives.length));
  const k = cfg.negatives ?? (agg ? Math.min(7, fewest) : fewest);
  if (k > fewest) {
    const short = train.find((e) => e.negatives.length < k)!;
    throw new Error(
      `${short.where}: ${short.negatives.length} hard negative(s), fewer than --negatives ${k}; mine more with xlir mine or lower --negatives`,
    );
  }
  if (lossName === "triplet" && k < 1)
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
  const head = await openHead(cfg, modelDir, kind, seed, [...train, ...val]);
  try {
    let spec: LossSpec = plainSpec ?? { kind: "aggretriever", semanticDim: head.semanticDim! };
    if (colbert && spec.kind === "infonce" && cfg.inBatch === undefined)
      spec = { ...spec, inBatch: usesInBatchNegatives(modelDir) || k === 0 ? "separate" : "none" };
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
      ...(agg ? { agg: { ...cfg.agg, dim: head.dim } } : {}),
      negatives: k,
      steps,
      batchSize,
      gradAccum: cfg.gradAccum ?? 1,
      lr: cfg.lr ?? (agg ? 5e-6 : colbert ? 3e-6 : spec.kind === "triplet" ? 1e-5 : 3e-5),
      warmupSteps: cfg.warmupSteps ?? null,
      weightDecay: cfg.weightDecay ?? (agg ? 0 : 0.01),
      maxGradNorm: cfg.maxGradNorm ?? (colbert ? 2 : 1),
      maxLength: cfg.maxLength ?? null,
      seed,
    };
    const langWeights = weights?.table(trainLangs) ?? null;
    hooks.onStart?.({
      train: train.length,
      val: val.length,
      steps,
      batchSize,
      langWeights,
      trainable: head.describe,
    });
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
        maxGradNorm: settings.maxGradNorm,
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
