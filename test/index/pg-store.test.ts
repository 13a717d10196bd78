// PgStore (src/index/pg-store.ts) against a real PostgreSQL: PGlite with pgvector, served over the
// wire (test/helpers/pglite.ts). The contract test runs the same writes on a LanceStore and a
// PgStore and compares every read; the rest covers what only PostgreSQL has: the advisory lock,
// HNSW through pgvector, the format version, and the errors' URLs. The Citus statements are
// checked as text (no Citus server here).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { type DocScore, docsFromChunks } from "../../src/index/doc-score.ts";
import { allowedDocs, type Filter, parseFilters } from "../../src/index/filter.ts";
import { LanceStore } from "../../src/index/lance-store.ts";
import { filterSql } from "../../src/index/pg-filter.ts";
import { PgStore } from "../../src/index/pg-store.ts";
import {
  annQuery,
  annSettings,
  bqQuery,
  createDdl,
  displayUrl,
  distributedDdl,
  exactQuery,
  FORMAT_VERSION,
  schemaName,
} from "../../src/index/pg-sql.ts";
import type { ChunkColumns, ChunkRow, DocColumns, DocRow, Store } from "../../src/index/store.ts";
import { type PgliteServer, startPglite } from "../helpers/pglite.ts";
import { rng } from "../tensor/gradcheck.ts";

/** Chunks "doc<i>#0" of n one-chunk documents, text "x", document hash "h", in language lang(i). */
function oneChunkDocs(n: number, lang: (i: number) => string): ChunkRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `doc${i}#0`,
    docId: `doc${i}`,
    docHash: "h",
    chunk: 0,
    start: 0,
    end: 1,
    lang: lang(i),
    prefix: "",
    text: "x",
  }));
}

/** The document rows those chunks belong to. */
function docRowsOf(rows: readonly ChunkRow[]): DocRow[] {
  return rows.map((r) => ({
    id: r.docId,
    hash: "h",
    title: null,
    lang: r.lang,
    metadata: "{}",
    text: "x",
    chunks: 1,
  }));
}

function randomVectors(rows: number, dims: number, rand: () => number, unit = false): Float32Array {
  const v = new Float32Array(rows * dims);
  for (let i = 0; i < v.length; i++) v[i] = rand() * 2 - 1;
  if (unit) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < dims; j++) s += v[r * dims + j] ** 2;
      for (let j = 0; j < dims; j++) v[r * dims + j] /= Math.sqrt(s);
    }
  }
  return v;
}

const oneLine = (e: unknown) => {
  const m = (e as Error).message;
  assert.ok(!m.includes("\n"), `one line: ${m}`);
  return m;
};

describe("PostgreSQL SQL text (no server)", () => {
  it("maps collection names to case-sensitive, length-safe schema names", () => {
    assert.equal(schemaName("Docs"), "xlir:Docs");
    assert.notEqual(schemaName("Docs"), schemaName("docs"));
    const long = "a".repeat(100);
    const s = schemaName(long);
    assert.ok(Buffer.byteLength(s) <= 63, s);
    assert.match(s, /^xlir:a+~[0-9a-f]{16}$/);
    assert.notEqual(schemaName("a".repeat(99) + "b"), s);
    assert.throws(() => schemaName("bad name"), /not allowed/);
    assert.throws(() => schemaName('x"; DROP'), /not allowed/);
  });

  it("creates chunks keyed by (id, doc_id), quoting every identifier", () => {
    const ddl = createDdl("My.Docs-1", 8, '"public"').join(";\n");
    assert.match(ddl, /CREATE SCHEMA "xlir:My\.Docs-1"/);
    assert.match(ddl, /CREATE TABLE "xlir:My\.Docs-1"\.chunks/);
    assert.match(ddl, /vector "public"\.vector\(8\) NOT NULL/);
    assert.match(ddl, /PRIMARY KEY \(id, doc_id\)/);
    assert.match(ddl, /CREATE INDEX chunks_doc_id ON "xlir:My\.Docs-1"\.chunks \(doc_id\)/);
    assert.match(ddl, /CREATE INDEX documents_lang ON "xlir:My\.Docs-1"\.documents \(lang\)/);
    assert.doesNotMatch(createDdl("bm25", null, "").join(";"), /vector/);
  });

  it("distributes documents by id and chunks by doc_id, colocated; blobs and meta as reference tables", () => {
    assert.deepEqual(distributedDdl("news"), [
      `SELECT create_distributed_table('"xlir:news".documents', 'id')`,
      `SELECT create_distributed_table('"xlir:news".chunks', 'doc_id', colocate_with => '"xlir:news".documents')`,
      `SELECT create_reference_table('"xlir:news".blobs')`,
      `SELECT create_reference_table('"xlir:news".meta')`,
    ]);
    // the schema name is a quoted identifier inside a string literal; long names are shortened
    assert.equal(
      distributedDdl("A.b-C")[1],
      `SELECT create_distributed_table('"xlir:A.b-C".chunks', 'doc_id', colocate_with => '"xlir:A.b-C".documents')`,
    );
    assert.ok(distributedDdl("n".repeat(128))[0].includes(`'"${schemaName("n".repeat(128))}".documents'`));
  });

  it("propagates the HNSW settings to Citus workers only when distributed", () => {
    assert.deepEqual(annSettings(100, true, true), [
      "SET LOCAL citus.propagate_set_commands = 'local'",
      "SET LOCAL hnsw.ef_search = 100",
      "SET LOCAL hnsw.iterative_scan = relaxed_order",
    ]);
    assert.deepEqual(annSettings(40, false, false), ["SET LOCAL hnsw.ef_search = 40"]);
    assert.throws(() => annSettings(1.5, true, false));
    assert.equal(
      annQuery("c", '"public"', [{ negate: false }, { negate: true }], 10),
      `SELECT id, "public".vector_send(vector) AS v FROM "xlir:c".chunks WHERE (lang = ANY($2::text[])) ` +
        `AND NOT (lang = ANY($3::text[])) ORDER BY vector OPERATOR("public".<#>) $1::"public".vector LIMIT 10`,
    );
  });

  it("pushes language conditions down exactly, metadata ones widened, leaving unsafe paths to the check after", () => {
    assert.deepEqual(filterSql(parseFilters(["lang=de,fr"]), 2), {
      where: ["(d.lang = ANY($2::text[]))"],
      values: [["deu_Latn", "fra_Latn"]],
      exact: true,
    });
    const f = filterSql(parseFilters(["lang!=en", "topic=a", "source.site!=b", "tags.length=0"]), 3);
    assert.equal(f.exact, false);
    // "tags.length" is the array's length in JavaScript and nothing in jsonb: not pushed down
    assert.equal(f.where.length, 3);
    assert.equal(f.where[0], "NOT (d.lang = ANY($3::text[]))");
    assert.match(
      f.where[1],
      /^\(d\.metadata IS NULL OR EXISTS .*d\.metadata -> \$4::text.*ANY\(\$5::text\[\]\)/,
    );
    assert.match(f.where[2], /^NOT \(d\.metadata IS NOT NULL AND .*CASE WHEN d\.metadata \? \$6::text/);
    assert.deepEqual(f.values, [["eng_Latn"], "topic", ["a"], "source.site", ["source", "site"], ["b"]]);
  });

  it("shows URLs without their password", () => {
    assert.equal(
      displayUrl("postgres://u:p%40ss@db.example:5433/x?sslmode=require"),
      "postgres://u@db.example:5433/x",
    );
    assert.equal(displayUrl("postgresql://db/x"), "postgresql://db/x");
  });
});

describe("PgStore on PostgreSQL (PGlite + pgvector)", () => {
  let server: PgliteServer;
  let url: string;
  const root = mkdtempSync(join(tmpdir(), "xlir-pg-"));
  before(async () => {
    server = await startPglite();
    url = server.url;
  });
  after(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** One statement on a connection of its own, after `settings` (SET LOCALs: then in a transaction). */
  async function sql(text: string, values: unknown[] = [], settings: string[] = []): Promise<pg.QueryResult> {
    const c = new pg.Client(url);
    await c.connect();
    try {
      if (settings.length === 0) return await c.query(text, values);
      await c.query("BEGIN");
      for (const s of settings) await c.query(s);
      const r = await c.query(text, values);
      await c.query("COMMIT");
      return r;
    } finally {
      await c.end();
    }
  }

  it("keeps the same rows as the LanceDB store through the same writes", async () => {
    const dims = 8;
    const rand = rng(7);
    const lance = await LanceStore.open(join(root, "contract"), dims, true);
    const pgs = await PgStore.open(url, "contract", dims, true);
    const stores: Store[] = [lance, pgs];
    const both = async (f: (s: Store) => Promise<unknown>) => {
      for (const s of stores) await f(s);
    };
    try {
      const langs = ["eng_Latn", "deu_Latn", "zho_Hans"];
      const doc = (i: number, v = 1): DocRow => ({
        id: i === 4 ? "ünïcødé id \u{1F600}" : `d${i}`,
        hash: `h${i}.${v}`,
        title: i % 3 === 0 ? null : `Title ${i} 'quoted' "double"`,
        lang: langs[i % 3],
        // key order, spacing and escapes must come back as written
        metadata:
          i === 2 ? '{"z":1,"a":[1,2],"nested":{"k":"v\\u00e9"}}' : i === 6 ? "{}" : `{"n":${i},"s":"x"}`,
        text: i === 1 ? "\uFEFFstarts with a BOM" : `text of ${i} v${v}: ä ö ü 黑豹 🎉`,
        chunks: 2,
      });
      const chunksOf = (d: DocRow, n = 2): ChunkRow[] =>
        Array.from({ length: n }, (_, c) => ({
          id: `${d.id}#${c}`,
          docId: d.id,
          docHash: d.hash,
          chunk: c,
          start: c * 10,
          end: c * 10 + 9,
          lang: d.lang,
          prefix: c === 0 ? (d.title ?? "") + "\n" : "",
          text: `${d.text} [${c}]`,
        }));
      const docs = Array.from({ length: 10 }, (_, i) => doc(i));
      const chunks = docs.flatMap((d) => chunksOf(d));
      const vectors = randomVectors(chunks.length, dims, rand);
      vectors.set([0, 1, -1, 1e-7, 0.1, -0.3333333432674408, 3.4e38, -2.5e-12], 0);

      const versions: number[] = [await pgs.chunksVersion()];
      const chunkWrite = async (f: (s: Store) => Promise<unknown>) => {
        await both(f);
        versions.push(await pgs.chunksVersion());
      };

      await both((s) => s.upsertDocs(docs));
      await chunkWrite((s) => s.addChunks(chunks, vectors));
      // re-embedded chunks: new vectors (and a changed text) for existing ids, plus one that is not there
      const replaced = [chunks[3], { ...chunks[8], text: "rewritten" }, chunks[15]];
      const missing: ChunkRow = { ...chunks[0], id: "nowhere#0", docId: "nowhere" };
      const v4 = randomVectors(4, dims, rand);
      await chunkWrite((s) => s.replaceChunks([...replaced, missing], v4));
      // an update of d3: its old chunks go, three new ones come, its row last
      const d3 = doc(3, 2);
      await chunkWrite((s) => s.deleteChunksOfDocs([d3.id]));
      const v3 = randomVectors(3, dims, rand);
      await chunkWrite((s) => s.addChunks(chunksOf(d3, 3), v3));
      await both((s) => s.upsertDocs([{ ...d3, chunks: 3 }]));
      // deletions, and chunks of a document that never got its row (an orphan)
      await both((s) => s.deleteDocs([docs[5].id, "no-such-doc"]));
      await chunkWrite((s) => s.deleteChunksOfDocs([docs[5].id]));
      await chunkWrite((s) => s.deleteChunks([`${docs[7].id}#1`]));
      const ghost = chunksOf({ ...doc(11), id: "ghost" }, 1);
      const v1 = randomVectors(1, dims, rand);
      await chunkWrite((s) => s.addChunks(ghost, v1));

      for (let i = 1; i < versions.length; i++)
        assert.ok(versions[i] > versions[i - 1], `versions ${versions}`);

      const [a, b] = stores;
      assert.equal(await b.countDocs(), await a.countDocs());
      assert.equal(await b.countChunks(), await a.countChunks());
      assert.equal(await b.countDocs(), 9);
      assert.equal(await b.countChunks(), 20 - 2 + 3 - 2 - 1 + 1);

      assert.deepEqual(sortDocs(await b.readDocs()), sortDocs(await a.readDocs()));
      const [ca, cb] = [
        sortChunks(await a.readChunks(true), dims),
        sortChunks(await b.readChunks(true), dims),
      ];
      assert.deepEqual(cb.ids, ca.ids);
      assert.deepEqual(cb.docIds, ca.docIds);
      assert.deepEqual(cb.docHashes, ca.docHashes);
      // float32 bit for bit
      assert.deepEqual(Buffer.from(cb.vectors!.buffer), Buffer.from(ca.vectors!.buffer));
      assert.equal((await b.readChunks(false)).vectors, null);
      assert.deepEqual(await b.committedDocs(), await a.committedDocs());

      const someDocs = [docs[1].id, docs[2].id, docs[4].id, d3.id, docs[5].id, "none"];
      assert.deepEqual(await b.fetchDocs(someDocs), await a.fetchDocs(someDocs));
      assert.equal((await b.fetchDocs([docs[2].id])).get(docs[2].id)!.metadata, docs[2].metadata);
      const someChunks = [chunks[0].id, chunks[8].id, `${d3.id}#2`, "ghost#0", `${docs[7].id}#1`, "none#0"];
      assert.deepEqual(await b.fetchChunks(someChunks), await a.fetchChunks(someChunks));
      const byId = (x: ChunkRow, y: ChunkRow) => cmp(x.id, y.id);
      assert.deepEqual(
        (await b.fetchChunkRows(someChunks)).sort(byId),
        (await a.fetchChunkRows(someChunks)).sort(byId),
      );
      assert.deepEqual(sortTexts(await b.readChunkTexts()), sortTexts(await a.readChunkTexts()));
      assert.deepEqual(await scanAll(b), await scanAll(a));

      // adding the same chunks again replaces them (LanceDB would append duplicates)
      await pgs.addChunks(ghost, randomVectors(1, dims, rand));
      assert.equal(await pgs.countChunks(), 19);
      assert.ok((await pgs.sizeBytes()) > 0);
      await pgs.optimize();
      await pgs.verify();
    } finally {
      await lance.close();
      await pgs.close();
    }
  });

  it("keeps named blobs, binary and replaced whole, listed like the embedded store's files", async () => {
    const lance = await LanceStore.open(join(root, "blobs"), null, true);
    const s = await PgStore.open(url, "blobs", null, true);
    try {
      const bin = Uint8Array.from([0, 1, 0, 255, 0, 0, 128, 0]);
      for (const st of [lance, s] as Store[]) {
        await st.writeBlob("bm25.xlir", bin);
        await st.writeBlob("collection.json", Buffer.from('{"v":1}'));
        await st.writeBlob("collection.json", Buffer.from('{"v":2}'));
        await st.writeBlob("agg-vocab/fra_Latn.json", Buffer.from("[]"));
        await st.writeBlob("agg-vocab/deu_Latn.json", bin.subarray(1, 4));
      }
      assert.deepEqual(await s.readBlob("bm25.xlir"), Buffer.from(bin));
      assert.equal((await s.readBlob("collection.json"))!.toString(), '{"v":2}');
      assert.deepEqual(await s.readBlob("agg-vocab/deu_Latn.json"), Buffer.from([1, 0, 255]));
      assert.equal(await s.readBlob("state.json"), null);
      assert.deepEqual(await s.listBlobs("agg-vocab/"), [
        "agg-vocab/deu_Latn.json",
        "agg-vocab/fra_Latn.json",
      ]);
      for (const prefix of ["agg-vocab/", "agg-vocab/d", "", "c", "x"]) {
        assert.deepEqual(await s.listBlobs(prefix), await lance.listBlobs(prefix), prefix);
      }
    } finally {
      await lance.close();
      await s.close();
    }
  });

  it("lets one writer at a time hold the lock, and writes go on while it is held", async () => {
    const one = await PgStore.open(url, "locked", null, true);
    const two = await PgStore.open(url, "locked", null);
    try {
      const unlock = await one.lock();
      const message =
        'collection "locked" is being written by another process (PostgreSQL advisory lock held): ' +
        "wait for it to finish, or stop it";
      await assert.rejects(two.lock(), (e) => oneLine(e) === message);
      assert.equal(await two.tryLock(), null);
      assert.equal(await one.tryLock(), null); // its own writer holds it too
      // the lock's connection is not the writes' one: no deadlock, even on a one-session server
      await one.upsertDocs([
        { id: "a", hash: "h", title: null, lang: "eng_Latn", metadata: "{}", text: "t", chunks: 0 },
      ]);
      assert.equal(await two.countDocs(), 1);
      // another collection's lock is another key
      const other = await PgStore.open(url, "locked-other", null, true);
      const unlockOther = await other.lock();
      await unlockOther();
      await other.close();
      await unlock();
      await unlock(); // twice is harmless
      const unlock2 = await two.lock();
      await assert.rejects(one.lock(), /advisory lock held/);
      await unlock2();
      const unlock3 = await two.tryLock();
      assert.ok(unlock3);
      await unlock3();
    } finally {
      await one.close();
      await two.close();
    }
  });

  it("finds the nearest chunks of one language through HNSW (recall@10 >= 0.9 against exact)", async () => {
    const dims = 32;
    const n = 3000;
    const rand = rng(11);
    const s = await PgStore.open(url, "ann", dims, true);
    try {
      const vectors = randomVectors(n, dims, rand, true);
      const rows = oneChunkDocs(n, (i) => (i % 10 === 3 ? "deu_Latn" : "eng_Latn"));
      await s.addChunks(rows, vectors);
      assert.equal(await s.hasVectorIndex(), false);
      await s.createVectorIndex("hnsw");
      assert.equal(await s.hasVectorIndex(), true);
      await s.createVectorIndex("hnsw"); // a rebuild replaces it
      await s.optimize();
      // On 3000 rows the planner rightly prefers an exact scan and sort to the index, which would
      // leave HNSW untested. PGlite is one session shared by all connections, so a session-level
      // SET here reaches the store's queries too: switch sequential scans off for this test.
      await sql("SET enable_seqscan = off");
      assert.equal((await sql("SHOW enable_seqscan")).rows[0].enable_seqscan, "off", "one shared session");
      const plan = await sql(`EXPLAIN ${annQuery("ann", '"public"', [{ negate: false }], 10)}`, [
        "[" + new Array(dims).fill(0.1).join(",") + "]",
        ["deu_Latn"],
      ]);
      assert.match(plan.rows.map((r) => r["QUERY PLAN"]).join("\n"), /Index Scan using chunks_vector_hnsw/);

      const exact = (q: Float32Array, allow: (i: number) => boolean, k: number) => {
        const scored: { id: string; score: number }[] = [];
        for (let i = 0; i < n; i++) {
          if (!allow(i)) continue;
          let d = 0;
          for (let j = 0; j < dims; j++) d += q[j] * vectors[i * dims + j];
          scored.push({ id: rows[i].id, score: d });
        }
        return scored.sort((x, y) => y.score - x.score).slice(0, k);
      };
      const german = (i: number) => rows[i].lang === "deu_Latn";
      let recall = 0;
      const queries = 20;
      for (let t = 0; t < queries; t++) {
        const q = randomVectors(1, dims, rand, true);
        for (const filter of [
          [{ field: "lang", negate: false, values: ["deu_Latn"] }],
          [{ field: "lang", negate: true, values: ["eng_Latn"] }],
        ]) {
          const hits = await s.annSearch(q, 10, { type: "hnsw", filter, ef: 100 });
          assert.equal(hits.length, 10);
          const want = exact(q, german, 10);
          for (const h of hits) assert.ok(h.id.startsWith("doc") && german(Number(h.id.slice(3, -2))), h.id);
          // scores: the exact dot products, best first
          for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score);
          const wantScore = new Map(exact(q, () => true, n).map((x) => [x.id, x.score]));
          for (const h of hits) assert.ok(Math.abs(h.score - wantScore.get(h.id)!) < 1e-6);
          recall += hits.filter((h) => want.some((w) => w.id === h.id)).length / 10 / 2;
        }
        // a metadata condition is not the store's: it is ignored here
        const all = await s.annSearch(q, 5, {
          type: "hnsw",
          filter: [{ field: "topic", negate: false, values: ["x"] }],
        });
        assert.equal(all.length, 5);
      }
      recall /= queries;
      assert.ok(recall >= 0.9, `recall@10 ${recall}`);

      // pgvector's iterative scan (0.8) is what fills k under a filter: without it a candidate list
      // of 10 leaves about one German row in ten
      const q = randomVectors(1, dims, rand, true);
      const german10 = annQuery("ann", '"public"', [{ negate: false }], 10);
      const plain = await sql(
        german10,
        [`[${q.join(",")}]`, ["deu_Latn"]],
        ["SET LOCAL hnsw.ef_search = 10", "SET LOCAL hnsw.iterative_scan = off"],
      );
      assert.ok(plain.rows.length < 10, `without iterative scan: ${plain.rows.length} rows`);
      const filter = [{ field: "lang", negate: false, values: ["deu_Latn"] }];
      assert.equal((await s.annSearch(q, 10, { type: "hnsw", filter, ef: 10 })).length, 10);
      await assert.rejects(s.createVectorIndex("ivf_pq"), /hnsw, not ivf_pq/);
    } finally {
      await sql("RESET enable_seqscan");
      await s.close();
    }
  });

  it("searches exactly in SQL, the filter pushed down: the documents and scores of a full scan", async () => {
    const dims = 16;
    const rand = rng(23);
    const s = await PgStore.open(url, "exact", dims, true);
    try {
      const langs = ["eng_Latn", "deu_Latn", "fra_Latn"];
      const topics = ["science", "sports", "art"];
      const docs: DocRow[] = Array.from({ length: 300 }, (_, i) => ({
        id: `d${i}`,
        hash: `h${i}`,
        title: null,
        lang: langs[i % 3],
        // "" has no jsonb copy: SQL cannot tell, the check after does
        metadata:
          i % 17 === 0
            ? ""
            : JSON.stringify({
                topic: topics[(i >> 1) % 3],
                tags: i % 4 === 0 ? ["hot", ["deep", topics[i % 3]]] : [],
                year: 2000 + (i % 25),
                source: { site: i % 2 ? "wiki" : "news" },
                flag: i % 5 === 0,
                ...(i % 7 === 0 ? { "source.site": "dotted" } : {}),
              }),
        text: "t",
        chunks: 1 + (i % 3),
      }));
      const rows: ChunkRow[] = docs.flatMap((d, i) =>
        Array.from({ length: d.chunks + (i % 50 === 0 ? 1 : 0) }, (_, c) => ({
          id: `${d.id}#${c}`,
          docId: d.id,
          // an orphan chunk left by a crash: ignored by every search
          docHash: c === d.chunks ? "stale" : d.hash,
          chunk: c,
          start: 0,
          end: 1,
          lang: d.lang,
          prefix: "",
          text: "x",
        })),
      );
      const vectors = randomVectors(rows.length, dims, rand);
      await s.upsertDocs(docs);
      await s.addChunks(rows, vectors);
      await s.createVectorIndex("hnsw");
      await s.optimize();
      const docIndex = new Map(docs.map((d, i) => [d.id, i]));
      const rowIndex = new Map(rows.map((r, c) => [r.id, c]));
      const live = (c: number) => (docs[docIndex.get(rows[c].docId)!].hash === rows[c].docHash ? 1 : 0);
      /** The full scan here: every chunk scored, then filtered by filter.ts and ranked by doc-score.ts. */
      const scan = (q: Float32Array, filter: Filter, agg: DocScore, k: number) => {
        const mask = allowedDocs(
          filter,
          docs.map((d) => d.lang),
          docs.map((d) => d.metadata),
        );
        const docOf = (c: number) => {
          const d = docIndex.get(rows[c].docId)!;
          return live(c) && (mask === null || mask[d]) ? d : -1;
        };
        const scored = rows.map((_, c) => ({ chunk: c, score: dot64(q, vectors, c, dims) }));
        return docsFromChunks(scored, docOf, agg, k).map((h) => [docs[h.doc].id, h.score] as const);
      };
      const filters = [
        [],
        ["lang=de"],
        ["topic=science"],
        ["tags=sports"],
        ["year=2003,2010"],
        ["year=2003"],
        ["source.site=wiki"],
        ["topic!=art", "lang!=en"],
        ["tags!=hot"],
        ["flag=true"],
        ["tags.length=0"],
      ].map((f) => parseFilters(f));
      const aggs: DocScore[] = [{ kind: "max" }, { kind: "sum", top: Infinity }, { kind: "sum", top: 2 }];
      for (const filter of filters)
        for (const agg of aggs) {
          const q = randomVectors(1, dims, rand);
          const k = 10;
          const hits = await s.exactSearch(q, { docs: k, docScore: agg, filter });
          // no re-filtering here: every chunk that came back must be live and pass the filter
          const got = docsFromChunks(
            hits.map((h) => ({ chunk: rowIndex.get(h.id)!, score: h.score })),
            (c) => (live(c) ? docIndex.get(rows[c].docId)! : -2),
            agg,
            k,
          );
          assert.ok(
            got.every((h) => h.doc >= 0),
            "an orphan chunk came back",
          );
          const want = scan(q, filter, agg, k);
          const what = `${JSON.stringify(filter)} ${JSON.stringify(agg)}`;
          assert.ok(want.length > 0, what);
          assert.deepEqual(
            got.map((h) => docs[h.doc].id),
            want.map(([id]) => id),
            what,
          );
          got.forEach((h, i) => assert.ok(Math.abs(h.score - want[i][1]) < 1e-9, what));
        }
      // the vector index is never used, whatever the planner would prefer
      const q = `[${randomVectors(1, dims, rand).join(",")}]`;
      for (const perDoc of [null, 2]) {
        const where = filterSql(parseFilters(["lang=de", "topic=art"]), 2);
        const plan = await sql(
          `EXPLAIN ${exactQuery("exact", '"public"', "vector", where.where, 10, perDoc, true)}`,
          [q, ...where.values],
          ["SET LOCAL enable_seqscan = off"],
        );
        assert.doesNotMatch(plan.rows.map((r) => r["QUERY PLAN"]).join("\n"), /chunks_vector_hnsw/);
      }
    } finally {
      await s.close();
    }
  });

  it("stores halfvec collections in half the bytes, searching them within float16 rounding", async () => {
    const dims = 128;
    const n = 800;
    const rand = rng(5);
    const full = await PgStore.open(url, "f32", dims, true);
    const half = await PgStore.open(url, "f16", dims, true, { vectorType: "halfvec" });
    try {
      assert.equal(full.vectorType, "vector");
      assert.equal(half.vectorType, "halfvec");
      const vectors = randomVectors(n, dims, rand, true);
      const rows = oneChunkDocs(n, (i) => (i % 2 ? "deu_Latn" : "eng_Latn"));
      const docs = docRowsOf(rows);
      for (const st of [full, half]) {
        await st.upsertDocs(docs);
        await st.addChunks(rows, vectors);
      }
      // read back: each value is the nearest float16 (relative error at most 2^-11)
      const f32 = sortChunks(await full.readChunks(true), dims).vectors!;
      const f16 = sortChunks(await half.readChunks(true), dims).vectors!;
      const off = f16.filter((v, i) => !(Math.abs(v - f32[i]) <= Math.abs(f32[i]) * 2 ** -11 + 2 ** -25));
      assert.equal(off.length, 0, "values further than float16 rounding");
      assert.ok(
        f16.some((v, i) => v !== f32[i]),
        "rounded, not float32",
      );
      // the chunks table (its heap: the vectors' bytes halve, ids and texts stay), and the whole collection
      const heap = async (schema: string) =>
        Number((await sql(`SELECT pg_relation_size('"${schema}".chunks') AS n`)).rows[0].n);
      const [hf, hh] = [await heap("xlir:f32"), await heap("xlir:f16")];
      assert.ok(hh < 0.65 * hf, `chunks: halfvec ${hh} bytes, vector ${hf}`);
      assert.ok((await half.sizeBytes()) < (await full.sizeBytes()));

      // |q . (v16 - v)| <= sum |q_j| |v_j| 2^-11 <= 2^-11 for unit vectors
      const tol = 2 ** -11;
      const filter = [{ field: "lang", negate: false, values: ["deu_Latn"] }];
      let same = 0;
      for (let t = 0; t < 10; t++) {
        const q = randomVectors(1, dims, rand, true);
        const opts = { docs: 10, docScore: { kind: "max" } as DocScore, filter };
        const [a, b] = [await full.exactSearch(q, opts), await half.exactSearch(q, opts)];
        const exact = new Map(a.map((h) => [h.id, h.score]));
        same += b.slice(0, 10).filter((h) => exact.has(h.id)).length;
        const fullScore = new Map(
          (await full.exactSearch(q, { ...opts, docs: n })).map((h) => [h.id, h.score]),
        );
        for (const h of b) assert.ok(Math.abs(h.score - fullScore.get(h.id)!) <= tol, `${h.id}: ${h.score}`);
      }
      assert.ok(same / 100 >= 0.9, `top 10 shared with float32: ${same}%`);

      // HNSW over halfvec (halfvec_ip_ops) finds what the exact search finds
      await half.createVectorIndex("hnsw");
      const q = randomVectors(1, dims, rand, true);
      const exact = (await half.exactSearch(q, { docs: 10, docScore: { kind: "max" } })).slice(0, 10);
      const ann = await half.annSearch(q, 10, { type: "hnsw", ef: 100 });
      const exactScore = new Map(exact.map((e) => [e.id, e.score]));
      const shared = ann.filter((h) => exactScore.has(h.id));
      assert.ok(shared.length >= 9, `${shared.length} of the exact top 10`);
      for (const h of shared) assert.equal(h.score, exactScore.get(h.id));
      const idx = await sql(
        `SELECT indexdef FROM pg_indexes WHERE schemaname = 'xlir:f16' AND indexname = 'chunks_vector_hnsw'`,
      );
      assert.match(idx.rows[0].indexdef, /halfvec_ip_ops/);
    } finally {
      await full.close();
      await half.close();
    }
    // recorded in the collection: opened without the option it stays halfvec; asked otherwise, refused
    const again = await PgStore.open(url, "f16", null);
    assert.equal(again.vectorType, "halfvec");
    await again.close();
    await assert.rejects(PgStore.open(url, "f16", null, false, { vectorType: "vector" }), (e) =>
      /stores its vectors as halfvec, not vector/.test(oneLine(e)),
    );
  });

  it("pre-ranks by binary-quantised HNSW and re-ranks by the full vectors (hnsw_bq)", async () => {
    const dims = 64;
    const n = 2000;
    const rand = rng(31);
    const s = await PgStore.open(url, "bq", dims, true);
    try {
      const vectors = randomVectors(n, dims, rand, true);
      const rows = oneChunkDocs(n, (i) => (i % 4 === 1 ? "deu_Latn" : "eng_Latn"));
      await s.upsertDocs(docRowsOf(rows));
      await s.addChunks(rows, vectors);
      await s.createVectorIndex("hnsw_bq");
      assert.equal(await s.hasVectorIndex(), true);
      const idx = await sql(
        `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'xlir:bq' AND indexdef LIKE '%hnsw%'`,
      );
      assert.deepEqual(
        idx.rows.map((r) => r.indexname),
        ["chunks_vector_hnsw_bq"],
      );
      assert.match(
        idx.rows[0].indexdef,
        /\(binary_quantize\(vector\)\)::bit\(64\)\) (public\.)?bit_hamming_ops/,
      );
      const plan = await sql(
        `EXPLAIN ${bqQuery("bq", '"public"', [], 10, 100, "vector", dims)}`,
        [`[${vectors.subarray(0, dims).join(",")}]`],
        ["SET LOCAL enable_seqscan = off"],
      );
      assert.match(
        plan.rows.map((r) => r["QUERY PLAN"]).join("\n"),
        /Index Scan using chunks_vector_hnsw_bq/,
      );
      let found = 0;
      let foundFiltered = 0;
      const queries = 10;
      const filter = [{ field: "lang", negate: false, values: ["deu_Latn"] }];
      for (let t = 0; t < queries; t++) {
        const q = randomVectors(1, dims, rand, true);
        const exact = await s.exactSearch(q, { docs: 10, docScore: { kind: "max" } });
        const bq = await s.annSearch(q, 10, { type: "hnsw_bq", refineFactor: 20, ef: 200 });
        assert.equal(bq.length, 10);
        // re-ranked by the full vectors: exact scores, best first
        for (let i = 1; i < bq.length; i++) assert.ok(bq[i - 1].score >= bq[i].score);
        for (const h of bq)
          assert.ok(Math.abs(h.score - dot64(q, vectors, Number(h.id.slice(3, -2)), dims)) < 1e-9);
        found += bq.filter((h) => exact.slice(0, 10).some((e) => e.id === h.id)).length;
        const exactDe = await s.exactSearch(q, { docs: 10, docScore: { kind: "max" }, filter });
        const bqDe = await s.annSearch(q, 10, { type: "hnsw_bq", refineFactor: 20, ef: 200, filter });
        assert.ok(bqDe.every((h) => rows[Number(h.id.slice(3, -2))].lang === "deu_Latn"));
        foundFiltered += bqDe.filter((h) => exactDe.slice(0, 10).some((e) => e.id === h.id)).length;
      }
      assert.ok(found / (10 * queries) >= 0.8, `recall@10 ${found / (10 * queries)}`);
      assert.ok(
        foundFiltered / (10 * queries) >= 0.8,
        `filtered recall@10 ${foundFiltered / (10 * queries)}`,
      );
      // building hnsw replaces it: one vector index at a time
      await s.createVectorIndex("hnsw");
      const after = await sql(
        `SELECT indexname FROM pg_indexes WHERE schemaname = 'xlir:bq' AND indexdef LIKE '%hnsw%'`,
      );
      assert.deepEqual(
        after.rows.map((r) => r.indexname),
        ["chunks_vector_hnsw"],
      );
    } finally {
      await s.close();
    }
  });

  it("migrates a format 1 collection to the current format on open", async () => {
    const s = await PgStore.open(url, "old", 4, true);
    await s.close();
    await sql(`UPDATE "xlir:old".meta SET value = '1' WHERE key = 'format_version'`);
    await sql(`DELETE FROM "xlir:old".meta WHERE key = 'vector_type'`);
    const t = await PgStore.open(url, "old", null);
    assert.equal(t.vectorType, "vector");
    await t.close();
    const meta = await sql(
      `SELECT key, value FROM "xlir:old".meta WHERE key IN ('format_version', 'vector_type') ORDER BY key`,
    );
    assert.deepEqual(
      meta.rows.map((r) => [r.key, r.value]),
      [
        ["format_version", String(FORMAT_VERSION)],
        ["vector_type", "vector"],
      ],
    );
  });

  it("opens, lists and drops collections by their case-sensitive names", async () => {
    const long = "L".repeat(120) + "-x";
    for (const name of ["Docs", "docs", long]) await (await PgStore.open(url, name, 4, true)).close();
    const names = await PgStore.list(url);
    for (const name of ["Docs", "docs", long, "contract", "ann"]) assert.ok(names.includes(name), name);
    assert.deepEqual(names, [...names].sort());
    assert.equal(await PgStore.exists(url, "Docs"), true);
    assert.equal(await PgStore.exists(url, "DOCS"), false);
    // an existing collection keeps its dims: null takes them, another number is refused
    const s = await PgStore.open(url, long, null);
    assert.equal(s.dims, 4);
    await s.close();
    await assert.rejects(PgStore.open(url, "Docs", 8), (e) =>
      /holds 4-dimensional vectors, not 8/.test(oneLine(e)),
    );
    assert.equal(await PgStore.drop(url, "Docs"), true);
    assert.equal(await PgStore.drop(url, "Docs"), false);
    assert.equal(await PgStore.exists(url, "Docs"), false);
    assert.equal(await PgStore.exists(url, "docs"), true);
    await assert.rejects(PgStore.open(url, "Docs", null), (e) =>
      /^collection "Docs" does not exist in PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/.test(
        oneLine(e),
      ),
    );
  });

  it("keeps BM25-only collections without vectors", async () => {
    const s = await PgStore.open(url, "sparse", null, true);
    try {
      const row: ChunkRow = {
        id: "a#0",
        docId: "a",
        docHash: "h",
        chunk: 0,
        start: 0,
        end: 3,
        lang: "eng_Latn",
        prefix: "",
        text: "abc",
      };
      await s.addChunks([row], null);
      assert.deepEqual(await s.readChunks(true), {
        ids: ["a#0"],
        docIds: ["a"],
        docHashes: ["h"],
        vectors: null,
      });
      await assert.rejects(s.createVectorIndex("hnsw"), /no vectors/);
    } finally {
      await s.close();
    }
  });

  it("refuses a newer format version and names what is damaged, in one line", async () => {
    const s = await PgStore.open(url, "future", 4, true);
    await s.verify();
    await sql(`UPDATE "xlir:future".meta SET value = '999' WHERE key = 'format_version'`);
    await assert.rejects(s.verify(), (e) =>
      /is damaged: its format_version "999" is unknown/.test(oneLine(e)),
    );
    await s.close();
    await assert.rejects(PgStore.open(url, "future", 4), (e) =>
      /collection "future" \(PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\) has format version 999; this xlir reads format 2 at most: upgrade xlir/.test(
        oneLine(e),
      ),
    );
    const t = await PgStore.open(url, "broken", 4, true);
    await sql(`DROP TABLE "xlir:broken".chunks`);
    await assert.rejects(t.verify(), (e) =>
      /"broken" .* is damaged: its chunks table\(s\) are missing/.test(oneLine(e)),
    );
    await assert.rejects(t.countChunks(), (e) => /cannot count chunks: .*does not exist/.test(oneLine(e)));
    await t.close();
  });

  it("never shows the URL's password in an error", async () => {
    const secret = "Sup3r-s3cret";
    const withPw = url.replace("postgres@", `postgres:${secret}@`);
    // PGlite takes any password: the collection's errors are the server's
    const s = await PgStore.open(withPw, "pw", 4, true);
    const doc: DocRow = {
      id: "nul",
      hash: "h",
      title: null,
      lang: "eng_Latn",
      metadata: "{}",
      text: "a\0b",
      chunks: 0,
    };
    await assert.rejects(s.upsertDocs([doc]), (e) => {
      const m = oneLine(e);
      return !m.includes(secret) && /document "nul" holds a NUL character/.test(m);
    });
    await assert.rejects(s.annSearch(new Float32Array(3), 1, { type: "hnsw" }), /3 dims/);
    await sql(`DROP TABLE "xlir:pw".documents`);
    await assert.rejects(s.countDocs(), (e) => {
      const m = oneLine(e);
      return !m.includes(secret) && m.includes(displayUrl(withPw)) && /cannot count documents/.test(m);
    });
    await s.close();
    await assert.rejects(PgStore.open(withPw, "nothing-here", null), (e) => {
      const m = oneLine(e);
      return !m.includes(secret) && m.includes(`postgres://postgres@127.0.0.1:${server.port}/postgres`);
    });
    // no server there
    const port = await closedPort();
    const nowhere = `postgres://postgres:${secret}@127.0.0.1:${port}/postgres`;
    for (const attempt of [() => PgStore.open(nowhere, "x", null), () => PgStore.list(nowhere)]) {
      await assert.rejects(attempt(), (e) => {
        const m = oneLine(e);
        return (
          !m.includes(secret) &&
          m.startsWith(`cannot reach PostgreSQL at postgres://postgres@127.0.0.1:${port}/`)
        );
      });
    }
  });
});

/** q . row `r` of `vectors`, in double precision. */
function dot64(q: Float32Array, vectors: Float32Array, r: number, dims: number): number {
  let d = 0;
  for (let j = 0; j < dims; j++) d += q[j] * vectors[r * dims + j];
  return d;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function order(ids: readonly string[]): number[] {
  return ids.map((_, i) => i).sort((x, y) => cmp(ids[x], ids[y]));
}

function sortDocs(d: DocColumns): DocColumns {
  const o = order(d.ids);
  return {
    ids: o.map((i) => d.ids[i]),
    hashes: o.map((i) => d.hashes[i]),
    langs: o.map((i) => d.langs[i]),
    titles: o.map((i) => d.titles[i]),
    metadata: o.map((i) => d.metadata[i]),
  };
}

function sortChunks(c: ChunkColumns, dims: number): ChunkColumns {
  const o = order(c.ids);
  const vectors = c.vectors && new Float32Array(c.vectors.length);
  if (vectors) o.forEach((i, r) => vectors.set(c.vectors!.subarray(i * dims, (i + 1) * dims), r * dims));
  return {
    ids: o.map((i) => c.ids[i]),
    docIds: o.map((i) => c.docIds[i]),
    docHashes: o.map((i) => c.docHashes[i]),
    vectors,
  };
}

function sortTexts(t: { ids: string[]; texts: string[]; langs: string[] }) {
  const o = order(t.ids);
  return { ids: o.map((i) => t.ids[i]), texts: o.map((i) => t.texts[i]), langs: o.map((i) => t.langs[i]) };
}

async function scanAll(s: Store): Promise<string[]> {
  const out: string[] = [];
  await s.scanDocTexts((b) =>
    b.texts.forEach((t, i) => out.push(JSON.stringify([b.langs[i], b.titles[i], t]))),
  );
  return out.sort();
}

/** A port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, "127.0.0.1", ok));
  const port = (srv.address() as { port: number }).port;
  await new Promise((ok) => srv.close(ok));
  return port;
}
