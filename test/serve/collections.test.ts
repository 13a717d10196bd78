// Collections over HTTP: create, upsert (JSON and NDJSON), stats per language, delete, and search
// that returns what the library's search returns (dense, BM25, hybrid, batch, filters); and
// `xlir serve` stopped by SIGTERM mid-upsert keeps every document it accepted.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { Collection } from "../../src/index/collection.ts";
import { searchDetailed, type SearchHit } from "../../src/index/search.ts";
import { startServer, type XlirServer } from "../../src/serve/server.ts";
import { XLIR_BIN } from "../helpers/cli.ts";
import { TINY_WORDS, tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-serve-col-"));
const home = join(root, "home");
const model = tinyBertDir({ parent: root, maxLength: 32 });
let server: XlirServer;

const doc = (i: number, lang: string) => ({
  id: `d${i}`,
  lang,
  text: Array.from({ length: 3 + (i % 5) }, (_, j) => TINY_WORDS[3 + ((i * 5 + j * 7) % 9)]).join(" "),
  metadata: { group: i % 2 ? "odd" : "even" },
});

before(async () => {
  server = await startServer({ models: [`tiny=${model}`], home, port: 0, log: () => {} });
  await server.ready;
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const post = async (path: string, body: unknown, type = "application/json") => {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": type },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

it("creates a collection, upserts JSON and NDJSON, counts per language, deletes by id", async () => {
  assert.equal((await post("/collections", { name: "docs", model: "tiny" })).status, 201);
  const json = await post(
    "/collections/docs/documents",
    [0, 1, 2, 3, 4, 5].map((i) => doc(i, "eng_Latn")),
  );
  assert.deepEqual(json.body, { added: 6, updated: 0, unchanged: 0, duplicates: 0, chunks: 6, deleted: 0 });
  const ndjson = [6, 7, 8, 9].map((i) => JSON.stringify(doc(i, i < 8 ? "deu_Latn" : "fra_Latn"))).join("\n");
  assert.equal((await post("/collections/docs/documents", ndjson, "application/x-ndjson")).body.added, 4);
  const again = await post("/collections/docs/documents", {
    documents: [doc(0, "eng_Latn"), { ...doc(1, "eng_Latn"), text: "cat" }],
  });
  assert.equal(again.body.unchanged, 1);
  assert.equal(again.body.updated, 1);
  const stats = (await (await fetch(`${server.url}/collections/docs`)).json()) as Record<string, unknown>;
  assert.equal(stats.documents, 10);
  assert.deepEqual(stats.languages, { eng_Latn: 6, deu_Latn: 2, fra_Latn: 2 });
  assert.equal((await post("/collections/docs/documents", { delete: ["d9"] })).body.deleted, 1);
  assert.equal(
    (await fetch(`${server.url}/collections/docs/documents/d8`, { method: "DELETE" })).status,
    200,
  );
  assert.equal(
    (await fetch(`${server.url}/collections/docs/documents/d8`, { method: "DELETE" })).status,
    404,
  );
  const list = (await (await fetch(`${server.url}/collections`)).json()) as {
    collections: { name: string; documents: number }[];
  };
  assert.deepEqual(
    list.collections.map((c) => [c.name, c.documents]),
    [["docs", 8]],
  );
});

it("searches as the library does: dense, bm25, hybrid, batches and filters", async () => {
  const col = await Collection.open("docs", { home });
  try {
    const ids = (hits: SearchHit[]) => hits.map((h) => [h.id, h.score.toFixed(5)]);
    for (const mode of ["dense", "bm25", "hybrid"] as const) {
      const want = await searchDetailed(col, "cat sat on mat", { mode, lang: "eng_Latn", k: 5 });
      const got = await post("/collections/docs/search", {
        query: "cat sat on mat",
        mode,
        lang: "eng_Latn",
        k: 5,
      });
      assert.equal(got.status, 200, JSON.stringify(got.body));
      assert.deepEqual(ids(got.body.hits as SearchHit[]), ids(want.hits), mode);
    }
    const opts = { mode: "hybrid", lang: "eng_Latn", k: 3, explain: true, highlight: true } as const;
    const explained = await post("/collections/docs/search", { query: "cat sat", ...opts });
    const direct = await searchDetailed(col, "cat sat", opts);
    const pick = (hits: SearchHit[]) => hits.map((h) => ({ explain: h.explain, highlights: h.highlights }));
    assert.ok(direct.hits[0].explain?.fusion);
    assert.deepEqual(pick(explained.body.hits as SearchHit[]), JSON.parse(JSON.stringify(pick(direct.hits))));
    const filtered = await post("/collections/docs/search", {
      query: "dog ran",
      lang: "eng_Latn",
      filter: { lang: ["deu_Latn"] },
    });
    const hits = filtered.body.hits as SearchHit[];
    assert.ok(hits.length > 0);
    assert.ok(hits.every((h) => h.lang === "deu_Latn"));
    const odd = await post("/collections/docs/search", {
      query: "dog ran",
      lang: "eng_Latn",
      filter: ["group=odd"],
    });
    assert.ok((odd.body.hits as SearchHit[]).every((h) => h.metadata.group === "odd"));
    const batch = await post("/collections/docs/search", {
      queries: ["cat", "big dog"],
      mode: "bm25",
      lang: "eng_Latn",
    });
    const results = batch.body.results as { hits: SearchHit[] }[];
    assert.equal(results.length, 2);
    for (const [i, q] of ["cat", "big dog"].entries()) {
      const one = await post("/collections/docs/search", { query: q, mode: "bm25", lang: "eng_Latn" });
      assert.deepEqual(ids(results[i].hits), ids(one.body.hits as SearchHit[]));
    }
  } finally {
    await col.close();
  }
});

it("finishes the upserts in flight when SIGTERM stops xlir serve", async () => {
  const child = spawn(
    process.execPath,
    [XLIR_BIN, "serve", "--model", `tiny=${model}`, "--home", home, "--port", "0"],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line: ${err}`)), 60_000);
    child.stderr.on("data", (d) => {
      err += d;
      const m = /ready on (http:\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  const send = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  assert.equal((await send("/collections", { name: "stop", model: "tiny" })).status, 201);
  const batches = Array.from({ length: 6 }, (_, b) =>
    Array.from({ length: 40 }, (_, i) => doc(b * 40 + i, "eng_Latn")),
  );
  const pending = batches.map((docs) =>
    send("/collections/stop/documents", docs).then(
      (r) => r.status,
      () => 0,
    ),
  );
  await new Promise((r) => setTimeout(r, 30));
  child.kill("SIGTERM");
  const statuses = await Promise.all(pending);
  assert.equal(await exited, 0, err);
  assert.match(err, /SIGTERM: finishing requests in flight/);
  const accepted = statuses.filter((s) => s === 200).length;
  assert.ok(accepted >= 1, `statuses ${statuses}`);
  assert.ok(
    statuses.every((s) => s === 200 || s === 503 || s === 0),
    `statuses ${statuses}`,
  );
  const col = await Collection.open("stop", { home });
  try {
    // every accepted upsert is there, whole, and a refused one wrote nothing
    assert.equal(await col.store.countDocs(), accepted * 40);
  } finally {
    await col.close();
  }
});
