// checkCollection and repairCollection on real collections, damaged for real: a table data file
// deleted or cut off, collection.json corrupted, bm25.xlir deleted, cut off or out of date, a
// stale write lock, document rows deleted under their chunks, chunks deleted under their
// documents, and (dense) a chunk vector zeroed. Each damage must be reported naming its file,
// repaired where the data allows (search as before the damage), and named in one-line errors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { BM25_FILE, loadBm25Index } from "../../src/index/bm25-store.ts";
import { readState, STATE_FILE } from "../../src/index/bm25-sync.ts";
import { checkCollection, type CheckReport, type ProblemKind } from "../../src/index/check.ts";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import type { InputDoc } from "../../src/index/ingest.ts";
import { tableFiles } from "../../src/index/lance-files.ts";
import { type LanceStore, type TableName, tableDir } from "../../src/index/lance-store.ts";
import { LOCK_FILE } from "../../src/index/lock.ts";
import { MANIFEST_FILE } from "../../src/index/manifest.ts";
import { repairCollection } from "../../src/index/repair.ts";
import { search } from "../../src/index/search.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const home = mkdtempSync(join(tmpdir(), "xlir-check-"));
after(() => rmSync(home, { recursive: true, force: true }));

const TEXTS = [
  "Mount Etna is the most active volcano in Europe",
  "Bees make honey from the nectar of flowers",
  "The river Danube flows through ten countries",
  "Volcanic ash closed the airports of Sicily",
  "Honey bees dance to show where the flowers are",
  "The Rhine and the Danube are long rivers",
  "Lava from the volcano reached the village",
  "A glacier is a river of ice",
];
const DOCS: InputDoc[] = TEXTS.map((text, i) => ({
  id: `d${i}`,
  text,
  title: i % 2 ? `title ${i}` : undefined,
  lang: "en",
  metadata: { n: i },
  source: `docs:${i}`,
}));
const QUERIES = ["volcano lava", "honey bees flowers", "river Danube"];

let n = 0;
/** A fresh BM25 collection of DOCS (committed in three batches, so tables have several fragments). */
async function bm25Collection(docs = DOCS): Promise<{ name: string; dir: string }> {
  const name = `bm25-${n++}`;
  const col = await Collection.openOrCreate(name, { home, model: "bm25" });
  await addDocuments(col, docs, { batchSize: 3 });
  const dir = col.dir;
  await col.close();
  return { name, dir };
}

async function withCollection<T>(name: string, f: (col: Collection) => Promise<T>): Promise<T> {
  const col = await Collection.open(name, { home });
  try {
    return await f(col);
  } finally {
    await col.close();
  }
}

/** Every query's hits as [id, score] pairs. */
function results(name: string): Promise<[string, number][][]> {
  return withCollection(name, async (col) => {
    const out: [string, number][][] = [];
    for (const q of QUERIES)
      out.push((await search(col, q, { lang: "en", k: 5 })).map((h) => [h.id, h.score]));
    return out;
  });
}

/** The data files the current version of a table references. */
async function dataFiles(name: string, table: TableName): Promise<string[]> {
  return withCollection(name, async (col) => {
    const lance = col.store as LanceStore;
    const t = table === "documents" ? lance.docs : lance.chunks;
    return tableFiles(tableDir(col.dir, table), await t.version()).data;
  });
}

const kinds = (r: CheckReport) => r.problems.map((p) => p.kind).sort();
function only(r: CheckReport, kind: ProblemKind) {
  assert.deepEqual(kinds(r), [kind], JSON.stringify(r.problems));
  return r.problems[0];
}

describe("a BM25 collection", () => {
  it("checks sound when nothing is damaged", async () => {
    const { name, dir } = await bm25Collection();
    const r = await checkCollection(name, { home });
    assert.deepEqual(r, { name, path: dir, documents: DOCS.length, chunks: DOCS.length, problems: [] });
  });

  it("reports a deleted documents data file by name; open, search and info fail in one line naming it", async () => {
    const { name } = await bm25Collection();
    const [file] = await dataFiles(name, "documents");
    rmSync(file);
    const p = only(await checkCollection(name, { home }), "table");
    assert.equal(p.file, file);
    assert.match(p.message, /is missing/);
    assert.equal(p.repair, null);
    assert.match(p.hint!, new RegExp(`xlir index ${name}`));
    // nothing to repair: the documents' text is gone
    const r = await repairCollection(name, { home });
    assert.deepEqual(r.repaired, []);
    assert.equal(only(r.after, "table").file, file);

    const col = await Collection.open(name, { home });
    try {
      for (const f of [() => search(col, "volcano", { lang: "en" }), () => col.info()]) {
        await assert.rejects(f(), (e: Error) => {
          assert.ok(e.message.includes(file), e.message);
          assert.match(e.message, new RegExp(`xlir collections check ${name} --repair`));
          assert.ok(!e.message.includes("\n") && !e.message.includes(".rs:"), e.message);
          return true;
        });
      }
    } finally {
      await col.close();
    }
  });

  it("reports a truncated chunks data file by name (LanceDB's own error names none)", async () => {
    const { name } = await bm25Collection();
    const files = await dataFiles(name, "chunks");
    const file = files[files.length - 1];
    truncateSync(file, Math.floor(statSync(file).size / 2));
    const p = only(await checkCollection(name, { home }), "table");
    assert.equal(p.file, file);
    assert.match(p.message, /truncated/);
    await withCollection(name, async (col) => {
      await assert.rejects(search(col, "volcano", { lang: "en" }), (e: Error) => e.message.includes(file));
      // the row counts come from LanceDB's manifests, which still look whole
      assert.equal(await col.store.countChunks(), DOCS.length);
      await assert.rejects(col.info(), (e: Error) => e.message.includes(file));
    });
  });

  it("reports a corrupt collection.json and still reads the tables", async () => {
    const { name, dir } = await bm25Collection();
    writeFileSync(join(dir, MANIFEST_FILE), '{"format": "xlir-coll');
    const r = await checkCollection(name, { home });
    const p = only(r, "manifest");
    assert.equal(p.file, join(dir, MANIFEST_FILE));
    assert.ok(p.message.includes(join(dir, MANIFEST_FILE)));
    assert.equal(r.documents, DOCS.length);
    assert.equal(p.repair, null);
  });

  it("rebuilds a deleted, truncated or stale bm25.xlir; search ranks as before the damage", async () => {
    const { name, dir } = await bm25Collection();
    const want = await results(name);
    const file = join(dir, BM25_FILE);
    const damages: [string, () => void, RegExp][] = [
      ["deleted", () => rmSync(file), /is missing/],
      ["truncated", () => truncateSync(file, statSync(file).size - 9), /corrupt BM25 index/],
      ["stale", () => writeFileSync(join(dir, STATE_FILE), '{"bm25ChunksVersion": 1}\n'), /out of date/],
    ];
    for (const [what, damage, message] of damages) {
      damage();
      const p = only(await checkCollection(name, { home }), "bm25");
      assert.equal(p.file, file, what);
      assert.match(p.message, message, what);
      const r = await repairCollection(name, { home });
      assert.deepEqual(r.after.problems, [], what);
      assert.equal(loadBm25Index(dir).byId.size, DOCS.length, what);
      const version = await withCollection(name, (col) => col.store.chunksVersion());
      const state = await withCollection(name, (col) => readState(col.store));
      assert.equal(state?.bm25ChunksVersion, version, what);
      assert.deepEqual(await results(name), want, what);
    }
  });

  it("removes a stale write lock of a dead process", async () => {
    const { name, dir } = await bm25Collection();
    const gone = spawnSync(process.execPath, ["-e", ""]).pid!;
    writeFileSync(join(dir, LOCK_FILE), String(gone));
    const p = only(await checkCollection(name, { home }), "lock");
    assert.equal(p.file, join(dir, LOCK_FILE));
    assert.match(p.message, new RegExp(`stale write lock \\(process ${gone} is gone\\)`));
    const r = await repairCollection(name, { home });
    assert.deepEqual(r.after.problems, []);
    assert.ok(!existsSync(join(dir, LOCK_FILE)));
  });

  it("drops the chunks of deleted document rows (orphans) and re-chunks documents that lost theirs", async () => {
    const { name } = await bm25Collection();
    await withCollection(name, async (col) => {
      await col.store.deleteDocs(["d3"]); // leaves d3#0 behind
      await col.store.deleteChunks(["d6#0"]); // leaves d6 without chunks
    });
    const r = await checkCollection(name, { home });
    assert.deepEqual(kinds(r), ["bm25", "missing-chunks", "orphan-chunks"]);
    const byKind = new Map(r.problems.map((p) => [p.kind, p]));
    assert.deepEqual(byKind.get("orphan-chunks")!.ids, ["d3#0"]);
    assert.deepEqual(byKind.get("missing-chunks")!.ids, ["d6"]);
    assert.match(byKind.get("orphan-chunks")!.file, /chunks\.lance$/);

    const fixed = await repairCollection(name, { home });
    assert.deepEqual(fixed.after.problems, [], JSON.stringify(fixed));
    assert.equal(fixed.after.documents, DOCS.length - 1);
    assert.equal(fixed.after.chunks, DOCS.length - 1);
    const ids = await withCollection(name, async (col) => (await col.store.readChunks(false)).ids);
    assert.ok(!ids.includes("d3#0") && ids.includes("d6#0"));
    // d3 is gone for good; the rest searches as a collection built without it (d6 found again)
    const reference = await bm25Collection(DOCS.filter((d) => d.id !== "d3"));
    const got = await results(name);
    assert.deepEqual(got, await results(reference.name));
    assert.ok(got.flat().some(([id]) => id === "d6"));
  });
});

describe("a dense collection", () => {
  it("re-embeds a chunk whose vector was lost, from its stored text", async () => {
    const model = tinyBertDir({ parent: home, seed: 3 });
    const enc = await Encoder.load(model, { threads: 1, warn: () => {} });
    try {
      const col = await Collection.openOrCreate("dense", { home, model: enc });
      try {
        await addDocuments(col, DOCS.slice(0, 4));
        const before = await col.store.readChunks(true);
        const zeros = new Array(enc.dim).fill(0);
        await (col.store as LanceStore).chunks.update({ where: "id = 'd1#0'", values: { vector: zeros } });

        // the rewrite also moved the chunks table past the version BM25 was saved at
        const found = await checkCollection("dense", { home });
        assert.deepEqual(kinds(found), ["bm25", "missing-vectors"]);
        const p = found.problems.find((x) => x.kind === "missing-vectors")!;
        assert.deepEqual(p.ids, ["d1#0"]);
        assert.equal(p.file, tableDir(col.dir, "chunks"));

        const r = await repairCollection("dense", { home, encoder: enc });
        assert.deepEqual(r.after.problems, [], JSON.stringify(r));
        const again = await withCollection("dense", (c) => c.store.readChunks(true)); // a fresh handle sees the commit
        const row = (c: typeof before, id: string) => {
          const i = c.ids.indexOf(id);
          return Array.from(c.vectors!.subarray(i * enc.dim, (i + 1) * enc.dim));
        };
        for (const id of before.ids) {
          row(again, id).forEach((x, j) => assert.ok(Math.abs(x - row(before, id)[j]) < 1e-5, `${id}[${j}]`));
        }
      } finally {
        await col.close();
      }
    } finally {
      await enc.close();
    }
  });
});
