// LAReQA's retrieval versions of XQuAD and MLQA (XQuAD-R, MLQA-R): one SQuAD v1.1 JSON file per
// language (`de.json`) whose paragraphs also carry `sentences` and `sentence_breaks` ([start, end)
// character spans into `context`). Candidates are the sentences of every context; the relevant
// candidate of a question is the sentence holding its answer start (the README's convention; in
// a few questions the answer runs on into the next sentence).
//
// Questions are parallel across languages by their SQuAD id (XQuAD-R: all 11 languages; MLQA-R:
// 2-4 of 7), so ids keep that id and prefix the language: "de/56beb43..." is the German
// translation of "en/56beb43...". Candidates are "de/a.p.s" (article, paragraph, sentence index):
// by position, because a few sentence strings repeat within a language; in XQuAD-R articles and
// paragraphs are parallel too, so "de/3.2.*" are the sentences of the translation of "en/3.2".
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { Doc, Qrels, Query, RetrievalTask } from "./task.ts";

export interface LareqaCandidate extends Doc {
  /** "de/a.p.s". */
  id: string;
  /** The sentence string from `sentences` (not cut from `context`: tr.json has a paragraph whose
   *  context is mojibake while its sentences are clean). */
  text: string;
  lang: string;
  /** The article title (XQuAD keeps the English Wikipedia title in every language). */
  title: string;
  /** The whole paragraph, for answer encoders that read the sentence in context (LAReQA does). */
  context: string;
}

export interface LareqaQuestion extends Query {
  /** "de/<squad id>". */
  id: string;
  /** The SQuAD id shared by the translations of this question in the other languages. */
  squadId: string;
  text: string;
  lang: string;
  /** First answer's text and start offset (XQuAD-R and MLQA-R have exactly one answer). */
  answer: string;
  answerStart: number;
  /** Id of the candidate sentence in the same language that holds the answer start. */
  gold: string;
}

export interface LareqaLang {
  lang: string;
  questions: LareqaQuestion[];
  candidates: LareqaCandidate[];
}

/** Languages of a LAReQA folder: the stems of its `*.json` files, sorted. */
export function listLareqaLangs(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`${dir}: no such folder; pass the XQuAD-R/MLQA-R folder holding <lang>.json files`);
  }
  const langs = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -".json".length))
    .sort();
  if (langs.length === 0) {
    throw new Error(
      `${dir}: no <lang>.json files; pass the XQuAD-R/MLQA-R folder (e.g. ../shared/data/xquad-r)`,
    );
  }
  return langs;
}

/**
 * Reads `<dir>/<lang>.json` for each of `langs` (default: every language in the folder), in that
 * order. Works for XQuAD-R and MLQA-R alike; synchronous because the files are small (~2 MB).
 */
export function loadLareqa(dir: string, langs?: readonly string[]): LareqaLang[] {
  const available = listLareqaLangs(dir);
  const wanted = langs ?? available;
  wanted.forEach((l, i) => {
    if (!available.includes(l)) {
      throw new Error(`${dir}: no ${l}.json; languages there: ${available.join(", ")}`);
    }
    if (wanted.indexOf(l) !== i) throw new Error(`language "${l}" asked for twice; list each once`);
  });
  return wanted.map((l) => readLareqaFile(join(dir, `${l}.json`), l));
}

export const loadXquadR = loadLareqa;
export const loadMlqaR = loadLareqa;

/** One LAReQA file; `lang` prefixes the ids (default: the file's stem). */
export function readLareqaFile(file: string, lang = basename(file, ".json")): LareqaLang {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const why = `invalid JSON (${(e as Error).message}); re-copy the file`;
    throw new Error(`${file}${jsonErrorPlace(text, e)}: ${why}`, { cause: e });
  }
  return parseLareqa(json, lang, file);
}

/** Turns a parsed LAReQA JSON document into questions and candidates; `source` names it in errors. */
export function parseLareqa(json: unknown, lang: string, source = `${lang}.json`): LareqaLang {
  const NOT_LAREQA = "this is not a LAReQA (XQuAD-R/MLQA-R) file";
  const bad = (where: string, what: string, fix = NOT_LAREQA): never => {
    throw new Error(`${source}: ${where}: ${what}; ${fix}`);
  };
  const data = field(json, "data");
  if (!Array.isArray(data)) bad("top level", `expected {"data": [...]}`);

  const questions: LareqaQuestion[] = [];
  const candidates: LareqaCandidate[] = [];
  const seen = new Set<string>();
  (data as unknown[]).forEach((article, a) => {
    const title = field(article, "title");
    const paragraphs = field(article, "paragraphs");
    if (!Array.isArray(paragraphs)) bad(`data[${a}]`, `"paragraphs" is not a list`);
    (paragraphs as unknown[]).forEach((para, p) => {
      const where = `data[${a}].paragraphs[${p}]`;
      const context = field(para, "context");
      const sentences = field(para, "sentences");
      const breaks = field(para, "sentence_breaks");
      if (typeof context !== "string") bad(where, `"context" is not a string`);
      if (!Array.isArray(sentences) || !sentences.every((s) => typeof s === "string")) {
        bad(where, `"sentences" is not a list of strings`);
      }
      if (!isSpans(breaks) || breaks.length !== (sentences as string[]).length) {
        bad(where, `"sentence_breaks" is not one [start, end] pair per sentence`);
      }
      const spans = breaks as [number, number][];
      const base = `${lang}/${a}.${p}.`;
      (sentences as string[]).forEach((s, i) =>
        candidates.push({
          id: base + i,
          text: s,
          lang,
          title: typeof title === "string" ? title : "",
          context: context as string,
        }),
      );

      const qas = field(para, "qas");
      if (!Array.isArray(qas)) bad(where, `"qas" is not a list`);
      (qas as unknown[]).forEach((qa, q) => {
        const qwhere = `${where}.qas[${q}]`;
        const squadId = field(qa, "id");
        const question = field(qa, "question");
        const answer = (field(qa, "answers") as unknown[] | undefined)?.[0];
        const answerText = field(answer, "text");
        const start = field(answer, "answer_start");
        if (typeof squadId !== "string" || typeof question !== "string") {
          bad(qwhere, `needs a string "id" and "question"`);
        }
        if (typeof answerText !== "string" || !Number.isInteger(start)) {
          bad(qwhere, `"answers" needs [{"text": ..., "answer_start": <int>}]`);
        }
        if (seen.has(squadId as string))
          bad(qwhere, `question id "${squadId}" occurs twice`, "ids must be unique");
        seen.add(squadId as string);
        const s = holdingSentence(spans, context as string, start as number);
        if (s < 0) {
          bad(
            qwhere,
            `answer_start ${start} of question "${squadId}" lies in no sentence`,
            "fix the offsets",
          );
        }
        questions.push({
          id: `${lang}/${squadId}`,
          squadId: squadId as string,
          text: question as string,
          lang,
          answer: answerText as string,
          answerStart: start as number,
          gold: base + s,
        });
      });
    });
  });
  return { lang, questions, candidates };
}

/**
 * Per-pair setting (mAggretriever Table 4): the questions of `q` against the sentences of `c`;
 * each question's single relevant candidate is the sentence of `c` that answers its translation.
 * Questions with no translation in `c` (MLQA-R) are left out, since no candidate can be right.
 */
export function lareqaPairTask(q: LareqaLang, c: LareqaLang): RetrievalTask {
  const goldInC = new Map(c.questions.map((x) => [x.squadId, x.gold]));
  const asked = q.questions.filter((x) => goldInC.has(x.squadId));
  return {
    corpus: c.candidates.map(asDoc),
    queries: asked.map(asQuery),
    qrels: new Map(asked.map((x) => [x.id, new Map([[goldInC.get(x.squadId)!, 1]])])),
  };
}

/**
 * LAReQA's pooled setting: every language's questions against one pool of every language's
 * sentences; a question is relevant to the answer sentence of each of its translations (11 per
 * question in XQuAD-R, the question's own language included).
 */
export function lareqaPooledTask(langs: readonly LareqaLang[]): RetrievalTask {
  langs.forEach((l, i) => {
    if (langs.findIndex((m) => m.lang === l.lang) !== i) {
      throw new Error(`language "${l.lang}" given twice to the pooled task; pass each language once`);
    }
  });
  const golds = new Map<string, string[]>();
  for (const l of langs)
    for (const x of l.questions) golds.set(x.squadId, [...(golds.get(x.squadId) ?? []), x.gold]);
  const qrels: Qrels = new Map();
  for (const l of langs) {
    for (const x of l.questions) qrels.set(x.id, new Map(golds.get(x.squadId)!.map((g) => [g, 1])));
  }
  return {
    corpus: langs.flatMap((l) => l.candidates.map(asDoc)),
    queries: langs.flatMap((l) => l.questions.map(asQuery)),
    qrels,
  };
}

// Tasks carry the common shapes only: the sentence alone is the candidate text in both settings.
const asDoc = (c: LareqaCandidate): Doc => ({ id: c.id, text: c.text, lang: c.lang });
const asQuery = (x: LareqaQuestion): Query => ({ id: x.id, text: x.text, lang: x.lang });

/**
 * Index of the sentence whose span holds `start`. A start in the whitespace between two sentences
 * belongs to the next one (the answer begins there); -1 when no sentence holds or follows it.
 */
function holdingSentence(spans: [number, number][], context: string, start: number): number {
  const i = spans.findIndex(([, end]) => start < end);
  if (i < 0) return -1;
  if (start >= spans[i][0]) return i;
  return context.slice(start, spans[i][0]).trim() === "" ? i : -1;
}

function isSpans(x: unknown): x is [number, number][] {
  return (
    Array.isArray(x) &&
    x.every((s) => Array.isArray(s) && s.length === 2 && Number.isInteger(s[0]) && Number.isInteger(s[1]))
  );
}

function field(obj: unknown, key: string): unknown {
  return typeof obj === "object" && obj !== null && !Array.isArray(obj)
    ? (obj as Record<string, unknown>)[key]
    : undefined;
}

/** ":line:col" of a JSON.parse failure, from the position V8 reports (Node 20 gives no line). */
function jsonErrorPlace(text: string, e: unknown): string {
  const m = /position (\d+)/.exec((e as Error).message);
  if (!m) return "";
  const before = text.slice(0, Number(m[1]));
  const line = before.split("\n").length;
  return `:${line}:${Number(m[1]) - before.lastIndexOf("\n")}`;
}
