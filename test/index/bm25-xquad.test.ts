// BM25 over real data: the English and German sentences of XQuAD-R (../shared/data/xquad-r, see
// its README), one collection, each sentence analysed in its own language. Results are checked
// against a brute-force BM25 written here from the formulas alone (double precision, every
// document scored), so the index's postings, statistics, top-k and filters are all under test.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import {
  addDocuments,
  createBm25Index,
  searchBm25,
  type Bm25Hit,
  type Bm25Index,
} from "../../src/index/bm25.ts";
import { analyze } from "../../src/text/analyzer.ts";
import { sharedDir } from "../helpers/shared.ts";
import { bruteBm25 } from "./brute-force.ts";

interface Sentence {
  id: string;
  lang: string;
  text: string;
}
interface Question {
  lang: string;
  text: string;
  /** The sentence holding the answer's start (the README's convention). */
  gold: string;
}

interface SquadFile {
  data: {
    paragraphs: {
      sentences: string[];
      sentence_breaks: [number, number][];
      qas: { question: string; answers: { answer_start: number }[] }[];
    }[];
  }[];
}

function readXquad(lang: string): { sentences: Sentence[]; questions: Question[] } {
  const file = join(sharedDir, "data", "xquad-r", `${lang}.json`);
  const json = JSON.parse(readFileSync(file, "utf8")) as SquadFile;
  const sentences: Sentence[] = [];
  const questions: Question[] = [];
  json.data.forEach((article, a) =>
    article.paragraphs.forEach((p, pi) => {
      // Identify a sentence by (paragraph, index): a few sentence strings repeat.
      p.sentences.forEach((text, s) => sentences.push({ id: `${lang}:${a}:${pi}:${s}`, lang, text }));
      for (const qa of p.qas) {
        const start = qa.answers[0].answer_start;
        const s = p.sentence_breaks.findIndex(([from, to]) => start >= from && start < to);
        questions.push({ lang, text: qa.question, gold: `${lang}:${a}:${pi}:${s}` });
      }
    }),
  );
  return { sentences, questions };
}

// The index's top k agree with brute force when every hit has its brute-force score (float32 vs
// double: 1e-6 relative), hits come in score order, and no document outside them scores higher
// than the last hit (ties at the cut may go either way).
function assertMatchesBruteForce(hits: Bm25Hit[], brute: Map<string, number>, k: number, what: string) {
  assert.equal(hits.length, Math.min(k, brute.size), `${what}: hit count`);
  for (const [i, h] of hits.entries()) {
    const expected = brute.get(h.id);
    assert.ok(expected !== undefined, `${what}: ${h.id} should not match`);
    assert.ok(Math.abs(h.score - expected) <= 1e-6 * expected, `${what}: ${h.id} ${h.score} vs ${expected}`);
    if (i > 0) assert.ok(hits[i - 1].score >= h.score, `${what}: order at ${i}`);
  }
  const last = hits.at(-1)?.score ?? 0;
  const returned = new Set(hits.map((h) => h.id));
  for (const [id, s] of brute) {
    if (!returned.has(id)) assert.ok(s <= last * (1 + 1e-6), `${what}: missed ${id} (${s} > ${last})`);
  }
}

describe("BM25 on XQuAD-R English + German sentences", () => {
  let index: Bm25Index;
  let docs: { id: string; terms: string[] }[];
  let questions: Question[];

  before(() => {
    const en = readXquad("en");
    const de = readXquad("de");
    const sentences = [...en.sentences, ...de.sentences];
    questions = [...en.questions, ...de.questions];
    index = createBm25Index();
    addDocuments(index, sentences);
    docs = sentences.map((s) => ({ id: s.id, terms: analyze(s.text, s.lang) }));
    assert.equal(sentences.length, 1180 + 1276);
  });

  it("finds the known answer sentence first", () => {
    const q = questions[0];
    assert.equal(q.text, "How many points did the Panthers defense surrender?");
    const hits = searchBm25(index, q.text, { lang: "en", k: 3 });
    assert.equal(hits[0].id, q.gold);
    const sentence = JSON.parse(readFileSync(join(sharedDir, "data", "xquad-r", "en.json"), "utf8")).data[0]
      .paragraphs[0].sentences[0] as string;
    assert.match(sentence, /The Panthers defense gave up just 308 points/);
  });

  it("agrees with brute-force BM25 on sampled questions in both languages", () => {
    const sample = questions.filter((_, i) => i % 40 === 0);
    assert.ok(sample.length >= 50);
    for (const q of sample) {
      const terms = analyze(q.text, q.lang);
      const hits = searchBm25(index, q.text, { lang: q.lang, k: 10 });
      assertMatchesBruteForce(hits, bruteBm25(docs, terms), 10, q.text);
    }
  });

  it("filters to one language without changing scores", () => {
    const german = new Set(docs.filter((d) => d.id.startsWith("de:")).map((d) => d.id));
    for (const q of questions.filter((x, i) => x.lang === "de" && i % 97 === 0)) {
      const hits = searchBm25(index, q.text, { lang: "de", k: 20, filter: german });
      assert.ok(hits.every((h) => german.has(h.id)));
      // Statistics stay those of the whole collection: brute force over all documents, then cut.
      assertMatchesBruteForce(
        hits,
        bruteBm25(docs, analyze(q.text, "de"), (id) => german.has(id)),
        20,
        q.text,
      );
    }
  });

  it("retrieves answers as well as BM25 should (MRR@100 per language)", () => {
    for (const lang of ["en", "de"]) {
      const pool = new Set(docs.filter((d) => d.id.startsWith(`${lang}:`)).map((d) => d.id));
      let mrr = 0;
      const qs = questions.filter((q) => q.lang === lang);
      for (const q of qs) {
        const rank = searchBm25(index, q.text, { lang, k: 100, filter: pool }).findIndex(
          (h) => h.id === q.gold,
        );
        if (rank >= 0) mrr += 1 / (rank + 1);
      }
      // Measured 0.814 (en) and 0.759 (de); a broken analyzer or scorer falls far below.
      assert.ok(mrr / qs.length > 0.7, `${lang} MRR@100 ${mrr / qs.length}`);
    }
  });
});
