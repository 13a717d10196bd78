// The README's quick start: the shipped FLORES-200 sample (data/flores-sample) indexes with
// --model bm25 (offline) and answers the README's queries.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import { readDocuments } from "../../src/index/ingest.ts";
import { search } from "../../src/index/search.ts";
import { repoRoot } from "../helpers/shared.ts";

const home = mkdtempSync(join(tmpdir(), "xlir-sample-"));
after(() => rmSync(home, { recursive: true, force: true }));

it("indexes the sample corpus with BM25 and finds the README's answers", async () => {
  const col = await Collection.openOrCreate("flores", { home, model: "bm25" });
  try {
    const p = await addDocuments(
      col,
      readDocuments(join(repoRoot, "data", "flores-sample", "passages.jsonl")),
    );
    assert.equal(p.added, 300);
    const info = await col.info();
    assert.equal(Object.keys(info.languages).length, 10);
    assert.ok(Object.values(info.languages).every((n) => n === 30));
    const en = await search(col, "diabetes research on mice", { lang: "en", k: 3 });
    assert.deepEqual(
      en.slice(0, 2).map((h) => h.id),
      ["000-eng_Latn", "000-spa_Latn"],
    );
    const es = await search(col, "diabetes", { lang: "es", filter: ["lang=es"] });
    assert.deepEqual(
      es.map((h) => h.id),
      ["000-spa_Latn"],
    );
    assert.equal(es[0].metadata.domain, "wikinews");
  } finally {
    await col.close();
  }
});
