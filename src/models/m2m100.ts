// The M2M100 / NLLB-200 encoder as a graph, following Hugging Face's M2M100Encoder: token embedding
// scaled by sqrt(d_model), plus a sinusoidal table indexed XLM-R style (pad + cumsum over real
// tokens), pre-LN layers with ReLU FFN, and a final LayerNorm. The decoder is in seq2seq-graphs.ts.

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import type { ModelConfig } from "../weights/config.ts";
import { activation } from "./activations.ts";
import type { Checkpoint, Params } from "./checkpoint.ts";
import { type LinearHook, layerNorm, paddedPositions } from "./layers.ts";
import { type LayerStyle, encoderLayer } from "./seq2seq-layers.ts";

/** HF's float32 sinusoidal table: rows = positions, [sin(p f_k)..., cos(p f_k)...], padding row zero. */
export function sinusoidalTable(rows: number, d: number, pad: number): Float32Array {
  const half = Math.floor(d / 2);
  const f = Math.fround;
  const step = f(Math.log(10000) / (half - 1));
  const freq = Array.from({ length: half }, (_, k) => f(Math.exp(f(k * -step))));
  const out = new Float32Array(rows * d);
  for (let p = 0; p < rows; p++) {
    if (p === pad) continue;
    for (let k = 0; k < half; k++) {
      const a = f(p * freq[k]);
      out[p * d + k] = Math.sin(a);
      out[p * d + half + k] = Math.cos(a);
    }
  }
  return out;
}

/** The encoder's token embedding: encoder.embed_tokens when stored, else the shared table. */
export function m2m100TokenEmbedding(ck: Checkpoint): string {
  return ck.has("encoder.embed_tokens.weight") ? "encoder.embed_tokens.weight" : "shared.weight";
}

export interface M2M100Inputs {
  /** int64 [batch, seq]. */
  ids: Value;
  /** int64 [batch, seq]. */
  mask: Value;
}

/** last_hidden_state [batch, seq, d_model]. */
export function m2m100Encoder(p: Params, ck: Checkpoint, inp: M2M100Inputs, hook?: LinearHook): Value {
  const cfg: ModelConfig = ck.config;
  const d = cfg.hidden;
  const pad = cfg.padTokenId ?? 1;
  const g = p.graph;
  const act = activation(cfg.act, "config.json activation_function");
  const rows = cfg.maxPositions + 2; // HF's offset of 2
  const table = g.info.has("encoder.embed_positions")
    ? g.value("encoder.embed_positions")
    : g.initializer("encoder.embed_positions", {
        dtype: "float32",
        dims: [rows, d],
        data: sinusoidalTable(rows, d, pad),
      });
  const words = o.gather(p(m2m100TokenEmbedding(ck), [cfg.vocabSize, d]), inp.ids);
  let x = o.add(
    cfg.scaleEmbedding ? o.mul(words, Math.sqrt(d)) : words,
    o.gather(table, paddedPositions(inp.ids, pad)),
  );
  const bias = o.attentionBias(inp.mask, "float32");
  const style = m2m100Style(cfg, act);
  for (let i = 0; i < cfg.layers; i++) x = encoderLayer(p, `encoder.layers.${i}`, x, bias, style, hook);
  return layerNorm(p, "encoder.layer_norm", x, d, cfg.layerNormEps);
}

/** The encoder's layer shape: pre-LN, the config's activation. */
export function m2m100Style(cfg: ModelConfig, act: (x: Value) => Value): LayerStyle {
  return { preNorm: true, act, eps: cfg.layerNormEps, d: cfg.hidden, heads: cfg.heads, ffn: cfg.ffn };
}
