// The embeddings routes with real clients: the official openai package (base64, its default, and
// float) gets exactly what `xlir embed` writes for the same texts; TEI's /embed, /tokenize, /info.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import OpenAI from "openai";
import { Encoder } from "../../src/encode/encoder.ts";
import { startServer, type XlirServer } from "../../src/serve/server.ts";
import { runXlir } from "../helpers/cli.ts";
import { tinyBertDir, tinyNllbDir, wordE5Dir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-serve-emb-"));
const model = tinyBertDir({ parent: root });
const TEXTS = ["the cat sat on the mat", "dog ran far", "a big small cat", "mat"];
let server: XlirServer;
let client: OpenAI;

before(async () => {
  server = await startServer({ models: [`tiny=${model}`], port: 0, log: () => {} });
  await server.ready;
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** What `xlir embed` writes for TEXTS (JSONL, one embedding per line). */
function cliEmbeddings(): number[][] {
  const input = join(root, "texts.txt");
  writeFileSync(input, TEXTS.join("\n") + "\n");
  const r = runXlir(["embed", "--model", model, "--input", input]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { embedding: number[] }).embedding);
}

it("gives the openai client what xlir embed gives, with base64 (its default) and float", async () => {
  const expected = cliEmbeddings();
  const b64 = await client.embeddings.create({ model: "tiny", input: TEXTS });
  const float = await client.embeddings.create({ model: "tiny", input: TEXTS, encoding_format: "float" });
  for (const res of [b64, float]) {
    assert.equal(res.data.length, TEXTS.length);
    res.data.forEach((d, i) => {
      assert.equal(d.index, i);
      // float32 values: the server's batch differs from the CLI's, so allow GEMM rounding only
      d.embedding.forEach((x, j) => assert.ok(Math.abs(x - expected[i][j]) < 1e-5, `text ${i} dim ${j}`));
    });
    assert.equal(res.model, "tiny");
    assert.ok(res.usage.prompt_tokens >= TEXTS.join(" ").split(" ").length);
    assert.equal(res.usage.total_tokens, res.usage.prompt_tokens);
  }
  assert.deepEqual(
    b64.data.map((d) => d.embedding),
    float.data.map((d) => d.embedding),
  );
});

it("truncates to dimensions and renormalises; token ids embed like their text", async () => {
  const full = await client.embeddings.create({
    model: "tiny",
    input: "dog ran far",
    encoding_format: "float",
  });
  const cut = await client.embeddings.create({
    model: "tiny",
    input: "dog ran far",
    dimensions: 8,
    encoding_format: "float",
  });
  const v = full.data[0].embedding.slice(0, 8);
  const norm = Math.hypot(...v);
  assert.equal(cut.data[0].embedding.length, 8);
  cut.data[0].embedding.forEach((x, j) => assert.ok(Math.abs(x - v[j] / norm) < 1e-6));

  const tokens = (await (
    await fetch(`${server.url}/tokenize`, {
      method: "POST",
      body: JSON.stringify({ inputs: "dog ran far" }),
      headers: { "content-type": "application/json" },
    })
  ).json()) as { id: number; text: string; special: boolean }[][];
  assert.deepEqual(
    tokens[0].map((t) => t.text),
    ["[CLS]", "dog", "ran", "far", "[SEP]"],
  );
  assert.deepEqual(
    tokens[0].map((t) => t.special),
    [true, false, false, false, true],
  );
  const byIds = await client.embeddings.create({
    model: "tiny",
    input: [tokens[0].map((t) => t.id)],
    encoding_format: "float",
  });
  byIds.data[0].embedding.forEach((x, j) => assert.ok(Math.abs(x - full.data[0].embedding[j]) < 1e-6));
});

it("answers TEI's /embed and /info, and lists the model", async () => {
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
  const tei = (await (await post("/embed", { inputs: TEXTS })).json()) as number[][];
  const oa = await client.embeddings.create({ model: "tiny", input: TEXTS, encoding_format: "float" });
  assert.deepEqual(
    tei,
    oa.data.map((d) => d.embedding),
  );
  const info = (await (await fetch(`${server.url}/info`)).json()) as Record<string, unknown>;
  assert.equal(info.model_id, model);
  assert.equal(info.dimensions, 16);
  assert.equal(info.max_client_batch_size, 16384);
  const models = await client.models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    ["tiny"],
  );
});

it("embeds as query or passage (input_type, a model-name suffix, the default) and in the language given", async () => {
  const e5 = wordE5Dir(["cat", "sat", "mat"], { parent: root });
  writeFileSync(
    join(e5, "config_sentence_transformers.json"),
    JSON.stringify({ prompts: { query: "query: ", passage: "passage: " } }),
  );
  const nllb = tinyNllbDir({ parent: root });
  // e5's default role is query here (per model); nllb keeps the server's (passage)
  const two = await startServer({
    models: [`e5=${e5}`, `nllb=${nllb}`],
    inputType: { e5: "query" },
    port: 0,
    log: () => {},
  });
  try {
    await two.ready;
    const c = new OpenAI({ baseURL: `${two.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const vec = async (body: Record<string, unknown>) =>
      (await c.embeddings.create({ input: "cat sat", encoding_format: "float", ...body } as never)).data[0]
        .embedding;
    const close = (a: number[], b: Float32Array | number[]) => a.every((x, j) => Math.abs(x - b[j]) < 1e-5);
    const enc = await Encoder.load(e5);
    const [query, passage] = [
      (await enc.embed(["cat sat"], { role: "query" })).data,
      (await enc.embed(["cat sat"], { role: "passage" })).data,
    ];
    await enc.close();
    assert.ok(!close(Array.from(query), passage), "the prefixes change the vector");
    assert.ok(close(await vec({ model: "e5", input_type: "query" }), query));
    assert.ok(close(await vec({ model: "e5:query" }), query));
    assert.ok(close(await vec({ model: "e5" }), query));
    assert.ok(close(await vec({ model: "e5:passage" }), passage));
    assert.ok(close(await vec({ model: "e5:query", input_type: "document" }), passage));

    const nllbEnc = await Encoder.load(nllb);
    const hindi = (await nllbEnc.embed(["cat sat"], { lang: "hin_Deva" })).data;
    const english = (await nllbEnc.embed(["cat sat"], { lang: "eng_Latn" })).data;
    await nllbEnc.close();
    assert.ok(close(await vec({ model: "nllb", lang: "hi" }), hindi));
    assert.ok(close(await vec({ model: "nllb" }), english));
  } finally {
    await two.close();
  }
});
