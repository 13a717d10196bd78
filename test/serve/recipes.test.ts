// The framework recipes of examples/ against a real server: LangChain's and LlamaIndex's OpenAI
// embeddings classes on /v1/embeddings (batching, roles by model-name suffix), and the retrievers
// over a collection giving what POST /collections/NAME/search gives. The server requires a key, so
// every recipe is also checked to send it.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { OpenAIEmbeddings } from "@langchain/openai";
import { MetadataMode } from "@llamaindex/core/schema";
import { OpenAIEmbedding } from "@llamaindex/openai";
import { Encoder } from "../../src/encode/encoder.ts";
import { Collection } from "../../src/index/collection.ts";
import { addDocuments } from "../../src/index/indexer.ts";
import { startServer, type XlirServer } from "../../src/serve/server.ts";
import { XlirEmbeddings, XlirRetriever as LangChainRetriever } from "../../examples/langchain.ts";
import { XlirEmbedding, XlirRetriever as LlamaRetriever } from "../../examples/llamaindex.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const KEY = "test-key";
const root = mkdtempSync(join(tmpdir(), "xlir-serve-recipes-"));
const dir = tinyBertDir({ parent: root });
// E5's prefixes, so that query and passage vectors differ (the words are in the tiny vocabulary)
writeFileSync(
  join(dir, "config_sentence_transformers.json"),
  JSON.stringify({ prompts: { query: "query: ", passage: "passage: " } }),
);
const home = join(root, "home");
const WORDS = ["cat", "dog", "sat", "on", "mat", "ran", "far", "big", "small"];
/** Distinct texts of 3 to 6 words. */
const text = (i: number) =>
  Array.from({ length: 3 + (i % 4) }, (_, j) => WORDS[Math.floor(i / 9 ** j + j) % WORDS.length]).join(" ");
const LANGS = ["en", "de", "fr"];
const DOCS = Array.from({ length: 24 }, (_, i) => ({
  id: `d${i}`,
  text: text(7 * i + 3),
  title: `doc ${i}`,
  lang: LANGS[i % 3],
  metadata: { topic: i % 2 ? "odd" : "even" },
  source: `d${i}`,
}));
let server: XlirServer;

before(async () => {
  for (const [name, model] of [
    ["dense", await Encoder.load(dir, { warn: () => {} })],
    ["lexical", "bm25"],
  ] as const) {
    const col = await Collection.openOrCreate(name, { home, model });
    await addDocuments(col, DOCS);
    await col.close();
    if (typeof model !== "string") await model.close();
  }
  server = await startServer({ models: [`tiny=${dir}`], home, port: 0, apiKeys: [KEY], log: () => {} });
  await server.ready;
});
after(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
};
const embed = async (input: string[], input_type: "query" | "passage") =>
  (
    (await post("/v1/embeddings", { model: "tiny", input, input_type, encoding_format: "float" })) as {
      data: { embedding: number[] }[];
    }
  ).data.map((d) => d.embedding);
/** Equal up to float32 rounding (the server's batches differ between requests). */
const close = (got: number[][], want: number[][]) => {
  assert.equal(got.length, want.length);
  got.forEach((v, i) => {
    assert.equal(v.length, want[i].length);
    v.forEach((x, j) =>
      assert.ok(Math.abs(x - want[i][j]) < 1e-5, `vector ${i} dim ${j}: ${x} vs ${want[i][j]}`),
    );
  });
};
const embeddingRequests = async () => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^xlir_http_requests_total\{([^}]*)\} (\d+)/gm))
    if (m[1].includes('route="/v1/embeddings"')) n += Number(m[2]);
  return n;
};

it("LangChain's OpenAIEmbeddings: 1100 texts in requests of 512 at most, queries by the :query suffix", async () => {
  const texts = Array.from({ length: 1100 }, (_, i) => text(i));
  const baseURL = `${server.url}/v1`;
  const docs = new OpenAIEmbeddings({ model: "tiny", apiKey: KEY, configuration: { baseURL } });
  const before = await embeddingRequests();
  const got = await docs.embedDocuments(texts);
  assert.equal((await embeddingRequests()) - before, 3); // 512 + 512 + 76
  const passages = await embed(texts, "passage");
  close(got, passages);

  const queries = new OpenAIEmbeddings({ model: "tiny:query", apiKey: KEY, configuration: { baseURL } });
  const q = await embed([texts[5]], "query");
  close([await queries.embedQuery(texts[5])], q);
  assert.ok(Math.abs(q[0][0] - passages[5][0]) > 1e-4, "the query prefix changes the vector");

  const both = new XlirEmbeddings({ url: server.url, model: "tiny", apiKey: KEY });
  close(await both.embedDocuments(texts.slice(0, 20)), passages.slice(0, 20));
  close([await both.embedQuery(texts[5])], q);
});

it("LlamaIndex's OpenAIEmbedding: texts and queries equal the server's", async () => {
  const texts = Array.from({ length: 30 }, (_, i) => text(i));
  const passages = await embed(texts, "passage");
  const queries = await embed(texts.slice(0, 2), "query");
  const plain = new OpenAIEmbedding({
    model: "tiny",
    apiKey: KEY,
    additionalSessionOptions: { baseURL: `${server.url}/v1` },
  });
  close(await plain.getTextEmbeddingsBatch(texts), passages);
  close([await plain.getTextEmbedding(texts[0])], [passages[0]]);
  const asQuery = new OpenAIEmbedding({ model: "tiny:query", apiKey: KEY, baseURL: `${server.url}/v1` });
  close([(await asQuery.getQueryEmbedding({ type: "text", text: texts[1] }))!], [queries[1]]);

  const both = new XlirEmbedding({ url: server.url, model: "tiny", apiKey: KEY, embedBatchSize: 16 });
  close(await both.getTextEmbeddingsBatch(texts), passages);
  close([(await both.getQueryEmbedding({ type: "text", text: texts[0] }))!], [queries[0]]);
});

interface Hit {
  id: string;
  score: number;
  lang: string;
  title: string;
  text: string;
  metadata: Record<string, unknown>;
}

it("the retrievers return what the search route returns: dense, bm25, hybrid, filtered by language", async () => {
  const query = "big cat sat on mat";
  const cases = [
    { collection: "dense", mode: "dense" as const },
    { collection: "lexical", mode: "bm25" as const },
    { collection: "dense", mode: "hybrid" as const },
    { collection: "dense", mode: "dense" as const, filter: { lang: ["de"] } },
    { collection: "lexical", mode: "bm25" as const, filter: ["lang=de"] },
  ];
  for (const c of cases) {
    const k = 8;
    const direct = (
      (await post(`/collections/${c.collection}/search`, { query, k, ...c })) as { hits: Hit[] }
    ).hits;
    assert.ok(direct.length > 0, `${c.mode}: some hits`);
    if (c.filter) assert.ok(direct.every((h) => DOCS.find((d) => d.id === h.id)!.lang === "de"));

    const lc = await new LangChainRetriever({ url: server.url, apiKey: KEY, k, ...c }).invoke(query);
    assert.deepEqual(
      lc.map((d) => d.metadata.id),
      direct.map((h) => h.id),
      `LangChain ${c.mode}`,
    );
    const h = direct[0];
    assert.equal(lc[0].pageContent, h.text);
    assert.equal(lc[0].id, h.id);
    assert.deepEqual(lc[0].metadata, {
      topic: h.metadata.topic,
      id: h.id,
      lang: h.lang,
      score: h.score,
      title: h.title,
    });

    const li = await new LlamaRetriever({ url: server.url, apiKey: KEY, k, ...c }).retrieve(query);
    assert.deepEqual(
      li.map((n) => n.node.id_),
      direct.map((h) => h.id),
      `LlamaIndex ${c.mode}`,
    );
    assert.deepEqual(
      li.map((n) => n.score),
      direct.map((h) => h.score),
    );
    assert.equal(li[0].node.getContent(MetadataMode.NONE), h.text);
    assert.deepEqual(li[0].node.metadata, { topic: h.metadata.topic, lang: h.lang, title: h.title });
  }
});

it("the retrievers surface the server's error messages", async () => {
  const opts = { url: server.url, collection: "nope", apiKey: KEY };
  await assert.rejects(
    new LangChainRetriever(opts).invoke("cat"),
    /xlir search: collection "nope" does not exist/,
  );
  await assert.rejects(
    new LlamaRetriever(opts).retrieve("cat"),
    /xlir search: collection "nope" does not exist/,
  );
  const noKey = { url: server.url, collection: "dense" };
  await assert.rejects(new LangChainRetriever(noKey).invoke("cat"), /xlir search: missing API key/);
  await assert.rejects(
    new LlamaRetriever({ ...noKey, mode: "bm25", apiKey: "wrong" }).retrieve("cat"),
    /xlir search: wrong API key/,
  );
  await assert.rejects(
    new LangChainRetriever({ ...noKey, apiKey: KEY, filter: 3 as never }).invoke("cat"),
    /xlir search: "filter" must be/,
  );
});
