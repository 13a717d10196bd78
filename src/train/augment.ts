// Query augmentation for training pairs (`xlir augment`), the recipe of "Data Efficient Dense
// Cross-Lingual Information Retrieval": each query of the chosen languages is translated to English,
// paraphrased there (paraphrase.ts: an LLM, a pivot round trip, or nothing), and each paraphrase is
// translated back; every variant that passes the filters (augment-filters.ts) becomes a new pair
// with the original row's positive, negatives and language. English queries are paraphrased as they
// are, with no translation either way.
//
// Each new row: {query, positive, negatives, lang, augmented_from: the original query,
// augmented_from_id?: the row's "_id"/"id", augmentation: {pivot_en, paraphrase_en, backends:
// {translate, paraphrase}}}, which `xlir train` reads like any pair.
//
// Work is per distinct (language, query): rows sharing a query (several positives) are translated
// and paraphrased once. Resumability: OUT.partial is a journal, a header line with the settings
// that shape the variants, then one line per finished query holding its unfiltered variants (also
// for queries whose variants all fail the filters, so they are not redone). A crash loses at most
// the batch in flight; the same command reads the journal and continues with the rest. When every
// query is in it, the filters run, OUT is written (through a temporary file and a rename) and the
// journal is removed. Filters run at that end, so changing a filter option never redoes the work.

import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import type { Translator } from "../generate/translator.ts";
import {
  DROP_REASONS,
  checkFilterOptions,
  filterVariants,
  type DropReason,
  type FilterOptions,
} from "./augment-filters.ts";
import type { Paraphraser } from "./paraphrase.ts";
import type { PairRecord } from "./pairs.ts";

export const ENGLISH = "eng_Latn";
export const DEFAULT_AUGMENT_BATCH = 16;

/** One query's pipeline output, as the journal holds it. */
export interface AugmentedQuery {
  query: string;
  /** NLLB-200 code. */
  lang: string;
  /** The query in English (the query itself for English). */
  pivot_en: string;
  /** Before filtering, in the paraphraser's order. */
  variants: { text: string; paraphrase_en: string }[];
}

export interface AugmentOptions {
  translator: Translator;
  paraphraser: Paraphraser;
  /** Query languages to augment (NLLB-200 codes); rows in others are passed over. */
  langs: readonly string[];
  /** Paraphrases asked for per query. */
  variants: number;
  filters?: FilterOptions;
  /** Copy every input row to OUT too, each before its variants. */
  includeOriginal?: boolean;
  /** Queries per pipeline step (what a crash may lose). Default DEFAULT_AUGMENT_BATCH. */
  batchSize?: number;
  /** More settings that shape the variants (a model folder, ...), checked on resume. */
  settings?: Record<string, unknown>;
  onProgress?: (done: number, total: number) => void;
  /** Polled between batches: true leaves OUT.partial for a later run. */
  stopped?: () => boolean;
}

export interface AugmentSummary {
  /** Distinct (language, query) pairs of the chosen languages. */
  queries: number;
  /** Of those, found finished in OUT.partial. */
  resumed: number;
  /** Input rows not augmented: another language, or none known. */
  skippedRows: number;
  /** Variants the paraphrase and back-translation produced. */
  variants: number;
  kept: number;
  dropped: Record<DropReason, number>;
  /** Augmented rows written (a kept variant gives one per row sharing its query). */
  rows: number;
  /** Input rows copied (--include-original). */
  originals: number;
  /** False when stopped before the end: OUT is not written yet. */
  complete: boolean;
}

export const isEnglish = (lang: string) => lang === ENGLISH;

/** Runs the pipeline on a batch of queries; the answer is in their order. */
export async function augmentQueries(
  queries: readonly { query: string; lang: string }[],
  opts: Pick<AugmentOptions, "translator" | "paraphraser" | "variants">,
): Promise<AugmentedQuery[]> {
  const { translator, paraphraser, variants } = opts;
  const pivot = queries.map((q) => q.query);
  for (const [lang, idx] of byLanguage(queries)) {
    if (isEnglish(lang)) continue;
    const en = await translated(
      translator,
      idx.map((i) => queries[i].query),
      lang,
      ENGLISH,
    );
    idx.forEach((i, k) => (pivot[i] = en[k]));
  }
  const paraphrases = await paraphraser.paraphrase(pivot, variants);
  if (paraphrases.length !== queries.length)
    throw new Error(
      `paraphrase ${paraphraser.name} answered ${paraphrases.length} lists for ${queries.length} texts`,
    );
  const out: AugmentedQuery[] = queries.map((q, i) => ({
    query: q.query,
    lang: q.lang,
    pivot_en: tidy(pivot[i]),
    variants: paraphrases[i].slice(0, variants).map((p) => ({ text: tidy(p), paraphrase_en: tidy(p) })),
  }));
  for (const [lang, idx] of byLanguage(queries)) {
    if (isEnglish(lang)) continue;
    const flat = idx.flatMap((i) => out[i].variants);
    const back = await translated(
      translator,
      flat.map((v) => v.paraphrase_en),
      ENGLISH,
      lang,
    );
    flat.forEach((v, k) => (v.text = tidy(back[k])));
  }
  return out;
}

// MT systems leave doubled and trailing spaces (Apertium's blanks); a query has none.
const tidy = (s: string) => s.replace(/\s+/g, " ").trim();

async function translated(t: Translator, texts: string[], from: string, to: string): Promise<string[]> {
  if (texts.length === 0) return [];
  const out = await t.translate(texts, from, to);
  if (out.length !== texts.length)
    throw new Error(`translate ${t.name} answered ${out.length} texts for ${texts.length} (${from}->${to})`);
  return out;
}

function byLanguage(queries: readonly { lang: string }[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  queries.forEach((q, i) => m.set(q.lang, [...(m.get(q.lang) ?? []), i]));
  return m;
}

const keyOf = (lang: string, query: string) => `${lang}\u0000${query}`;

/** The rows written for one input row and the variants of its query that passed the filters. */
export function augmentedRows(
  record: PairRecord,
  aq: AugmentedQuery,
  kept: readonly string[],
  backends: { translate: string; paraphrase: string },
): Record<string, unknown>[] {
  const id = record.row?._id ?? record.row?.id;
  return kept.map((text) => {
    const v = aq.variants.find((x) => x.text.trim() === text)!; // filterVariants keeps trimmed texts
    const row: Record<string, unknown> = {
      query: text,
      positive: record.positives.length === 1 ? record.positives[0] : record.positives,
      negatives: record.negatives,
      lang: aq.lang,
      augmented_from: aq.query,
    };
    if (typeof id === "string" || typeof id === "number") row.augmented_from_id = id;
    row.augmentation = { pivot_en: aq.pivot_en, paraphrase_en: v.paraphrase_en, backends };
    return row;
  });
}

/** An input row as OUT holds it with --include-original: JSONL rows as they are. */
function originalRow(record: PairRecord): Record<string, unknown> {
  if (record.row !== null) return record.row;
  const row: Record<string, unknown> = {
    query: record.query,
    positive: record.positives[0],
    negatives: record.negatives,
  };
  if (record.lang !== undefined) row.lang = record.lang;
  return row;
}

/** Augments the records into OUT (JSONL), resuming from OUT.partial (see the top of this file). */
export async function augmentToFile(
  records: readonly PairRecord[],
  out: string,
  opts: AugmentOptions,
): Promise<AugmentSummary> {
  checkFilterOptions(opts.filters ?? {});
  if (!Number.isInteger(opts.variants) || opts.variants < 1)
    throw new Error(`--variants must be a whole number 1 or more, got ${opts.variants}`);
  const langs = new Set(opts.langs);
  const pending = new Map<string, { query: string; lang: string }>(); // every selected query, then what is left
  let skippedRows = 0;
  for (const r of records) {
    if (r.lang === undefined || !langs.has(r.lang)) skippedRows++;
    else pending.set(keyOf(r.lang, r.query), { query: r.query, lang: r.lang });
  }
  if (pending.size === 0) {
    const found = [...new Set(records.map((r) => r.lang ?? "unknown"))].sort().join(", ");
    throw new Error(
      `no query in ${[...langs].join(", ")} among the ${records.length} rows (their languages: ${found}): check --langs`,
    );
  }
  const total = pending.size;
  const selected = new Set(pending.keys());
  const backends = { translate: opts.translator.name, paraphrase: opts.paraphraser.name };
  const settings = { ...backends, variants: opts.variants, ...opts.settings };

  const partial = `${out}.partial`;
  const done = readJournal(partial, settings);
  let resumed = 0;
  for (const key of done.keys()) if (pending.delete(key)) resumed++;

  const fd = openJournal(partial, settings);
  const batchSize = Math.max(1, opts.batchSize ?? DEFAULT_AUGMENT_BATCH);
  const todo = [...pending.values()];
  let finished = total - todo.length;
  opts.onProgress?.(finished, total);
  try {
    for (let i = 0; i < todo.length; i += batchSize) {
      if (opts.stopped?.()) break;
      const batch = await augmentQueries(todo.slice(i, i + batchSize), opts);
      for (const aq of batch) {
        // One write per record: a SIGKILL leaves whole lines, or one torn last line readJournal drops.
        writeSync(fd, JSON.stringify(aq) + "\n");
        done.set(keyOf(aq.lang, aq.query), aq);
      }
      finished += batch.length;
      opts.onProgress?.(finished, total);
    }
  } finally {
    closeSync(fd);
  }

  const summary: AugmentSummary = {
    queries: total,
    resumed,
    skippedRows,
    variants: 0,
    kept: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    rows: 0,
    originals: 0,
    complete: finished === total,
  };
  const keptOf = new Map<string, string[]>();
  for (const [key, aq] of done) {
    if (!selected.has(key)) continue;
    const f = filterVariants(
      aq.query,
      aq.variants.map((v) => v.text),
      opts.filters,
    );
    summary.variants += aq.variants.length;
    summary.kept += f.kept.length;
    for (const d of f.dropped) summary.dropped[d.reason]++;
    keptOf.set(key, f.kept);
  }
  if (!summary.complete) return summary;

  const tmp = `${out}.${process.pid}.tmp`;
  const outFd = openSync(tmp, "w");
  try {
    let buf = "";
    const flush = () => {
      writeSync(outFd, buf);
      buf = "";
    };
    for (const r of records) {
      if (opts.includeOriginal) {
        buf += JSON.stringify(originalRow(r)) + "\n";
        summary.originals++;
      }
      const key = r.lang === undefined ? undefined : keyOf(r.lang, r.query);
      const aq = key === undefined ? undefined : done.get(key);
      if (aq && selected.has(key!)) {
        for (const row of augmentedRows(r, aq, keptOf.get(key!)!, backends)) {
          buf += JSON.stringify(row) + "\n";
          summary.rows++;
        }
      }
      if (buf.length > 1 << 20) flush();
    }
    flush();
  } finally {
    closeSync(outFd);
  }
  renameSync(tmp, out);
  unlinkSync(partial);
  return summary;
}

interface JournalHeader {
  xlir_augment: 1;
  settings: Record<string, unknown>;
}

/** The finished queries in a journal; checks it was made with the same settings. */
function readJournal(partial: string, settings: Record<string, unknown>): Map<string, AugmentedQuery> {
  const done = new Map<string, AugmentedQuery>();
  if (!existsSync(partial)) return done;
  const text = readFileSync(partial, "utf8");
  const lines = text.split("\n");
  // A crash mid-write leaves a torn last line (no newline after it): drop it and write on from there.
  const torn = lines.pop()!;
  if (torn !== "") truncateSync(partial, Buffer.byteLength(text) - Buffer.byteLength(torn));
  if (lines.length === 0) return done;
  const fix = `delete ${partial} to start over`;
  let header: JournalHeader;
  try {
    header = JSON.parse(lines[0]) as JournalHeader;
  } catch {
    throw new Error(`${partial} is not an xlir augment journal (line 1 is not JSON): ${fix}`);
  }
  if (header?.xlir_augment !== 1 || typeof header.settings !== "object")
    throw new Error(`${partial} is not an xlir augment journal (no header): ${fix}`);
  const differ = Object.keys({ ...header.settings, ...settings }).filter(
    (k) => JSON.stringify(header.settings[k]) !== JSON.stringify(settings[k]),
  );
  if (differ.length)
    throw new Error(
      `${partial} was started with other settings (${differ
        .map((k) => `${k}: ${JSON.stringify(header.settings[k])}, now ${JSON.stringify(settings[k])}`)
        .join("; ")}): rerun with the same options to continue, or ${fix}`,
    );
  lines.slice(1).forEach((line, i) => {
    if (!line.trim()) return;
    let aq: AugmentedQuery;
    try {
      aq = JSON.parse(line) as AugmentedQuery;
    } catch {
      throw new Error(`${partial}:${i + 2} is not JSON: ${fix}`);
    }
    if (typeof aq?.query !== "string" || typeof aq.lang !== "string" || !Array.isArray(aq.variants))
      throw new Error(`${partial}:${i + 2} is not an augment record: ${fix}`);
    done.set(keyOf(aq.lang, aq.query), aq);
  });
  return done;
}

function openJournal(partial: string, settings: Record<string, unknown>): number {
  const fresh = !existsSync(partial);
  let fd: number;
  try {
    fd = openSync(partial, fresh ? "w" : "a");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `cannot write ${partial} (${code}): check that --out names a file in a folder that exists`,
      {
        cause: e,
      },
    );
  }
  if (fresh || readFileSync(partial, "utf8") === "") {
    const header: JournalHeader = { xlir_augment: 1, settings };
    writeSync(fd, JSON.stringify(header) + "\n");
  }
  return fd;
}
