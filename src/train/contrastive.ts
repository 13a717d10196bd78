// Contrastive fine-tuning of a retriever on (query, positive[, hard negatives]) pairs, the recipe
// of "Data Efficient Dense Cross-Lingual Information Retrieval": InfoNCE with in-batch negatives,
// weighted InfoNCE that up-weights low-resource languages, or the triplet loss, on any model head
// (model-head.ts), run by the shared training loop (loop.ts).
//
// A batch of B examples is B queries, B positives and B*k hard negatives, embedded as one set of
// rows [queries; positives; negatives (example-major)]; the loss (losses.ts) gathers Q, P and N
// from those rows by index. Two ways to get the gradients:
//   plain       one graph: model -> loss -> gradients of the trainable tensors (autodiff);
//   GradCache   (Gao et al. 2021, sentence-transformers' Cached MNRL) for large batches in bounded
//               memory: embed the rows in chunks without keeping activations, compute the loss and
//               dL/d(embeddings) on the small loss graph, then run each chunk again with its slice
//               of dL/d(embeddings) as the upstream gradient (surrogate loss sum(E * G)) and add up
//               the parameter gradients. Same gradients as the plain batch, memory of one chunk.
// Dropout masks are drawn once per chunk and fed to both passes, so the two passes agree.
//
// Late-interaction heads (ColBERT, ModelHead.lateInteraction) give each row a token matrix
// [seq, dim + 1] and are scored by MaxSim, in the loss and in validation. GradCache pads every
// chunk's matrices to the batch's longest with zero rows, whose "counts" channel is 0: a padded
// query token adds nothing, a padded document token is never the max, so the loss and its
// gradients are those of the unpadded rows; the gradient is cut back to each chunk's length.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Role } from "../encode/conventions.ts";
import type { Rng } from "../models/random.ts";
import { grad, gradName } from "../tensor/autodiff.ts";
import { Graph, type TensorData } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import { Session } from "../tensor/session.ts";
import { maxSim } from "../encode/colbert.ts";
import { UNDETERMINED } from "../text/langid.ts";
import type { LangWeights } from "./lang-weights.ts";
import { type LoopConfig, type LoopHooks, type LoopResult, trainLoop } from "./loop.ts";
import { type LossSpec, contrastiveLoss } from "./losses.ts";
import type { HeadBatch, HeadText, ModelHead } from "./model-head.ts";
import type { PairExample } from "./pairs.ts";
import type { NamedArrays } from "./params.ts";
import { normalizeRows, rankByScore, rankFigures, type RankFigures } from "./validate.ts";

/** The loop's settings (steps, optimizer, evaluation and checkpoint intervals, folder) and the task's. */
export interface ContrastiveConfig extends Omit<LoopConfig, "curve" | "noDecay"> {
  loss: LossSpec;
  /** Per-language weights (weighted InfoNCE); null: every sample weighs 1. */
  weights: LangWeights | null;
  train: PairExample[];
  val: PairExample[];
  /** Hard negatives per example (each example must have at least this many). */
  negatives: number;
  /** Rows per chunk for GradCache; null: one plain graph for the whole batch. */
  gradCache: number | null;
  threads?: number;
}

/** Validation figures as logged: `mrr`, `r1`, ... over all queries and `mrr.<lang>` ... per language. */
export type ValFigures = Record<string, number>;

export interface ContrastiveResult extends LoopResult<ValFigures> {
  /** The trainable values to export: the best by validation MRR, or the last without validation. */
  best: NamedArrays;
  bestStep: number;
}

/** The texts of a batch as rows: queries, then positives, then negatives example-major. */
export function batchTexts(examples: readonly PairExample[], k: number): HeadText[] {
  const q = examples.map((e) => ({ text: e.query, role: "query" as Role, lang: e.lang }));
  const p = examples.map((e) => ({ text: e.positive, role: "passage" as Role }));
  const n = examples.flatMap((e) =>
    e.negatives.slice(0, k).map((text) => ({ text, role: "passage" as Role })),
  );
  return [...q, ...p, ...n];
}

const int64 = (dims: number[], values: number[]): TensorData => ({
  dtype: "int64",
  dims,
  data: BigInt64Array.from(values, BigInt),
});

/** q_index, p_index, n_index and sample_weight feeds for B examples laid out by batchTexts. */
function lossIndexFeeds(B: number, k: number, weights: Float32Array): Record<string, TensorData> {
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const feeds: Record<string, TensorData> = {
    q_index: int64([B], range(0, B)),
    p_index: int64([B], range(B, B)),
    sample_weight: { dtype: "float32", dims: [B], data: weights },
  };
  if (k) feeds.n_index = int64([B, k], range(2 * B, B * k));
  return feeds;
}

/** The loss on top of `emb` [rows, d] (late interaction: [rows, seq, d + 1]): Q, P, N gathered by index inputs, weights an input. */
function addLoss(g: Graph, emb: ReturnType<Graph["value"]>, spec: LossSpec, k: number, late: boolean) {
  // "examples", not "batch": the model's batch dim counts rows (2 + k per example)
  const q = o.gather(emb, g.input("q_index", "int64", ["examples"]));
  const p = o.gather(emb, g.input("p_index", "int64", ["examples"]));
  const n = k ? o.gather(emb, g.input("n_index", "int64", ["examples", k])) : null;
  const w = g.input("sample_weight", "float32", ["examples"]);
  const l = contrastiveLoss(spec, { q, p, n, weights: w, late });
  g.output(l.loss, "loss");
  g.output(l.intermediates.per_sample, "per_sample");
}

/** How one micro-batch's loss and gradients are computed: plain or GradCache. */
interface StepEngine {
  step(texts: HeadText[], B: number, weights: Float32Array, rng: Rng | null): Promise<StepOut>;
  release(): Promise<void>;
}
interface StepOut {
  loss: number;
  perSample: Float32Array;
  grads: NamedArrays;
}

function paramFeeds(head: ModelHead): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const [n, data] of Object.entries(head.params))
    out[n] = { dtype: "float32", dims: head.dims[n], data };
  return out;
}

async function plainEngine(
  head: ModelHead,
  spec: LossSpec,
  k: number,
  dropout: boolean,
  threads?: number,
): Promise<StepEngine> {
  const g = head.graph(dropout).clone();
  addLoss(g, g.value("embedding"), spec, k, !!head.lateInteraction);
  const names = Object.keys(head.params);
  const session = await Session.create(grad(g, "loss", names, ["per_sample"]), {
    threads,
    memoryPattern: false,
  });
  return {
    async step(texts, B, weights, rng) {
      const out = await session.run({
        ...head.batch(texts, rng),
        ...paramFeeds(head),
        ...lossIndexFeeds(B, k, weights),
      });
      return {
        loss: (out.loss.data as Float32Array)[0],
        perSample: out.per_sample.data as Float32Array,
        grads: Object.fromEntries(names.map((n) => [n, out[gradName(n)].data as Float32Array])),
      };
    },
    release: () => session.release(),
  };
}

async function gradCacheEngine(
  head: ModelHead,
  spec: LossSpec,
  k: number,
  dropout: boolean,
  chunk: number,
  threads?: number,
): Promise<StepEngine> {
  const names = Object.keys(head.params);
  const late = !!head.lateInteraction;
  // a row's (late interaction: a token's) width
  const w = late ? head.dim + 1 : head.dim;
  const dimsOf = (rows: string | number, seq: string | number) => (late ? [rows, seq, w] : [rows, w]);
  const embed = await Session.create(head.graph(dropout), { threads });
  // the loss on embeddings given as inputs, differentiated w.r.t. them
  const lg = new Graph("contrastive-loss");
  const rows = lg.input("embeddings", "float32", dimsOf("rows", "seq"));
  addLoss(lg, rows, spec, k, late);
  const loss = await Session.create(grad(lg, "loss", ["embeddings"], ["per_sample"]), {
    threads,
    memoryPattern: false,
  });
  // a chunk again, with the upstream gradient G: d sum(E * G) / d params = J^T G
  const bg = head.graph(dropout).clone();
  const upstream = bg.input("embedding_grad", "float32", dimsOf("batch", "seq"));
  bg.output(o.sumAll(o.mul(bg.value("embedding"), upstream)), "surrogate");
  const back = await Session.create(grad(bg, "surrogate", names), { threads, memoryPattern: false });
  return {
    async step(texts, B, weights, rng) {
      const params = paramFeeds(head);
      const chunks: { batch: HeadBatch; from: number; to: number; seq: number; emb: Float32Array }[] = [];
      for (let from = 0; from < texts.length; from += chunk) {
        const to = Math.min(from + chunk, texts.length);
        const batch = head.batch(texts.slice(from, to), rng);
        const e = (await embed.run({ ...batch, ...params }, ["embedding"])).embedding;
        chunks.push({ batch, from, to, seq: late ? e.dims[1] : 1, emb: e.data as Float32Array });
      }
      // every row padded to the longest chunk's tokens (zero rows count for nothing)
      const S = Math.max(...chunks.map((c) => c.seq));
      const emb = new Float32Array(texts.length * S * w);
      for (const c of chunks)
        for (let r = 0; r < c.to - c.from; r++)
          emb.set(c.emb.subarray(r * c.seq * w, (r + 1) * c.seq * w), (c.from + r) * S * w);
      const l = await loss.run({
        embeddings: { dtype: "float32", dims: dimsOf(texts.length, S) as number[], data: emb },
        ...lossIndexFeeds(B, k, weights),
      });
      const gEmb = l[gradName("embeddings")].data as Float32Array;
      const grads: NamedArrays = Object.fromEntries(
        names.map((n) => [n, new Float32Array(head.params[n].length)]),
      );
      for (const c of chunks) {
        const n = c.to - c.from;
        const g = new Float32Array(n * c.seq * w);
        for (let r = 0; r < n; r++)
          g.set(gEmb.subarray((c.from + r) * S * w, (c.from + r) * S * w + c.seq * w), r * c.seq * w);
        const out = await back.run({
          ...c.batch,
          ...params,
          embedding_grad: { dtype: "float32", dims: dimsOf(n, c.seq) as number[], data: g },
        });
        for (const name of names) {
          const gp = out[gradName(name)].data as Float32Array;
          const acc = grads[name];
          for (let i = 0; i < gp.length; i++) acc[i] += gp[i];
        }
      }
      return { loss: (l.loss.data as Float32Array)[0], perSample: l.per_sample.data as Float32Array, grads };
    },
    release: async () => {
      await embed.release();
      await loss.release();
      await back.release();
    },
  };
}

/** One micro-batch's loss and gradients, by either engine (exposed for the GradCache test and bench). */
export async function contrastiveStepEngine(
  head: ModelHead,
  spec: LossSpec,
  k: number,
  o: { gradCache: number | null; dropout?: boolean; threads?: number },
): Promise<StepEngine> {
  return o.gradCache
    ? gradCacheEngine(head, spec, k, !!o.dropout, o.gradCache, o.threads)
    : plainEngine(head, spec, k, !!o.dropout, o.threads);
}

/** Embeds texts with the current trainable values, `size` at a time, no dropout. */
async function embedAll(
  session: Session,
  head: ModelHead,
  texts: HeadText[],
  size: number,
): Promise<Float32Array> {
  const out = new Float32Array(texts.length * head.dim);
  const params = paramFeeds(head);
  for (let i = 0; i < texts.length; i += size) {
    const batch = head.batch(texts.slice(i, i + size), null);
    const e = (await session.run({ ...batch, ...params }, ["embedding"])).embedding.data as Float32Array;
    out.set(e, i * head.dim);
  }
  return out;
}

/** Late interaction: each text's token vectors that count, [tokens, dim], `size` texts at a time. */
async function embedTokens(
  session: Session,
  head: ModelHead,
  texts: HeadText[],
  size: number,
): Promise<{ vectors: Float32Array; dims: [number, number] }[]> {
  const d = head.dim;
  const out: { vectors: Float32Array; dims: [number, number] }[] = [];
  const params = paramFeeds(head);
  for (let i = 0; i < texts.length; i += size) {
    const batch = head.batch(texts.slice(i, i + size), null);
    const e = (await session.run({ ...batch, ...params }, ["embedding"])).embedding;
    const [n, seq] = e.dims;
    const data = e.data as Float32Array;
    for (let r = 0; r < n; r++) {
      const kept: number[] = [];
      for (let t = 0; t < seq; t++) if (data[(r * seq + t) * (d + 1) + d] > 0.5) kept.push(r * seq + t);
      const vectors = new Float32Array(kept.length * d);
      kept.forEach((at, j) => vectors.set(data.subarray(at * (d + 1), at * (d + 1) + d), j * d));
      out.push({ vectors, dims: [kept.length, d] });
    }
  }
  return out;
}

export async function trainContrastive(
  head: ModelHead,
  cfg: ContrastiveConfig,
  hooks: LoopHooks<ValFigures> = {},
): Promise<ContrastiveResult> {
  const k = cfg.negatives;
  const dropout = head.dropout;
  const engine = await contrastiveStepEngine(head, cfg.loss, k, {
    gradCache: cfg.gradCache,
    dropout,
    threads: cfg.threads,
  });
  const evalSession = await Session.create(head.graph(false), { threads: cfg.threads });
  try {
    // validation set: each query against every distinct validation passage
    const passages = [...new Set(cfg.val.map((e) => e.positive))];
    const passageRow = new Map(passages.map((p, i) => [p, i]));
    const cosine = cfg.loss.kind === "triplet" || (cfg.loss.kind === "infonce" && cfg.loss.sim === "cos");
    let best: NamedArrays = {};
    let bestStep = 0;
    let bestMrr = -1;
    const keepBest = (step: number) => {
      best = Object.fromEntries(Object.entries(head.params).map(([n, a]) => [n, a.slice()]));
      bestStep = step;
    };
    const rank = async (size: number, queries: HeadText[], texts: HeadText[]) => {
      const positive = cfg.val.map((e) => passageRow.get(e.positive)!);
      const langs = cfg.val.map((e) => e.lang ?? UNDETERMINED);
      if (head.lateInteraction) {
        const qt = await embedTokens(evalSession, head, queries, size);
        const pt = await embedTokens(evalSession, head, texts, size);
        return rankByScore((i, p) => maxSim(qt[i], pt[p]), pt.length, positive, langs);
      }
      const qv = await embedAll(evalSession, head, queries, size);
      const pv = await embedAll(evalSession, head, texts, size);
      if (cosine) {
        normalizeRows(qv, head.dim);
        normalizeRows(pv, head.dim);
      }
      return rankFigures(qv, pv, head.dim, positive, langs);
    };
    const evaluate = async (step: number): Promise<ValFigures> => {
      const figs = await rank(
        cfg.gradCache ?? cfg.batchSize * 2,
        cfg.val.map((e) => ({ text: e.query, role: "query", lang: e.lang })),
        passages.map((text) => ({ text, role: "passage" })),
      );
      const flat: ValFigures = {};
      for (const [lang, f] of Object.entries(figs))
        for (const m of ["mrr", "r1", "r5", "r10"] as (keyof RankFigures)[])
          flat[lang === "all" ? m : `${m}.${lang}`] = f[m];
      if (flat.mrr > bestMrr) {
        bestMrr = flat.mrr;
        keepBest(step);
      }
      return flat;
    };

    const r = await trainLoop<ValFigures>(
      {
        ...cfg,
        curve: { title: "contrastive loss", trainLabel: "train loss" },
      },
      {
        params: head.params,
        dims: head.dims,
        trainSize: cfg.train.length,
        async microStep(idx, rng) {
          const examples = idx.map((i) => cfg.train[i]);
          const langs = examples.map((e) => e.lang ?? UNDETERMINED);
          const w = Float32Array.from(langs, (l) => cfg.weights?.weight(l) ?? 1);
          const out = await engine.step(batchTexts(examples, k), examples.length, w, dropout ? rng : null);
          cfg.weights?.update(langs, out.perSample);
          return { loss: out.loss, grads: out.grads };
        },
        evaluate: cfg.val.length ? evaluate : undefined,
        saveState: () => ({
          json: { bestStep, bestMrr, langWeights: cfg.weights?.state ?? null },
          tensors: Object.fromEntries(Object.entries(best).map(([n, a]) => [`best.${n}`, a])),
        }),
        loadState(s) {
          const j = s.json as {
            bestStep: number;
            bestMrr: number;
            langWeights: Record<string, number> | null;
          };
          bestStep = j.bestStep;
          bestMrr = j.bestMrr;
          if (cfg.weights && j.langWeights) cfg.weights.state = j.langWeights;
          best = Object.fromEntries(
            Object.entries(s.tensors ?? {}).map(([n, a]) => [n.slice("best.".length), a]),
          );
        },
      },
      hooks,
    );
    if (cfg.weights)
      writeFileSync(
        join(cfg.dir, "lang_weights.json"),
        JSON.stringify(
          {
            weighting: cfg.weights.weighting,
            weights: cfg.weights.table(cfg.train.map((e) => e.lang ?? UNDETERMINED)),
          },
          null,
          2,
        ) + "\n",
      );
    if (!cfg.val.length || !Object.keys(best).length) keepBest(r.steps);
    return { ...r, best, bestStep };
  } finally {
    await engine.release();
    await evalSession.release();
  }
}
