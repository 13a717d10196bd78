// Lexical analysis for BM25: text -> index terms, per language.
//
// Pipeline (one token at a time, like a Lucene TokenStream):
//   1. NFC, then Intl.Segmenter words (granularity "word", isWordLike only; long texts in windows
//      cut where whole-text segmentation has a boundary, see segment.ts). ICU's rules are
//      UAX #29, as Lucene's StandardTokenizer, plus dictionaries for Chinese, Japanese, Thai, Khmer,
//      Lao and Burmese, so text without spaces splits into words. (StandardTokenizer would emit one
//      token per Han ideograph and one per Thai run; Pyserini uses CJK bigrams for zh/ja/ko and
//      ThaiTokenizer for th.) Segmenting before NFKC matters: NFKC splits Thai SARA AM (U+0E33)
//      into two marks that ICU's Thai dictionary does not know.
//   2. Words over maxTokenLength UTF-16 units are cut into pieces of that size (StandardTokenizer's
//      maxTokenLength, 255).
//   3. NFKC per token (full-width and compatibility forms fold: "Ｈｅｌｌｏ" -> "Hello", "２０" -> "20");
//      a token NFKC opens into several words ("ﷺ") becomes those words.
//   4. Lower-casing (Turkish locale for Turkish, as TurkishLowerCaseFilter), then the language's
//      small rules (English possessive 's, Turkish apostrophe suffixes, Greek accent folding).
//   5. Stop words, then the stemmer (see analyzer-langs.ts for who gets which, and why).
// Unlike StandardTokenizer we emit no emoji tokens, and we keep every word ICU calls word-like.
//
// The language is per call: documents are analysed with their own language and queries with
// theirs. No language (or "und") means the generic analysis: steps 1-4 without stop words or
// stemming. A language xlir cannot resolve is an error, not a silent fallback.
import { profileOf, type LanguageProfile, type TokenRule } from "./analyzer-langs.ts";
import { resolveNllbLang } from "./nllb-langs.ts";
import { segmentWords, segmentWordsAsync, type WordSegment } from "./segment.ts";
import { STOPWORDS } from "./stopwords.ts";

/**
 * Bump when the terms analyze() produces change for any input (stemmer package, stop lists, rules),
 * so indexes built with the old analysis refuse to load instead of silently mismatching queries.
 */
export const ANALYZER_VERSION = 1;

/** How text becomes terms; stored with every index built from it. */
export interface AnalyzerConfig {
  readonly version: number;
  readonly normalization: "NFKC";
  readonly lowercase: boolean;
  readonly stopwords: boolean;
  readonly stemming: boolean;
  readonly maxTokenLength: number;
}

export const DEFAULT_ANALYZER: AnalyzerConfig = Object.freeze({
  version: ANALYZER_VERSION,
  normalization: "NFKC",
  lowercase: true,
  stopwords: true,
  stemming: true,
  maxTokenLength: 255,
});

export type AnalyzerOptions = Partial<
  Pick<AnalyzerConfig, "lowercase" | "stopwords" | "stemming" | "maxTokenLength">
>;

/** The default config with the given switches, checked. */
export function analyzerConfig(options: AnalyzerOptions = {}): AnalyzerConfig {
  return checkAnalyzerConfig({ ...DEFAULT_ANALYZER, ...options }, "analyzer options");
}

/** Validates a config read from disk or given by a caller; `source` names it in errors. */
export function checkAnalyzerConfig(value: unknown, source: string): AnalyzerConfig {
  if (typeof value !== "object" || value === null) {
    throw new Error(`${source}: analyzer config must be an object, got ${JSON.stringify(value)}`);
  }
  const c = value as Record<string, unknown>;
  if (c.version !== ANALYZER_VERSION) {
    throw new Error(
      `${source}: built with analyzer version ${JSON.stringify(c.version)}, this xlir analyzes with ` +
        `version ${ANALYZER_VERSION}: rebuild the index`,
    );
  }
  if (c.normalization !== "NFKC") {
    throw new Error(`${source}: unknown normalization ${JSON.stringify(c.normalization)} (expected "NFKC")`);
  }
  for (const key of ["lowercase", "stopwords", "stemming"] as const) {
    if (typeof c[key] !== "boolean") {
      throw new Error(`${source}: analyzer "${key}" must be true or false, got ${JSON.stringify(c[key])}`);
    }
  }
  const max = c.maxTokenLength;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1) {
    throw new Error(
      `${source}: analyzer maxTokenLength must be a positive integer, got ${JSON.stringify(max)}`,
    );
  }
  return Object.freeze({
    version: ANALYZER_VERSION,
    normalization: "NFKC",
    lowercase: c.lowercase as boolean,
    stopwords: c.stopwords as boolean,
    stemming: c.stemming as boolean,
    maxTokenLength: max,
  });
}

export function sameAnalyzer(a: AnalyzerConfig, b: AnalyzerConfig): boolean {
  return (
    a.version === b.version &&
    a.normalization === b.normalization &&
    a.lowercase === b.lowercase &&
    a.stopwords === b.stopwords &&
    a.stemming === b.stemming &&
    a.maxTokenLength === b.maxTokenLength
  );
}

const UNDETERMINED = new Set(["und", "zxx", "mul"]);

/**
 * The analysis profile of a language code (NLLB "rus_Cyrl", ISO 639-1 "ru", ISO 639-3 "rus", BCP-47
 * "zh-Hant"); undefined, "" or "und" give the generic profile. Unknown codes throw.
 */
export function analyzerLanguage(lang?: string): LanguageProfile {
  if (lang === undefined || lang === "" || UNDETERMINED.has(lang.toLowerCase())) return profileOf("und");
  return profileOf(resolveNllbLang(lang).slice(0, 3));
}

/** Terms of `text` in language `lang` (see the pipeline above). */
export function analyze(text: string, lang?: string, config: AnalyzerConfig = DEFAULT_ANALYZER): string[] {
  return makeAnalyzer(lang, config)(text);
}

/** analyze() with the language and config resolved once, for many texts. */
export function makeAnalyzer(
  lang?: string,
  config: AnalyzerConfig = DEFAULT_ANALYZER,
): (text: string) => string[] {
  const terms = termMaker(lang, config);
  return (text) => {
    const out: string[] = [];
    for (const s of segmentWords(nfc(text))) terms(s, out);
    return out;
  };
}

/**
 * makeAnalyzer() for long texts: the same terms, but the event loop gets a turn after every
 * segmentation window (a few thousand characters), so signals, timers and progress run while a
 * long document is analysed.
 */
export function makeAsyncAnalyzer(
  lang?: string,
  config: AnalyzerConfig = DEFAULT_ANALYZER,
): (text: string) => Promise<string[]> {
  const terms = termMaker(lang, config);
  return async (text) => {
    const out: string[] = [];
    for await (const batch of segmentWordsAsync(nfc(text))) for (const s of batch) terms(s, out);
    return out;
  };
}

/** A term and the span of the word it came from (UTF-16 offsets into the text given, end exclusive). */
export interface TermSpan {
  term: string;
  start: number;
  end: number;
}

/**
 * makeAnalyzer() that also says where each term came from, for highlighting: the same terms, each
 * with the span of its word in the text as given (analysis runs on the NFC form, whose offsets
 * differ where NFC composes characters). Terms from one word share its span.
 */
export function makeSpanAnalyzer(
  lang?: string,
  config: AnalyzerConfig = DEFAULT_ANALYZER,
): (text: string) => TermSpan[] {
  const terms = termMaker(lang, config);
  return (text) => {
    const { normal, startAt, endAt } = nfcWithOffsets(text);
    const out: TermSpan[] = [];
    const buf: string[] = [];
    for (const s of segmentWords(normal)) {
      terms(s, buf);
      const [start, end] = [startAt(s.index), endAt(s.index + s.segment.length)];
      for (const term of buf) out.push({ term, start, end });
      buf.length = 0;
    }
    return out;
  };
}

// NFC never joins across a character below U+0300: each is a starter that composes with nothing
// before it. So NFC of the pieces cut before each one, concatenated, is NFC of the whole text, and
// each piece's place is known in both.
const NFC_CUT = /(?=[^\u0300-\uffff])/;

/** NFC of `text`, and maps from its offsets to the text's: a word's start, and a word's end. */
function nfcWithOffsets(text: string): {
  normal: string;
  startAt: (i: number) => number;
  endAt: (i: number) => number;
} {
  const whole = nfc(text);
  if (whole === text) return { normal: text, startAt: (i) => i, endAt: (i) => i };
  // for each offset of the NFC text: the start and end, in `text`, of the piece it is in
  const from: number[] = [];
  const to: number[] = [];
  const pieces: string[] = [];
  let at = 0;
  for (const piece of text.split(NFC_CUT)) {
    const p = piece.normalize("NFC");
    for (let j = 0; j < p.length; j++) [from[from.length], to[to.length]] = [at, at + piece.length];
    pieces.push(p);
    at += piece.length;
  }
  from.push(at);
  to.push(at);
  // an offset inside a piece (NFC composed across it) widens the word to the whole piece
  const pieceStart = (i: number) => i === 0 || from[i] !== from[i - 1];
  return {
    normal: pieces.join(""),
    startAt: (i) => from[i],
    endAt: (i) => (pieceStart(i) ? from[i] : to[i]),
  };
}

function nfc(text: unknown): string {
  if (typeof text !== "string") {
    throw new Error(`analyze: text must be a string, got ${text === null ? "null" : typeof text}`);
  }
  return text.normalize("NFC");
}

// Steps 2-5 for one segment, pushing its terms onto `out`.
function termMaker(
  lang: string | undefined,
  config: AnalyzerConfig,
): (s: WordSegment, out: string[]) => void {
  const profile = analyzerLanguage(lang);
  const stops = config.stopwords ? stopSet(profile, config) : null;
  const stem = config.stemming ? profile.stem : null;
  return (s, out) => {
    if (!s.isWordLike) return;
    for (const piece of splitLong(s.segment, config.maxTokenLength)) {
      const folded = piece.normalize("NFKC");
      for (const word of /\s/.test(folded) ? folded.split(/\s+/) : [folded]) {
        const term = normalizeToken(word, profile, config);
        if (term === "" || stops?.has(term)) continue;
        const stemmed = stem ? stem(term) : term;
        if (stemmed !== "") out.push(stemmed);
      }
    }
  };
}

// Lower-casing and the language rules: everything between NFKC and the stop filter. Stop lists go
// through it too, so a list entry matches exactly the tokens it spells.
function normalizeToken(word: string, profile: LanguageProfile, config: AnalyzerConfig): string {
  let w = word;
  if (config.lowercase) {
    // Lucene lower-cases per code point (Character.toLowerCase): İ becomes i, not JavaScript's i + U+0307.
    w = profile.lowerLocale
      ? w.toLocaleLowerCase(profile.lowerLocale)
      : w.replace(/\u0130/g, "i").toLowerCase();
  }
  for (const rule of profile.rules) w = applyRule(rule, w);
  return w;
}

function applyRule(rule: TokenRule, w: string): string {
  switch (rule) {
    case "english-possessive":
      // EnglishPossessiveFilter: drop a trailing 's (any apostrophe NFKC leaves: ' or ’).
      return /['\u2019][sS]$/.test(w) ? w.slice(0, -2) : w;
    case "turkish-apostrophe": {
      // ApostropheFilter: "Türkiye'nin" -> "Türkiye"; the suffix after the apostrophe is inflection.
      const i = w.search(/['\u2019]/);
      return i < 0 ? w : w.slice(0, i);
    }
    case "greek-fold":
      // GreekLowerCaseFilter: no tonos or dialytika, and final sigma as σ (the stop list's spelling).
      return w
        .normalize("NFD")
        .replace(/[\u0301\u0308\u0344]/g, "")
        .normalize("NFC")
        .replace(/ς/g, "σ");
  }
}

const STOP_SETS = new Map<string, ReadonlySet<string>>();

function stopSet(profile: LanguageProfile, config: AnalyzerConfig): ReadonlySet<string> | null {
  if (profile.stopwords === null) return null;
  const key = `${profile.language}:${config.lowercase}`;
  let set = STOP_SETS.get(key);
  if (set === undefined) {
    const words = STOPWORDS[profile.stopwords].split(" ");
    set = new Set(words.map((w) => normalizeToken(w.normalize("NFKC"), profile, config)));
    STOP_SETS.set(key, set);
  }
  return set;
}

// StandardTokenizer cuts words longer than maxTokenLength; we do the same without splitting a
// surrogate pair.
function splitLong(word: string, max: number): string[] {
  if (word.length <= max) return [word];
  const pieces: string[] = [];
  let start = 0;
  while (start < word.length) {
    let end = Math.min(start + max, word.length);
    const last = word.charCodeAt(end - 1);
    if (end < word.length && last >= 0xd800 && last <= 0xdbff && end - 1 > start) end--;
    pieces.push(word.slice(start, end));
    start = end;
  }
  return pieces;
}
