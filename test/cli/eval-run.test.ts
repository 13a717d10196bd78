// `xlir eval run` end to end on the real data in ../shared/data (XQuAD-R: all 121 pairs and the
// pool; Tatoeba: all 80 pairs), with BM25 and with a tiny random encoder, on the first questions
// or lines of each language. Every number checked here is recomputed in the test by brute force
// from the data files (its own reader, its own ranking), so a broken loader, ranking, run, metric or
// averaging shows up as a wrong number, not just a missing file.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { after, before, describe, it } from "node:test";
import { inProcess } from "../helpers/cli.ts";
import { evalRunCommand } from "../../src/cli/eval-run.ts";
import { Encoder } from "../../src/encode/encoder.ts";
import { readQrels } from "../../src/eval/qrels.ts";
import { compareIds } from "../../src/eval/ranking.ts";
import { rrf } from "../../src/eval/rrf.ts";
import { evaluate } from "../../src/eval/trec-eval.ts";
import { readRun } from "../../src/eval/trec-run.ts";
import { addDocuments, createBm25Index, searchBm25 } from "../../src/index/bm25.ts";
import { sharedDir } from "../helpers/shared.ts";
import { wordE5Dir, wordsOf } from "../helpers/tiny-models.ts";

const data = join(sharedDir, "data");
const tmp = mkdtempSync(join(tmpdir(), "xlir-eval-run-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"];

const cli = (args: string[]) => inProcess(evalRunCommand(), args);

interface Metrics {
  settings: {
    id: string;
    numQueries: number;
    all: Record<string, number>;
    byQueryLang: Record<string, Record<string, number>>;
  }[];
  tables: { id: string; rows: { key: string; values: (number | null)[] }[]; columns: { key: string }[] }[];
  cache: { hits: number; misses: number; textsEncoded: number; modelLoaded: boolean } | null;
}
/** `xlir eval run TASK --model MODEL --data <the shared data> --output OUT ...extra`. */
const evalRun = (task: string, model: string, out: string, ...extra: string[]) =>
  cli([task, "--model", model, "--data", data, "--output", out, ...extra]);
const metrics = (dir: string) => JSON.parse(readFileSync(join(dir, "metrics.json"), "utf8")) as Metrics;
const perQuery = (dir: string) =>
  JSON.parse(readFileSync(join(dir, "per-query.json"), "utf8")) as Record<
    string,
    Record<string, Record<string, number>>
  >;
const setting = (m: Metrics, id: string) => m.settings.find((s) => s.id === id)!;
const cellOf = (m: Metrics, table: string, row: string, col: string) => {
  const t = m.tables.find((x) => x.id === table)!;
  return t.rows.find((r) => r.key === row)!.values[t.columns.findIndex((c) => c.key === col)];
};
const near = (a: number, b: number, what: string, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

// ---- the test's own XQuAD-R reader: candidates by (article, paragraph, sentence), gold = the
// sentence whose span holds the answer start (../shared/data/README.md's convention).
interface Xq {
  sentences: { id: string; text: string }[];
  questions: { squadId: string; text: string; gold: string }[];
}
const xqCache = new Map<string, Xq>();
function readXquad(lang: string): Xq {
  if (xqCache.has(lang)) return xqCache.get(lang)!;
  type P = {
    sentences: string[];
    sentence_breaks: [number, number][];
    qas: { id: string; question: string; answers: { answer_start: number }[] }[];
  };
  const json = JSON.parse(readFileSync(join(data, "xquad-r", `${lang}.json`), "utf8")) as {
    data: { paragraphs: P[] }[];
  };
  const x: Xq = { sentences: [], questions: [] };
  json.data.forEach((art, a) =>
    art.paragraphs.forEach((p, pi) => {
      p.sentences.forEach((text, s) => x.sentences.push({ id: `${lang}/${a}.${pi}.${s}`, text }));
      for (const qa of p.qas) {
        const start = qa.answers[0].answer_start;
        const s = p.sentence_breaks.findIndex(([, end]) => start < end);
        x.questions.push({ squadId: qa.id, text: qa.question, gold: `${lang}/${a}.${pi}.${s}` });
      }
    }),
  );
  xqCache.set(lang, x);
  return x;
}

/** 1-based rank of `doc` among all scored documents in trec_eval's order; Infinity if unscored. */
function rankOf(scores: Map<string, number>, doc: string): number {
  const s = scores.get(doc);
  if (s === undefined) return Infinity;
  let above = 0;
  for (const [d, v] of scores) if (v > s || (v === s && compareIds(d, doc) > 0)) above++;
  return above + 1;
}
/** trec_eval's AP cut at k with `golds` relevant: sum of precision at each gold within k, / all golds. */
function apAt(scores: Map<string, number>, golds: string[], k: number): number {
  const ranks = golds
    .map((g) => rankOf(scores, g))
    .filter((r) => r <= k)
    .sort((a, b) => a - b);
  return ranks.reduce((s, r, i) => s + (i + 1) / r, 0) / golds.length;
}
function bm25Scores(docs: { id: string; text: string }[], lang: string | undefined) {
  const index = createBm25Index();
  addDocuments(
    index,
    docs.map((d) => ({ ...d, lang })),
  );
  return (query: string, qlang: string | undefined) =>
    new Map(searchBm25(index, query, { k: docs.length, lang: qlang }).map((h) => [h.id, h.score]));
}

describe("xlir eval run xquad-r, BM25, all 121 pairs", () => {
  const out = join(tmp, "xq-bm25");
  const N = 30;
  let m: Metrics;
  let stdout: string;
  before(async () => {
    stdout = (await evalRun("xquad-r", "bm25", out, "--limit", String(N))).out;
    m = metrics(out);
  });

  it("evaluates every ordered pair of the 11 languages on the sampled questions", () => {
    assert.deepEqual(
      m.settings.map((s) => s.id).sort(),
      LANGS.flatMap((q) => LANGS.map((c) => `${q}-${c}`)).sort(),
    );
    assert.ok(m.settings.every((s) => s.numQueries === N));
  });

  it("gives each pair the mAP@100 a brute-force BM25 ranking of the data files gives", () => {
    for (const [q, c] of [
      ["en", "en"],
      ["de", "en"],
      ["zh", "zh"],
      ["ru", "hi"],
      ["tr", "de"],
    ]) {
      const score = bm25Scores(readXquad(c).sentences, c);
      const goldIn = new Map(readXquad(c).questions.map((x) => [x.squadId, x.gold]));
      const aps = readXquad(q)
        .questions.slice(0, N)
        .map((x) => apAt(score(x.text, q), [goldIn.get(x.squadId)!], 100));
      near(setting(m, `${q}-${c}`).all.map_cut_100, avg(aps), `${q}-${c}`);
    }
    // Monolingual BM25 works; Greek questions against Thai sentences share no script.
    assert.ok(setting(m, "en-en").all.map_cut_100 > 0.6);
    assert.ok(setting(m, "el-th").all.map_cut_100 < 0.05);
  });

  it("macro-averages X_Q = X_C over the 11 diagonal pairs and X_Q != X_C over the other 110", () => {
    const v = (q: string, c: string) => setting(m, `${q}-${c}`).all.map_cut_100;
    const mono = avg(LANGS.map((l) => v(l, l)));
    const cross = avg(LANGS.flatMap((q) => LANGS.filter((c) => c !== q).map((c) => v(q, c))));
    near(cellOf(m, "summary", "X_Q=X_C", "mAP@100")!, mono, "X_Q = X_C");
    near(cellOf(m, "summary", "X_Q!=X_C", "mAP@100")!, cross, "X_Q != X_C");
    // (a pooled mean over all 121 would be neither)
    assert.ok(mono > 3 * cross);
    near(cellOf(m, "pairs", "de", "en")!, v("de", "en"), "matrix cell");
    near(
      cellOf(m, "languages", "de", "X->other")!,
      avg(LANGS.filter((c) => c !== "de").map((c) => v("de", c))),
      "row mean",
    );
  });

  it("writes run and qrels files that xlir eval trec scores to the same number", () => {
    const { run } = readRun(join(out, "runs", "de-en.trec"));
    // A question BM25 finds nothing for has no line to write: it scores 0 all the same.
    const found = Object.values(perQuery(out)["de-en"]).length;
    assert.ok(run.size <= found && run.size > N / 2);
    assert.ok([...run.values()].every((docs) => docs.size <= 100));
    const r = evaluate(readQrels(join(out, "qrels", "de-en.qrels")), run, {
      measures: ["map_cut.100"],
      complete: true,
    });
    near(r.all[0].value as number, setting(m, "de-en").all.map_cut_100, "re-scored run");
  });

  it("prints the papers' layout: the summary, the 11 x 11 matrix, and a per-language chart", () => {
    assert.match(stdout, /\| X_Q = X_C \(11 pairs\) \| \d+\.\d \|/);
    assert.match(stdout, /\| X_Q ≠ X_C \(110 pairs\) \| \d+\.\d \|/);
    assert.match(stdout, new RegExp(`\\| X_Q \\\\ X_C \\| ${LANGS.join(" \\| ")} \\|`));
    assert.equal(readFileSync(join(out, "report.md"), "utf8"), stdout);
    const svg = readFileSync(join(out, "chart.svg"), "utf8");
    for (const l of LANGS) assert.match(svg, new RegExp(`<title>${l} · X_Q = X_C: \\d+\\.\\d</title>`));
    assert.ok(existsSync(join(out, "per-query.json")));
  });
});

describe("xlir eval run xquad-r-pooled, BM25", () => {
  const out = join(tmp, "xq-pool");
  const N = 15;
  let m: Metrics;
  before(async () => {
    await evalRun("xquad-r-pooled", "bm25", out, "--limit", String(N), "--no-runs");
    m = metrics(out);
  });

  it("ranks one pool of all languages' sentences, 11 relevant per question: mAP@20 and mAP@100 by brute force", () => {
    const s = setting(m, "pooled");
    assert.equal(s.numQueries, 11 * N);
    assert.ok(!existsSync(join(out, "runs")));
    // The pool, each sentence analysed in its own language (one index, as the harness builds it).
    const index = createBm25Index();
    for (const l of LANGS)
      addDocuments(
        index,
        readXquad(l).sentences.map((x) => ({ ...x, lang: l })),
      );
    const all = LANGS.reduce((n, l) => n + readXquad(l).sentences.length, 0);
    assert.equal(all, 13014);
    const pq = perQuery(out).pooled;
    for (const [lang, i] of [
      ["en", 0],
      ["de", 3],
      ["zh", 7],
    ] as const) {
      const x = readXquad(lang).questions[i];
      const golds = LANGS.map((l) => readXquad(l).questions.find((y) => y.squadId === x.squadId)!.gold);
      const scores = new Map(searchBm25(index, x.text, { k: all, lang }).map((h) => [h.id, h.score]));
      near(pq[`${lang}/${x.squadId}`].map_cut_20, apAt(scores, golds, 20), `${lang} ${i} mAP@20`);
      near(pq[`${lang}/${x.squadId}`].map_cut_100, apAt(scores, golds, 100), `${lang} ${i} mAP@100`);
    }
    // Rows per question language are the means of that language's questions.
    const en = Object.entries(pq).filter(([q]) => q.startsWith("en/"));
    assert.equal(en.length, N);
    near(s.byQueryLang.en.map_cut_20, avg(en.map(([, v]) => v.map_cut_20)), "en row");
    near(cellOf(m, "pooled", "all", "mAP@20")!, s.all.map_cut_20, "all row");
    near(cellOf(m, "pooled", "en", "mAP@100")!, s.byQueryLang.en.map_cut_100, "en mAP@100");
  });
});

// ---- the test's own Tatoeba reader
const tatoeba = (lang: string, n: number) => {
  const lines = (f: string) =>
    readFileSync(join(data, "tatoeba", f), "utf8")
      .split("\n")
      .slice(0, n);
  return { xx: lines(`tatoeba.${lang}-eng.${lang}`), eng: lines(`tatoeba.${lang}-eng.eng`) };
};
/** Error rate of top-1 retrieval: the best-scored candidate is not the same line. */
const errorRate = (tops: (number | undefined)[]) => tops.filter((t, i) => t !== i).length / tops.length;
const top1 = (scores: Map<string, number>) =>
  [...scores].sort(([a, sa], [b, sb]) => (sa > sb ? -1 : sa < sb ? 1 : compareIds(b, a)))[0]?.[0];

describe("xlir eval run tatoeba, BM25, all 80 pairs", () => {
  const out = join(tmp, "tt-bm25");
  const N = 40;
  let m: Metrics;
  before(async () => {
    await evalRun("tatoeba", "bm25", out, "--limit", String(N), "--no-runs");
    m = metrics(out);
  });

  it("scores both directions of every pair: error = the top hit is not the same line", () => {
    assert.equal(m.settings.length, 160);
    for (const lang of ["deu", "afr", "arq"]) {
      const t = tatoeba(lang, N);
      // arq (Algerian Arabic) has no analyzer: the harness analyses it generically, as here.
      const lx = lang === "arq" ? undefined : lang;
      const toEng = bm25Scores(
        t.eng.map((text, i) => ({ id: `eng/${i}`, text })),
        "eng",
      );
      const toXx = bm25Scores(
        t.xx.map((text, i) => ({ id: `${lang}/${i}`, text })),
        lx,
      );
      const fwd = errorRate(
        t.xx.map((s) => top1(toEng(s, lx))).map((id) => (id ? Number(id.split("/")[1]) : undefined)),
      );
      const bwd = errorRate(
        t.eng.map((s) => top1(toXx(s, "eng"))).map((id) => (id ? Number(id.split("/")[1]) : undefined)),
      );
      near(cellOf(m, "bitext", lang, "xx->eng")!, fwd, `${lang} -> eng`);
      near(cellOf(m, "bitext", lang, "eng->xx")!, bwd, `eng -> ${lang}`);
      near(setting(m, `${lang}-eng`).all.P_1, 1 - fwd, `${lang} P@1`);
    }
    const t = m.tables.find((x) => x.id === "bitext")!;
    const rows = t.rows.filter((r) => r.key !== "average");
    assert.equal(rows.length, 80);
    near(cellOf(m, "bitext", "average", "xx->eng")!, avg(rows.map((r) => r.values[0]!)), "average row");
    // BM25 cannot cross languages: most top hits are wrong (LASER-style models reach a few %).
    assert.ok(cellOf(m, "bitext", "average", "mean")! > 0.5);
  });
});

describe("xlir eval run flores and nllb-seed, BM25", () => {
  it("mines xx <-> eng_Latn with languages named by alias; errors as a brute force gives them", async () => {
    const N = 40;
    const out = join(tmp, "flores");
    await evalRun("flores", "bm25", out, "--limit", String(N), "--langs", "deu,hin", "--no-runs");
    const m = metrics(out);
    assert.deepEqual(
      m.settings.map((s) => s.id),
      ["deu_Latn-eng_Latn", "eng_Latn-deu_Latn", "hin_Deva-eng_Latn", "eng_Latn-hin_Deva"],
    );
    const lines = (f: string) =>
      readFileSync(join(data, "flores200", "devtest", f), "utf8")
        .split("\n")
        .slice(0, N);
    const [deu, eng] = [lines("deu_Latn.devtest"), lines("eng_Latn.devtest")];
    const score = bm25Scores(
      eng.map((text, i) => ({ id: `eng_Latn/${i}`, text })),
      "eng_Latn",
    );
    const fwd = errorRate(
      deu.map((s) => top1(score(s, "deu_Latn"))).map((id) => (id ? Number(id.split("/")[1]) : undefined)),
    );
    near(cellOf(m, "bitext", "deu_Latn", "xx->eng")!, fwd, "deu_Latn -> eng_Latn");

    const seed = join(tmp, "nllb-seed");
    await evalRun("nllb-seed", "bm25", seed, "--limit", "20", "--langs", "fur", "--no-runs");
    assert.deepEqual(
      metrics(seed).settings.map((s) => [s.id, s.numQueries]),
      [
        ["fur_Latn-eng_Latn", 20],
        ["eng_Latn-fur_Latn", 20],
      ],
    );
    assert.match(readFileSync(join(seed, "report.md"), "utf8"), /NLLB-200 was trained on NLLB-Seed/);
  });
});

describe("xlir eval run with a tiny random encoder (cached embeddings)", () => {
  const cache = join(tmp, "cache");
  const N = 12;
  let model: string;
  before(() => {
    // A word-level vocabulary from the data makes the random encoder's vectors depend on the words.
    const texts = LANGS.flatMap((l) => [
      ...readXquad(l)
        .questions.slice(0, 40)
        .map((q) => q.text),
      ...readXquad(l)
        .sentences.slice(0, 200)
        .map((s) => s.text),
    ]);
    model = wordE5Dir(wordsOf([...texts, ...tatoeba("deu", N).xx, ...tatoeba("deu", N).eng], 4000), {
      d: 16,
      layers: 1,
      parent: tmp,
    });
  });

  async function embedRows(texts: string[], role: "query" | "passage") {
    const enc = await Encoder.load(model, { threads: 1, warn: () => {} });
    try {
      return (await enc.embed(texts, { role })).data;
    } finally {
      await enc.close();
    }
  }
  const dot = (a: Float32Array, i: number, b: Float32Array, j: number, d: number) => {
    let s = 0;
    for (let c = 0; c < d; c++) s += a[i * d + c] * b[j * d + c];
    return s;
  };

  it("runs all 121 pairs; each pair's mAP@100 matches brute-force dot products of the model's vectors", async () => {
    const out = join(tmp, "xq-dense");
    await evalRun("xquad-r", model, out, "--limit", String(N), "--cache", cache, "--threads", "1");
    const m = metrics(out);
    assert.equal(m.settings.length, 121);
    assert.deepEqual(m.cache, { hits: 0, misses: 22, textsEncoded: 11 * N + 13014, modelLoaded: true });
    const pq = perQuery(out);
    for (const [q, c] of [
      ["de", "en"],
      ["en", "en"],
    ]) {
      const qs = readXquad(q).questions.slice(0, N);
      const cs = readXquad(c).sentences;
      const goldIn = new Map(readXquad(c).questions.map((x) => [x.squadId, x.gold]));
      const qv = await embedRows(
        qs.map((x) => x.text),
        "query",
      );
      const cv = await embedRows(
        cs.map((x) => x.text),
        "passage",
      );
      const d = qv.length / qs.length;
      qs.forEach((x, i) => {
        const gold = goldIn.get(x.squadId)!;
        const g = cs.findIndex((s) => s.id === gold);
        const sg = dot(qv, i, cv, g, d);
        // ONNX Runtime's Gemm and this loop round differently: count near-ties both ways.
        let above = 0;
        let tied = 0;
        cs.forEach((_, j) => {
          if (j === g) return;
          const s = dot(qv, i, cv, j, d);
          if (s > sg + 1e-5) above++;
          else if (s >= sg - 1e-5) tied++;
        });
        const got = pq[`${q}-${c}`][`${q}/${x.squadId}`].map_cut_100;
        const best = above + 1 <= 100 ? 1 / (above + 1) : 0;
        const worst = above + tied + 1 <= 100 ? 1 / (above + tied + 1) : 0;
        assert.ok(
          got <= best + 1e-12 && got >= worst - 1e-12,
          `${q}-${c} ${x.squadId}: ${got} not in [${worst}, ${best}]`,
        );
      });
    }
  });

  it("runs the pool from the cache alone: the model is never loaded", async () => {
    const out = join(tmp, "xq-dense-pool");
    await evalRun("xquad-r-pooled", model, out, "--limit", String(N), "--cache", cache, "--no-runs");
    const m = metrics(out);
    assert.deepEqual(m.cache, { hits: 22, misses: 0, textsEncoded: 0, modelLoaded: false });
    assert.equal(setting(m, "pooled").numQueries, 11 * N);
  });

  it("a second run of the pairs encodes nothing and gives the same numbers", async () => {
    const out = join(tmp, "xq-dense-2");
    const { err } = await evalRun("xquad-r", model, out, "--limit", String(N), "--cache", cache, "--no-runs");
    assert.match(err, /embeddings: 22 cached, 0 encoded \(0 texts\)/);
    assert.deepEqual(metrics(out).cache, { hits: 22, misses: 0, textsEncoded: 0, modelLoaded: false });
    assert.deepEqual(metrics(out).settings, metrics(join(tmp, "xq-dense")).settings);
  });

  it("--dtype int8 embeddings are cached apart from float32's", async () => {
    const out = join(tmp, "xq-dense-int8");
    await evalRun(
      "xquad-r-pooled",
      model,
      out,
      "--limit",
      String(N),
      "--cache",
      cache,
      "--no-runs",
      "--dtype",
      "int8",
    );
    const m = metrics(out);
    assert.deepEqual(m.cache, { hits: 0, misses: 22, textsEncoded: 11 * N + 13014, modelLoaded: true });
    const f32 = setting(metrics(join(tmp, "xq-dense-pool")), "pooled").all.map_cut_20;
    near(setting(m, "pooled").all.map_cut_20, f32, "int8 pooled mAP@20 near float32's", 0.05);
  });

  it("mines Tatoeba bitexts by cosine in both directions, and with xSIM's ratio margin", async () => {
    const out = join(tmp, "tt-dense");
    await evalRun("tatoeba", model, out, "--limit", String(N), "--cache", cache, "--langs", "deu,fra");
    const m = metrics(out);
    assert.deepEqual(
      m.settings.map((s) => s.id),
      ["deu-eng", "eng-deu", "fra-eng", "eng-fra"],
    );
    const t = tatoeba("deu", N);
    const xv = await embedRows(t.xx, "query");
    const ev = await embedRows(t.eng, "query");
    const d = xv.length / N;
    const norm = (v: Float32Array, i: number) => Math.sqrt(dot(v, i, v, i, d));
    const cos = (i: number, j: number) => dot(xv, i, ev, j, d) / (norm(xv, i) * norm(ev, j));
    const nn = (f: (j: number) => number) => {
      let best = 0;
      for (let j = 1; j < N; j++) if (f(j) > f(best)) best = j;
      return best;
    };
    const fwd = errorRate(Array.from({ length: N }, (_, i) => nn((j) => cos(i, j))));
    const bwd = errorRate(Array.from({ length: N }, (_, j) => nn((i) => cos(i, j))));
    near(cellOf(m, "bitext", "deu", "xx->eng")!, fwd, "deu -> eng", 1e-9);
    near(cellOf(m, "bitext", "deu", "eng->xx")!, bwd, "eng -> deu", 1e-9);

    // xSIM ratio margin, k 4: x's 4 nearest by cosine rescored by cos / mean of both neighbourhoods.
    const marginOut = join(tmp, "tt-margin");
    await evalRun(
      "tatoeba",
      model,
      marginOut,
      "--limit",
      String(N),
      "--cache",
      cache,
      "--langs",
      "deu",
      "--margin",
      "ratio",
    );
    const knn = (f: (j: number) => number) =>
      Array.from({ length: N }, (_, j) => j)
        .sort((a, b) => f(b) - f(a))
        .slice(0, 4);
    const meanK = (f: (j: number) => number) => avg(knn(f).map(f));
    const ax = Array.from({ length: N }, (_, i) => meanK((j) => cos(i, j)));
    const ay = Array.from({ length: N }, (_, j) => meanK((i) => cos(i, j)));
    const picks = Array.from({ length: N }, (_, i) => {
      const cands = knn((j) => cos(i, j));
      return cands.reduce((b, j) =>
        cos(i, j) / ((ax[i] + ay[j]) / 2) > cos(i, b) / ((ax[i] + ay[b]) / 2) ? j : b,
      );
    });
    near(
      cellOf(metrics(marginOut), "bitext", "deu", "xx->eng")!,
      errorRate(picks),
      "margin deu -> eng",
      1e-9,
    );
    assert.match(readFileSync(join(marginOut, "report.md"), "utf8"), /- margin: xSIM ratio margin, k 4/);
  });
});

describe("xlir eval run beir:<folder>", () => {
  const root = join(tmp, "beir");
  before(() => {
    const folder = (name: string, corpus: object[], queries: object[], qrels: string) => {
      mkdirSync(join(root, name, "qrels"), { recursive: true });
      const jsonl = (xs: object[]) => xs.map((x) => JSON.stringify(x)).join("\n") + "\n";
      writeFileSync(join(root, name, "corpus.jsonl"), jsonl(corpus));
      writeFileSync(join(root, name, "queries.jsonl"), jsonl(queries));
      writeFileSync(join(root, name, "qrels", "test.tsv"), `query-id\tcorpus-id\tscore\n${qrels}`);
    };
    // q1 finds d1 first (d2 has "cat" once in a longer text); q2 finds d3; q3 shares no word with
    // any document, so its ranking is empty and scores 0; q1 is also a document, which BEIR drops.
    folder(
      "en",
      [
        { _id: "d1", title: "cat", text: "the cat sat" },
        { _id: "d2", text: "a dog and a cat ran far away today" },
        { _id: "d3", text: "dog ran far" },
        { _id: "q1", text: "cat cat cat" },
      ],
      [
        { _id: "q1", text: "cat" },
        { _id: "q2", text: "dog far" },
        { _id: "q3", text: "zebra" },
      ],
      "q1\td1\t1\nq2\td3\t1\nq3\td2\t1\n",
    );
    folder("de", [{ _id: "x", text: "hund" }], [{ _id: "y", text: "katze" }], "y\tx\t1\n");
  });

  it("BM25: nDCG@10, Recall@100 and MRR@10 per language folder; a query with no hit scores 0", async () => {
    const out = join(tmp, "beir-bm25");
    await cli([`beir:${root}`, "--model", "bm25", "--output", out]);
    const m = metrics(out);
    assert.deepEqual(
      m.settings.map((s) => s.id),
      ["de", "en"],
    );
    const en = setting(m, "en").all;
    // q1: d1 at rank 1 (q1 itself, the best match, dropped); q2: d3 at 1; q3: nothing.
    near(en.ndcg_cut_10, 2 / 3, "nDCG@10");
    near(en.recall_100, 2 / 3, "R@100");
    near(en.recip_rank_10, 2 / 3, "MRR@10");
    assert.equal(setting(m, "de").all.ndcg_cut_10, 0); // an empty run: nothing matched at all
    assert.ok(!readFileSync(join(out, "runs", "en.trec"), "utf8").includes("q1 Q0 q1 "));
    assert.equal(readFileSync(join(out, "runs", "de.trec"), "utf8"), "");
    near(cellOf(m, "beir", "average", "nDCG@10")!, 1 / 3, "average row");
  });

  it("without --output writes under the xlir home, never into the current folder", async () => {
    const home = join(tmp, "eval-home");
    const cwd = join(tmp, "eval-cwd");
    mkdirSync(cwd);
    const was = process.cwd();
    process.chdir(cwd);
    try {
      const { err } = await cli([`beir:${root}`, "--model", "bm25", "--home", home]);
      const dir = / wrote (.+) \(\d+ files/.exec(err)?.[1] ?? "";
      assert.ok(dir.startsWith(join(home, "eval") + sep) && dir.endsWith("bm25-bm25"), err);
      assert.ok(existsSync(join(dir, "metrics.json")), `no metrics.json in ${dir}: ${err}`);
      assert.deepEqual(readdirSync(cwd), []);
    } finally {
      process.chdir(was);
    }
  });

  it("hybrid is RRF (k 60) of the dense and the BM25 runs", async () => {
    const model = wordE5Dir(["cat", "dog", "sat", "ran", "far", "the", "a", "zebra"], {
      d: 16,
      layers: 1,
      parent: tmp,
    });
    const run = async (mode: string) => {
      const out = join(tmp, `beir-${mode}`);
      await cli([
        `beir:${join(root, "en")}`,
        "--model",
        model,
        "--mode",
        mode,
        "--output",
        out,
        "--no-cache",
        "--langs",
        "en",
      ]);
      return readRun(join(out, "runs", "en.trec")).run;
    };
    const dense = await run("dense");
    const hybrid = await run("hybrid");
    const bm25 = readRun(join(tmp, "beir-bm25", "runs", "en.trec")).run;
    for (const q of ["q1", "q2", "q3"]) {
      const want = rrf([dense.get(q) ?? new Map(), bm25.get(q) ?? new Map()]);
      assert.deepEqual(hybrid.get(q) ?? new Map(), want, q);
    }
    // Dense ranks every document, q1 all but itself; BM25 found nothing for q3.
    assert.equal(dense.get("q3")?.size, 4);
    assert.equal(dense.get("q1")?.size, 3);
    assert.equal(hybrid.get("q3")?.size, 4);
  });
});

describe("xlir eval run: bad inputs say what to fix", () => {
  const fails = (args: string[], re: RegExp) => assert.rejects(cli(args), re);
  const saved = process.env.XLIR_DATA;
  before(() => delete process.env.XLIR_DATA);
  after(() => {
    if (saved !== undefined) process.env.XLIR_DATA = saved;
  });

  it("names the missing or wrong flag", async () => {
    await fails(
      ["xquad-r", "--model", "bm25"],
      /task "xquad-r" needs the evaluation data: pass --data DIR .* or set XLIR_DATA/,
    );
    await fails(
      ["squad", "--model", "bm25", "--data", data],
      /unknown task "squad"; use one of xquad-r, xquad-r-pooled, tatoeba, flores, nllb-seed, beir:<folder>/,
    );
    await fails(
      ["xquad-r", "--model", "bm25", "--data", data, "--langs", "en,xx"],
      /--langs: .* has no language "xx"; languages there: ar, de/,
    );
    await fails(
      ["tatoeba", "--model", "bm25", "--data", data, "--langs", "klingon"],
      /--langs: .* has no language "klingon"/,
    );
    await fails(
      ["xquad-r", "--model", "bm25", "--mode", "dense", "--data", data],
      /--mode dense needs an encoder, but --model is bm25/,
    );
    await fails(
      ["xquad-r", "--model", "bm25", "--data", data, "--margin", "ratio"],
      /--margin rescores dense neighbours; it needs --mode dense/,
    );
    await fails(
      ["xquad-r", "--model", "bm25", "--data", join(tmp, "nowhere")],
      /--data .*nowhere: no such folder/,
    );
    await fails(
      ["xquad-r", "--model", "bm25", "--data", data, "--limit", "0"],
      /option '--limit <n>' argument '0' is invalid\. give a whole number 1 or more/,
    );
    await fails(
      ["xquad-r", "--model", "bm25", "--data", data, "--reference", join(tmp, "none.yaml")],
      /cannot read reference file .*none\.yaml/,
    );
  });

  it("names the file and line of a malformed qrels line, and a judged query the queries lack", async () => {
    const dir = join(tmp, "bad-beir");
    mkdirSync(join(dir, "qrels"), { recursive: true });
    writeFileSync(join(dir, "corpus.jsonl"), '{"_id": "d1", "text": "x"}\n');
    writeFileSync(join(dir, "queries.jsonl"), '{"_id": "q1", "text": "x"}\n');
    const qrels = join(dir, "qrels", "test.tsv");
    writeFileSync(qrels, "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1 d1\n");
    await fails(
      [`beir:${dir}`, "--model", "bm25", "--output", join(tmp, "o1")],
      new RegExp(`${qrels.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:3: expected`),
    );
    writeFileSync(qrels, "query-id\tcorpus-id\tscore\nq1\td1\tone\n");
    await fails(
      [`beir:${dir}`, "--model", "bm25", "--output", join(tmp, "o1")],
      /test\.tsv:2: score "one" is not an integer/,
    );
    writeFileSync(qrels, "query-id\tcorpus-id\tscore\nq9\td1\t1\n");
    await fails(
      [`beir:${dir}`, "--model", "bm25", "--output", join(tmp, "o1")],
      /query "q9" is judged but not in queries\.jsonl/,
    );
    writeFileSync(qrels, "query-id\tcorpus-id\tscore\n");
    await fails(
      [`beir:${dir}`, "--model", "bm25", "--output", join(tmp, "o1")],
      /no query is judged in its qrels split "test"/,
    );
    await fails([`beir:${join(tmp, "missing")}`, "--model", "bm25"], /no such folder; give a BEIR folder/);
  });
});
