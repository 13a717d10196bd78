// Random checkpoints in the Hugging Face layout, for tiny models trained in tests and for speed
// benchmarks at real shapes: a config.json (as transformers writes it) and a model.safetensors with
// exactly the key names the loaders read. Weights: embeddings N(0, 0.3^2), linear N(0, 1/fan_in),
// biases N(0, 0.02^2), LayerNorm 1 and 0 — varied enough that tokens and positions matter.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../weights/config.ts";
import { sinusoidalTable } from "./m2m100.ts";
import { type Tensor, writeSafetensors } from "../weights/safetensors.ts";

/**
 * A small seeded generator (mulberry32) whose whole state is one number, so training can save it
 * in a checkpoint and resume bit for bit.
 */
export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), this.state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** N(0, 1) by Box-Muller. */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.next() + 1e-12)) * Math.cos(2 * Math.PI * this.next());
  }
  /** A permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}

/** Deterministic N(0, 1) samples. */
export function gaussian(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.normal();
}

/**
 * The tensors of a BertModel / XLMRobertaModel / M2M100 encoder for `config` (raw config.json);
 * with a …ForMaskedLM architecture, the MLM head instead of the pooler.
 */
export function randomWeights(config: Record<string, unknown>, seed = 0): Map<string, Tensor> {
  const cfg = parseConfig(config, "random config");
  const rand = gaussian(seed);
  const out = new Map<string, Tensor>();
  const fill = (name: string, dims: number[], f: () => number) => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = f();
    out.set(name, { data, dims });
  };
  const normal = (std: number) => () => std * rand();
  const linear = (name: string, dIn: number, dOut: number) => {
    fill(`${name}.weight`, [dOut, dIn], normal(1 / Math.sqrt(dIn)));
    fill(`${name}.bias`, [dOut], normal(0.02));
  };
  const norm = (name: string, d: number) => {
    fill(`${name}.weight`, [d], () => 1);
    fill(`${name}.bias`, [d], () => 0);
  };
  const { hidden: d, ffn, vocabSize } = cfg;
  if (cfg.family === "m2m100") {
    fill("model.shared.weight", [vocabSize, d], normal(0.3));
    for (let i = 0; i < cfg.layers; i++) {
      const l = `model.encoder.layers.${i}`;
      for (const n of ["q_proj", "k_proj", "v_proj", "out_proj"]) linear(`${l}.self_attn.${n}`, d, d);
      norm(`${l}.self_attn_layer_norm`, d);
      linear(`${l}.fc1`, d, ffn);
      linear(`${l}.fc2`, ffn, d);
      norm(`${l}.final_layer_norm`, d);
    }
    norm("model.encoder.layer_norm", d);
    const seq2seq = (config.architectures as string[] | undefined) ?? [];
    // a translation checkpoint adds the decoder; its embedding and LM head are model.shared (tied)
    if (cfg.decoder && seq2seq.some((a) => a.endsWith("ForConditionalGeneration"))) {
      const { layers, ffn: decFfn } = cfg.decoder;
      for (let i = 0; i < layers; i++) {
        const l = `model.decoder.layers.${i}`;
        for (const attn of ["self_attn", "encoder_attn"]) {
          for (const n of ["q_proj", "k_proj", "v_proj", "out_proj"]) linear(`${l}.${attn}.${n}`, d, d);
          norm(`${l}.${attn}_layer_norm`, d);
        }
        linear(`${l}.fc1`, d, decFfn);
        linear(`${l}.fc2`, decFfn, d);
        norm(`${l}.final_layer_norm`, d);
      }
      norm("model.decoder.layer_norm", d);
    }
    return out;
  }
  fill("embeddings.word_embeddings.weight", [vocabSize, d], normal(0.3));
  // learned position tables of trained BERTs vary smoothly along the position; a sinusoid does too
  const pos = sinusoidalTable(cfg.maxPositions, d, -1);
  out.set("embeddings.position_embeddings.weight", {
    data: pos.map((v) => 0.3 * v),
    dims: [cfg.maxPositions, d],
  });
  if (cfg.typeVocabSize > 0)
    fill("embeddings.token_type_embeddings.weight", [cfg.typeVocabSize, d], normal(0.3));
  norm("embeddings.LayerNorm", d);
  for (let i = 0; i < cfg.layers; i++) {
    const l = `encoder.layer.${i}`;
    for (const n of ["query", "key", "value"]) linear(`${l}.attention.self.${n}`, d, d);
    linear(`${l}.attention.output.dense`, d, d);
    norm(`${l}.attention.output.LayerNorm`, d);
    linear(`${l}.intermediate.dense`, d, ffn);
    linear(`${l}.output.dense`, ffn, d);
    norm(`${l}.output.LayerNorm`, d);
  }
  const archs = (config.architectures as string[] | undefined) ?? [];
  if (!archs.some((a) => a.endsWith("ForMaskedLM"))) {
    linear("pooler.dense", d, d);
    return out;
  }
  // a masked LM has no pooler but an MLM head, its decoder tied to the word embeddings
  const head = cfg.family === "bert" ? "cls.predictions" : "lm_head";
  const transform = cfg.family === "bert" ? `${head}.transform` : head;
  linear(`${transform}.dense`, d, d);
  norm(cfg.family === "bert" ? `${transform}.LayerNorm` : `${transform}.layer_norm`, d);
  fill(`${head}.bias`, [vocabSize], normal(0.02));
  return out;
}

/** Write config.json + model.safetensors of a random model into `dir` (created if needed). */
export function writeRandomCheckpoint(dir: string, config: Record<string, unknown>, seed = 0): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2));
  writeSafetensors(join(dir, "model.safetensors"), randomWeights(config, seed), {
    metadata: { format: "pt" },
  });
}
