// The M2M100 / NLLB-200 encoder as a graph, following Hugging Face's M2M100Encoder: token embedding
// scaled by sqrt(d_model), plus a sinusoidal table indexed XLM-R style (pad + cumsum over real
// tokens), pre-LN layers with ReLU FFN, and a final LayerNorm. Only the encoder of a seq2seq
// checkpoint is read; the decoder and lm_head are ignored.

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import type { ModelConfig } from "../weights/config.ts";
import { activation } from "./activations.ts";
import type { Checkpoint, Params } from "./checkpoint.ts";
import { type LinearHook, layerNorm, linear, paddedPositions, selfAttention } from "./layers.ts";

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
  const eps = cfg.layerNormEps;
  for (let i = 0; i < cfg.layers; i++) {
    const l = `encoder.layers.${i}`;
    const names = {
      q: `${l}.self_attn.q_proj`,
      k: `${l}.self_attn.k_proj`,
      v: `${l}.self_attn.v_proj`,
      out: `${l}.self_attn.out_proj`,
    };
    x = o.add(
      x,
      selfAttention(p, names, layerNorm(p, `${l}.self_attn_layer_norm`, x, d, eps), bias, d, cfg.heads, hook),
    );
    const h = act(linear(p, `${l}.fc1`, layerNorm(p, `${l}.final_layer_norm`, x, d, eps), d, cfg.ffn, hook));
    x = o.add(x, linear(p, `${l}.fc2`, h, cfg.ffn, d, hook));
  }
  return layerNorm(p, "encoder.layer_norm", x, d, eps);
}
