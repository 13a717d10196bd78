// What a trainer needs of a model, whatever the model is: its trainable tensors, a graph from token
// inputs (and those tensors, fed as inputs) to one vector per text, the feeds for a batch of
// texts, and a way to write the trained model as a folder every xlir command loads. Contrastive
// fine-tuning (contrastive.ts) runs on this interface; encoder-head.ts implements it for BERT /
// XLM-R / sentence-transformers checkpoints, nllb-e5-head.ts for NLLB-E5 folders, colbert-head.ts
// for ColBERT(-XM) folders (late interaction: token vectors instead of one vector per text).

import type { Role } from "../encode/conventions.ts";
import { type WeightSource, tensorSource } from "../models/checkpoint.ts";
import type { LoraSpec } from "../models/lora.ts";
import { Rng } from "../models/random.ts";
import type { Graph, TensorData } from "../tensor/graph.ts";
import { peftKey } from "../weights/peft.ts";
import type { Tensor } from "../weights/safetensors.ts";
import type { NamedArrays } from "./params.ts";

/** One text as the model reads it: its role (the model's prefix) and its language (NLLB code). */
export interface HeadText {
  text: string;
  role: Role;
  lang?: string;
}

/** A tokenized batch: feeds without the trainable tensors (they change every step). */
export type HeadBatch = Record<string, TensorData>;

export interface ModelHead {
  /** Width of the vectors. */
  readonly dim: number;
  /** Trainable tensors by graph input name (updated in place by the optimizer) and their dims. */
  readonly params: NamedArrays;
  readonly dims: Record<string, number[]>;
  /** What trains, for logs and the run's fingerprint. */
  readonly describe: string;
  /** Whether training draws dropout masks (LoRA dropout > 0). */
  readonly dropout: boolean;
  /**
   * Late interaction (ColBERT): `embedding` is [rows, seq, dim + 1], each text's unit token vectors
   * followed by a channel that is 1 on the tokens that count (query: every query position;
   * document: kept tokens) and 0 elsewhere, and texts are compared by MaxSim (losses.ts maxSimAll)
   * instead of the dot product. Absent: one vector per text.
   */
  readonly lateInteraction?: boolean;
  /**
   * A graph with output `embedding` [rows, dim]: the model's pooled vector before any L2
   * normalisation (the loss decides how to compare vectors); late interaction: token matrices, as
   * `lateInteraction` says. Trainable tensors are graph inputs; `dropout` adds the dropout-mask inputs.
   */
  graph(dropout: boolean): Graph;
  /** Token inputs for `texts`; with `rng`, dropout masks drawn from it. */
  batch(texts: readonly HeadText[], rng: Rng | null): HeadBatch;
  /** Writes the model with the given trainable values into `dir` (model files only; other entries stay). */
  save(dir: string, params: NamedArrays): void;
  close(): void;
}

/** What trains: everything, the last N layers, LoRA adapters (the base frozen), or a model's heads only. */
export type TrainableSet =
  | { kind: "full" }
  | { kind: "heads" }
  | { kind: "last"; layers: number }
  | { kind: "lora"; r: number; alpha: number; dropout: number; targets: string[] };

/** `full`, `heads`, `last:N` or `lora` (LoRA sizes from `lora`, defaults r 32 / alpha 64 / dropout 0.05 on query, key, value). */
export function parseTrainable(
  s: string,
  lora: Partial<Omit<Extract<TrainableSet, { kind: "lora" }>, "kind">> = {},
): TrainableSet {
  if (s === "full") return { kind: "full" };
  if (s === "heads") return { kind: "heads" };
  if (s === "lora")
    return {
      kind: "lora",
      r: lora.r ?? 32,
      alpha: lora.alpha ?? 64,
      dropout: lora.dropout ?? 0.05,
      targets: lora.targets ?? ["query", "key", "value"],
    };
  const m = /^last:(\d+)$/.exec(s);
  if (m && Number(m[1]) >= 1) return { kind: "last", layers: Number(m[1]) };
  throw new Error(`--trainable "${s}" is not one of full, heads, last:N (N >= 1, e.g. last:1) or lora`);
}

/** Dims of a graph's trainable inputs, by name. */
export function inputDims(graph: Graph, names: Iterable<string>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const n of names) out[n] = graph.inputs.find((i) => i.name === n)!.shape as number[];
  return out;
}

/** Dropout masks (kept values scaled by 1/(1-p)) for every `lora_dropout.*` input of `graph`, at `rows` x `seq`. */
export function dropoutMasks(
  graph: Graph,
  rows: number,
  seq: number,
  p: number,
  rng: Rng,
): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  const keep = 1 - p;
  for (const inp of graph.inputs) {
    if (!inp.name.startsWith("lora_dropout.")) continue;
    const d = inp.shape[inp.shape.length - 1] as number;
    const mask = new Float32Array(rows * seq * d);
    for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < keep ? 1 / keep : 0;
    out[inp.name] = { dtype: "float32", dims: [rows, seq, d], data: mask };
  }
  return out;
}

/**
 * LoRA tensors as PEFT initialises them, for the self-attention `targets` of `layers` BERT layers
 * of width `d`: A kaiming-uniform (bound 1/sqrt(d)), B zero, so training starts at the base model.
 */
export function freshLora(
  layers: number,
  d: number,
  r: number,
  targets: readonly string[],
  seed: number,
): Map<string, Tensor> {
  const rng = new Rng(seed);
  const out = new Map<string, Tensor>();
  for (let i = 0; i < layers; i++)
    for (const target of targets) {
      if (!["query", "key", "value"].includes(target))
        throw new Error(`--lora-targets "${target}" is not one of query, key, value`);
      const mod = `encoder.layer.${i}.attention.self.${target}`;
      const a = new Float32Array(r * d);
      for (let k = 0; k < a.length; k++) a[k] = (2 * rng.next() - 1) / Math.sqrt(d);
      out.set(peftKey(mod, "A"), { data: a, dims: [r, d] });
      out.set(peftKey(mod, "B"), { data: new Float32Array(d * r), dims: [d, r] });
    }
  return out;
}

/** What a TrainableSet means for a BERT-layout checkpoint: which of its weights train, and LoRA. */
export interface TrainableSelection {
  trainable: (name: string) => boolean;
  /** LoRA adapters (their tensors in `source`, PEFT-named), when `lora`. */
  lora?: { spec: LoraSpec; source: WeightSource };
  loraTensors: Map<string, Tensor>;
  /** Whether training draws LoRA dropout masks. */
  dropout: boolean;
}

/** `heads` trains none of the checkpoint's weights (the caller's own heads train). */
export function selectTrainable(
  t: TrainableSet,
  model: { layers: number; hidden: number },
  name: string,
  seed = 42,
): TrainableSelection {
  if (t.kind === "last" && t.layers > model.layers)
    throw new Error(`--trainable last:${t.layers}: ${name} has only ${model.layers} layers`);
  const firstTrained = t.kind === "last" ? model.layers - t.layers : 0;
  const trainable = (w: string) =>
    t.kind === "full" ||
    (t.kind === "last" && Number(/^encoder\.layer\.(\d+)\./.exec(w)?.[1] ?? -1) >= firstTrained);
  if (t.kind !== "lora") return { trainable, loraTensors: new Map(), dropout: false };
  const loraTensors = freshLora(model.layers, model.hidden, t.r, t.targets, seed);
  return {
    trainable,
    lora: {
      spec: { r: t.r, alpha: t.alpha, dropout: t.dropout, targets: t.targets },
      source: tensorSource(loraTensors, "lora"),
    },
    loraTensors,
    dropout: t.dropout > 0,
  };
}
