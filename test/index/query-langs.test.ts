// Short queries under --lang auto: a word or three is too little to tell a language by, so BM25 reads
// the query in every language of the collection, each language's reading scoring that language's
// documents exactly as `--lang xx` does. On the shipped FLORES-200 sample (10 languages) and its
// English + Spanish half under a dense model for hybrid search.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import { readDocuments } from "../../src/index/ingest.ts";
import { search, searchDetailed, type SearchHit } from "../../src/index/search.ts";
import { repoRoot } from "../helpers/shared.ts";
import { wordE5Dir, wordsOf } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-query-langs-"));
after(() => rmSync(root, { recursive: true, force: true }));
const passagesFile = join(repoRoot, "data", "flores-sample", "passages.jsonl");
const passages = readFileSync(passagesFile, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l) as { id: string; lang: string; text: string });
const sampleLangs = [...new Set(passages.map((p) => p.lang))].sort();

const scored = (hits: readonly SearchHit[]) => hits.map((h) => [h.id, h.score] as const);
const all = passages.length;

describe("BM25 under --lang auto", () => {
  let col: Collection;
  before(async () => {
    col = await Collection.openOrCreate("flores", { home: root, model: "bm25" });
    await addDocuments(col, readDocuments(passagesFile));
  });
  after(() => col.close());

  for (const word of ["diabetes", "studies", "city"]) {
    it(`"${word}" finds in each language what --lang of that language finds there`, async () => {
      const auto = await searchDetailed(col, word, { lang: "auto", k: all });
      assert.equal(auto.detected?.confident, false);
      assert.deepEqual(auto.queryLangs, sampleLangs);
      for (const h of auto.hits) assert.deepEqual(h.queryLangs, sampleLangs);
      for (const lang of sampleLangs) {
        const given = (await search(col, word, { lang, k: all })).filter((h) => h.lang === lang);
        assert.deepEqual(
          scored(auto.hits.filter((h) => h.lang === lang)),
          scored(given),
          `${word}: ${lang} documents`,
        );
      }
      // the English articles that --lang en ranks first come first here too
      const english = await search(col, word, { lang: "en", k: 3 });
      assert.ok(english.length > 0, `${word}: --lang en finds it`);
      assert.equal(auto.hits[0].id, english[0].id, word);
      for (let i = 1; i < auto.hits.length; i++) assert.ok(auto.hits[i - 1].score >= auto.hits[i].score);
      assert.equal(auto.emptyQuery, false);
      assert.equal(auto.warning, null);
    });
  }

  it("a language filter narrows the languages the query is read in", async () => {
    const r = await searchDetailed(col, "diabetes", { lang: "auto", filter: ["lang=es"] });
    assert.deepEqual(r.queryLangs, ["spa_Latn"]);
    assert.deepEqual(r.hits, await search(col, "diabetes", { lang: "es", filter: ["lang=es"] }));
    assert.deepEqual(
      r.hits.map((h) => h.id),
      ["000-spa_Latn"],
    );
  });

  it("a long query the detector is sure of is read in that one language, as with --lang", async () => {
    const query = "Scientists found that the new treatment cured diabetes in mice in the laboratory";
    const r = await searchDetailed(col, query, { lang: "auto", k: 10 });
    assert.deepEqual(r.detected, { lang: "eng_Latn", confident: true });
    assert.deepEqual(r.queryLangs, ["eng_Latn"]);
    assert.deepEqual(r.hits, await search(col, query, { lang: "en", k: 10 }));
    assert.ok(
      r.hits.some((h) => h.lang !== "eng_Latn"),
      "English words still match other languages' documents",
    );
  });

  it("a plain detector (text -> code) is trusted from four words up", async () => {
    const detector = () => "eng_Latn";
    const short = await searchDetailed(col, "diabetes", { lang: "auto", detector });
    assert.deepEqual(short.queryLangs, sampleLangs);
    const query = "diabetes research on mice";
    const long = await searchDetailed(col, query, { lang: "auto", detector });
    assert.deepEqual(long.queryLangs, ["eng_Latn"]);
    assert.deepEqual(long.hits, await search(col, query, { lang: "en" }));
  });

  it("says when the query is only stop words", async () => {
    for (const r of [
      await searchDetailed(col, "the of and", { lang: "en" }),
      await searchDetailed(col, "the of and", { lang: "auto", filter: ["lang=en"] }),
    ]) {
      assert.deepEqual(r.hits, []);
      assert.deepEqual(r.emptyLangs, ["eng_Latn"]);
      assert.equal(r.emptyQuery, true);
      assert.match(r.warning ?? "", /no words to search for in eng_Latn/);
    }
    // read in every language, English loses them all; the other languages keep (and match) them
    const mixed = await searchDetailed(col, "the of and", { lang: "auto" });
    assert.equal(mixed.emptyQuery, false);
    assert.ok(mixed.emptyLangs.includes("eng_Latn"));
    assert.match(mixed.warning ?? "", /eng_Latn/);
  });
});

describe("hybrid and dense search under --lang auto", () => {
  const docs = passages.filter((p) => p.lang === "eng_Latn" || p.lang === "spa_Latn");
  let col: Collection;
  let enc: Encoder;
  before(async () => {
    const model = wordE5Dir(
      wordsOf(
        docs.map((d) => d.text),
        4000,
      ),
      { parent: root },
    );
    enc = await Encoder.load(model, { threads: 2, warn: () => {} });
    col = await Collection.openOrCreate("flores-dense", { home: root, model: enc });
    await addDocuments(
      col,
      docs.map((d) => ({ ...d, source: d.id })),
    );
  });
  after(async () => {
    await col.close();
    await enc.close();
  });

  it("fuses the same per-language BM25 list, and the encoder gets the detected language", async () => {
    const bm25 = await searchDetailed(col, "diabetes", { lang: "auto", mode: "bm25", k: docs.length });
    assert.deepEqual(bm25.queryLangs, ["eng_Latn", "spa_Latn"]);
    const hybrid = await searchDetailed(col, "diabetes", { lang: "auto", mode: "hybrid", k: docs.length });
    assert.deepEqual(hybrid.queryLangs, ["eng_Latn", "spa_Latn"]);
    const lexical = new Map(bm25.hits.map((h) => [h.id, h.score]));
    assert.ok(lexical.size >= 2);
    for (const h of hybrid.hits) assert.equal(h.bm25, lexical.get(h.id), h.id);
    // each document's BM25 part is what --lang of its own language gives it
    for (const lang of ["eng_Latn", "spa_Latn"]) {
      for (const h of await search(col, "diabetes", { lang, mode: "bm25", k: docs.length })) {
        if (h.lang === lang) assert.equal(lexical.get(h.id), h.score, h.id);
      }
    }
    const dense = await searchDetailed(col, "diabetes", { lang: "auto", mode: "dense", k: 5 });
    assert.deepEqual(dense.queryLangs, [dense.detected!.lang]);
    assert.deepEqual(
      scored(dense.hits),
      scored(await search(col, "diabetes", { lang: dense.detected!.lang, mode: "dense", k: 5 })),
    );
  });
});
