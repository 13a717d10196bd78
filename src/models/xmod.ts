// X-MOD (Hugging Face XmodModel, facebook/xmod-base): XLM-R with a bottleneck adapter per language
// in every layer. Layer (post-LN, pre_norm false, as released):
//   a = LN_att(Dense_o(Attn(h)) + h);  f = Dense_out(act(Dense_in(a))) + a
//   n = LN_out(f) (adapter_reuse_layer_norm; adapter_layer_norm: its own LN instead; neither: f)
//   y = dense2_ℓ(act(dense1_ℓ(n))) + (ln_before_adapter ? n : f);  h' = LN_out(y)
// pre_norm true: LN_att before attention, LN_out before the FFN (and, reused, before the adapter),
// no LN after the residuals, and encoder.LayerNorm after the last layer (XmodEncoder).
//
// Which adapter: one graph serves every language. The adapter's weights (dense1/dense2 of each
// layer) are graph INPUTS, fed per run from the language's tensors (`adapterFeeds`), so a batch
// holds one language and callers group texts by language. Why inputs rather than all adapters as
// initializers gathered by a per-row lang id: the released checkpoint has 81 adapters
// (~2.3 GB of its 3.4 GB), of which a search uses one or two; as inputs only the languages actually
// used are read from model.safetensors (~28 MB each, cached), the session holds the shared
// backbone alone, and each row's arithmetic is exactly XmodModel's (one dense per row group, as
// its lang_adapter does with torch.split). A fixed `language` bakes that adapter in instead
// (initializers, no adapter inputs).

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import type { ModelConfig, XmodConfig } from "../weights/config.ts";
import { activation } from "./activations.ts";
import { attentionNames, type BertInputs, bertEmbeddings } from "./bert.ts";
import type { Params, WeightSource } from "./checkpoint.ts";
import { type LinearHook, layerNorm, linear, selfAttention } from "./layers.ts";

export type AdapterPart = "dense1" | "dense2";

/** Graph input name of an adapter tensor of layer `i` (fed per run). */
export const adapterInputName = (i: number, part: AdapterPart, kind: "weight" | "bias") =>
  `xmod_adapter.${i}.${part}.${kind}`;

/** Checkpoint name of language `lang`'s adapter tensor in layer `i`. */
export const adapterKey = (i: number, lang: string, part: AdapterPart, kind: "weight" | "bias") =>
  `encoder.layer.${i}.output.adapter_modules.${lang}.${part}.${kind}`;

function adapterDims(x: XmodConfig, hidden: number, part: AdapterPart, kind: "weight" | "bias"): number[] {
  const [out, inp] = part === "dense1" ? [x.bottleneck, hidden] : [hidden, x.bottleneck];
  return kind === "weight" ? [out, inp] : [out];
}

export function xmodOf(cfg: ModelConfig, what = "this checkpoint"): XmodConfig {
  if (!cfg.xmod) throw new Error(`${what} is not an X-MOD checkpoint (config.json model_type "xmod")`);
  return cfg.xmod;
}

/**
 * last_hidden_state [batch, seq, hidden] of XmodModel. `language` null: the adapter weights are
 * graph inputs (adapterInputName); a language name: that adapter's weights are initializers.
 * `hook` sees the shared linear layers (LoRA), not the adapters.
 */
export function xmodEncoder(
  p: Params,
  cfg: ModelConfig,
  inp: BertInputs,
  language: string | null,
  hook?: LinearHook,
): Value {
  const x = xmodOf(cfg);
  if (cfg.positionEmbeddingType !== "absolute")
    throw new Error(
      `position_embedding_type "${cfg.positionEmbeddingType}" is not supported (only "absolute")`,
    );
  if (language !== null && !x.languages.includes(language))
    throw new Error(`X-MOD has no adapter "${language}"; available: ${x.languages.join(", ")}`);
  const d = cfg.hidden;
  const eps = cfg.layerNormEps;
  const act = activation(cfg.act, "config.json hidden_act");
  const g = p.graph;
  const adapter = (i: number, part: AdapterPart, kind: "weight" | "bias"): Value => {
    const dims = adapterDims(x, d, part, kind);
    if (language !== null) return p(adapterKey(i, language, part, kind), dims);
    const name = adapterInputName(i, part, kind);
    return g.info.has(name) ? g.value(name) : g.input(name, "float32", dims);
  };
  const dense = (i: number, part: AdapterPart, v: Value) =>
    o.add(o.matmul(v, o.transpose(adapter(i, part, "weight"), [1, 0])), adapter(i, part, "bias"));
  const bias = o.attentionBias(inp.mask, "float32");
  let h = bertEmbeddings(p, cfg, inp);
  for (let i = 0; i < cfg.layers; i++) {
    const l = `encoder.layer.${i}`;
    const names = attentionNames(l);
    const lnAtt = (v: Value) => layerNorm(p, `${l}.attention.output.LayerNorm`, v, d, eps);
    const lnOut = (v: Value) => layerNorm(p, `${l}.output.LayerNorm`, v, d, eps);
    let a = o.add(selfAttention(p, names, x.preNorm ? lnAtt(h) : h, bias, d, cfg.heads, hook), h);
    if (!x.preNorm) a = lnAtt(a);
    const up = act(linear(p, `${l}.intermediate.dense`, x.preNorm ? lnOut(a) : a, d, cfg.ffn, hook));
    const f = o.add(linear(p, `${l}.output.dense`, up, cfg.ffn, d, hook), a);
    let n = f;
    if (x.adapterLayerNorm) n = layerNorm(p, `${l}.output.adapter_layer_norm`, f, d, eps);
    else if (x.adapterReuseLayerNorm) n = lnOut(f);
    const y = o.add(dense(i, "dense2", act(dense(i, "dense1", n))), x.lnBeforeAdapter ? n : f);
    h = x.preNorm ? y : lnOut(y);
  }
  return x.preNorm ? layerNorm(p, "encoder.LayerNorm", h, d, eps) : h;
}

/** The feeds of language `lang`'s adapter (every layer), read from `src` (a checkpoint). */
export function adapterFeeds(
  src: WeightSource,
  cfg: ModelConfig,
  lang: string,
): Record<string, { dtype: "float32"; dims: number[]; data: Float32Array }> {
  const x = xmodOf(cfg);
  if (!x.languages.includes(lang))
    throw new Error(`X-MOD has no adapter "${lang}"; available: ${x.languages.join(", ")}`);
  const feeds: Record<string, { dtype: "float32"; dims: number[]; data: Float32Array }> = {};
  for (let i = 0; i < cfg.layers; i++)
    for (const part of ["dense1", "dense2"] as const)
      for (const kind of ["weight", "bias"] as const) {
        const dims = adapterDims(x, cfg.hidden, part, kind);
        feeds[adapterInputName(i, part, kind)] = {
          dtype: "float32",
          dims,
          data: src.read(adapterKey(i, lang, part, kind), dims).data,
        };
      }
  return feeds;
}
