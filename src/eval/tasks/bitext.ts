// Bitext mining as LASER scores it (Tatoeba; FLORES-200 and NLLB-Seed as xSIM does): every sentence
// of one side retrieves its nearest neighbour among all sentences of the other side, and it is an
// error when that is not the sentence on the same line. Both directions, error rate per language.
// Each direction is a setting whose qrels hold the one gold line, so the error rate is 1 - P@1 as
// trec_eval computes it (ties broken as trec_eval does), averaged over every line.
import { basename } from "node:path";
import { resolveNllbLang } from "../../text/nllb-langs.ts";
import { pickLang } from "../datasets/bitext.ts";
import { listFloresLangs, loadFlores } from "../datasets/flores.ts";
import { listNllbSeedLangs, loadNllbSeed } from "../datasets/nllb-seed.ts";
import type { Bitext } from "../datasets/task.ts";
import { listTatoebaLangs, loadTatoeba } from "../datasets/tatoeba.ts";
import type { Qrels } from "../qrels.ts";
import { mean, type ReportBody, type Row } from "../report.ts";
import {
  checkLimit,
  pickLangs,
  type EvalTask,
  type Setting,
  type SettingMetrics,
  type TextSet,
} from "./task.ts";

export interface BitextOptions {
  langs?: readonly string[];
  /** The first `limit` lines of both sides of every pair (a smaller, easier bitext). */
  limit?: number;
  /** FLORES-200 split (default devtest). */
  split?: string;
}

/** One language against the pivot (English), with the file each side came from. */
interface Pair {
  lang: string;
  bitext: Bitext;
  srcSource: string;
  tgtSource: string;
}

const MEASURES = ["P.1", "recip_rank"];

export function tatoebaTask(dir: string, opts: BitextOptions = {}): EvalTask {
  checkLimit(opts.limit);
  const available = listTatoebaLangs(dir);
  const iso3 = (c: string) => (available.includes(c) ? c : resolveNllbLang(c).slice(0, 3));
  const langs = pickLangs(opts.langs, available, dir, iso3);
  const pairs = langs.map((l) => {
    const stem = `${basename(dir)}/tatoeba.${l}-eng`;
    return { lang: l, bitext: loadTatoeba(dir, l), srcSource: `${stem}.${l}`, tgtSource: `${stem}.eng` };
  });
  return bitextTask("tatoeba", "Tatoeba (LASER) bitext mining, xx <-> eng: error rate", pairs, opts, [
    "Each pair has its own English side (LASER's README: scores are not directly comparable across languages).",
  ]);
}

export function floresTask(dir: string, opts: BitextOptions = {}): EvalTask {
  checkLimit(opts.limit);
  const split = opts.split ?? "devtest";
  const available = listFloresLangs(dir, { split }).filter((l) => l !== PIVOT);
  const where = `${dir} (FLORES-200 ${split})`;
  const langs = pickLangs(opts.langs, available, where, (c) => pickLang(c, available, where));
  const pairs = langs.map((l) => ({
    lang: l,
    bitext: loadFlores(dir, l, PIVOT, { split }),
    srcSource: `${basename(dir)}/${split}/${l}.${split}`,
    tgtSource: `${basename(dir)}/${split}/${PIVOT}.${split}`,
  }));
  return bitextTask(
    "flores",
    `FLORES-200 ${split} bitext mining (xSIM), xx <-> eng_Latn: error rate`,
    pairs,
    opts,
    ["FLORES-200 is an evaluation set held out from NLLB-200 training."],
  );
}

export function nllbSeedTask(dir: string, opts: BitextOptions = {}): EvalTask {
  checkLimit(opts.limit);
  const available = listNllbSeedLangs(dir).filter((l) => l !== PIVOT);
  const where = `${dir} (NLLB-Seed)`;
  const langs = pickLangs(opts.langs, available, where, (c) => pickLang(c, available, where));
  const pairs = langs.map((l) => ({
    lang: l,
    bitext: loadNllbSeed(dir, l, PIVOT),
    srcSource: `${basename(dir)}/${l}`,
    tgtSource: `${basename(dir)}/${PIVOT}`,
  }));
  return bitextTask("nllb-seed", "NLLB-Seed bitext mining, xx <-> eng_Latn: error rate", pairs, opts, [
    "NLLB-200 was trained on NLLB-Seed: scores of NLLB-based encoders here are not zero-shot.",
  ]);
}

const PIVOT = "eng_Latn";

function bitextTask(
  name: string,
  title: string,
  pairs: Pair[],
  opts: BitextOptions,
  extraNotes: string[],
): EvalTask {
  const notes = [...extraNotes];
  if (opts.limit !== undefined)
    notes.push(
      `Sample: the first ${opts.limit} lines of both sides of every pair (fewer candidates: easier).`,
    );
  notes.push("Error rate = 1 - P@1 (nearest neighbour is not the same line), in %; lower is better.");
  const settings = pairs.flatMap((p) => {
    const n = Math.min(p.bitext.src.length, opts.limit ?? Infinity);
    const src = side(p.srcSource, p.bitext.srcLang, p.bitext.src, n);
    const tgt = side(p.tgtSource, p.bitext.tgtLang, p.bitext.tgt, n);
    return [direction(src, tgt), direction(tgt, src)];
  });
  const pivot = pairs[0]?.bitext.tgtLang ?? "eng";
  return {
    name,
    title,
    settings,
    measures: MEASURES,
    notes,
    layout: (m) => bitextLayout(pairs, pivot, m),
  };
}

function side(source: string, lang: string, lines: string[], n: number): TextSet {
  return {
    source,
    lang,
    ids: Array.from({ length: n }, (_, i) => `${lang}/${i}`),
    texts: lines.slice(0, n),
  };
}

/** Sentences of `from` retrieving among those of `to`; line i's gold is line i. Both sides are
 *  embedded as queries: bitext mining is symmetric, and E5 asks for "query: " on symmetric tasks. */
function direction(from: TextSet, to: TextSet): Setting {
  const qrels: Qrels = new Map(from.ids.map((q, i) => [q, new Map([[to.ids[i], 1]])]));
  return {
    id: `${from.lang}-${to.lang}`,
    queries: [from],
    docs: [to],
    queryRole: "query",
    docRole: "query",
    cosine: true,
    qrels,
    bitext: true,
  };
}

/** Rows per language: xx -> pivot, pivot -> xx, their mean; the last row averages the languages. */
export function bitextLayout(
  pairs: readonly { lang: string; bitext: Bitext }[],
  pivot: string,
  metrics: readonly SettingMetrics[],
): ReportBody {
  const error = new Map(metrics.map((m) => [m.id, 1 - m.all["P_1"]]));
  const rows: Row[] = pairs.map((p) => {
    const fwd = error.get(`${p.bitext.srcLang}-${p.bitext.tgtLang}`) ?? null;
    const bwd = error.get(`${p.bitext.tgtLang}-${p.bitext.srcLang}`) ?? null;
    return { key: p.lang, label: p.lang, values: [fwd, bwd, mean([fwd, bwd])] };
  });
  const columns = [
    { key: "xx->eng", label: `xx → ${pivot}` },
    { key: "eng->xx", label: `${pivot} → xx` },
    { key: "mean", label: "mean of both" },
  ];
  const average: Row = {
    key: "average",
    label: `average (${rows.length} languages)`,
    values: columns.map((_, c) => mean(rows.map((r) => r.values[c]))),
  };
  return {
    tables: [
      {
        id: "bitext",
        title: "Error rate (%) of nearest-neighbour retrieval, lower is better",
        rowHeader: "language",
        columns,
        rows: [...rows, average],
        lowerIsBetter: true,
      },
    ],
    chart: {
      title: "Bitext mining error rate per language (lower is better)",
      table: "bitext",
      categories: rows.map((r) => r.key),
      series: columns.slice(0, 2).map((c, i) => ({ ...c, values: rows.map((r) => r.values[i]) })),
      axis: "error rate (%)",
      lowerIsBetter: true,
    },
  };
}
