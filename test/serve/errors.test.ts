// Bad requests get a 4xx whose one-line message names the field at fault (OpenAI's error body), and
// the server goes on serving; bearer keys guard the API but not /health, /ready, /metrics; CORS
// preflights allow the Authorization header.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import OpenAI from "openai";
import { startServer, type XlirServer } from "../../src/serve/server.ts";
import { tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-serve-err-"));
const model = tinyBertDir({ parent: root });
const KEYS = ["key-one", "key-two"];
let server: XlirServer;

before(async () => {
  server = await startServer({
    models: [`tiny=${model}`],
    home: join(root, "home"),
    port: 0,
    apiKeys: KEYS,
    maxInputs: 8,
    bodyLimit: 4096,
    log: () => {},
  });
  await server.ready;
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const call = (
  path: string,
  body: string | object | undefined,
  key: string | null = KEYS[0],
  method = "POST",
) =>
  fetch(`${server.url}${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Asserts the status and a one-line message matching `message`; returns the error. */
async function expectError(res: Response, status: number, message: RegExp): Promise<ErrorBody["error"]> {
  const body = (await res.json()) as ErrorBody;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.match(body.error.message, message);
  assert.ok(!body.error.message.includes("\n"), "one line");
  return body.error;
}

it("names the field of each bad embedding request, and keeps serving", async () => {
  const cases: [string | object, number, RegExp, string | null][] = [
    ['{"model": "tiny", "input": [', 400, /not valid JSON/, "body"],
    [
      { model: "tiny", input: 42 },
      400,
      /"input" must be a string or an array of strings, got number 42/,
      "input",
    ],
    [{ model: "tiny", input: [] }, 400, /"input" is empty/, "input"],
    [{ model: "tiny", input: ["cat", ""] }, 400, /"input\[1\]" is empty/, "input[1]"],
    [{ model: "tiny", input: ["cat", 3] }, 400, /"input\[1\]" must be a string/, "input[1]"],
    [{ model: "tiny", input: Array(9).fill("cat") }, 400, /9 inputs, more than the 8/, "input"],
    [{ model: "tiny", input: [[1, 99999]] }, 400, /not a token id of tiny/, "input[0]"],
    [{ model: "nope", input: "cat" }, 404, /model "nope" is not served here: use one of tiny/, "model"],
    [
      { model: "tiny", input: "cat", encoding_format: "hex" },
      400,
      /"encoding_format" must be/,
      "encoding_format",
    ],
    [{ model: "tiny", input: "cat", dimensions: 99 }, 400, /more than tiny's 16/, "dimensions"],
    [{ model: "tiny", input: "cat", input_type: "question" }, 400, /"input_type" must be/, "input_type"],
    [[1, 2], 400, /must be a JSON object/, null],
    [{ model: "tiny", input: "cat ".repeat(2000) }, 413, /larger than the server's limit/, "body"],
  ];
  for (const [body, status, message, param] of cases) {
    const e = await expectError(await call("/v1/embeddings", body), status, message);
    assert.equal(e.param, param, JSON.stringify(body).slice(0, 60));
  }
  assert.equal((await call("/v1/embeddings", { model: "tiny", input: "cat" })).status, 200);
});

it("names the field of bad collection requests", async () => {
  await expectError(
    await call("/collections/none/search", { query: "cat" }),
    404,
    /collection "none" does not exist/,
  );
  await expectError(await call("/collections", { name: "bad name!", model: "tiny" }), 400, /is not allowed/);
  await expectError(await call("/collections", { model: "tiny" }), 400, /"name" is required/);
  assert.equal((await call("/collections", { name: "c", model: "tiny" })).status, 201);
  await expectError(await call("/collections", { name: "c", model: "tiny" }), 409, /already exists/);
  await expectError(
    await call("/collections/c/documents", [{ id: "1" }]),
    400,
    /documents\[0\]: document "1" has no string field "text"/,
  );
  await expectError(await call("/collections/c/search", { query: "" }), 400, /"query" is required/);
  await expectError(
    await call("/collections/c/search", { query: "cat", mode: "fast" }),
    400,
    /"mode" must be/,
  );
  await expectError(
    await call("/collections/c/search", { query: "cat", k: 0 }),
    400,
    /"k" must be a positive integer/,
  );
  await expectError(
    await call("/collections/c/search", { query: "cat", filter: 3 }),
    400,
    /"filter" must be/,
  );
  const ndjson = await fetch(`${server.url}/collections/c/documents`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${KEYS[1]}` },
    body: '{"id": "1", "text": "cat"}\n{"id": 2,\n',
  });
  await expectError(ndjson, 400, /NDJSON line 2 is not valid JSON/);
  await expectError(await call("/nowhere", {}), 404, /no route POST \/nowhere/);
});

it("asks for a key on the API only, accepts each key, and allows Authorization in CORS", async () => {
  await expectError(
    await call("/v1/embeddings", { model: "tiny", input: "cat" }, null),
    401,
    /missing API key/,
  );
  await expectError(
    await call("/v1/embeddings", { model: "tiny", input: "cat" }, "wrong"),
    401,
    /wrong API key/,
  );
  for (const key of KEYS)
    assert.equal((await call("/v1/embeddings", { model: "tiny", input: "cat" }, key)).status, 200);
  for (const path of ["/health", "/ready", "/metrics"])
    assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
  assert.equal((await fetch(`${server.url}/`)).status, 200);
  // the openai client sends the key as a bearer token
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEYS[1], maxRetries: 0 });
  assert.equal((await client.embeddings.create({ model: "tiny", input: "cat" })).data.length, 1);
  await assert.rejects(
    new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "nope", maxRetries: 0 }).embeddings.create({
      model: "tiny",
      input: "cat",
    }),
    (e: Error) => e instanceof OpenAI.AuthenticationError && /wrong API key/.test(e.message),
  );
  const preflight = await fetch(`${server.url}/v1/embeddings`, {
    method: "OPTIONS",
    headers: {
      origin: "http://example.test",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization,content-type",
    },
  });
  assert.ok(preflight.status < 300);
  assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/i);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
});
