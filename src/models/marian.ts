// What Marian (opus-mt) does differently from M2M100: a static sinusoid table indexed 0..L-1 for
// every row whatever its padding, with other frequencies than M2M100's (built in float64 and
// rounded, as transformers builds it), post-LN layers, and no final LayerNorm.

import type { Graph, Value } from "../tensor/graph.ts";
import type { ModelConfig } from "../weights/config.ts";
import { activation } from "./activations.ts";
import type { Checkpoint, Params } from "./checkpoint.ts";
import type { M2M100Inputs } from "./m2m100.ts";
import { sequentialPositions } from "./layers.ts";
import { type LayerStyle, encoderLayer } from "./seq2seq-layers.ts";
import * as o from "../tensor/ops.ts";

/** Marian's table: P[t, k] = sin(t / 10000^(2k/d)), P[t, d/2 + k] = cos(same), float64 then float32. */
export function marianSinusoidTable(rows: number, d: number): Float32Array {
  const sentinel = Math.ceil(d / 2);
  const out = new Float32Array(rows * d);
  for (let t = 0; t < rows; t++)
    for (let j = 0; j < d; j++) {
      const a = t / Math.pow(10000, (2 * Math.floor(j / 2)) / d);
      // even j fill the sines (first half), odd j the cosines (second half)
      if (j % 2 === 0) out[t * d + j / 2] = Math.sin(a);
      else out[t * d + sentinel + (j - 1) / 2] = Math.cos(a);
    }
  return out;
}

/** The table as a graph value, shared by encoder and decoder when both are in one graph. */
export function marianPositions(g: Graph, cfg: ModelConfig): Value {
  const name = "embed_positions";
  if (g.info.has(name)) return g.value(name);
  const d = cfg.hidden;
  return g.initializer(name, {
    dtype: "float32",
    dims: [cfg.maxPositions, d],
    data: marianSinusoidTable(cfg.maxPositions, d),
  });
}

export function marianStyle(cfg: ModelConfig, part: "encoder" | "decoder"): LayerStyle {
  const dec = part === "decoder" ? cfg.decoder : null;
  return {
    preNorm: false,
    act: activation(cfg.act, "config.json activation_function"),
    eps: cfg.layerNormEps,
    d: cfg.hidden,
    heads: dec?.heads ?? cfg.heads,
    ffn: dec?.ffn ?? cfg.ffn,
  };
}

/** last_hidden_state [batch, seq, d_model]. */
export function marianEncoder(p: Params, ck: Checkpoint, inp: M2M100Inputs): Value {
  const cfg = ck.config;
  const d = cfg.hidden;
  const emb = ck.has("encoder.embed_tokens.weight") ? "encoder.embed_tokens.weight" : "shared.weight";
  const words = o.gather(p(emb, [cfg.vocabSize, d]), inp.ids);
  let x = o.add(
    cfg.scaleEmbedding ? o.mul(words, Math.sqrt(d)) : words,
    o.gather(marianPositions(p.graph, cfg), sequentialPositions(inp.ids)),
  );
  const bias = o.attentionBias(inp.mask, "float32");
  const style = marianStyle(cfg, "encoder");
  for (let i = 0; i < cfg.layers; i++) x = encoderLayer(p, `encoder.layers.${i}`, x, bias, style);
  return x;
}
