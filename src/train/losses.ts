// Contrastive retrieval losses as graph builders: InfoNCE with in-batch (and hard) negatives, its
// symmetric and weighted forms, and the triplet loss, following sentence-transformers
// (MultipleNegativesRankingLoss, MultipleNegativesSymmetricRankingLoss, TripletLoss 2.x-4.x) and the
// data-efficient CIR paper's weighted InfoNCE. Exact formulas: shared/fixtures/contrastive/README.md.
// Every op here works with a symbolic batch dim, so one training graph serves every batch size.
//
// Late interaction (ColBERT): with `LossInputs.late`, each text is a token matrix [seq, dim + 1]
// whose last channel marks the tokens that count, and InfoNCE scores texts by MaxSim (maxSimAll)
// instead of the dot product; `inBatch` then offers colbert-ai's two ways of using the batch.

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";

export type Similarity = "cos" | "dot";
/**
 * How InfoNCE uses the other examples of the batch:
 *   shared    one cross-entropy per query over every positive and hard negative of the batch
 *             (sentence-transformers' MultipleNegativesRankingLoss; the default);
 *   none      one over the query's own positive and hard negatives only (colbert-ai with
 *             use_ib_negatives false, its default; needs hard negatives);
 *   separate  colbert-ai with use_ib_negatives true (ColBERT-XM's artifact.metadata): the `none`
 *             term plus a second cross-entropy over the own positive and every OTHER example's
 *             positive and hard negatives (the query's own negatives left out), summed.
 */
export type InBatch = "shared" | "none" | "separate";
export type LossSpec =
  | { kind: "infonce"; sim: Similarity; scale: number; symmetric?: boolean; inBatch?: InBatch }
  | { kind: "triplet"; distance: "euclidean" | "cosine"; margin: number }
  /**
   * Aggretriever's: CE(q·p) + 0.5 CE(lexical part) + 0.5 CE(semantic part), dot products at
   * temperature 1, vectors [semantic (semanticDim) ; agg*] (shared/fixtures/aggretriever, step 7).
   */
  | { kind: "aggretriever"; semanticDim: number };
export interface LossInputs {
  /** [B, d] queries (anchors) */ q: Value;
  /** [B, d] their positives */ p: Value;
  /** [B, k, d] hard negatives, k >= 1 static; null when there are none (k = 0) */ n: Value | null;
  /** [B] per-sample weights; null = plain mean. Loss = sum_i w_i L_i / sum_j w_j */ weights: Value | null;
  /**
   * Late interaction: q, p, n are token matrices ([B, seq, dim + 1], n [B, k, seq, dim + 1]) scored
   * by MaxSim (maxSimAll); InfoNCE only, with sim "dot" (the token vectors come normalised).
   */
  late?: boolean;
}
export interface LossGraph {
  /** scalar */ loss: Value;
  intermediates: Record<string, Value>;
}

/** Defaults: infonce cos scale 20 (temperature 0.05) as sentence-transformers MNRL; triplet euclidean margin 5 / cosine margin 0.1 as ST TripletLoss. */
export function lossSpec(
  name: "infonce" | "weighted-infonce" | "triplet",
  opts: {
    sim?: Similarity;
    temperature?: number;
    symmetric?: boolean;
    inBatch?: InBatch;
    distance?: "euclidean" | "cosine";
    margin?: number;
  } = {},
): LossSpec {
  if (name === "triplet") {
    const distance = opts.distance ?? "euclidean";
    return { kind: "triplet", distance, margin: opts.margin ?? (distance === "euclidean" ? 5 : 0.1) };
  }
  const temperature = opts.temperature ?? 0.05;
  if (!(temperature > 0)) throw new Error(`lossSpec: temperature must be > 0, got ${temperature}`);
  // weighted InfoNCE is the same loss: its weights arrive with the batch (LossInputs.weights)
  return {
    kind: "infonce",
    sim: opts.sim ?? "cos",
    scale: 1 / temperature,
    symmetric: opts.symmetric ?? false,
    ...(opts.inBatch && { inBatch: opts.inBatch }),
  };
}

export function contrastiveLoss(spec: LossSpec, inputs: LossInputs): LossGraph {
  // a static k = 0 is the same as no hard negatives
  const n = inputs.n && inputs.n.shape[1] !== 0 ? inputs.n : null;
  if (spec.kind === "infonce") return infonce(spec, { ...inputs, n });
  if (inputs.late)
    throw new Error(
      `the ${spec.kind} loss compares one vector per text; late-interaction (ColBERT) models train with infonce`,
    );
  if (spec.kind === "triplet") return triplet(spec, { ...inputs, n });
  return aggretrieverLoss(spec, { ...inputs, n });
}

function aggretrieverLoss(spec: Extract<LossSpec, { kind: "aggretriever" }>, x: LossInputs): LossGraph {
  const ce = (part: (v: Value) => Value) =>
    infonce(
      { kind: "infonce", sim: "dot", scale: 1 },
      { ...x, q: part(x.q), p: part(x.p), n: x.n && part(x.n) },
    );
  const cut = (from: number, to: number) => (v: Value) => o.slice(v, [from], [to], [v.rank - 1]);
  const fused = ce((v) => v);
  const lexical = ce(cut(spec.semanticDim, 2 ** 31 - 1));
  const semantic = ce(cut(0, spec.semanticDim));
  const half = (l: LossGraph) => o.mul(l.loss, 0.5);
  const perSample = o.add(
    fused.intermediates.per_sample,
    o.mul(o.add(lexical.intermediates.per_sample, semantic.intermediates.per_sample), 0.5),
  );
  return {
    loss: o.add(fused.loss, o.add(half(lexical), half(semantic))),
    intermediates: {
      per_sample: perSample,
      fused_loss: fused.loss,
      lexical_loss: lexical.loss,
      semantic_loss: semantic.loss,
    },
  };
}

/** sum_i w_i x_i / sum_j w_j, or the plain mean without weights. */
function weightedMean(x: Value, w: Value | null): Value {
  return w ? o.div(o.reduceSum(o.mul(x, w), [0]), o.reduceSum(w, [0])) : o.reduceMean(x, [0]);
}

/**
 * logsumexp of s·x along `axis` (dropped), stable for s > 0: s·m + log(sum(exp(s·(x − m)))) with
 * m = max(x); autodiff sends ~0 through the max.
 */
function scaledLogSumExp(x: Value, s: number, axis: number): Value {
  const m = o.reduceMax(x, [axis], true);
  const lse = o.add(o.mul(m, s), o.log(o.reduceSum(o.exp(o.mul(o.sub(x, m), s)), [axis], true)));
  return o.squeeze(lse, [axis]);
}

/** Hard negatives [B, k, ...]: every query's j-th one, [B, ...]. */
const slot = (n: Value, j: number) => o.squeeze(o.slice(n, [j], [j + 1], [1]), [1]);

/** How a query is compared with candidates: all pairs [B, C], or query i with candidate i [B]. */
interface Scorer {
  all(q: Value, c: Value): Value;
  own(q: Value, c: Value): Value;
  /** [B, k, ...] hard negatives as [k * B, ...] candidates: every query's N[:,0], then N[:,1], ... */
  slots(n: Value): Value;
}

const dotScorer: Scorer = {
  all: (q, c) => o.matmul(q, o.transpose(c, [1, 0])),
  // Z[i,i] as a row-wise dot: a diagonal cannot be sliced out of a symbolic [B, B]
  own: (q, c) => o.reduceSum(o.mul(q, c), [1]),
  slots: (n) => o.reshape(o.transpose(n, [1, 0, 2]), [-1, n.shape[2] as number]),
};

/** colbert-ai's value for document tokens that do not count (padding, punctuation) before the max. */
const MASKED = -9999;

/** Token vectors [.., seq, dim] and which tokens count [.., seq], from a [.., seq, dim + 1] matrix. */
function splitTokens(x: Value): { v: Value; m: Value } {
  const w = x.shape[x.rank - 1] as number;
  return {
    v: o.slice(x, [0], [w - 1], [x.rank - 1]),
    m: o.squeeze(o.slice(x, [w - 1], [w], [x.rank - 1]), [x.rank - 1]),
  };
}

/** sum over counted query tokens of the max over `sim`'s last axis, where `keep` masks candidates. */
function reduceMaxSim(sim: Value, keep: Value, qm: Value, sumAxis: number): Value {
  const best = o.reduceMax(o.where(o.greater(keep, 0.5), sim, MASKED), [sim.rank - 1]);
  return o.reduceSum(o.mul(best, qm), [sumAxis]);
}

/**
 * ColBERT's MaxSim of every query q [B, Lq, dim + 1] with every document c [C, Ld, dim + 1]:
 * S[b, c] = sum_i qm[b, i] max_{j: dm[c, j] = 1} <q[b, i], c[c, j]> ([B, C]). Document tokens that
 * do not count are set to -9999 before the max, as colbert-ai (colbert_score_reduce).
 */
export function maxSimAll(q: Value, c: Value): Value {
  const a = splitTokens(q);
  const b = splitTokens(c);
  // [B, 1, Lq, d] x [1, C, d, Ld] -> [B, C, Lq, Ld]
  const sim = o.matmul(o.unsqueeze(a.v, [1]), o.unsqueeze(o.transpose(b.v, [0, 2, 1]), [0]));
  return reduceMaxSim(sim, o.unsqueeze(b.m, [0, 2]), o.unsqueeze(a.m, [1]), 2);
}

/** MaxSim of query i with document i: [B]. */
export function maxSimOwn(q: Value, c: Value): Value {
  const a = splitTokens(q);
  const b = splitTokens(c);
  const sim = o.matmul(a.v, o.transpose(b.v, [0, 2, 1])); // [B, Lq, Ld]
  return reduceMaxSim(sim, o.unsqueeze(b.m, [1]), a.m, 1);
}

const maxSimScorer: Scorer = {
  all: maxSimAll,
  own: maxSimOwn,
  slots: (n) =>
    o.concat(
      Array.from({ length: n.shape[1] as number }, (_, j) => slot(n, j)),
      0,
    ),
};

/** [B, k * B] bool, true where a candidate column is the query's own hard negative. */
function ownNegativeColumns(pos: Value, k: number): Value {
  // row numbers 1..B from a [B] value, so the mask follows the symbolic batch
  const ones = o.constantOfShape(o.shapeOf(pos), 1, pos.dtype, pos.shape);
  const r = o.cumSum(ones, 0);
  const eye = o.equal(o.unsqueeze(r, [1]), o.unsqueeze(r, [0]));
  return o.concat(
    Array.from({ length: k }, () => eye),
    1,
  );
}

function infonce(spec: Extract<LossSpec, { kind: "infonce" }>, x: LossInputs): LossGraph {
  const { q, p, n, weights } = x;
  if (!(spec.scale > 0)) throw new Error(`infonce: scale must be > 0, got ${spec.scale}`);
  if (x.late && spec.sim !== "dot")
    throw new Error(`infonce: MaxSim compares normalised token vectors; use sim "dot", not "${spec.sim}"`);
  const inBatch = spec.inBatch ?? "shared";
  if (inBatch === "none" && !n)
    throw new Error(`infonce without in-batch negatives needs hard negatives (k >= 1)`);
  const s = spec.scale;
  const score = x.late ? maxSimScorer : dotScorer;
  const norm = spec.sim === "cos" ? o.l2Normalize : (v: Value) => v;
  const qh = norm(q);
  const ph = norm(p);
  // The scale is applied to the unscaled similarities S inside the logsumexp, never as the only
  // consumer of a MatMul: ONNX Runtime (1.30) fuses such a Mul into FusedMatMul with a float32
  // alpha, which rounds 1/τ (e.g. τ = 0.07) in float64 graphs, forward and backward.
  const sqp = score.all(qh, ph);
  const own = score.own(qh, ph);
  const pos = o.mul(own, s);
  const nc = n && score.slots(norm(n));
  let perSample: Value | null = null;
  let logits: Value | null = null;
  if (inBatch !== "shared" && n) {
    // the query's own positive and hard negatives: [B, 1 + k]
    const k = n.shape[1] as number;
    const ownNegs = Array.from({ length: k }, (_, j) => score.own(qh, norm(slot(n, j))));
    const ownSim = o.concat(
      [own, ...ownNegs].map((v) => o.unsqueeze(v, [1])),
      1,
    );
    perSample = o.sub(scaledLogSumExp(ownSim, s, 1), pos);
    logits = o.mul(ownSim, s);
  }
  if (inBatch !== "none") {
    // candidate order of sentence-transformers: N[:,0] of every query, then N[:,1], ...
    let sim = sqp;
    if (nc) {
      const sn = score.all(qh, nc);
      // separate: the query's own negatives leave this term (exp of -1e9 below the max is 0)
      const cut =
        inBatch === "separate" ? o.where(ownNegativeColumns(own, n!.shape[1] as number), -1e9, sn) : sn;
      sim = o.concat([sqp, cut], 1);
    }
    const term = o.sub(scaledLogSumExp(sim, s, 1), pos);
    perSample = perSample ? o.add(perSample, term) : term;
    logits = o.mul(sim, s);
  }
  const forward = weightedMean(perSample!, weights);
  if (!spec.symmetric)
    return {
      loss: forward,
      intermediates: { logits: logits!, per_sample: perSample!, forward_loss: forward },
    };
  // each positive against all queries (first B columns only: hard negatives stay in the forward
  // term, as ST). With weights, column j's term is weighted by w_j, the weight of the pair (q_j, p_j)
  // whose positive it scores, and normalised by the same sum of weights.
  const backward = weightedMean(o.sub(scaledLogSumExp(sqp, s, 0), pos), weights);
  return {
    loss: o.mul(o.add(forward, backward), 0.5),
    intermediates: {
      logits: logits!,
      per_sample: perSample!,
      forward_loss: forward,
      backward_loss: backward,
    },
  };
}

function triplet(spec: Extract<LossSpec, { kind: "triplet" }>, { q, p, n, weights }: LossInputs): LossGraph {
  if (!n) throw new Error("triplet loss: needs hard negatives [B, k >= 1, d], got none");
  const n0 = o.squeeze(o.slice(n, [0], [1], [1]), [1]);
  const dist =
    spec.distance === "euclidean"
      ? // F.pairwise_distance adds eps to every component of the difference
        (a: Value, x: Value) => {
          const diff = o.add(o.sub(a, x), 1e-6);
          return o.sqrt(o.reduceSum(o.mul(diff, diff), [1]));
        }
      : (a: Value, x: Value) => o.sub(1, o.reduceSum(o.mul(o.l2Normalize(a), o.l2Normalize(x)), [1]));
  const dPos = dist(q, p);
  const dNeg = dist(q, n0);
  const hingeArg = o.add(o.sub(dPos, dNeg), spec.margin);
  const perSample = o.relu(hingeArg);
  return {
    loss: weightedMean(perSample, weights),
    intermediates: { d_pos: dPos, d_neg: dNeg, hinge_arg: hingeArg, per_sample: perSample },
  };
}
