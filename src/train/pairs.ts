// Training pairs for contrastive fine-tuning (query, positive passage, optional hard negatives),
// from the shapes people have on disk:
//  - JSONL (.jsonl, .json, .ndjson): one object a line.
//      xlir's own      {"query", "positive": "text" | {"title","text"}, "negatives"?: [...], "lang"?}
//      SWIM-IR         {"_id", "lang": "Bengali", "code": "bn", "query", "title", "text"}
//      sentence-transformers  {"anchor"|"query", "positive", "negative"?} and {"sentence1","sentence2"},
//                      mine_hard_negatives' n-tuples {"query", "positive", "negative_1", "negative_2", ...}
//      FlagEmbedding   {"query", "pos": [...], "neg": [...]}
//    Negatives from every field that holds them ("negatives", "negative", "neg", "negative_N") are
//    all used. A row with several positives ("pos": [a, b]) gives one example per positive.
//  - TSV (.tsv): query<TAB>positive[<TAB>negative...]; a first row that names its columns
//    (anchor/query, positive, negative...) is a header and skipped.
//  Other extensions: JSONL when the first non-blank line starts with "{", else TSV.
//
// A passage reads as the model reads it: `${title} ${text}` when it has a title, else its text.
// Languages are NLLB-200 codes (resolveNllbLang): "lang" takes a FLORES-200 code, an alias ("bn",
// "hin", "zh-Hant"), an English language name (SWIM-IR writes "Bengali"), or "auto" (detected from
// the query); SWIM-IR's ISO "code" is preferred to its "lang" name. A detector answer of "und"
// (cannot tell) leaves the language undefined.
//
// The whole read is synchronous and happens before any training: the first malformed line stops
// it with `file:line: what is wrong` and what to do.

import { extname } from "node:path";
import { NLLB_LANGS, resolveNllbLang } from "../text/nllb-langs.ts";
import { readLines } from "./data.ts";

export interface Passage {
  title?: string;
  text: string;
}

export interface PairExample {
  query: string;
  /** Passage text as the model reads it: `${title} ${text}` when a title is given (trimmed), else text. */
  positive: string;
  /** Hard negatives, same flattening; [] when none. */
  negatives: string[];
  /** The query's language as an NLLB-200 code (resolveNllbLang); undefined when the row has none. */
  lang?: string;
  /** "file:line" for messages. */
  where: string;
}

export interface ReadPairsOptions {
  /** Used for lang "auto" and --lang auto: text -> language code (an NLLB-200 code or alias, or "und"). */
  detect?: (text: string) => string;
  /** Language for rows that carry none: a code, alias, English name or "auto". */
  defaultLang?: string;
}

/** One row of a pairs file, as read: what `xlir mine` writes back with its negatives filled. */
export interface PairRecord {
  /** The JSON object of a JSONL row (untouched); null for a TSV row. */
  row: Record<string, unknown> | null;
  query: string;
  /** Every positive of the row, flattened (most rows have one). */
  positives: string[];
  negatives: string[];
  lang?: string;
  where: string;
}

/** Reads every file; one example per (row, positive). Throws `file:line: ...` on the first bad row. */
export function readPairs(paths: readonly string[], opts: ReadPairsOptions = {}): PairExample[] {
  return readPairRecords(paths, opts).flatMap((r) =>
    r.positives.map((positive) => {
      const ex: PairExample = { query: r.query, positive, negatives: [...r.negatives], where: r.where };
      if (r.lang !== undefined) ex.lang = r.lang;
      return ex;
    }),
  );
}

/** The rows of the files, each with its parsed object (see PairRecord). */
export function readPairRecords(paths: readonly string[], opts: ReadPairsOptions = {}): PairRecord[] {
  if (paths.length === 0) throw new Error("no training pairs given: name a .jsonl or .tsv file with --data");
  const defaultLang = opts.defaultLang === undefined ? undefined : checkedDefault(opts.defaultLang);
  const all: PairRecord[] = [];
  for (const path of paths) {
    const lines = readLines(path, "training pairs");
    const jsonl = isJsonl(path, lines);
    const records: PairRecord[] = [];
    let header = !jsonl; // a TSV's first non-blank row may name its columns
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      const where = `${path}:${i + 1}`;
      if (header) {
        header = false;
        if (isHeader(line)) return;
      }
      const r = jsonl ? jsonRecord(line, where) : tsvRecord(line, where);
      const lang = r.lang ?? defaultLang;
      const resolved = lang === undefined ? undefined : languageOf(lang, r.query, where, opts);
      if (resolved === undefined) delete r.lang;
      else r.lang = resolved;
      records.push(r);
    });
    if (!records.length)
      throw new Error(
        `training pairs ${path} hold no pairs: give JSONL rows {"query", "positive"} or TSV query<TAB>positive lines`,
      );
    all.push(...records);
  }
  return all;
}

/** readPairs, loading the language detector (loadLanguageDetector) only when some row needs it. */
export async function loadPairs(
  paths: readonly string[],
  opts: ReadPairsOptions = {},
): Promise<PairExample[]> {
  return withDetector(opts, (o) => readPairs(paths, o));
}

/** readPairRecords, loading the language detector only when some row needs it. */
export async function loadPairRecords(
  paths: readonly string[],
  opts: ReadPairsOptions = {},
): Promise<PairRecord[]> {
  return withDetector(opts, (o) => readPairRecords(paths, o));
}

async function withDetector<T>(opts: ReadPairsOptions, read: (o: ReadPairsOptions) => T): Promise<T> {
  if (opts.detect) return read(opts);
  try {
    return read(opts);
  } catch (e) {
    if (!(e instanceof NeedsDetector)) throw e;
    const { loadLanguageDetector } = await import("../text/langid.ts");
    return read({ ...opts, detect: await loadLanguageDetector() });
  }
}

/** Thrown when lang "auto" meets no detect function (loadPairs catches it and loads one). */
class NeedsDetector extends Error {}

// --- files -------------------------------------------------------------------------------------

function isJsonl(path: string, lines: readonly string[]): boolean {
  const ext = extname(path).toLowerCase();
  if (ext === ".jsonl" || ext === ".json" || ext === ".ndjson") return true;
  if (ext === ".tsv") return false;
  return (lines.find((l) => l.trim()) ?? "").trimStart().startsWith("{");
}

// --- JSONL ------------------------------------------------------------------------------------------

const QUERY_FIELDS = ["query", "anchor", "question", "sentence1"];
const POSITIVE_FIELDS = ["positive", "pos", "sentence2", "answer"];
const WHAT_ROW =
  'each row needs a query ("query", "anchor", "question" or "sentence1") and a positive passage ' +
  '("positive": text or {"title","text"}, "pos": [...], "sentence2", or SWIM-IR\'s "title"/"text")';

function jsonRecord(line: string, where: string): PairRecord {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message}); each line must be one JSON object`, {
      cause: e,
    });
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj))
    throw new Error(`${where}: expected a JSON object, got ${kind(obj)}: ${WHAT_ROW}`);
  const row = obj as Record<string, unknown>;

  const queryField = QUERY_FIELDS.find((f) => row[f] !== undefined && row[f] !== null);
  if (queryField === undefined) throw new Error(`${where}: no query: ${WHAT_ROW}`);
  const query = nonEmpty(row[queryField], `"${queryField}"`, where, "the query text");

  const positives = rowPositives(row, where);
  const negatives = rowNegatives(row, where);
  const rec: PairRecord = { row, query, positives, negatives, where };
  const lang = rowLang(row, where);
  if (lang !== undefined) rec.lang = lang;
  return rec;
}

function rowPositives(row: Record<string, unknown>, where: string): string[] {
  const field = POSITIVE_FIELDS.find((f) => row[f] !== undefined && row[f] !== null);
  if (field === undefined) {
    // SWIM-IR (and BEIR-like) rows: the passage is the row's own title and text
    if (row.text === undefined || row.text === null)
      throw new Error(`${where}: no positive passage: ${WHAT_ROW}`);
    return [passageText({ title: row.title, text: row.text }, '"title"/"text"', where)];
  }
  const v = row[field];
  if (field === "pos" || Array.isArray(v)) {
    const list = passageList(v, `"${field}"`, where);
    if (!list.length)
      throw new Error(`${where}: "${field}" is an empty list: give at least one positive passage`);
    return list;
  }
  return [passageText(v, `"${field}"`, where)];
}

function rowNegatives(row: Record<string, unknown>, where: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(row)) {
    if (v === undefined || v === null) continue;
    if (k === "negatives" || k === "neg") out.push(...passageList(v, `"${k}"`, where));
    else if (k === "negative" || /^negative_\d+$/.test(k)) {
      if (Array.isArray(v)) out.push(...passageList(v, `"${k}"`, where));
      else out.push(passageText(v, `"${k}"`, where));
    }
  }
  return out;
}

/** The row's language as written ("code" first when it resolves: SWIM-IR), not yet resolved. */
function rowLang(row: Record<string, unknown>, where: string): string | undefined {
  for (const f of ["code", "lang", "language"]) {
    const v = row[f];
    if (v !== undefined && v !== null && typeof v !== "string")
      throw new Error(
        `${where}: "${f}" must be a language code string like "bn" or "ben_Beng", got ${kind(v)}`,
      );
  }
  const code = row.code as string | undefined;
  const lang = (row.lang ?? row.language) as string | undefined;
  if (code !== undefined && code.trim() !== "" && (lang === undefined || tryResolve(code) !== undefined))
    return code;
  return lang !== undefined && lang.trim() !== "" ? lang : undefined;
}

function passageList(v: unknown, field: string, where: string): string[] {
  if (!Array.isArray(v))
    throw new Error(
      `${where}: ${field} must be a list of passages (strings or {"title","text"} objects), got ${kind(v)}`,
    );
  return v.map((p, i) => passageText(p, `${field}[${i}]`, where));
}

/** A passage as the model reads it: `${title} ${text}` (trimmed) when titled, else the text. */
function passageText(v: unknown, field: string, where: string): string {
  if (typeof v === "string") return nonEmpty(v, field, where, "the passage text");
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`${where}: ${field} must be a passage (a string or {"title","text"}), got ${kind(v)}`);
  const p = v as Record<string, unknown>;
  if (p.text === undefined || p.text === null)
    throw new Error(`${where}: ${field} has no "text": a passage object is {"title"?, "text"}`);
  const text = nonEmpty(p.text, `${field} "text"`, where, "the passage text");
  if (p.title === undefined || p.title === null) return text;
  if (typeof p.title !== "string")
    throw new Error(`${where}: ${field} "title" must be a string, got ${kind(p.title)}`);
  return p.title.trim() ? `${p.title.trim()} ${text}` : text;
}

function nonEmpty(v: unknown, field: string, where: string, what: string): string {
  if (typeof v !== "string") throw new Error(`${where}: ${field} must be a string (${what}), got ${kind(v)}`);
  const s = v.trim();
  if (!s) throw new Error(`${where}: ${field} is empty: give ${what} or remove the row`);
  return s;
}

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`;
}

// --- TSV --------------------------------------------------------------------------------------------

const HEADER_NAMES = new Set([
  "anchor",
  "query",
  "question",
  "sentence1",
  "sentence2",
  "sentence3",
  "positive",
  "pos",
  "negative",
  "neg",
  "negatives",
]);

function isHeader(line: string): boolean {
  return line
    .split("\t")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c)
    .every((c) => HEADER_NAMES.has(c) || /^negative_?\d+$/.test(c));
}

function tsvRecord(line: string, where: string): PairRecord {
  const cells = line.split("\t");
  while (cells.length > 2 && !cells.at(-1)!.trim()) cells.pop(); // trailing tabs
  if (cells.length < 2)
    throw new Error(
      `${where}: expected query<TAB>positive[<TAB>negative...], got one column: separate the columns with tabs`,
    );
  const names = ["query", "positive"];
  const texts = cells.map((c, i) => {
    const s = c.trim();
    if (!s) {
      const name = names[i] ?? `negative ${i - 1}`;
      throw new Error(`${where}: column ${i + 1} (${name}) is empty: give its text or remove the row`);
    }
    return s;
  });
  return { row: null, query: texts[0], positives: [texts[1]], negatives: texts.slice(2), where };
}

// --- languages ----------------------------------------------------------------------------------

function languageOf(lang: string, query: string, where: string, opts: ReadPairsOptions): string | undefined {
  if (lang.trim().toLowerCase() === "auto") {
    if (!opts.detect)
      throw new NeedsDetector(
        `${where}: lang "auto" needs a language detector: pass detect (loadLanguageDetector) or use loadPairs`,
      );
    const found = opts.detect(query);
    if (found === "und") return undefined;
    const code = tryResolve(found);
    if (code === undefined)
      throw new Error(`${where}: the language detector answered "${found}", which is no NLLB-200 language`);
    return code;
  }
  if (lang.trim().toLowerCase() === "und") return undefined;
  try {
    return resolveLanguage(lang);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
  }
}

function checkedDefault(lang: string): string {
  if (["auto", "und"].includes(lang.trim().toLowerCase())) return lang;
  try {
    return resolveLanguage(lang);
  } catch (e) {
    throw new Error(`language for rows without one: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * A code, alias or English language name ("Bengali", "Swahili", "Chinese (Simplified)") as an
 * NLLB-200 code; throws resolveNllbLang's one-line error when it is none of them.
 */
export function resolveLanguage(lang: string): string {
  const code = tryResolve(lang);
  if (code !== undefined) return code;
  const byName = languageNames().get(nameKey(lang));
  if (byName !== undefined) return resolveNllbLang(byName); // may say "several scripts: use ..."
  return resolveNllbLang(lang); // throws the unknown-code message with suggestions
}

function tryResolve(code: string): string | undefined {
  try {
    return resolveNllbLang(code);
  } catch {
    return undefined;
  }
}

// Names ICU does not give (it says "Bangla", "Odia", "Filipino") or gives differently.
// prettier-ignore
const EXTRA_NAMES: Readonly<Record<string, string>> = {
  bengali: "ben", farsi: "pes", oriya: "ory", pashto: "pbt", pushto: "pbt", panjabi: "pan",
  tagalog: "tgl", sinhalese: "sin", kirghiz: "kir", uighur: "uig", myanmar: "mya", mandarin: "zho_Hans",
  "chinese simplified": "zho_Hans", "chinese traditional": "zho_Hant", cantonese: "yue",
  "norwegian bokmal": "nob", norwegian: "nob", "scottish gaelic": "gla", gaelic: "gla",
  "haitian creole": "hat", "kurdish kurmanji": "kmr", "kurdish sorani": "ckb", sorani: "ckb",
  "swahili kiswahili": "swh", "modern standard arabic": "arb", "dari persian": "prs",
  "tamazight": "tzm_Tfng", "moroccan tamazight": "tzm_Tfng", "malay": "zsm", "azeri": "azj",
  "albanian": "als", "latvian": "lvs", "estonian": "est", "mongolian": "khk", "oromo": "gaz",
  "malagasy": "plt", "quechua": "quy", "uzbek": "uzn", "kanuri": "knc", "tamasheq": "taq",
  "central atlas tamazight": "tzm_Tfng", "manipuri": "mni_Beng", "meitei": "mni_Beng",
};

let names: Map<string, string> | undefined; // a cache of constant data, built on first use

/** English name (lower case, punctuation as spaces) -> a code resolveNllbLang takes. */
function languageNames(): Map<string, string> {
  if (names) return names;
  const m = new Map<string, string>();
  const dn = new Intl.DisplayNames("en", { type: "language" });
  const add = (name: string | undefined, code: string) => {
    if (name && !m.has(nameKey(name))) m.set(nameKey(name), code);
  };
  for (const c of NLLB_LANGS) add(safeName(dn, c.replace("_", "-")), c); // "Simplified Chinese"
  for (const c of NLLB_LANGS) {
    const base = c.slice(0, 3);
    const name = safeName(dn, base);
    if (name !== base) add(name, base);
  }
  for (const [name, code] of Object.entries(EXTRA_NAMES)) m.set(nameKey(name), code);
  names = m;
  return m;
}

function safeName(dn: Intl.DisplayNames, code: string): string | undefined {
  try {
    return dn.of(code);
  } catch {
    return undefined;
  }
}

function nameKey(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}
