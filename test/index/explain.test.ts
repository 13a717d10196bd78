// SearchOptions.explain and highlight: the explanation must be the ranking's own arithmetic (BM25
// term contributions that add up to the chunk's score, fusion parts that add up to the fused score,
// ranks of the lists searched on their own), and highlights must point at the right characters.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { luceneIdf } from "../../src/index/bm25-similarity.ts";
import { Collection } from "../../src/index/collection.ts";
import { dotAll, normalizeRows } from "../../src/index/exact-search.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import { search, searchDetailed, type SearchHit } from "../../src/index/search.ts";
import { analyze } from "../../src/text/analyzer.ts";
import { wordE5Dir, wordsOf } from "../helpers/tiny-models.ts";

const home = mkdtempSync(join(tmpdir(), "xlir-explain-"));
after(() => rmSync(home, { recursive: true, force: true }));

const DOCS = [
  { id: "d1", text: "Volcanoes erupt when magma rises. The volcano near the city is quiet now." },
  { id: "d2", text: "Mount Etna is a volcano in Sicily. It erupted last year. Tourists still visit." },
  { id: "d3", text: "The river flows slowly to the sea. Fish swim in it." },
  { id: "d4", text: "Cafe\u0301s near the volcano serve strong coffee." }, // decomposed: not NFC
  { id: "d5", text: "A quiet city with a big park. Children play there every day." },
  { id: "d6", text: "The sea is calm. Boats sail to the island. A volcano erupts on the island." },
].map((d) => ({ ...d, lang: "en", source: d.id }));

const ids = (hits: readonly SearchHit[]) => hits.map((h) => h.id);
const sum = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0);
const termSpans = (h: SearchHit) =>
  (h.highlights ?? []).filter((x) => x.kind === "term").map((x) => [h.text.slice(x.start, x.end), x.term]);

describe("a BM25 collection", () => {
  let col: Collection;
  before(async () => {
    col = await Collection.openOrCreate("lexical", { home, model: "bm25" });
    await addDocuments(col, DOCS);
  });
  after(() => col.close());

  it("without the options, hits carry no explain or highlights", async () => {
    const plain = await search(col, "volcano eruption", { lang: "en" });
    assert.ok(plain.length > 0);
    for (const h of plain) assert.ok(!("explain" in h) && !("highlights" in h), h.id);
    assert.deepEqual(
      await search(col, "volcano eruption", { lang: "en", explain: false, highlight: false }),
      plain,
    );
    // and asking for them changes nothing else
    const rich = await search(col, "volcano eruption", { lang: "en", explain: true, highlight: true });
    assert.deepEqual(
      rich.map(({ explain: _e, highlights: _h, ...rest }) => rest),
      plain,
    );
  });

  it("term contributions are Lucene's and sum to the hit's BM25 score (doc score max)", async () => {
    assert.equal(col.manifest.docScore.kind, "max");
    // "volcano" twice: a repeated term weighs once per repeat, in the sum too
    for (const query of ["volcano eruption", "volcano volcano erupts quietly"]) {
      const hits = await search(col, query, { lang: "en", explain: true, k: DOCS.length });
      assert.ok(hits.length >= 3, query);
      const terms = [...new Set(analyze(query, "en"))];
      const index = await col.bm25();
      for (const h of hits) {
        const b = h.explain!.bm25!;
        assert.equal(b.score, h.score, h.id);
        assert.equal(b.rank, h.rank, h.id);
        assert.deepEqual(
          b.terms.map((t) => [t.term, t.lang]),
          terms.map((t) => [t, "eng_Latn"]),
        );
        // searchTerms adds the float contributions in a double and rounds once: so do we
        assert.equal(Math.fround(sum(b.terms.map((t) => t.score))), h.score, `${query}: ${h.id}`);
        for (const t of b.terms) {
          const df = index.postings.get(t.term)?.docs.length ?? 0;
          assert.equal(t.idf, df > 0 ? luceneIdf(df, index.docCount) : 0, t.term);
          assert.equal(t.tf > 0, t.score > 0, `${h.id} ${t.term}`);
        }
        assert.ok(!("dense" in h.explain!) && !("fusion" in h.explain!));
      }
      const d1 = hits.find((h) => h.id === "d1")!.explain!.bm25!.terms;
      assert.equal(d1.find((t) => t.term === "volcano")!.tf, 2, "Volcanoes + volcano");
    }
  });

  it("highlights the words that analyse to a query term, stemmed and at the right offsets", async () => {
    const hits = await search(col, "volcano eruption", { lang: "en", highlight: true, k: DOCS.length });
    const d1 = hits.find((h) => h.id === "d1")!;
    assert.deepEqual(termSpans(d1), [
      ["Volcanoes", "volcano"],
      ["erupt", "erupt"],
      ["volcano", "volcano"],
    ]);
    assert.deepEqual(d1.highlights![0], { start: 0, end: 9, kind: "term", term: "volcano" });
    assert.ok(!("explain" in d1));
    // no sentence highlight without a dense model
    for (const h of hits) assert.ok(h.highlights!.every((x) => x.kind === "term"));
    // offsets are the stored text's, not its NFC form's: "Cafe\u0301s" is 6 code units here
    const [cafe] = await search(col, "café", { lang: "en", highlight: true });
    assert.equal(cafe.id, "d4");
    assert.deepEqual(termSpans(cafe), [["Cafe\u0301s", "café"]]);
  });

  it("under lang auto, each document's terms are its own language's reading", async () => {
    const es = await Collection.openOrCreate("bilingual", { home, model: "bm25" });
    try {
      await addDocuments(es, [
        { id: "en", text: "The volcanoes of Italy.", lang: "en", source: "en" },
        { id: "es", text: "Los volcanes de Italia.", lang: "es", source: "es" },
      ]);
      const r = await searchDetailed(es, "volcanes", { lang: "auto", explain: true, highlight: true });
      assert.deepEqual(r.queryLangs, ["eng_Latn", "spa_Latn"]);
      const hit = r.hits.find((h) => h.id === "es")!;
      const [t] = hit.explain!.bm25!.terms;
      assert.deepEqual([t.term, t.lang], [analyze("volcanes", "es")[0], "spa_Latn"]);
      assert.equal(Math.fround(t.score), hit.score);
      assert.deepEqual(termSpans(hit), [["volcanes", t.term]]);
    } finally {
      await es.close();
    }
  });
});

describe("a dense collection", () => {
  let col: Collection;
  let enc: Encoder;
  before(async () => {
    const model = wordE5Dir(
      wordsOf(
        DOCS.map((d) => d.text),
        200,
      ),
      { parent: home },
    );
    enc = await Encoder.load(model, { threads: 1, warn: () => {} });
    col = await Collection.openOrCreate("dense", { home, model: enc });
    await addDocuments(col, DOCS);
  });
  after(async () => {
    await col.close();
    await enc.close();
  });

  const query = "volcano erupted";

  for (const fusion of ["rrf", "weighted"] as const) {
    it(`hybrid (${fusion}): the fusion parts sum to the score, ranks are the lists' own`, async () => {
      // depth k: each list holds 3 of the 6 documents, so some hits are outside one list's depth
      const depth = 3;
      const opts = { lang: "en", k: depth, depth, fusion, weight: 0.3 };
      const hits = await search(col, query, { ...opts, mode: "hybrid", explain: true });
      assert.equal(hits.length, depth);
      const dense = await search(col, query, { lang: "en", mode: "dense", k: DOCS.length });
      const bm25 = await search(col, query, { lang: "en", mode: "bm25", k: DOCS.length });
      const rank = (list: SearchHit[], id: string) => {
        const r = list.findIndex((h) => h.id === id) + 1;
        return r > 0 && r <= depth ? r : null;
      };
      let offList = 0;
      for (const h of hits) {
        const e = h.explain!;
        assert.equal(e.fusion!.method, fusion);
        assert.deepEqual(
          e.fusion!.parts.map((p) => [p.list, p.rank]),
          [
            ["dense", rank(dense, h.id)],
            ["bm25", rank(bm25, h.id)],
          ],
          h.id,
        );
        assert.ok(Math.abs(sum(e.fusion!.parts.map((p) => p.contribution)) - h.score) < 1e-12, h.id);
        for (const p of e.fusion!.parts) {
          if (p.rank === null) assert.equal(p.contribution, 0);
          else if (fusion === "rrf") assert.equal(p.contribution, 1 / (60 + p.rank));
        }
        // each list's score and rank, on the list or off it
        assert.equal(e.dense!.rank, rank(dense, h.id));
        assert.ok(Math.abs(e.dense!.score - dense.find((x) => x.id === h.id)!.score) < 1e-9, h.id);
        assert.equal(e.bm25!.rank, rank(bm25, h.id));
        assert.equal(e.bm25!.score, bm25.find((x) => x.id === h.id)?.score ?? 0, h.id);
        if (e.bm25!.score > 0)
          assert.equal(Math.fround(sum(e.bm25!.terms.map((t) => t.score))), e.bm25!.score, h.id);
        if (e.dense!.rank === null || e.bm25!.rank === null) offList++;
      }
      assert.ok(offList > 0, "some hit is missing from a list");
    });
  }

  it("dense: the sentence highlight is the sentence whose own embedding scores best", async () => {
    const hits = await search(col, query, {
      lang: "en",
      mode: "dense",
      k: DOCS.length,
      highlight: true,
      explain: true,
    });
    const [q] = [(await enc.embed([query], { role: "query", lang: "eng_Latn" })).data];
    if (col.cosine) normalizeRows(q, q.length);
    const segmenter = new Intl.Segmenter(undefined, { granularity: "sentence" });
    let compared = 0;
    for (const h of hits) {
      assert.deepEqual(h.explain, { dense: { score: h.score, rank: h.rank } });
      assert.equal(h.highlights!.length, 1, h.id);
      const [hl] = h.highlights!;
      assert.equal(hl.kind, "sentence");
      const sentences = [...segmenter.segment(h.text)].map((s) => s.segment.trim());
      if (sentences.length === 1) {
        assert.deepEqual([hl.start, hl.end], [0, h.text.length]);
        continue;
      }
      const emb = await enc.embed(sentences, { role: "passage", lang: "eng_Latn" });
      if (col.cosine) normalizeRows(emb.data, enc.dim);
      const scores = [...dotAll(emb.data, enc.dim, q)];
      const best = scores.indexOf(Math.max(...scores));
      assert.equal(h.text.slice(hl.start, hl.end), sentences[best], h.id);
      assert.ok(Math.abs(hl.score! - scores[best]) < 1e-5, h.id);
      assert.ok(new Set(scores).size > 1, "the sentences score differently");
      compared++;
    }
    assert.ok(compared >= 3);
  });

  it("hybrid highlights both the matching words and the best sentence", async () => {
    const hits = await search(col, query, { lang: "en", mode: "hybrid", k: 3, highlight: true });
    const d2 = hits.find((h) => h.id === "d2")!;
    assert.ok(!("explain" in d2));
    const kinds = d2.highlights!.map((x) => x.kind);
    assert.equal(kinds.filter((k) => k === "sentence").length, 1);
    assert.deepEqual(termSpans(d2), [
      ["volcano", "volcano"],
      ["erupted", "erupt"],
    ]);
    const starts = d2.highlights!.map((x) => x.start);
    assert.deepEqual(
      starts,
      [...starts].sort((a, b) => a - b),
    );
  });

  it("without the options, dense and hybrid hits are as before", async () => {
    for (const mode of ["dense", "hybrid"] as const) {
      const plain = await search(col, query, { lang: "en", mode });
      for (const h of plain) assert.ok(!("explain" in h) && !("highlights" in h));
      const rich = await search(col, query, { lang: "en", mode, explain: true, highlight: true });
      assert.deepEqual(ids(rich), ids(plain));
      assert.deepEqual(
        rich.map(({ explain: _e, highlights: _h, ...rest }) => rest),
        plain,
      );
    }
  });
});
