// BERT and XLM-RoBERTa encoders (one layout: XLM-R reuses BERT's) as graphs, following Hugging Face's
// BertModel / XLMRobertaModel: embeddings = LN(word + position + token type), post-LN layers,
// attention with finfo.min on padded keys. The only difference: XLM-R's position ids start at
// pad + 1 and skip padding. Also the pooler and the two MLM heads (for mAggretriever).

import type { Value } from "../tensor/graph.ts";
import * as o from "../tensor/ops.ts";
import type { ModelConfig } from "../weights/config.ts";
import { activation } from "./activations.ts";
import type { Params } from "./checkpoint.ts";
import {
  type LinearHook,
  layerNorm,
  linear,
  paddedPositions,
  selfAttention,
  sequentialPositions,
} from "./layers.ts";

export interface BertInputs {
  /** int64 [batch, seq] token ids (or `embeds` instead). */
  ids?: Value;
  /** float32 [batch, seq, hidden] word embeddings supplied by the caller (NLLB-E5 feeds these). */
  embeds?: Value;
  /** int64 [batch, seq] 1 for tokens, 0 for padding. */
  mask: Value;
  /** int64 [batch, seq]; absent means all type 0. */
  tokenTypes?: Value;
}

export function bertEmbeddings(p: Params, cfg: ModelConfig, inp: BertInputs): Value {
  const d = cfg.hidden;
  const words = p("embeddings.word_embeddings.weight", [cfg.vocabSize, d]);
  const x = inp.embeds ?? o.gather(words, inp.ids!);
  let positions: Value;
  if (cfg.family === "xlm-roberta" && inp.ids) positions = paddedPositions(inp.ids, cfg.padTokenId ?? 1);
  else {
    // BERT: 0..seq-1; XLM-R given embeddings: pad+1.. (transformers' create_position_ids_from_inputs_embeds)
    const offset = cfg.family === "xlm-roberta" ? (cfg.padTokenId ?? 1) + 1 : 0;
    positions = o.add(sequentialPositions(inp.mask), offset);
  }
  let sum = o.add(x, o.gather(p("embeddings.position_embeddings.weight", [cfg.maxPositions, d]), positions));
  if (cfg.typeVocabSize > 0) {
    const types = p("embeddings.token_type_embeddings.weight", [cfg.typeVocabSize, d]);
    sum = o.add(
      sum,
      inp.tokenTypes
        ? o.gather(types, inp.tokenTypes)
        : o.gather(types, types.graph.constant("int64", [0], [])),
    );
  }
  return layerNorm(p, "embeddings.LayerNorm", sum, d, cfg.layerNormEps);
}

/** last_hidden_state [batch, seq, hidden]; `hook` sees every linear layer (LoRA). */
export function bertEncoder(p: Params, cfg: ModelConfig, inp: BertInputs, hook?: LinearHook): Value {
  if (cfg.xmod)
    throw new Error(
      `an X-MOD checkpoint (model_type "xmod") needs its language adapters: load ColBERT-XM folders with ColbertModel.load (plain X-MOD embedding is not supported)`,
    );
  if (cfg.positionEmbeddingType !== "absolute")
    throw new Error(
      `position_embedding_type "${cfg.positionEmbeddingType}" is not supported (only "absolute")`,
    );
  const d = cfg.hidden;
  const act = activation(cfg.act, "config.json hidden_act");
  const bias = o.attentionBias(inp.mask, "float32");
  let x = bertEmbeddings(p, cfg, inp);
  for (let i = 0; i < cfg.layers; i++) {
    const l = `encoder.layer.${i}`;
    const att = selfAttention(p, attentionNames(l), x, bias, d, cfg.heads, hook);
    x = layerNorm(p, `${l}.attention.output.LayerNorm`, o.add(att, x), d, cfg.layerNormEps);
    const up = act(linear(p, `${l}.intermediate.dense`, x, d, cfg.ffn, hook));
    x = layerNorm(
      p,
      `${l}.output.LayerNorm`,
      o.add(linear(p, `${l}.output.dense`, up, cfg.ffn, d, hook), x),
      d,
      cfg.layerNormEps,
    );
  }
  return x;
}

/** pooler_output = tanh(dense(h[:, 0])). */
export function bertPooler(p: Params, cfg: ModelConfig, h: Value): Value {
  const cls = o.squeeze(o.slice(h, [0], [1], [1]), [1]);
  return o.tanh(linear(p, "pooler.dense", cls, cfg.hidden, cfg.hidden));
}

/**
 * Where a checkpoint keeps its MLM head: BERT's cls.predictions (transform with the config's
 * activation) or XLM-R's lm_head (always erf GELU); the decoder is tied to the word embeddings.
 */
export function mlmHead(cfg: ModelConfig): { dense: string; layerNorm: string; bias: string; words: string } {
  const bert = cfg.family === "bert";
  const transform = bert ? "cls.predictions.transform" : "lm_head";
  return {
    dense: `${transform}.dense`,
    layerNorm: bert ? `${transform}.LayerNorm` : `${transform}.layer_norm`,
    bias: bert ? "cls.predictions.bias" : "lm_head.bias",
    words: "embeddings.word_embeddings.weight",
  };
}

/** The MLM head's transform LN(act(dense(h))) [batch, seq, hidden], before the vocabulary projection. */
export function mlmTransform(p: Params, cfg: ModelConfig, h: Value): Value {
  const d = cfg.hidden;
  const names = mlmHead(cfg);
  const act = cfg.family === "bert" ? activation(cfg.act, "config.json hidden_act") : o.gelu;
  return layerNorm(p, names.layerNorm, act(linear(p, names.dense, h, d, d)), d, cfg.layerNormEps);
}

/** MLM logits [batch, seq, vocab]. */
export function mlmLogits(p: Params, cfg: ModelConfig, h: Value): Value {
  const names = mlmHead(cfg);
  const words = p(names.words, [cfg.vocabSize, cfg.hidden]);
  const bias = p(names.bias, [cfg.vocabSize]);
  return o.add(o.matmul(mlmTransform(p, cfg, h), o.transpose(words, [1, 0])), bias);
}

/** The self-attention weights of BERT layer `l` (a prefix like "encoder.layer.3"). */
export function attentionNames(l: string) {
  return {
    q: `${l}.attention.self.query`,
    k: `${l}.attention.self.key`,
    v: `${l}.attention.self.value`,
    out: `${l}.attention.output.dense`,
  };
}
