// The token-set file of Aggretriever's target mode (the mAggretriever paper's target-language
// prediction): the distinct token ids a language's corpus holds, as the model reads it (lowercased
// when it lowercases). `xlir agg-vocab` writes one; collections store one per language; training
// in target mode reads one.
//
// A set records the fingerprint of the tokenizer that made it and whether the text was lowercased:
// ids of another tokenizer, or from text cased otherwise, would pick wrong rows of the vocabulary
// without any error. (The weights do not matter: a set made before training serves after it.)
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { isNllbLang } from "../text/nllb-langs.ts";

export const AGG_VOCAB_FORMAT = "xlir-agg-vocab/1";
export interface AggVocab {
  format: typeof AGG_VOCAB_FORMAT;
  /** NLLB-200 code. */
  lang: string;
  /** TextTokenizer.fingerprint of the tokenizer that made the ids. */
  tokenizer: string;
  /** Whether the text was lowercased before tokenizing. */
  lowercase: boolean;
  size: number;
  /** Sorted, distinct token ids. */
  ids: number[];
}

/** Writes a token set as JSON, atomically (temporary file, then rename). */
export function writeAggVocab(path: string, v: AggVocab): void {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    writeFileSync(tmp, aggVocabBytes(v));
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** A token set's JSON bytes (what a collection's store keeps). */
export function aggVocabBytes(v: AggVocab): Buffer {
  return Buffer.from(JSON.stringify(v) + "\n");
}

/** Reads and checks a token set file; errors name the file and how to make a good one. */
export function readAggVocab(path: string): AggVocab {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const fix = code === "ENOENT" ? `check the path, or ${REMAKE}` : REMAKE;
    throw new Error(`cannot read token set ${path} (${code ?? (e as Error).message}): ${fix}`, { cause: e });
  }
  return parseAggVocab(text, path);
}

const REMAKE = "make it with xlir agg-vocab";

/** A token set from its JSON text, checked; `path` names it in errors. */
export function parseAggVocab(text: string, path: string): AggVocab {
  const remake = REMAKE;
  let raw: Partial<AggVocab>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`cannot read token set ${path} (${(e as Error).message}): ${remake}`, { cause: e });
  }
  const bad = (what: string) => new Error(`${path}: ${what}; ${remake}`);
  if (raw?.format !== AGG_VOCAB_FORMAT)
    throw bad(`format is ${JSON.stringify(raw?.format)}, not a token set ("${AGG_VOCAB_FORMAT}")`);
  if (typeof raw.lang !== "string" || !isNllbLang(raw.lang))
    throw bad(`"lang" ${JSON.stringify(raw.lang)} is not an NLLB-200 code`);
  if (typeof raw.tokenizer !== "string" || typeof raw.lowercase !== "boolean")
    throw bad(`"tokenizer" must be a fingerprint and "lowercase" true or false`);
  const ids = raw.ids;
  if (
    !Array.isArray(ids) ||
    !ids.every((t, i) => Number.isInteger(t) && t >= 0 && (i === 0 || t > ids[i - 1]))
  )
    throw bad(`"ids" must be increasing token ids`);
  if (ids.length === 0 || raw.size !== ids.length)
    throw bad(`"size" must count the ids, and there must be some`);
  return raw as AggVocab;
}

/** The model a set must have been made for: its tokenizer's fingerprint, its lowercasing, its name for messages. */
export interface VocabModel {
  id: string;
  tokenizer: string;
  lowercase: boolean;
}

/** Refuses a token set made for another model, or from text cased otherwise; `label` names the set. */
export function checkAggVocabFits(v: AggVocab, label: string, model: VocabModel): void {
  const remake = `make it again with xlir agg-vocab --model ${model.id} --lang ${v.lang}`;
  if (v.tokenizer !== model.tokenizer)
    throw new Error(`${label} was made with another tokenizer than ${model.id}'s: ${remake}`);
  if (v.lowercase !== model.lowercase) {
    const flag = model.lowercase ? "" : " --no-lowercase";
    throw new Error(
      `${label} was made from ${v.lowercase ? "lowercased" : "cased"} text, but ${model.id} reads text ` +
        `${model.lowercase ? "lowercased" : "as cased"} here: ${remake}${flag}`,
    );
  }
}

/** Token sets given by file, one per language (the same language twice must be the same set). */
export function readAggVocabFiles(paths: readonly string[]): Map<string, { vocab: AggVocab; path: string }> {
  const out = new Map<string, { vocab: AggVocab; path: string }>();
  for (const path of paths) {
    const vocab = readAggVocab(path);
    const prev = out.get(vocab.lang);
    if (prev && !sameIds(prev.vocab, vocab))
      throw new Error(`${prev.path} and ${path} are two different token sets of ${vocab.lang}: give one`);
    out.set(vocab.lang, { vocab, path });
  }
  return out;
}

/** Whether two sets hold the same ids. */
export const sameIds = (a: AggVocab, b: AggVocab) =>
  a.size === b.size && a.ids.every((t, i) => t === b.ids[i]);
