// Hard-negative mining from a collection (`xlir mine`), as sentence-transformers'
// mine_hard_negatives and Pyserini-style BM25 mining do it: search each pair's query in the
// collection, keep the documents ranked within --ranks FROM-TO (1-based, inclusive: skipping the top
// ranks avoids most false negatives, which a first-stage retriever puts there), drop the positive
// and its near-duplicates, and keep at most --num of the rest.
//
// Near-duplicates (nearDuplicate below): two passages are the same passage for mining when, after
// Unicode NFKC folding, lower-casing and reading them as words (Intl.Segmenter, so Chinese and Thai
// split too, punctuation and spacing ignored),
//   1. their word sequences are equal; or
//   2. one word sequence occurs inside the other (a chunk of the positive's document, the positive
//      sentence inside a longer passage that therefore answers the query too); or
//   3. their word sets overlap with Jaccard >= 0.9 (the same passage with a word or two edited).
// Mined candidates are also checked against the row's other positives, the negatives it already
// holds, and the negatives kept so far, so no passage appears twice.
//
// --num defaults to 1: one hard negative per pair is the (anchor, positive, negative) triplet that
// sentence-transformers' MultipleNegativesRankingLoss and TripletLoss train on, and the cheapest
// in memory (every hard negative of a batch is a candidate for every query in InfoNCE). Ask for more
// with --num N. Which ones: the best-ranked candidates in range (--sampling top, the default) or a
// seeded random draw among them (--sampling random), as mine_hard_negatives' sampling_strategy.
//
// Output: every input row in order, with "negatives" set to the mined passages as strings (title
// and text flattened as readPairs reads a passage). JSONL rows keep all their other fields as they
// were (negatives they held in "negative"/"neg"/"negative_N" stay and are still read; a "negatives"
// list is replaced by itself followed by the mined ones); TSV rows become
// {"query", "positive", "negatives", "lang"?}. A row for which nothing is left in range keeps the
// negatives it had (counted in MineStats.short). Written to OUT.partial and renamed to OUT at the
// end, so a crash never leaves a half file under the final name.

import { comparableWords, setJaccard } from "../text/words.ts";
import { closeSync, openSync, renameSync, writeSync } from "node:fs";
import { Rng } from "../models/random.ts";
import type { LanguageDetector, LanguageGuesser } from "../text/langid.ts";
import type { PairRecord } from "../train/pairs.ts";
import type { Collection } from "./collection.ts";
import { search, type SearchHit, type SearchMode } from "./search.ts";

/** 1-based inclusive ranks of the hits negatives are taken from. */
export interface RankRange {
  from: number;
  to: number;
}

export const DEFAULT_NUM_NEGATIVES = 1;
/** Word-set Jaccard from which two passages count as one (rule 3 above). */
export const NEAR_DUPLICATE_JACCARD = 0.9;

export interface MineOptions {
  ranks: RankRange;
  /** Most negatives mined per row (default DEFAULT_NUM_NEGATIVES). */
  num?: number;
  /** Default: the collection's own (dense for dense collections, bm25 for lexical ones). */
  mode?: SearchMode;
  /** Query language for rows that carry none: a code or "auto" (default "auto": detected). */
  lang?: string;
  /** Detector reused for "auto" (default: search loads its own). */
  detector?: LanguageGuesser | LanguageDetector;
  /** Which candidates in range: the best ranked (default) or a seeded random draw. */
  sampling?: "top" | "random";
  /** Seed of the random draw (default 42). */
  seed?: number;
  /** Called after each row. */
  onProgress?: (done: number, total: number) => void;
}

export interface MineStats {
  rows: number;
  /** Negatives mined in all. */
  negatives: number;
  /** Rows that got fewer than `num` negatives (nothing else in range). */
  short: number;
  /** Candidates in range dropped as the positive or a near-duplicate of it. */
  positivesDropped: number;
}

/** "10-50" -> { from: 10, to: 50 }; a single "N" is N-N. Throws a one-line error on anything else. */
export function parseRanks(text: string): RankRange {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!m) throw new Error(`give the ranks as FROM-TO, whole numbers from 1 (e.g. 10-50), not "${text}"`);
  const from = Number(m[1]);
  const to = Number(m[2] ?? m[1]);
  if (from < 1 || !Number.isSafeInteger(to))
    throw new Error(`ranks start at 1: give FROM-TO like 10-50, not "${text}"`);
  if (from > to)
    throw new Error(`"${text}" ends before it starts: give FROM-TO with FROM <= TO, e.g. ${to}-${from}`);
  return { from, to };
}

/** The words of a passage for comparison (text/words.ts). */
export const passageWords = comparableWords;

/** Whether two passages count as the same passage for mining (the rule at the top of this file). */
export function nearDuplicate(a: string, b: string): boolean {
  return nearDuplicateWords(passageWords(a), passageWords(b));
}

function nearDuplicateWords(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return a.length === b.length;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  if (contains(long, short)) return true; // equality included
  return setJaccard(new Set(a), new Set(b)) >= NEAR_DUPLICATE_JACCARD;
}

/** Whether `needle` occurs as a contiguous run of words in `hay`. */
function contains(hay: readonly string[], needle: readonly string[]): boolean {
  // join with a separator no word holds, padded so only whole words match
  const sep = "\u0000";
  return (sep + hay.join(sep) + sep).includes(sep + needle.join(sep) + sep);
}

/** A hit's passage as readPairs reads one: `${title} ${text}` when it has a title. */
export function hitPassage(hit: Pick<SearchHit, "title" | "text">): string {
  const text = hit.text.trim();
  const title = hit.title?.trim();
  return title ? `${title} ${text}` : text;
}

/**
 * The negatives for one row: its query's hits ranked within `ranks`, without its positives, near-
 * duplicates of them, of the negatives it already has, or of each other; at most `num`.
 */
export async function mineRow(
  col: Collection,
  record: PairRecord,
  opts: MineOptions,
  rng?: Rng,
): Promise<{ negatives: string[]; positivesDropped: number }> {
  const num = opts.num ?? DEFAULT_NUM_NEGATIVES;
  let hits: SearchHit[];
  try {
    hits = await search(col, record.query, {
      mode: opts.mode,
      k: opts.ranks.to,
      lang: record.lang ?? opts.lang ?? "auto",
      detector: opts.detector,
    });
  } catch (e) {
    throw new Error(`${record.where}: ${(e as Error).message}`, { cause: e });
  }
  const positives = record.positives.map(passageWords);
  const seen = record.negatives.map(passageWords);
  let candidates = hits.filter((h) => h.rank >= opts.ranks.from && h.rank <= opts.ranks.to);
  if (opts.sampling === "random" && rng) candidates = shuffled(candidates, rng);
  const negatives: string[] = [];
  let positivesDropped = 0;
  for (const h of candidates) {
    if (negatives.length >= num) break;
    const passage = hitPassage(h);
    const words = passageWords(passage);
    if (positives.some((p) => nearDuplicateWords(p, words))) {
      positivesDropped++;
      continue;
    }
    if (seen.some((s) => nearDuplicateWords(s, words))) continue;
    seen.push(words);
    negatives.push(passage);
  }
  return { negatives, positivesDropped };
}

/** The row written for a record and its mined negatives (see the top of this file). */
export function minedRow(record: PairRecord, mined: readonly string[]): Record<string, unknown> {
  if (record.row === null) {
    const row: Record<string, unknown> = {
      query: record.query,
      positive: record.positives[0],
      negatives: [...record.negatives, ...mined],
    };
    if (record.lang !== undefined) row.lang = record.lang;
    return row;
  }
  const had = record.row.negatives;
  return { ...record.row, negatives: [...(Array.isArray(had) ? had : []), ...mined] };
}

/** Mines every record and calls `write` with each output row, in input order. */
export async function mineHardNegatives(
  col: Collection,
  records: readonly PairRecord[],
  opts: MineOptions,
  write: (row: Record<string, unknown>) => void,
): Promise<MineStats> {
  checkOptions(opts);
  const num = opts.num ?? DEFAULT_NUM_NEGATIVES;
  const rng = new Rng(opts.seed ?? 42);
  const stats: MineStats = { rows: 0, negatives: 0, short: 0, positivesDropped: 0 };
  for (const record of records) {
    const { negatives, positivesDropped } = await mineRow(col, record, opts, rng);
    write(minedRow(record, negatives));
    stats.rows++;
    stats.negatives += negatives.length;
    stats.positivesDropped += positivesDropped;
    if (negatives.length < num) stats.short++;
    opts.onProgress?.(stats.rows, records.length);
  }
  return stats;
}

/** mineHardNegatives into a JSONL file: OUT.partial as it goes, renamed to OUT when all rows are done. */
export async function mineToFile(
  col: Collection,
  records: readonly PairRecord[],
  out: string,
  opts: MineOptions,
): Promise<MineStats> {
  checkOptions(opts);
  const partial = `${out}.partial`;
  let fd: number;
  try {
    fd = openSync(partial, "w");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `cannot write ${partial} (${code}): check that --out names a file in a folder that exists`,
      {
        cause: e,
      },
    );
  }
  let stats: MineStats;
  try {
    stats = await mineHardNegatives(col, records, opts, (row) => writeSync(fd, JSON.stringify(row) + "\n"));
  } finally {
    closeSync(fd);
  }
  renameSync(partial, out);
  return stats;
}

function checkOptions(opts: MineOptions): void {
  const { from, to } = opts.ranks;
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || from > to)
    throw new Error(`ranks ${from}-${to}: give FROM-TO with 1 <= FROM <= TO, e.g. 10-50`);
  const num = opts.num ?? DEFAULT_NUM_NEGATIVES;
  if (!Number.isInteger(num) || num < 1)
    throw new Error(`--num must be a whole number 1 or more, got ${num}`);
}

/** A seeded Fisher-Yates shuffle (a copy). */
function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
