// One inference graph for any supported checkpoint: inputs input_ids / attention_mask (int64
// [batch, seq], plus token_type_ids for BERTs with several token types), outputs last_hidden_state,
// the pooled (and optionally normalised) `embedding`, and on request pooler_output and mlm_logits.

import { fuseForInference } from "../tensor/fuse.ts";
import { Graph, type Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import { bertEncoder, bertPooler, mlmLogits } from "./bert.ts";
import { type Checkpoint, type WeightSource, params } from "./checkpoint.ts";
import { type LoraSpec, loraHook } from "./lora.ts";
import { m2m100Encoder } from "./m2m100.ts";
import { type Pooling, pool } from "./pooling.ts";
import type { DenseLayer } from "../weights/sentence-transformers.ts";

export interface EncoderGraphOptions {
  pooling: Pooling;
  normalize: boolean;
  /** Add pooler_output (BERT-family checkpoints with a pooler). */
  pooler?: boolean;
  /** Add mlm_logits (checkpoints with an MLM head). */
  mlm?: boolean;
  /** sentence-transformers Dense layers applied after pooling, before normalisation. */
  dense?: DenseLayer[];
  /** Training: which checkpoint weights become graph inputs, and LoRA on the BERT linears. */
  train?: EncoderTraining;
  /**
   * Rewrite self-attention into ONNX Runtime's MultiHeadAttention kernel (tensor/fuse.ts). Default:
   * on for inference graphs; training graphs are never fused (the kernel has no gradient rule).
   */
  fuse?: boolean;
}

export interface EncoderTraining {
  trainable: (name: string) => boolean;
  /** Filled with the trainable weights' data, by graph input name. */
  trainableData: Map<string, Float32Array>;
  /** LoRA adapters (PEFT-named A/B tensors in `source`, trained: they are graph inputs). */
  lora?: { spec: LoraSpec; source: WeightSource; dropout: boolean };
}

const DENSE_ACT: Record<DenseLayer["activation"], (x: Value) => Value> = {
  identity: (x) => x,
  tanh: o.tanh,
  relu: o.relu,
  gelu: o.gelu,
  sigmoid: o.sigmoid,
  silu: (x) => o.mul(x, o.sigmoid(x)),
};

function denseLayer(g: Graph, x: Value, d: DenseLayer, i: number): Value {
  const w = g.initializer(`dense${i}.weight`, { dtype: "float32", dims: d.weight.dims, data: d.weight.data });
  let y = o.matmul(x, o.transpose(w, [1, 0]));
  if (d.bias)
    y = o.add(y, g.initializer(`dense${i}.bias`, { dtype: "float32", dims: d.bias.dims, data: d.bias.data }));
  return DENSE_ACT[d.activation](y);
}

/** Whether the graph of this checkpoint takes token_type_ids. */
export const takesTokenTypes = (ck: Checkpoint) =>
  ck.config.family !== "m2m100" && ck.config.typeVocabSize > 1;

/** The LoRA hook on the shared layers when training with LoRA adapters (their tensors graph inputs). */
export function trainingHook(g: Graph, t: EncoderTraining | undefined) {
  const lora = t?.lora;
  return lora
    ? loraHook(
        params(lora.source, g, { trainable: () => true, trainableData: t.trainableData }),
        lora.spec,
        lora.dropout,
      )
    : undefined;
}

export function encoderGraph(ck: Checkpoint, opts: EncoderGraphOptions): Graph {
  if (ck.config.family === "marian")
    throw new Error(
      `${ck.dir}: a Marian (opus-mt) checkpoint is a translation model, not an embedding encoder; load it with Seq2Seq.load`,
    );
  const g = new Graph(ck.config.modelType);
  const t = opts.train;
  const p = params(ck, g, t && { trainable: t.trainable, trainableData: t.trainableData });
  const ids = g.input("input_ids", "int64", ["batch", "seq"]);
  const mask = g.input("attention_mask", "int64", ["batch", "seq"]);
  const cfg = ck.config;
  let h;
  if (cfg.family === "m2m100") h = m2m100Encoder(p, ck, { ids, mask });
  else {
    const tokenTypes = takesTokenTypes(ck) ? g.input("token_type_ids", "int64", ["batch", "seq"]) : undefined;
    h = bertEncoder(p, cfg, { ids, mask, tokenTypes }, trainingHook(g, t));
  }
  g.output(h, "last_hidden_state");
  let pooled = pool(h, mask, opts.pooling);
  (opts.dense ?? []).forEach((d, i) => (pooled = denseLayer(g, pooled, d, i)));
  g.output(opts.normalize ? o.l2Normalize(pooled) : pooled, "embedding");
  if (opts.pooler) {
    if (cfg.family === "m2m100" || !ck.has("pooler.dense.weight"))
      throw new Error(`${ck.dir}: the checkpoint has no pooler (pooler.dense.*); use mean or cls pooling`);
    g.output(bertPooler(p, cfg, h), "pooler_output");
  }
  if (opts.mlm) {
    if (cfg.family === "m2m100" || !(ck.has("cls.predictions.bias") || ck.has("lm_head.bias")))
      throw new Error(`${ck.dir}: the checkpoint has no MLM head (cls.predictions.* or lm_head.*)`);
    g.output(mlmLogits(p, cfg, h), "mlm_logits");
  }
  if (opts.fuse && t)
    throw new Error("encoderGraph: a training graph cannot be fused (fuse: true with train)");
  return (opts.fuse ?? !t) ? fuseForInference(g) : g;
}
