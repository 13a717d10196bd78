// Language identification for documents and queries that come without a language, offline.
//
// The detector is ELD (the `eld` package, "Efficient Language Detector", its medium n-gram
// database shipped inside the package): 60 languages, ISO 639-1 answers, plus its own judgement of
// whether an answer is reliable. Measured here on 300 FLORES-200 devtest sentences per language
// (41 languages), it named every one of its languages right on 97-100% of the sentences (franc got
// English right on 88%, Russian on 86%: "sco", "bul"), and on languages it does not know (Hausa,
// Swahili, Zulu, Khmer...) it answered "not reliable" on 90-100% of them instead of guessing.
// An unreliable answer falls back to the script when only one NLLB-200 language is written in it
// (Khmer, Sinhala, ...), else "und": generic analysis, which is better than a wrong stemmer and a
// wrong language filter. Answers are NLLB-200 codes (resolveNllbLang), the project's language ids.
//
// A guess also says whether to trust it. ELD's own "reliable" is not enough on a few words: on the
// first 1, 2, 3, 4, 5 and 6 words of 300 FLORES-200 devtest sentences in each of English, Spanish,
// German, Russian, Vietnamese and Turkish, it was wrong on about 30%, 12%, 7%, 5%, 3% and 1.5% of
// them, and called most of the wrong answers reliable ("diabetes" is reliably Dutch to it). So a
// guess is confident only with at least MIN_CONFIDENT_WORDS words and a reliable answer (ELD's, or
// a script only one language writes); search reads unconfident queries in every language of the
// collection instead (src/index/search.ts).
import { existsSync, readFileSync } from "node:fs";
import { resolveNllbLang } from "./nllb-langs.ts";

/** Text -> NLLB-200 code, or "und" when the language cannot be told. */
export type LanguageDetector = (text: string) => string;

/** A detector's answer and whether to act on it alone. */
export interface LanguageGuess {
  /** What the LanguageDetector answers: an NLLB-200 code or "und". */
  lang: string;
  /** false for text under MIN_CONFIDENT_WORDS words, an unreliable answer, or "und". */
  confident: boolean;
}

export type LanguageGuesser = (text: string) => LanguageGuess;

/** Fewer words than this and no detector can be trusted (see the measurements above). */
export const MIN_CONFIDENT_WORDS = 4;

export const UNDETERMINED = "und";

/** Only the start of a long text is read: a few hundred words decide, and detection stays fast. */
const MAX_CHARS = 2000;

// Scripts that exactly one NLLB-200 language is written in (Myanmar: Burmese; Shan shares it).
const SCRIPT_LANG: readonly [RegExp, string][] = [
  [/\p{Script=Khmer}/u, "khm_Khmr"],
  [/\p{Script=Sinhala}/u, "sin_Sinh"],
  [/\p{Script=Myanmar}/u, "mya_Mymr"],
  [/\p{Script=Lao}/u, "lao_Laoo"],
  [/\p{Script=Thai}/u, "tha_Thai"],
  [/\p{Script=Hangul}/u, "kor_Hang"],
  [/[\p{Script=Hiragana}\p{Script=Katakana}]/u, "jpn_Jpan"],
  [/\p{Script=Greek}/u, "ell_Grek"],
  [/\p{Script=Georgian}/u, "kat_Geor"],
  [/\p{Script=Armenian}/u, "hye_Armn"],
  [/\p{Script=Gujarati}/u, "guj_Gujr"],
  [/\p{Script=Kannada}/u, "kan_Knda"],
  [/\p{Script=Malayalam}/u, "mal_Mlym"],
  [/\p{Script=Oriya}/u, "ory_Orya"],
  [/\p{Script=Gurmukhi}/u, "pan_Guru"],
  [/\p{Script=Tamil}/u, "tam_Taml"],
  [/\p{Script=Telugu}/u, "tel_Telu"],
];

export interface Eld {
  detect(text: string): { language: string; isReliable(): boolean; getScores(): Record<string, number> };
}

/**
 * ELD's medium database in a file written beside this module's JavaScript by `npm run build`
 * (scripts/finish-build.mjs). eld/medium builds the database by evaluating a 2 MB object literal,
 * about 0.4 s, most of a `xlir search --lang auto` start; JSON.parse of the same data still takes
 * ~70 ms. But a query needs a few dozen of its 105k n-grams, so the file is one line per n-gram
 * (`"ngram"<TAB>{scores}`, sorted by n-gram), after a first line with the rest of the database:
 * loading reads the text and finds the line starts (a few ms), and each n-gram ELD asks for is
 * found by binary search and parsed alone. ELD exports no way to hand it data, so its detector is
 * built from its own src/languageDetector.js, whose only use of the n-grams is to look them up
 * (eld is pinned to 2.1.0; test/text/langid-fast.test.ts checks the answers are eld/medium's).
 * Without the file (the sources run through tsx) or on any failure, eld/medium.
 */
export const ELD_DATABASE = "eld-medium.tsv";

/** The file of eld's own: under its package folder, past the exports map (it is not exported). */
const eldFile = (path: string) => new URL(path, import.meta.resolve("eld")); // src/entries/dynamic.js

/** ELD's medium database as the build writes it (ELD_DATABASE). */
export async function eldMediumDatabase(): Promise<string> {
  const { ngramsData } = (await import(eldFile("../ngrams/medium.js").href)) as {
    ngramsData: { ngrams: Record<string, unknown> };
  };
  const { ngrams, ...rest } = ngramsData;
  const keys = Object.keys(ngrams).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return [JSON.stringify(rest), ...keys.map((k) => `${JSON.stringify(k)}\t${JSON.stringify(ngrams[k])}`)]
    .join("\n")
    .concat("\n");
}

/** The database's n-grams as an object ELD can index: each looked up in `text` when asked for. */
function ngramLookup(text: string, firstLine: number): Record<string, unknown> {
  const starts: number[] = [];
  for (let at = firstLine; at < text.length; at = text.indexOf("\n", at) + 1) starts.push(at);
  const keyAt = (i: number) => JSON.parse(text.slice(starts[i], text.indexOf("\t", starts[i]))) as string;
  const found = new Map<string, unknown>();
  const find = (key: string) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const k = keyAt(mid);
      if (k === key) {
        const tab = text.indexOf("\t", starts[mid]);
        return JSON.parse(text.slice(tab + 1, text.indexOf("\n", tab))) as unknown;
      }
      if (k < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  };
  return new Proxy(
    {},
    {
      get: (_, key) => {
        if (typeof key !== "string") return undefined;
        if (!found.has(key)) found.set(key, find(key));
        return found.get(key);
      },
    },
  );
}

/** ELD's detector, its database read from `file` when that exists, else from eld/medium. */
export async function loadEld(file = new URL(ELD_DATABASE, import.meta.url)): Promise<Eld> {
  if (existsSync(file)) {
    try {
      const { createEld } = (await import(eldFile("../languageDetector.js").href)) as {
        createEld(): { instance: Eld; loadData(data: unknown): string };
      };
      const { instance, loadData } = createEld();
      const text = readFileSync(file, "utf8");
      const eol = text.indexOf("\n");
      const rest = JSON.parse(text.slice(0, eol)) as object;
      if (loadData({ ...rest, ngrams: ngramLookup(text, eol + 1) })) return instance;
    } catch {
      // another eld layout: its own way below
    }
  }
  const { eld } = (await import("eld/medium")) as { eld: Eld & { newInstance(): Eld } };
  return eld.newInstance();
}

/**
 * Loads the detector (the n-gram tables: about 0.1 s built, 0.5 s from the sources, and 150 MB
 * the first time in a process), so callers load it only when some text needs detecting.
 */
export async function loadLanguageDetector(): Promise<LanguageDetector> {
  const guess = await loadLanguageGuesser();
  return (text) => guess(text).lang;
}

/** The detector with its confidence (same answers as loadLanguageDetector's). */
export async function loadLanguageGuesser(): Promise<LanguageGuesser> {
  const detector = await loadEld();
  return (text) => {
    if (typeof text !== "string") throw new Error(`language detection needs a string, got ${typeof text}`);
    const sample = text.length > MAX_CHARS ? text.slice(0, MAX_CHARS) : text;
    const long = wordCount(sample) >= MIN_CONFIDENT_WORDS;
    const r = detector.detect(sample);
    if (r.language && r.isReliable()) {
      try {
        return { lang: resolveNllbLang(r.language), confident: long };
      } catch {
        // a code NLLB-200 spells in several scripts (ku): fall through to the script
      }
    }
    const lang = scriptLanguage(sample);
    return { lang, confident: long && lang !== UNDETERMINED };
  };
}

/**
 * A guesser from either kind of detector: a plain LanguageDetector's answer is trusted on the same
 * terms as ELD's (at least MIN_CONFIDENT_WORDS words, not "und"), having no reliability of its own.
 */
export function asGuesser(detector: LanguageDetector | LanguageGuesser): LanguageGuesser {
  return (text) => {
    const r = detector(text);
    if (typeof r !== "string") return r;
    return { lang: r, confident: r !== UNDETERMINED && wordCount(text) >= MIN_CONFIDENT_WORDS };
  };
}

/** Words as the BM25 analyzer segments them (Intl.Segmenter: dictionary words for Chinese, Thai...). */
export function wordCount(text: string): number {
  words ??= new Intl.Segmenter("und", { granularity: "word" });
  let n = 0;
  for (const s of words.segment(text)) if (s.isWordLike) n++;
  return n;
}

let words: Intl.Segmenter | undefined; // a cache: the segmenter is stateless

/** The NLLB-200 language of the text's dominant script when only one language uses it, else "und". */
export function scriptLanguage(text: string): string {
  let best = UNDETERMINED;
  let bestCount = 0;
  let letters = 0;
  const counts = new Map<string, number>();
  for (const ch of text) {
    if (!/\p{L}/u.test(ch)) continue;
    letters++;
    for (const [re, lang] of SCRIPT_LANG) {
      if (!re.test(ch)) continue;
      const n = (counts.get(lang) ?? 0) + 1;
      counts.set(lang, n);
      if (n > bestCount) [best, bestCount] = [lang, n];
      break;
    }
  }
  // Japanese mixes kana with Han: kana anywhere in a mostly-Han text still says Japanese.
  if (best === "jpn_Jpan") return best;
  return bestCount * 2 > letters ? best : UNDETERMINED;
}
