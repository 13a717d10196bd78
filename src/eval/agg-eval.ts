// Aggretriever models in `xlir eval run`: the lexical mode, lowercasing and, in target mode, the
// token sets and which one each query is read with (--agg-mode, --lowercase, --agg-target).
//
// Target mode needs a token set per language (mAggretriever: the tokens seen in the lowercased
// corpus of that language). An evaluation builds them from the task itself: the set of language L
// is the tokens of every document of L in the task (XQuAD-R: L's candidate sentences), as the model
// reads them (Encoder.tokenSet), so a user needs no files beyond the model and the data. Documents
// are always read with their own language's set, as a collection indexes each language with its
// own; a query is read with the set of its own language (--agg-target query), of the documents'
// language (corpus) or of English (en): the paper's three cross-lingual rows.
import { createHash } from "node:crypto";
import type { Encoder } from "../encode/encoder.ts";
import { type AggOptions, type AggTarget, checkAggApplies } from "../encode/aggretriever.ts";
import type { AggMode } from "../models/aggretriever.ts";
import { isAggretrieverFolder, readAggretrieverFolder } from "../models/aggretriever-folder.ts";
import { resolveNllbLang } from "../text/nllb-langs.ts";
import type { EvalTask, Setting, TextSet } from "./tasks/task.ts";

/** What the user asked for; anything left out comes from the model folder. */
export interface AggEvalOptions {
  mode?: AggMode;
  lowercase?: boolean;
  target?: AggTarget;
}

export interface AggEval {
  mode: AggMode;
  lowercase: boolean;
  /** Target mode only. */
  target: AggTarget | null;
  /** For Encoder.load; its token sets are built by the encoder `bind` is given. */
  encoder: AggOptions;
  bind(enc: Encoder): void;
  /**
   * Appended to the embedding cache's model key: vectors of another mode, case or token sets are
   * other vectors. Target mode adds a hash of the texts the sets are built from (with the
   * tokenizer, already in the model's fingerprint, and the case, they decide the sets): of every
   * language's, so a run with other --langs encodes anew rather than ever reading wrong vectors.
   */
  keySuffix: string;
  /** The language a query set is read in (its token set); target mode only. */
  queryLang?: (queries: TextSet, setting: Setting) => string | undefined;
  /** For the report's header and metrics.json. */
  facts: [string, string][];
}

const ENGLISH = "eng_Latn";

/**
 * The Aggretriever settings of an evaluation of the model in `dir`; undefined for other models
 * (then any of the options is an error: they would be silently ignored).
 */
export function aggEval(
  model: string,
  dir: string,
  task: EvalTask,
  given: AggEvalOptions = {},
): AggEval | undefined {
  if (!isAggretrieverFolder(dir)) {
    refuseAggOptions(model, given);
    return undefined;
  }
  const folder = readAggretrieverFolder(dir);
  folder.close();
  const mode = given.mode ?? folder.defaults.mode;
  const lowercase = given.lowercase ?? folder.defaults.lowercase;
  if (given.target && mode !== "target")
    throw new Error(
      `--agg-target picks the token set of target mode, but ${model} runs in ${mode} mode; add --agg-mode target or leave --agg-target out`,
    );
  const facts: [string, string][] = [
    [
      "lexical prediction",
      mode === "mlm"
        ? "mlm (MLM over the whole vocabulary)"
        : mode === "self"
          ? "self (each token's own id)"
          : "target (MLM over each language's token set: the tokens of its documents in this task)",
    ],
    ["lowercase", lowercase ? "yes" : "no"],
  ];
  const base = { mode, lowercase, encoder: { mode, lowercase }, bind: () => {} };
  if (mode !== "target")
    return { ...base, target: null, keySuffix: `|agg:${mode}|lowercase:${lowercase}`, facts };

  const target = given.target ?? "query";
  const byLang = documentTexts(task);
  const english = [...byLang.keys()].find((l) => nllbCode(l) === ENGLISH);
  const queryLang = (queries: TextSet, s: Setting): string | undefined => {
    if (target === "en") {
      if (english === undefined)
        throw new Error(
          `--agg-target en reads queries with English's token set, built from the English documents, but ${task.name} has none here; add English to --langs`,
        );
      return english;
    }
    if (target === "query") return queries.lang;
    const langs = [...new Set(s.docs.map((d) => d.lang))];
    if (langs.length !== 1)
      throw new Error(
        `--agg-target corpus: the documents of ${task.name} ${s.id} are in ${langs.length} languages, so there is no one corpus language; use --agg-target query or en`,
      );
    return langs[0];
  };
  // Every set a run will ask for, checked now rather than after minutes of encoding.
  for (const s of task.settings) {
    for (const d of s.docs) needSet(d.lang, byLang, task, "documents");
    for (const q of s.queries) needSet(queryLang(q, s), byLang, task, `queries (${s.id})`);
  }
  const sets = new Map<string, number[]>();
  let enc: Encoder | undefined;
  const vocab = (lang: string): readonly number[] | undefined => {
    let ids = sets.get(lang);
    const texts = byLang.get(lang);
    if (!ids && texts && enc) sets.set(lang, (ids = enc.tokenSet(texts)));
    return ids;
  };
  const h = createHash("sha256");
  for (const [lang, texts] of [...byLang].sort(([a], [b]) => (a < b ? -1 : 1)))
    for (const t of [lang, String(texts.length), ...texts]) h.update(`${t.length}:`).update(t);
  facts.push([
    "query token set",
    target === "query"
      ? "the query's language (--agg-target query)"
      : target === "corpus"
        ? "the documents' language (--agg-target corpus)"
        : "English (--agg-target en)",
  ]);
  return {
    ...base,
    target,
    encoder: { mode, lowercase, vocab },
    bind: (e) => (enc = e),
    keySuffix: `|agg:${mode}|lowercase:${lowercase}|vocab:${h.digest("hex").slice(0, 32)}`,
    queryLang,
    facts,
  };
}

/** Throws when Aggretriever options are given for `model`, which is not an Aggretriever model. */
export const refuseAggOptions = (model: string, given: AggEvalOptions = {}) =>
  checkAggApplies(false, { aggMode: given.mode, lowercase: given.lowercase, aggTarget: given.target }, model);

/** Each language's document texts in the task (a set shared by settings counted once). */
function documentTexts(task: EvalTask): Map<string, string[]> {
  const seen = new Set<TextSet>();
  const out = new Map<string, string[]>();
  for (const s of task.settings)
    for (const d of s.docs) {
      if (seen.has(d) || d.lang === undefined) continue;
      seen.add(d);
      const texts = out.get(d.lang) ?? [];
      texts.push(...d.texts);
      out.set(d.lang, texts);
    }
  return out;
}

function needSet(lang: string | undefined, byLang: Map<string, string[]>, task: EvalTask, what: string) {
  if (lang === undefined)
    throw new Error(
      `--agg-mode target picks a token set by language, but ${task.name} does not say the language of its ${what}; use --agg-mode mlm or self`,
    );
  if (!byLang.has(lang))
    throw new Error(
      `--agg-mode target: ${task.name} has no documents in ${lang} to build its token set from, which its ${what} need; use --agg-target corpus or en, or --agg-mode mlm or self`,
    );
}

function nllbCode(lang: string): string | undefined {
  try {
    return resolveNllbLang(lang);
  } catch {
    return undefined;
  }
}
