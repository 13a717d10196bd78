// Aggretriever / mAggretriever as graphs (shared/fixtures/aggretriever/README.md has every formula
// and the code lines they follow). Over a BERT / XLM-R masked LM:
//   semantic  s = W_pool h_0 + b_pool                         [CLS] projected (768 -> 128)
//   weights   w_i = W_t h_i + b_t, i = 1..L-1                  plain affine: no abs, no ReLU
//   lexical   v[t] = max_i m_i p_i[t] w_i                      p_i = softmax of the MLM logits over
//             the whole vocabulary (mlm) or a language's token subset (target, zeros elsewhere);
//             self: p_i = one-hot of token i's own id, v[t] = max(0, max_{x_i = t} w_i)
//   vector    [s ; agg*(v)]                                    similarity: dot product
//
// Inference (the encoder) runs `aggGraph` for s, w and the MLM head's transformed hidden states,
// then builds v in chunks of positions with `lexicalGraph` (the vocabulary is 250k wide: never a
// [batch, seq, V] tensor) and agg* in plain code (agg-star.ts). Training builds all of it in one
// graph (`lexical` option) so autodiff reaches the heads and the LM.

import { Graph, type Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import { type AggAlgorithm, aggLayout } from "./agg-star.ts";
import { bertEncoder, mlmHead, mlmTransform } from "./bert.ts";
import { type Checkpoint, params, type WeightSource } from "./checkpoint.ts";
import type { EncoderTraining } from "./encoder-graph.ts";
import { linear } from "./layers.ts";
import { loraHook } from "./lora.ts";

/** How the lexical vector is predicted: whole vocabulary, a language's token subset, or each token's own id. */
export type AggMode = "mlm" | "target" | "self";
export const AGG_MODES: readonly AggMode[] = ["mlm", "target", "self"];

export interface AggSpec {
  /** Width of the projected [CLS] vector (128 in the papers). */
  semanticDim: number;
  /** Width of agg* (640 in the papers). */
  aggDim: number;
  algorithm: AggAlgorithm;
}

/** The heads' tensor names (PyTorch state-dict keys of the reference code's LinearPooler, q tower). */
export const POOLER = "pooler.linear_q";
export const TERM_WEIGHT = "TermWeightTrans.linear_q";

export interface AggLexical {
  mode: AggMode;
  /** target: the language's token ids (sorted, no specials). */
  vocabIds?: readonly number[];
  /**
   * self: let padding positions write into v[<pad>] as the reference code does (its vectors then
   * depend on the batch's padding); default false = skip them (the fixture's `self_masked`).
   */
  selfPadding?: boolean;
}

export interface AggGraphOptions {
  spec: AggSpec;
  /** Output `lm_hidden` [batch, seq-1, hidden], the MLM head's input to the vocabulary projection. */
  lmHidden?: boolean;
  /**
   * Build v, agg* and `embedding` [batch, semanticDim + aggDim] in the graph (training). self mode
   * then takes inputs `agg_pos` / `agg_neg` [batch, seq-1, aggDim] (selfSlots).
   */
  lexical?: AggLexical;
  /** Trainable checkpoint weights and head weights (by the names above) become graph inputs. */
  train?: EncoderTraining;
}

const END = 2 ** 53; // slice "to the end" of a symbolic axis

export function aggGraph(ck: Checkpoint, heads: WeightSource, opts: AggGraphOptions): Graph {
  const cfg = ck.config;
  if (cfg.family === "m2m100")
    throw new Error(`${ck.dir}: Aggretriever runs on BERT / XLM-R masked LMs, not ${cfg.modelType}`);
  const { semanticDim, aggDim } = opts.spec;
  const g = new Graph("aggretriever");
  const t = opts.train;
  const p = params(ck, g, t && { trainable: t.trainable, trainableData: t.trainableData });
  const ph = params(heads, g, t && { trainable: t.trainable, trainableData: t.trainableData });
  const ids = g.input("input_ids", "int64", ["batch", "seq"]);
  const mask = g.input("attention_mask", "int64", ["batch", "seq"]);
  const hook =
    t?.lora &&
    loraHook(
      params(t.lora.source, g, { trainable: () => true, trainableData: t.trainableData }),
      t.lora.spec,
      t.lora.dropout,
    );
  const h = bertEncoder(p, cfg, { ids, mask }, hook);
  g.output(h, "last_hidden_state");
  const cls = o.squeeze(o.slice(h, [0], [1], [1]), [1]);
  const s = linear(ph, POOLER, cls, cfg.hidden, semanticDim);
  g.output(s, "semantic");
  const rest = o.slice(h, [1], [END], [1]);
  const w = o.squeeze(linear(ph, TERM_WEIGHT, rest, cfg.hidden, 1), [2]);
  g.output(w, "term_weights");
  const lex = opts.lexical;
  const needsLm = opts.lmHidden || (lex && lex.mode !== "self");
  if (needsLm && !ck.has(`${mlmHead(cfg).dense}.weight`))
    throw new Error(
      `${ck.dir}: the checkpoint has no MLM head (${mlmHead(cfg).dense}.*); Aggretriever needs a masked-LM checkpoint (…ForMaskedLM)`,
    );
  const lm = needsLm ? mlmTransform(p, cfg, rest) : null;
  if (opts.lmHidden) g.output(lm!, "lm_hidden");
  if (!lex) return g;

  const m = o.cast(o.slice(mask, [1], [END], [1]), "float32");
  let a: Value;
  if (lex.mode === "self") {
    const wm = lex.selfPadding ? w : o.mul(w, m);
    const pos = g.input("agg_pos", "float32", ["batch", w.shape[1], aggDim]);
    const neg = g.input("agg_neg", "float32", pos.shape);
    const cand = (slots: Value) => o.reduceMax(o.mul(slots, o.unsqueeze(wm, [2])), [1]);
    a = signedPick(cand(pos), cand(neg));
  } else {
    const names = mlmHead(cfg);
    let words = p(names.words, [cfg.vocabSize, cfg.hidden]);
    let bias = p(names.bias, [cfg.vocabSize]);
    if (lex.mode === "target") {
      if (!lex.vocabIds?.length) throw new Error("aggGraph: target mode needs the language's token ids");
      const sub = g.initializer("agg_vocab_ids", {
        dtype: "int64",
        dims: [lex.vocabIds.length],
        data: BigInt64Array.from(lex.vocabIds, BigInt),
      });
      words = o.gather(words, sub);
      bias = o.gather(bias, sub);
    }
    const probs = o.softmax(o.add(o.matmul(lm!, o.transpose(words, [1, 0])), bias), -1);
    let v = o.reduceMax(o.mul(probs, o.unsqueeze(o.mul(w, m), [2])), [1]);
    if (lex.mode === "target") v = scatterColumns(g, v, lex.vocabIds!, cfg.vocabSize);
    g.output(v, "lexical");
    a = denseAgg(v, cfg.vocabSize, opts.spec);
  }
  g.output(a, "agg");
  g.output(o.concat([s, a], 1), "embedding");
  return g;
}

/** a = P where P > N, else −N (one positive and one negative candidate per dim; see agg-star.ts). */
const signedPick = (pos: Value, neg: Value) => o.where(o.greater(pos, neg), pos, o.neg(neg));

/** [batch, n] columns placed at `ids` of a zero [batch, V] (a Gather, so autodiff has its rule). */
function scatterColumns(g: Graph, v: Value, ids: readonly number[], V: number): Value {
  const n = ids.length;
  const at = new BigInt64Array(V).fill(BigInt(n)); // row n of the extended matrix is zero
  ids.forEach((t, i) => (at[t] = BigInt(i)));
  const vt = o.transpose(v, [1, 0]);
  const ext = o.concat([vt, o.mul(o.slice(vt, [0], [1], [0]), 0)], 0);
  return o.transpose(
    o.gather(ext, g.initializer("agg_scatter", { dtype: "int64", dims: [V], data: at })),
    [1, 0],
  );
}

/** agg* of dense rows v [batch, V] as reshapes and ReduceMax: exactly aggregate() in agg-star.ts. */
function denseAgg(v: Value, V: number, spec: AggSpec): Value {
  const d = spec.aggDim;
  const filler = (n: number, value: number) => o.add(o.mul(o.slice(v, [0], [n], [1]), 0), value);
  if (spec.algorithm === "generic") {
    const z = d - (V % d);
    const K = (V + z) / d;
    // chunks in (even, odd) pairs; an odd count gets a chunk that never wins
    const parts = [v, filler(z, 0), ...(K % 2 ? [filler(d, -3.4e38)] : [])];
    const pairs = o.reduceMax(o.reshape(o.concat(parts, 1), [0, -1, 2, d]), [1]);
    const even = o.squeeze(o.slice(pairs, [0], [1], [1]), [1]);
    const odd = o.squeeze(o.slice(pairs, [1], [2], [1]), [1]);
    return signedPick(odd, even);
  }
  let r = V % (2 * d);
  if (r > 1000) r -= 2 * d;
  const shifted = r >= 0 ? o.slice(v, [r], [V], [1]) : o.concat([v, filler(-r, 0)], 1);
  const t = o.reduceMax(o.reshape(shifted, [0, -1, d, 2]), [1]);
  return signedPick(o.squeeze(o.slice(t, [0], [1], [2]), [2]), o.squeeze(o.slice(t, [1], [2], [2]), [2]));
}

/**
 * The self-prediction inputs for token rows: agg_pos / agg_neg [rows, seq-1, d], 1 where position
 * i (from 1) is a positive / negative candidate of output dim j (agg-star.ts aggLayout).
 */
export function selfSlots(
  rows: readonly number[][],
  seq: number,
  vocab: number,
  spec: AggSpec,
  padId: number,
): { agg_pos: Float32Array; agg_neg: Float32Array } {
  const { slot, positive } = aggLayout(vocab, spec.aggDim, spec.algorithm);
  const d = spec.aggDim;
  const pos = new Float32Array(rows.length * (seq - 1) * d);
  const neg = new Float32Array(pos.length);
  rows.forEach((r, b) => {
    for (let i = 1; i < seq; i++) {
      const id = i < r.length ? r[i] : padId;
      if (slot[id] < 0) continue;
      (positive[id] ? pos : neg)[(b * (seq - 1) + i - 1) * d + slot[id]] = 1;
    }
  });
  return { agg_pos: pos, agg_neg: neg };
}

/**
 * The chunk graph of inference, for positions of one row: inputs `lm_hidden` [positions, hidden],
 * `weights` [positions] (term weight × mask), `vocab_weight` [n, hidden] and `vocab_bias` [n] (the
 * whole vocabulary or a subset); output `lexical` [n] = max over the positions of softmax(logits) ×
 * weight. The vocabulary comes in as inputs (no copy on the CPU), so one session serves every subset,
 * and Gemm with transB reads it as it is stored.
 */
export function lexicalGraph(hidden: number): Graph {
  const g = new Graph("aggretriever-lexical");
  const x = g.input("lm_hidden", "float32", ["positions", hidden]);
  const wt = g.input("weights", "float32", ["positions"]);
  const words = g.input("vocab_weight", "float32", ["vocab", hidden]);
  const bias = g.input("vocab_bias", "float32", ["vocab"]);
  const probs = o.softmax(o.gemm(x, words, bias, { transB: true }), -1);
  g.output(o.reduceMax(o.mul(probs, o.unsqueeze(wt, [1])), [0]), "lexical");
  return g;
}
