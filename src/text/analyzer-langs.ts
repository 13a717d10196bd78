// Which stemmer, stop words and small per-language token rules each language gets, keyed by the
// ISO 639-3 part of its NLLB-200 code. The choices follow the Lucene analyzers Pyserini uses for
// that language; `lucene` names that analyzer, and `differs` says where we depart from it.
// Stemmers come from @orama/stemmers (Snowball-generated code) for every language here except
// English, which gets Martin Porter's original algorithm from analyzer-porter.ts: what Lucene's
// EnglishAnalyzer runs (PorterStemFilter), rather than Snowball's "english" (Porter2).
// A language missing here is still analysed (segmentation, NFKC, lower-casing) but not stemmed and
// not stop-filtered: Chinese, Japanese, Korean, Vietnamese and most of NLLB's 200 languages.
import { stemmer as arabic } from "@orama/stemmers/arabic";
import { stemmer as armenian } from "@orama/stemmers/armenian";
import { stemmer as danish } from "@orama/stemmers/danish";
import { stemmer as dutch } from "@orama/stemmers/dutch";
import { stemmer as finnish } from "@orama/stemmers/finnish";
import { stemmer as french } from "@orama/stemmers/french";
import { stemmer as german } from "@orama/stemmers/german";
import { stemmer as greek } from "@orama/stemmers/greek";
import { stemmer as hungarian } from "@orama/stemmers/hungarian";
import { stemmer as hindi } from "@orama/stemmers/indian";
import { stemmer as indonesian } from "@orama/stemmers/indonesian";
import { stemmer as irish } from "@orama/stemmers/irish";
import { stemmer as italian } from "@orama/stemmers/italian";
import { stemmer as lithuanian } from "@orama/stemmers/lithuanian";
import { stemmer as nepali } from "@orama/stemmers/nepali";
import { stemmer as norwegian } from "@orama/stemmers/norwegian";
import { stemmer as portuguese } from "@orama/stemmers/portuguese";
import { stemmer as romanian } from "@orama/stemmers/romanian";
import { stemmer as russian } from "@orama/stemmers/russian";
import { stemmer as serbian } from "@orama/stemmers/serbian";
import { stemmer as spanish } from "@orama/stemmers/spanish";
import { stemmer as swedish } from "@orama/stemmers/swedish";
import { stemmer as tamil } from "@orama/stemmers/tamil";
import { stemmer as turkish } from "@orama/stemmers/turkish";
import { porterStem } from "./analyzer-porter.ts";

/** A per-token rewrite applied after lower-casing and before stop words (Lucene's small filters). */
export type TokenRule = "english-possessive" | "turkish-apostrophe" | "greek-fold";

export interface LanguageProfile {
  /** ISO 639-3 of the language ("eng"); "und" for the generic profile. */
  readonly language: string;
  /** Snowball algorithm name ("russian", "porter" for English), or null: no stemming. */
  readonly stemmerName: string | null;
  readonly stem: ((word: string) => string) | null;
  /** Key into STOPWORDS, or null: no stop words. */
  readonly stopwords: string | null;
  /** Locale for lower-casing where the language needs its own (Turkish dotted/dotless i). */
  readonly lowerLocale: string | null;
  readonly rules: readonly TokenRule[];
  /** The Lucene analyzer Pyserini uses for this language, and where we differ from it. */
  readonly lucene: string;
  readonly differs: string;
}

interface Entry {
  codes: readonly string[];
  stemmerName: string | null;
  stem: ((word: string) => string) | null;
  stopwords?: string;
  lowerLocale?: string;
  rules?: readonly TokenRule[];
  lucene: string;
  differs?: string;
}

// Arabic varieties NLLB writes in Arabic script share Modern Standard Arabic's stemmer and list.
const ARABIC = ["arb", "ars", "ary", "arz", "acm", "acq", "aeb", "ajp", "apc"];

// prettier-ignore
const ENTRIES: readonly Entry[] = [
  { codes: ["eng"], stemmerName: "porter", stem: porterStem, stopwords: "eng", rules: ["english-possessive"],
    lucene: "EnglishAnalyzer (Pyserini's DefaultEnglishAnalyzer: possessive, lower-case, stop, Porter)" },
  { codes: ["deu"], stemmerName: "german", stem: german, stopwords: "deu",
    lucene: "GermanAnalyzer", differs: "Snowball German instead of GermanNormalization + GermanLightStem" },
  { codes: ["rus"], stemmerName: "russian", stem: russian, stopwords: "rus", lucene: "RussianAnalyzer" },
  { codes: ARABIC, stemmerName: "arabic", stem: arabic, stopwords: "arb",
    lucene: "ArabicAnalyzer", differs: "Snowball Arabic (its own normalisation) instead of ArabicNormalization + ArabicStem; no DecimalDigitFilter (NFKC leaves Arabic-Indic digits)" },
  { codes: ["hin"], stemmerName: "hindi", stem: hindi, stopwords: "hin",
    lucene: "HindiAnalyzer", differs: "Snowball Hindi (the same Ramanathan & Rao light stemmer) without Indic/Hindi normalisation" },
  { codes: ["tha"], stemmerName: null, stem: null, stopwords: "tha",
    lucene: "ThaiAnalyzer", differs: "ICU dictionary segmentation through Intl.Segmenter, as Lucene's ThaiTokenizer" },
  { codes: ["tur"], stemmerName: "turkish", stem: turkish, stopwords: "tur", lowerLocale: "tr", rules: ["turkish-apostrophe"],
    lucene: "TurkishAnalyzer (apostrophe, Turkish lower-case, stop, Snowball Turkish)" },
  { codes: ["ell"], stemmerName: "greek", stem: greek, stopwords: "ell", rules: ["greek-fold"],
    lucene: "GreekAnalyzer", differs: "Snowball Greek instead of Lucene's GreekStemmer (both after Ntais)" },
  { codes: ["spa"], stemmerName: "spanish", stem: spanish, stopwords: "spa",
    lucene: "SpanishAnalyzer", differs: "Snowball Spanish instead of SpanishLightStem" },
  { codes: ["fra"], stemmerName: "french", stem: french, lucene: "FrenchAnalyzer",
    differs: "Snowball French instead of FrenchLightStem; no elision filter; no stop words yet" },
  { codes: ["ita"], stemmerName: "italian", stem: italian, lucene: "ItalianAnalyzer",
    differs: "Snowball Italian instead of ItalianLightStem; no elision filter; no stop words yet" },
  { codes: ["por"], stemmerName: "portuguese", stem: portuguese, lucene: "PortugueseAnalyzer",
    differs: "Snowball Portuguese instead of PortugueseLightStem; no stop words yet" },
  { codes: ["nld"], stemmerName: "dutch", stem: dutch, lucene: "DutchAnalyzer", differs: "no stop words yet" },
  { codes: ["dan"], stemmerName: "danish", stem: danish, lucene: "DanishAnalyzer", differs: "no stop words yet" },
  { codes: ["fin"], stemmerName: "finnish", stem: finnish, lucene: "FinnishAnalyzer", differs: "no stop words yet" },
  { codes: ["hun"], stemmerName: "hungarian", stem: hungarian, lucene: "HungarianAnalyzer", differs: "no stop words yet" },
  { codes: ["nob", "nno"], stemmerName: "norwegian", stem: norwegian, lucene: "NorwegianAnalyzer", differs: "no stop words yet" },
  { codes: ["swe"], stemmerName: "swedish", stem: swedish, lucene: "SwedishAnalyzer", differs: "no stop words yet" },
  { codes: ["ron"], stemmerName: "romanian", stem: romanian, lucene: "RomanianAnalyzer", differs: "no stop words yet" },
  { codes: ["ind"], stemmerName: "indonesian", stem: indonesian, lucene: "IndonesianAnalyzer",
    differs: "Snowball Indonesian instead of Lucene's IndonesianStemmer; no stop words yet" },
  { codes: ["gle"], stemmerName: "irish", stem: irish, lucene: "IrishAnalyzer", differs: "no Irish lower-casing or elision; no stop words yet" },
  { codes: ["lit"], stemmerName: "lithuanian", stem: lithuanian, lucene: "LithuanianAnalyzer", differs: "no stop words yet" },
  { codes: ["npi"], stemmerName: "nepali", stem: nepali, lucene: "NepaliAnalyzer", differs: "no stop words yet" },
  { codes: ["hye"], stemmerName: "armenian", stem: armenian, lucene: "ArmenianAnalyzer", differs: "no stop words yet" },
  { codes: ["tam"], stemmerName: "tamil", stem: tamil, lucene: "none (Pyserini: whitespace)", differs: "Snowball Tamil; no stop words" },
  { codes: ["srp"], stemmerName: "serbian", stem: serbian, lucene: "none (SerbianNormalizationFilter only)", differs: "Snowball Serbian; no stop words" },
];

export const GENERIC_PROFILE: LanguageProfile = {
  language: "und",
  stemmerName: null,
  stem: null,
  stopwords: null,
  lowerLocale: null,
  rules: [],
  lucene: "StandardAnalyzer without stop words (Pyserini uses CJKAnalyzer bigrams for zh/ja/ko)",
  differs:
    "dictionary word segmentation (ICU) for Chinese/Japanese/Thai/Khmer/Lao/Burmese instead of unigrams or bigrams",
};

const BY_CODE = new Map<string, LanguageProfile>();
for (const e of ENTRIES) {
  for (const code of e.codes) {
    BY_CODE.set(code, {
      language: code,
      stemmerName: e.stemmerName,
      stem: e.stem,
      stopwords: e.stopwords ?? null,
      lowerLocale: e.lowerLocale ?? null,
      rules: e.rules ?? [],
      lucene: e.lucene,
      differs: e.differs ?? "same filters; Intl.Segmenter instead of StandardTokenizer; NFKC first",
    });
  }
}

/** The profile of an ISO 639-3 code, or the generic (no stemming, no stop words) profile. */
export function profileOf(iso3: string): LanguageProfile {
  return BY_CODE.get(iso3) ?? { ...GENERIC_PROFILE, language: iso3 };
}

/** ISO 639-3 codes that get a stemmer or stop words. */
export const STEMMED_LANGUAGES: readonly string[] = [...BY_CODE.keys()];
