// Random-weight checkpoints in the real Hugging Face layout, for benchmarks: config.json as the hub's
// e5 (BertModel) and NLLB-200 (M2M100ForConditionalGeneration) checkpoints write it, and a
// model.safetensors of float32 tensors under the key names the loaders read (src/models/bert.ts,
// src/models/m2m100.ts) — only the weights an encoder graph uses, so speed, not quality, is measured.
// The shapes come from the PyTorch baseline's SHAPES table, so both sides always run the same model.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type WritableTensor, writeSafetensors } from "../src/weights/safetensors.ts";

/** One entry of torch_baseline.py's SHAPES. */
export interface EncoderShape {
  kind: "bert" | "m2m100";
  hidden: number;
  layers: number;
  heads: number;
  ffn: number;
  vocab: number;
}

/** Parse the `SHAPES = {...}` table of torch_baseline.py (one `"name": dict(k=v, ...)` per line). */
export function baselineShapes(baselineScript: string): Map<string, EncoderShape> {
  const src = readFileSync(baselineScript, "utf8");
  const shapes = new Map<string, EncoderShape>();
  for (const m of src.matchAll(/^\s*"([\w.-]+)":\s*dict\(([^)]*)\)/gm)) {
    const f = Object.fromEntries(
      m[2].split(",").map((kv) => kv.split("=").map((s) => s.trim().replace(/^"|"$/g, ""))),
    );
    if (f.kind !== "bert" && f.kind !== "m2m100") continue;
    const n = (k: string) => {
      const v = Number(f[k]);
      if (!Number.isSafeInteger(v) || v <= 0)
        throw new Error(`${baselineScript}: SHAPES["${m[1]}"].${k} is not a positive integer`);
      return v;
    };
    shapes.set(m[1], {
      kind: f.kind,
      hidden: n("hidden"),
      layers: n("layers"),
      heads: n("heads"),
      ffn: n("ffn"),
      vocab: n("vocab"),
    });
  }
  if (!shapes.size) throw new Error(`${baselineScript}: no SHAPES entries found; is this torch_baseline.py?`);
  return shapes;
}

/** config.json of the checkpoint family, with the fields the hub's files carry. */
export function hfConfig(s: EncoderShape): Record<string, unknown> {
  if (s.kind === "bert")
    return {
      architectures: ["BertModel"],
      attention_probs_dropout_prob: 0.1,
      classifier_dropout: null,
      hidden_act: "gelu",
      hidden_dropout_prob: 0.1,
      hidden_size: s.hidden,
      initializer_range: 0.02,
      intermediate_size: s.ffn,
      layer_norm_eps: 1e-12,
      max_position_embeddings: 512,
      model_type: "bert",
      num_attention_heads: s.heads,
      num_hidden_layers: s.layers,
      pad_token_id: 0,
      position_embedding_type: "absolute",
      torch_dtype: "float32",
      transformers_version: "4.29.0.dev0",
      type_vocab_size: 2,
      use_cache: true,
      vocab_size: s.vocab,
    };
  return {
    activation_dropout: 0.0,
    activation_function: "relu",
    architectures: ["M2M100ForConditionalGeneration"],
    attention_dropout: 0.1,
    bos_token_id: 0,
    d_model: s.hidden,
    decoder_attention_heads: s.heads,
    decoder_ffn_dim: s.ffn,
    decoder_layerdrop: 0,
    decoder_layers: s.layers,
    decoder_start_token_id: 2,
    dropout: 0.1,
    encoder_attention_heads: s.heads,
    encoder_ffn_dim: s.ffn,
    encoder_layerdrop: 0,
    encoder_layers: s.layers,
    eos_token_id: 2,
    init_std: 0.02,
    is_encoder_decoder: true,
    max_length: 200,
    max_position_embeddings: 1024,
    model_type: "m2m_100",
    num_hidden_layers: s.layers,
    pad_token_id: 1,
    scale_embedding: true,
    tokenizer_class: "NllbTokenizer",
    torch_dtype: "float32",
    transformers_version: "4.21.0.dev0",
    use_cache: true,
    vocab_size: s.vocab,
  };
}

/** Deterministic uniform values in [-scale, scale) (xorshift32; fast enough for a 1 GB table). */
export function uniform(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const k = (2 * scale) / 2 ** 32;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) * k - scale;
  }
  return out;
}

/** The tensors (name -> dims) an encoder graph of this shape reads, under the hub's key names. */
export function weightDims(s: EncoderShape): Map<string, number[]> {
  const d = s.hidden;
  const w = new Map<string, number[]>();
  const linear = (name: string, dIn: number, dOut: number) => {
    w.set(`${name}.weight`, [dOut, dIn]);
    w.set(`${name}.bias`, [dOut]);
  };
  const norm = (name: string) => {
    w.set(`${name}.weight`, [d]);
    w.set(`${name}.bias`, [d]);
  };
  if (s.kind === "bert") {
    w.set("embeddings.word_embeddings.weight", [s.vocab, d]);
    w.set("embeddings.position_embeddings.weight", [512, d]);
    w.set("embeddings.token_type_embeddings.weight", [2, d]);
    norm("embeddings.LayerNorm");
    for (let i = 0; i < s.layers; i++) {
      const l = `encoder.layer.${i}`;
      for (const q of ["query", "key", "value"]) linear(`${l}.attention.self.${q}`, d, d);
      linear(`${l}.attention.output.dense`, d, d);
      norm(`${l}.attention.output.LayerNorm`);
      linear(`${l}.intermediate.dense`, d, s.ffn);
      linear(`${l}.output.dense`, s.ffn, d);
      norm(`${l}.output.LayerNorm`);
    }
    return w;
  }
  w.set("model.shared.weight", [s.vocab, d]);
  for (let i = 0; i < s.layers; i++) {
    const l = `model.encoder.layers.${i}`;
    for (const q of ["q_proj", "k_proj", "v_proj", "out_proj"]) linear(`${l}.self_attn.${q}`, d, d);
    norm(`${l}.self_attn_layer_norm`);
    linear(`${l}.fc1`, d, s.ffn);
    linear(`${l}.fc2`, s.ffn, d);
    norm(`${l}.final_layer_norm`);
  }
  norm("model.encoder.layer_norm");
  return w;
}

/** Write config.json + model.safetensors (float32, random) for `shape` into `dir`; returns the bytes written. */
export function writeRandomCheckpoint(dir: string, shape: EncoderShape, seed = 1): number {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(hfConfig(shape), null, 2) + "\n");
  const tensors = new Map<string, WritableTensor>();
  let bytes = 0;
  let i = 0;
  for (const [name, dims] of weightDims(shape)) {
    const n = dims.reduce((a, b) => a * b, 1);
    // LayerNorm scales 1 and biases 0, as initialised; everything else small and random
    const isNorm = /(LayerNorm|layer_norm)\.(weight|bias)$/.test(name);
    const data = isNorm
      ? new Float32Array(n).fill(name.endsWith("weight") ? 1 : 0)
      : uniform(n, seed * 7919 + ++i, 0.05);
    tensors.set(name, { data, dims });
    bytes += 4 * n;
  }
  writeSafetensors(join(dir, "model.safetensors"), tensors, { metadata: { format: "pt" } });
  return bytes;
}
