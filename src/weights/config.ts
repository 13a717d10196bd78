// Hugging Face config.json -> one normalised, typed description of an encoder, for the three
// families xlir builds graphs for. Absent fields take the defaults of transformers' config classes
// (BertConfig, XLMRobertaConfig, M2M100Config, MarianConfig as of v4.43), so a hand-trimmed
// config.json means what it means to transformers.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export type ModelFamily = "bert" | "xlm-roberta" | "m2m100" | "marian";

export interface DecoderConfig {
  layers: number;
  heads: number;
  ffn: number;
  startTokenId: number | null;
  /** Rows of the decoder's embedding and LM head (Marian's decoder_vocab_size; else vocab_size). */
  vocabSize: number;
}

export interface ModelConfig {
  family: ModelFamily;
  /** model_type as written (or as inferred from architectures). */
  modelType: string;
  /** The saved classes, e.g. ["BertModel"]; [] when absent. */
  architectures: string[];
  vocabSize: number;
  hidden: number;
  /** Encoder layers. */
  layers: number;
  /** Encoder attention heads. */
  heads: number;
  headDim: number;
  /** Encoder feed-forward width. */
  ffn: number;
  /** hidden_act (bert, xlm-roberta) or activation_function (m2m100), e.g. "gelu" (erf form), "relu". */
  act: string;
  /** Rows of the learned position table (bert, xlm-roberta) or max_position_embeddings (m2m100). */
  maxPositions: number;
  /** Longest token sequence the position scheme allows (XLM-R spends pad_token_id + 1 rows). */
  maxTokens: number;
  /** Token-type rows (0 for m2m100, which has none). */
  typeVocabSize: number;
  /** m2m100 has no config field: its LayerNorms use PyTorch's default 1e-5. */
  layerNormEps: number;
  /** "absolute" | "relative_key" | "relative_key_query" (bert, xlm-roberta); "sinusoidal" (m2m100). */
  positionEmbeddingType: string;
  padTokenId: number | null;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** m2m100 multiplies token embeddings by sqrt(hidden) when true; always false for bert/xlm-roberta. */
  scaleEmbedding: boolean;
  tieWordEmbeddings: boolean;
  /** The decoder of a seq2seq family (m2m100, marian); null for encoder-only families. */
  decoder: DecoderConfig | null;
  /** torch_dtype (or dtype, newer transformers) as saved, e.g. "float32"; null when absent. */
  torchDtype: string | null;
  /** The parsed config.json, for fields not normalised here. */
  raw: Readonly<Record<string, unknown>>;
  /** X-MOD (model_type "xmod", family xlm-roberta): the language adapters; absent for other types. */
  xmod?: XmodConfig;
}

/** XmodConfig's adapter fields (transformers' defaults when absent). */
export interface XmodConfig {
  /** Adapter names in adapter-index order (config `languages`). */
  languages: string[];
  /** The adapter used when a text names no language (`default_language`); null when unset. */
  defaultLanguage: string | null;
  /** Adapter bottleneck = hidden // adapter_reduction_factor. */
  bottleneck: number;
  /** `adapter_layer_norm`: a separate LayerNorm before each adapter. */
  adapterLayerNorm: boolean;
  /** `adapter_reuse_layer_norm`: the layer's output LayerNorm, applied before the adapter too. */
  adapterReuseLayerNorm: boolean;
  /** `ln_before_adapter`: the adapter's residual is the normalised input (else the raw one). */
  lnBeforeAdapter: boolean;
  /** `pre_norm`: pre-LN layers and a final encoder LayerNorm. */
  preNorm: boolean;
}

const MODEL_TYPES: Record<string, ModelFamily> = {
  bert: "bert",
  "xlm-roberta": "xlm-roberta",
  // X-MOD is XLM-R with a bottleneck adapter per language in every layer (ModelConfig.xmod)
  xmod: "xlm-roberta",
  m2m_100: "m2m100",
  marian: "marian",
};
const SUPPORTED = `supported model_type values: "bert", "xlm-roberta", "m2m_100" (NLLB-200), "marian" (opus-mt), "xmod" (X-MOD)`;
// Class-name prefixes for configs without model_type (old checkpoints); longest first.
const ARCH_PREFIXES: [string, ModelFamily][] = [
  ["XLMRoberta", "xlm-roberta"],
  ["M2M100", "m2m100"],
  ["Marian", "marian"],
  ["Bert", "bert"],
];

/** Reads config.json at `path` (or inside the folder `path`) and normalises it. */
export function readConfig(path: string): ModelConfig {
  if (!existsSync(path)) throw new Error(`${path}: config not found; pass a model folder or its config.json`);
  const file = statSync(path).isDirectory() ? join(path, "config.json") : path;
  if (!existsSync(file)) {
    throw new Error(`${file}: config.json not found; is this a Hugging Face model folder?`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const why =
      e instanceof SyntaxError
        ? `invalid JSON (${e.message}); fix or re-download the file`
        : `cannot read (${(e as Error).message})`;
    throw new Error(`${file}: ${why}`, { cause: e });
  }
  return parseConfig(json, file);
}

/** Normalises an already-parsed config.json object; `source` names it in error messages. */
export function parseConfig(json: unknown, source = "config.json"): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error(`${source}: expected a JSON object; is this a Hugging Face config.json?`);
  }
  const raw = json as Record<string, unknown>;
  const f = fields(raw, source);
  const architectures = f.strings("architectures");
  const family = familyOf(raw.model_type, architectures, source);
  const modelType = typeof raw.model_type === "string" ? raw.model_type : familyTypeName(family);
  const common = {
    family,
    modelType,
    architectures,
    tieWordEmbeddings: f.bool("tie_word_embeddings", true),
    torchDtype: f.stringOrNull("dtype") ?? f.stringOrNull("torch_dtype"),
    raw,
  };

  if (family === "m2m100" || family === "marian") {
    // M2M100Config.attribute_map: hidden_size -> d_model, num_attention_heads -> encoder_attention_heads;
    // transformers lets the alias win when both are present, so do we. MarianConfig has the same
    // fields with other defaults (opus-mt's: pad = decoder start = the last id, eos 0, GELU).
    const marian = family === "marian";
    const hidden = f.int("hidden_size", f.int("d_model", 1024));
    const heads = f.int("num_attention_heads", f.int("encoder_attention_heads", 16));
    const maxPositions = f.int("max_position_embeddings", 1024);
    const vocabSize = f.int("vocab_size", marian ? 58101 : 128112);
    return {
      ...common,
      vocabSize,
      hidden,
      layers: f.int("encoder_layers", 12),
      heads,
      headDim: headDim(hidden, heads, source),
      ffn: f.int("encoder_ffn_dim", 4096),
      act: f.string("activation_function", marian ? "gelu" : "relu"),
      maxPositions,
      // M2M100's sinusoidal table has max_position_embeddings + 2 rows (ids start at pad + 1 = 2);
      // Marian's has max_position_embeddings rows from 0.
      maxTokens: maxPositions,
      typeVocabSize: 0,
      layerNormEps: 1e-5,
      positionEmbeddingType: "sinusoidal",
      padTokenId: f.tokenId("pad_token_id", marian ? 58100 : 1),
      bosTokenId: f.tokenId("bos_token_id", marian ? null : 0),
      eosTokenId: f.tokenId("eos_token_id", marian ? 0 : 2),
      scaleEmbedding: f.bool("scale_embedding", !marian),
      decoder: {
        layers: f.int("decoder_layers", 12),
        heads: f.int("decoder_attention_heads", 16),
        ffn: f.int("decoder_ffn_dim", 4096),
        startTokenId: f.tokenId("decoder_start_token_id", marian ? 58100 : 2),
        vocabSize: marian ? f.int("decoder_vocab_size", vocabSize) : vocabSize,
      },
    };
  }

  // BertConfig and XLMRobertaConfig share every field and default but the special token ids.
  const xlmr = family === "xlm-roberta";
  const hidden = f.int("hidden_size", 768);
  const heads = f.int("num_attention_heads", 12);
  const maxPositions = f.int("max_position_embeddings", 512);
  const padTokenId = f.tokenId("pad_token_id", xlmr ? 1 : 0);
  return {
    ...common,
    vocabSize: f.int("vocab_size", 30522),
    hidden,
    layers: f.int("num_hidden_layers", 12),
    heads,
    headDim: headDim(hidden, heads, source),
    ffn: f.int("intermediate_size", 3072),
    act: f.string("hidden_act", "gelu"),
    maxPositions,
    // XLM-R position ids are pad + 1 + index, so rows 0..pad are never used by real tokens.
    maxTokens: xlmr ? maxPositions - (padTokenId ?? 1) - 1 : maxPositions,
    typeVocabSize: f.int("type_vocab_size", 2, 0),
    layerNormEps: f.number("layer_norm_eps", 1e-12),
    positionEmbeddingType: f.string("position_embedding_type", "absolute"),
    padTokenId,
    bosTokenId: f.tokenId("bos_token_id", xlmr ? 0 : null),
    eosTokenId: f.tokenId("eos_token_id", xlmr ? 2 : null),
    scaleEmbedding: false,
    decoder: null,
    ...(modelType === "xmod" && { xmod: xmodConfig(f, raw, hidden, source) }),
  };
}

function xmodConfig(
  f: ReturnType<typeof fields>,
  raw: Record<string, unknown>,
  hidden: number,
  source: string,
): XmodConfig {
  const languages = "languages" in raw ? f.strings("languages") : ["en_XX"];
  if (languages.length === 0)
    throw new Error(`${source}: "languages" is empty; an X-MOD config lists its adapters`);
  const defaultLanguage = f.stringOrNull("default_language");
  if (defaultLanguage !== null && !languages.includes(defaultLanguage))
    throw new Error(
      `${source}: default_language "${defaultLanguage}" is not in languages (${languages.join(", ")}); fix the config.json`,
    );
  const factor = f.int("adapter_reduction_factor", 2);
  return {
    languages,
    defaultLanguage,
    bottleneck: Math.floor(hidden / factor),
    adapterLayerNorm: f.bool("adapter_layer_norm", false),
    adapterReuseLayerNorm: f.bool("adapter_reuse_layer_norm", true),
    lnBeforeAdapter: f.bool("ln_before_adapter", true),
    preNorm: f.bool("pre_norm", false),
  };
}

function familyOf(modelType: unknown, architectures: string[], source: string): ModelFamily {
  if (modelType !== undefined && modelType !== null) {
    const family = typeof modelType === "string" ? MODEL_TYPES[modelType] : undefined;
    if (!family)
      throw new Error(`${source}: model_type ${JSON.stringify(modelType)} is not supported; ${SUPPORTED}`);
    return family;
  }
  for (const arch of architectures) {
    const hit = ARCH_PREFIXES.find(([prefix]) => arch.startsWith(prefix));
    if (hit) return hit[1];
  }
  const archs = architectures.length ? `architectures ${JSON.stringify(architectures)}` : "no architectures";
  throw new Error(`${source}: no model_type and ${archs} that xlir recognises; ${SUPPORTED}`);
}

function familyTypeName(family: ModelFamily): string {
  return Object.keys(MODEL_TYPES).find((k) => MODEL_TYPES[k] === family)!;
}

function headDim(hidden: number, heads: number, source: string): number {
  if (hidden % heads !== 0) {
    throw new Error(`${source}: hidden size ${hidden} is not a multiple of the ${heads} attention heads`);
  }
  return hidden / heads;
}

/** Typed field readers: absent (or null, for optional ones) -> default; wrong type -> one-line error. */
function fields(raw: Record<string, unknown>, source: string) {
  const wrong = (key: string, want: string) =>
    new Error(`${source}: "${key}" must be ${want}, got ${JSON.stringify(raw[key])}; fix the config.json`);
  return {
    int(key: string, dflt: number, min = 1): number {
      const v = raw[key] ?? dflt;
      if (!Number.isSafeInteger(v) || (v as number) < min) throw wrong(key, `an integer >= ${min}`);
      return v as number;
    },
    number(key: string, dflt: number): number {
      const v = raw[key] ?? dflt;
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw wrong(key, "a non-negative number");
      return v;
    },
    tokenId(key: string, dflt: number | null): number | null {
      if (!(key in raw)) return dflt;
      const v = raw[key];
      if (v === null) return null;
      if (!Number.isSafeInteger(v) || (v as number) < 0)
        throw wrong(key, "a token id (integer >= 0) or null");
      return v as number;
    },
    string(key: string, dflt: string): string {
      const v = raw[key] ?? dflt;
      if (typeof v !== "string") throw wrong(key, "a string");
      return v;
    },
    stringOrNull(key: string): string | null {
      const v = raw[key] ?? null;
      if (v !== null && typeof v !== "string") throw wrong(key, "a string");
      return v;
    },
    bool(key: string, dflt: boolean): boolean {
      const v = raw[key] ?? dflt;
      if (typeof v !== "boolean") throw wrong(key, "true or false");
      return v;
    },
    strings(key: string): string[] {
      const v = raw[key] ?? [];
      if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw wrong(key, "a list of strings");
      return v;
    },
  };
}
