// Random checkpoints in the Hugging Face layout, for tiny models trained in tests and for speed
// benchmarks at real shapes: a config.json (as transformers writes it) and a model.safetensors with
// exactly the key names the loaders read. Weights: embeddings N(0, 0.3^2), linear N(0, 1/fan_in),
// biases N(0, 0.02^2), LayerNorm 1 and 0 — varied enough that tokens and positions matter.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../weights/config.ts";
import { type Tensor, writeSafetensors } from "../weights/safetensors.ts";

/** Deterministic N(0, 1) samples (mulberry32 + Box-Muller). */
export function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

/** The tensors of a BertModel / XLMRobertaModel / M2M100 encoder for `config` (raw config.json). */
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
    return out;
  }
  fill("embeddings.word_embeddings.weight", [vocabSize, d], normal(0.3));
  fill("embeddings.position_embeddings.weight", [cfg.maxPositions, d], normal(0.3));
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
  linear("pooler.dense", d, d);
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
