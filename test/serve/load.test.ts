// The server under load, on a tiny model: 32 clients at once get correct answers and no 5xx while
// their inputs share batches; a full queue answers 429 with Retry-After; a request whose deadline
// passes in the queue is dropped and counted; /ready waits for the models.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { Encoder } from "../../src/encode/encoder.ts";
import { startServer, type XlirServer } from "../../src/serve/server.ts";
import { TINY_WORDS, tinyBertDir } from "../helpers/tiny-models.ts";

const root = mkdtempSync(join(tmpdir(), "xlir-serve-load-"));
const model = tinyBertDir({ parent: root, maxLength: 64 });
let server: XlirServer;
let reference: Map<string, Float32Array>;

/** A deterministic text of 1..12 tiny words. */
const textOf = (i: number) =>
  Array.from({ length: 1 + (i % 12) }, (_, j) => TINY_WORDS[(i * 7 + j * 3) % TINY_WORDS.length]).join(" ");
const TEXTS = Array.from({ length: 60 }, (_, i) => textOf(i));

before(async () => {
  const enc = await Encoder.load(model);
  const emb = await enc.embed(TEXTS);
  reference = new Map(TEXTS.map((t, i) => [t, emb.data.slice(i * enc.dim, (i + 1) * enc.dim)]));
  await enc.close();
  server = await startServer({ models: [`tiny=${model}`], port: 0, log: () => {} });
  await server.ready;
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const embed = (url: string, input: unknown, headers: Record<string, string> = {}, model = "tiny") =>
  fetch(`${url}/v1/embeddings`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, input, encoding_format: "float" }),
  });

/** The sum and count of a histogram in the Prometheus text. */
async function histogram(url: string, name: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (suffix: string) =>
    Number(new RegExp(`^${name}_${suffix}\\{[^}]*\\} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  return { sum: value("sum"), count: value("count") };
}

async function counter(url: string, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{[^}]*${label}[^}]*\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
}

it("serves 32 concurrent clients with correct vectors, no 5xx, shared batches and bounded memory", async () => {
  const rssBefore = process.memoryUsage().rss;
  const end = Date.now() + 3000;
  const statuses = new Map<number, number>();
  let checked = 0;
  const client = async (c: number) => {
    for (let n = 0; Date.now() < end; n++) {
      const texts = Array.from(
        { length: 1 + ((c + n) % 4) },
        (_, j) => TEXTS[(c * 13 + n * 5 + j) % TEXTS.length],
      );
      const res = await embed(server.url, texts);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const body = (await res.json()) as { data: { embedding: number[] }[] };
      assert.equal(res.status, 200, JSON.stringify(body));
      body.data.forEach((d, i) => {
        const want = reference.get(texts[i])!;
        d.embedding.forEach((x, j) => assert.ok(Math.abs(x - want[j]) < 1e-5, `"${texts[i]}" dim ${j}`));
        checked++;
      });
    }
  };
  await Promise.all(Array.from({ length: 32 }, (_, c) => client(c)));
  assert.deepEqual([...statuses.keys()], [200]);
  assert.ok(checked > 100, `only ${checked} vectors checked`);
  // coalescing: batches held inputs of several requests
  const requests = await histogram(server.url, "xlir_batch_requests");
  assert.ok(requests.sum / requests.count > 1.5, `mean requests per batch ${requests.sum / requests.count}`);
  const growth = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(growth < 300, `RSS grew ${growth.toFixed(0)} MiB`);
});

it("refuses with 429 and Retry-After when the queue is full", async () => {
  const small = await startServer({
    models: [`tiny=${model}`],
    port: 0,
    maxQueue: 64,
    maxBatch: 8,
    log: () => {},
  });
  try {
    await small.ready;
    const long = Array.from({ length: 60 }, (_, i) => TEXTS[i % TEXTS.length]);
    const res = await Promise.all(Array.from({ length: 12 }, () => embed(small.url, long)));
    const refused = res.filter((r) => r.status === 429);
    assert.ok(refused.length > 0, `statuses ${res.map((r) => r.status)}`);
    assert.ok(res.some((r) => r.status === 200));
    assert.ok(Number(refused[0].headers.get("retry-after")) >= 1);
    const body = (await refused[0].json()) as { error: { message: string; type: string } };
    assert.equal(body.error.type, "rate_limit_error");
    assert.match(body.error.message, /queue is full/);
    assert.equal(
      await counter(small.url, "xlir_requests_dropped_total", 'reason="queue_full"'),
      refused.length,
    );
  } finally {
    await small.close();
  }
});

it("drops a request whose deadline passes in the queue, and counts it", async () => {
  const before = await counter(server.url, "xlir_requests_dropped_total", 'reason="deadline"');
  const big = Array.from({ length: 2000 }, (_, i) => TEXTS[i % TEXTS.length]);
  const busy = embed(server.url, big);
  await new Promise((r) => setTimeout(r, 20));
  // queries: never in a batch of the passages ahead of them, so they wait behind all 2000
  const late = await Promise.all(
    Array.from({ length: 4 }, () =>
      embed(server.url, ["cat"], { "x-request-timeout-ms": "1" }, "tiny:query"),
    ),
  );
  assert.equal((await busy).status, 200);
  assert.deepEqual(
    late.map((r) => r.status),
    [504, 504, 504, 504],
  );
  const body = (await late[0].json()) as { error: { code: string } };
  assert.equal(body.error.code, "deadline_exceeded");
  assert.equal(await counter(server.url, "xlir_requests_dropped_total", 'reason="deadline"'), before + 4);
  // and the server goes on serving
  assert.equal((await embed(server.url, ["cat sat"])).status, 200);
});

it("says alive on /health but not ready while its model cannot load", async () => {
  const broken = await startServer({ models: [`gone=${join(root, "missing")}`], port: 0, log: () => {} });
  try {
    await broken.ready.catch(() => {});
    assert.equal((await fetch(`${broken.url}/health`)).status, 200);
    const ready = await fetch(`${broken.url}/ready`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { status: string }).status, "failed");
    const res = await fetch(`${broken.url}/v1/embeddings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gone", input: "x" }),
    });
    assert.equal(res.status, 503);
  } finally {
    await broken.close();
  }
  assert.equal((await fetch(`${server.url}/ready`)).status, 200);
});
