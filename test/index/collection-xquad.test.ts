// Collections end to end on real multilingual text: the sentences of the first four articles of
// all 11 XQuAD-R languages (../shared/data/xquad-r; ~900 candidates) in one collection, indexed
// with BM25 and with a tiny random encoder the test builds, then searched with XQuAD-R questions
// in every language. Every result list is checked against a brute-force computation written here
// (tests/index/brute-force.ts: BM25 from the formulas, dense as dot products of the encoder's own
// rows), through language filters, updates, deletes, hybrid fusion and the ANN index.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { loadLareqa, type LareqaQuestion } from "../../src/eval/datasets/lareqa.ts";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments, buildAnnIndex, defaultAnnType, deleteDocuments } from "../../src/index/indexer.ts";
import type { InputDoc } from "../../src/index/ingest.ts";
import { search, type SearchHit } from "../../src/index/search.ts";
import { analyze } from "../../src/text/analyzer.ts";
import { resolveNllbLang } from "../../src/text/nllb-langs.ts";
import { sharedDir } from "../helpers/shared.ts";
import { wordE5Dir, wordsOf } from "../helpers/tiny-models.ts";
import { bruteBm25, dot, ranked, unit } from "./brute-force.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-coll-"));
after(() => rmSync(root, { recursive: true, force: true }));

const langs = loadLareqa(join(sharedDir, "data", "xquad-r"));
const ARTICLES = 4;
const article = (id: string) => Number(id.split("/")[1].split(".")[0]);
const docs: InputDoc[] = langs.flatMap((l) =>
  l.candidates
    .filter((c) => article(c.id) < ARTICLES)
    .map((c) => ({
      id: c.id,
      text: c.text,
      lang: c.lang,
      metadata: { article: article(c.id) },
      source: c.id,
    })),
);
// three questions per language about the indexed articles
const questions: LareqaQuestion[] = langs.flatMap((l) =>
  l.questions
    .filter((q) => article(q.gold) < ARTICLES)
    .filter((_, i) => i % 40 === 0)
    .slice(0, 3),
);

function assertSameRanking(
  hits: SearchHit[],
  want: { id: string; score: number }[],
  tol: number,
  what: string,
) {
  assert.equal(hits.length, want.length, `${what}: hit count`);
  const scoreOf = new Map(want.map((w) => [w.id, w.score]));
  hits.forEach((h, i) => {
    const close = (a: number, b: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
    assert.ok(close(h.score, want[i].score), `${what}: score at ${i + 1}: ${h.score} vs ${want[i].score}`);
    // equal scores may come in either order; otherwise the ids must agree
    if (h.id !== want[i].id) {
      const own = scoreOf.get(h.id);
      assert.ok(
        own !== undefined && close(h.score, own),
        `${what}: rank ${i + 1} is ${h.id} (${h.score}), want ${want[i].id} (${want[i].score})`,
      );
    }
  });
}

it("covers all 11 XQuAD-R languages", () => {
  assert.equal(langs.length, 11);
  assert.deepEqual(new Set(docs.map((d) => d.lang)).size, 11);
  assert.ok(
    docs.length > 800 && questions.length === 33,
    `${docs.length} docs, ${questions.length} questions`,
  );
});

describe("BM25 collection", () => {
  let col: Collection;
  let terms: Map<string, { id: string; terms: string[]; lang: string }>;
  before(async () => {
    col = await Collection.openOrCreate("xq-bm25", { home: root, model: "bm25" });
    const p = await addDocuments(col, docs, { batchSize: 300 });
    assert.equal(p.added, docs.length);
    terms = new Map(
      docs.map((d) => [d.id, { id: d.id, terms: analyze(d.text, d.lang), lang: resolveNllbLang(d.lang!) }]),
    );
  });
  after(() => col.close());

  it("ranks as brute-force BM25 for questions in every language", async () => {
    for (const q of questions) {
      const hits = await search(col, q.text, { lang: q.lang, k: 10 });
      const want = ranked(bruteBm25([...terms.values()], analyze(q.text, q.lang)), 10);
      assertSameRanking(hits, want, 1e-5, `${q.id}`);
      for (const h of hits) assert.equal(h.text, docs.find((d) => d.id === h.id)!.text, h.id);
    }
  });

  it("filters by language and metadata without changing scores", async () => {
    for (const q of questions.filter((_, i) => i % 3 === 0)) {
      const lang = resolveNllbLang(q.lang);
      const hits = await search(col, q.text, {
        lang: q.lang,
        k: 5,
        filter: [`lang=${q.lang}`, "article!=0"],
      });
      const allowed = (id: string) => terms.get(id)!.lang === lang && article(id) !== 0;
      const want = ranked(bruteBm25([...terms.values()], analyze(q.text, q.lang), allowed), 5);
      assertSameRanking(hits, want, 1e-5, `${q.id} filtered`);
      assert.ok(hits.every((h) => h.lang === lang && h.metadata.article !== 0));
    }
  });

  it("reopens from disk with the same results", async () => {
    const q = questions[5];
    const before = await search(col, q.text, { lang: q.lang, k: 10 });
    const again = await Collection.open("xq-bm25", { home: root });
    try {
      assert.deepEqual(await search(again, q.text, { lang: q.lang, k: 10 }), before);
    } finally {
      await again.close();
    }
  });
});

describe("dense collection with a tiny random encoder", () => {
  let enc: Encoder;
  let col: Collection;
  const vectors = new Map<string, Float64Array>();
  const embedQuery = async (q: LareqaQuestion) => unit((await enc.embed([q.text], { role: "query" })).data);
  const bruteDense = (qv: Float64Array, allowed: (id: string) => boolean = () => true) =>
    new Map([...vectors].filter(([id]) => allowed(id)).map(([id, v]) => [id, dot(qv, v)]));

  before(async () => {
    const model = wordE5Dir(
      wordsOf(
        docs.map((d) => d.text),
        4000,
      ),
      { d: 32, parent: root },
    );
    enc = await Encoder.load(model, { threads: 2, warn: () => {} });
    col = await Collection.openOrCreate("xq-dense", { home: root, model: enc });
    // every sentence fits one chunk (the longest XQuAD-R sentence needs more than the tiny model's
    // 128 tokens, so cap the check's input to those that fit)
    const p = await addDocuments(col, docs, { batchSize: 128 });
    assert.equal(p.added, docs.length);
    const rows = enc.tokenize(
      docs.map((d) => d.text),
      { role: "passage" },
    );
    const single = docs.filter((_, i) => rows[i].length < enc.maxLength);
    const emb = await enc.embed(
      single.map((d) => d.text),
      { role: "passage" },
    );
    single.forEach((d, i) => vectors.set(d.id, unit(emb.data.subarray(i * enc.dim, (i + 1) * enc.dim))));
  });
  after(async () => {
    await col.close();
    await enc.close();
  });

  const singleChunk = (h: SearchHit) => vectors.has(h.id);

  it("ranks as brute-force cosine for questions in every language", async () => {
    for (const q of questions) {
      const hits = (await search(col, q.text, { lang: q.lang, k: 10 })).filter(singleChunk);
      const want = ranked(bruteDense(await embedQuery(q)), hits.length);
      assertSameRanking(hits, want, 1e-5, q.id);
    }
  });

  it("filters by language", async () => {
    for (const q of questions.filter((_, i) => i % 3 === 1)) {
      const lang = resolveNllbLang(q.lang);
      const hits = await search(col, q.text, { k: 5, filter: [`lang=${q.lang}`] });
      assert.ok(hits.length === 5 && hits.every((h) => h.lang === lang));
      const want = ranked(
        bruteDense(await embedQuery(q), (id) => id.startsWith(`${q.lang}/`)),
        5,
      );
      assertSameRanking(
        hits.filter(singleChunk),
        want.slice(0, hits.filter(singleChunk).length),
        1e-5,
        `${q.id} in ${lang}`,
      );
    }
  });

  it("fuses dense and BM25 lists by RRF and by weighted min-max", async () => {
    const q = questions[7];
    const dense = await search(col, q.text, { lang: q.lang, k: 100, mode: "dense" });
    const lexical = await search(col, q.text, { lang: q.lang, k: 100, mode: "bm25" });
    const rrf = new Map<string, number>();
    for (const list of [dense, lexical])
      list.forEach((h, r) => rrf.set(h.id, (rrf.get(h.id) ?? 0) + 1 / (60 + r + 1)));
    const hybrid = await search(col, q.text, { lang: q.lang, k: 10, mode: "hybrid" });
    assertSameRanking(hybrid, ranked(rrf, 10), 1e-12, "rrf");
    const mm = (l: SearchHit[]) => {
      const s = l.map((h) => h.score);
      const [lo, hi] = [Math.min(...s), Math.max(...s)];
      return new Map(l.map((h) => [h.id, (h.score - lo) / (hi - lo)]));
    };
    const [dn, bn] = [mm(dense), mm(lexical)];
    const weighted = new Map(
      [...new Set([...dn.keys(), ...bn.keys()])].map((id) => [
        id,
        0.3 * (dn.get(id) ?? 0) + 0.7 * (bn.get(id) ?? 0),
      ]),
    );
    const hits = await search(col, q.text, {
      lang: q.lang,
      k: 10,
      mode: "hybrid",
      fusion: "weighted",
      weight: 0.3,
    });
    assertSameRanking(hits, ranked(weighted, 10), 1e-9, "weighted");
    assert.ok(hits.every((h) => h.dense !== undefined || h.bm25 !== undefined));
  });

  it("updates re-added documents and deletes by id", async () => {
    const target = docs.find((d) => d.lang === "de" && vectors.has(d.id))!;
    const changed = { ...target, text: "Der Kater schlief lange auf dem roten Sofa im Wohnzimmer." };
    const unchanged = docs.slice(0, 50);
    const p = await addDocuments(col, [...unchanged, changed], { batchSize: 64 });
    assert.deepEqual([p.added, p.updated, p.unchanged], [0, 1, 50]);
    const hits = await search(col, "Kater Sofa Wohnzimmer", { lang: "de", k: 3, mode: "bm25" });
    assert.equal(hits[0].id, target.id);
    assert.equal(hits[0].text, changed.text);
    // the new vector is the one brute force computes for the new text
    const v = unit((await enc.embed([changed.text], { role: "passage" })).data);
    vectors.set(target.id, v);
    const q = questions[2];
    const dense = (await search(col, q.text, { k: 10 })).filter(singleChunk);
    assertSameRanking(dense, ranked(bruteDense(await embedQuery(q)), dense.length), 1e-5, "after update");

    const gone = docs.filter((d) => d.lang === "ru").map((d) => d.id);
    assert.deepEqual(await deleteDocuments(col, [...gone, "no-such-id"]), ["no-such-id"]);
    for (const id of gone) vectors.delete(id);
    assert.equal(await col.store.countDocs(), docs.length - gone.length);
    const ru = questions.find((x) => x.lang === "ru")!;
    const afterDelete = await search(col, ru.text, { lang: "ru", k: 10, mode: "hybrid" });
    assert.ok(afterDelete.every((h) => !h.id.startsWith("ru/")));
    const filtered = await search(col, ru.text, { k: 10, filter: ["lang=ru"] });
    assert.deepEqual(filtered, []);
    const d = (await search(col, ru.text, { k: 10 })).filter(singleChunk);
    assertSameRanking(d, ranked(bruteDense(await embedQuery(ru)), d.length), 1e-5, "after delete");
  });

  it("searches through ANN indexes (IVF-PQ, HNSW-SQ) with scores equal to exact ones", async () => {
    for (const type of ["ivf_pq", "hnsw_sq"] as const) {
      const unlock = await col.lock();
      try {
        await buildAnnIndex(col, type, await col.store.countChunks());
      } finally {
        await unlock();
      }
      assert.equal(col.manifest.ann.index?.type, type);
      let overlap = 0;
      for (const q of questions.slice(0, 11)) {
        const exact = await search(col, q.text, { k: 10, ann: false });
        const ann = await search(col, q.text, { k: 10, ann: true, nprobes: 32, refineFactor: 20 });
        const exactScore = new Map(exact.map((h) => [h.id, h.score]));
        for (const h of ann)
          if (exactScore.has(h.id)) assert.ok(Math.abs(h.score - exactScore.get(h.id)!) < 1e-6);
        overlap += ann.filter((h) => exactScore.has(h.id)).length;
      }
      assert.ok(overlap >= 0.8 * 110, `${type} recall@10 ${overlap / 110}`);
    }
    // unless told, a cosine collection gets HNSW-SQ (the recall/QPS bench:search measured)
    assert.equal(col.cosine, true);
    assert.equal(defaultAnnType(col), "hnsw_sq");
  });
});
