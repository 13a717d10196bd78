// The NLLB-E5 student (shared/DESIGN.md, "NLLB-E5 student, exact forward"): the frozen NLLB encoder
// reads text in any of its 200 languages; a projection (two linear maps, no activation by default)
// carries its states into E5's embedding space; E5 (with LoRA on query/key/value) reads
// [CLS] role : <projected NLLB states> [SEP] as inputs_embeds; mean pooling over the student mask.
// The language-code and </s> positions stay in the sequence (they take position ids) but are
// masked out, as are padding positions.

import { Graph, type Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import type { ModelConfig } from "../weights/config.ts";
import { bertEncoder } from "./bert.ts";
import { type Checkpoint, type WeightSource, params } from "./checkpoint.ts";
import { linear } from "./layers.ts";
import { type LoraSpec, loraHook } from "./lora.ts";
import { m2m100Encoder } from "./m2m100.ts";
import { pool } from "./pooling.ts";

export type ProjectionActivation = "none" | "relu" | "gelu" | "tanh";

/** How the pieces fit, independent of where their weights live. */
export interface NllbE5Spec {
  /** [d_nllb, hidden, d_e5]; the paper uses hidden 4096. */
  projectionDims: [number, number, number];
  projectionActivation: ProjectionActivation;
  /** E5 ids of [CLS], the role word and ":" for each role. */
  prefixIds: { query: number[]; passage: number[] };
  /** E5 id of [SEP]. */
  sepId: number;
  /** null: no LoRA (full fine-tuning, or LoRA already merged into the E5 weights). */
  lora: LoraSpec | null;
  /** Longest NLLB row, language code and </s> included (508 = 512 - 4 E5 tokens). */
  maxNllbTokens: number;
}

export interface StudentParts {
  nllb: Checkpoint;
  e5: WeightSource;
  e5Config: ModelConfig;
  /** proj.0.{weight,bias} [hidden, d_nllb], proj.1.{weight,bias} [d_e5, hidden]. */
  projection: WeightSource;
  /** PEFT-named LoRA A/B tensors when spec.lora is set. */
  lora: WeightSource | null;
}

export interface StudentGraphOptions {
  /** Graph names of the weights to train (they become inputs); default none. */
  trainable?: (name: string) => boolean;
  /** Add the LoRA dropout mask inputs (training with dropout > 0). */
  dropout?: boolean;
  /** Add input `teacher_embedding` [batch, d_e5] and output `loss` = MSE(H_S, teacher). */
  loss?: boolean;
  /** L2-normalise the `embedding` output (retrieval); the loss always uses the raw mean. */
  normalize?: boolean;
  /** Also output nllb_hidden, projected, student_inputs_embeds, student_last_hidden_state. */
  intermediates?: boolean;
  /**
   * Take the NLLB encoder's output as input `nllb_hidden` [batch, nllb_seq, d_nllb] (precomputed by
   * nllbStatesGraph, e.g. from StateCache) instead of `nllb_input_ids`: the graph then holds no
   * NLLB weights. nllb_attention_mask is still fed.
   */
  nllbStates?: boolean;
}

/** The frozen NLLB encoder alone: nllb_input_ids + nllb_attention_mask -> nllb_hidden. */
export function nllbStatesGraph(nllb: Checkpoint): Graph {
  const g = new Graph("nllb-states");
  const ids = g.input("nllb_input_ids", "int64", ["batch", "nllb_seq"]);
  const mask = g.input("nllb_attention_mask", "int64", ["batch", "nllb_seq"]);
  g.output(m2m100Encoder(params(nllb, g, { prefix: "nllb." }), nllb, { ids, mask }), "nllb_hidden");
  return g;
}

const PROJ_ACT: Record<ProjectionActivation, (x: Value) => Value> = {
  none: (x) => x,
  relu: o.relu,
  gelu: o.gelu,
  tanh: o.tanh,
};

export function studentGraph(
  parts: StudentParts,
  spec: NllbE5Spec,
  opts: StudentGraphOptions = {},
): { graph: Graph; trainableData: Map<string, Float32Array> } {
  const g = new Graph("nllb-e5");
  const trainableData = new Map<string, Float32Array>();
  const shared = { trainable: opts.trainable, trainableData };
  const pE5 = params(parts.e5, g, shared);
  const pProj = params(parts.projection, g, shared);
  const cfg = parts.e5Config;
  const [dN, dH, dE] = spec.projectionDims;
  if (parts.nllb.config.hidden !== dN || cfg.hidden !== dE)
    throw new Error(
      `NLLB-E5: projection ${dN} -> ${dH} -> ${dE} does not join NLLB d_model ${parts.nllb.config.hidden} to E5 hidden ${cfg.hidden}`,
    );

  const ids = opts.nllbStates ? undefined : g.input("nllb_input_ids", "int64", ["batch", "nllb_seq"]);
  const mask = g.input("nllb_attention_mask", "int64", ["batch", "nllb_seq"]);
  const prefixIds = g.input("prefix_ids", "int64", ["batch", 3]);
  const studentMask = g.input("student_attention_mask", "int64", ["batch", "student_seq"]);
  const sepOneHot = g.input("sep_onehot", "float32", ["batch", "student_seq"]);

  const h = ids
    ? m2m100Encoder(params(parts.nllb, g, { prefix: "nllb.", trainableData }), parts.nllb, { ids, mask })
    : g.input("nllb_hidden", "float32", ["batch", "nllb_seq", dN]);
  const projected = linear(
    pProj,
    "proj.1",
    PROJ_ACT[spec.projectionActivation](linear(pProj, "proj.0", h, dN, dH)),
    dH,
    dE,
  );
  // padding positions become zero vectors; the lang-code and </s> positions keep their values
  const kept = o.mul(projected, o.unsqueeze(o.cast(mask, "float32"), [2]));
  const words = pE5("embeddings.word_embeddings.weight", [cfg.vocabSize, dE]);
  const zeroColumn = o.constantOfShape(
    o.concat([o.gather(o.shapeOf(kept), g.ints([0])), g.ints([1, dE])], 0),
    0,
    "float32",
    ["batch", 1, dE],
  );
  const seq = o.concat([o.gather(words, prefixIds), kept, zeroColumn], 1);
  const sep = o.gather(words, g.constant("int64", [spec.sepId], []));
  const embeds = o.add(seq, o.mul(o.unsqueeze(sepOneHot, [2]), sep));

  const hook =
    spec.lora && parts.lora ? loraHook(params(parts.lora, g, shared), spec.lora, !!opts.dropout) : undefined;
  if (spec.lora && !parts.lora)
    throw new Error("NLLB-E5: the spec asks for LoRA but no LoRA weights were given");
  const last = bertEncoder(pE5, cfg, { embeds, mask: studentMask }, hook);
  const hs = pool(last, studentMask, "mean");
  g.output(opts.normalize ? o.l2Normalize(hs) : hs, "embedding");
  if (opts.loss) {
    const teacher = g.input("teacher_embedding", "float32", ["batch", dE]);
    const diff = o.sub(hs, teacher);
    g.output(o.reduceMean(o.mul(diff, diff), [0, 1]), "loss");
  }
  if (opts.intermediates) {
    g.output(h, "nllb_hidden");
    g.output(projected, "projected");
    g.output(embeds, "student_inputs_embeds");
    g.output(last, "student_last_hidden_state");
  }
  return { graph: g, trainableData };
}

/** Student-side inputs for NLLB rows [lang, tokens..., </s>] (unpadded) and their roles. */
export interface StudentBatch {
  batch: number;
  /** NLLB width m (longest row); the student width is m + 4. */
  nllbSeq: number;
  nllbIds: BigInt64Array;
  nllbMask: BigInt64Array;
  prefixIds: BigInt64Array;
  studentMask: BigInt64Array;
  sepOneHot: Float32Array;
}

/**
 * Lay out a batch: NLLB rows right-padded with `padId`; student rows of width L = 3 + m + 1 with
 * mask [1,1,1] (prefix), 0 (lang code), 1 per content token, 0 (</s>), 1 ([SEP] at 3 + n), 0 after.
 */
export function studentBatch(
  rows: readonly (readonly number[])[],
  roles: readonly ("query" | "passage")[],
  spec: NllbE5Spec,
  padId: number,
): StudentBatch {
  const batch = rows.length;
  const m = Math.max(2, ...rows.map((r) => r.length));
  const L = m + 4;
  const out: StudentBatch = {
    batch,
    nllbSeq: m,
    nllbIds: new BigInt64Array(batch * m).fill(BigInt(padId)),
    nllbMask: new BigInt64Array(batch * m),
    prefixIds: new BigInt64Array(batch * 3),
    studentMask: new BigInt64Array(batch * L),
    sepOneHot: new Float32Array(batch * L),
  };
  rows.forEach((row, b) => {
    if (row.length < 2)
      throw new Error(`NLLB row ${b} has ${row.length} tokens; it needs at least the language code and </s>`);
    const n = row.length;
    row.forEach((id, j) => {
      out.nllbIds[b * m + j] = BigInt(id);
      out.nllbMask[b * m + j] = 1n;
    });
    spec.prefixIds[roles[b]].forEach((id, j) => (out.prefixIds[b * 3 + j] = BigInt(id)));
    const s = out.studentMask.subarray(b * L, (b + 1) * L);
    s.fill(1n, 0, 3);
    s.fill(1n, 4, 3 + n - 1); // content tokens: after the lang code, before </s>
    s[3 + n] = 1n;
    out.sepOneHot[b * L + 3 + n] = 1;
  });
  return out;
}

/** The feeds of a student graph for a batch (plus the teacher rows when training). */
export function studentFeeds(sb: StudentBatch, teacher?: Float32Array, dE?: number) {
  const L = sb.nllbSeq + 4;
  const feeds = {
    nllb_input_ids: { dtype: "int64" as const, dims: [sb.batch, sb.nllbSeq], data: sb.nllbIds },
    nllb_attention_mask: { dtype: "int64" as const, dims: [sb.batch, sb.nllbSeq], data: sb.nllbMask },
    prefix_ids: { dtype: "int64" as const, dims: [sb.batch, 3], data: sb.prefixIds },
    student_attention_mask: { dtype: "int64" as const, dims: [sb.batch, L], data: sb.studentMask },
    sep_onehot: { dtype: "float32" as const, dims: [sb.batch, L], data: sb.sepOneHot },
  };
  return teacher
    ? { ...feeds, teacher_embedding: { dtype: "float32" as const, dims: [sb.batch, dE!], data: teacher } }
    : feeds;
}
