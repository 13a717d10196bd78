// How each model family turns texts into retrieval vectors, decided once at load time:
//  1. a sentence-transformers folder's own settings (pooling, Dense, Normalize, max_seq_length,
//     prompts) win;
//  2. otherwise the family's published conventions, recognised by the model id: E5 and
//     multilingual-E5 use "query: " / "passage: " prefixes, mean pooling and normalisation;
//     BGE-M3 uses [CLS] pooling, normalised, no prefix;
//  3. otherwise (any other BERT / XLM-R / NLLB checkpoint): mean pooling, normalised, no prefix —
//     what sentence-transformers builds for a plain transformers folder, plus the normalisation
//     that cosine retrieval wants.

import type { Checkpoint } from "../models/checkpoint.ts";
import type { Pooling } from "../models/pooling.ts";
import type { TextTokenizer } from "../text/tokenizer.ts";
import type { DenseLayer, SentenceTransformersModel } from "../weights/sentence-transformers.ts";

export type Role = "query" | "passage";

export interface EncoderSettings {
  pooling: Pooling;
  normalize: boolean;
  dense: DenseLayer[];
  /** Text prepended per role. */
  prompts: Record<Role, string>;
  /** Longest row in tokens, special tokens included. */
  maxLength: number;
  lowerCase: boolean;
}

const E5 = /(^|[/_-])(multilingual-)?e5([/_-]|$)/i;
const BGE_M3 = /bge-m3/i;

export function familyPrompts(id: string): Record<Role, string> {
  return E5.test(id) ? { query: "query: ", passage: "passage: " } : { query: "", passage: "" };
}

function stPooling(st: SentenceTransformersModel, source: string): Pooling {
  const modes = st.pooling.modes;
  if (modes.length !== 1 || !["cls", "mean", "max"].includes(modes[0]))
    throw new Error(`${source}: pooling ${modes.join("+")} is not supported (cls, mean or max)`);
  return modes[0] as Pooling;
}

export function resolveSettings(
  id: string,
  ck: Checkpoint,
  tok: TextTokenizer,
  st: SentenceTransformersModel | null,
): EncoderSettings {
  const limits = [ck.config.maxTokens, tok.modelMaxLength ?? Infinity, st?.maxSeqLength ?? Infinity];
  const maxLength = Math.min(...limits);
  const family = familyPrompts(id);
  const stPrompts =
    st &&
    (st.prompts.query !== undefined || st.prompts.passage !== undefined || st.prompts.document !== undefined);
  const prompts = stPrompts
    ? { query: st.prompts.query ?? "", passage: st.prompts.passage ?? st.prompts.document ?? "" }
    : family;
  if (st)
    return {
      pooling: stPooling(st, ck.dir),
      normalize: st.normalize,
      dense: st.dense,
      prompts,
      maxLength,
      lowerCase: st.doLowerCase,
    };
  const pooling: Pooling = BGE_M3.test(id) ? "cls" : "mean";
  return { pooling, normalize: true, dense: [], prompts, maxLength, lowerCase: false };
}
