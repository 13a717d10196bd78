// The graphs of an M2M100/NLLB or Marian ...ForConditionalGeneration checkpoint, split for
// incremental decoding:
//  - encoder: input_ids, attention_mask -> last_hidden_state and, per decoder layer, the
//    cross-attention keys/values (`cross.{i}.key|value`), so they are computed once per input;
//  - decoder step: decoder_input_ids [batch, new], encoder_attention_mask, the cross keys/values
//    and the self-attention cache `past.{i}.key|value` [batch, heads, past, dh] (past may be 0)
//    -> logits [batch, new, vocab], decoder_last_hidden_state and `present.{i}.key|value`.
// Teacher forcing is the step graph with an empty cache and every token new.

import { Graph, type Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import type { ModelConfig } from "../weights/config.ts";
import { activation } from "./activations.ts";
import { type Checkpoint, params } from "./checkpoint.ts";
import { sequentialPositions } from "./layers.ts";
import { m2m100Encoder, m2m100Style, sinusoidalTable } from "./m2m100.ts";
import { marianEncoder, marianPositions, marianStyle } from "./marian.ts";
import { type LayerStyle, decoderLayer, keyValues } from "./seq2seq-layers.ts";

const FLOAT32_MIN = -3.4028234663852886e38;

/** The decoder half of a checkpoint's config; fails for encoder-only families. */
export function decoderConfig(ck: Checkpoint) {
  const dec = ck.config.decoder;
  if (!dec || (ck.config.family !== "m2m100" && ck.config.family !== "marian"))
    throw new Error(
      `${ck.dir}: model_type "${ck.config.modelType}" has no decoder; translation needs an M2M100/NLLB or Marian (opus-mt) checkpoint`,
    );
  return dec;
}

function decoderStyle(cfg: ModelConfig): LayerStyle {
  if (cfg.family === "marian") return marianStyle(cfg, "decoder");
  const dec = cfg.decoder!;
  const act = activation(cfg.act, "config.json activation_function");
  return { ...m2m100Style(cfg, act), heads: dec.heads, ffn: dec.ffn };
}

const decoderEmbedding = (ck: Checkpoint) =>
  ck.has("decoder.embed_tokens.weight") ? "decoder.embed_tokens.weight" : "shared.weight";

export function seq2seqEncoderGraph(ck: Checkpoint): Graph {
  const dec = decoderConfig(ck);
  const g = new Graph(`${ck.config.modelType}-encoder`);
  const p = params(ck, g);
  const ids = g.input("input_ids", "int64", ["batch", "src"]);
  const mask = g.input("attention_mask", "int64", ["batch", "src"]);
  const h =
    ck.config.family === "marian" ? marianEncoder(p, ck, { ids, mask }) : m2m100Encoder(p, ck, { ids, mask });
  g.output(h, "last_hidden_state");
  const style = decoderStyle(ck.config);
  for (let i = 0; i < dec.layers; i++) {
    const [k, v] = keyValues(p, `decoder.layers.${i}.encoder_attn`, h, style);
    g.output(k, `cross.${i}.key`);
    g.output(v, `cross.${i}.value`);
  }
  return g;
}

export function seq2seqDecoderGraph(ck: Checkpoint): Graph {
  const cfg = ck.config;
  const dec = decoderConfig(ck);
  const d = cfg.hidden;
  const dh = d / dec.heads;
  const g = new Graph(`${cfg.modelType}-decoder`);
  const p = params(ck, g);
  const ids = g.input("decoder_input_ids", "int64", ["batch", "new"]);
  const srcMask = g.input("encoder_attention_mask", "int64", ["batch", "src"]);
  const cross = Array.from({ length: dec.layers }, (_, i) => ({
    key: g.input(`cross.${i}.key`, "float32", ["batch", dec.heads, "src", dh]),
    value: g.input(`cross.${i}.value`, "float32", ["batch", dec.heads, "src", dh]),
  }));
  const past = Array.from({ length: dec.layers }, (_, i) => ({
    key: g.input(`past.${i}.key`, "float32", ["batch", dec.heads, "past", dh]),
    value: g.input(`past.${i}.value`, "float32", ["batch", dec.heads, "past", dh]),
  }));
  const pastLen = o.gather(o.shapeOf(past[0].key), g.scalar(2, "int64"));
  const newLen = o.gather(o.shapeOf(ids), g.scalar(1, "int64"));
  const steps = o.add(sequentialPositions(ids), pastLen); // absolute index of each new token

  const words = o.gather(p(decoderEmbedding(ck), [dec.vocabSize, d]), ids);
  let x = o.add(
    cfg.scaleEmbedding ? o.mul(words, Math.sqrt(d)) : words,
    positionEmbedding(ck, ids, steps, pastLen),
  );

  // causal: new token t (absolute index past + t) sees cache entries and new tokens up to itself
  const total = o.unsqueeze(o.add(pastLen, newLen), [0]);
  const keyIndex = o.sub(o.cumSum(o.constantOfShape(total, 1, "int64", ["past+new"]), 0), 1);
  const selfBias = o.where(
    o.greater(keyIndex, o.unsqueeze(steps, [1, 3])),
    g.scalar(FLOAT32_MIN, "float32"),
    g.scalar(0, "float32"),
  );
  const crossBias = o.attentionBias(srcMask, "float32");
  const style = decoderStyle(cfg);
  for (let i = 0; i < dec.layers; i++) {
    const out = decoderLayer(
      p,
      `decoder.layers.${i}`,
      x,
      {
        pastKey: past[i].key,
        pastValue: past[i].value,
        crossKey: cross[i].key,
        crossValue: cross[i].value,
        selfBias,
        crossBias,
      },
      style,
    );
    x = out.x;
    g.output(out.key, `present.${i}.key`);
    g.output(out.value, `present.${i}.value`);
  }
  if (cfg.family === "m2m100")
    x = o.layerNorm(x, p("decoder.layer_norm.weight", [d]), p("decoder.layer_norm.bias", [d]), style.eps);
  g.output(x, "decoder_last_hidden_state");
  const head = ck.has("lm_head.weight") ? "lm_head.weight" : decoderEmbedding(ck);
  let logits = o.matmul(x, o.transpose(p(head, [dec.vocabSize, d]), [1, 0]));
  if (ck.has("final_logits_bias")) logits = o.add(logits, p("final_logits_bias", [1, dec.vocabSize]));
  g.output(logits, "logits");
  return g;
}

/** M2M100: pad + cumsum over real tokens continued from the cache (pads take the zero row); Marian: the index. */
function positionEmbedding(ck: Checkpoint, ids: Value, steps: Value, pastLen: Value): Value {
  const cfg = ck.config;
  const g = ids.graph;
  if (cfg.family === "marian") return o.gather(marianPositions(g, cfg), steps);
  const pad = cfg.padTokenId ?? 1;
  const rows = cfg.maxPositions + 2;
  const table = g.initializer("decoder.embed_positions", {
    dtype: "float32",
    dims: [rows, cfg.hidden],
    data: sinusoidalTable(rows, cfg.hidden, pad),
  });
  const real = o.cast(o.not(o.equal(ids, g.scalar(pad, "int64"))), "int64");
  return o.gather(table, o.add(o.mul(o.add(o.cumSum(real, 1), pastLen), real), pad));
}
