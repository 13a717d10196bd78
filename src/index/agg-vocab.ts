// Target token sets for Aggretriever's target mode (the mAggretriever paper's target-language
// prediction): the distinct token ids a language's corpus holds, as the model reads it (lowercased
// when it lowercases). `xlir agg-vocab` writes one to a file; a collection stores one per language
// (agg-vocab/<lang>.json), so indexing and searching a language use that language's set.
//
// A set records the model's fingerprint and whether the text was lowercased: ids made by another
// tokenizer, or from text cased otherwise, would pick wrong rows of the vocabulary without any error.
// A stored set is never replaced by a different one: the vectors already indexed were predicted over
// the stored set, and new ones over another set would not compare with them.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Encoder } from "../encode/encoder.ts";
import { type LanguageDetector, UNDETERMINED } from "../text/langid.ts";
import { DEFAULT_NLLB_LANG } from "../text/nllb-input.ts";
import { isNllbLang, resolveNllbLang } from "../text/nllb-langs.ts";
import { stringsOf } from "./arrow.ts";
import type { Collection } from "./collection.ts";
import type { InputDoc } from "./ingest.ts";

export const AGG_VOCAB_FORMAT = "xlir-agg-vocab/1";
/** The folder of a collection that holds its token sets, one <lang>.json each. */
export const AGG_VOCAB_DIR = "agg-vocab";

export interface AggVocab {
  format: typeof AGG_VOCAB_FORMAT;
  /** NLLB-200 code. */
  lang: string;
  /** weights/fingerprint.ts of the model whose tokenizer made the ids. */
  model: string;
  /** Whether the text was lowercased before tokenizing. */
  lowercase: boolean;
  size: number;
  /** Sorted, distinct token ids. */
  ids: number[];
}

/** The language an encoder is given for a document or query of `lang` ("und" reads as English). */
export const encodedLang = (lang: string): string => (lang === UNDETERMINED ? DEFAULT_NLLB_LANG : lang);

/** A language as the indexer reads it from a document or an option: an NLLB code, or "und". */
export function documentLang(code: string, what: string): string {
  if (code.toLowerCase() === UNDETERMINED) return UNDETERMINED;
  try {
    return resolveNllbLang(code);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** The token set of `lang` over the texts of `docs`, read as `enc` reads them; `documents` counts them. */
export async function buildAggVocab(
  enc: Encoder,
  lang: string,
  docs: AsyncIterable<{ text: string; title?: string | null }>,
): Promise<{ vocab: AggVocab; documents: number }> {
  const seen = new Set<number>();
  let batch: { text: string; title?: string | null }[] = [];
  let documents = 0;
  for await (const d of docs) {
    documents++;
    batch.push(d);
    if (batch.length >= 1024) batch = addTokens(enc, seen, batch);
  }
  addTokens(enc, seen, batch);
  return { vocab: vocabOf(enc, lang, seen), documents };
}

/** The token set of `lang` over a collection's documents encoded in that language (scanned batch by batch). */
export async function collectionAggVocab(
  enc: Encoder,
  col: Collection,
  lang: string,
): Promise<{ vocab: AggVocab; documents: number }> {
  const seen = new Set<number>();
  let documents = 0;
  await col.store.scan("documents", ["lang", "title", "text"], (t) => {
    const [langs, titles, texts] = ["lang", "title", "text"].map((c) => stringsOf(t, c));
    const docs = texts.flatMap((text, i) =>
      encodedLang(langs[i] ?? UNDETERMINED) === lang ? [{ text: text ?? "", title: titles[i] }] : [],
    );
    documents += docs.length;
    addTokens(enc, seen, docs);
  });
  return { vocab: vocabOf(enc, lang, seen), documents };
}

/** Adds the token ids of the documents' texts and titles to `seen`; returns an empty batch. */
function addTokens(enc: Encoder, seen: Set<number>, docs: { text: string; title?: string | null }[]) {
  for (const id of enc.tokenSet(docs.flatMap((d) => (d.title ? [d.title, d.text] : [d.text])))) seen.add(id);
  return [];
}

function vocabOf(enc: Encoder, lang: string, seen: Set<number>): AggVocab {
  const ids = [...seen].sort((a, b) => a - b);
  return {
    format: AGG_VOCAB_FORMAT,
    lang,
    model: enc.fingerprint,
    lowercase: enc.settings.lowerCase,
    size: ids.length,
    ids,
  };
}

/**
 * The documents of an input that are in `lang`: those whose own language is `lang`, and those that
 * give none (the corpus is taken to be in `lang`). Documents in "und" are encoded as English, so
 * they count for eng_Latn.
 */
export async function* docsInLang(docs: AsyncIterable<InputDoc>, lang: string): AsyncGenerator<InputDoc> {
  for await (const d of docs) {
    if (d.lang === undefined || encodedLang(documentLang(d.lang, `${d.source}: "lang"`)) === lang) yield d;
  }
}

/** Writes a token set as JSON, atomically (temporary file, then rename). */
export function writeAggVocab(path: string, v: AggVocab): void {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(v) + "\n");
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads and checks a token set file; errors name the file and how to make a good one. */
export function readAggVocab(path: string): AggVocab {
  const remake = "make it with xlir agg-vocab";
  let raw: Partial<AggVocab>;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const fix = code === "ENOENT" ? `check the path, or ${remake}` : remake;
    throw new Error(`cannot read token set ${path} (${code ?? (e as Error).message}): ${fix}`, { cause: e });
  }
  const bad = (what: string) => new Error(`${path}: ${what}; ${remake}`);
  if (raw?.format !== AGG_VOCAB_FORMAT)
    throw bad(`format is ${JSON.stringify(raw?.format)}, not a token set ("${AGG_VOCAB_FORMAT}")`);
  if (typeof raw.lang !== "string" || !isNllbLang(raw.lang))
    throw bad(`"lang" ${JSON.stringify(raw.lang)} is not an NLLB-200 code`);
  if (typeof raw.model !== "string" || typeof raw.lowercase !== "boolean")
    throw bad(`"model" must be a fingerprint and "lowercase" true or false`);
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

/** The model a set must have been made for: its fingerprint and lowercasing, and its name for messages. */
export interface VocabModel {
  id: string;
  fingerprint: string | undefined;
  lowercase: boolean;
}

/** Refuses a token set made for another model, or from text cased otherwise; `label` names the set. */
export function checkAggVocabFits(v: AggVocab, label: string, model: VocabModel): void {
  const remake = `make it again with xlir agg-vocab --model ${model.id} --lang ${v.lang}`;
  if (model.fingerprint !== undefined && v.model !== model.fingerprint)
    throw new Error(
      `${label} was made for another model than ${model.id} (its config or weights differ): ${remake}`,
    );
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

const sameIds = (a: AggVocab, b: AggVocab) => a.size === b.size && a.ids.every((t, i) => t === b.ids[i]);

const vocabFile = (dir: string, lang: string) => join(dir, AGG_VOCAB_DIR, `${lang}.json`);
// what a language code can be before it names a file (NLLB codes are "hin_Deva")
const SAFE_LANG = /^[a-z]{3}_[A-Za-z]{4}$/;

/** The token set a collection folder holds for `lang`, or undefined. */
export function storedAggVocab(dir: string, lang: string): AggVocab | undefined {
  if (!SAFE_LANG.test(lang) || !existsSync(vocabFile(dir, lang))) return undefined;
  return readAggVocab(vocabFile(dir, lang));
}

/** The languages a collection folder holds token sets for, sorted. */
export function storedAggVocabLangs(dir: string): string[] {
  const d = join(dir, AGG_VOCAB_DIR);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith(".json") && SAFE_LANG.test(f.slice(0, -5)))
    .map((f) => f.slice(0, -5))
    .sort();
}

/**
 * Refuses sets that would replace a different stored set of the same language in collection `name`
 * (folder `dir`); returns those not stored yet. Called before anything is written, and again by
 * storeAggVocabs under the collection's lock.
 */
export function newAggVocabs(dir: string, name: string, given: Iterable<{ vocab: AggVocab; path: string }>) {
  const fresh: AggVocab[] = [];
  for (const { vocab, path } of given) {
    const stored = storedAggVocab(dir, vocab.lang);
    if (stored === undefined) fresh.push(vocab);
    else if (!sameIds(stored, vocab))
      throw new Error(
        `collection "${name}" already has a token set for ${vocab.lang} (${stored.size} ids), and ${path} differs ` +
          `from it: the documents indexed so far were encoded with the stored one; leave ${path} out, or index into a new collection`,
      );
  }
  return fresh;
}

/** Stores the sets not stored yet in the collection folder (the caller holds its lock); returns their languages. */
export function storeAggVocabs(
  dir: string,
  name: string,
  given: Iterable<{ vocab: AggVocab; path: string }>,
): string[] {
  const fresh = newAggVocabs(dir, name, given);
  if (fresh.length) mkdirSync(join(dir, AGG_VOCAB_DIR), { recursive: true });
  for (const v of fresh) writeAggVocab(vocabFile(dir, v.lang), v);
  return fresh.map((v) => v.lang);
}

/**
 * The languages, as the encoder will be given them, of input documents that have no token set
 * (`has` says which do), sorted, each with the first document in it: read before anything is
 * indexed, so target mode refuses a document it could not encode before any batch is committed.
 * Languages are read as the indexer reads them: the document's own, else `defaultLang` ("auto":
 * detected with `detect`).
 */
export async function langsWithoutVocab(
  docs: AsyncIterable<InputDoc> | Iterable<InputDoc>,
  defaultLang: string,
  has: (lang: string) => boolean,
  detect: () => Promise<LanguageDetector>,
): Promise<{ lang: string; source: string }[]> {
  const missing = new Map<string, string>();
  const dflt = defaultLang === "auto" ? "auto" : documentLang(defaultLang, "--lang");
  for await (const d of docs) {
    let lang =
      d.lang !== undefined ? documentLang(d.lang, `${d.source}: "lang" of document "${d.id}"`) : dflt;
    if (lang === "auto") lang = (await detect())(d.text);
    lang = encodedLang(lang);
    if (!missing.has(lang) && !has(lang)) missing.set(lang, d.source);
  }
  return [...missing].map(([lang, source]) => ({ lang, source })).sort((a, b) => (a.lang < b.lang ? -1 : 1));
}
