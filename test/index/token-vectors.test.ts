// Multi-vector (ColBERT-XM) collections: documents indexed with the fixture's tiny X-MOD ColBERT (a
// word-per-id tokenizer.json beside it) are searched by MaxSim over their stored token vectors,
// exactly and through the PLAID index, alone and fused with BM25; each hit's score matches MaxSim
// computed from the model's own vectors of its best chunk, --explain's token matches add up to it,
// updates and deletes are seen, dead vectors are compacted away, the CLI does it end to end, and a
// copy in PostgreSQL (PGlite over the wire) answers the same and is indexed into the same way.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { ColbertModel, maxSim } from "../../src/encode/colbert.ts";
import { Collection } from "../../src/index/collection.ts";
import { copyCollection } from "../../src/index/copy.ts";
import { addDocuments, buildAnnIndex, deleteDocuments } from "../../src/index/indexer.ts";
import type { InputDoc } from "../../src/index/ingest.ts";
import { searchDetailed, type SearchOptions } from "../../src/index/search.ts";
import { listTokenSegments } from "../../src/index/token-vectors.ts";
import { writeRobertaWordTokenizer } from "../../src/text/wordpiece-json.ts";
import { runXlir } from "../helpers/cli.ts";
import { startPglite } from "../helpers/pglite.ts";
import { fixturesRoot } from "../helpers/shared.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-mv-collection-"));
const home = join(root, "home");
const modelDir = join(root, "colbert-xm");
const fixture = join(fixturesRoot, "colbert-xm");
cpSync(fixture, modelDir, { recursive: true });
const V = (JSON.parse(readFileSync(join(fixture, "config.json"), "utf8")) as { vocab_size: number })
  .vocab_size;
writeRobertaWordTokenizer(
  modelDir,
  Array.from({ length: V - 5 }, (_, i) => `w${i + 4}`),
  { mask: true },
);

// seeded word sequences, 4-30 words (doc_maxlen 16: the longer ones are cut into chunks)
let seed = 7;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const words = (n: number) =>
  Array.from({ length: n }, () => `w${4 + Math.floor(rand() * (V - 6))}`).join(" ");
const LANGS = ["eng_Latn", "deu_Latn", "hin_Deva"];
const docs: InputDoc[] = Array.from({ length: 40 }, (_, i) => ({
  id: `d${String(i).padStart(2, "0")}`,
  text: words(4 + Math.floor(rand() * 27)),
  lang: LANGS[i % 3],
  source: `doc ${i}`,
}));
const QUERY = "w10 w11 w12 w13";

let model: ColbertModel;
let col: Collection;
before(async () => {
  model = await ColbertModel.load(modelDir, { threads: 1 });
  col = await Collection.openOrCreate("mv", { home, model });
  await addDocuments(col, docs, { batchSize: 16 });
});
after(async () => {
  await col?.close();
  await model?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Each live document's MaxSim score: its chunks encoded by the model, the best chunk's score. */
async function reference(query: string, lang?: string, of: Collection = col): Promise<Map<string, number>> {
  const v = await of.view(false);
  const rows = [...(await of.store.fetchChunkRows(v.chunkIds)).values()].filter(
    (r) => v.chunkDoc[v.chunkIndex.get(r.id)!] >= 0,
  );
  const [q] = await model.encodeQueries([query], { lang });
  const d = await model.encodeDocuments(
    rows.map((r) => r.prefix + r.text),
    { lang: rows.map((r) => r.lang) },
  );
  const out = new Map<string, number>();
  rows.forEach((r, i) => out.set(r.docId, Math.max(out.get(r.docId) ?? -Infinity, maxSim(q, d[i]))));
  return out;
}

/** Hits agree with the reference: scores within float16 storage error, nothing better left out. */
function assertMatches(hits: { id: string; score: number }[], ref: Map<string, number>, k: number): void {
  assert.equal(hits.length, Math.min(k, ref.size));
  for (const h of hits)
    assert.ok(Math.abs(h.score - ref.get(h.id)!) < 0.02, `${h.id}: ${h.score} vs ${ref.get(h.id)}`);
  const floor = Math.min(...hits.map((h) => ref.get(h.id)!));
  const returned = new Set(hits.map((h) => h.id));
  for (const [id, s] of ref) if (s > floor + 0.04) assert.ok(returned.has(id), `${id} (${s}) is missing`);
}

it("scores every document by MaxSim of its best chunk, with the query language's adapter", async () => {
  const chunks = await col.store.countChunks();
  assert.ok(chunks > docs.length, `long documents are chunked (${chunks} chunks)`);
  for (const lang of [undefined, "deu_Latn", "hin_Deva"]) {
    const { hits } = await searchDetailed(col, QUERY, { k: 8, lang });
    assertMatches(hits, await reference(QUERY, lang), 8);
  }
  // another adapter gives other query vectors, so other scores: the zero-shot path is taken
  const en = await searchDetailed(col, QUERY, { k: 3, lang: "eng_Latn" });
  const hi = await searchDetailed(col, QUERY, { k: 3, lang: "hin_Deva" });
  assert.notDeepEqual(
    en.hits.map((h) => h.score),
    hi.hits.map((h) => h.score),
  );
});

it("explains a hit as one document-token match per query token, adding up to its score", async () => {
  const { hits } = await searchDetailed(col, QUERY, { k: 3, explain: true });
  for (const h of hits) {
    const tokens = h.explain!.dense!.tokens!;
    assert.equal(tokens.length, 12, "query_maxlen rows");
    const sum = tokens.reduce((a, t) => a + t.score, 0);
    assert.ok(Math.abs(sum - h.score) < 1e-4, `${sum} vs ${h.score}`);
    assert.deepEqual(
      tokens.slice(2, 6).map((t) => t.query),
      QUERY.split(" "),
    );
    assert.deepEqual(
      tokens.map((t) => t.expansion),
      [...Array(7).fill(false), ...Array(5).fill(true)],
      "[CLS] [Q] four words [SEP], then [MASK] rows",
    );
    for (const t of tokens.filter((x) => /^w\d+$/.test(x.doc)))
      assert.ok(h.text.split(" ").includes(t.doc), `${t.doc} is a word of the hit's text`);
  }
});

it("searches through the PLAID index like exact search, new documents included", async () => {
  const unlock = await col.lock();
  try {
    await buildAnnIndex(col, "plaid", await col.store.countChunks());
  } finally {
    await unlock();
  }
  const opts: SearchOptions = { k: 8 };
  const exact = await searchDetailed(col, QUERY, { ...opts, ann: false });
  const plaid = await searchDetailed(col, QUERY, { ...opts, ann: true, ef: 10_000, nprobes: 64 });
  assert.deepEqual(
    plaid.hits.map((h) => h.id),
    exact.hits.map((h) => h.id),
  );
  plaid.hits.forEach((h, i) => assert.ok(Math.abs(h.score - exact.hits[i].score) < 1e-5));
  // added after the index was built: scored exactly beside it
  await addDocuments(col, [{ id: "new", text: QUERY, lang: "eng_Latn", source: "new" }], { ann: false });
  const found = await searchDetailed(col, QUERY, { k: 40, ann: true, ef: 10_000, nprobes: 64 });
  assert.ok(found.hits.some((h) => h.id === "new"));
  assertMatches(found.hits.slice(0, 8), await reference(QUERY), 8);
});

it("fuses MaxSim with BM25 in hybrid mode", async () => {
  const { hits } = await searchDetailed(col, QUERY, { k: 5, mode: "hybrid", explain: true });
  assert.equal(hits.length, 5);
  for (const h of hits) {
    const parts = h.explain!.fusion!.parts;
    assert.deepEqual(
      parts.map((p) => p.list),
      ["dense", "bm25"],
    );
    assert.ok(Math.abs(parts.reduce((a, p) => a + p.contribution, 0) - h.score) < 1e-9);
  }
  // the document holding the query's words exactly is BM25's best, so in the fused list
  assert.ok(hits.some((h) => h.id === "new"));
});

it("sees updates and deletes, and compacts the vectors they left dead", async () => {
  const changed = docs.map((d) => ({ ...d, text: words(6) }));
  await addDocuments(col, changed, { ann: false });
  await deleteDocuments(col, ["d00"]);
  const ref = await reference(QUERY);
  assert.ok(!ref.has("d00"));
  const { hits } = await searchDetailed(col, QUERY, { k: 10, ann: false });
  assert.ok(!hits.some((h) => h.id === "d00"));
  assertMatches(hits, ref, 10);
  // every document was rewritten: the old vectors outweighed the live ones, one segment is left
  assert.equal((await listTokenSegments(col.store)).length, 1);
});

it("indexes and searches from the command line, --explain printing the token matches", () => {
  const input = join(root, "docs.jsonl");
  writeFileSync(
    input,
    docs.map((d) => JSON.stringify({ id: d.id, text: d.text, lang: d.lang })).join("\n") + "\n",
  );
  const idx = runXlir(["index", "cli", "--model", modelDir, "--input", input, "--json"], { home });
  assert.equal(idx.status, 0, idx.stderr);
  const info = runXlir(["collections", "info", "cli", "--json"], { home });
  assert.equal(info.status, 0, info.stderr);
  assert.equal(JSON.parse(info.stdout).encoder.kind, "multi-vector");
  const s = runXlir(["search", "cli", QUERY, "--lang", "de", "--k", "2", "--explain"], { home });
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /dense -?\d+\.\d+ \(rank 1\)/);
  assert.match(s.stdout, /matches: .*w10→\S+ -?\d/);
  assert.match(s.stdout, /\d+ \[MASK\] expansions/);
});

it("answers the same from PostgreSQL after a copy, and indexes into it", async () => {
  const server = await startPglite();
  try {
    const pg = { store: server.url };
    await copyCollection("mv", { home }, pg);
    const there = await Collection.open("mv", pg);
    try {
      there.useColbert(model);
      for (const mode of ["dense", "hybrid"] as const) {
        const a = await searchDetailed(col, QUERY, { k: 8, mode, ann: false });
        const b = await searchDetailed(there, QUERY, { k: 8, mode });
        assert.deepEqual(
          b.hits.map((h) => [h.id, h.score]),
          a.hits.map((h) => [h.id, h.score]),
          mode,
        );
      }
      await addDocuments(there, [{ id: "pg", text: QUERY, lang: "deu_Latn", source: "pg" }]);
      const { hits } = await searchDetailed(there, QUERY, { k: 50, lang: "deu_Latn" });
      assert.ok(hits.some((h) => h.id === "pg"));
      assertMatches(hits.slice(0, 8), await reference(QUERY, "deu_Latn", there), 8);
    } finally {
      await there.close();
    }
  } finally {
    await server.stop();
  }
});
