// How each model family turns texts into retrieval vectors, decided once at load time:
//  1. a sentence-transformers folder's own settings (pooling, Dense, Normalize, max_seq_length)
//     win;
//  2. otherwise the family's published conventions: E5 and multilingual-E5 use "query: " /
//     "passage: " prefixes, mean pooling and normalisation; BGE-M3 uses [CLS] pooling, normalised,
//     no prefix;
//  3. otherwise (any other BERT / XLM-R / NLLB checkpoint): mean pooling, normalised, no prefix —
//     what sentence-transformers builds for a plain transformers folder, plus the normalisation
//     that cosine retrieval wants.
// The prefixes change every vector, so they are decided from the checkpoint itself where it can
// say (decidePrompts): a folder's name is only the last resort, said out loud, since copying a
// folder to another name must not change its embeddings.

import type { Checkpoint } from "../models/checkpoint.ts";
import type { Pooling } from "../models/pooling.ts";
import type { TextTokenizer } from "../text/tokenizer.ts";
import type {
  DenseLayer,
  PromptConfig,
  SentenceTransformersModel,
} from "../weights/sentence-transformers.ts";

export type Role = "query" | "passage";

/** Where the prefixes came from, most trusted first. */
export type PromptSource = "given" | "sentence-transformers" | "recorded" | "hub id" | "name" | "none";

export interface EncoderSettings {
  pooling: Pooling;
  normalize: boolean;
  dense: DenseLayer[];
  /** Text prepended per role. */
  prompts: Record<Role, string>;
  promptSource: PromptSource;
  /** Longest row in tokens, special tokens included. */
  maxLength: number;
  lowerCase: boolean;
}

const E5 = /(^|[/_-])(multilingual-)?e5([/_-]|$)/i;
const BGE_M3 = /bge-m3/i;

export function familyPrompts(id: string): Record<Role, string> {
  return E5.test(id) ? { query: "query: ", passage: "passage: " } : { query: "", passage: "" };
}

/** What is known about a checkpoint's prefixes, from the most to the least trusted. */
export interface PromptClues {
  /** Prefixes the caller gave (--query-prefix / --passage-prefix, or a collection's record). */
  given?: Partial<Record<Role, string>>;
  /** config_sentence_transformers.json, when the folder has one. */
  st?: PromptConfig | null;
  /** What xlir recorded in a folder it wrote (nllb_e5.json). */
  recorded?: Record<Role, string> | null;
  /** The hub id, when the checkpoint came from the hub (or is a hub cache snapshot). */
  hubId?: string | null;
  /** The model as the user named it: its name is the last resort. */
  name: string;
  /** NLLB (m2m100) encoders take a language code, not a text prefix: nothing to warn about. */
  prefixFree?: boolean;
}

export interface PromptDecision {
  prompts: Record<Role, string>;
  source: PromptSource;
  /** Said once at load when the prefixes were guessed or are unknown; null otherwise. */
  warning: string | null;
}

const HOW_TO_SET = "--query-prefix/--passage-prefix";

/** The role prompts a sentence-transformers config names, or null when it names none. */
function stRolePrompts(st: PromptConfig): Record<Role, string> | null {
  const fallback = st.defaultPromptName !== null ? st.prompts[st.defaultPromptName] : undefined;
  const query = st.prompts.query ?? fallback;
  const passage = st.prompts.passage ?? st.prompts.document ?? fallback;
  if (query === undefined && passage === undefined) return null;
  return { query: query ?? "", passage: passage ?? "" };
}

/**
 * The query/passage prefixes: what the caller gave, else what the checkpoint's own files say
 * (sentence-transformers prompts, then xlir's record), else the conventions of its hub id, else a
 * guess from its name (with a warning), else none (with a warning unless the family takes none).
 * A prefix given for one role only leaves the other to the rest of the chain.
 */
export function decidePrompts(c: PromptClues): PromptDecision {
  const chain = decideFromModel(c);
  const given = c.given ?? {};
  if (given.query === undefined && given.passage === undefined) return chain;
  const both = given.query !== undefined && given.passage !== undefined;
  return {
    prompts: { query: given.query ?? chain.prompts.query, passage: given.passage ?? chain.prompts.passage },
    source: both ? "given" : chain.source,
    // the caller has thought about prefixes: no advice needed
    warning: null,
  };
}

function decideFromModel(c: PromptClues): PromptDecision {
  const fromSt = c.st ? stRolePrompts(c.st) : null;
  if (fromSt) return { prompts: fromSt, source: "sentence-transformers", warning: null };
  if (c.recorded) return { prompts: { ...c.recorded }, source: "recorded", warning: null };
  if (c.hubId) return { prompts: familyPrompts(c.hubId), source: "hub id", warning: null };
  if (E5.test(c.name)) {
    const prompts = familyPrompts(c.name);
    return {
      prompts,
      source: "name",
      warning:
        `prefixes "${prompts.query}"/"${prompts.passage}" for ${c.name} were guessed from its name: ` +
        `set them with ${HOW_TO_SET} (or "prompts" in its config_sentence_transformers.json)`,
    };
  }
  // a config that lists its prompts, even none, has spoken; so has a family without prefixes
  const known = c.prefixFree || c.st?.hasPrompts;
  return {
    prompts: { query: "", passage: "" },
    source: "none",
    warning: known
      ? null
      : `no query/passage prefixes known for ${c.name}: give ${HOW_TO_SET} if it expects them`,
  };
}

function stPooling(st: SentenceTransformersModel, source: string): Pooling {
  const modes = st.pooling.modes;
  if (modes.length !== 1 || !["cls", "mean", "max"].includes(modes[0]))
    throw new Error(`${source}: pooling ${modes.join("+")} is not supported (cls, mean or max)`);
  return modes[0] as Pooling;
}

/** `id` names the family (the hub id when known, else the path); `prompts` from decidePrompts. */
export function resolveSettings(
  id: string,
  ck: Checkpoint,
  tok: TextTokenizer,
  st: SentenceTransformersModel | null,
  prompts: PromptDecision,
): EncoderSettings {
  const limits = [ck.config.maxTokens, tok.modelMaxLength ?? Infinity, st?.maxSeqLength ?? Infinity];
  const maxLength = Math.min(...limits);
  const common = { prompts: prompts.prompts, promptSource: prompts.source, maxLength };
  if (st)
    return {
      pooling: stPooling(st, ck.dir),
      normalize: st.normalize,
      dense: st.dense,
      lowerCase: st.doLowerCase,
      ...common,
    };
  const pooling: Pooling = BGE_M3.test(id) ? "cls" : "mean";
  return { pooling, normalize: true, dense: [], lowerCase: false, ...common };
}
