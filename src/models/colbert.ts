// The ColBERT head over an encoder (colbert-ai's HF_ColBERT: `linear.weight` [dim, hidden], no
// bias, beside the backbone's `roberta.*` / `bert.*`): per-token vectors normalize(h Wᵀ) with
// normalize = x / max(‖x‖₂, 1e-12). The backbone is X-MOD (ColBERT-XM; adapters as graph inputs,
// models/xmod.ts) or a plain BERT / XLM-R encoder. Masking (skiplist, padding) is left to the
// caller, which keeps only the rows it wants: a kept row's vector does not depend on it.

import { fuseForInference } from "../tensor/fuse.ts";
import { Graph } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import { bertEncoder } from "./bert.ts";
import { type Checkpoint, params } from "./checkpoint.ts";
import { type EncoderTraining, trainingHook } from "./encoder-graph.ts";
import { xmodEncoder } from "./xmod.ts";

export const COLBERT_LINEAR = "linear.weight";

/** The projection's width (rows of linear.weight). */
export function colbertDim(ck: Checkpoint): number {
  const key = ck.key(COLBERT_LINEAR);
  if (!key)
    throw new Error(
      `${ck.dir}: no ColBERT projection "linear.weight" in model.safetensors; is this a colbert-ai (HF_ColBERT) checkpoint?`,
    );
  const t = ck.readStored(key);
  if (t.dims.length !== 2 || t.dims[1] !== ck.config.hidden)
    throw new Error(
      `${ck.dir}: "linear.weight" has dims [${t.dims.join(", ")}], expected [dim, ${ck.config.hidden}] (hidden_size)`,
    );
  return t.dims[0];
}

/**
 * Inputs input_ids / attention_mask (int64 [batch, seq]; for X-MOD also the adapter tensors of
 * models/xmod.ts unless `language` fixes one); outputs last_hidden_state and `vectors`
 * [batch, seq, dim] (unit rows). `train`: the chosen weights become graph inputs, and LoRA, as
 * encoderGraph's (X-MOD adapters stay inputs of their own, fed per language, never trained).
 */
export function colbertGraph(
  ck: Checkpoint,
  dim: number,
  opts: { language?: string; train?: EncoderTraining } = {},
): Graph {
  const cfg = ck.config;
  if (cfg.family !== "bert" && cfg.family !== "xlm-roberta")
    throw new Error(`${ck.dir}: a ColBERT backbone must be BERT, XLM-R or X-MOD, not ${cfg.modelType}`);
  const g = new Graph(`colbert-${cfg.modelType}`);
  const t = opts.train;
  const p = params(ck, g, t && { trainable: t.trainable, trainableData: t.trainableData });
  const ids = g.input("input_ids", "int64", ["batch", "seq"]);
  const mask = g.input("attention_mask", "int64", ["batch", "seq"]);
  const hook = trainingHook(g, t);
  const h = cfg.xmod
    ? xmodEncoder(p, cfg, { ids, mask }, opts.language ?? null, hook)
    : bertEncoder(p, cfg, { ids, mask }, hook);
  g.output(h, "last_hidden_state");
  const w = p(COLBERT_LINEAR, [dim, cfg.hidden]);
  g.output(o.l2Normalize(o.matmul(h, o.transpose(w, [1, 0]))), "vectors");
  // inference graphs get ONNX Runtime's fused attention, as encoderGraph's (training graphs cannot)
  return t ? g : fuseForInference(g);
}
