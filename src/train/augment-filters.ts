// Quality filters for augmented queries (`xlir augment`): a machine-made variant of a query is kept
// only when it still asks the same thing in other words. Each filter compares the variant with the
// original query (and with the variants kept before it):
//   - empty:          nothing left after translation;
//   - duplicate:      the same words as the original or as a kept variant (case, punctuation and
//                     spacing ignored): it would only repeat a training pair;
//   - near_duplicate: word-set Jaccard >= `jaccard` (default 0.9) with one of them;
//   - number:         a number of the original is missing (digit runs compared by value, so
//                     "1.000" and "1,000" both keep 1 and 000, and Devanagari digits match ASCII);
//   - name:           a proper noun of the original is missing: capitalised words not at a
//                     sentence's start, words with a capital inside (NASA, iPhone), and in a query
//                     written mostly in another script every Latin-script word (brand and product
//                     names, terms kept in English). Compared ignoring case and accents, since
//                     translation often drops an accent (París -> Paris);
//   - length:         the variant's length (characters, spacing collapsed) is outside
//                     [minRatio, maxRatio] x the original's: a truncated or run-away translation.
// The checks run in this order and a variant counts under the first it fails.
import { comparableWords, setJaccard } from "../text/words.ts";

export type DropReason = "empty" | "duplicate" | "near_duplicate" | "number" | "name" | "length";

export const DROP_REASONS: readonly DropReason[] = [
  "empty",
  "duplicate",
  "near_duplicate",
  "number",
  "name",
  "length",
];

export interface FilterOptions {
  /** Least variant/original length ratio kept. Default 0.5. */
  minRatio?: number;
  /** Greatest variant/original length ratio kept. Default 2. */
  maxRatio?: number;
  /** Word-set Jaccard from which two queries are near-duplicates. Default 0.9. */
  jaccard?: number;
  /** Require the original's numbers. Default true. */
  keepNumbers?: boolean;
  /** Require the original's proper nouns and foreign-script terms. Default true. */
  keepNames?: boolean;
}

export const DEFAULT_FILTERS: Required<FilterOptions> = {
  minRatio: 0.5,
  maxRatio: 2,
  jaccard: 0.9,
  keepNumbers: true,
  keepNames: true,
};

/** The words of a query for comparison (text/words.ts). */
export const queryWords = comparableWords;

/** The text as compared for exact duplicates: its words joined by single spaces. */
export function normalizedQuery(text: string): string {
  return queryWords(text).join(" ");
}

/** Jaccard of the two texts' word sets (1 for two texts without words). */
export function wordJaccard(a: string, b: string): number {
  return setJaccard(new Set(queryWords(a)), new Set(queryWords(b)));
}

/** The numbers of a text as ASCII digit strings, one per run of decimal digits in any script. */
export function numbersOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.normalize("NFKC").matchAll(/\p{Nd}+/gu)) out.push(asciiDigits(m[0]));
  return out;
}

// Unicode puts every script's decimal digits in a run of ten, zero first: a digit's value is how
// many digits precede it in its run.
function asciiDigits(run: string): string {
  let s = "";
  for (const ch of run) {
    const cp = ch.codePointAt(0)!;
    let v = 0;
    while (v < 9 && /\p{Nd}/u.test(String.fromCodePoint(cp - v - 1))) v++;
    s += cp <= 0x39 ? ch : String(v);
  }
  return s;
}

/** Case- and accent-free form of a word, for the name check. */
function fold(word: string): string {
  return word.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

const SENTENCE_END = /[.!?;:。！？]\s*$/u;

let segmenter: Intl.Segmenter | undefined; // stateless: a cache

/**
 * The words of `text` that a faithful rewording keeps as they are (folded: lower case, no accents):
 * capitalised words not at a sentence's start, words with a capital after their first letter, and,
 * when most letters are not Latin, every word with Latin letters.
 */
export function protectedNames(text: string): string[] {
  segmenter ??= new Intl.Segmenter("und", { granularity: "word" });
  const t = text.normalize("NFKC");
  const letters = [...t.matchAll(/\p{L}/gu)].length;
  const latin = [...t.matchAll(/\p{Script=Latin}/gu)].length;
  const foreignScript = letters > 0 && latin / letters < 0.5;
  const out = new Set<string>();
  let sentenceStart = true;
  let lastEnd = 0;
  for (const s of segmenter.segment(t)) {
    if (!s.isWordLike) continue;
    const between = t.slice(lastEnd, s.index);
    if (lastEnd > 0 && SENTENCE_END.test(between)) sentenceStart = true;
    lastEnd = s.index + s.segment.length;
    const w = s.segment;
    const capitalised = /^[\p{Lu}\p{Lt}]/u.test(w);
    const innerCapital = /^.+\p{Lu}/su.test(w);
    if ((capitalised && !sentenceStart) || innerCapital || (foreignScript && /\p{Script=Latin}/u.test(w)))
      out.add(fold(w));
    sentenceStart = false;
  }
  return [...out];
}

/** The first reason to drop `variant` of `original`, given the variants kept so far; null to keep it. */
export function dropReason(
  original: string,
  variant: string,
  kept: readonly string[] = [],
  opts: FilterOptions = {},
): DropReason | null {
  const o = { ...DEFAULT_FILTERS, ...opts };
  const words = queryWords(variant);
  if (words.length === 0) return "empty";
  const norm = words.join(" ");
  const others = [original, ...kept];
  if (others.some((t) => normalizedQuery(t) === norm)) return "duplicate";
  const set = new Set(words);
  if (others.some((t) => setJaccard(set, new Set(queryWords(t))) >= o.jaccard)) return "near_duplicate";
  if (o.keepNumbers) {
    const have = new Set(numbersOf(variant));
    if (numbersOf(original).some((n) => !have.has(n))) return "number";
  }
  if (o.keepNames) {
    const have = new Set(words.map(fold));
    if (protectedNames(original).some((n) => !have.has(n))) return "name";
  }
  const ratio = collapsedLength(variant) / Math.max(1, collapsedLength(original));
  if (ratio < o.minRatio || ratio > o.maxRatio) return "length";
  return null;
}

function collapsedLength(text: string): number {
  return [...text.trim().replace(/\s+/g, " ")].length;
}

export interface FilterResult {
  kept: string[];
  /** One entry per dropped variant, in order. */
  dropped: { text: string; reason: DropReason }[];
}

/** Filters the variants of one query in order: each is also checked against those kept before it. */
export function filterVariants(
  original: string,
  variants: readonly string[],
  opts: FilterOptions = {},
): FilterResult {
  const kept: string[] = [];
  const dropped: FilterResult["dropped"] = [];
  for (const v of variants) {
    const reason = dropReason(original, v, kept, opts);
    if (reason === null) kept.push(v.trim());
    else dropped.push({ text: v, reason });
  }
  return { kept, dropped };
}

/** Throws a one-line error naming the option when the bounds make no sense. */
export function checkFilterOptions(opts: FilterOptions): void {
  const o = { ...DEFAULT_FILTERS, ...opts };
  if (!(o.minRatio >= 0) || !(o.maxRatio > 0) || o.minRatio > o.maxRatio)
    throw new Error(
      `length ratio bounds ${o.minRatio}..${o.maxRatio}: give --min-ratio <= --max-ratio, e.g. 0.5 and 2`,
    );
  if (!(o.jaccard > 0 && o.jaccard <= 1))
    throw new Error(`--dup-jaccard ${o.jaccard}: give a number above 0 and at most 1, e.g. 0.9`);
}
