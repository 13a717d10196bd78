// The same collection in both stores (embedded LanceDB and PostgreSQL + pgvector, a real server:
// PGlite over the wire) answers every search the same: dense (exact: in this process for the
// embedded store, in SQL for PostgreSQL), BM25 and hybrid, with filters, after updates and deletes; `copy` moves a collection either way without re-embedding;
// HNSW keeps recall under a language filter; and `xlir index --store` killed with SIGKILL mid-way
// resumes to exactly one copy of each document.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { Encoder } from "../../src/encode/encoder.ts";
import { loadLareqa } from "../../src/eval/datasets/lareqa.ts";
import { Collection } from "../../src/index/collection.ts";
import { copyCollection } from "../../src/index/copy.ts";
import { addDocuments, buildAnnIndex, deleteDocuments } from "../../src/index/indexer.ts";
import type { InputDoc } from "../../src/index/ingest.ts";
import { searchDetailed, type SearchOptions } from "../../src/index/search.ts";
import type { LocateOptions } from "../../src/index/stores.ts";
import { XLIR_BIN } from "../helpers/cli.ts";
import { startPglite, type PgliteServer } from "../helpers/pglite.ts";
import { sharedDir } from "../helpers/shared.ts";
import { wordE5Dir, wordsOf } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-store-contract-"));
// XQuAD-R sentences in 11 languages
const docs: InputDoc[] = loadLareqa(join(sharedDir, "data", "xquad-r")).flatMap((l) =>
  l.candidates
    .filter((c) => /^\w+\/[0-2]\.[0-3]\./.test(c.id))
    .map((c) => ({
      id: c.id,
      text: c.text,
      lang: c.lang,
      metadata: { article: c.id.split("/")[1].split(".")[0] },
      source: c.id,
    })),
);
const model = wordE5Dir(
  wordsOf(
    docs.map((d) => d.text),
    3000,
  ),
  { d: 32, layers: 2, parent: root },
);
const QUERIES = ["Which team won the game?", "¿Cuántos puntos anotaron?", "Wer hat das Spiel gewonnen?"];
let server: PgliteServer;
let enc: Encoder;
let embedded: LocateOptions;
let postgres: LocateOptions;

before(async () => {
  server = await startPglite();
  enc = await Encoder.load(model, { threads: 1 });
  embedded = { home: join(root, "home"), store: "" };
  postgres = { store: server.url };
});
after(async () => {
  await enc.close();
  await server.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Builds collection `name` in `loc` the same way: add, update some, delete some. */
async function build(name: string, loc: LocateOptions): Promise<void> {
  const col = await Collection.openOrCreate(name, { ...loc, model: enc });
  try {
    await addDocuments(col, docs, { batchSize: 40 });
    const changed = docs.slice(0, 5).map((d) => ({ ...d, text: d.text + " (updated)" }));
    await addDocuments(col, changed);
    await deleteDocuments(
      col,
      docs.slice(10, 14).map((d) => d.id),
    );
  } finally {
    await col.close();
  }
}

type Ranked = [string, number][];
async function results(name: string, loc: LocateOptions, opts: SearchOptions[]): Promise<Ranked[]> {
  const col = await Collection.open(name, loc);
  try {
    const out: Ranked[] = [];
    for (const o of opts)
      for (const q of QUERIES)
        out.push((await searchDetailed(col, q, { k: 10, ...o })).hits.map((h) => [h.id, h.score]));
    return out;
  } finally {
    await col.close();
  }
}

function sameRankings(a: Ranked[], b: Ranked[], what: string): void {
  assert.equal(a.length, b.length);
  a.forEach((ra, i) => {
    assert.deepEqual(
      ra.map(([id]) => id),
      b[i].map(([id]) => id),
      `${what} #${i}`,
    );
    ra.forEach(([, s], j) => assert.ok(Math.abs(s - b[i][j][1]) < 1e-5, `${what} #${i} score ${j}`));
  });
}

/** A JSON line of `xlir index --json`. */
type Event = { event: string } & Record<string, unknown>;

/**
 * `xlir ARGS` to its end, or SIGKILLed once it printed `killAfter` progress lines; its JSON events
 * and how it ended.
 */
function xlir(
  args: string[],
  killAfter?: number,
): Promise<{ code: number | null; signal: string | null; events: Event[]; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [XLIR_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const events: Event[] = [];
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const lines = out.split("\n");
      out = lines.pop()!;
      for (const l of lines) {
        events.push(JSON.parse(l));
        if (events.filter((e) => e.event === ("progress" as never)).length === killAfter)
          child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, events, err }));
  });
}

/** Collection `name` in PostgreSQL holds every document once, no chunk twice, and BM25 over all its chunks. */
async function assertEachDocumentOnce(name: string): Promise<void> {
  const col = await Collection.open(name, postgres);
  try {
    const ids = (await col.store.readDocs()).ids;
    assert.equal(ids.length, docs.length);
    assert.equal(new Set(ids).size, docs.length);
    const chunks = await col.store.readChunks(false);
    assert.equal(new Set(chunks.ids).size, chunks.ids.length);
    assert.equal((await col.bm25()).byId.size, chunks.ids.length);
  } finally {
    await col.close();
  }
}

const SEARCHES: SearchOptions[] = [
  { mode: "dense", lang: "auto" },
  { mode: "bm25", lang: "auto" },
  { mode: "hybrid", lang: "auto" },
  { mode: "hybrid", fusion: "weighted", weight: 0.3, lang: "auto" },
  { mode: "dense", filter: ["lang=de,es"] },
  // PostgreSQL: exact search in SQL with the metadata conditions pushed down, and per-document sums
  { mode: "dense", filter: ["article=1"] },
  { mode: "dense", filter: ["article!=0", "lang!=en"], docScore: { kind: "sum", top: 2 } },
  { mode: "bm25", lang: "en", filter: ["article=1"] },
  { mode: "hybrid", filter: ["lang!=en"], docScore: { kind: "sum", top: Infinity } },
];

describe("a collection in the embedded store and in PostgreSQL", () => {
  it("gives the same documents, languages and search results (dense, bm25, hybrid, filters)", async () => {
    await build("c", embedded);
    await build("c", postgres);
    const [a, b] = [await Collection.open("c", embedded), await Collection.open("c", postgres)];
    try {
      const [ia, ib] = [await a.info(), await b.info()];
      assert.equal(ib.store, "postgres");
      assert.equal(ia.documents, docs.length - 4);
      assert.equal(ib.documents, ia.documents);
      assert.equal(ib.chunks, ia.chunks);
      assert.deepEqual(ib.languages, ia.languages);
    } finally {
      await a.close();
      await b.close();
    }
    sameRankings(
      await results("c", postgres, SEARCHES),
      await results("c", embedded, SEARCHES),
      "pg vs lance",
    );
  });

  it("copies to PostgreSQL and back without re-embedding, with the same results", async () => {
    await copyCollection("c", embedded, { store: server.url }).then(
      () => assert.fail("copying onto an existing collection must be refused"),
      (e: Error) => assert.match(e.message, /already exists/),
    );
    const back = { home: join(root, "home2"), store: "" };
    const r = await copyCollection("c", postgres, back);
    assert.equal(r.documents, docs.length - 4);
    sameRankings(await results("c", back, SEARCHES), await results("c", embedded, SEARCHES), "copied back");
    // the copy's BM25 was saved with it (no rebuild on open) and its vectors are the same bits
    const [a, b] = [await Collection.open("c", back), await Collection.open("c", embedded)];
    try {
      const [va, vb] = [await a.store.readChunks(true), await b.store.readChunks(true)];
      const order = (v: typeof va) =>
        v.ids.map((id, i) => [id, i] as const).sort((x, y) => (x[0] < y[0] ? -1 : 1));
      const [oa, ob] = [order(va), order(vb)];
      assert.deepEqual(
        oa.map(([id]) => id),
        ob.map(([id]) => id),
      );
      const dims = a.store.dims!;
      oa.forEach(([, i], k) =>
        assert.deepEqual(
          va.vectors!.subarray(i * dims, (i + 1) * dims),
          vb.vectors!.subarray(ob[k][1] * dims, (ob[k][1] + 1) * dims),
        ),
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("searches through pgvector's HNSW with a language filter and keeps recall", async () => {
    const col = await Collection.open("c", postgres);
    try {
      const unlock = await col.lock();
      try {
        await buildAnnIndex(col, "hnsw", await col.store.countChunks());
      } finally {
        await unlock();
      }
      assert.equal(col.manifest.ann.index?.type, "hnsw");
      let found = 0;
      let total = 0;
      for (const q of QUERIES) {
        const opts = { k: 10, filter: ["lang=de"], lang: "de" };
        const exact = (await searchDetailed(col, q, { ...opts, ann: false })).hits.map((h) => h.id);
        const ann = (await searchDetailed(col, q, { ...opts, ann: true, ef: 100 })).hits;
        assert.ok(ann.every((h) => h.lang === "deu_Latn"));
        assert.equal(ann.length, exact.length);
        found += ann.filter((h) => exact.includes(h.id)).length;
        total += exact.length;
      }
      assert.ok(found / total >= 0.95, `recall@10 ${found / total}`);
    } finally {
      await col.close();
    }
  });

  it("resumes `xlir index --store` killed mid-way: every document once", async () => {
    const input = join(root, "docs.jsonl");
    writeFileSync(
      input,
      docs.map((d) => JSON.stringify({ id: d.id, text: d.text, lang: d.lang })).join("\n") + "\n",
    );
    const args = [
      "index",
      "crash",
      "--store",
      server.url,
      "--model",
      model,
      "--input",
      input,
      "--batch-size",
      "16",
      "--threads",
      "1",
      "--json",
    ];
    const killed = await xlir(args, 3);
    assert.equal(killed.signal, "SIGKILL", killed.err);
    // A real server ends a dropped connection's session, and its advisory locks with it. PGlite keeps
    // one session for every connection, so the killed writer's lock outlives it: release it here as
    // the server would have.
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query("SELECT pg_advisory_unlock_all()");
    await client.end();
    const rerun = await xlir(args);
    assert.equal(rerun.code, 0, rerun.err);
    await assertEachDocumentOnce("crash");
  });

  it("lets two `xlir index --parallel` runs fill one collection: every document embedded once", async () => {
    const input = join(root, "docs.jsonl");
    const created = await Collection.openOrCreate("shared", { ...postgres, model: enc });
    await created.close();
    const args = [
      "index",
      "shared",
      "--store",
      server.url,
      "--input",
      input,
      "--batch-size",
      "8",
      "--threads",
      "1",
      "--parallel",
      "--json",
    ];
    const run = async () => {
      const r = await xlir(args);
      assert.equal(r.code, 0, r.err);
      return r.events.find((e) => e.event === "done") as Event & {
        added: number;
        elsewhere: number;
        batches: number;
      };
    };
    const [a, b] = await Promise.all([run(), run()]);
    // each batch went to one of them: together they added every document, each once
    assert.equal(a.added + b.added, docs.length);
    assert.equal(a.elsewhere + b.elsewhere, docs.length);
    assert.ok(
      a.batches > 0 && b.batches > 0,
      `one writer did everything: ${a.batches} / ${b.batches} batches`,
    );
    await assertEachDocumentOnce("shared");
    // and the result searches like a collection built by one writer
    sameRankings(
      await results("shared", postgres, SEARCHES.slice(0, 3)),
      await results("crash", postgres, SEARCHES.slice(0, 3)),
      "parallel vs single",
    );
  });
});
