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
import { LanceStore } from "../../src/index/lance-store.ts";
import { PgStore } from "../../src/index/pg-store.ts";
import {
  annQuery,
  annSettings,
  createDdl,
  displayUrl,
  distributedDdl,
  schemaName,
} from "../../src/index/pg-sql.ts";
import type { ChunkColumns, ChunkRow, DocColumns, DocRow, Store } from "../../src/index/store.ts";
import { type PgliteServer, startPglite } from "../helpers/pglite.ts";
import { rng } from "../tensor/gradcheck.ts";

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
      const rows: ChunkRow[] = Array.from({ length: n }, (_, i) => ({
        id: `doc${i}#0`,
        docId: `doc${i}`,
        docHash: "h",
        chunk: 0,
        start: 0,
        end: 1,
        lang: i % 10 === 3 ? "deu_Latn" : "eng_Latn",
        prefix: "",
        text: "x",
      }));
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
      /collection "future" \(PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\) has format version 999; this xlir reads format 1 at most: upgrade xlir/.test(
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
