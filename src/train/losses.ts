// Contrastive retrieval losses as graph builders: InfoNCE with in-batch (and hard) negatives, its
// symmetric and weighted forms, and the triplet loss, following sentence-transformers
// (MultipleNegativesRankingLoss, MultipleNegativesSymmetricRankingLoss, TripletLoss 2.x-4.x) and the
// data-efficient CIR paper's weighted InfoNCE. Exact formulas: shared/fixtures/contrastive/README.md.
// Every op here works with a symbolic batch dim, so one training graph serves every batch size.

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";

export type Similarity = "cos" | "dot";
export type LossSpec =
  | { kind: "infonce"; sim: Similarity; scale: number; symmetric?: boolean }
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
  };
}

export function contrastiveLoss(spec: LossSpec, inputs: LossInputs): LossGraph {
  // a static k = 0 is the same as no hard negatives
  const n = inputs.n && inputs.n.shape[1] !== 0 ? inputs.n : null;
  if (spec.kind === "infonce") return infonce(spec, { ...inputs, n });
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

function infonce(spec: Extract<LossSpec, { kind: "infonce" }>, { q, p, n, weights }: LossInputs): LossGraph {
  if (!(spec.scale > 0)) throw new Error(`infonce: scale must be > 0, got ${spec.scale}`);
  const s = spec.scale;
  const norm = spec.sim === "cos" ? o.l2Normalize : (x: Value) => x;
  const qh = norm(q);
  const ph = norm(p);
  // The scale is applied to the unscaled similarities S inside the logsumexp, never as the only
  // consumer of a MatMul: ONNX Runtime (1.30) fuses such a Mul into FusedMatMul with a float32
  // alpha, which rounds 1/τ (e.g. τ = 0.07) in float64 graphs, forward and backward.
  const sqp = o.matmul(qh, o.transpose(ph, [1, 0]));
  let sim = sqp;
  if (n) {
    // candidate order of sentence-transformers: N[:,0] of every query, then N[:,1], ...
    const nc = o.reshape(o.transpose(norm(n), [1, 0, 2]), [-1, n.shape[2] as number]);
    sim = o.concat([sqp, o.matmul(qh, o.transpose(nc, [1, 0]))], 1);
  }
  const logits = o.mul(sim, s);
  // Z[i,i] as a row-wise dot: a diagonal cannot be sliced out of a symbolic [B, B]
  const pos = o.mul(o.reduceSum(o.mul(qh, ph), [1]), s);
  const perSample = o.sub(scaledLogSumExp(sim, s, 1), pos);
  const forward = weightedMean(perSample, weights);
  if (!spec.symmetric)
    return { loss: forward, intermediates: { logits, per_sample: perSample, forward_loss: forward } };
  // each positive against all queries (first B columns only: hard negatives stay in the forward
  // term, as ST). With weights, column j's term is weighted by w_j, the weight of the pair (q_j, p_j)
  // whose positive it scores, and normalised by the same sum of weights.
  const backward = weightedMean(o.sub(scaledLogSumExp(sqp, s, 0), pos), weights);
  return {
    loss: o.mul(o.add(forward, backward), 0.5),
    intermediates: { logits, per_sample: perSample, forward_loss: forward, backward_loss: backward },
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
