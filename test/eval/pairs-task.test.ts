// `xlir eval run pairs:FILE` on a pair file built here from the real XQuAD-R data: questions in
// English, German, Hindi and Thai (and a few English ones with no language) each paired with the
// English sentence that answers it (the en file is parallel to the others by question id), some
// lines with hard negatives. Every number is recomputed by brute force: MRR and R@k from the run
// files against the test's own numbering of the passages, and the BM25 rankings from the test's
// own index of the pool, so a wrong pool (negatives in it, duplicates kept), wrong ids, a wrong
// metric or a wrong "all" row shows up as a wrong number.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inProcess } from "../helpers/cli.ts";
import { evalRunCommand } from "../../src/cli/eval-run.ts";
import { Encoder } from "../../src/encode/encoder.ts";
import { compareIds } from "../../src/eval/ranking.ts";
import { loadTask } from "../../src/eval/tasks/registry.ts";
import { addDocuments, createBm25Index, searchBm25 } from "../../src/index/bm25.ts";
import { sharedDir } from "../helpers/shared.ts";
import { wordE5Dir, wordsOf } from "../helpers/tiny-models.ts";

const xquad = join(sharedDir, "data", "xquad-r");
const tmp = mkdtempSync(join(tmpdir(), "xlir-pairs-task-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[]) => inProcess(evalRunCommand(), args);

// ---- the test's own XQuAD-R reader: questions in file order, each with its answer sentence.
interface Question {
  squadId: string;
  text: string;
  /** The sentence of its paragraph holding answers[0].answer_start. */
  answer: string;
}
function readXquad(lang: string): { questions: Question[]; sentences: string[] } {
  type P = {
    sentences: string[];
    sentence_breaks: [number, number][];
    qas: { id: string; question: string; answers: { answer_start: number }[] }[];
  };
  const json = JSON.parse(readFileSync(join(xquad, `${lang}.json`), "utf8")) as {
    data: { paragraphs: P[] }[];
  };
  const questions: Question[] = [];
  const sentences: string[] = [];
  for (const art of json.data)
    for (const p of art.paragraphs) {
      sentences.push(...p.sentences);
      for (const qa of p.qas) {
        const start = qa.answers[0].answer_start;
        const s = p.sentence_breaks.findIndex(([, end]) => start < end);
        questions.push({ squadId: qa.id, text: qa.question, answer: p.sentences[s] });
      }
    }
  return { questions, sentences };
}

interface Line {
  query: string;
  positive: string;
  negatives?: string[];
  lang?: string;
}
const LANGS = ["deu_Latn", "eng_Latn", "hin_Deva", "tha_Thai"];

// The pair file: every 7th question (a paragraph's questions mostly ask about the same few
// sentences), English from the 1st, German the same, Hindi from the 16th, Thai from the 31st (so the
// languages share some answers and not others), then English 61st-66th with no language;
// interleaved, so each language's queries are spread over the file. Every third line carries two
// hard negatives taken from the last article, which no question here is about.
const en = readXquad("en");
const answerOf = new Map(en.questions.map((q) => [q.squadId, q.answer]));
const STEP = 7;
const every = (qs: Question[], from: number, n: number) =>
  Array.from({ length: n }, (_, i) => qs[(from + i) * STEP]);
const blocks: Line[][] = [
  ["en", "eng_Latn", 0],
  ["de", "deu_Latn", 0],
  ["hi", "hin_Deva", 15],
  ["th", "tha_Thai", 30],
].map(([file, lang, from]) =>
  every(readXquad(file as string).questions, from as number, 30).map((q) => ({
    query: q.text,
    positive: answerOf.get(q.squadId)!,
    lang: lang as string,
  })),
);
const lines: Line[] = [];
for (let i = 0; i < 30; i++) for (const b of blocks) lines.push(b[i]);
for (const q of every(en.questions, 60, 6)) lines.push({ query: q.text, positive: q.answer });
const far = en.sentences.slice(-20);
lines.forEach((l, i) => {
  if (i % 3 === 0) l.negatives = [far[i % 20], far[(i + 7) % 20]];
});
const pairsFile = join(tmp, "data", "xq-pairs.jsonl");

// ---- the test's own pool: distinct positives numbered p1, p2, ... by first appearance; query
// ids q1, q2, ... by line (the task's documented ids).
const pool = new Map<string, string>();
for (const l of lines) if (!pool.has(l.positive)) pool.set(l.positive, `p${pool.size + 1}`);
const gold = new Map(lines.map((l, i) => [`q${i + 1}`, pool.get(l.positive)!]));
const queryLang = (i: number) => lines[i].lang ?? "und";
const queriesOf = (lang: string) =>
  lines.flatMap((l, i) => (queryLang(i) === lang ? [{ id: `q${i + 1}`, text: l.query }] : []));

/** trec_eval's order of a query's documents: score descending, ties by document id descending. */
function ranked(docs: Map<string, number>): string[] {
  return [...docs].sort(([a, x], [b, y]) => (x !== y ? y - x : compareIds(b, a))).map(([d]) => d);
}
/** qid -> doc -> score, from a TREC run file (`qid Q0 doc rank score tag`). */
function readRunFile(path: string): Map<string, Map<string, number>> {
  const run = new Map<string, Map<string, number>>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const [qid, , doc, , score] = line.trim().split(/\s+/);
    if (!run.has(qid)) run.set(qid, new Map());
    run.get(qid)!.set(doc, Number(score));
  }
  return run;
}
/** MRR and R@1/5/10 of queries whose golds' ranks are `ranks` (Infinity: not retrieved). */
function measure(ranks: number[]): number[] {
  const avg = (f: (r: number) => number) => ranks.reduce((s, r) => s + f(r), 0) / ranks.length;
  return [avg((r) => 1 / r), ...[1, 5, 10].map((k) => avg((r) => (r <= k ? 1 : 0)))];
}
const rankIn = (docs: Map<string, number> | undefined, doc: string) => {
  const i = docs ? ranked(docs).indexOf(doc) : -1;
  return i < 0 ? Infinity : i + 1;
};

interface Metrics {
  settings: { id: string; numQueries: number; all: Record<string, number> }[];
  tables: { id: string; rows: { key: string; values: (number | null)[] }[]; columns: { key: string }[] }[];
  cache: { hits: number; misses: number; textsEncoded: number; modelLoaded: boolean } | null;
  notes: string[];
}
const metrics = (dir: string) => JSON.parse(readFileSync(join(dir, "metrics.json"), "utf8")) as Metrics;
const perQuery = (dir: string) =>
  JSON.parse(readFileSync(join(dir, "per-query.json"), "utf8")) as Record<
    string,
    Record<string, Record<string, number>>
  >;
const table = (m: Metrics) => m.tables.find((t) => t.id === "pairs")!;
const row = (m: Metrics, key: string) => table(m).rows.find((r) => r.key === key)!.values as number[];
const near = (a: number[], b: number[], what: string, tol = 1e-12) =>
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol, `${what}[${i}]: ${a} vs ${b}`));

before(() => {
  mkdirSync(join(tmp, "data"), { recursive: true });
  writeFileSync(pairsFile, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
});

describe("xlir eval run pairs:FILE, BM25", () => {
  const out = join(tmp, "bm25");
  let stdout = "";
  let m: Metrics;
  before(async () => {
    stdout = (await cli([`pairs:${pairsFile}`, "--model", "bm25", "--output", out])).out;
    m = metrics(out);
  });

  it("has one setting per query language, and rows per language plus all", () => {
    assert.deepEqual(
      m.settings.map((s) => [s.id, s.numQueries]),
      [...LANGS.map((l) => [l, 30]), ["und", 6]],
    );
    assert.deepEqual(
      table(m).rows.map((r) => r.key),
      [...LANGS, "und", "all"],
    );
    assert.deepEqual(
      table(m).columns.map((c) => c.key),
      ["MRR", "R@1", "R@5", "R@10"],
    );
    // 126 lines, far fewer distinct answers: four languages ask about the same sentences.
    assert.equal(pool.size, 62);
    for (const l of lines)
      for (const n of l.negatives ?? []) assert.ok(!pool.has(n), "a negative is a positive");
    assert.ok(m.notes.some((n) => n.includes(`the ${pool.size} distinct positive passages`)));
    assert.ok(m.notes.some((n) => /Hard negatives \(84 in the file\) are ignored/.test(n)));
  });

  it("reports the MRR and R@k the run files give, per language and over all queries", () => {
    const all: number[] = [];
    for (const lang of [...LANGS, "und"]) {
      const run = readRunFile(join(out, "runs", `${lang}.trec`));
      // Only the pool's passages are ranked: negatives are not candidates.
      const ids = new Set(pool.values());
      for (const docs of run.values()) for (const d of docs.keys()) assert.ok(ids.has(d), `${lang}: ${d}`);
      const ranks = queriesOf(lang).map((q) => rankIn(run.get(q.id), gold.get(q.id)!));
      all.push(...ranks);
      near(row(m, lang), measure(ranks), lang);
    }
    assert.equal(all.length, lines.length);
    near(row(m, "all"), measure(all), "all");
  });

  it("ranks exactly what a brute-force BM25 over the positives ranks", () => {
    const index = createBm25Index();
    addDocuments(
      index,
      [...pool].map(([text, id]) => ({ id, text })),
    );
    const pq = perQuery(out);
    for (const lang of ["eng_Latn", "deu_Latn", "und"]) {
      const qlang = lang === "und" ? undefined : lang;
      for (const q of queriesOf(lang)) {
        const hits = new Map(
          searchBm25(index, q.text, { k: pool.size, lang: qlang }).map((h) => [h.id, h.score]),
        );
        const r = rankIn(hits, gold.get(q.id)!);
        assert.equal(pq[lang][q.id].recip_rank, r === Infinity ? 0 : 1 / r, `${lang} ${q.id}`);
      }
    }
  });

  it("English queries on English passages score far above a random ranking", () => {
    const random = [...Array(pool.size).keys()].reduce((s, i) => s + 1 / (i + 1), 0) / pool.size;
    const [mrr, r1, , r10] = row(m, "eng_Latn");
    assert.ok(mrr > 0.6 && mrr > 3 * random, `MRR ${mrr} vs random ${random}`);
    assert.ok(r1 > 0.5 && r10 > 0.8, `R@1 ${r1}, R@10 ${r10}`);
    // Hindi questions share no word with English sentences: BM25 finds nothing, every query scores 0.
    assert.deepEqual(row(m, "hin_Deva"), [0, 0, 0, 0]);
  });

  it("prints the table in percent, one decimal", () => {
    assert.match(stdout, /\| query language \| MRR \| R@1 \| R@5 \| R@10 \|/);
    const cells = row(m, "eng_Latn").map((v) => (100 * v).toFixed(1));
    assert.match(stdout, new RegExp(`\\| eng_Latn \\| ${cells.join(" \\| ")} \\|`));
    assert.match(stdout, /\| all \(126 queries\) \| \d+\.\d \| \d+\.\d \| \d+\.\d \| \d+\.\d \|/);
  });

  it("--langs (aliases, in the order given) and --limit (queries per language); a file found under --data", async () => {
    const out2 = join(tmp, "bm25-limit");
    await cli([
      "pairs:xq-pairs.jsonl",
      "--model",
      "bm25",
      "--data",
      join(tmp, "data"),
      "--langs",
      "hi,deu",
      "--limit",
      "10",
      "--output",
      out2,
    ]);
    const m2 = metrics(out2);
    assert.deepEqual(
      m2.settings.map((s) => [s.id, s.numQueries]),
      [
        ["hin_Deva", 10],
        ["deu_Latn", 10],
      ],
    );
    // The pool stays whole, so each kept query scores as in the full run.
    const full = perQuery(out);
    const ranks: number[] = [];
    for (const lang of ["hin_Deva", "deu_Latn"]) {
      const rr = queriesOf(lang)
        .slice(0, 10)
        .map((q) => full[lang][q.id].recip_rank);
      assert.deepEqual(
        Object.keys(perQuery(out2)[lang]).sort(),
        queriesOf(lang)
          .slice(0, 10)
          .map((q) => q.id)
          .sort(),
      );
      assert.equal(row(m2, lang)[0], rr.reduce((a, b) => a + b) / 10);
      ranks.push(...rr);
    }
    assert.equal(row(m2, "all")[0], ranks.reduce((a, b) => a + b) / 20);
  });

  it("an unknown language, a missing file: one-line errors", async () => {
    const run = (task: string, ...extra: string[]) =>
      cli([task, "--model", "bm25", "--output", join(tmp, "bad"), ...extra]);
    await assert.rejects(
      run(`pairs:${pairsFile}`, "--langs", "en,xx"),
      /--langs: .*xq-pairs\.jsonl has no language "xx"; languages there: deu_Latn, eng_Latn, hin_Deva, tha_Thai, und$/,
    );
    await assert.rejects(run(`pairs:${pairsFile}`, "--langs", "fr"), /has no language "fr"/);
    await assert.rejects(
      run("pairs:nope.jsonl", "--data", join(tmp, "data")),
      /pairs:nope\.jsonl: no such file in the current folder or under --data .*; give a pairs file/,
    );
    await assert.rejects(run("pairs:"), /task "pairs:" names no file/);
  });
});

describe("xlir eval run pairs:FILE with a tiny random encoder", () => {
  const cache = join(tmp, "cache");
  let model: string;
  before(() => {
    model = wordE5Dir(wordsOf([...lines.map((l) => l.query), ...pool.keys()], 3000), {
      d: 16,
      layers: 1,
      parent: tmp,
    });
  });
  const dense = (out: string) =>
    cli([
      `pairs:${pairsFile}`,
      "--model",
      model,
      "--langs",
      "en,de",
      "--output",
      out,
      "--cache",
      cache,
      "--threads",
      "1",
    ]);

  it("ranks by the dot product of the model's query and passage vectors", async () => {
    const out = join(tmp, "dense");
    await dense(out);
    const m = metrics(out);
    assert.deepEqual(m.cache, { hits: 0, misses: 3, textsEncoded: 60 + pool.size, modelLoaded: true });
    const enc = await Encoder.load(model, { threads: 1, warn: () => {} });
    const qs = queriesOf("eng_Latn");
    let qv, pv;
    try {
      qv = await enc.embed(
        qs.map((q) => q.text),
        { role: "query" },
      );
      pv = await enc.embed([...pool.keys()], { role: "passage" });
    } finally {
      await enc.close();
    }
    const d = qv.data.length / qs.length;
    const dot = (i: number, j: number) => {
      let s = 0;
      for (let c = 0; c < d; c++) s += qv.data[i * d + c] * pv.data[j * d + c];
      return s;
    };
    const pq = perQuery(out).eng_Latn;
    qs.forEach((q, i) => {
      const g = Number(gold.get(q.id)!.slice(1)) - 1;
      let above = 0;
      let tied = 0;
      for (let j = 0; j < pool.size; j++) {
        if (j === g) continue;
        // ONNX Runtime's Gemm and this loop round differently: count near-ties both ways.
        if (dot(i, j) > dot(i, g) + 1e-5) above++;
        else if (dot(i, j) >= dot(i, g) - 1e-5) tied++;
      }
      const got = pq[q.id].recip_rank;
      assert.ok(got <= 1 / (above + 1) + 1e-12 && got >= 1 / (above + tied + 1) - 1e-12, `${q.id}: ${got}`);
    });
  });

  it("embeds once; a changed file gets new cache entries", async () => {
    await dense(join(tmp, "dense-2"));
    assert.deepEqual(metrics(join(tmp, "dense-2")).cache, {
      hits: 3,
      misses: 0,
      textsEncoded: 0,
      modelLoaded: false,
    });
    const was = (await loadTask(`pairs:${pairsFile}`)).settings[0].docs[0].source;
    assert.match(was, /^pairs\/xq-pairs\.jsonl@\d+-\d+#passages$/);
    utimesSync(pairsFile, new Date(), new Date(Date.now() + 5000));
    const later = (await loadTask(`pairs:${pairsFile}`)).settings[0].docs[0].source;
    assert.notEqual(later, was);
    await dense(join(tmp, "dense-3"));
    assert.deepEqual(metrics(join(tmp, "dense-3")).cache, {
      hits: 0,
      misses: 3,
      textsEncoded: 60 + pool.size,
      modelLoaded: true,
    });
  });
});
